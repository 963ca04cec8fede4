//! Shared test helpers: the real model (or a loud skip) and the store conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod conformance;

use std::sync::{Arc, OnceLock};

use baton_memory::{EmbedderOptions, FastEmbedder, first_missing_file, resolve_model_dir};

/// The real model, loaded once per test binary; `None` (after a loud message) when the
/// model folder is absent and BATON_REQUIRE_MODEL is unset. CI sets it, so there a
/// missing model fails instead.
pub fn model() -> Option<Arc<FastEmbedder>> {
    static MODEL: OnceLock<Option<Arc<FastEmbedder>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = resolve_model_dir(&EmbedderOptions::default());
            if let Some(missing) = first_missing_file(&dir) {
                assert!(
                    std::env::var_os("BATON_REQUIRE_MODEL").is_none(),
                    "BATON_REQUIRE_MODEL is set but the model folder {} lacks {missing}; run `bash scripts/setup-model.sh`",
                    dir.display()
                );
                eprintln!(
                    "\n*** SKIPPING model test: no model at {} (missing {missing}). Run `bash scripts/setup-model.sh`; set BATON_REQUIRE_MODEL=1 to make this a failure. ***\n",
                    dir.display()
                );
                return None;
            }
            Some(Arc::new(FastEmbedder::load(EmbedderOptions::default()).expect("model loads")))
        })
        .clone()
}

/// The Qdrant server to test against (`QDRANT_URL`); `None` (after a loud message) when it
/// is unset and BATON_REQUIRE_QDRANT is unset. CI sets both (`.ci/run` starts the server),
/// so there a missing server fails instead of skipping.
pub fn qdrant_url() -> Option<String> {
    if let Ok(url) = std::env::var("QDRANT_URL") {
        return Some(url);
    }
    assert!(
        std::env::var_os("BATON_REQUIRE_QDRANT").is_none(),
        "BATON_REQUIRE_QDRANT is set but QDRANT_URL is not; start a server with `bash ../shared/qdrant/start.sh` and export the URL it prints"
    );
    eprintln!(
        "\n*** SKIPPING server test: QDRANT_URL is not set (scripts/test.sh starts ../shared/qdrant when it is there) ***\n"
    );
    None
}

/// A collection name no other test run uses.
pub fn fresh_collection(what: &str) -> String {
    format!("baton-test-{what}-{}", uuid::Uuid::new_v4())
}
