//! The [`Memory`] facade the harness calls: remember records, recall by meaning.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::MemoryError;
use crate::document;
use crate::embedder::{Embedder, EmbedderOptions, FastEmbedder};
use crate::fusion::{FusionRule, RecallMode};
use crate::record::{Hit, MemoryKind, MemoryRecord, RecallFilter};
use crate::sparse::Bm25Encoder;
use crate::store::{
    Condition, EdgeStore, Filter, Point, Query, SearchRequest, ServerStore, VectorStore,
};

/// Texts per embedding call: one ONNX batch-set, bounded so a big `remember` does not
/// hold the blocking thread for long stretches.
const EMBED_CHUNK: usize = 256;
/// Points per page when copying between stores.
const COPY_PAGE: usize = 256;

/// Where the vectors live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Embedded Qdrant Edge shard in this folder (normally `<project>/.baton/memory`).
    Edge {
        /// Shard folder.
        path: PathBuf,
    },
    /// A Qdrant server.
    Server {
        /// gRPC URL, e.g. `http://localhost:6334`.
        url: String,
        /// API key, if the server wants one.
        api_key: Option<String>,
    },
}

/// Everything [`Memory::open`] needs.
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Where the vectors live.
    pub backend: Backend,
    /// Where the model comes from.
    pub embedder: EmbedderOptions,
    /// Collection name on a server (the embedded store has one shard per folder).
    pub collection: String,
}

/// What `baton memory stats` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryStats {
    /// All memories.
    pub total: usize,
    /// Memories per kind (kinds with none are listed with 0).
    pub by_kind: BTreeMap<MemoryKind, usize>,
    /// Vector dimensions.
    pub dim: usize,
    /// Embedding model id.
    pub model: String,
    /// `edge` or `server`.
    pub backend: String,
    /// Shard folder or server collection.
    pub location: String,
}

/// Which memories made before a project had an id (tagged with its folder name) it takes
/// as its own in [`Memory::adopt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoption {
    /// Every memory in the store: an embedded store belongs to one project, whatever
    /// names its memories carry (the folder may have been renamed since).
    Everything,
    /// Memories tagged with one of `names` and made by one of `threads`: on a shared server
    /// a folder name alone can be another project's.
    Named {
        /// Names the project's memories were tagged with.
        names: Vec<String>,
        /// The project's threads (`""` for memories rebuilt from git by a reindex).
        threads: Vec<String>,
    },
}

/// Semantic memory: an embedder, BM25 and a vector store.
#[derive(Clone)]
pub struct Memory {
    embedder: Arc<dyn Embedder>,
    store: Arc<dyn VectorStore>,
    bm25: Arc<Bm25Encoder>,
}

impl Memory {
    /// Loads the model (off the runtime) and opens or creates the store.
    pub async fn open(cfg: MemoryConfig) -> Result<Memory, MemoryError> {
        let started = std::time::Instant::now();
        let options = cfg.embedder.clone();
        let embedder = tokio::task::spawn_blocking(move || FastEmbedder::load(options)).await??;
        let model_ms = started.elapsed().as_secs_f64() * 1e3;
        let dim = embedder.dim();
        let store: Arc<dyn VectorStore> = match &cfg.backend {
            Backend::Edge { path } => {
                let path = path.clone();
                Arc::new(tokio::task::spawn_blocking(move || EdgeStore::open(&path, dim)).await??)
            }
            Backend::Server { url, api_key } => {
                Arc::new(ServerStore::connect(url, api_key.as_deref(), &cfg.collection, dim).await?)
            }
        };
        // Where a short-lived command's time goes (`RUST_LOG=baton_memory=debug`).
        tracing::debug!(
            model_ms,
            store_ms = started.elapsed().as_secs_f64() * 1e3 - model_ms,
            "memory opened"
        );
        Ok(Self::with_parts(Arc::new(embedder), store))
    }

    /// Builds a memory from parts (tests, benchmarks, other stores).
    pub fn with_parts(embedder: Arc<dyn Embedder>, store: Arc<dyn VectorStore>) -> Memory {
        Self {
            embedder,
            store,
            bm25: Arc::new(Bm25Encoder::new()),
        }
    }

    /// The store underneath (for maintenance such as `optimize`).
    pub fn store(&self) -> &Arc<dyn VectorStore> {
        &self.store
    }

    /// Stores records; returns how many distinct memories were written. Replaying the
    /// same records is harmless: ids are derived from content. A record with empty text
    /// fails the whole call before anything is written.
    pub async fn remember(&self, records: Vec<MemoryRecord>) -> Result<usize, MemoryError> {
        self.remember_with_progress(records, &|_| {}).await
    }

