//! The runner's watch on its memory store: after each tool call that may touch anything, a
//! store whose folder is gone (a model's `rm -rf .baton`, `git clean -fdx`) is dropped and
//! rebuilt in the background (`memory_repair::rebuild`), and the model is told to leave
//! `.baton/` alone.

use std::path::{Path, PathBuf};

use baton_memory::Backend;

use super::ThreadRunner;
use crate::memory::{MemoryHandle, config_for};
use crate::memory_repair::rebuild;

/// Rebuilds one run may start; past it, memory stays off for the rest of the run (a store
/// that keeps vanishing is not worth the embedding time).
const MAX_REBUILDS: u32 = 3;

/// The embedded store's folder, when memory uses one.
fn edge_path(project: &Path, settings: &crate::config::Settings) -> Option<PathBuf> {
    let home = crate::project_id::ProjectIdentity::resolve(project)
        .ok()?
        .home;
    match config_for(
        &home,
        settings.qdrant_url.as_deref(),
        None,
        &settings.qdrant_collection,
    )
    .backend
    {
        Backend::Edge { path } => Some(path),
        Backend::Server { .. } => None,
    }
}

/// The run's memory: the project's handle (none when memory is off) and the rebuilds this
/// run started after the store was deleted.
pub(super) struct RunMemory {
    pub(super) handle: Option<MemoryHandle>,
    /// Rebuilds started in this run.
    rebuilds: u32,
    /// The rebuild running in the background, awaited before the run returns so the store
    /// is not left half-filled.
    rebuild: Option<tokio::task::JoinHandle<()>>,
}

impl RunMemory {
    pub(super) fn new(
        handle: Option<MemoryHandle>,
        rebuild: Option<tokio::task::JoinHandle<()>>,
    ) -> Self {
        RunMemory {
            handle,
            rebuilds: 0,
            rebuild,
        }
    }
}

impl ThreadRunner {
    /// Starts a background rebuild when the embedded store's folder is gone; returns the
    /// note for the model when it did.
    pub(crate) fn repair_memory_if_gone(&mut self) -> Option<String> {
        let handle = self.memory.handle.clone()?;
        let path = edge_path(&self.project, &self.settings)?;
        if path.exists()
            || self
                .memory
                .rebuild
                .as_ref()
                .is_some_and(|t| !t.is_finished())
        {
            return None;
        }
        let old = handle.take();
        // The old store's last flush fails on the missing files: let it fail on a thread of
        // its own, where the panic hook turns it into one warning.
        if let Some(old) = old {
            let _ = std::thread::Builder::new()
                .name("baton-memory-drop".into())
                .spawn(move || drop(old));
        }
        self.memory.rebuilds += 1;
        if self.memory.rebuilds > MAX_REBUILDS {
            tracing::warn!(
                "the memory store was deleted again ({} times in this run); memory stays off until the thread is resumed",
                self.memory.rebuilds
            );
            self.memory.handle = None;
            return Some(Self::memory_note());
        }
        tracing::warn!(
            "the memory store ({}) was deleted under the running thread; it is being rebuilt in the background from git history, progress notes and the tapes",
            path.display()
        );
        let home = crate::project_id::ProjectIdentity::resolve(&self.project)
            .map_or_else(|_| self.project.clone(), |identity| identity.home);
        let config = config_for(&home, None, None, &self.settings.qdrant_collection);
        let project = self.project.clone();
        self.memory.rebuild = Some(tokio::spawn(rebuild(handle, config, project)));
        Some(Self::memory_note())
    }

    /// Waits for a rebuild still running (the run is ending).
    pub(crate) async fn finish_memory_rebuild(&mut self) {
        if let Some(task) = self.memory.rebuild.take()
            && !task.is_finished()
        {
            tracing::info!("waiting for the memory rebuild to finish");
            let _ = task.await;
        }
    }

    fn memory_note() -> String {
        "baton: this command deleted baton's memory store in .baton/; it is being rebuilt. Leave .baton/ alone.".to_owned()
    }
}
