//! [`EdgeStore`]: the embedded Qdrant Edge shard in `<project>/.baton/memory/`.
//!
//! Qdrant Edge has no background optimizer: new points land in an unindexed segment
//! (searched exactly, so they are found at once) and the HNSW index is built by
//! `optimize()`. Building it takes tens of seconds at 100k points, so once enough
//! unindexed points pile up a background thread runs it; searches and upserts go on
//! meanwhile (the engine swaps optimized segments in behind proxies).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition as EdgeCondition, CountRequest, CreateIndex, Distance, EdgeConfigBuilder,
    EdgeOptimizersConfig, EdgeShard, EdgeSparseVectorParamsBuilder, EdgeVectorParamsBuilder,
    FieldCondition, FieldIndexOperations, Filter as EdgeFilter, IntegerIndexParams, JsonPath,
    KeywordIndexParams, Match, Modifier, NamedQuery, Payload, PayloadFieldSchema,
    PayloadSchemaParams, PointId, PointInsertOperations, PointOperations, PointStructPersisted,
    QueryEnum, Range, ScrollRequest, SearchParams, SearchRequest as EdgeSearchRequest,
    UpdateOperation, ValueVariants, VectorInternal, VectorPersisted, VectorStorageDatatype,
    VectorStructInternal, VectorStructPersisted, WithPayloadInterface, WithVector,
};
use uuid::Uuid;

use super::{
    Condition, DENSE, FieldType, Filter, INDEXED_FIELDS, Page, Point, Query, SPARSE, ScoredPoint,
    SearchRequest, SparseVector, StoreInfo, VectorStore,
};
use crate::MemoryError;

/// Unindexed points that trigger a background HNSW build: below the size where an exact
/// scan of the unindexed segment costs more than a millisecond. The engine is told to
/// index a segment from this size on (see `engine_indexing_threshold_kb`), or its own
/// default (10 MB of vectors, 13k points at 384 half-precision dims) would make the
/// build a no-op.
pub const AUTO_OPTIMIZE_THRESHOLD: usize = 10_000;

/// Dense vectors are stored in half precision: half the memory, and a scan or a graph walk
/// reads half the bytes. Cosine on unit-length embeddings loses nothing a ranking sees
/// (rounding moves a score by ~1e-4), and at 100k memories searches got faster: unfiltered
/// p50 0.91 → 0.58 ms, a filter matching 10k points answered by an exact scan (recall 1.0)
/// in 1.0 ms where the full-precision graph walk took 1.3 ms for recall 0.964.
const DENSE_DATATYPE: VectorStorageDatatype = VectorStorageDatatype::Float16;
const DENSE_BYTES_PER_DIM: usize = 2;

const LOCK_FILE: &str = "baton.lock";

/// Candidates kept while walking the HNSW graph for an unfiltered search (the engine's
/// default is its build-time ef, 100). Distance computations are most of a search's
/// cost; on 30k clustered points ef 64 cut p50 from 0.83 to 0.62 ms at recall@5 1.0.
/// Filtered graph walks keep the default: their recall is the tighter one (a filter
/// keeping 13k+ of 100k points, walked in its sub-graph: 0.969 at ef 100, 0.949 at 64).
const HNSW_EF_UNFILTERED: usize = 64;

/// The embedded store. Cloning shares the shard.
#[derive(Clone)]
pub struct EdgeStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    dim: usize,
    shard: Arc<EdgeShard>,
    unindexed: AtomicUsize,
    optimizing: Arc<AtomicBool>,
    /// Taken to flush and to start or end an index build. The engine's `flush` panics when
    /// it cannot take its segment lock at once, which an index build holds while swapping
    /// segments in, so a flush asked for during a build is deferred to the build's end
    /// (the flag inside says one is owed).
    flush_gate: Arc<Mutex<bool>>,
    auto_optimize_at: usize,
    // Held for the store's lifetime: our own exclusive lock, so a second process gets
    // StoreLocked before touching the WAL (whose lock error is an opaque I/O message).
    _lock: File,
}

impl EdgeStore {
    /// Opens the shard at `path`, creating it (with payload indexes) when absent.
    pub fn open(path: &Path, dim: usize) -> Result<Self, MemoryError> {
        Self::open_with_threshold(path, dim, AUTO_OPTIMIZE_THRESHOLD)
    }

