//! The one error type of baton-memory: every failure names what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong in semantic memory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The ONNX Runtime shared library was not found or could not be loaded.
    #[error(
        "ONNX Runtime is not available ({reason}); run `bash scripts/setup-model.sh` \
         or set ORT_DYLIB_PATH to libonnxruntime.so (onnxruntime >= 1.24)"
    )]
    OrtMissing {
        /// Why the library could not be used (not found, wrong version, dlopen error).
        reason: String,
    },

    /// The local model folder is missing or incomplete.
    #[error(
        "embedding model not found at {path} (missing {missing}); run `bash scripts/setup-model.sh` \
         or point BATON_MODEL_DIR at a folder with model.onnx and the tokenizer files"
    )]
    ModelMissing {
        /// The folder that was looked at.
        path: PathBuf,
        /// The first file that was missing.
        missing: String,
    },

    /// `BATON_MODEL_PRECISION` names no precision.
    #[error("BATON_MODEL_PRECISION is {value:?}; set it to int8 or fp32, or unset it")]
    BadPrecision {
        /// What the variable held.
        value: String,
    },

    /// fastembed failed to load the model or to embed text.
    #[error("embedding failed: {0}")]
    Embedding(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// Another process holds the embedded store open.
    #[error(
        "another baton process holds the memory store at {path} (e.g. a running `baton run`); \
         wait for it to finish, or use a Qdrant server (QDRANT_URL) for shared access"
    )]
    StoreLocked {
        /// The shard folder that is locked.
        path: PathBuf,
    },

    /// The embedded Qdrant Edge store failed.
    #[error("memory store at {path}: {source}")]
    Edge {
        /// The shard folder.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: qdrant_edge::OperationError,
    },

    /// The Qdrant server could not be reached or refused a request.
    #[error(
        "Qdrant server {url}: {source}; check QDRANT_URL / QDRANT_API_KEY and that the server is up"
    )]
    Server {
        /// The server address.
        url: String,
        /// The client's error.
        #[source]
        source: Box<qdrant_client::QdrantError>,
    },

    /// A file of the store or model could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A record to remember has empty text; nothing of the batch was written.
    #[error(
        "record {index} has empty text; nothing was written, drop or fill that record and retry"
    )]
    EmptyRecord {
        /// Position of the record in the batch.
        index: usize,
    },

    /// A recall query was empty or only whitespace.
    #[error("the recall query is empty; pass the words to search memory for")]
    EmptyQuery,

    /// A vector has the wrong number of dimensions for this store.
    #[error(
        "vector has {got} dimensions but the store holds {expected}-dimensional vectors; reindex with the same model (`baton memory reindex`)"
    )]
    DimensionMismatch {
        /// Dimensions of the store.
        expected: usize,
        /// Dimensions given.
        got: usize,
    },

    /// A stored point's payload is not a memory record baton wrote.
    #[error("stored point {id} is not a baton memory record: {reason}")]
    BadPayload {
        /// The point id.
        id: String,
        /// What was wrong.
        reason: String,
    },

    /// A filter names a payload field that is not a valid field path.
    #[error("`{0}` is not a valid payload field name; use plain names such as `project` or `kind`")]
    BadFilterKey(String),

    /// An unknown memory kind was named.
    #[error(
        "unknown memory kind `{0}`; use one of commit, progress, summary, error, fix, verification, instruction"
    )]
    UnknownKind(String),

    /// A blocking task was cancelled or panicked.
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),

    /// A benchmark or quality fixture is malformed.
    #[error("fixture {path}: {reason}")]
    Fixture {
        /// The fixture file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

impl MemoryError {
    pub(crate) fn embedding(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Embedding(Box::new(e))
    }
}
