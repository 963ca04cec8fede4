//! `baton recall` and `baton memory stats|reindex|migrate`.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;

use baton_memory::{MemoryKind, MemoryRecord, RecallFilter};
use baton_tape::{Tape, ThreadPaths};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::ExitCode;
use crate::cli::{MemoryCommand, MigrateArgs, ProjectJsonArgs, RecallArgs};
use crate::config::Settings;
use crate::error::HarnessError;
use crate::events::Event;
use crate::memory::{MemoryHandle, format_judged, recall_on_line};
use crate::timeline::{Timeline, Visibility};

/// Opens the project's memory where its settings say: a Qdrant server (`QDRANT_URL` /
/// `memory.qdrant_url`) or the embedded store.
async fn open(project: &Path) -> Result<MemoryHandle, HarnessError> {
    let settings = Settings::for_project(project)?;
    MemoryHandle::open(
        project,
        settings.qdrant_url.as_deref(),
        settings.qdrant_api_key.as_deref(),
        &settings.qdrant_collection,
    )
    .await
}

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
    let handle = open(&args.project).await?;
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
    let handle = open(&args.project).await?;
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

/// Rebuilds memory from what the project holds: its git log, its progress notes, its tapes.
/// Everything is read before the old memories are dropped, so a history or tape that cannot
/// be read leaves the memory as it was.
async fn reindex(args: &ProjectJsonArgs) -> anyhow::Result<ExitCode> {
    let done = reindex_project(&args.project, true).await?;
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

/// What a reindex did.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Reindexed {
    /// Distinct memories written.
    pub memories: usize,
    /// Of which commits.
    pub commits: usize,
    /// Wall time, from opening the memory to the last write.
    pub seconds: f64,
    /// `commits / seconds`.
    pub commits_per_s: f64,
}

/// Reindexes `project`, with a progress bar on stderr when `progress` is set (drawn only
/// on a terminal: indicatif hides it otherwise).
pub(crate) async fn reindex_project(project: &Path, progress: bool) -> anyhow::Result<Reindexed> {
    let started = std::time::Instant::now();
    let handle = open(project).await?;
    let records = reindex_records(&handle, project)?;
    let commits = records
        .iter()
        .filter(|r| r.kind == MemoryKind::Commit)
        .count();
    let memory = handle.memory().context("memory is not open")?;
    // Only this project's memories: a shared server holds other projects' too.
    memory
        .forget(&RecallFilter {
            project: Some(handle.project.clone()),
            ..RecallFilter::default()
        })
        .await?;
    let target = if progress {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let bar = indicatif::ProgressBar::with_draw_target(Some(records.len() as u64), target)
        .with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} memories, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        )
        .with_message("reindexing");
    let memories = memory
        .remember_with_progress(records, &|done| bar.set_position(done as u64))
        .await?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Reindexed {
        memories,
        commits,
        seconds,
        commits_per_s: commits as f64 / seconds.max(1e-9),
    })
}

/// Every memory the project's git log, progress notes and tapes hold, for a rebuild.
pub(crate) fn reindex_records(
    handle: &MemoryHandle,
    project: &Path,
) -> anyhow::Result<Vec<MemoryRecord>> {
    let feature_ids = known_feature_ids(project);
    let mut records = Vec::new();
    let repo = crate::project::ensure_repo(project)?;
    for commit in crate::project::all_commits(&repo)? {
        let (thread, session) = session_of(&commit.message);
        let mut record = handle.record(
            MemoryKind::Commit,
            &thread,
            crate::memory::commit_text(&strip_trailer(&commit.message), &commit.files),
        );
        record.commit = Some(commit.sha.clone());
        record.session = session;
        record.feature = feature_of(&commit.message, &feature_ids);
        record.at = Utc
            .timestamp_opt(commit.time, 0)
            .single()
            .unwrap_or_else(Utc::now);
        records.push(record);
    }
    records.extend(progress_records(handle, project));
    for thread in baton_tape::list_threads(project)? {
        records.extend(tape_records(handle, project, &thread));
    }
    Ok(records)
}

/// The ids in the project's feature list (none when it has no readable one).
fn known_feature_ids(project: &Path) -> HashSet<String> {
    baton_verify::FeatureList::load(&project.join(crate::feature_guard::FEATURE_LIST))
        .map(|list| list.features.into_iter().map(|f| f.id).collect())
        .unwrap_or_default()
}

