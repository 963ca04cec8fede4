//! Worktree snapshots on hidden git refs. A private index per thread (its stat cache
//! means unchanged files are not re-hashed) builds a tree of every non-ignored file;
//! the tree is committed on `refs/baton/<thread>/snapshots/<commit>`. HEAD, the user's
//! branches and the user's index are never touched. Snapshot commits have no parents, so
//! gc can drop any of them on its own; their order lives on the tape.
//!
//! Every file created costs (each is an inode on the project's disk), so a snapshot writes
//! only what it must: the new objects and one ref. The private index is kept in memory and
//! written to disk every [`INDEX_WRITE_EVERY`] snapshots and when the snapshotter is
//! dropped; after a crash the stale stat cache only means some files are hashed again.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;
use git2::{
    Delta, DiffFormat, DiffOptions, ErrorCode, FileMode, Index, Oid, Repository, Signature,
};

use crate::error::{Result, TapeError};
use crate::ids::{StepNo, ThreadId};
use crate::lock::ThreadLock;
use crate::paths::ThreadPaths;
use crate::record::SnapshotRef;

const EXCLUDE_LINE: &str = "/.baton/";
/// Snapshots between writes of the private index to disk.
const INDEX_WRITE_EVERY: u32 = 32;

/// Takes and restores worktree snapshots of one thread.
pub struct Snapshotter {
    pub(crate) repo: Repository,
    pub(crate) thread: ThreadId,
    index_path: PathBuf,
    workdir: PathBuf,
    /// The last snapshot taken by this snapshotter: an unchanged tree reuses it.
    last: RefCell<Option<SnapshotRef>>,
    /// Snapshots since the private index was last written to disk.
    unwritten: Cell<u32>,
}

impl std::fmt::Debug for Snapshotter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshotter")
            .field("thread", &self.thread)
            .field("workdir", &self.workdir)
            .field("index_path", &self.index_path)
            .finish_non_exhaustive()
    }
}

