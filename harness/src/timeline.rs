//! Which memories are true on a thread's timeline. A memory is placed where it was made:
//! a commit memory by its commit, any other by its thread and its position on that
//! thread's tape (`tape_seq`). Recall asks a [`Timeline`] about each hit, so rewinding,
//! forking and resuming change what is recalled without touching the store:
//!
//! - a commit memory is true when its commit is HEAD or an ancestor of HEAD in the
//!   viewer's worktree, whichever thread made it, or (for a fork, whose worktree starts
//!   from a snapshot) an ancestor of the commit its parent was at at the fork point;
//! - any other memory is true when it was made on the viewer's line: a live step of one of
//!   the viewer's threads (the step still open counts), or, for a fork, a step of its
//!   parent's branch up to the fork point (recursively);
//! - a memory that cannot be placed (no thread: progress notes read back from the progress
//!   file; a thread whose tape is gone) is kept: hiding what cannot be judged would lose it.
//!
//! Memories stored before records had a tape position are judged by their step number
//! against the line's last step (a rewound step number that the thread has since reached
//! again is then shown).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use baton_memory::{MemoryKind, MemoryRecord};
use baton_tape::{CheckpointId, Placement, Seq, StateReader, ThreadPaths};
use git2::{Oid, Repository};

use crate::project_id::ProjectIdentity;
use crate::state::ThreadState;
use crate::threads::{all_threads, locate_thread};

/// What a recall may show of one memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// True on the viewer's line.
    Live,
    /// Not on the viewer's line; the label says where it was made (for `--all-branches`).
    Hidden(String),
}

/// How one thread's memories are judged.
struct Line {
    reader: StateReader,
    /// Checkpoints whose steps are on the viewer's line.
    checkpoints: HashSet<CheckpointId>,
    /// The thread's own live branch (to tell a rewound step from one after a fork point).
    live: HashSet<CheckpointId>,
    /// The viewer's own thread: its open step is on the line. For an ancestor, the step of
    /// the fork point, past which nothing is.
    fork_step: Option<u64>,
    /// The last step on the line, for memories without a tape position.
    last_step: u64,
}

/// The viewer's line: its threads and their ancestors, and the worktree whose HEAD decides
/// which commits are true. The commits reachable from the heads are walked once, when the
/// first commit memory is judged, and kept for the life of one recall (per-commit
/// `graph_descendant_of` walks the history again for every commit off the branch).
pub struct Timeline {
    lines: HashMap<String, Line>,
    /// Every thread of the project with a tape (forks included).
    known: HashSet<String>,
    repo: Option<Repository>,
    /// HEAD of the viewer's worktree, then the commit each fork point's state was at: a
    /// fork's worktree starts from a snapshot, so its parent's commits are not in its HEAD's
    /// history, yet are true on its line up to the fork point.
    heads: Vec<Oid>,
    reachable: Option<HashSet<Oid>>,
}

impl Timeline {
    /// The line of `thread` (found in the project or one of its forks' worktrees).
    pub fn for_thread(
        project: &Path,
        thread: &str,
    ) -> Result<Timeline, crate::error::HarnessError> {
        let home = ProjectIdentity::resolve(project)?.home;
        let (dir, paths) = locate_thread(&home, thread)?;
        let mut timeline = Timeline::empty(&home, &dir);
        timeline.add_with_ancestors(&home, thread, &paths);
        Ok(timeline)
    }

    /// The line of a folder (the project or a fork's worktree): every thread whose tape
    /// lives in it, with their ancestors, and the folder's HEAD. Threads of other folders
    /// (forks seen from the project, the parent seen from a fork) are not on it.
    pub fn for_folder(folder: &Path) -> Result<Timeline, crate::error::HarnessError> {
        let home = ProjectIdentity::resolve(folder)?.home;
        let mut timeline = Timeline::empty(&home, folder);
        for thread in baton_tape::list_threads(folder).unwrap_or_default() {
            let paths = ThreadPaths::new(folder, &thread);
            timeline.add_with_ancestors(&home, thread.as_str(), &paths);
        }
        Ok(timeline)
    }

