//! Text embeddings: the [`Embedder`] trait and [`FastEmbedder`] (fastembed on ONNX Runtime).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fastembed::{
    EmbeddingModel, InitOptionsUserDefined, Pooling, TextEmbedding, TextInitOptions,
    TokenizerFiles, UserDefinedEmbeddingModel,
};

use crate::{MemoryError, onnx_runtime};

/// Turns texts into unit-length vectors. Sync: callers on an async runtime use
/// `spawn_blocking` (the [`crate::Memory`] facade does).
pub trait Embedder: Send + Sync {
    /// Number of dimensions of every vector.
    fn dim(&self) -> usize;
    /// Identifies the model, so a store built with another model is noticed.
    fn model_id(&self) -> &str;
    /// One vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError>;
}

/// Which weights of all-MiniLM-L6-v2 run. Both give the same model's vectors: over 256
/// real commit messages int8's are at cosine ≥ 0.98 (mean 0.99) from fp32's, so a store
/// embedded with one is searched fine with the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `model_int8.onnx`: weights quantised to int8 per output channel, activations per
    /// text at run time. Loads in a third of fp32's time and embeds ~1.8× faster on 2 cores.
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

/// Where the model and ONNX Runtime come from.
#[derive(Debug, Clone, Default)]
pub struct EmbedderOptions {
    /// Local model folder; `None` means `BATON_MODEL_DIR`, else [`default_model_dir`].
    pub model_dir: Option<PathBuf>,
    /// The weights to run; `None` means `BATON_MODEL_PRECISION`, else int8 when the folder
    /// has it (fp32, with a warning naming the fix, when it does not).
    pub precision: Option<Precision>,
    /// ONNX Runtime library; `None` means `ORT_DYLIB_PATH`, else discovery.
    pub ort_dylib: Option<PathBuf>,
    /// When the model folder is absent, let fastembed download the model from Hugging Face.
    pub allow_download: bool,
}

/// The files fastembed needs from a local model folder (`model.onnx` is the fp32 graph
/// every precision falls back to; [`INT8_MODEL_FILE`] sits beside it).
pub const MODEL_FILES: [&str; 5] = [
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

/// The int8 weights `scripts/setup-model.sh` writes beside `model.onnx`.
pub const INT8_MODEL_FILE: &str = "model_int8.onnx";
const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
const MODEL_ID_INT8: &str = "sentence-transformers/all-MiniLM-L6-v2 (int8)";
const DIM: usize = 384;
/// all-MiniLM-L6-v2 was trained on 256-token windows (sentence-transformers' setting).
const MAX_TOKENS: usize = 256;
/// Texts per ONNX run: one. int8 activations are quantised with one scale per run, so in a
/// batch a text's vector would depend on the texts beside it (cosine down to 0.98); alone
/// it is always the same. It costs little: with no padding, one text per run embedded
/// 169 commit messages/s against 186/s in batches of 32 (int8, 2 cores).
const BATCH: usize = 1;
/// ONNX Runtime's intra-op workers busy-wait between operators by default. On a small
/// machine shared with other work a spinning worker takes the core another thread
/// needs: measured on 2 loaded cores, 1,000 short texts embedded at 127/s spinning
/// and 240/s not, with a third less CPU time.
const ORT_NO_SPINNING: [(&str, &str); 2] = [
    ("session.intra_op.allow_spinning", "0"),
    ("session.inter_op.allow_spinning", "0"),
];

/// `$HOME/.cache/baton/models/all-MiniLM-L6-v2`, where `scripts/setup-model.sh` writes.
pub fn default_model_dir() -> PathBuf {
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/baton/models/all-MiniLM-L6-v2")
}

/// The folder `opts` points at, after `BATON_MODEL_DIR` and the default.
pub fn resolve_model_dir(opts: &EmbedderOptions) -> PathBuf {
    opts.model_dir
        .clone()
        .or_else(|| std::env::var_os("BATON_MODEL_DIR").map(PathBuf::from))
        .unwrap_or_else(default_model_dir)
}

/// all-MiniLM-L6-v2 run by fastembed (mean pooling, L2-normalised, 384 dimensions).
pub struct FastEmbedder {
    // fastembed's embed takes &mut self; ONNX Runtime already uses every core per call,
    // so serialising calls costs no throughput.
    model: Mutex<TextEmbedding>,
    precision: Precision,
}

impl FastEmbedder {
    /// Loads ONNX Runtime, then the model from the local folder (or a download when allowed).
    // Owned options: callers move them into `spawn_blocking`, which needs 'static data.
    #[allow(clippy::needless_pass_by_value)]
    pub fn load(opts: EmbedderOptions) -> Result<Self, MemoryError> {
        let started = std::time::Instant::now();
        onnx_runtime::ensure_loaded(opts.ort_dylib.as_deref())?;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1e3,
            "ONNX Runtime loaded"
        );
        let dir = resolve_model_dir(&opts);
        let (model, precision) = match first_missing_file(&dir) {
            None => {
                let precision = choose_precision(&dir, opts.precision)?;
                (load_local(&dir, precision)?, precision)
            }
            Some(_) if opts.allow_download => {
                let precision = requested_precision(opts.precision)?.unwrap_or(Precision::Int8);
                (download(precision)?, precision)
            }
            Some(missing) => return Err(MemoryError::ModelMissing { path: dir, missing }),
        };
        Ok(Self {
            model: Mutex::new(model),
            precision,
        })
    }

    /// The weights this embedder runs.
    pub fn precision(&self) -> Precision {
        self.precision
    }
}