impl Snapshotter {
    /// Opens the project's repository for thread `thread`; the project must be a git work tree.
    pub fn open(project_dir: &Path, thread: &ThreadId) -> Result<Self> {
        skip_object_existence_checks();
        let repo = Repository::open(project_dir).map_err(|e| match e.code() {
            ErrorCode::NotFound => TapeError::NoRepository {
                path: project_dir.to_path_buf(),
            },
            _ => TapeError::git("open repository")(e),
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| TapeError::NoRepository {
                path: project_dir.to_path_buf(),
            })?
            .to_path_buf();
        ensure_excluded(&repo)?;
        let paths = ThreadPaths::new(&workdir, thread);
        paths.create_dir()?;
        let mut index =
            Index::open(&paths.snapshot_index).map_err(TapeError::git("open snapshot index"))?;
        // The handle's index becomes the private one, so the user's `.git/index` is never read or written.
        repo.set_index(&mut index)
            .map_err(TapeError::git("use snapshot index"))?;
        Ok(Self {
            repo,
            thread: thread.clone(),
            index_path: paths.snapshot_index,
            workdir,
            last: RefCell::new(None),
            unwritten: Cell::new(0),
        })
    }

    pub(crate) fn snapshot_ref_prefix(&self) -> String {
        format!("refs/baton/{}/snapshots/", self.thread)
    }

    /// Opens the snapshotter of a thread whose lock the caller holds. The private index is
    /// written only under that lock, so a `snapshot.index.lock` found now was left by a
    /// process killed while writing the index; it is removed, or every later write of the
    /// index would fail.
    pub fn open_locked(project_dir: &Path, thread: &ThreadId, _held: &ThreadLock) -> Result<Self> {
        let snapshotter = Self::open(project_dir, thread)?;
        let stale = lock_file_of(&snapshotter.index_path);
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(TapeError::io("remove the stale lock", &stale)(e))
            }
            _ => Ok(snapshotter),
        }
    }

    /// Records the worktree as a commit on the thread's hidden refs.
    pub fn snapshot(&self, step: StepNo, message: &str) -> Result<SnapshotRef> {
        let mut index = self
            .repo
            .index()
            .map_err(TapeError::git("open snapshot index"))?;
        self.scan_worktree(&mut index)?;
        self.commit_index(&mut index, step, message)
    }

    /// Records the worktree unless its tree is `since`'s (a snapshot about to be restored):
    /// what a restore would throw away, kept. `None` when there is nothing to keep.
    pub fn snapshot_if_changed(
        &self,
        since: &SnapshotRef,
        step: StepNo,
        message: &str,
    ) -> Result<Option<SnapshotRef>> {
        let mut index = self
            .repo
            .index()
            .map_err(TapeError::git("open snapshot index"))?;
        self.scan_worktree(&mut index)?;
        let tree_id = index
            .write_tree()
            .map_err(TapeError::git("write snapshot tree"))?;
        if tree_id.to_string() == since.tree {
            return Ok(None);
        }
        self.commit_index(&mut index, step, message).map(Some)
    }

    /// Records the worktree when only `paths` (project-relative) can have changed since
    /// this snapshotter's last snapshot: those entries are refreshed and nothing else is
    /// looked at. The caller vouches for that; the first snapshot of a snapshotter always
    /// scans the whole worktree.
    pub fn snapshot_paths(
        &self,
        step: StepNo,
        message: &str,
        paths: &[impl AsRef<Path>],
    ) -> Result<SnapshotRef> {
        if self.last.borrow().is_none() {
            return self.snapshot(step, message);
        }
        let mut index = self
            .repo
            .index()
            .map_err(TapeError::git("open snapshot index"))?;
        for path in paths {
            let path = path.as_ref();
            let tracked = index.get_path(path, 0).is_some();
            let is_file =
                std::fs::symlink_metadata(self.workdir.join(path)).is_ok_and(|meta| !meta.is_dir());
            // The same rules as a full scan: ignored files are left out unless tracked.
            let ignored = !tracked
                && self
                    .repo
                    .is_path_ignored(path)
                    .map_err(TapeError::git("check ignore rules"))?;
            if is_file && !ignored {
                index
                    .add_path(path)
                    .map_err(TapeError::git("add file to snapshot"))?;
            } else if !is_file && tracked {
                index
                    .remove_path(path)
                    .map_err(TapeError::git("drop deleted file from snapshot"))?;
            }
        }
        self.commit_index(&mut index, step, message)
    }

    /// Commits the private index's tree (or reuses the last snapshot when it is unchanged).
    fn commit_index(&self, index: &mut Index, step: StepNo, message: &str) -> Result<SnapshotRef> {
        let tree_id = index
            .write_tree()
            .map_err(TapeError::git("write snapshot tree"))?;
        self.index_changed(index)?;
        if let Some(last) = self.last.borrow().as_ref()
            && last.tree == tree_id.to_string()
        {
            return Ok(last.clone());
        }
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(TapeError::git("find snapshot tree"))?;
        let sig =
            Signature::now("baton", "baton@localhost").map_err(TapeError::git("make signature"))?;
        let message = format!("baton {} step {step}: {message}", self.thread);
        let commit = self
            .repo
            .commit(None, &sig, &sig, &message, &tree, &[])
            .map_err(TapeError::git("commit snapshot"))?;
        let refname = format!("{}{commit}", self.snapshot_ref_prefix());
        self.repo
            .reference(&refname, commit, true, "baton snapshot")
            .map_err(TapeError::git("write snapshot ref"))?;
        let snapshot = SnapshotRef {
            commit: commit.to_string(),
            tree: tree_id.to_string(),
        };
        *self.last.borrow_mut() = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Counts an in-memory change of the private index and writes it out when due.
    fn index_changed(&self, index: &mut Index) -> Result<()> {
        let unwritten = self.unwritten.get() + 1;
        if unwritten < INDEX_WRITE_EVERY {
            self.unwritten.set(unwritten);
            return Ok(());
        }
        self.unwritten.set(0);
        index
            .write()
            .map_err(TapeError::git("write snapshot index"))
    }

    /// Puts the worktree back to a snapshot: changed files rewritten, deleted ones recreated,
    /// files not in the snapshot removed; ignored files and `.baton/` are left alone.
    pub fn restore(&self, snapshot: &SnapshotRef) -> Result<()> {
        let tree = self.find_tree(snapshot)?;
        let mut index = self
            .repo
            .index()
            .map_err(TapeError::git("open snapshot index"))?;
        // Make the private index describe the current worktree first, so files created since
        // the last snapshot count as tracked and are removed by the checkout.
        self.scan_worktree(&mut index)?;
        let mut checkout = CheckoutBuilder::new();
        checkout.force().remove_untracked(true);
        self.repo
            .checkout_tree(tree.as_object(), Some(&mut checkout))
            .map_err(TapeError::git("check out snapshot"))?;
        index
            .read_tree(&tree)
            .map_err(TapeError::git("load snapshot into index"))?;
        index
            .update_all(["*"], None)
            .map_err(TapeError::git("refresh snapshot index"))?;
        *self.last.borrow_mut() = Some(snapshot.clone());
        self.unwritten.set(0);
        index
            .write()
            .map_err(TapeError::git("write snapshot index"))
    }

    /// Brings the private index up to the worktree in one walk: new and changed files are
    /// added (hashed), deleted ones removed; unchanged files are skipped on their stat data.
    /// (`add_all` then `update_all` would walk the worktree twice.)
    fn scan_worktree(&self, index: &mut Index) -> Result<()> {
        let mut options = DiffOptions::new();
        options
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_typechange(true)
            .update_index(true);
        let diff = self
            .repo
            .diff_index_to_workdir(Some(index), Some(&mut options))
            .map_err(TapeError::git("scan worktree"))?;
        // Collected first: the index is edited below, and the diff was made from it.
        let changes: Vec<(Delta, PathBuf)> = diff
            .deltas()
            .filter(|delta| {
                // A nested repository (or an untracked folder git would not descend into)
                // is not a file; `add_all` skips those too.
                !matches!(delta.new_file().mode(), FileMode::Tree | FileMode::Commit)
            })
            .filter_map(|delta| {
                let path = delta
                    .new_file()
                    .path()
                    .or_else(|| delta.old_file().path())?;
                Some((delta.status(), path.to_path_buf()))
            })
            .collect();
        drop(diff);
        for (status, path) in changes {
            match status {
                Delta::Deleted => index
                    .remove_path(&path)
                    .map_err(TapeError::git("drop deleted file from snapshot"))?,
                Delta::Added | Delta::Untracked | Delta::Modified | Delta::Typechange => index
                    .add_path(&path)
                    .map_err(TapeError::git("add file to snapshot"))?,
                _ => {}
            }
        }
        Ok(())
    }

    /// A unified patch from snapshot `a` to snapshot `b`.
    pub fn diff_trees(&self, a: &SnapshotRef, b: &SnapshotRef) -> Result<String> {
        let (old, new) = (self.find_tree(a)?, self.find_tree(b)?);
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&old), Some(&new), None)
            .map_err(TapeError::git("diff trees"))?;
        let mut patch = String::new();
        diff.print(DiffFormat::Patch, |_, _, line| {
            if matches!(line.origin(), '+' | '-' | ' ') {
                patch.push(line.origin());
            }
            patch.push_str(&String::from_utf8_lossy(line.content()));
            true
        })
        .map_err(TapeError::git("render patch"))?;
        Ok(patch)
    }

    /// A separate checkout of the project at `snapshot` in `new_dir` (a new repository that
    /// fetched the project's branches and the snapshot, HEAD detached at the snapshot), so a
    /// fork can run beside its parent.
    pub fn fork_worktree(&self, snapshot: &SnapshotRef, new_dir: &Path) -> Result<Repository> {
        let fork = Repository::init(new_dir).map_err(TapeError::git("create fork repository"))?;
        let source = self.repo.path().to_string_lossy().into_owned();
        let mut remote = fork
            .remote_anonymous(&source)
            .map_err(TapeError::git("reach parent repository"))?;
        let snapshot_ref = format!("{}{}", self.snapshot_ref_prefix(), snapshot.commit);
        let specs = [
            "+refs/heads/*:refs/heads/*".to_owned(),
            format!("+{snapshot_ref}:refs/baton/fork-base"),
        ];
        remote
            .fetch(&specs, None, None)
            .map_err(TapeError::git("fetch into fork"))?;
        drop(remote);
        let commit =
            Oid::from_str(&snapshot.commit).map_err(TapeError::git("parse snapshot commit"))?;
        fork.set_head_detached(commit)
            .map_err(TapeError::git("point fork HEAD at snapshot"))?;
        fork.checkout_head(Some(CheckoutBuilder::new().force()))
            .map_err(TapeError::git("check out fork"))?;
        ensure_excluded(&fork)?;
        Ok(fork)
    }

    fn find_tree(&self, snapshot: &SnapshotRef) -> Result<git2::Tree<'_>> {
        let id = Oid::from_str(&snapshot.tree).map_err(TapeError::git("parse snapshot tree id"))?;
        self.repo.find_tree(id).map_err(TapeError::git(
            "find snapshot tree (was it garbage-collected?)",
        ))
    }

    /// Where the private index lives.
    pub fn index_path(&self) -> &Path {
        &self.index_path
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        if self.unwritten.get() > 0
            && let Ok(mut index) = self.repo.index()
        {
            // Best effort: the index is only a cache of file stats.
            let _ = index.write();
        }
    }
}

