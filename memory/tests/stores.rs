//! The conformance suite on both backends, plus what only the embedded store does:
//! locking, reopening, background index builds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use baton_memory::MemoryError;
use baton_memory::store::{
    EdgeStore, Filter, INDEXED_FIELDS, Point, Query, SearchRequest, ServerStore, SparseVector,
    VectorStore,
};
use common::conformance::{self, DIM};
use uuid::Uuid;

#[tokio::test]
async fn edge_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path(), DIM).unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn server_store_conforms_when_a_server_is_configured() {
    let Some(url) = common::qdrant_url() else {
        return;
    };
    let key = std::env::var("QDRANT_API_KEY").ok();
    let collection = common::fresh_collection("conformance");
    let store = ServerStore::connect(&url, key.as_deref(), &collection, DIM)
        .await
        .unwrap();
    conformance::run_all(&store).await;
    store.delete_collection().await.unwrap();
}

#[test]
fn a_second_opener_gets_store_locked_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let _first = EdgeStore::open(dir.path(), DIM).unwrap();
    let Err(err) = EdgeStore::open(dir.path(), DIM) else {
        panic!("second open succeeded")
    };
    assert!(matches!(err, MemoryError::StoreLocked { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&dir.path().display().to_string()) && text.contains("baton run"),
        "{text}"
    );
}

fn point(i: u128, v: Vec<f32>) -> Point {
    Point {
        id: Uuid::from_u128(i),
        dense: v,
        sparse: SparseVector::default(),
        payload: serde_json::Map::new(),
    }
}

#[tokio::test]
async fn points_survive_a_reopen_and_a_different_dimension_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EdgeStore::open(dir.path(), DIM).unwrap();
        store
            .upsert(vec![point(1, vec![1.0, 0.0, 0.0, 0.0])])
            .await
            .unwrap();
    }
    let store = EdgeStore::open(dir.path(), DIM).unwrap();
    assert_eq!(store.count(&Filter::default()).await.unwrap(), 1);
    drop(store);
    let Err(err) = EdgeStore::open(dir.path(), DIM + 1) else {
        panic!("dimension change accepted")
    };
    assert!(
        matches!(err, MemoryError::DimensionMismatch { expected: DIM, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_dimension_upsert_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path(), DIM).unwrap();
    let err = store
        .upsert(vec![
            point(1, vec![1.0, 0.0, 0.0, 0.0]),
            point(2, vec![1.0]),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, MemoryError::DimensionMismatch { got: 1, .. }),
        "{err}"
    );
    assert_eq!(store.count(&Filter::default()).await.unwrap(), 0);
}

#[tokio::test]
async fn background_index_build_keeps_search_working() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open_with_threshold(dir.path(), DIM, 500).unwrap();
    let points: Vec<Point> = (0..600u128)
        .map(|i| {
            let x = i as f32;
            point(i + 1, vec![x.sin(), x.cos(), (x * 0.5).sin(), 1.0])
        })
        .collect();
    store.upsert(points.clone()).await.unwrap();
    // Searches during and after the build find every point by its own vector.
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        let probe = &points[123];
        let found = store
            .search(SearchRequest {
                query: Query::Dense(probe.dense.clone()),
                filter: Filter::default(),
                limit: 1,
                exact: false,
            })
            .await
            .unwrap();
        assert_eq!(found[0].id, probe.id);
        // A flush during the build is deferred to its end rather than racing the engine's
        // segment swap (whose lock the engine's flush only tries, panicking on failure).
        store.flush().await.unwrap();
        if !store.is_optimizing() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !store.is_optimizing(),
        "background build did not finish in 120 s"
    );
    assert_eq!(store.count(&Filter::default()).await.unwrap(), 600);
    drop(store);
    let reopened = EdgeStore::open_with_threshold(dir.path(), DIM, 500).unwrap();
    assert_eq!(reopened.count(&Filter::default()).await.unwrap(), 600);
}

