//! Which weights of all-MiniLM-L6-v2 run: the int8 copy `scripts/setup-model.sh` makes
//! (the default) or the exported fp32 graph, and how the choice is made.

use std::path::Path;

use crate::MemoryError;

/// The int8 weights `scripts/setup-model.sh` writes beside `model.onnx`.
pub const INT8_MODEL_FILE: &str = "model_int8.onnx";
/// The environment variable that picks a precision when the caller does not.
const PRECISION_VAR: &str = "BATON_MODEL_PRECISION";

/// Which weights of all-MiniLM-L6-v2 run. Both give the same model's vectors (over 256 real
/// commit messages int8's are at cosine ≥ 0.996 from fp32's, mean 0.999), so a store
/// embedded with one is searched fine with the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// [`INT8_MODEL_FILE`]: the token-embedding table in int8 per row, the matmul weights
    /// in int8 blocks of 128 computed with int8 arithmetic per token row. Loads in a third
    /// of fp32's time and embeds ~1.25× faster; a text's vector never depends on the
    /// texts run beside it.
    Int8,
    /// `model.onnx`: the exported fp32 graph.
    Fp32,
}

impl Precision {
    /// The file in the model folder holding these weights.
    pub fn model_file(self) -> &'static str {
        match self {
            Self::Int8 => INT8_MODEL_FILE,
            Self::Fp32 => "model.onnx",
        }
    }

    /// `int8` or `fp32` (what `BATON_MODEL_PRECISION` takes).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "int8" => Some(Self::Int8),
            "fp32" => Some(Self::Fp32),
            _ => None,
        }
    }
}

/// `asked` first, then `BATON_MODEL_PRECISION`; `None` when neither says.
pub(super) fn requested(asked: Option<Precision>) -> Result<Option<Precision>, MemoryError> {
    if asked.is_some() {
        return Ok(asked);
    }
    match std::env::var(PRECISION_VAR) {
        Err(_) => Ok(None),
        Ok(value) => Precision::parse(&value)
            .map(Some)
            .ok_or(MemoryError::BadPrecision { value }),
    }
}

/// The precision to load from `dir`: the requested one (its file must be there), else int8
/// when present, else fp32 with a warning: a folder set up before int8 still works.
pub(super) fn choose(dir: &Path, asked: Option<Precision>) -> Result<Precision, MemoryError> {
    let has_int8 = dir.join(INT8_MODEL_FILE).is_file();
    match requested(asked)? {
        Some(Precision::Int8) if !has_int8 => Err(MemoryError::ModelMissing {
            path: dir.to_path_buf(),
            missing: INT8_MODEL_FILE.to_owned(),
        }),
        Some(precision) => Ok(precision),
        None if has_int8 => Ok(Precision::Int8),
        None => {
            tracing::warn!(
                folder = %dir.display(),
                "no {INT8_MODEL_FILE}: running the fp32 model, which loads three times slower; run `bash scripts/setup-model.sh` to add it"
            );
            Ok(Precision::Fp32)
        }
    }
}
