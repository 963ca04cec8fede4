//! One conformance suite for every [`VectorStore`] backend. Each check expects an empty
//! store of dimension [`DIM`] and leaves it empty.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use baton_memory::store::{
    Condition, Filter, Point, Query, SearchRequest, SparseVector, VectorStore,
};

/// Dimensions of the conformance vectors.
pub const DIM: usize = 4;

fn unit(v: [f32; DIM]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn payload(
    project: &str,
    thread: &str,
    session: u32,
    kind: &str,
    feature: &str,
    at_ms: i64,
) -> Map<String, Value> {
    json!({"project": project, "thread": thread, "session": session, "kind": kind,
           "feature": feature, "at_ms": at_ms, "text": format!("{kind} in {project}")})
    .as_object()
    .unwrap()
    .clone()
}

fn point(n: u128, v: [f32; DIM], payload: Map<String, Value>) -> Point {
    Point {
        id: Uuid::from_u128(n),
        dense: unit(v),
        sparse: SparseVector {
            indices: vec![n as u32, 1000],
            values: vec![1.0, 1.0],
        },
        payload,
    }
}

fn dense(v: [f32; DIM], limit: usize, filter: Filter) -> SearchRequest {
    SearchRequest {
        query: Query::Dense(unit(v)),
        filter,
        limit,
        exact: false,
    }
}

fn keyword(key: &str, value: &str) -> Condition {
    Condition::Keyword {
        key: key.into(),
        value: value.into(),
    }
}

/// Runs every check in order.
pub async fn run_all(store: &dyn VectorStore) {
    empty_store_finds_nothing(store).await;
    upserted_points_are_found_at_once(store).await;
    upserting_an_id_twice_keeps_one_point(store).await;
    delete_removes_points(store).await;
    filters_narrow_search_and_count(store).await;
    scroll_pages_through_everything(store).await;
    sparse_search_matches_terms(store).await;
}

async fn empty_store_finds_nothing(store: &dyn VectorStore) {
    assert!(
        store
            .search(dense([1.0, 0.0, 0.0, 0.0], 5, Filter::default()))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count(&Filter::default()).await.unwrap(), 0);
    let page = store
        .scroll(&Filter::default(), None, 10, false)
        .await
        .unwrap();
    assert!(page.points.is_empty() && page.next.is_none());
}

async fn upserted_points_are_found_at_once(store: &dyn VectorStore) {
    let p = point(
        1,
        [1.0, 0.1, 0.0, 0.0],
        payload("alpha", "t1", 1, "commit", "F-1", 1_000),
    );
    store.upsert(vec![p.clone()]).await.unwrap();
    let found = store
        .search(dense([1.0, 0.1, 0.0, 0.0], 5, Filter::default()))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, p.id);
    assert!(
        (found[0].score - 1.0).abs() < 1e-3,
        "cosine of a vector with itself: {}",
        found[0].score
    );
    assert_eq!(found[0].payload, p.payload);
    store.clear().await.unwrap();
    assert_eq!(store.count(&Filter::default()).await.unwrap(), 0);
}

async fn upserting_an_id_twice_keeps_one_point(store: &dyn VectorStore) {
    let first = point(
        2,
        [0.0, 1.0, 0.0, 0.0],
        payload("alpha", "t1", 1, "commit", "F-1", 1_000),
    );
    let mut second = first.clone();
    second
        .payload
        .insert("text".into(), Value::from("replaced"));
    store.upsert(vec![first]).await.unwrap();
    store.upsert(vec![second.clone()]).await.unwrap();
    assert_eq!(store.count(&Filter::default()).await.unwrap(), 1);
    let page = store
        .scroll(&Filter::default(), None, 10, false)
        .await
        .unwrap();
    assert_eq!(page.points[0].payload["text"], Value::from("replaced"));
    store.clear().await.unwrap();
}

async fn delete_removes_points(store: &dyn VectorStore) {
    let a = point(
        3,
        [0.0, 0.0, 1.0, 0.0],
        payload("alpha", "t1", 1, "commit", "F-1", 1_000),
    );
    let b = point(
        4,
        [0.0, 0.0, 1.0, 0.1],
        payload("alpha", "t1", 1, "commit", "F-1", 1_000),
    );
    store.upsert(vec![a.clone(), b.clone()]).await.unwrap();
    store
        .delete(vec![a.id, Uuid::from_u128(999)])
        .await
        .unwrap();
    let found = store
        .search(dense([0.0, 0.0, 1.0, 0.0], 5, Filter::default()))
        .await
        .unwrap();
    assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), vec![b.id]);
    store.clear().await.unwrap();
}

