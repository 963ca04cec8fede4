//! Where baton keeps its files in a project: everything under `.baton/`, named once. The
//! leaf crates get their folders from here (the tape crate keeps its own `threads/` layout
//! under the same folder; the tools' jail refuses `.git` and `.baton` by name).

use std::path::{Path, PathBuf};

/// The folder of baton's own files in a project.
pub const BATON_DIR: &str = ".baton";

/// Folders under `.baton/` that hold worktrees of a project's other threads.
pub const WORKTREE_FOLDERS: [&str; 2] = ["forks", "replays"];

/// The paths of one project's baton files.
#[derive(Debug, Clone)]
pub struct ProjectLayout {
    baton: PathBuf,
}

impl ProjectLayout {
    pub fn of(project: &Path) -> ProjectLayout {
        ProjectLayout {
            baton: project.join(BATON_DIR),
        }
    }

    /// `.baton/` itself.
    pub fn baton_dir(&self) -> &Path {
        &self.baton
    }

    /// The embedded memory store.
    pub fn memory(&self) -> PathBuf {
        self.baton.join("memory")
    }

    /// The project's id (`project_id`).
    pub fn project_file(&self) -> PathBuf {
        self.baton.join("project.json")
    }

    /// Memories waiting for an unreachable server (`memory_queue`).
    pub fn pending_memories(&self) -> PathBuf {
        self.baton.join("memory-pending.jsonl")
    }

    /// The worktree of the fork `thread`.
    pub fn fork(&self, thread: &str) -> PathBuf {
        self.baton.join("forks").join(thread)
    }

    /// The worktree of the replay `thread`.
    pub fn replay(&self, thread: &str) -> PathBuf {
        self.baton.join("replays").join(thread)
    }

    /// The folder of one kind of worktree (`WORKTREE_FOLDERS`).
    pub fn worktrees(&self, folder: &str) -> PathBuf {
        self.baton.join(folder)
    }

    /// Screenshots and pages the agent's own browser tool saved.
    pub fn agent_evidence(&self) -> PathBuf {
        self.baton.join("evidence").join("agent")
    }

    /// The output of the app the agent's browser tool started.
    pub fn agent_app_log(&self) -> PathBuf {
        self.baton.join("agent-app.log")
    }
}
