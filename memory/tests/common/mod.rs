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

/// The Qdrant server to test against: `BATON_TEST_QDRANT_URL` (what scripts/test.sh sets
/// after starting ../shared/qdrant, a name the other tests' baton processes do not read),
/// else `QDRANT_URL`. `None` (after a loud message) when neither is set and
/// BATON_REQUIRE_QDRANT is unset; CI sets it, so there a missing server fails.
pub fn qdrant_url() -> Option<String> {
    if let Some(url) = ["BATON_TEST_QDRANT_URL", "QDRANT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
    {
        return Some(url);
    }
    assert!(
        std::env::var_os("BATON_REQUIRE_QDRANT").is_none(),
        "BATON_REQUIRE_QDRANT is set but no server is: run `bash scripts/test.sh` (it starts ../shared/qdrant), or start one with `bash ../shared/qdrant/start.sh` and export BATON_TEST_QDRANT_URL"
    );
    eprintln!(
        "\n*** SKIPPING server test: no Qdrant server (BATON_TEST_QDRANT_URL / QDRANT_URL); scripts/test.sh starts ../shared/qdrant when it is there ***\n"
    );
    None
}

/// A collection name no other test run uses.
pub fn fresh_collection(what: &str) -> String {
    format!("baton-test-{what}-{}", uuid::Uuid::new_v4())
}
