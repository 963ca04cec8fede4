//! `baton recall` and `baton memory stats|reindex|migrate`.

use anyhow::Context as _;

use baton_memory::{MemoryKind, RecallFilter};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::ExitCode;
use crate::cli::{MemoryCommand, MigrateArgs, ProjectJsonArgs, RecallArgs};
use crate::config::Settings;
use crate::error::HarnessError;
use crate::memory::{MemoryHandle, format_judged, recall_on_line};
use crate::timeline::{Timeline, Visibility};

fn parse_since(text: &str) -> Result<DateTime<Utc>, HarnessError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .ok_or_else(|| {
            HarnessError::BadInput(format!(
                "--since {text}: expected a date (2026-11-21) or an RFC 3339 time"
            ))
        })
}

pub async fn recall(args: RecallArgs) -> anyhow::Result<ExitCode> {
    if args.query.trim().is_empty() {
        return Err(HarnessError::BadInput(
            "the query is empty: say what you are looking for, e.g. baton recall \"why did login break\"".to_owned(),
        )
        .into());
    }
    let kinds = args
        .kind
        .iter()
        .map(|k| {
            k.parse::<MemoryKind>()
                .map_err(|e| HarnessError::BadInput(format!("--kind {k}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    // What is true where the recall is asked: a thread's line, or the folder's threads.
    let mut timeline = match &args.thread {
        Some(thread) => Timeline::for_thread(&args.project, thread)?,
        None => Timeline::for_folder(&args.project)?,
    };
    let handle = MemoryHandle::open_configured(&args.project).await?;
    let filter = RecallFilter {
        project: Some(handle.project.clone()),
        kinds,
        feature: args.feature.clone(),
        since,
        ..RecallFilter::default()
    };
    let memory = handle.memory().context("memory is not open")?;
    let started = std::time::Instant::now();
    let hits = recall_on_line(
        &memory,
        &args.query,
        &filter,
        args.limit,
        &mut timeline,
        args.all_branches,
    )
    .await?;
    tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "recalled");
    if args.json {
        let hits = hits
            .iter()
            .map(|(hit, visibility)| {
                let mut value = serde_json::to_value(hit)?;
                if let Visibility::Hidden(label) = visibility {
                    value["hidden"] = serde_json::Value::from(label.clone());
                }
                Ok(value)
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else if hits.is_empty() {
        println!("no memories match");
    } else {
        for (i, (hit, visibility)) in hits.iter().enumerate() {
            println!(
                "{}. {:.3} {}",
                i + 1,
                hit.score,
                format_judged(hit, visibility)
            );
        }
    }
    Ok(ExitCode::Ok)
}

pub async fn memory(command: MemoryCommand) -> anyhow::Result<ExitCode> {
    match command {
        MemoryCommand::Stats(args) => stats(&args).await,
        MemoryCommand::Reindex(args) => reindex(&args).await,
        MemoryCommand::Migrate(args) => migrate(&args).await,
    }
}

async fn stats(args: &ProjectJsonArgs) -> anyhow::Result<ExitCode> {
    let handle = MemoryHandle::open_configured(&args.project).await?;
    let stats = handle
        .memory()
        .context("memory is not open")?
        .stats_of(&RecallFilter {
            project: Some(handle.project.clone()),
            ..RecallFilter::default()
        })
        .await?;
    if args.json {
        let mut value = serde_json::to_value(&stats)?;
        value["project"] = serde_json::Value::from(handle.project.clone());
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "memories   {} ({} model, {} dims, {} store)",
            stats.total, stats.model, stats.dim, stats.backend
        );
        println!("project    {}", handle.project);
        for (kind, count) in &stats.by_kind {
            println!("  {kind:<13} {count}");
        }
    }
    Ok(ExitCode::Ok)
}

/// `baton memory reindex`: rebuilds memory from what the project holds (`memory_index`).
async fn reindex(args: &ProjectJsonArgs) -> anyhow::Result<ExitCode> {
    let done = crate::memory_index::reindex_project(&args.project, true).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        println!(
            "reindexed {} memories ({} commits) from git log, progress notes and tapes in {:.1} s ({:.0} commits/s)",
            done.memories, done.commits, done.seconds, done.commits_per_s
        );
    }
    Ok(ExitCode::Ok)
}

/// Copies the embedded store to a Qdrant server and points the project's baton.toml at it.
async fn migrate(args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let collection = Settings::for_project(&args.project)?.qdrant_collection;
    let local = MemoryHandle::open(&args.project, None, None, &collection).await?;
    let remote = MemoryHandle::open(
        &args.project,
        Some(&args.to),
        args.api_key.as_deref(),
        &collection,
    )
    .await?;
    let (Some(local), Some(remote)) = (local.memory(), remote.memory()) else {
        anyhow::bail!("memory is not open");
    };
    let copied = local.copy_to(&remote).await?;
    let path = args.project.join(crate::config::PROJECT_CONFIG);
    let mut table: toml::Table = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| HarnessError::BadConfig {
            path: path.clone(),
            detail: e.to_string(),
        })?,
        Err(_) => toml::Table::new(),
    };
    let memory = table
        .entry("memory")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(memory) = memory {
        memory.insert(
            "qdrant_url".to_owned(),
            toml::Value::String(args.to.clone()),
        );
    }
    std::fs::write(&path, toml::to_string(&table)?).map_err(|e| HarnessError::io(&path, e))?;
    println!(
        "copied {copied} memories to {}; {} now points baton at it (set QDRANT_API_KEY if it needs one)",
        args.to,
        path.display()
    );
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_and_rejects_nonsense() {
        assert!(parse_since("2026-11-21").is_ok());
        assert!(parse_since("2026-11-21T10:00:00Z").is_ok());
        assert!(parse_since("last tuesday").is_err());
    }
}