    /// Like [`EdgeStore::open`] with a custom auto-optimize threshold (`usize::MAX`: never).
    pub fn open_with_threshold(
        path: &Path,
        dim: usize,
        auto_optimize_at: usize,
    ) -> Result<Self, MemoryError> {
        std::fs::create_dir_all(path).map_err(|source| MemoryError::Io {
            what: "creating memory store folder",
            path: path.to_path_buf(),
            source,
        })?;
        let lock = take_lock(path)?;
        let exists = path.join("edge_config.json").is_file();
        let shard = if exists {
            EdgeShard::load(path, None).map_err(|e| locked_or(path, e))?
        } else {
            let config = EdgeConfigBuilder::new()
                .vector(
                    DENSE,
                    EdgeVectorParamsBuilder::new(dim, Distance::Cosine)
                        .datatype(DENSE_DATATYPE)
                        .build(),
                )
                .optimizers(EdgeOptimizersConfig {
                    // A store that never builds on its own (`usize::MAX`) still indexes
                    // from the default size when asked to optimize.
                    indexing_threshold: Some(engine_indexing_threshold_kb(
                        dim,
                        auto_optimize_at.min(AUTO_OPTIMIZE_THRESHOLD),
                    )),
                    ..EdgeOptimizersConfig::default()
                })
                .sparse_vector(
                    SPARSE,
                    EdgeSparseVectorParamsBuilder::new()
                        .modifier(Modifier::Idf)
                        .build(),
                )
                .build();
            EdgeShard::new(path, config).map_err(|e| locked_or(path, e))?
        };
        let stored_dim = shard.config().vectors.get(DENSE).map(|v| v.size);
        if let Some(stored) = stored_dim
            && stored != dim
        {
            return Err(MemoryError::DimensionMismatch {
                expected: stored,
                got: dim,
            });
        }
        create_missing_indexes(&shard, path)?;
        let info = shard.info();
        // Approximate: info() counts indexed vectors over both named vectors (dense and
        // sparse); this only decides when the first background build starts.
        let unindexed = info
            .points_count
            .saturating_sub(info.indexed_vectors_count / 2);
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                dim,
                shard: Arc::new(shard),
                unindexed: AtomicUsize::new(unindexed),
                optimizing: Arc::new(AtomicBool::new(false)),
                flush_gate: Arc::new(Mutex::new(false)),
                auto_optimize_at,
                _lock: lock,
            }),
        })
    }

    /// Whether a background index build is running now.
    pub fn is_optimizing(&self) -> bool {
        self.inner.optimizing.load(Ordering::Acquire)
    }

    /// Runs `f` on the shard on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, MemoryError> + Send + 'static,
    ) -> Result<T, MemoryError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner)).await?
    }
}

impl Inner {
    fn err(&self, source: qdrant_edge::OperationError) -> MemoryError {
        MemoryError::Edge {
            path: self.path.clone(),
            source,
        }
    }

    fn maybe_optimize_in_background(&self) {
        if self.unindexed.load(Ordering::Relaxed) < self.auto_optimize_at {
            return;
        }
        {
            let _gate = lock(&self.flush_gate);
            if self.optimizing.swap(true, Ordering::AcqRel) {
                return;
            }
        }
        self.unindexed.store(0, Ordering::Relaxed);
        let shard = Arc::clone(&self.shard);
        let flag = Arc::clone(&self.optimizing);
        let gate = Arc::clone(&self.flush_gate);
        let path = self.path.clone();
        let spawned = std::thread::Builder::new()
            .name("baton-memory-optimize".into())
            .spawn(move || {
                if let Err(e) = shard.optimize() {
                    tracing::warn!(path = %path.display(), error = %e, "background memory index build failed");
                }
                end_build(&shard, &flag, &gate);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the background memory index build");
            end_build(&self.shard, &self.optimizing, &self.flush_gate);
        }
    }
}

/// The engine's indexing threshold (KB of dense vectors in one segment) that makes it index
/// a segment holding `points` points, so a background build triggered there builds.
fn engine_indexing_threshold_kb(dim: usize, points: usize) -> usize {
    (points.saturating_mul(dim * DENSE_BYTES_PER_DIM) / 1024).max(1)
}

/// Creates the payload indexes the shard lacks. A new shard gets them all here; so does one
/// whose creation was cut short (a `kill -9` between `edge_config.json` and the last
/// index), which is loaded as an existing shard from then on and would otherwise never get
/// the rest. Flushed, because the engine does not replay its WAL on load.
fn create_missing_indexes(shard: &EdgeShard, path: &Path) -> Result<(), MemoryError> {
    let present = shard.info().payload_schema;
    let mut created = false;
    for (field, kind) in INDEXED_FIELDS {
        let field_name = json_path(field)?;
        if present.contains_key(&field_name) {
            continue;
        }
        shard
            .update(UpdateOperation::FieldIndexOperation(
                FieldIndexOperations::CreateIndex(CreateIndex {
                    field_name,
                    field_schema: Some(field_schema(field, kind)),
                }),
            ))
            .map_err(|source| MemoryError::Edge {
                path: path.to_path_buf(),
                source,
            })?;
        created = true;
    }
    if created {
        shard.flush();
    }
    Ok(())
}

/// Marks an index build finished, doing the flush it deferred.
fn end_build(shard: &EdgeShard, optimizing: &AtomicBool, gate: &Mutex<bool>) {
    let mut owed = lock(gate);
    if *owed {
        shard.flush();
        *owed = false;
    }
    optimizing.store(false, Ordering::Release);
}

/// The gate's lock; a panic elsewhere while holding it leaves nothing half-done.
fn lock(gate: &Mutex<bool>) -> std::sync::MutexGuard<'_, bool> {
    gate.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait::async_trait]