    /// [`Memory::remember`], calling `progress` with the number of distinct records
    /// written so far after each batch (a reindex shows it as a progress bar).
    pub async fn remember_with_progress(
        &self,
        records: Vec<MemoryRecord>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<usize, MemoryError> {
        if let Some(index) = records.iter().position(|r| r.text.trim().is_empty()) {
            return Err(MemoryError::EmptyRecord { index });
        }
        let mut seen = HashSet::new();
        let records: Vec<MemoryRecord> = records
            .into_iter()
            .filter(|r| seen.insert(r.point_id()))
            .collect();
        let mut written = 0;
        for chunk in records.chunks(EMBED_CHUNK) {
            // Long texts are embedded window by window (`document::windows`) and each
            // memory gets the mean of its windows' vectors.
            let windows: Vec<Vec<String>> = chunk
                .iter()
                .map(|r| document::windows(r.embedding_text()))
                .collect();
            let flat: Vec<String> = windows.iter().flatten().cloned().collect();
            let mut vectors = self.embed(flat).await?.into_iter();
            let dense: Vec<Vec<f32>> = windows
                .iter()
                .map(|w| document::mean_unit(&vectors.by_ref().take(w.len()).collect::<Vec<_>>()))
                .collect();
            let points = chunk
                .iter()
                .zip(dense)
                .map(|(r, dense)| Point {
                    id: r.point_id(),
                    dense,
                    sparse: self.bm25.document(&r.text),
                    payload: r.to_payload(),
                })
                .collect::<Vec<_>>();
            written += points.len();
            self.store.upsert(points).await?;
            progress(written);
        }
        self.store.flush().await?;
        Ok(written)
    }

    /// The `limit` memories most relevant to `query`, fused dense + BM25.
    pub async fn recall(
        &self,
        query: &str,
        filter: &RecallFilter,
        limit: usize,
    ) -> Result<Vec<Hit>, MemoryError> {
        self.recall_with_mode(query, filter, limit, RecallMode::Fused)
            .await
    }

    /// Like [`Memory::recall`] with an explicit ranking mode.
    pub async fn recall_with_mode(
        &self,
        query: &str,
        filter: &RecallFilter,
        limit: usize,
        mode: RecallMode,
    ) -> Result<Vec<Hit>, MemoryError> {
        let rule = match mode {
            RecallMode::Fused => Some(FusionRule::DEFAULT),
            RecallMode::Dense | RecallMode::Bm25 => None,
        };
        self.recall_ranked(query, filter, limit, mode, rule).await
    }

    /// Recall with any fusion rule; `bench::recall_quality` compares rules with it.
    pub(crate) async fn recall_ranked(
        &self,
        query: &str,
        filter: &RecallFilter,
        limit: usize,
        mode: RecallMode,
        rule: Option<FusionRule>,
    ) -> Result<Vec<Hit>, MemoryError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(MemoryError::EmptyQuery);
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let filter = filter.to_store_filter();
        let candidates = rule.unwrap_or(FusionRule::DEFAULT).candidates(limit);
        let search = |query: Query, limit: usize| SearchRequest {
            query,
            filter: filter.clone(),
            limit,
            exact: false,
        };
        let scored = match (mode, rule) {
            (RecallMode::Bm25, _) => {
                self.store
                    .search(search(Query::Sparse(self.bm25.query(query)), limit))
                    .await?
            }
            (RecallMode::Dense, _) | (RecallMode::Fused, None) => {
                let vector = self.embed_one(query).await?;
                self.store
                    .search(search(Query::Dense(vector), limit))
                    .await?
            }
            (RecallMode::Fused, Some(rule)) => {
                let vector = self.embed_one(query).await?;
                let sparse = self.bm25.query(query);
                let (dense, mut bm25) = tokio::try_join!(
                    self.store.search(search(Query::Dense(vector), candidates)),
                    self.store
                        .search(search(Query::Sparse(sparse.clone()), candidates)),
                )?;
                if rule.needs_full_match() {
                    bm25.retain(|p| self.contains_every_term(p, &sparse));
                }
                let mut payloads: std::collections::HashMap<_, _> = dense
                    .iter()
                    .chain(&bm25)
                    .map(|p| (p.id, p.payload.clone()))
                    .collect();
                rule.fuse(&dense, &bm25, sparse.indices.len(), limit)
                    .into_iter()
                    .filter_map(|(id, score)| {
                        payloads
                            .remove(&id)
                            .map(|payload| crate::store::ScoredPoint { id, score, payload })
                    })
                    .collect()
            }
        };
        scored
            .into_iter()
            .map(|p| {
                let id = p.id.to_string();
                Ok(Hit {
                    score: p.score,
                    record: MemoryRecord::from_payload(&id, &p.payload)?,
                    id,
                })
            })
            .collect()
    }

    /// Counts by kind, model and where the store lives.
    pub async fn stats(&self) -> Result<MemoryStats, MemoryError> {
        self.stats_of(&RecallFilter::default()).await
    }

    /// Like [`Memory::stats`], counting only the memories `filter` matches (one project's,
    /// on a server that holds several).
    pub async fn stats_of(&self, filter: &RecallFilter) -> Result<MemoryStats, MemoryError> {
        let base = filter.to_store_filter();
        let total = self.store.count(&base).await?;
        let mut by_kind = BTreeMap::new();
        for kind in MemoryKind::ALL {
            let mut filter = base.clone();
            filter.must.push(Condition::Keyword {
                key: "kind".into(),
                value: kind.as_str().into(),
            });
            by_kind.insert(kind, self.store.count(&filter).await?);
        }
        let info = self.store.info();
        Ok(MemoryStats {
            total,
            by_kind,
            dim: self.embedder.dim(),
            model: self.embedder.model_id().to_string(),
            backend: info.backend.to_string(),
            location: info.location,
        })
    }

