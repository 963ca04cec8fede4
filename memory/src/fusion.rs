//! Combining dense (meaning) and BM25 (exact words) results into one ranking.
//!
//! Two corpora decide the default (`baton bench recall-quality` prints both):
//! - the built-in one (`tests/fixtures/recall_corpus.json`: 210 short memories, 30
//!   short paraphrased queries, 2–7 words): dense recall@5 0.80, BM25 0.43. Every rule
//!   that lets BM25 count fully drags paraphrased targets down (RRF 0.60–0.70, convex
//!   combination 0.63–0.80).
//! - a real history (`../shared/data/recall`: 2,225 commits of a public repository, 40
//!   questions of 9–25 content words): dense 0.68, BM25 0.63, and the two find different
//!   targets: RRF of both reaches 0.80–0.83.
//!
//! How much BM25 can be trusted grows with how many terms the query gives it: two words
//! matched by a paraphrase are noise, fifteen words of a described symptom are evidence.
//! [`FusionRule::TermWeightedRrf`] weighs the BM25 list by the query's term count (none
//! at 2 terms, fully from 20) and is the default: recall@5 0.80 / MRR@10 0.534 on the
//! built-in corpus (dense 0.80 / 0.533), 0.80 / 0.611 on the real history (dense 0.70 /
//! 0.504). docs/ARCHITECTURE.md lists the rules tried and how the choice was made.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::ScoredPoint;

/// How recall ranks memories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecallMode {
    /// MiniLM cosine similarity only.
    Dense,
    /// BM25 on words only.
    Bm25,
    /// Both, fused by [`FusionRule::DEFAULT`].
    #[default]
    Fused,
}

/// A rule for fusing a dense and a BM25 result list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionRule {
    /// Weighted reciprocal rank fusion: `1/(k+rank_dense) + bm25_weight/(k+rank_bm25)`.
    Rrf {
        /// Rank offset (60 in the RRF paper).
        k: f32,
        /// Weight of the BM25 list relative to the dense list.
        bm25_weight: f32,
    },
    /// `(1-bm25_share)·cosine + bm25_share·bm25/max_bm25`; a candidate missing from
    /// the dense list gets the lowest cosine seen (its true cosine is no higher).
    Convex {
        /// Share of the normalised BM25 score, 0..1.
        bm25_share: f32,
    },
    /// [`FusionRule::Convex`] fed only with BM25 hits that contain every query term:
    /// exact-word evidence counts when it is complete, and a paraphrase that shares one
    /// word with an unrelated memory leaves the dense ranking alone.
    FullMatch {
        /// Share of the normalised BM25 score, 0..1.
        bm25_share: f32,
    },
    /// The same combination over the dense candidates only: BM25 reorders what the
    /// meaning search found but never brings in a text that only shares words.
    Rerank {
        /// Share of the normalised BM25 score, 0..1.
        bm25_share: f32,
    },
    /// [`FusionRule::Rrf`] whose BM25 weight grows with the query's BM25 terms: 0 up to
    /// `min_terms`, rising linearly to 1 at `full_terms`.
    TermWeightedRrf {
        /// Rank offset: small, so the first places of each list count most.
        k: f32,
        /// Up to this many terms BM25 does not count.
        min_terms: f32,
        /// From this many terms BM25 counts as much as the dense list.
        full_terms: f32,
    },
    /// [`FusionRule::Convex`] whose BM25 share is scaled by the same term-count weight.
    TermWeightedConvex {
        /// Share of the normalised BM25 score at full weight, 0..1.
        bm25_share: f32,
        /// Up to this many terms BM25 does not count.
        min_terms: f32,
        /// From this many terms BM25 has its full share.
        full_terms: f32,
    },
}

impl FusionRule {
    /// The rule [`RecallMode::Fused`] uses, chosen by `bench::recall_quality`.
    pub const DEFAULT: FusionRule = FusionRule::TermWeightedRrf {
        k: 10.0,
        min_terms: 2.0,
        full_terms: 20.0,
    };

    /// Results fetched from each list before fusing, for `limit` results wanted.
    pub fn candidates(self, limit: usize) -> usize {
        match self {
            // RRF needs the lists deep enough that a target ranked 30th in one list and
            // 5th in the other is seen in both.
            FusionRule::TermWeightedRrf { .. } | FusionRule::Rrf { .. } => (limit * 4).max(40),
            _ => (limit * 4).max(20),
        }
    }

    /// Whether the BM25 list must first be narrowed to hits containing every query term.
    pub fn needs_full_match(self) -> bool {
        matches!(self, FusionRule::FullMatch { .. })
    }

