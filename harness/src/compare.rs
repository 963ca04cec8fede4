//! Two threads side by side (`baton compare`, the dashboard's compare view): where their
//! lines diverge and what each did next, features, tokens, cost, wall time, commits, and the
//! file diff between their current trees.
//!
//! Threads are related through their tapes' headers (a fork names its parent and the step it
//! left it at); two forks of one thread, or a fork and its origin, meet in the nearest thread
//! both lines pass through. The trees are compared by blob id (git hashes content, so equal
//! files have equal ids across the project and a fork's own repository).

use std::collections::BTreeMap;
use std::path::Path;

use git2::{ObjectType, Repository, TreeWalkMode, TreeWalkResult};
use serde::Serialize;

use crate::error::HarnessError;
use crate::events::Event;
use crate::tui::{StepRow, ThreadData};

/// Everything `baton compare A B` reports.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub a: ThreadSide,
    pub b: ThreadSide,
    pub divergence: Divergence,
    /// Files that differ between A's tree and B's (A → B).
    pub files: Vec<FileChange>,
    /// Why the trees could not be compared, if they could not.
    pub files_error: Option<String>,
}

/// Where two threads' lines part.
#[derive(Debug, Serialize)]
pub struct Divergence {
    /// The thread both lines pass through (None: no common history).
    pub common: Option<String>,
    /// The last step they share there.
    pub step: Option<u64>,
}

/// One thread's figures.
#[derive(Debug, Serialize)]
pub struct ThreadSide {
    pub thread: String,
    pub status: String,
    /// The step of its head checkpoint.
    pub head_step: u64,
    pub features_passing: usize,
    pub features_total: usize,
    pub blocked: Vec<String>,
    pub tokens: u64,
    pub cost_usd: Option<f64>,
    /// From the thread's creation (a fork: from the fork) to its last record.
    pub wall_secs: f64,
    pub commits: usize,
    pub git_head: Option<String>,
    /// Its first step after the divergence.
    pub next: Option<NextStep>,
}

/// What a thread did first after the lines parted.
#[derive(Debug, Serialize)]
pub struct NextStep {
    pub step: u64,
    pub tools: Vec<String>,
    pub outcome: String,
    /// The start of what the model said, if it said anything.
    pub said: Option<String>,
}

/// One file that differs between the two trees.
#[derive(Debug, Serialize)]
pub struct FileChange {
    pub path: String,
    /// `added` (only in B), `deleted` (only in A) or `modified`.
    pub status: &'static str,
    pub additions: usize,
    pub deletions: usize,
}