/// A background build starts at the store's threshold of unindexed points; the engine
/// must then really build a graph (its own size threshold, in bytes of vectors, is set to
/// match), or every build is a no-op and the unindexed part keeps growing.
#[tokio::test]
async fn an_index_build_at_the_auto_threshold_builds_a_graph() {
    const THRESHOLD: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open_with_threshold(dir.path(), DIM, THRESHOLD).unwrap();
    let points: Vec<Point> = (0..THRESHOLD as u128)
        .map(|i| {
            let x = i as f32;
            point(i + 1, vec![x.sin(), x.cos(), (x * 0.7).sin(), 1.0])
        })
        .collect();
    store
        .upsert(points[..THRESHOLD - 1].to_vec())
        .await
        .unwrap();
    assert!(!has_graph(dir.path()), "a graph before any build");
    store
        .upsert(points[THRESHOLD - 1..].to_vec())
        .await
        .unwrap();
    wait_for_build(&store).await;
    assert!(has_graph(dir.path()), "optimize() built no HNSW graph");
}

/// Waits (up to two minutes) for a background build to start and end.
async fn wait_for_build(store: &EdgeStore) {
    let deadline = Instant::now() + Duration::from_mins(2);
    while store.is_optimizing() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !store.is_optimizing(),
        "background build did not finish in 120 s"
    );
}

/// Whether an HNSW graph file exists anywhere under the shard folder.
fn has_graph(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            has_graph(&path)
        } else {
            let stem = path.file_stem().and_then(|stem| stem.to_str());
            stem.is_some_and(|stem| stem.starts_with("links"))
                && path.extension().is_some_and(|ext| ext == "bin")
        }
    })
}

/// The fields with a payload index in the shard at `path` (opened by the engine itself, the
/// way the next `EdgeStore::open` sees it).
fn indexed_fields(path: &std::path::Path) -> Vec<String> {
    let shard = qdrant_edge::EdgeShard::load(path, None).unwrap();
    let mut fields: Vec<String> = shard
        .info()
        .payload_schema
        .keys()
        .map(ToString::to_string)
        .collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn a_store_whose_creation_was_cut_short_gets_its_missing_indexes_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(EdgeStore::open(dir.path(), DIM).unwrap());
    let mut all: Vec<String> = INDEXED_FIELDS
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    all.sort();
    assert_eq!(indexed_fields(dir.path()), all);

    // What a kill -9 during the first open leaves: `edge_config.json` and the segment are
    // written, the indexes after the first few are not.
    {
        let shard = qdrant_edge::EdgeShard::load(dir.path(), None).unwrap();
        for (field, _) in &INDEXED_FIELDS[2..] {
            shard
                .update(qdrant_edge::UpdateOperation::FieldIndexOperation(
                    qdrant_edge::FieldIndexOperations::DeleteIndex(field.parse().unwrap()),
                ))
                .unwrap();
        }
    }
    assert_eq!(indexed_fields(dir.path()).len(), 2, "the cut-short store");

    let store = EdgeStore::open(dir.path(), DIM).unwrap();
    store.upsert(vec![point(1, vec![0.5; DIM])]).await.unwrap();
    store.flush().await.unwrap();
    drop(store);
    assert_eq!(indexed_fields(dir.path()), all);
}

/// At an embedding's size the engine scores with its SIMD kernels (AVX with F16C here)
/// over half-precision vectors; every score must still be the cosine, to the precision
/// half floats keep.
#[tokio::test]
async fn scores_at_embedding_size_are_the_cosine() {
    const EMBEDDING_DIM: usize = 384;
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path(), EMBEDDING_DIM).unwrap();
    let points: Vec<Point> = (1..=40)
        .map(|i| point(i, pseudo_random_unit(i as u64, EMBEDDING_DIM)))
        .collect();
    store.upsert(points.clone()).await.unwrap();
    let query = pseudo_random_unit(1000, EMBEDDING_DIM);
    for exact in [true, false] {
        let found = store
            .search(SearchRequest {
                query: Query::Dense(query.clone()),
                filter: Filter::default(),
                limit: 40,
                exact,
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 40);
        for hit in &found {
            let stored = &points.iter().find(|p| p.id == hit.id).unwrap().dense;
            let cosine: f32 = stored.iter().zip(&query).map(|(a, b)| a * b).sum();
            assert!(
                (hit.score - cosine).abs() < 2e-3,
                "score {} for cosine {cosine}",
                hit.score
            );
        }
    }
}

/// A deterministic unit vector with independent-looking components in [-1, 1)
/// (splitmix64 of seed and dimension), so cosines between two of them spread around 0.
fn pseudo_random_unit(seed: u64, dim: usize) -> Vec<f32> {
    let raw: Vec<f32> = (0..dim as u64)
        .map(|d| {
            let mut z = (seed << 20 | d).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    raw.into_iter().map(|x| x / norm).collect()
}
