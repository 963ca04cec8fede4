//! Prints the memory benchmark as JSON: `cargo run --release -p baton-memory --example bench -- [--n N] [--queries Q] [--dir DIR] [--quality]`.
//! With `--quality` it prints the recall-quality report instead.

use std::process::ExitCode;

use baton_memory::bench::{self, MemoryBenchOptions, QualityOptions};

#[tokio::main]
async fn main() -> ExitCode {
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
            corpus: None,
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
