//! Recall quality: recall@5 and MRR@10 of dense-only, BM25-only and the default fused
//! ranking (and the other fusion rules that were tried) on a corpus of memories and
//! questions. Two corpus formats: the built-in one (`tests/fixtures/recall_corpus.json`)
//! and a real history's recall set (`<name>.commits.jsonl` + `<name>.queries.json`, the
//! format of `../shared/data/recall`, whose README describes it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::fusion::{FusionRule, RecallMode};
use crate::store::EdgeStore;
use crate::{
    Embedder, EmbedderOptions, FastEmbedder, Memory, MemoryError, MemoryKind, MemoryRecord,
    RecallFilter,
};

/// The corpus shipped with the crate (`tests/fixtures/recall_corpus.json`).
pub const BUILTIN_CORPUS: &str = include_str!("../../tests/fixtures/recall_corpus.json");

/// Results looked at for recall@K.
const K: usize = 5;
/// Results looked at for MRR.
const MRR_DEPTH: usize = 10;

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
    /// When it was made (a fixed time when absent).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// One query of a corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct CorpusQuery {
    /// What is asked.
    pub query: String,
    /// Keys of the memories that answer it; any of them in the top 5 counts.
    pub relevant: Vec<String>,
    /// What sort of question it is (`paraphrase`, `symptom`, `why`, `where`), if known.
    #[serde(default)]
    pub kind: Option<String>,
}

/// One line of a recall set's `*.commits.jsonl`.
#[derive(Debug, Deserialize)]
struct SetCommit {
    sha: String,
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    files: Vec<String>,
    author_date: Option<DateTime<chrono::FixedOffset>>,
}

/// A recall set's `*.queries.json`.
#[derive(Debug, Deserialize)]
struct SetQueries {
    queries: Vec<SetQuery>,
}

#[derive(Debug, Deserialize)]
struct SetQuery {
    query: String,
    targets: Vec<String>,
    kind: Option<String>,
}

impl Corpus {
    /// Parses a corpus and checks every relevant key exists.
    pub fn parse(json: &str, origin: &Path) -> Result<Self, MemoryError> {
        let corpus: Corpus = serde_json::from_str(json).map_err(|e| MemoryError::Fixture {
            path: origin.to_path_buf(),
            reason: e.to_string(),
        })?;
        corpus.checked(origin)
    }

    /// Reads a real history's recall set: commits (one JSON object a line: `sha`,
    /// `subject`, `body`, `files`, `author_date`) and questions naming target shas. Each
    /// commit becomes the memory `baton memory reindex` would make of it.
    pub fn from_recall_set(commits: &Path, queries: &Path) -> Result<Self, MemoryError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| MemoryError::Io {
                what: "reading recall set",
                path: path.to_path_buf(),
                source,
            })
        };
        let bad = |path: &Path, reason: String| MemoryError::Fixture {
            path: path.to_path_buf(),
            reason,
        };
        let mut memories = Vec::new();
        for (n, line) in read(commits)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let c: SetCommit = serde_json::from_str(line)
                .map_err(|e| bad(commits, format!("line {}: {e}", n + 1)))?;
            let message = if c.body.trim().is_empty() {
                c.subject.clone()
            } else {
                format!("{}\n\n{}", c.subject, c.body.trim())
            };
            memories.push(CorpusMemory {
                key: c.sha.clone(),
                kind: MemoryKind::Commit,
                project: "recall-set".into(),
                thread: String::new(),
                session: None,
                feature: None,
                text: crate::commit_text(&message, &c.files),
                commit: Some(c.sha),
                at: c.author_date.map(|d| d.with_timezone(&Utc)),
            });
        }
        let set: SetQueries =
            serde_json::from_str(&read(queries)?).map_err(|e| bad(queries, e.to_string()))?;
        let queries_list = set
            .queries
            .into_iter()
            .map(|q| CorpusQuery {
                query: q.query,
                relevant: q.targets,
                kind: q.kind,
            })
            .collect();
        Corpus {
            memories,
            queries: queries_list,
        }
        .checked(queries)
    }

    fn checked(self, origin: &Path) -> Result<Self, MemoryError> {
        let bad = |reason: String| MemoryError::Fixture {
            path: origin.to_path_buf(),
            reason,
        };
        let keys: HashSet<&str> = self.memories.iter().map(|m| m.key.as_str()).collect();
        if keys.len() != self.memories.len() {
            return Err(bad("duplicate memory keys".into()));
        }
        for q in &self.queries {
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
        Ok(self)
    }
}

