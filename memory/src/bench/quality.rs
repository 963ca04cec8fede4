//! Recall quality: recall@5 of dense-only, BM25-only and fused ranking (and the other
//! fusion rules that were tried) on a corpus of memories and paraphrased queries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::fusion::{FusionRule, RecallMode};
use crate::store::EdgeStore;
use crate::{
    Embedder, EmbedderOptions, FastEmbedder, Memory, MemoryError, MemoryKind, MemoryRecord,
    RecallFilter,
};

/// The corpus shipped with the crate (`tests/fixtures/recall_corpus.json`).
pub const BUILTIN_CORPUS: &str = include_str!("../../tests/fixtures/recall_corpus.json");

/// Results looked at per query.
const K: usize = 5;

/// A quality corpus: memories with keys, and queries naming the keys that answer them.
#[derive(Debug, Clone, Deserialize)]
pub struct Corpus {
    /// The memories.
    pub memories: Vec<CorpusMemory>,
    /// The queries.
    pub queries: Vec<CorpusQuery>,
}

/// One memory of a corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct CorpusMemory {
    /// Unique key that queries refer to.
    pub key: String,
    /// Kind of memory.
    pub kind: MemoryKind,
    /// Project.
    pub project: String,
    /// Thread.
    pub thread: String,
    /// Session.
    pub session: Option<u32>,
    /// Feature id.
    pub feature: Option<String>,
    /// Commit hash.
    pub commit: Option<String>,
    /// Text.
    pub text: String,
}

/// One query of a corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct CorpusQuery {
    /// What is asked.
    pub query: String,
    /// Keys of the memories that answer it; any of them in the top 5 counts.
    pub relevant: Vec<String>,
}

impl Corpus {
    /// Parses a corpus and checks every relevant key exists.
    pub fn parse(json: &str, origin: &Path) -> Result<Self, MemoryError> {
        let bad = |reason: String| MemoryError::Fixture {
            path: origin.to_path_buf(),
            reason,
        };
        let corpus: Corpus = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let keys: std::collections::HashSet<&str> =
            corpus.memories.iter().map(|m| m.key.as_str()).collect();
        if keys.len() != corpus.memories.len() {
            return Err(bad("duplicate memory keys".into()));
        }
        for q in &corpus.queries {
            if q.relevant.is_empty() {
                return Err(bad(format!("query `{}` names no relevant memory", q.query)));
            }
            if let Some(missing) = q.relevant.iter().find(|k| !keys.contains(k.as_str())) {
                return Err(bad(format!(
                    "query `{}` names unknown memory `{missing}`",
                    q.query
                )));
            }
        }
        Ok(corpus)
    }
}

/// Where to measure.
#[derive(Debug, Clone)]
pub struct QualityOptions {
    /// Corpus file; `None` uses [`BUILTIN_CORPUS`].
    pub corpus: Option<PathBuf>,
    /// Scratch folder for the store (emptied first).
    pub dir: PathBuf,
    /// Model location.
    pub embedder: EmbedderOptions,
}

/// recall@5 side by side.
#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    /// Memories stored.
    pub memories: usize,
    /// Queries asked.
    pub queries: usize,
    /// Results looked at per query.
    pub k: usize,
    /// MiniLM only.
    pub dense: f64,
    /// BM25 only.
    pub bm25: f64,
    /// The default fused ranking ([`FusionRule::DEFAULT`]).
    pub fused: f64,
    /// Every fusion rule tried, with its recall@5.
    pub rules_tried: Vec<RuleScore>,
    /// Queries the default ranking missed.
    pub fused_misses: Vec<String>,
}

/// recall@5 of one fusion rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleScore {
    /// The rule.
    pub rule: FusionRule,
    /// Its recall@5.
    pub recall_at_5: f64,
}

/// Rules compared against the default (the default is among them).
pub const RULES_TRIED: [FusionRule; 15] = [
    FusionRule::Rrf {
        k: 60.0,
        bm25_weight: 1.0,
    },
    FusionRule::Rrf {
        k: 60.0,
        bm25_weight: 0.5,
    },
    FusionRule::Rrf {
        k: 60.0,
        bm25_weight: 0.25,
    },
    FusionRule::Convex { bm25_share: 0.1 },
    FusionRule::Convex { bm25_share: 0.2 },
    FusionRule::Convex { bm25_share: 0.3 },
    FusionRule::Convex { bm25_share: 0.5 },
    FusionRule::Rerank { bm25_share: 0.1 },
    FusionRule::Rerank { bm25_share: 0.2 },
    FusionRule::Rerank { bm25_share: 0.3 },
    FusionRule::Rerank { bm25_share: 0.5 },
    FusionRule::FullMatch { bm25_share: 0.1 },
    FusionRule::FullMatch { bm25_share: 0.2 },
    FusionRule::FullMatch { bm25_share: 0.3 },
    FusionRule::FullMatch { bm25_share: 0.5 },
];

