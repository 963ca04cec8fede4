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

/// Where the model and ONNX Runtime come from.
#[derive(Debug, Clone, Default)]
pub struct EmbedderOptions {
    /// Local model folder; `None` means `BATON_MODEL_DIR`, else [`default_model_dir`].
    pub model_dir: Option<PathBuf>,
    /// ONNX Runtime library; `None` means `ORT_DYLIB_PATH`, else discovery.
    pub ort_dylib: Option<PathBuf>,
    /// When the model folder is absent, let fastembed download the model from Hugging Face.
    pub allow_download: bool,
}

/// The files fastembed needs from a local model folder.
pub const MODEL_FILES: [&str; 5] = [
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
const DIM: usize = 384;
/// all-MiniLM-L6-v2 was trained on 256-token windows (sentence-transformers' setting).
const MAX_TOKENS: usize = 256;
/// Texts per ONNX run: large enough to amortise the call, small enough that padding
/// to the longest text in a batch stays cheap.
const BATCH: usize = 32;
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
        let model = match first_missing_file(&dir) {
            None => load_local(&dir)?,
            Some(_) if opts.allow_download => download()?,
            Some(missing) => return Err(MemoryError::ModelMissing { path: dir, missing }),
        };
        Ok(Self {
            model: Mutex::new(model),
        })
    }
}

impl Embedder for FastEmbedder {
    fn dim(&self) -> usize {
        DIM
    }

    fn model_id(&self) -> &str {
        MODEL_ID
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
        // Each batch is padded to its longest text: embedding in order of length keeps
        // short texts out of long texts' batches. Byte length stands in for tokens.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let sorted: Vec<&str> = order.iter().map(|&i| texts[i]).collect();
        let vectors = model
            .embed(&sorted, Some(BATCH))
            .map_err(MemoryError::embedding)?;
        let mut out = vec![Vec::new(); texts.len()];
        for (i, v) in order.into_iter().zip(vectors) {
            out[i] = v;
        }
        Ok(out)
    }
}

/// The first of [`MODEL_FILES`] absent from `dir`, if any.
pub fn first_missing_file(dir: &Path) -> Option<String> {
    MODEL_FILES
        .iter()
        .find(|f| !dir.join(f).is_file())
        .map(|f| (*f).to_string())
}

fn load_local(dir: &Path) -> Result<TextEmbedding, MemoryError> {
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
    let model = UserDefinedEmbeddingModel::new(read("model.onnx")?, tokenizer_files)
        .with_pooling(Pooling::Mean);
    let options = ORT_NO_SPINNING
        .iter()
        .fold(InitOptionsUserDefined::new(), |o, (k, v)| {
            o.with_session_config(*k, *v)
        })
        .with_max_length(MAX_TOKENS);
    TextEmbedding::try_new_from_user_defined(model, options).map_err(MemoryError::embedding)
}

fn download() -> Result<TextEmbedding, MemoryError> {
    let cache = dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/baton/fastembed");
    let options = ORT_NO_SPINNING
        .iter()
        .fold(
            TextInitOptions::new(EmbeddingModel::AllMiniLML6V2),
            |o, (k, v)| o.with_session_config(*k, *v),
        )
        .with_cache_dir(cache)
        .with_max_length(MAX_TOKENS)
        .with_show_download_progress(false);
    TextEmbedding::try_new(options).map_err(MemoryError::embedding)
}