async fn filters_narrow_search_and_count(store: &dyn VectorStore) {
    let points = vec![
        point(
            10,
            [1.0, 0.0, 0.0, 0.0],
            payload("alpha", "t1", 1, "commit", "F-1", 1_000),
        ),
        point(
            11,
            [1.0, 0.1, 0.0, 0.0],
            payload("alpha", "t2", 2, "error", "F-2", 2_000),
        ),
        point(
            12,
            [1.0, 0.2, 0.0, 0.0],
            payload("beta", "t3", 1, "fix", "F-1", 3_000),
        ),
        point(
            13,
            [1.0, 0.3, 0.0, 0.0],
            payload("beta", "t3", 3, "progress", "F-3", 4_000),
        ),
    ];
    store.upsert(points).await.unwrap();
    let ids = |n: &[u128]| n.iter().map(|&i| Uuid::from_u128(i)).collect::<Vec<_>>();
    let cases: Vec<(Vec<Condition>, Vec<Uuid>)> = vec![
        (vec![keyword("project", "alpha")], ids(&[10, 11])),
        (vec![keyword("thread", "t3")], ids(&[12, 13])),
        (
            vec![Condition::Integer {
                key: "session".into(),
                value: 1,
            }],
            ids(&[10, 12]),
        ),
        (
            vec![Condition::AnyKeyword {
                key: "kind".into(),
                values: vec!["error".into(), "fix".into()],
            }],
            ids(&[11, 12]),
        ),
        (vec![keyword("feature", "F-1")], ids(&[10, 12])),
        (
            vec![Condition::IntegerRange {
                key: "at_ms".into(),
                gte: Some(2_000),
                lte: Some(3_000),
            }],
            ids(&[11, 12]),
        ),
        (
            vec![keyword("project", "beta"), keyword("feature", "F-3")],
            ids(&[13]),
        ),
        (vec![keyword("project", "gamma")], vec![]),
    ];
    for (must, expected) in cases {
        let filter = Filter { must: must.clone() };
        assert_eq!(
            store.count(&filter).await.unwrap(),
            expected.len(),
            "count {must:?}"
        );
        let mut found: Vec<Uuid> = store
            .search(dense([1.0, 0.0, 0.0, 0.0], 10, filter))
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        found.sort();
        assert_eq!(found, expected, "search {must:?}");
    }
    store.clear().await.unwrap();
}

async fn scroll_pages_through_everything(store: &dyn VectorStore) {
    let points: Vec<Point> = (100..125)
        .map(|i| {
            point(
                i,
                [1.0, i as f32 / 100.0, 0.5, 0.0],
                payload("alpha", "t1", 1, "commit", "F-1", 1_000),
            )
        })
        .collect();
    store.upsert(points.clone()).await.unwrap();
    let mut seen = Vec::new();
    let mut offset = None;
    let mut pages = 0;
    loop {
        let page = store
            .scroll(&Filter::default(), offset, 10, true)
            .await
            .unwrap();
        pages += 1;
        for p in &page.points {
            let original = points.iter().find(|o| o.id == p.id).unwrap();
            // Within half precision: the embedded store keeps dense vectors as f16.
            assert!(
                p.dense
                    .iter()
                    .zip(&original.dense)
                    .all(|(a, b)| (a - b).abs() < 1e-3),
                "vectors come back: {:?} stored, {:?} read",
                original.dense,
                p.dense
            );
            assert_eq!(p.sparse.indices.len(), 2, "sparse vector comes back");
        }
        seen.extend(page.points.iter().map(|p| p.id));
        match page.next {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);
    store.clear().await.unwrap();
}

async fn sparse_search_matches_terms(store: &dyn VectorStore) {
    let a = point(
        200,
        [1.0, 0.0, 0.0, 0.0],
        payload("alpha", "t1", 1, "commit", "F-1", 1_000),
    );
    let b = point(
        201,
        [1.0, 0.0, 0.0, 0.0],
        payload("alpha", "t1", 1, "commit", "F-1", 1_000),
    );
    store.upsert(vec![a, b]).await.unwrap();
    let request = |indices: Vec<u32>| SearchRequest {
        query: Query::Sparse(SparseVector {
            values: vec![1.0; indices.len()],
            indices,
        }),
        filter: Filter::default(),
        limit: 5,
        exact: false,
    };
    let found = store.search(request(vec![201])).await.unwrap();
    assert_eq!(
        found.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![Uuid::from_u128(201)]
    );
    assert!(store.search(request(vec![4242])).await.unwrap().is_empty());
    assert!(store.search(request(vec![])).await.unwrap().is_empty());
    store.clear().await.unwrap();
}