impl VectorStore for EdgeStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "edge",
            location: self.inner.path.display().to_string(),
            dim: self.inner.dim,
        }
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), MemoryError> {
        if points.is_empty() {
            return Ok(());
        }
        if let Some(bad) = points.iter().find(|p| p.dense.len() != self.inner.dim) {
            return Err(MemoryError::DimensionMismatch {
                expected: self.inner.dim,
                got: bad.dense.len(),
            });
        }
        self.blocking(move |inner| {
            let n = points.len();
            let points = points.into_iter().map(to_edge_point).collect();
            inner
                .shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))
                .map_err(|e| inner.err(e))?;
            inner.unindexed.fetch_add(n, Ordering::Relaxed);
            inner.maybe_optimize_in_background();
            Ok(())
        })
        .await
    }

    /// Qdrant Edge 0.7.2 does not replay its WAL when a shard is loaded again, so writes
    /// are only safe from a crash once the segments are flushed.
    async fn flush(&self) -> Result<(), MemoryError> {
        self.blocking(|inner| {
            let mut owed = lock(&inner.flush_gate);
            if inner.optimizing.load(Ordering::Acquire) {
                // The build flushes when it ends (see `flush_gate`).
                *owed = true;
            } else {
                inner.shard.flush();
                *owed = false;
            }
            Ok(())
        })
        .await
    }

    async fn delete(&self, ids: Vec<Uuid>) -> Result<(), MemoryError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.blocking(move |inner| {
            let ids = ids.into_iter().map(PointId::Uuid).collect();
            inner
                .shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints { ids },
                ))
                .map_err(|e| inner.err(e))
        })
        .await
    }

    async fn count(&self, filter: &Filter) -> Result<usize, MemoryError> {
        let filter = to_edge_filter(filter)?;
        self.blocking(move |inner| {
            inner
                .shard
                .count(CountRequest {
                    filter,
                    exact: true,
                })
                .map_err(|e| inner.err(e))
        })
        .await
    }

    async fn search(&self, request: SearchRequest) -> Result<Vec<ScoredPoint>, MemoryError> {
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        let (vector, using) = match request.query {
            Query::Dense(v) => {
                if v.len() != self.inner.dim {
                    return Err(MemoryError::DimensionMismatch {
                        expected: self.inner.dim,
                        got: v.len(),
                    });
                }
                (VectorInternal::Dense(v), DENSE)
            }
            Query::Sparse(s) if s.indices.is_empty() => return Ok(Vec::new()),
            Query::Sparse(s) => (VectorInternal::Sparse(to_edge_sparse(s)), SPARSE),
        };
        let edge_request = EdgeSearchRequest {
            query: QueryEnum::Nearest(NamedQuery {
                query: vector,
                using: Some(using.to_string()),
            }),
            filter: to_edge_filter(&request.filter)?,
            params: Some(SearchParams {
                exact: request.exact,
                hnsw_ef: request.filter.is_empty().then_some(HNSW_EF_UNFILTERED),
                ..SearchParams::default()
            }),
            limit: request.limit,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: Some(WithVector::Bool(false)),
            score_threshold: None,
        };
        self.blocking(move |inner| {
            let found = inner.shard.search(edge_request).map_err(|e| inner.err(e))?;
            found
                .into_iter()
                .map(|p| {
                    Ok(ScoredPoint {
                        id: uuid_of(p.id)?,
                        score: p.score,
                        payload: p.payload.map(|p| p.0).unwrap_or_default(),
                    })
                })
                .collect()
        })
        .await
    }

    async fn scroll(
        &self,
        filter: &Filter,
        offset: Option<Uuid>,
        limit: usize,
        with_vectors: bool,
    ) -> Result<Page, MemoryError> {
        let request = ScrollRequest {
            offset: offset.map(PointId::Uuid),
            limit: Some(limit.max(1)),
            filter: to_edge_filter(filter)?,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: WithVector::Bool(with_vectors),
            order_by: None,
        };
        self.blocking(move |inner| {
            let (records, next) = inner.shard.scroll(request).map_err(|e| inner.err(e))?;
            let points = records
                .into_iter()
                .map(|r| {
                    let (dense, sparse) = r.vector.map(from_edge_vectors).unwrap_or_default();
                    Ok(Point {
                        id: uuid_of(r.id)?,
                        dense,
                        sparse,
                        payload: r.payload.map(|p| p.0).unwrap_or_default(),
                    })
                })
                .collect::<Result<_, MemoryError>>()?;
            Ok(Page {
                points,
                next: next.map(uuid_of).transpose()?,
            })
        })
        .await
    }

    async fn optimize(&self) -> Result<(), MemoryError> {
        self.blocking(|inner| {
            // Waits out a background build rather than racing it on the same segments.
            while {
                let _gate = lock(&inner.flush_gate);
                inner.optimizing.swap(true, Ordering::AcqRel)
            } {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let result = inner.shard.optimize().map(|_| ()).map_err(|e| inner.err(e));
            inner.unindexed.store(0, Ordering::Relaxed);
            end_build(&inner.shard, &inner.optimizing, &inner.flush_gate);
            result
        })
        .await
    }

    async fn clear(&self) -> Result<(), MemoryError> {
        self.blocking(|inner| {
            inner
                .shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(EdgeFilter::default()),
                ))
                .map_err(|e| inner.err(e))?;
            inner.unindexed.store(0, Ordering::Relaxed);
            Ok(())
        })
        .await
    }
}