/// The recall sets in `dir`: every `<name>.commits.jsonl` with a `<name>.queries.json`
/// beside it, sorted by name.
pub fn recall_sets_in(dir: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut sets: Vec<(String, PathBuf, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".commits.jsonl")?.to_owned();
            let queries = dir.join(format!("{stem}.queries.json"));
            queries.is_file().then(|| (stem, e.path(), queries))
        })
        .collect();
    sets.sort();
    sets
}

/// Which corpus to measure.
#[derive(Debug, Clone)]
pub enum CorpusSource {
    /// [`BUILTIN_CORPUS`].
    Builtin,
    /// A corpus file in the built-in format.
    File(PathBuf),
    /// A recall set: commits and queries.
    RecallSet {
        /// `*.commits.jsonl`.
        commits: PathBuf,
        /// `*.queries.json`.
        queries: PathBuf,
    },
}

/// Where to measure.
#[derive(Debug, Clone)]
pub struct QualityOptions {
    /// The corpus.
    pub corpus: CorpusSource,
    /// Scratch folder for the store (emptied first).
    pub dir: PathBuf,
    /// Model location.
    pub embedder: EmbedderOptions,
}

/// One ranking's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// Share of queries with an answer in the top 5.
    pub recall_at_5: f64,
    /// Mean reciprocal rank of the first answer within the top 10 (0 when none).
    pub mrr_at_10: f64,
    /// recall@5 per kind of question: `found/asked`.
    pub by_kind: BTreeMap<String, String>,
}

/// Dense, BM25 and the default side by side.
#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    /// What was measured.
    pub corpus: String,
    /// Memories stored.
    pub memories: usize,
    /// Queries asked.
    pub queries: usize,
    /// MiniLM only.
    pub dense: Score,
    /// BM25 only.
    pub bm25: Score,
    /// baton's default ranking ([`FusionRule::DEFAULT`]).
    pub default: Score,
    /// Every fusion rule tried.
    pub rules_tried: Vec<RuleScore>,
    /// Queries the default ranking missed (no answer in the top 5).
    pub default_misses: Vec<String>,
}

/// The figures of one fusion rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleScore {
    /// The rule.
    pub rule: FusionRule,
    /// Its recall@5.
    pub recall_at_5: f64,
    /// Its MRR@10.
    pub mrr_at_10: f64,
}

/// Rules compared against the default (the default is among them).
pub const RULES_TRIED: [FusionRule; 15] = [
    FusionRule::Rrf {
        k: 60.0,
        bm25_weight: 1.0,
    },
    FusionRule::Rrf {
        k: 10.0,
        bm25_weight: 1.0,
    },
    FusionRule::Rrf {
        k: 10.0,
        bm25_weight: 0.5,
    },
    FusionRule::Convex { bm25_share: 0.2 },
    FusionRule::Convex { bm25_share: 0.3 },
    FusionRule::Rerank { bm25_share: 0.2 },
    FusionRule::Rerank { bm25_share: 0.3 },
    FusionRule::FullMatch { bm25_share: 0.3 },
    FusionRule::TermWeightedRrf {
        k: 10.0,
        min_terms: 2.0,
        full_terms: 8.0,
    },
    FusionRule::TermWeightedRrf {
        k: 10.0,
        min_terms: 2.0,
        full_terms: 14.0,
    },
    FusionRule::DEFAULT,
    FusionRule::TermWeightedRrf {
        k: 30.0,
        min_terms: 2.0,
        full_terms: 14.0,
    },
    FusionRule::TermWeightedConvex {
        bm25_share: 0.3,
        min_terms: 2.0,
        full_terms: 14.0,
    },
    FusionRule::TermWeightedConvex {
        bm25_share: 0.4,
        min_terms: 2.0,
        full_terms: 14.0,
    },
    FusionRule::TermWeightedConvex {
        bm25_share: 0.5,
        min_terms: 2.0,
        full_terms: 14.0,
    },
];

