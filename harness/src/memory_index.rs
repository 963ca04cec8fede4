//! Rebuilding a project's memories from what the project itself holds: every commit of its
//! git history, the sections of its progress notes and the failures, regressions and human
//! instructions on its thread tapes. Used by `baton memory reindex`, by the rebuild after the
//! store was deleted under a running thread (`memory_repair`) and by `baton bench memory`.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;
use baton_memory::{MemoryKind, MemoryRecord, RecallFilter};
use baton_tape::{Tape, ThreadPaths};
use chrono::{TimeZone, Utc};

use crate::events::Event;
use crate::memory::MemoryHandle;

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

/// Reindexes `project`: everything is read before the old memories are dropped, so a
/// history or tape that cannot be read leaves the memory as it was. A progress bar goes to
/// stderr when `progress` is set (drawn only on a terminal: indicatif hides it otherwise).
pub(crate) async fn reindex_project(project: &Path, progress: bool) -> anyhow::Result<Reindexed> {
    let started = std::time::Instant::now();
    let handle = MemoryHandle::open_configured(project).await?;
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
}
