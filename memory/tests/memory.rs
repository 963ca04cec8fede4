//! The facade end to end with the real model and the embedded store: remember, recall,
//! filters, replays, stats, reset, copy, and the recall-quality measurement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use baton_memory::bench::{self, BUILTIN_CORPUS, Corpus};
use baton_memory::store::{EdgeStore, ServerStore};
use baton_memory::{
    Adoption, Embedder, Memory, MemoryError, MemoryKind, MemoryRecord, RecallFilter, RecallMode,
};
use chrono::{TimeZone, Utc};

fn memory(dir: &std::path::Path) -> Option<Memory> {
    let model = common::model()?;
    let store = EdgeStore::open(dir, model.dim()).unwrap();
    Some(Memory::with_parts(model, Arc::new(store)))
}

fn record(kind: MemoryKind, project: &str, session: u32, text: &str, at_ms: i64) -> MemoryRecord {
    MemoryRecord {
        kind,
        text: text.into(),
        project: project.into(),
        thread: format!("{project}-main"),
        session: Some(session),
        step: Some(u64::from(session) * 10),
        tape_seq: None,
        feature: Some(format!("F-{session:03}")),
        commit: None,
        file: None,
        at: Utc.timestamp_millis_opt(at_ms).unwrap(),
    }
}

fn history() -> Vec<MemoryRecord> {
    vec![
        record(
            MemoryKind::Commit,
            "todo",
            1,
            "feat: persist todo items to localStorage so they survive reloads",
            1_000,
        ),
        record(
            MemoryKind::Commit,
            "todo",
            2,
            "feat: night mode toggle remembered between visits",
            2_000,
        ),
        record(
            MemoryKind::Error,
            "todo",
            3,
            "error: JSON.parse crashed on a corrupted saved list",
            3_000,
        ),
        record(
            MemoryKind::Fix,
            "todo",
            3,
            "fix: fall back to an empty list when the saved JSON is corrupt",
            4_000,
        ),
        record(
            MemoryKind::Commit,
            "chat",
            1,
            "feat(auth): rotate JWT refresh tokens on every use",
            5_000,
        ),
        record(
            MemoryKind::Progress,
            "chat",
            2,
            "Session 2 progress: sign-in works, search is next",
            6_000,
        ),
    ]
}

#[tokio::test]
async fn session_fifty_recalls_what_session_one_learned() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(dir.path()) else {
        return;
    };
    assert_eq!(memory.remember(history()).await.unwrap(), 6);
    let hits = memory
        .recall("where are todos saved", &RecallFilter::default(), 3)
        .await
        .unwrap();
    assert!(hits[0].record.text.contains("localStorage"), "{hits:#?}");
    let hits = memory
        .recall("how are access tokens renewed", &RecallFilter::default(), 1)
        .await
        .unwrap();
    assert!(hits[0].record.text.contains("JWT"), "{hits:#?}");
    assert_eq!(hits[0].record.kind, MemoryKind::Commit);
    assert_eq!(hits[0].record.at, Utc.timestamp_millis_opt(5_000).unwrap());
}

#[tokio::test]
async fn replaying_a_session_never_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(dir.path()) else {
        return;
    };
    let mut twice = history();
    twice.extend(history());
    assert_eq!(
        memory.remember(twice).await.unwrap(),
        6,
        "duplicates within a batch collapse"
    );
    memory.remember(history()).await.unwrap();
    assert_eq!(memory.stats().await.unwrap().total, 6);
}

