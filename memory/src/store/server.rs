//! [`ServerStore`]: the same store on a Qdrant server (`QDRANT_URL`, `QDRANT_API_KEY`),
//! for memory shared between machines or processes.

use std::collections::HashMap;

use qdrant_client::qdrant::{
    self, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType as QdrantFieldType, Modifier, NamedVectors, PointId,
    PointStruct, PointsIdsList, QueryPointsBuilder, ScrollPointsBuilder, SearchParamsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector,
    VectorInput, VectorParamsBuilder, VectorsConfigBuilder, point_id::PointIdOptions,
    vector_output, vectors_output::VectorsOptions,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use serde_json::Map;
use uuid::Uuid;

use super::{
    Condition, DENSE, FieldType, Filter, INDEXED_FIELDS, Page, Point, Query, SPARSE, ScoredPoint,
    SearchRequest, SparseVector, StoreInfo, VectorStore,
};
use crate::MemoryError;

/// A collection on a Qdrant server.
pub struct ServerStore {
    client: Qdrant,
    url: String,
    collection: String,
    dim: usize,
}

impl ServerStore {
    /// Connects and creates the collection (dense + BM25 vectors, payload indexes) if absent.
    pub async fn connect(
        url: &str,
        api_key: Option<&str>,
        collection: &str,
        dim: usize,
    ) -> Result<Self, MemoryError> {
        let err = server_err(url);
        let client = Qdrant::from_url(url)
            .api_key(api_key.map(str::to_string))
            .skip_compatibility_check()
            .build()
            .map_err(&err)?;
        let store = Self {
            client,
            url: url.to_string(),
            collection: collection.to_string(),
            dim,
        };
        if !store
            .client
            .collection_exists(collection)
            .await
            .map_err(&err)?
            && let Err(error) = store.create_collection().await
        {
            // Another process (a second `baton run` on the same server) made it meanwhile.
            if !store
                .client
                .collection_exists(collection)
                .await
                .map_err(&err)?
            {
                return Err(error);
            }
        }
        Ok(store)
    }

    /// Deletes the collection and everything in it (tests and benchmarks clean up with it).
    pub async fn delete_collection(&self) -> Result<(), MemoryError> {
        self.client
            .delete_collection(&self.collection)
            .await
            .map_err(server_err(&self.url))?;
        Ok(())
    }

    async fn create_collection(&self) -> Result<(), MemoryError> {
        let err = server_err(&self.url);
        let mut dense = VectorsConfigBuilder::default();
        dense.add_named_vector_params(
            DENSE,
            VectorParamsBuilder::new(self.dim as u64, Distance::Cosine),
        );
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            SPARSE,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
        );
        self.client
            .create_collection(
                CreateCollectionBuilder::new(&self.collection)
                    .vectors_config(dense)
                    .sparse_vectors_config(sparse),
            )
            .await
            .map_err(&err)?;
        for (field, kind) in INDEXED_FIELDS {
            let kind = match kind {
                FieldType::Keyword => QdrantFieldType::Keyword,
                FieldType::Integer => QdrantFieldType::Integer,
            };
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(&self.collection, field, kind)
                        .wait(true),
                )
                .await
                .map_err(&err)?;
        }
        Ok(())
    }
}

fn server_err(url: &str) -> impl Fn(QdrantError) -> MemoryError + '_ {
    move |source| MemoryError::Server {
        url: url.to_string(),
        source: Box::new(source),
    }
}

