//! The [`VectorStore`] trait and its backend-neutral types; backends live in submodules.
//!
//! The trait is async because the server backend is a network client; the embedded
//! backend runs each call on tokio's blocking pool so its CPU work never stalls the
//! runtime. One query vector per search: the facade runs dense and BM25 searches
//! and fuses them itself, so both backends fuse the same way.

mod edge;
mod server;

use serde_json::{Map, Value};
use uuid::Uuid;

pub use edge::EdgeStore;
pub use server::ServerStore;

use crate::MemoryError;

/// Name of the dense vector in both backends.
pub const DENSE: &str = "dense";
/// Name of the BM25 sparse vector in both backends (IDF applied by the engine).
pub const SPARSE: &str = "bm25";

/// Payload fields that get an index, with their type: every field [`crate::RecallFilter`] uses.
pub const INDEXED_FIELDS: [(&str, FieldType); 6] = [
    ("project", FieldType::Keyword),
    ("thread", FieldType::Keyword),
    ("kind", FieldType::Keyword),
    ("feature", FieldType::Keyword),
    ("session", FieldType::Integer),
    ("at_ms", FieldType::Integer),
];

/// Type of an indexed payload field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Exact-match strings.
    Keyword,
    /// 64-bit integers (matches and ranges).
    Integer,
}

/// A sparse vector: parallel term ids and weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    /// Term ids.
    pub indices: Vec<u32>,
    /// Weights, one per id.
    pub values: Vec<f32>,
}

/// A point to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its id; upserting the same id again replaces it.
    pub id: Uuid,
    /// Dense embedding (cosine distance).
    pub dense: Vec<f32>,
    /// BM25 term weights; may be empty.
    pub sparse: SparseVector,
    /// JSON payload.
    pub payload: Map<String, Value>,
}

/// One condition on a payload field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The string field equals `value`.
    Keyword {
        /// Field name.
        key: String,
        /// Wanted value.
        value: String,
    },
    /// The string field equals one of `values`.
    AnyKeyword {
        /// Field name.
        key: String,
        /// Accepted values.
        values: Vec<String>,
    },
    /// The integer field equals `value`.
    Integer {
        /// Field name.
        key: String,
        /// Wanted value.
        value: i64,
    },
    /// The integer field lies in `[gte, lte]` (open where `None`).
    IntegerRange {
        /// Field name.
        key: String,
        /// Lower bound, inclusive.
        gte: Option<i64>,
        /// Upper bound, inclusive.
        lte: Option<i64>,
    },
}

/// All conditions must hold; no conditions matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// The conditions.
    pub must: Vec<Condition>,
}

impl Filter {
    /// Whether the filter matches everything.
    pub fn is_empty(&self) -> bool {
        self.must.is_empty()
    }
}

/// What to search with.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Nearest dense vectors by cosine similarity.
    Dense(Vec<f32>),
    /// Highest BM25 scores (dot product with IDF applied by the engine).
    Sparse(SparseVector),
}

/// A search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query vector.
    pub query: Query,
    /// Payload filter.
    pub filter: Filter,
    /// Most results to return.
    pub limit: usize,
    /// Exhaustive scan instead of the HNSW index (ground truth for benchmarks).
    pub exact: bool,
}

/// A search result.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPoint {
    /// Point id.
    pub id: Uuid,
    /// Similarity; higher is closer.
    pub score: f32,
    /// The stored payload.
    pub payload: Map<String, Value>,
}

/// One page of a scroll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Points of this page, vectors included when asked for.
    pub points: Vec<Point>,
    /// Where the next page starts; `None` after the last page.
    pub next: Option<Uuid>,
}

/// Where a store lives, for `baton memory stats`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreInfo {
    /// `edge` or `server`.
    pub backend: &'static str,
    /// Shard folder or server URL and collection.
    pub location: String,
    /// Dense vector dimensions.
    pub dim: usize,
}

/// A vector store with dense + sparse vectors and payload filters.
#[async_trait::async_trait]
pub trait VectorStore: Send + Sync {
    /// Backend and location.
    fn info(&self) -> StoreInfo;
    /// Inserts or replaces points; they are searchable when this returns.
    async fn upsert(&self, points: Vec<Point>) -> Result<(), MemoryError>;
    /// Deletes points by id; unknown ids are ignored.
    async fn delete(&self, ids: Vec<Uuid>) -> Result<(), MemoryError>;
    /// Exact number of points matching `filter`.
    async fn count(&self, filter: &Filter) -> Result<usize, MemoryError>;
    /// Best `limit` points for the query, best first.
    async fn search(&self, request: SearchRequest) -> Result<Vec<ScoredPoint>, MemoryError>;
    /// Points matching `filter` in id order, starting at `offset`.
    async fn scroll(
        &self,
        filter: &Filter,
        offset: Option<Uuid>,
        limit: usize,
        with_vectors: bool,
    ) -> Result<Page, MemoryError>;
    /// Builds search indexes now (the embedded store also does it in the background).
    async fn optimize(&self) -> Result<(), MemoryError>;
    /// Removes every point.
    async fn clear(&self) -> Result<(), MemoryError>;
    /// Makes every write so far survive a crash of this process (`kill -9`). A server
    /// store is durable once it answered, so the default does nothing.
    async fn flush(&self) -> Result<(), MemoryError> {
        Ok(())
    }
}