/// Compares threads `a` and `b` of `project` (either may be a fork or a replay).
pub fn compare(project: &Path, a: &str, b: &str) -> Result<Comparison, HarnessError> {
    if a == b {
        return Err(HarnessError::BadInput(format!(
            "compare needs two different threads (got {a} twice); `baton threads` lists them"
        )));
    }
    let data_a = ThreadData::load(project, a)?;
    let data_b = ThreadData::load(project, b)?;
    let divergence = divergence(project, a, b);
    let after = divergence.step.unwrap_or(0);
    let (files, files_error) = match file_changes(&data_a, &data_b) {
        Ok(files) => (files, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    Ok(Comparison {
        a: side(&data_a, after),
        b: side(&data_b, after),
        divergence,
        files,
        files_error,
    })
}

/// The threads a thread's line passes through, nearest first, each with the step the line
/// leaves it at (`None` for the thread itself: its whole line).
fn lineage(project: &Path, thread: &str) -> Vec<(String, Option<u64>)> {
    let mut line = vec![(thread.to_owned(), None)];
    let mut current = thread.to_owned();
    // A bound, not a depth anyone reaches: a corrupt header naming a cycle must not hang.
    for _ in 0..64 {
        let Ok((_, paths)) = crate::threads::locate_thread(project, &current) else {
            break;
        };
        let Some(parent) = baton_tape::read_header(&paths.tape)
            .ok()
            .and_then(|h| h.parent)
        else {
            break;
        };
        current = parent.thread.to_string();
        line.push((current.clone(), Some(parent.step.0)));
    }
    line
}

fn divergence(project: &Path, a: &str, b: &str) -> Divergence {
    let line_b = lineage(project, b);
    for (thread, leave_a) in lineage(project, a) {
        if let Some((_, leave_b)) = line_b.iter().find(|(t, _)| *t == thread) {
            let step = match (leave_a, *leave_b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (Some(x), None) | (None, Some(x)) => Some(x),
                (None, None) => None,
            };
            return Divergence {
                common: Some(thread),
                step,
            };
        }
    }
    Divergence {
        common: None,
        step: None,
    }
}

fn side(data: &ThreadData, after: u64) -> ThreadSide {
    let rows = data.all_rows();
    let commits = rows
        .iter()
        .flat_map(|row| &row.events)
        .filter(|event| matches!(event, Event::Commit { .. }))
        .count();
    let next = rows
        .iter()
        .find(|row| row.step > after)
        .map(|row| next_step(row));
    let created = baton_tape::read_header(&data.paths.tape)
        .ok()
        .map(|h| h.created);
    let last = baton_tape::StateReader::open(&data.paths)
        .ok()
        .and_then(|reader| reader.last_record::<Event>().ok().flatten())
        .map(|record| record.at);
    let wall_secs = match (created, last) {
        (Some(start), Some(end)) => (end - start).num_milliseconds().max(0) as f64 / 1000.0,
        _ => 0.0,
    };
    let head = data.head.as_ref();
    ThreadSide {
        thread: data.thread.clone(),
        status: head.map_or("unknown", |s| s.status_word()).to_owned(),
        head_step: head.map_or(0, |s| s.step),
        features_passing: head.map_or(0, |s| s.features_passing),
        features_total: head.map_or(0, |s| s.features_total),
        blocked: head.map_or_else(Vec::new, |s| s.blocked.keys().cloned().collect()),
        tokens: head.map_or(0, |s| s.ledger.total_tokens()),
        cost_usd: head.and_then(|s| s.ledger.total_cost()),
        wall_secs,
        commits,
        git_head: head.and_then(|s| s.git_head.clone()),
        next,
    }
}

fn next_step(row: &StepRow) -> NextStep {
    let said = row.events.iter().find_map(|event| match event {
        Event::ModelResponse { response, .. } => response
            .message
            .content
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| text.chars().take(160).collect()),
        _ => None,
    });
    NextStep {
        step: row.step,
        tools: row.tools.iter().map(|(name, _)| name.clone()).collect(),
        outcome: row.outcome.clone(),
        said,
    }
}

/// The files of a thread's current tree: its recorded git head, else its worktree's HEAD.
fn tree_files(data: &ThreadData) -> Result<(Repository, BTreeMap<String, git2::Oid>), String> {
    let repo = Repository::open(&data.dir)
        .map_err(|e| format!("{}: not a git repository ({e})", data.dir.display()))?;
    let commit = match data.head.as_ref().and_then(|s| s.git_head.as_deref()) {
        Some(sha) => git2::Oid::from_str(sha)
            .and_then(|oid| repo.find_commit(oid))
            .map_err(|e| format!("thread {}: commit {sha} not found ({e})", data.thread))?,
        None => repo
            .head()
            .and_then(|head| head.peel_to_commit())
            .map_err(|e| format!("{}: no commit yet ({e})", data.dir.display()))?,
    };
    let tree = commit.tree().map_err(|e| e.to_string())?;
    let mut files = BTreeMap::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(ObjectType::Blob)
            && let Ok(name) = entry.name()
        {
            files.insert(format!("{dir}{name}"), entry.id());
        }
        TreeWalkResult::Ok
    })
    .map_err(|e| e.to_string())?;
    drop(tree);
    drop(commit);
    Ok((repo, files))
}

fn file_changes(a: &ThreadData, b: &ThreadData) -> Result<Vec<FileChange>, String> {
    let (repo_a, files_a) = tree_files(a)?;
    let (repo_b, files_b) = tree_files(b)?;
    let content = |repo: &Repository, oid: Option<&git2::Oid>| -> Vec<u8> {
        oid.and_then(|oid| repo.find_blob(*oid).ok())
            .map(|blob| blob.content().to_vec())
            .unwrap_or_default()
    };
    let mut paths: Vec<&String> = files_a.keys().chain(files_b.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut changes = Vec::new();
    for path in paths {
        let (old, new) = (files_a.get(path), files_b.get(path));
        if old == new {
            continue;
        }
        let status = match (old, new) {
            (None, _) => "added",
            (_, None) => "deleted",
            _ => "modified",
        };
        let (old_bytes, new_bytes) = (content(&repo_a, old), content(&repo_b, new));
        let (additions, deletions) = git2::Patch::from_buffers(
            &old_bytes,
            Some(Path::new(path)),
            &new_bytes,
            Some(Path::new(path)),
            None,
        )
        .and_then(|patch| patch.line_stats())
        .map_or((0, 0), |(_, added, deleted)| (added, deleted));
        changes.push(FileChange {
            path: path.clone(),
            status,
            additions,
            deletions,
        });
    }
    Ok(changes)
}
