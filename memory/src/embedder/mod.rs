//! Text embeddings: the [`Embedder`] trait and [`FastEmbedder`] (fastembed on ONNX Runtime).
//! `precision` picks the weights, `sessions` runs them.

mod precision;
mod sessions;

use std::path::{Path, PathBuf};

pub use precision::{INT8_MODEL_FILE, Precision};
use sessions::{Sessions, Source};

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

const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
const MODEL_ID_INT8: &str = "sentence-transformers/all-MiniLM-L6-v2 (int8)";
const DIM: usize = 384;

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
    sessions: Sessions,
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
        let source = match first_missing_file(&dir) {
            None => {
                let precision = precision::choose(&dir, opts.precision)?;
                Source::Folder(dir, precision)
            }
            Some(_) if opts.allow_download => {
                if precision::requested(opts.precision)? == Some(Precision::Int8) {
                    tracing::warn!(
                        "the downloaded model is fp32 only; int8 needs `bash scripts/setup-model.sh`"
                    );
                }
                Source::Download
            }
            Some(missing) => return Err(MemoryError::ModelMissing { path: dir, missing }),
        };
        Ok(Self {
            sessions: Sessions::load(source)?,
        })
    }

    /// The weights this embedder runs.
    pub fn precision(&self) -> Precision {
        self.sessions.precision()
    }
}

impl Embedder for FastEmbedder {
    fn dim(&self) -> usize {
        DIM
    }

    fn model_id(&self) -> &str {
        match self.precision() {
            Precision::Int8 => MODEL_ID_INT8,
            Precision::Fp32 => MODEL_ID,
        }
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.sessions.embed(texts)
    }
}

/// The first of [`MODEL_FILES`] absent from `dir`, if any.
pub fn first_missing_file(dir: &Path) -> Option<String> {
    MODEL_FILES
        .iter()
        .find(|f| !dir.join(f).is_file())
        .map(|f| (*f).to_string())
}