/// The lock file git and libgit2 take beside `path` while rewriting it.
fn lock_file_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// libgit2 by default checks, for every entry of every tree it writes, that the entry's
/// object exists: one loose-object lookup (a path walk and `access`) per file in each
/// changed folder, most of a snapshot's time in a folder of hundreds of files. Every entry
/// of a snapshot tree is an object the index just hashed or an earlier snapshot wrote, so
/// the check finds nothing here. The setting is process-wide; baton's other git writes
/// (session commits) build trees from the same kind of index.
fn skip_object_existence_checks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| git2::opts::strict_object_creation(false));
}

/// Adds `/.baton/` to `.git/info/exclude` so baton's own files never enter a snapshot.
fn ensure_excluded(repo: &Repository) -> Result<()> {
    let info = repo.path().join("info");
    let exclude = info.join("exclude");
    let current = std::fs::read_to_string(&exclude).unwrap_or_default();
    if current.lines().any(|l| l.trim() == EXCLUDE_LINE) {
        return Ok(());
    }
    std::fs::create_dir_all(&info).map_err(TapeError::io("create", &info))?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&exclude)
        .map_err(TapeError::io("open", &exclude))?;
    let sep = if current.is_empty() || current.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    writeln!(file, "{sep}{EXCLUDE_LINE}").map_err(TapeError::io("write", &exclude))
}