    /// Forgets the memories `filter` matches (one project's, before its reindex: a server
    /// holds other projects' too); returns how many.
    pub async fn forget(&self, filter: &RecallFilter) -> Result<usize, MemoryError> {
        let filter = filter.to_store_filter();
        let mut forgotten = 0;
        loop {
            // Always the first page: what it held is deleted before the next read.
            let page = self.store.scroll(&filter, None, COPY_PAGE, false).await?;
            if page.points.is_empty() {
                break;
            }
            forgotten += page.points.len();
            self.store
                .delete(page.points.into_iter().map(|p| p.id).collect())
                .await?;
        }
        self.store.flush().await?;
        Ok(forgotten)
    }

    /// Forgets everything.
    pub async fn reset(&self) -> Result<(), MemoryError> {
        self.store.clear().await
    }

    /// Re-tags the memories `adoption` names with `project`, vectors kept (no re-embedding);
    /// returns how many. Point ids include the project, so each gets its new id: the new
    /// points are written before the old ones are deleted, so a kill midway loses nothing
    /// and the next call finishes the work. Costs two counts when there is nothing to adopt.
    pub async fn adopt(&self, project: &str, adoption: &Adoption) -> Result<usize, MemoryError> {
        let filter = match adoption {
            Adoption::Everything => {
                let mine = Filter {
                    must: vec![Condition::Keyword {
                        key: "project".into(),
                        value: project.into(),
                    }],
                };
                let total = self.store.count(&Filter::default()).await?;
                if total == self.store.count(&mine).await? {
                    return Ok(0);
                }
                Filter::default()
            }
            Adoption::Named { names, .. } => {
                let values: Vec<String> = names.iter().filter(|n| *n != project).cloned().collect();
                if values.is_empty() {
                    return Ok(0);
                }
                let named = Filter {
                    must: vec![Condition::AnyKeyword {
                        key: "project".into(),
                        values,
                    }],
                };
                if self.store.count(&named).await? == 0 {
                    return Ok(0);
                }
                named
            }
        };
        let mut adopted = 0;
        let mut offset = None;
        loop {
            let page = self.store.scroll(&filter, offset, COPY_PAGE, true).await?;
            let mut moved = Vec::new();
            let mut stale = Vec::new();
            for mut point in page.points {
                let field = |key: &str| point.payload.get(key).and_then(serde_json::Value::as_str);
                let ours = match adoption {
                    Adoption::Everything => true,
                    Adoption::Named { threads, .. } => {
                        field("thread").is_some_and(|t| threads.iter().any(|x| x == t))
                    }
                };
                if !ours || field("project") == Some(project) {
                    continue;
                }
                point
                    .payload
                    .insert("project".into(), serde_json::Value::from(project));
                let old = point.id;
                // A payload this version cannot read keeps its id; it is still re-tagged.
                if let Ok(record) = MemoryRecord::from_payload(&old.to_string(), &point.payload) {
                    point.id = record.point_id();
                }
                if point.id != old {
                    stale.push(old);
                }
                moved.push(point);
            }
            adopted += moved.len();
            self.store.upsert(moved).await?;
            self.store.delete(stale).await?;
            match page.next {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        self.store.flush().await?;
        Ok(adopted)
    }

    /// Copies every memory, vectors included (no re-embedding), into `other`.
    pub async fn copy_to(&self, other: &Memory) -> Result<usize, MemoryError> {
        let (from, to) = (self.store.info().dim, other.store.info().dim);
        if from != to {
            return Err(MemoryError::DimensionMismatch {
                expected: to,
                got: from,
            });
        }
        let mut copied = 0;
        let mut offset = None;
        loop {
            let page = self
                .store
                .scroll(&Filter::default(), offset, COPY_PAGE, true)
                .await?;
            copied += page.points.len();
            other.store.upsert(page.points).await?;
            match page.next {
                Some(next) => offset = Some(next),
                None => return Ok(copied),
            }
        }
    }

    /// Whether the stored text of `point` has every term of `query`.
    fn contains_every_term(
        &self,
        point: &crate::store::ScoredPoint,
        query: &crate::store::SparseVector,
    ) -> bool {
        let Some(text) = point
            .payload
            .get("text")
            .and_then(serde_json::Value::as_str)
        else {
            return false;
        };
        let terms = self.bm25.document(text).indices;
        query.indices.iter().all(|t| terms.contains(t))
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, MemoryError> {
        let embedder = Arc::clone(&self.embedder);
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .await?
    }

    async fn embed_one(&self, text: &str) -> Result<Vec<f32>, MemoryError> {
        self.embed(vec![text.to_string()])
            .await?
            .pop()
            .ok_or_else(|| {
                MemoryError::embedding(std::io::Error::other("the embedder returned no vector"))
            })
    }
}