#[tokio::test]
async fn filters_restrict_recall() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(dir.path()) else {
        return;
    };
    memory.remember(history()).await.unwrap();
    let only = |f: RecallFilter| {
        let memory = memory.clone();
        async move { memory.recall("saved data and login", &f, 10).await.unwrap() }
    };
    let chat = only(RecallFilter {
        project: Some("chat".into()),
        ..RecallFilter::default()
    })
    .await;
    assert_eq!(chat.len(), 2);
    assert!(chat.iter().all(|h| h.record.project == "chat"));
    let fixes = only(RecallFilter {
        kinds: vec![MemoryKind::Error, MemoryKind::Fix],
        ..RecallFilter::default()
    })
    .await;
    assert_eq!(fixes.len(), 2);
    let session = only(RecallFilter {
        thread: Some("todo-main".into()),
        session: Some(3),
        ..RecallFilter::default()
    })
    .await;
    assert_eq!(session.len(), 2);
    let feature = only(RecallFilter {
        feature: Some("F-002".into()),
        ..RecallFilter::default()
    })
    .await;
    assert_eq!(feature.len(), 2);
    let window = only(RecallFilter {
        since: Some(Utc.timestamp_millis_opt(2_000).unwrap()),
        until: Some(Utc.timestamp_millis_opt(4_000).unwrap()),
        ..RecallFilter::default()
    })
    .await;
    assert_eq!(window.len(), 3);
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(dir.path()) else {
        return;
    };
    for query in ["", "   \n"] {
        let err = memory
            .recall(query, &RecallFilter::default(), 5)
            .await
            .unwrap_err();
        assert!(matches!(err, MemoryError::EmptyQuery), "{err}");
    }
    let mut batch = history();
    batch[2].text = "  ".into();
    let err = memory.remember(batch).await.unwrap_err();
    assert!(
        matches!(err, MemoryError::EmptyRecord { index: 2 }),
        "{err}"
    );
    assert_eq!(
        memory.stats().await.unwrap().total,
        0,
        "nothing of a refused batch is written"
    );
    assert!(
        memory
            .recall("anything", &RecallFilter::default(), 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        memory
            .recall("anything", &RecallFilter::default(), 5)
            .await
            .unwrap()
            .is_empty(),
        "empty store"
    );
}

#[tokio::test]
async fn every_mode_answers_and_bm25_matches_exact_words() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(dir.path()) else {
        return;
    };
    memory.remember(history()).await.unwrap();
    for mode in [RecallMode::Dense, RecallMode::Bm25, RecallMode::Fused] {
        let hits = memory
            .recall_with_mode("JSON.parse corrupted", &RecallFilter::default(), 2, mode)
            .await
            .unwrap();
        assert!(hits[0].record.text.contains("JSON"), "{mode:?}: {hits:#?}");
    }
}

#[tokio::test]
async fn stats_reset_and_copy() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(&dir.path().join("a")) else {
        return;
    };
    memory.remember(history()).await.unwrap();
    let stats = memory.stats().await.unwrap();
    assert_eq!(stats.total, 6);
    assert_eq!(stats.by_kind[&MemoryKind::Commit], 3);
    assert_eq!(stats.by_kind[&MemoryKind::Instruction], 0);
    assert_eq!((stats.dim, stats.backend.as_str()), (384, "edge"));
    assert!(stats.model.contains("all-MiniLM-L6-v2"));

    let other = crate::memory(&dir.path().join("b")).unwrap();
    assert_eq!(memory.copy_to(&other).await.unwrap(), 6);
    let hits = other
        .recall("where are todos saved", &RecallFilter::default(), 1)
        .await
        .unwrap();
    assert!(
        hits[0].record.text.contains("localStorage"),
        "copied vectors answer recalls"
    );

    memory.reset().await.unwrap();
    assert_eq!(memory.stats().await.unwrap().total, 0);
    assert_eq!(other.stats().await.unwrap().total, 6);
}

#[tokio::test]
async fn fused_recall_is_at_least_dense_and_at_least_0_8() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(dir.path()) else {
        return;
    };
    let corpus = Corpus::parse(BUILTIN_CORPUS, std::path::Path::new("builtin")).unwrap();
    let report = bench::measure(&memory, &corpus).await.unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert!(
        report.default.recall_at_5 >= report.dense.recall_at_5,
        "default {:?} < dense {:?}",
        report.default,
        report.dense
    );
    assert!(
        report.default.recall_at_5 >= 0.8,
        "default recall@5 {} < 0.8; misses: {:?}",
        report.default.recall_at_5,
        report.default_misses
    );
}

