//! `baton bench ...`: benchmarks that print figures (never timed assertions). Each prints a
//! human table, or JSON with `--json`.

use serde::Serialize;

use super::ExitCode;
use crate::cli::BenchCommand;

pub async fn bench(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::AgentLoop {
            steps,
            model_delay_ms,
            bash_calls,
            json,
        } => {
            let report = Box::pin(crate::bench::agent_loop::agent_loop(
                steps,
                model_delay_ms,
                bash_calls,
            ))
            .await?;
            print(&report, json)
        }
        BenchCommand::Tape { steps, json } => {
            let report = tokio::task::spawn_blocking(move || {
                baton_tape::bench::run(&baton_tape::bench::BenchOptions {
                    steps,
                    ..baton_tape::bench::BenchOptions::default()
                })
            })
            .await??;
            print(&report, json)
        }
        BenchCommand::Memory {
            n,
            backend,
            qdrant_url,
            qdrant_api_key,
            json,
        } => {
            let server = match (backend, qdrant_url) {
                (crate::cli::BenchBackend::Edge, _) => None,
                (crate::cli::BenchBackend::Server, Some(url)) => Some((url, qdrant_api_key)),
                (crate::cli::BenchBackend::Server, None) => {
                    return Err(crate::error::HarnessError::BadInput(
                        "--backend server needs a server: --qdrant-url URL or QDRANT_URL (e.g. the URL `bash ../shared/qdrant/start.sh` prints)".to_owned(),
                    )
                    .into());
                }
            };
            let report = baton_memory::bench::run(baton_memory::bench::MemoryBenchOptions {
                n,
                server,
                ..baton_memory::bench::MemoryBenchOptions::default()
            })
            .await?;
            print(&report, json)
        }
        BenchCommand::RecallQuality { json } => {
            let report = baton_memory::bench::recall_quality(baton_memory::bench::QualityOptions {
                corpus: None,
                dir: std::env::temp_dir().join(format!("baton-quality-{}", std::process::id())),
                embedder: baton_memory::EmbedderOptions::default(),
            })
            .await?;
            print(&report, json)
        }
        BenchCommand::Timeline { steps, json } => {
            let report =
                tokio::task::spawn_blocking(move || crate::bench::timeline::run(steps)).await??;
            print(&report, json)
        }
        BenchCommand::Web { steps, json } => {
            let report = crate::web::bench::run(steps).await?;
            print(&report, json)
        }
        BenchCommand::Tui { steps, json } => {
            let report = crate::tui::bench::run(steps).await?;
            print(&report, json)
        }
        BenchCommand::Verify { json } => {
            let report = tokio::task::spawn_blocking(|| {
                baton_verify::bench::run(
                    &baton_verify::bench::BenchOptions::default(),
                    &baton_verify::BrowserOptions::default(),
                )
            })
            .await??;
            print(&report, json)
        }
        BenchCommand::RealModel {
            base_url,
            model,
            api_key,
            probes,
            sessions,
            max_turns,
            context_limit,
            no_verify,
            json,
        } => {
            let report =
                crate::bench::real_model::real_model(crate::bench::real_model::RealModelOptions {
                    base_url,
                    model,
                    api_key,
                    probes,
                    sessions,
                    max_turns,
                    context_limit_tokens: context_limit,
                    verify: !no_verify,
                })
                .await?;
            print(&report, json)
        }
    }
}

fn print<T: Serialize>(report: &T, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        let value = serde_json::to_value(report)?;
        print_flat("", &value);
    }
    Ok(ExitCode::Ok)
}

/// Prints nested figures as `path.to.figure  value` lines.
fn print_flat(prefix: &str, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                print_flat(&path, inner);
            }
        }
        other => println!("{prefix:<48} {other}"),
    }
}
