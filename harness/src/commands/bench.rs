//! `baton bench ...`: benchmarks that print figures (never timed assertions). Each prints a
//! human table, or JSON with `--json`.

use std::path::PathBuf;

use baton_memory::bench::{CorpusSource, QualityOptions, QualityReport};

use serde::Serialize;

use super::ExitCode;
use crate::cli::BenchCommand;
use crate::error::HarnessError;

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
            let store = baton_memory::bench::run(baton_memory::bench::MemoryBenchOptions {
                n,
                server,
                ..baton_memory::bench::MemoryBenchOptions::default()
            })
            .await?;
            // The harness's figures join the store's at the top level, so readers of the
            // store's figures find them where they were.
            let mut report = serde_json::to_value(&store)?;
            report["reindex_and_recall_cli"] =
                serde_json::to_value(crate::bench::memory::measure(&default_recall_data()).await?)?;
            print(&report, json)
        }
        BenchCommand::RecallQuality {
            corpus,
            queries,
            recall_data,
            json,
        } => {
            let reports = Box::pin(recall_quality(corpus, queries, recall_data)).await?;
            if json {
                return print(&reports, true);
            }
            for report in &reports {
                print_quality(report);
            }
            Ok(ExitCode::Ok)
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

/// The corpora `baton bench recall-quality` measures: the one named, else the built-in
/// corpus and every recall set found.
async fn recall_quality(
    corpus: Option<PathBuf>,
    queries: Option<PathBuf>,
    recall_data: Option<PathBuf>,
) -> anyhow::Result<Vec<QualityReport>> {
    let sources = match (corpus, queries) {
        (Some(commits), Some(queries)) => vec![CorpusSource::RecallSet { commits, queries }],
        (Some(corpus), None) if corpus.to_string_lossy().ends_with(".jsonl") => {
            return Err(HarnessError::BadInput(format!(
                "{} is a recall set's commits; name its questions too: --queries <name>.queries.json",
                corpus.display()
            ))
            .into());
        }
        (Some(corpus), None) => vec![CorpusSource::File(corpus)],
        (None, _) => {
            let folder = recall_data.unwrap_or_else(default_recall_data);
            let mut sources = vec![CorpusSource::Builtin];
            let sets = baton_memory::bench::recall_sets_in(&folder);
            if sets.is_empty() {
                eprintln!(
                    "no recall sets in {} (<name>.commits.jsonl + <name>.queries.json); measuring the built-in corpus only",
                    folder.display()
                );
            }
            sources.extend(
                sets.into_iter()
                    .map(|(_, commits, queries)| CorpusSource::RecallSet { commits, queries }),
            );
            sources
        }
    };
    let mut reports = Vec::new();
    for corpus in sources {
        reports.push(
            baton_memory::bench::recall_quality(QualityOptions {
                corpus,
                dir: std::env::temp_dir().join(format!("baton-quality-{}", std::process::id())),
                embedder: baton_memory::EmbedderOptions::default(),
            })
            .await?,
        );
    }
    Ok(reports)
}

/// One corpus's rankings side by side.
fn print_quality(report: &QualityReport) {
    println!(
        "{} ({} memories, {} queries)",
        report.corpus, report.memories, report.queries
    );
    println!(
        "  {:<10} {:>9} {:>7}  recall@5 by kind",
        "ranking", "recall@5", "MRR@10"
    );
    for (name, score) in [
        ("dense", &report.dense),
        ("bm25", &report.bm25),
        ("default", &report.default),
    ] {
        let kinds: Vec<String> = score
            .by_kind
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "  {name:<10} {:>9.3} {:>7.3}  {}",
            score.recall_at_5,
            score.mrr_at_10,
            kinds.join(", ")
        );
    }
    println!();
}

/// `BATON_RECALL_DATA`, else `../shared/data/recall` beside the repository holding the
/// current folder (the layout of the development machines and CI), else beside the
/// current folder.
fn default_recall_data() -> PathBuf {
    if let Some(folder) = crate::env_vars::get(crate::env_vars::RECALL_DATA) {
        return PathBuf::from(folder);
    }
    let here = std::env::current_dir().unwrap_or_default();
    here.ancestors()
        .map(|dir| dir.join("../shared/data/recall"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| here.join("../shared/data/recall"))
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