    fn empty(home: &Path, worktree: &Path) -> Timeline {
        let repo = Repository::open(worktree).ok();
        let heads = repo
            .as_ref()
            .and_then(|r| r.head().ok())
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id())
            .into_iter()
            .collect();
        Timeline {
            lines: HashMap::new(),
            known: all_threads(home)
                .into_iter()
                .map(|(_, id)| id.to_string())
                .collect(),
            repo,
            heads,
            reachable: None,
        }
    }

    /// Adds `thread`'s live branch, then its parent's branch up to the fork point, and so
    /// on up. A tape that does not read leaves its thread unplaced (its memories kept).
    fn add_with_ancestors(&mut self, home: &Path, thread: &str, paths: &ThreadPaths) {
        let Ok(reader) = StateReader::open(paths) else {
            return;
        };
        let live: HashSet<CheckpointId> = reader.live_checkpoints().iter().map(|c| c.id).collect();
        let last_step = reader
            .head()
            .and_then(|h| reader.step_of(h).ok())
            .map_or(0, |s| s.0);
        let mut parent = reader.header().parent.clone();
        self.lines.insert(
            thread.to_owned(),
            Line {
                reader,
                checkpoints: live.clone(),
                live,
                fork_step: None,
                last_step,
            },
        );
        // Up the fork tree; the set of seen threads ends a cycle a hand-edited header could make.
        while let Some(fork) = parent.take() {
            let name = fork.thread.to_string();
            if self.lines.contains_key(&name) {
                break;
            }
            let Ok((_, paths)) = locate_thread(home, &name) else {
                break;
            };
            let Ok(reader) = StateReader::open(&paths) else {
                break;
            };
            let point = fork.checkpoint.or_else(|| reader.resolve(fork.step).ok());
            let checkpoints: HashSet<CheckpointId> = point
                .map(|p| reader.branch_to(p).into_iter().collect())
                .unwrap_or_default();
            let live = reader.live_checkpoints().iter().map(|c| c.id).collect();
            if let Some(sha) = point
                .and_then(|p| reader.state_at(p).ok())
                .and_then(|state| ThreadState::from_value(state).ok())
                .and_then(|state| state.git_head)
                .and_then(|sha| Oid::from_str(&sha).ok())
            {
                self.heads.push(sha);
            }
            parent.clone_from(&reader.header().parent);
            self.lines.insert(
                name,
                Line {
                    reader,
                    checkpoints,
                    live,
                    fork_step: Some(fork.step.0),
                    last_step: fork.step.0,
                },
            );
        }
    }

    /// Whether `record` is true on this line, and if not, where it was made.
    pub fn judge(&mut self, record: &MemoryRecord) -> Visibility {
        if record.kind == MemoryKind::Commit
            && let Some(sha) = &record.commit
        {
            return self.judge_commit(record, sha);
        }
        self.judge_note(record)
    }

    fn judge_commit(&mut self, record: &MemoryRecord, sha: &str) -> Visibility {
        let Some(repo) = self.repo.as_ref().filter(|_| !self.heads.is_empty()) else {
            // No repository or no commit yet: nothing to judge against.
            return Visibility::Live;
        };
        let heads = &self.heads;
        let history = self.reachable.get_or_insert_with(|| history(repo, heads));
        let reachable = Oid::from_str(sha).is_ok_and(|oid| history.contains(&oid));
        if reachable {
            return Visibility::Live;
        }
        let short = &sha[..sha.len().min(7)];
        // Say where it was made when the note rules tell (a rewound step, another thread).
        match self.judge_note(record) {
            Visibility::Hidden(label) => {
                Visibility::Hidden(format!("{label}; commit {short} is not in HEAD's history"))
            }
            Visibility::Live => {
                Visibility::Hidden(format!("commit {short} is not in HEAD's history"))
            }
        }
    }

    fn judge_note(&self, record: &MemoryRecord) -> Visibility {
        if record.thread.is_empty() {
            return Visibility::Live;
        }
        let step = record
            .step
            .map_or_else(String::new, |s| format!(" step {s}"));
        let Some(line) = self.lines.get(&record.thread) else {
            if !self.known.contains(&record.thread) {
                return Visibility::Live;
            }
            return Visibility::Hidden(format!(
                "other branch: {}{step}, not on this line",
                record.thread
            ));
        };
        let thread = &record.thread;
        let abandoned = || Visibility::Hidden(format!("abandoned branch: {thread}{step}, rewound"));
        let after_fork = |at: u64| {
            Visibility::Hidden(format!(
                "parent branch: {thread}{step}, after the fork at step {at}"
            ))
        };
        let Some(seq) = record.tape_seq else {
            // Stored before memories had a tape position: judged by step number.
            return match (record.step, line.fork_step) {
                (Some(s), None) if s > line.last_step => abandoned(),
                (Some(s), Some(at)) if s > at => after_fork(at),
                _ => Visibility::Live,
            };
        };
        match (line.reader.placement(Seq(seq)), line.fork_step) {
            (Placement::Closed(c), _) if line.checkpoints.contains(&c) => Visibility::Live,
            (Placement::Open, None) => Visibility::Live,
            (Placement::Closed(c), Some(at)) if line.live.contains(&c) => after_fork(at),
            (Placement::Open, Some(at)) => after_fork(at),
            _ => abandoned(),
        }
    }
}

/// Every commit reachable from `heads` (a history that does not walk gives what was walked).
fn history(repo: &Repository, heads: &[Oid]) -> HashSet<Oid> {
    let Ok(mut walk) = repo.revwalk() else {
        return HashSet::new();
    };
    for &head in heads {
        let _ = walk.push(head);
    }
    walk.map_while(Result::ok).collect()
}