/// Fields whose values are too fine-grained for extra HNSW links to pay. The index
/// build adds a filtered sub-graph per value (or range block) holding more than about
/// a quarter of the full-scan threshold (~6,600 points of 384 dims); a thread or
/// session rarely holds more than the threshold, and below it the engine answers a
/// filtered search exactly from the payload index instead. Building those sub-graphs
/// for `thread`, `session` and `at_ms` multiplied the 100k-point build several times
/// over; `project`, `kind` and `feature` keep theirs (large blocks, common filters).
const NO_EXTRA_HNSW_LINKS: [&str; 3] = ["thread", "session", "at_ms"];

/// The field that partitions memories the way tenants partition a shared collection: an
/// index build stores each project's points together (the engine's tenant
/// defragmentation), so a search filtered on one project reads its own stretch of memory.
/// A project's embedded store holds one project, where this changes nothing.
const TENANT_FIELD: &str = "project";

fn field_schema(field: &str, kind: FieldType) -> PayloadFieldSchema {
    // None: the engine's default, which builds the links.
    let enable_hnsw = NO_EXTRA_HNSW_LINKS.contains(&field).then_some(false);
    match kind {
        FieldType::Keyword => {
            PayloadFieldSchema::FieldParams(PayloadSchemaParams::Keyword(KeywordIndexParams {
                enable_hnsw,
                is_tenant: (field == TENANT_FIELD).then_some(true),
                ..KeywordIndexParams::default()
            }))
        }
        FieldType::Integer => {
            PayloadFieldSchema::FieldParams(PayloadSchemaParams::Integer(IntegerIndexParams {
                enable_hnsw,
                ..IntegerIndexParams::default()
            }))
        }
    }
}

