//! BM25 term vectors, computed on the client with Qdrant's own tokenizer pipeline
//! (English stopwords, Snowball stemming, hashed term ids) so the embedded store and
//! a Qdrant server index exactly the same terms; IDF is applied by the engine.

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;

use crate::store::SparseVector;

/// Typical length, in tokens after stopwords, of a commit message or progress note;
/// BM25 normalises term frequency against it.
const AVERAGE_MEMORY_TOKENS: f64 = 24.0;

/// Encodes documents and queries as BM25 sparse vectors.
pub struct Bm25Encoder {
    // None only if qdrant-edge refused both configurations below; recall then runs on
    // dense vectors alone rather than failing.
    model: Option<EdgeBm25>,
}

impl Bm25Encoder {
    /// English BM25 with k1 = 1.2, b = 0.75, average length tuned to short memories.
    pub fn new() -> Self {
        let tuned = NotNan::new(AVERAGE_MEMORY_TOKENS)
            .ok()
            .map(|avg_len| EdgeBm25Config {
                avg_len,
                ..EdgeBm25Config::default()
            });
        let model = tuned
            .into_iter()
            .chain([EdgeBm25Config::default()])
            .find_map(|config| EdgeBm25::new(config).ok());
        if model.is_none() {
            tracing::error!(
                "qdrant-edge refused its BM25 configuration; recall uses dense vectors only"
            );
        }
        Self { model }
    }

    /// Term weights of a stored text.
    pub fn document(&self, text: &str) -> SparseVector {
        self.model.as_ref().map_or_else(SparseVector::default, |m| {
            let v = m.embed_document(text);
            SparseVector {
                indices: v.indices,
                values: v.values,
            }
        })
    }

    /// Terms of a query (weight 1 each; IDF comes from the store).
    pub fn query(&self, text: &str) -> SparseVector {
        self.model.as_ref().map_or_else(SparseVector::default, |m| {
            let v = m.embed_query(text);
            SparseVector {
                indices: v.indices,
                values: v.values,
            }
        })
    }
}

impl Default for Bm25Encoder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemming_and_stopwords_make_variants_share_terms() {
        let bm25 = Bm25Encoder::new();
        let doc = bm25.document("Persisted the todos to localStorage");
        let query = bm25.query("where are todos persisting");
        let shared = query
            .indices
            .iter()
            .filter(|i| doc.indices.contains(i))
            .count();
        assert_eq!(
            shared, 2,
            "todos and persist should match: {doc:?} {query:?}"
        );
    }

    #[test]
    fn a_text_of_stopwords_has_no_terms() {
        assert!(Bm25Encoder::new().query("the and of it").indices.is_empty());
    }
}
