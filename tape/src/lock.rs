//! One process per thread: a lock file created with O_EXCL holding the holder's pid,
//! host and start time. A lock whose pid is gone (kill -9, power loss) is stale and
//! taken over with a warning; the lock is released on drop.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TapeError};
use crate::paths::{ThreadPaths, open_private};

/// Who holds (or held) a thread lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Process id.
    pub pid: i32,
    /// Host name.
    pub host: String,
    /// When the process took the lock.
    pub started: DateTime<Utc>,
}

impl LockHolder {
    fn me() -> Self {
        Self {
            pid: std::process::id().cast_signed(),
            host: host_name(),
            started: Utc::now(),
        }
    }

    /// True when the holder still runs: `running`; false means the thread was `interrupted`.
    /// A holder on another host cannot be checked and counts as running.
    pub fn is_alive(&self) -> bool {
        if self.host != host_name() {
            return true;
        }
        !matches!(kill(Pid::from_raw(self.pid), None), Err(Errno::ESRCH))
    }
}

/// The lock of a running thread; removed on drop.
#[derive(Debug)]
pub struct ThreadLock {
    path: PathBuf,
    holder: LockHolder,
}

impl ThreadLock {
    /// Takes the thread's lock, or fails with [`TapeError::Locked`] naming the live holder.
    pub fn acquire(paths: &ThreadPaths) -> Result<Self> {
        paths.create_dir()?;
        let me = LockHolder::me();
        // Two rounds: the second follows the removal of a stale lock.
        for _ in 0..2 {
            match open_private(&paths.lock, true, false) {
                Ok(mut file) => {
                    let text = serde_json::to_string(&me).map_err(TapeError::Encode)?;
                    file.write_all(text.as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(TapeError::io("write lock", &paths.lock))?;
                    return Ok(Self {
                        path: paths.lock.clone(),
                        holder: me,
                    });
                }
                Err(TapeError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    let text = std::fs::read_to_string(&paths.lock).unwrap_or_default();
                    match serde_json::from_str::<LockHolder>(&text) {
                        Ok(holder) if holder.is_alive() => {
                            return Err(TapeError::Locked {
                                thread: paths.thread.to_string(),
                                pid: holder.pid,
                                host: holder.host,
                                started: holder.started.to_rfc3339(),
                            });
                        }
                        stale => {
                            let pid = stale.map(|h| h.pid).unwrap_or_default();
                            tracing::warn!(thread = %paths.thread, pid, "taking over the stale lock of a process that is gone");
                            remove_if_unchanged(&paths.lock, &text)?;
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(TapeError::Locked {
            thread: paths.thread.to_string(),
            pid: 0,
            host: host_name(),
            started: "just now".into(),
        })
    }

    /// The recorded holder of the thread's lock, if there is a lock file.
    pub fn holder(paths: &ThreadPaths) -> Result<Option<LockHolder>> {
        match std::fs::read_to_string(&paths.lock) {
            Ok(text) => Ok(serde_json::from_str(&text).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TapeError::io("read lock", &paths.lock)(e)),
        }
    }

    /// Writes the lock file again if something removed it while the thread ran.
    pub fn relink(&self) -> Result<()> {
        if self.path.exists() {
            return Ok(());
        }
        let mut file = open_private(&self.path, true, false)?;
        let text = serde_json::to_string(&self.holder).map_err(TapeError::Encode)?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(TapeError::io("write lock", &self.path))
    }

    /// This process's entry in the lock.
    pub fn holder_info(&self) -> &LockHolder {
        &self.holder
    }
}

impl Drop for ThreadLock {
    fn drop(&mut self) {
        // Only remove the file if it is still ours (a takeover may have replaced it).
        let ours = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| serde_json::from_str::<LockHolder>(&t).ok())
            .is_some_and(|h| h == self.holder);
        if ours && let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(lock = %self.path.display(), "could not remove the thread lock: {e}");
        }
    }
}

/// Removes a stale lock only if it still holds what was read, narrowing the race with
/// another process taking it over at the same moment.
fn remove_if_unchanged(path: &Path, seen: &str) -> Result<()> {
    match std::fs::read_to_string(path) {
        Ok(now) if now == seen => {
            std::fs::remove_file(path).map_err(TapeError::io("remove stale lock", path))
        }
        _ => Ok(()),
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map_or_else(|_| "unknown".to_owned(), |h| h.trim().to_owned())
}
