//! Prints the memory benchmark as JSON: `cargo run --release -p baton-memory --example memory_bench -- [--n N] [--queries Q] [--dir DIR] [--quality]`.
//! With `--quality` it prints the recall-quality report instead.

use std::process::ExitCode;

use baton_memory::bench::{self, MemoryBenchOptions, QualityOptions};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Prints info-and-above events to stderr, one line each (no dependency on a
/// subscriber crate, whose features would rebuild the engine in release).
struct StderrInfo;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for StderrInfo {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::INFO
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(format!("{:?}", std::time::SystemTime::now()));
        event.record(&mut line);
        eprintln!("{}", line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::main]
async fn main() -> ExitCode {
    // Progress (each figure as soon as it is measured) goes to stderr.
    if tracing::subscriber::set_global_default(StderrInfo).is_err() {
        eprintln!("progress messages are off: a tracing subscriber is already set");
    }
    match run().await {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<String, String> {
    let mut opts = MemoryBenchOptions::default();
    let mut quality = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--n" => {
                opts.n = value("--n")?.parse().map_err(|e| format!("--n: {e}"))?;
            }
            "--queries" => {
                opts.queries = value("--queries")?
                    .parse()
                    .map_err(|e| format!("--queries: {e}"))?;
            }
            "--dir" => opts.dir = value("--dir")?.into(),
            "--quality" => quality = true,
            other => {
                return Err(format!(
                    "unknown argument {other}; use --n, --queries, --dir, --quality"
                ));
            }
        }
    }
    let json = if quality {
        let report = bench::recall_quality(QualityOptions {
            corpus: bench::CorpusSource::Builtin,
            dir: opts.dir.clone(),
            embedder: opts.embedder.clone(),
        })
        .await
        .map_err(|e| e.to_string())?;
        serde_json::to_string_pretty(&report)
    } else {
        serde_json::to_string_pretty(&bench::run(opts).await.map_err(|e| e.to_string())?)
    };
    json.map_err(|e| e.to_string())
}
