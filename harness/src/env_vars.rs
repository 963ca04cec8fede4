//! Every environment variable the harness reads, in one table. The command line wins over
//! them and they win over `baton.toml` (see `config`); clap reads the ones that have a flag.
//! The leaf crates read their own few (`BATON_MODEL_DIR` and `ORT_DYLIB_PATH` in memory,
//! `BATON_CHROMIUM` as the browser's fallback in verify).

/// The model name sent to the server (`--model`).
pub const MODEL: &str = "BATON_MODEL";
/// The OpenAI-compatible base URL (`--base-url`).
pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
/// The model server's API key (`--api-key`; never recorded).
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
/// A script served on 127.0.0.1 as the model (`--script`).
pub const SCRIPT: &str = "BATON_SCRIPT";
/// Sessions a thread may run in all (`--max-sessions`).
pub const MAX_SESSIONS: &str = "BATON_MAX_SESSIONS";
/// The workflow: a built-in name or a TOML file (`--workflow`).
pub const WORKFLOW: &str = "BATON_WORKFLOW";
/// A Qdrant server for memory instead of the embedded store (`memory.qdrant_url`).
pub const QDRANT_URL: &str = "QDRANT_URL";
/// The Qdrant server's API key.
pub const QDRANT_API_KEY: &str = "QDRANT_API_KEY";
/// The server collection memories go in (`memory.collection`).
pub const QDRANT_COLLECTION: &str = "QDRANT_COLLECTION";
/// The Chromium binary verification uses (`verify.chromium`).
pub const CHROMIUM: &str = "BATON_CHROMIUM";
/// Where `baton demo` finds its example projects (default: beside the binary, then the
/// repository's `examples/`).
pub const EXAMPLES: &str = "BATON_EXAMPLES";
/// The folder of real-history recall sets `baton bench memory` and `bench recall-quality`
/// measure (default: `../shared/data/recall` above the working folder).
#[cfg(feature = "bench")]
pub const RECALL_DATA: &str = "BATON_RECALL_DATA";
/// A crash point for the kill tests (`failpoint`).
pub const FAILPOINT: &str = "BATON_FAILPOINT";

/// The value of an environment variable, when it is set and valid unicode.
pub fn get(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
