//! Tracing subscriber for the binary: `-v` raises the level, `RUST_LOG` overrides it.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, writing to stderr so stdout stays parseable (`--json`).
pub fn init(verbosity: u8) {
    // headless_chrome warns about its own event plumbing when a tab closes, and the embedded
    // Qdrant about process-wide flags it defaults itself: noise for users.
    let default = match verbosity {
        0 => "warn,headless_chrome=error,qdrant_edge=error",
        1 => "info,headless_chrome=error,qdrant_edge=error",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