/// `opts` first, then `BATON_MODEL_PRECISION`; `None` when neither says.
fn requested_precision(opts: Option<Precision>) -> Result<Option<Precision>, MemoryError> {
    if opts.is_some() {
        return Ok(opts);
    }
    match std::env::var("BATON_MODEL_PRECISION") {
        Err(_) => Ok(None),
        Ok(value) => Precision::parse(&value)
            .map(Some)
            .ok_or(MemoryError::BadPrecision { value }),
    }
}

/// The precision to load from `dir`: the requested one (its file must be there), else int8
/// when present, else fp32 with a warning: a folder from before int8 still works.
fn choose_precision(dir: &Path, opts: Option<Precision>) -> Result<Precision, MemoryError> {
    let has_int8 = dir.join(INT8_MODEL_FILE).is_file();
    match requested_precision(opts)? {
        Some(Precision::Int8) if !has_int8 => Err(MemoryError::ModelMissing {
            path: dir.to_path_buf(),
            missing: INT8_MODEL_FILE.to_owned(),
        }),
        Some(precision) => Ok(precision),
        None if has_int8 => Ok(Precision::Int8),
        None => {
            tracing::warn!(
                folder = %dir.display(),
                "no {INT8_MODEL_FILE}: running the fp32 model, which loads and embeds about half as fast; run `bash scripts/setup-model.sh` to add it"
            );
            Ok(Precision::Fp32)
        }
    }
}

impl Embedder for FastEmbedder {
    fn dim(&self) -> usize {
        DIM
    }

    fn model_id(&self) -> &str {
        match self.precision {
            Precision::Int8 => MODEL_ID_INT8,
            Precision::Fp32 => MODEL_ID,
        }
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // A panic inside fastembed poisons the lock; the model itself is still usable.
        let mut model = self
            .model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        model
            .embed(texts, Some(BATCH))
            .map_err(MemoryError::embedding)
    }
}

/// The first of [`MODEL_FILES`] absent from `dir`, if any.
pub fn first_missing_file(dir: &Path) -> Option<String> {
    MODEL_FILES
        .iter()
        .find(|f| !dir.join(f).is_file())
        .map(|f| (*f).to_string())
}

fn load_local(dir: &Path, precision: Precision) -> Result<TextEmbedding, MemoryError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| MemoryError::Io {
            what: "reading model file",
            path,
            source,
        })
    };
    let tokenizer_files = TokenizerFiles {
        tokenizer_file: read("tokenizer.json")?,
        config_file: read("config.json")?,
        special_tokens_map_file: read("special_tokens_map.json")?,
        tokenizer_config_file: read("tokenizer_config.json")?,
    };
    let model = UserDefinedEmbeddingModel::new(read(precision.model_file())?, tokenizer_files)
        .with_pooling(Pooling::Mean);
    let options = ORT_NO_SPINNING
        .iter()
        .fold(InitOptionsUserDefined::new(), |o, (k, v)| {
            o.with_session_config(*k, *v)
        })
        .with_max_length(MAX_TOKENS);
    TextEmbedding::try_new_from_user_defined(model, options).map_err(MemoryError::embedding)
}

fn download(precision: Precision) -> Result<TextEmbedding, MemoryError> {
    let cache = dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/baton/fastembed");
    let options = ORT_NO_SPINNING
        .iter()
        .fold(
            TextInitOptions::new(match precision {
                Precision::Int8 => EmbeddingModel::AllMiniLML6V2Q,
                Precision::Fp32 => EmbeddingModel::AllMiniLML6V2,
            }),
            |o, (k, v)| o.with_session_config(*k, *v),
        )
        .with_cache_dir(cache)
        .with_max_length(MAX_TOKENS)
        .with_show_download_progress(false);
    TextEmbedding::try_new(options).map_err(MemoryError::embedding)
}