    /// Fuses two lists (best first) into at most `limit` ids with fused scores, best first.
    /// `query_terms` is the number of BM25 terms in the query.
    pub fn fuse(
        self,
        dense: &[ScoredPoint],
        bm25: &[ScoredPoint],
        query_terms: usize,
        limit: usize,
    ) -> Vec<(Uuid, f32)> {
        let mut scores: HashMap<Uuid, f32> = HashMap::new();
        let mut rrf = |k: f32, bm25_weight: f32| {
            for (weight, list) in [(1.0, dense), (bm25_weight, bm25)] {
                for (rank, p) in list.iter().enumerate() {
                    *scores.entry(p.id).or_default() += weight / (k + rank as f32 + 1.0);
                }
            }
        };
        match self {
            FusionRule::Rrf { k, bm25_weight } => rrf(k, bm25_weight),
            FusionRule::TermWeightedRrf {
                k,
                min_terms,
                full_terms,
            } => rrf(k, term_weight(query_terms, min_terms, full_terms)),
            FusionRule::Convex { .. }
            | FusionRule::FullMatch { .. }
            | FusionRule::TermWeightedConvex { .. } => {
                let bm25_share = match self {
                    FusionRule::TermWeightedConvex {
                        bm25_share,
                        min_terms,
                        full_terms,
                    } => bm25_share * term_weight(query_terms, min_terms, full_terms),
                    FusionRule::Convex { bm25_share } | FusionRule::FullMatch { bm25_share } => {
                        bm25_share
                    }
                    _ => 0.0,
                };
                let floor = dense.iter().map(|p| p.score).fold(f32::INFINITY, f32::min);
                let floor = if floor.is_finite() { floor } else { 0.0 };
                let max_bm25 = bm25.iter().map(|p| p.score).fold(0.0_f32, f32::max);
                for p in dense {
                    scores.insert(p.id, (1.0 - bm25_share) * p.score);
                }
                for p in bm25 {
                    let normalised = if max_bm25 > 0.0 {
                        p.score / max_bm25
                    } else {
                        0.0
                    };
                    *scores.entry(p.id).or_insert((1.0 - bm25_share) * floor) +=
                        bm25_share * normalised;
                }
            }
            FusionRule::Rerank { bm25_share } => {
                let max_bm25 = bm25.iter().map(|p| p.score).fold(0.0_f32, f32::max);
                let bm25_of: HashMap<Uuid, f32> = bm25.iter().map(|p| (p.id, p.score)).collect();
                for p in dense {
                    let normalised = match bm25_of.get(&p.id) {
                        Some(&b) if max_bm25 > 0.0 => b / max_bm25,
                        _ => 0.0,
                    };
                    scores.insert(p.id, (1.0 - bm25_share) * p.score + bm25_share * normalised);
                }
            }
        }
        let mut ranked: Vec<(Uuid, f32)> = scores.into_iter().collect();
        // Ties broken by id so a recall is deterministic.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked
    }
}

/// 0 up to `min_terms` query terms, rising linearly to 1 at `full_terms`.
fn term_weight(query_terms: usize, min_terms: f32, full_terms: f32) -> f32 {
    ((query_terms as f32 - min_terms) / (full_terms - min_terms).max(1.0)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[(u128, f32)]) -> Vec<ScoredPoint> {
        ids.iter()
            .map(|&(id, score)| ScoredPoint {
                id: Uuid::from_u128(id),
                score,
                payload: serde_json::Map::new(),
            })
            .collect()
    }

    #[test]
    fn rrf_rewards_agreement() {
        let dense = list(&[(1, 0.9), (2, 0.8), (3, 0.7)]);
        let bm25 = list(&[(4, 9.0), (2, 5.0)]);
        let fused = FusionRule::Rrf {
            k: 60.0,
            bm25_weight: 1.0,
        }
        .fuse(&dense, &bm25, 5, 3);
        assert_eq!(
            fused[0].0,
            Uuid::from_u128(2),
            "second in both lists beats first in one"
        );
    }

    #[test]
    fn convex_keeps_dense_order_unless_bm25_is_decisive() {
        let dense = list(&[(1, 0.60), (2, 0.58), (3, 0.30)]);
        let bm25 = list(&[(2, 10.0), (4, 9.0)]);
        let fused = FusionRule::Convex { bm25_share: 0.2 }.fuse(&dense, &bm25, 5, 4);
        let order: Vec<u128> = fused.iter().map(|(id, _)| id.as_u128()).collect();
        assert_eq!(
            order,
            vec![2, 1, 4, 3],
            "a near-tie is broken by words; a word-only hit ranks below close meanings"
        );
    }

    #[test]
    fn rerank_never_brings_in_word_only_hits() {
        let dense = list(&[(1, 0.60), (2, 0.58)]);
        let bm25 = list(&[(3, 10.0), (2, 5.0)]);
        let fused = FusionRule::Rerank { bm25_share: 0.2 }.fuse(&dense, &bm25, 5, 5);
        let order: Vec<u128> = fused.iter().map(|(id, _)| id.as_u128()).collect();
        assert_eq!(order, vec![2, 1]);
    }

    #[test]
    fn empty_lists_fuse_to_nothing() {
        assert!(FusionRule::DEFAULT.fuse(&[], &[], 9, 5).is_empty());
    }

    #[test]
    fn bm25_counts_only_for_queries_with_enough_terms() {
        let dense = list(&[(1, 0.6), (2, 0.5), (3, 0.4)]);
        let bm25 = list(&[(3, 9.0), (4, 8.0)]);
        let order = |terms| -> Vec<u128> {
            FusionRule::DEFAULT
                .fuse(&dense, &bm25, terms, 3)
                .iter()
                .map(|(id, _)| id.as_u128())
                .collect()
        };
        assert_eq!(order(2), vec![1, 2, 3], "two words: dense order");
        assert_eq!(order(20)[0], 3, "many words: found by both wins");
    }
}
