//! Threads on disk: finding a thread in a project or in its forks' and replays' worktrees,
//! listing them with their status, reading a thread's live history and its fork tree. Every
//! view (commands, TUI, dashboard, compare, adopt, export) reads threads through here and
//! formats what it gets; nothing here prints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use baton_tape::{Body, Checkpoint, Record, StateReader, Tape, ThreadId, ThreadLock, ThreadPaths};
use serde::Serialize;

use crate::connection::Connection;
use crate::error::HarnessError;
use crate::events::Event;
use crate::layout::{ProjectLayout, WORKTREE_FOLDERS};
use crate::state::{Phase, ThreadState};

/// A thread's tape, opened for reading.
pub struct OpenThread {
    pub project: PathBuf,
    pub paths: ThreadPaths,
    pub tape: Tape<Event>,
}

/// Finds a thread in the project, or in one of its forks' worktrees, and reads its tape.
pub fn open_thread(project: &Path, thread: &str) -> Result<OpenThread, HarnessError> {
    let (project, paths) = locate_thread(project, thread)?;
    let (tape, _) = Tape::<Event>::open(&paths.tape)?;
    Ok(OpenThread {
        project,
        paths,
        tape,
    })
}

/// The folder holding a thread (the project or a fork's worktree) and its files.
pub fn locate_thread(project: &Path, thread: &str) -> Result<(PathBuf, ThreadPaths), HarnessError> {
    let id = ThreadId::new(thread).map_err(|e| HarnessError::BadInput(e.to_string()))?;
    project_dirs(project)
        .into_iter()
        .map(|dir| {
            let paths = ThreadPaths::new(&dir, &id);
            (dir, paths)
        })
        .find(|(_, paths)| paths.tape.exists())
        .ok_or_else(|| HarnessError::ThreadNotFound {
            thread: thread.to_owned(),
            project: project.to_path_buf(),
        })
}

/// The project and the worktrees of its forks and replays (`.baton/forks/<thread>/`).
pub fn project_dirs(project: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![project.to_path_buf()];
    for sub in WORKTREE_FOLDERS {
        if let Ok(entries) = std::fs::read_dir(ProjectLayout::of(project).worktrees(sub)) {
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            found.sort();
            dirs.extend(found);
        }
    }
    dirs
}

/// Each thread's forks (forks and replays made from it), with the step they start from,
/// read from the tapes' headers.
pub fn fork_children(project: &Path) -> HashMap<String, Vec<(String, u64)>> {
    let mut children: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    for (dir, id) in all_threads(project) {
        if let Ok(header) = baton_tape::read_header(&ThreadPaths::new(&dir, &id).tape)
            && let Some(parent) = header.parent
        {
            children
                .entry(parent.thread.to_string())
                .or_default()
                .push((id.to_string(), parent.step.0));
        }
    }
    children
}

/// Every thread of the project (forks included), with where it lives.
pub fn all_threads(project: &Path) -> Vec<(PathBuf, ThreadId)> {
    project_dirs(project)
        .into_iter()
        .flat_map(|dir| {
            baton_tape::list_threads(&dir)
                .unwrap_or_default()
                .into_iter()
                .map(move |id| (dir.clone(), id))
        })
        .collect()
}

/// One line of `baton threads` (and of the TUI's thread list).
#[derive(Debug, Serialize)]
pub struct ThreadRow {
    pub thread: String,
    pub status: String,
    pub node: String,
    pub step: u64,
    pub features: String,
    pub tokens: u64,
    /// The model the thread runs with (empty on tapes older than the record of it).
    pub model: String,
    pub last_activity: String,
    pub project: String,
}