/// The real histories' recall sets beside the repository (`../shared/data/recall`, or
/// `BATON_RECALL_DATA`): the default ranking answers at least 80% of their questions in
/// the top 5, with MRR@10 at least 0.6, and never below dense-only.
#[tokio::test]
async fn default_recall_on_real_histories_meets_the_bar() {
    let folder = std::env::var_os("BATON_RECALL_DATA").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/recall"),
        std::path::PathBuf::from,
    );
    let sets = bench::recall_sets_in(&folder);
    if sets.is_empty() {
        eprintln!(
            "\n*** SKIPPING real-history recall test: no <name>.commits.jsonl + <name>.queries.json in {} (set BATON_RECALL_DATA) ***\n",
            folder.display()
        );
        return;
    }
    for (name, commits, queries) in sets {
        let dir = tempfile::tempdir().unwrap();
        let Some(memory) = memory(dir.path()) else {
            return;
        };
        let corpus = Corpus::from_recall_set(&commits, &queries).unwrap();
        let report = bench::measure(&memory, &corpus).await.unwrap();
        eprintln!("{name}: {}", serde_json::to_string_pretty(&report).unwrap());
        let (default, dense) = (&report.default, &report.dense);
        assert!(
            default.recall_at_5 >= 0.8 && default.mrr_at_10 >= 0.6,
            "{name}: default {default:?} is below recall@5 0.8 / MRR@10 0.6; misses: {:?}",
            report.default_misses
        );
        assert!(
            default.recall_at_5 >= dense.recall_at_5 && default.mrr_at_10 >= dense.mrr_at_10,
            "{name}: default {default:?} is below dense-only {dense:?}"
        );
    }
}

/// Memories made before projects had ids carry the folder name; adopting re-tags and
/// re-keys them without re-embedding, loses none, and a replay afterwards duplicates none.
async fn adoption_keeps_every_memory(memory: &Memory) {
    memory.remember(history()).await.unwrap();
    let everything = memory.stats().await.unwrap().total;
    let todo = Adoption::Named {
        names: vec!["todo".into()],
        threads: vec!["todo-main".into()],
    };
    assert_eq!(memory.adopt("id-of-todo", &todo).await.unwrap(), 4);
    assert_eq!(
        memory.adopt("id-of-todo", &todo).await.unwrap(),
        0,
        "done once"
    );
    assert_eq!(memory.stats().await.unwrap().total, everything);
    let in_project = |project: &str| RecallFilter {
        project: Some(project.into()),
        ..RecallFilter::default()
    };
    let hits = memory
        .recall("where are todos saved", &in_project("id-of-todo"), 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 4, "{hits:#?}");
    assert!(hits[0].record.text.contains("localStorage"), "{hits:#?}");
    let chat = memory
        .recall("login", &in_project("chat"), 10)
        .await
        .unwrap();
    assert_eq!(chat.len(), 2, "another project's memories stay its own");
    // A session replayed after adoption writes the ids adoption gave.
    let replayed: Vec<MemoryRecord> = history()
        .into_iter()
        .filter(|r| r.project == "todo")
        .map(|mut r| {
            r.project = "id-of-todo".into();
            r
        })
        .collect();
    memory.remember(replayed).await.unwrap();
    assert_eq!(memory.stats().await.unwrap().total, everything);
}

#[tokio::test]
async fn an_embedded_store_is_adopted_whole_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(dir.path()) else {
        return;
    };
    memory.remember(history()).await.unwrap();
    assert_eq!(memory.adopt("id", &Adoption::Everything).await.unwrap(), 6);
    assert_eq!(memory.adopt("id", &Adoption::Everything).await.unwrap(), 0);
    assert_eq!(memory.stats().await.unwrap().total, 6);
    let hits = memory
        .recall(
            "where are todos saved",
            &RecallFilter {
                project: Some("id".into()),
                ..RecallFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(hits.len(), 6);
}

#[tokio::test]
async fn adoption_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let Some(memory) = memory(dir.path()) else {
        return;
    };
    adoption_keeps_every_memory(&memory).await;
}

#[tokio::test]
async fn adoption_on_a_server() {
    let Some(model) = common::model() else {
        return;
    };
    let Some(url) = common::qdrant_url() else {
        return;
    };
    let store = ServerStore::connect(&url, None, &common::fresh_collection("adopt"), model.dim())
        .await
        .unwrap();
    let store = Arc::new(store);
    let memory = Memory::with_parts(
        model,
        Arc::clone(&store) as Arc<dyn baton_memory::VectorStore>,
    );
    adoption_keeps_every_memory(&memory).await;
    store.delete_collection().await.unwrap();
}
