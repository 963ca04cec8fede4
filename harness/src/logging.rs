//! Tracing subscriber for the binary: `-v` raises the level, `RUST_LOG` overrides it.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, writing to stderr so stdout stays parseable (`--json`).
pub fn init(verbosity: u8) {
    let default = match verbosity {
        0 => "warn",
        1 => "info,baton=info",
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