/// Loads the model, stores the corpus in a fresh embedded store under `opts.dir`, measures.
pub async fn recall_quality(opts: QualityOptions) -> Result<QualityReport, MemoryError> {
    let (json, origin) = match &opts.corpus {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|source| MemoryError::Io {
                what: "reading quality corpus",
                path: path.clone(),
                source,
            })?,
            path.clone(),
        ),
        None => (
            BUILTIN_CORPUS.to_string(),
            PathBuf::from("<builtin recall_corpus.json>"),
        ),
    };
    let corpus = Corpus::parse(&json, &origin)?;
    let embedder_options = opts.embedder.clone();
    let embedder =
        tokio::task::spawn_blocking(move || FastEmbedder::load(embedder_options)).await??;
    let dir = opts.dir.join("recall-quality");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| MemoryError::Io {
            what: "emptying scratch store",
            path: dir.clone(),
            source,
        })?;
    }
    let dim = embedder.dim();
    let store = tokio::task::spawn_blocking(move || EdgeStore::open(&dir, dim)).await??;
    let memory = Memory::with_parts(Arc::new(embedder), Arc::new(store));
    measure(&memory, &corpus).await
}

/// Stores `corpus` in `memory` (which should be empty) and measures recall@5.
pub async fn measure(memory: &Memory, corpus: &Corpus) -> Result<QualityReport, MemoryError> {
    let at = Utc
        .timestamp_millis_opt(1_700_000_000_000)
        .single()
        .unwrap_or_else(Utc::now);
    let records: Vec<MemoryRecord> = corpus
        .memories
        .iter()
        .map(|m| MemoryRecord {
            kind: m.kind,
            text: m.text.clone(),
            project: m.project.clone(),
            thread: m.thread.clone(),
            session: m.session,
            step: None,
            tape_seq: None,
            feature: m.feature.clone(),
            commit: m.commit.clone(),
            file: None,
            at,
        })
        .collect();
    let key_of: HashMap<String, String> = records
        .iter()
        .zip(&corpus.memories)
        .map(|(r, m)| (r.point_id().to_string(), m.key.clone()))
        .collect();
    memory.remember(records).await?;

    let score = |mode: RecallMode, rule: Option<FusionRule>| {
        let key_of = &key_of;
        async move {
            let mut found = 0_u32;
            let mut misses = Vec::new();
            for q in &corpus.queries {
                let hits = memory
                    .recall_ranked(&q.query, &RecallFilter::default(), K, mode, rule)
                    .await?;
                let answered = hits
                    .iter()
                    .any(|h| key_of.get(&h.id).is_some_and(|k| q.relevant.contains(k)));
                if answered {
                    found += 1;
                } else {
                    misses.push(q.query.clone());
                }
            }
            Ok::<_, MemoryError>((
                f64::from(found) / corpus.queries.len().max(1) as f64,
                misses,
            ))
        }
    };
    let (dense, _) = score(RecallMode::Dense, None).await?;
    let (bm25, _) = score(RecallMode::Bm25, None).await?;
    let (fused, fused_misses) = score(RecallMode::Fused, Some(FusionRule::DEFAULT)).await?;
    let mut rules_tried = Vec::new();
    for rule in RULES_TRIED {
        let (recall_at_5, _) = score(RecallMode::Fused, Some(rule)).await?;
        rules_tried.push(RuleScore { rule, recall_at_5 });
    }
    Ok(QualityReport {
        memories: corpus.memories.len(),
        queries: corpus.queries.len(),
        k: K,
        dense,
        bm25,
        fused,
        rules_tried,
        fused_misses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_corpus_is_well_formed_and_big_enough() {
        let corpus = Corpus::parse(BUILTIN_CORPUS, Path::new("builtin")).unwrap();
        assert!(corpus.memories.len() >= 200, "{}", corpus.memories.len());
        assert!(corpus.queries.len() >= 20, "{}", corpus.queries.len());
    }

    #[test]
    fn unknown_relevant_keys_are_reported() {
        let json = r#"{"memories": [], "queries": [{"query": "q", "relevant": ["nope"]}]}"#;
        let err = Corpus::parse(json, Path::new("x.json")).unwrap_err();
        assert!(err.to_string().contains("unknown memory `nope`"), "{err}");
    }
}