fn progress_records(handle: &MemoryHandle, project: &Path) -> Vec<MemoryRecord> {
    let Ok(text) = std::fs::read_to_string(project.join(crate::progress::PROGRESS_FILE)) else {
        return Vec::new();
    };
    text.split("\n## ")
        .skip(1)
        .filter_map(|section| {
            let (title, body) = section.split_once('\n')?;
            let session = title
                .strip_prefix("Session ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok());
            let mut record = handle.record(MemoryKind::Progress, "", body.trim().to_owned());
            record.session = session;
            record.file = Some(crate::progress::PROGRESS_FILE.to_owned());
            Some(record)
        })
        .collect()
}

fn tape_records(
    handle: &MemoryHandle,
    project: &Path,
    thread: &baton_tape::ThreadId,
) -> Vec<MemoryRecord> {
    let paths = ThreadPaths::new(project, thread);
    let Ok((tape, _)) = Tape::<Event>::open(&paths.tape) else {
        return Vec::new();
    };
    let thread = thread.to_string();
    tape.records()
        .iter()
        .filter_map(|record| {
            let step = record.step.0;
            let (seq, at) = (record.seq.0, record.at);
            let event = record.event()?;
            let (kind, text, feature) = match event {
                Event::ToolResult {
                    name,
                    arguments,
                    ok: false,
                    content,
                    ..
                } => (
                    MemoryKind::Error,
                    format!("{name} {arguments} failed: {content}"),
                    None,
                ),
                Event::Verification {
                    feature,
                    failure: Some(failure),
                    ..
                } => (
                    MemoryKind::Verification,
                    format!("{feature}: {failure}"),
                    Some(feature.clone()),
                ),
                Event::Regression { feature, failure } => (
                    MemoryKind::Error,
                    format!("regression: {feature} passed before and now fails: {failure}"),
                    Some(feature.clone()),
                ),
                Event::HumanEdit {
                    instruction: Some(text),
                    ..
                } => (MemoryKind::Instruction, text.clone(), None),
                _ => return None,
            };
            let mut record = handle.record(kind, &thread, text);
            record.step = Some(step);
            record.tape_seq = Some(seq);
            record.at = at;
            record.feature = feature;
            Some(record)
        })
        .collect()
}

/// The thread and session a commit's `Baton-Session:` trailer names.
fn session_of(message: &str) -> (String, Option<u32>) {
    message
        .lines()
        .find_map(|line| line.strip_prefix("Baton-Session: "))
        .and_then(|rest| rest.trim().rsplit_once('/'))
        .map_or_else(
            || (String::new(), None),
            |(thread, session)| (thread.to_owned(), session.parse().ok()),
        )
}

fn strip_trailer(message: &str) -> String {
    message
        .lines()
        .filter(|line| {
            !line.starts_with("Baton-Session: ")
                && !line.starts_with(crate::project_id::PROJECT_TRAILER)
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// `feat(add-todo): ...` → `add-todo`, when `add-todo` is a feature of the project: other
/// histories use the same form for scopes (`chore(deps): ...`) that name no feature.
fn feature_of(message: &str, feature_ids: &HashSet<String>) -> Option<String> {
    let subject = message.lines().next()?;
    let open = subject.find('(')?;
    let close = subject[open..].find(')')? + open;
    let scope = &subject[open + 1..close];
    feature_ids.contains(scope).then(|| scope.to_owned())
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
    fn commit_messages_give_their_session_and_feature() {
        let message = "feat(add-todo): Add a todo\n\nDid it.\n\nBaton-Session: demo/2\nBaton-Project: 1d7e44a2-9c3b-4f08-b5e6-27c19a0d83f4\n";
        assert_eq!(session_of(message), ("demo".to_owned(), Some(2)));
        let features = HashSet::from(["add-todo".to_owned()]);
        assert_eq!(feature_of(message, &features).as_deref(), Some("add-todo"));
        assert_eq!(feature_of("chore(deps): bump serde", &features), None);
        assert_eq!(feature_of(message, &HashSet::new()), None);
        assert_eq!(
            strip_trailer(message),
            "feat(add-todo): Add a todo\n\nDid it."
        );
    }

    #[test]
    fn since_accepts_dates_and_rejects_nonsense() {
        assert!(parse_since("2026-11-21").is_ok());
        assert!(parse_since("2026-11-21T10:00:00Z").is_ok());
        assert!(parse_since("last tuesday").is_err());
    }
}