/// Loads the corpus and the model, stores the corpus in a fresh embedded store under
/// `opts.dir`, measures.
pub async fn recall_quality(opts: QualityOptions) -> Result<QualityReport, MemoryError> {
    let (corpus, name) = match &opts.corpus {
        CorpusSource::Builtin => (
            Corpus::parse(BUILTIN_CORPUS, Path::new("<builtin recall_corpus.json>"))?,
            "builtin recall_corpus.json".to_owned(),
        ),
        CorpusSource::File(path) => {
            let json = std::fs::read_to_string(path).map_err(|source| MemoryError::Io {
                what: "reading quality corpus",
                path: path.clone(),
                source,
            })?;
            (Corpus::parse(&json, path)?, path.display().to_string())
        }
        CorpusSource::RecallSet { commits, queries } => (
            Corpus::from_recall_set(commits, queries)?,
            commits.display().to_string(),
        ),
    };
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
    let store_dir = dir.clone();
    let store = tokio::task::spawn_blocking(move || EdgeStore::open(&store_dir, dim)).await??;
    let memory = Memory::with_parts(Arc::new(embedder), Arc::new(store));
    let mut report = measure(&memory, &corpus).await?;
    report.corpus = name;
    drop(memory);
    // The scratch store is the benchmark's own; a failure to remove it is not the result's.
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report)
}

/// Stores `corpus` in `memory` (which should be empty) and measures every ranking.
pub async fn measure(memory: &Memory, corpus: &Corpus) -> Result<QualityReport, MemoryError> {
    let fixed = Utc
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
            at: m.at.unwrap_or(fixed),
        })
        .collect();
    let key_of: HashMap<String, String> = records
        .iter()
        .zip(&corpus.memories)
        .map(|(r, m)| (r.point_id().to_string(), m.key.clone()))
        .collect();
    memory.remember(records).await?;
    let scorer = Scorer {
        memory,
        corpus,
        key_of: &key_of,
    };
    let (dense, _) = scorer.score(RecallMode::Dense, None).await?;
    let (bm25, _) = scorer.score(RecallMode::Bm25, None).await?;
    let (default, default_misses) = scorer
        .score(RecallMode::Fused, Some(FusionRule::DEFAULT))
        .await?;
    let mut rules_tried = Vec::new();
    for rule in RULES_TRIED {
        let (score, _) = scorer.score(RecallMode::Fused, Some(rule)).await?;
        rules_tried.push(RuleScore {
            rule,
            recall_at_5: score.recall_at_5,
            mrr_at_10: score.mrr_at_10,
        });
    }
    Ok(QualityReport {
        corpus: String::new(),
        memories: corpus.memories.len(),
        queries: corpus.queries.len(),
        dense,
        bm25,
        default,
        rules_tried,
        default_misses,
    })
}

struct Scorer<'a> {
    memory: &'a Memory,
    corpus: &'a Corpus,
    key_of: &'a HashMap<String, String>,
}

impl Scorer<'_> {
    /// The figures of one ranking and the queries it missed.
    async fn score(
        &self,
        mode: RecallMode,
        rule: Option<FusionRule>,
    ) -> Result<(Score, Vec<String>), MemoryError> {
        let mut found = 0_u32;
        let mut reciprocal = 0.0;
        let mut kinds: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        let mut misses = Vec::new();
        for q in &self.corpus.queries {
            let hits = self
                .memory
                .recall_ranked(&q.query, &RecallFilter::default(), MRR_DEPTH, mode, rule)
                .await?;
            let first = hits.iter().position(|h| {
                self.key_of
                    .get(&h.id)
                    .is_some_and(|k| q.relevant.contains(k))
            });
            let answered = first.is_some_and(|rank| rank < K);
            if let Some(rank) = first {
                reciprocal += 1.0 / (rank as f64 + 1.0);
            }
            let kind = kinds
                .entry(q.kind.clone().unwrap_or_else(|| "any".into()))
                .or_default();
            kind.1 += 1;
            if answered {
                found += 1;
                kind.0 += 1;
            } else {
                misses.push(q.query.clone());
            }
        }
        let asked = self.corpus.queries.len().max(1) as f64;
        Ok((
            Score {
                recall_at_5: round3(f64::from(found) / asked),
                mrr_at_10: round3(reciprocal / asked),
                by_kind: kinds
                    .into_iter()
                    .map(|(k, (f, a))| (k, format!("{f}/{a}")))
                    .collect(),
            },
            misses,
        ))
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
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
