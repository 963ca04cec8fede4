//! Memory that outlives the deletion of its files. The embedded store lives in
//! `.baton/memory/`, which a model's `rm -rf .baton` or `git clean -fdx` removes under the
//! running thread; the engine then fails (and panics) on every flush. After each call of a
//! tool that may touch anything, the runner looks for the store's folder; when it is gone,
//! the open store is dropped (off the main thread, so a panic in its last flush stays a
//! warning) and a new one is opened and filled in the background from what the project
//! still holds: its git history, its progress notes and the thread tapes (the tape is
//! written back by the relink check before this runs). A store that does not open at all
//! (corrupt files) is moved aside and started afresh the same way.

use std::path::{Path, PathBuf};

use baton_memory::{Backend, Memory, MemoryConfig, MemoryError};

use crate::memory::{MemoryHandle, config_for};
use crate::runner::ThreadRunner;

/// Rebuilds one run may start; past it, memory stays off for the rest of the run (a store
/// that keeps vanishing is not worth the embedding time).
const MAX_REBUILDS: u32 = 3;

/// Moves an embedded store that failed to open out of the way; returns where it went. Only
/// store failures count: a missing embedding model or a store locked by another process
/// is not the files' fault.
pub fn set_aside_broken(config: &MemoryConfig, error: &MemoryError) -> Option<PathBuf> {
    let Backend::Edge { path } = &config.backend else {
        return None;
    };
    if !matches!(error, MemoryError::Edge { .. } | MemoryError::Task(_)) || !path.exists() {
        return None;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = path.with_file_name(format!("memory.broken-{stamp}"));
    std::fs::rename(path, &aside).ok()?;
    Some(aside)
}

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

impl ThreadRunner {
    /// Starts a background rebuild when the embedded store's folder is gone; returns the
    /// note for the model when it did.
    pub(crate) fn repair_memory_if_gone(&mut self) -> Option<String> {
        let handle = self.memory.clone()?;
        let path = edge_path(&self.project, &self.settings)?;
        if path.exists()
            || self
                .memory_rebuild
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
        self.memory_rebuilds += 1;
        if self.memory_rebuilds > MAX_REBUILDS {
            eprintln!(
                "baton: warning: the memory store was deleted again ({} times in this run); memory stays off until the thread is resumed",
                self.memory_rebuilds
            );
            self.memory = None;
            return Some(Self::memory_note());
        }
        eprintln!(
            "baton: warning: the memory store ({}) was deleted under the running thread; it is being rebuilt in the background from git history, progress notes and the tapes",
            path.display()
        );
        let home = crate::project_id::ProjectIdentity::resolve(&self.project)
            .map_or_else(|_| self.project.clone(), |identity| identity.home);
        let config = config_for(&home, None, None, &self.settings.qdrant_collection);
        let project = self.project.clone();
        self.memory_rebuild = Some(tokio::spawn(rebuild(handle, config, project)));
        Some(Self::memory_note())
    }

    /// Waits for a rebuild still running (the run is ending).
    pub(crate) async fn finish_memory_rebuild(&mut self) {
        if let Some(task) = self.memory_rebuild.take()
            && !task.is_finished()
        {
            eprintln!("baton: waiting for the memory rebuild to finish");
            let _ = task.await;
        }
    }

    fn memory_note() -> String {
        "baton: this command deleted baton's memory store in .baton/; it is being rebuilt. Leave .baton/ alone.".to_owned()
    }
}

/// Opens a fresh store, fills it and puts it in the handle's slot.
pub(crate) async fn rebuild(handle: MemoryHandle, config: MemoryConfig, project: PathBuf) {
    let memory = match Memory::open(config).await {
        Ok(memory) => memory,
        Err(error) => {
            eprintln!(
                "baton: warning: memory could not be reopened ({error}); the thread goes on without it"
            );
            return;
        }
    };
    let records = {
        let handle = handle.clone();
        tokio::task::spawn_blocking(move || {
            crate::commands::memory::reindex_records(&handle, &project)
        })
        .await
    };
    let count = match records {
        Ok(Ok(records)) => match memory.remember(records).await {
            Ok(count) => count,
            Err(error) => {
                eprintln!(
                    "baton: warning: memory reopened empty; storing the rebuilt memories failed: {error}"
                );
                0
            }
        },
        Ok(Err(error)) => {
            eprintln!(
                "baton: warning: memory reopened empty; reading history to rebuild it failed: {error:#}"
            );
            0
        }
        Err(error) => {
            eprintln!("baton: warning: memory reopened empty; the rebuild failed: {error}");
            0
        }
    };
    handle.put(memory);
    eprintln!("baton: memory rebuilt: {count} memories from git history, progress notes and tapes");
}