fn take_lock(path: &Path) -> Result<File, MemoryError> {
    let lock_path = path.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| MemoryError::Io {
            what: "opening memory store lock",
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(MemoryError::StoreLocked {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(MemoryError::Io {
            what: "locking memory store",
            path: lock_path,
            source,
        }),
    }
}

/// The WAL's own lock error, should another program (not baton) hold the shard.
fn locked_or(path: &Path, source: qdrant_edge::OperationError) -> MemoryError {
    let text = source.to_string();
    if text.contains("WouldBlock") || text.contains("temporarily unavailable") {
        MemoryError::StoreLocked {
            path: path.to_path_buf(),
        }
    } else {
        MemoryError::Edge {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn to_edge_point(p: Point) -> PointStructPersisted {
    let mut vectors = HashMap::from([(DENSE.to_string(), VectorPersisted::Dense(p.dense))]);
    // An all-stopword text has no terms; storing no sparse vector keeps it out of BM25.
    if !p.sparse.indices.is_empty() {
        vectors.insert(
            SPARSE.to_string(),
            VectorPersisted::Sparse(to_edge_sparse(p.sparse)),
        );
    }
    PointStructPersisted {
        id: PointId::Uuid(p.id),
        vector: VectorStructPersisted::Named(vectors),
        payload: Some(Payload(p.payload)),
    }
}

fn to_edge_sparse(s: SparseVector) -> qdrant_edge::SparseVector {
    let mut v = qdrant_edge::SparseVector {
        indices: s.indices,
        values: s.values,
    };
    v.sort_by_indices();
    v
}

fn from_edge_vectors(v: VectorStructInternal) -> (Vec<f32>, SparseVector) {
    let mut dense = Vec::new();
    let mut sparse = SparseVector::default();
    match v {
        VectorStructInternal::Single(d) => dense = d,
        VectorStructInternal::Named(map) => {
            for (name, vector) in map {
                match (name.as_str(), vector) {
                    (DENSE, VectorInternal::Dense(d)) => dense = d,
                    (SPARSE, VectorInternal::Sparse(s)) => {
                        sparse = SparseVector {
                            indices: s.indices,
                            values: s.values,
                        };
                    }
                    _ => {}
                }
            }
        }
        VectorStructInternal::MultiDense(_) => {}
    }
    (dense, sparse)
}

fn uuid_of(id: PointId) -> Result<Uuid, MemoryError> {
    match id {
        PointId::Uuid(u) => Ok(u),
        PointId::NumId(n) => Err(MemoryError::BadPayload {
            id: n.to_string(),
            reason: "numeric point id; baton writes uuids only".into(),
        }),
    }
}

fn json_path(key: &str) -> Result<JsonPath, MemoryError> {
    key.parse()
        .map_err(|()| MemoryError::BadFilterKey(key.to_string()))
}

fn to_edge_filter(filter: &Filter) -> Result<Option<EdgeFilter>, MemoryError> {
    if filter.is_empty() {
        return Ok(None);
    }
    let must = filter
        .must
        .iter()
        .map(to_edge_condition)
        .collect::<Result<_, _>>()?;
    Ok(Some(EdgeFilter {
        must: Some(must),
        ..EdgeFilter::default()
    }))
}

fn to_edge_condition(c: &Condition) -> Result<EdgeCondition, MemoryError> {
    let matches = |key: &str, value: ValueVariants| -> Result<EdgeCondition, MemoryError> {
        Ok(EdgeCondition::Field(FieldCondition::new_match(
            json_path(key)?,
            Match::new_value(value),
        )))
    };
    Ok(match c {
        Condition::Keyword { key, value } => matches(key, ValueVariants::String(value.clone()))?,
        Condition::Integer { key, value } => matches(key, ValueVariants::Integer(*value))?,
        Condition::AnyKeyword { key, values } => EdgeCondition::Filter(EdgeFilter {
            should: Some(
                values
                    .iter()
                    .map(|v| matches(key, ValueVariants::String(v.clone())))
                    .collect::<Result<_, _>>()?,
            ),
            ..EdgeFilter::default()
        }),
        Condition::IntegerRange { key, gte, lte } => {
            EdgeCondition::Field(FieldCondition::new_range(
                json_path(key)?,
                Range {
                    gte: gte.map(|v| OrderedFloat(v as f64)),
                    lte: lte.map(|v| OrderedFloat(v as f64)),
                    lt: None,
                    gt: None,
                },
            ))
        }
    })
}
