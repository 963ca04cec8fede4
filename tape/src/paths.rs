//! Where a thread lives on disk (`<project>/.baton/threads/<id>/`) and the private
//! permissions its files get: folders 0700, files 0600 (tapes hold prompts and code).

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Result, TapeError};
use crate::ids::ThreadId;

/// The files of one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPaths {
    /// The thread id.
    pub thread: ThreadId,
    /// The project folder (the git work tree).
    pub project: PathBuf,
    /// `<project>/.baton/threads/<id>/`.
    pub dir: PathBuf,
    /// The append-only JSONL tape.
    pub tape: PathBuf,
    /// Byte offsets of checkpoints (rebuildable from the tape).
    pub index: PathBuf,
    /// The lock file of the running process.
    pub lock: PathBuf,
    /// The private git index used for worktree snapshots.
    pub snapshot_index: PathBuf,
}

impl ThreadPaths {
    /// The paths of thread `id` in `project_dir`; nothing is created.
    pub fn new(project_dir: &Path, id: &ThreadId) -> Self {
        let dir = threads_dir(project_dir).join(id.as_str());
        Self {
            thread: id.clone(),
            project: project_dir.to_path_buf(),
            tape: dir.join("tape.jsonl"),
            index: dir.join("index"),
            lock: dir.join("lock"),
            snapshot_index: dir.join("snapshot.index"),
            dir,
        }
    }

    /// Creates the thread folder (and `.baton/threads/`) with mode 0700.
    pub fn create_dir(&self) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(TapeError::io("create folder", &self.dir))
    }
}

/// `<project>/.baton/threads`.
pub fn threads_dir(project_dir: &Path) -> PathBuf {
    project_dir.join(".baton").join("threads")
}

/// The threads of a project that have a tape, sorted by id.
pub fn list_threads(project_dir: &Path) -> Result<Vec<ThreadId>> {
    let dir = threads_dir(project_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TapeError::io("list", &dir)(e)),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(TapeError::io("list", &dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Ok(id) = ThreadId::new(name)
            && ThreadPaths::new(project_dir, &id).tape.is_file()
        {
            ids.push(id);
        }
    }
    ids.sort();
    Ok(ids)
}

/// Opens `path` for appending, creating it with mode 0600 (`create_new` when `exclusive`).
pub(crate) fn open_private(path: &Path, exclusive: bool, truncate: bool) -> Result<File> {
    let mut options = OpenOptions::new();
    options.mode(0o600);
    if exclusive {
        options.write(true).create_new(true);
    } else if truncate {
        options.write(true).create(true).truncate(true);
    } else {
        options.read(true).append(true).create(true);
    }
    options.open(path).map_err(TapeError::io("open", path))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn folders_are_private_and_listed() {
        let project = tempfile::tempdir().unwrap();
        let id = ThreadId::new("t-1").unwrap();
        let paths = ThreadPaths::new(project.path(), &id);
        paths.create_dir().unwrap();
        let mode = fs::metadata(&paths.dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(
            list_threads(project.path()).unwrap().is_empty(),
            "no tape yet"
        );
        drop(open_private(&paths.tape, true, false).unwrap());
        let mode = fs::metadata(&paths.tape).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(list_threads(project.path()).unwrap(), vec![id]);
    }
}