#[async_trait::async_trait]
impl VectorStore for ServerStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "server",
            location: format!("{}/collections/{}", self.url, self.collection),
            dim: self.dim,
        }
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), MemoryError> {
        if points.is_empty() {
            return Ok(());
        }
        if let Some(bad) = points.iter().find(|p| p.dense.len() != self.dim) {
            return Err(MemoryError::DimensionMismatch {
                expected: self.dim,
                got: bad.dense.len(),
            });
        }
        let points: Vec<PointStruct> = points
            .into_iter()
            .map(|p| {
                let mut vectors =
                    NamedVectors::default().add_vector(DENSE, Vector::new_dense(p.dense));
                if !p.sparse.indices.is_empty() {
                    vectors = vectors.add_vector(
                        SPARSE,
                        Vector::new_sparse(p.sparse.indices, p.sparse.values),
                    );
                }
                PointStruct::new(p.id.to_string(), vectors, Payload::from(p.payload))
            })
            .collect();
        self.client
            .upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true))
            .await
            .map_err(server_err(&self.url))?;
        Ok(())
    }

    async fn delete(&self, ids: Vec<Uuid>) -> Result<(), MemoryError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.iter().map(|id| PointId::from(id.to_string())).collect();
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(PointsIdsList { ids })
                    .wait(true),
            )
            .await
            .map_err(server_err(&self.url))?;
        Ok(())
    }

    async fn count(&self, filter: &Filter) -> Result<usize, MemoryError> {
        let mut request = CountPointsBuilder::new(&self.collection).exact(true);
        if let Some(f) = to_qdrant_filter(filter) {
            request = request.filter(f);
        }
        let response = self
            .client
            .count(request)
            .await
            .map_err(server_err(&self.url))?;
        Ok(response.result.map_or(0, |r| r.count as usize))
    }

    async fn search(&self, request: SearchRequest) -> Result<Vec<ScoredPoint>, MemoryError> {
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        let (input, using) = match request.query {
            Query::Dense(v) => (VectorInput::new_dense(v), DENSE),
            Query::Sparse(s) if s.indices.is_empty() => return Ok(Vec::new()),
            Query::Sparse(s) => (VectorInput::new_sparse(s.indices, s.values), SPARSE),
        };
        let mut query = QueryPointsBuilder::new(&self.collection)
            .query(qdrant::Query::new_nearest(input))
            .using(using)
            .limit(request.limit as u64)
            .with_payload(true)
            .params(SearchParamsBuilder::default().exact(request.exact));
        if let Some(f) = to_qdrant_filter(&request.filter) {
            query = query.filter(f);
        }
        let response = self
            .client
            .query(query)
            .await
            .map_err(server_err(&self.url))?;
        response
            .result
            .into_iter()
            .map(|p| {
                Ok(ScoredPoint {
                    id: uuid_of(p.id)?,
                    score: p.score,
                    payload: Map::from(Payload::from(p.payload)),
                })
            })
            .collect()
    }

    async fn scroll(
        &self,
        filter: &Filter,
        offset: Option<Uuid>,
        limit: usize,
        with_vectors: bool,
    ) -> Result<Page, MemoryError> {
        let mut request = ScrollPointsBuilder::new(&self.collection)
            .limit(limit.max(1) as u32)
            .with_payload(true)
            .with_vectors(with_vectors);
        if let Some(f) = to_qdrant_filter(filter) {
            request = request.filter(f);
        }
        if let Some(o) = offset {
            request = request.offset(PointId::from(o.to_string()));
        }
        let response = self
            .client
            .scroll(request)
            .await
            .map_err(server_err(&self.url))?;
        let points = response
            .result
            .into_iter()
            .map(|p| {
                let (dense, sparse) = p.vectors.map(from_qdrant_vectors).unwrap_or_default();
                Ok(Point {
                    id: uuid_of(p.id)?,
                    dense,
                    sparse,
                    payload: Map::from(Payload::from(p.payload)),
                })
            })
            .collect::<Result<_, MemoryError>>()?;
        let next = response
            .next_page_offset
            .map(|id| uuid_of(Some(id)))
            .transpose()?;
        Ok(Page { points, next })
    }

    /// The server indexes in the background by itself; this waits until it is done
    /// (the collection is no longer yellow), so what follows is searched through the index.
    async fn optimize(&self) -> Result<(), MemoryError> {
        loop {
            let info = self
                .client
                .collection_info(&self.collection)
                .await
                .map_err(server_err(&self.url))?;
            let status = info.result.map(|r| r.status);
            if status != Some(qdrant::CollectionStatus::Yellow as i32) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    async fn clear(&self) -> Result<(), MemoryError> {
        let err = server_err(&self.url);
        self.client
            .delete_collection(&self.collection)
            .await
            .map_err(&err)?;
        self.create_collection().await
    }
}

fn uuid_of(id: Option<PointId>) -> Result<Uuid, MemoryError> {
    let bad = |id: String| MemoryError::BadPayload {
        id,
        reason: "point id is not a uuid; baton writes uuids only".into(),
    };
    match id.and_then(|i| i.point_id_options) {
        Some(PointIdOptions::Uuid(s)) => Uuid::parse_str(&s).map_err(|_| bad(s)),
        Some(PointIdOptions::Num(n)) => Err(bad(n.to_string())),
        None => Err(bad(String::new())),
    }
}

fn from_qdrant_vectors(v: qdrant::VectorsOutput) -> (Vec<f32>, SparseVector) {
    let mut dense = Vec::new();
    let mut sparse = SparseVector::default();
    let named: HashMap<String, qdrant::VectorOutput> = match v.vectors_options {
        Some(VectorsOptions::Vectors(named)) => named.vectors,
        Some(VectorsOptions::Vector(single)) => HashMap::from([(DENSE.to_string(), single)]),
        None => HashMap::new(),
    };
    for (name, vector) in named {
        match (name.as_str(), vector.into_vector()) {
            (DENSE, vector_output::Vector::Dense(d)) => dense = d.data,
            (SPARSE, vector_output::Vector::Sparse(s)) => {
                sparse = SparseVector {
                    indices: s.indices,
                    values: s.values,
                };
            }
            _ => {}
        }
    }
    (dense, sparse)
}

fn to_qdrant_filter(filter: &Filter) -> Option<qdrant::Filter> {
    if filter.is_empty() {
        return None;
    }
    Some(qdrant::Filter::must(
        filter.must.iter().map(to_qdrant_condition),
    ))
}

fn to_qdrant_condition(c: &Condition) -> qdrant::Condition {
    match c {
        Condition::Keyword { key, value } => {
            qdrant::Condition::matches(key.as_str(), value.clone())
        }
        Condition::AnyKeyword { key, values } => {
            qdrant::Condition::matches(key.as_str(), values.clone())
        }
        Condition::Integer { key, value } => qdrant::Condition::matches(key.as_str(), *value),
        Condition::IntegerRange { key, gte, lte } => qdrant::Condition::range(
            key.as_str(),
            qdrant::Range {
                gte: gte.map(|v| v as f64),
                lte: lte.map(|v| v as f64),
                ..qdrant::Range::default()
            },
        ),
    }
}