/// Every thread of the project (forks included) with its status, from each tape's header,
/// index, head state and last record.
pub fn thread_rows(project: &Path) -> Vec<ThreadRow> {
    let mut rows = Vec::new();
    for (dir, id) in all_threads(project) {
        let paths = ThreadPaths::new(&dir, &id);
        let Ok(reader) = StateReader::open(&paths) else {
            rows.push(ThreadRow {
                thread: id.to_string(),
                status: "unreadable".to_owned(),
                node: String::new(),
                step: 0,
                features: String::new(),
                tokens: 0,
                model: String::new(),
                last_activity: String::new(),
                project: dir.display().to_string(),
            });
            continue;
        };
        let state = head_state(&reader);
        let last = reader.last_record::<Event>().ok().flatten();
        let running = ThreadLock::holder(&paths)
            .ok()
            .flatten()
            .is_some_and(|h| h.is_alive());
        let failed = matches!(
            last.as_ref().and_then(Record::event),
            Some(Event::Error { .. })
        );
        let status = match &state {
            Some(s) if s.paused.is_some() && !s.is_finished() => "paused",
            _ if running => "running",
            Some(s) if s.phase == Phase::Done => "done",
            Some(s) if matches!(s.phase, Phase::Stopped { .. }) => "stopped",
            Some(s) if matches!(s.phase, Phase::Blocked { .. }) => "blocked",
            _ if failed => "failed",
            _ => "interrupted",
        };
        rows.push(ThreadRow {
            thread: id.to_string(),
            status: status.to_owned(),
            node: state.as_ref().map(|s| s.node.clone()).unwrap_or_default(),
            step: state.as_ref().map_or(0, |s| s.step),
            features: state
                .as_ref()
                .map(|s| {
                    if s.blocked.is_empty() {
                        format!("{}/{}", s.features_passing, s.features_total)
                    } else {
                        format!(
                            "{}/{} ({} blocked)",
                            s.features_passing,
                            s.features_total,
                            s.blocked.len()
                        )
                    }
                })
                .unwrap_or_default(),
            tokens: state.as_ref().map_or(0, |s| s.ledger.total_tokens()),
            model: state
                .as_ref()
                .and_then(|s| s.connection.as_ref())
                .map(|c| c.model.clone())
                .unwrap_or_default(),
            last_activity: last
                .map(|r| r.at.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            project: dir.display().to_string(),
        });
    }
    rows
}

/// The thread's state at its head checkpoint, if it has one and it reads.
pub fn head_state(reader: &StateReader) -> Option<ThreadState> {
    let value = reader.state_at(reader.head()?).ok()?;
    ThreadState::from_value(value).ok()
}

/// One step of the live history: the events that made it, and its checkpoint.
pub struct StepView<'a> {
    pub checkpoint: &'a Checkpoint,
    pub events: Vec<&'a Event>,
}

/// The live branch, each checkpoint with the events of the attempt that produced it (events of
/// attempts cut short by a crash, before a `resumed` marker, are left out: no step twice).
pub fn live_steps(tape: &Tape<Event>) -> Vec<StepView<'_>> {
    let records = tape.records();
    let position: HashMap<u64, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.seq.0, i))
        .collect();
    tape.live_branch()
        .into_iter()
        .map(|checkpoint| {
            let end = position.get(&checkpoint.id.0).copied().unwrap_or(0);
            let mut events = Vec::new();
            for record in records[..end].iter().rev() {
                match &record.body {
                    Body::Event(Event::Resumed { .. }) => break,
                    Body::Event(event) => events.push(event),
                    _ => break,
                }
            }
            events.reverse();
            StepView { checkpoint, events }
        })
        .collect()
}

/// The connection a thread runs with now: the one in its head state, or a later
/// `settings_changed` event (a resume that changed it and was killed before its next
/// checkpoint). `None` for tapes written before threads recorded it.
pub fn recorded_connection(state: &ThreadState, tail: &[&Event]) -> Option<Connection> {
    tail.iter()
        .rev()
        .find_map(|event| match event {
            Event::SettingsChanged { connection } => Some(connection.clone()),
            _ => None,
        })
        .or_else(|| state.connection.clone())
}

/// Reads the connection a thread recorded (head state and events after it), for the
/// commands that go on with a thread before they connect to its model. `None` when the
/// thread has no tape here or recorded none (an older tape).
pub fn connection_of(project: &Path, thread: &str) -> Result<Option<Connection>, HarnessError> {
    let Ok(thread) = baton_tape::ThreadId::new(thread) else {
        return Ok(None);
    };
    let paths = baton_tape::ThreadPaths::new(&crate::connection::absolute(project), &thread);
    if !paths.tape.exists() {
        return Ok(None);
    }
    let (tape, _) = baton_tape::Tape::<Event>::open(&paths.tape)?;
    let Some(head) = tape.head() else {
        return Ok(started_connection(&tape));
    };
    let state = ThreadState::from_value(tape.state_at(head.id)?)?;
    let tail: Vec<&Event> = tape
        .tail_events()
        .iter()
        .filter_map(baton_tape::Record::event)
        .collect();
    Ok(recorded_connection(&state, &tail).or_else(|| started_connection(&tape)))
}

/// The connection in the `thread_started` event (a thread killed before its first checkpoint).
fn started_connection(tape: &baton_tape::Tape<Event>) -> Option<Connection> {
    tape.records()
        .iter()
        .find_map(|record| match record.event() {
            Some(Event::ThreadStarted { connection, .. }) => connection.clone(),
            _ => None,
        })
}
