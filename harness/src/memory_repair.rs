//! Memory that outlives the deletion of its files. The embedded store lives in
//! `.baton/memory/`, which a model's `rm -rf .baton` or `git clean -fdx` removes under the
//! running thread; the engine then fails (and panics) on every flush. The runner watches
//! for that (`runner/memory_watch.rs`) and calls `rebuild` here: a new store is opened and
//! filled in the background from what the project still holds (`memory_index`: its git
//! history, its progress notes and the thread tapes; the tape is written back by the relink
//! check before this runs). A store that does not open at all (corrupt files) is moved
//! aside (`set_aside_broken`) and started afresh the same way.

use std::path::{Path, PathBuf};

use baton_memory::{Backend, Memory, MemoryConfig, MemoryError};

use crate::config::Settings;
use crate::error::HarnessError;
use crate::memory::{MemoryHandle, config_for};
use crate::project_id::ProjectIdentity;

/// Opens memory unless it is switched off; failing to open it is an error that names the
/// fix (and `--no-memory`). An embedded store whose files do not open is moved aside and
/// started afresh: the handle comes back empty, with the task that fills it from git
/// history, progress notes and the tapes.
pub(crate) async fn open_if_enabled(
    project: &Path,
    settings: &Settings,
) -> Result<(Option<MemoryHandle>, Option<tokio::task::JoinHandle<()>>), HarnessError> {
    if !settings.memory_enabled {
        return Ok((None, None));
    }
    MemoryHandle::open_with(project, settings)
        .await
        .map(|handle| (Some(handle), None))
    .or_else(|error| {
        let HarnessError::Memory(cause) = &error else {
            return Err(error);
        };
        // An embedded store whose files do not open is set aside and rebuilt.
        let identity = ProjectIdentity::resolve(project)?;
        let config = config_for(
            &identity.home,
            settings.qdrant_url.as_deref(),
            None,
            &settings.qdrant_collection,
        );
        let Some(aside) = set_aside_broken(&config, cause) else {
            return Err(error);
        };
        eprintln!(
            "baton: warning: the memory store did not open ({cause}); it was moved to {} and is rebuilt in the background from git history, progress notes and the tapes",
            aside.display()
        );
        let handle = MemoryHandle::empty(identity);
        let task = tokio::spawn(rebuild(
            handle.clone(),
            config,
            project.to_path_buf(),
        ));
        Ok((Some(handle), Some(task)))
    })
}

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
        tokio::task::spawn_blocking(move || crate::memory_index::reindex_records(&handle, &project))
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
