//! baton-memory: semantic memory for long-running agent threads, so session 50 knows
//! what sessions 1–49 learned.
//!
//! Records (commits, progress notes, errors, fixes…) are embedded with
//! all-MiniLM-L6-v2 through fastembed on ONNX Runtime, given BM25 term vectors, and
//! stored in Qdrant Edge (embedded, in `<project>/.baton/memory/`) or a Qdrant server.
//! [`Memory::recall`] fuses dense and BM25 results by a rule chosen by measurement.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "bench")]
pub mod bench;
mod document;
mod embedder;
mod error;
mod fusion;
mod memory;
mod onnx_runtime;
mod record;
mod sparse;
pub mod store;

pub use document::{commit_text, windows};
pub use embedder::{
    Embedder, EmbedderOptions, FastEmbedder, INT8_MODEL_FILE, MODEL_FILES, Precision,
    default_model_dir, first_missing_file, resolve_model_dir,
};
pub use error::MemoryError;
pub use fusion::{FusionRule, RecallMode};
pub use memory::{Adoption, Backend, Memory, MemoryConfig, MemoryStats};
pub use record::{Hit, MemoryKind, MemoryRecord, RecallFilter};
pub use sparse::Bm25Encoder;
pub use store::{EdgeStore, ServerStore, VectorStore};
