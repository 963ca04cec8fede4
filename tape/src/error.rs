//! The one error type of `baton-tape`: every failure names the file or thread it
//! concerns and, where there is one, the fix.

use std::path::PathBuf;

use crate::ids::{CheckpointId, StepNo};

/// Result alias used across the crate.
pub type Result<T, E = TapeError> = std::result::Result<T, E>;

/// Everything that can go wrong while recording, reading or snapshotting a thread.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TapeError {
    /// A filesystem operation failed; the path says where.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("open", "write", ...).
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A thread id does not follow `[A-Za-z0-9._-]{1,64}`.
    #[error("invalid thread id {id:?}: use 1 to 64 characters from A-Z a-z 0-9 . _ -")]
    InvalidThreadId {
        /// The rejected text.
        id: String,
    },

    /// The tape was written by a format version this build does not read.
    #[error(
        "{}: tape format version {found} is not supported (this baton reads version {supported}); upgrade baton to read it",
        path.display()
    )]
    UnsupportedVersion {
        /// The tape file.
        path: PathBuf,
        /// The version found in the header.
        found: String,
        /// The versions this build reads.
        supported: String,
    },

    /// The first line is not a tape header (empty file, not JSON, missing fields).
    #[error("{}: line 1 is not a baton tape header ({reason}); is this a baton tape file?", path.display())]
    BadHeader {
        /// The tape file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A record in the middle of the tape is unreadable while later records are intact;
    /// dropping it would silently lose history, so opening stops here.
    #[error(
        "{}: line {line} is corrupt ({reason}) but later lines are intact; baton will not drop history silently: \
         repair or remove that line by hand, or restore the file from a backup",
        path.display()
    )]
    Corrupt {
        /// The tape file.
        path: PathBuf,
        /// 1-based line number of the bad record.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A record, header or state could not be encoded as JSON.
    #[error("encoding a tape record as JSON: {0}")]
    Encode(#[source] serde_json::Error),

    /// A delta does not fit the state it is applied to (the tape or the caller's base is wrong).
    #[error("delta does not apply at {path}: {reason}")]
    DeltaMismatch {
        /// JSON-pointer-like path of the failing operation.
        path: String,
        /// Why it does not fit.
        reason: &'static str,
    },

    /// A checkpoint id names no checkpoint of this tape.
    #[error("no checkpoint {id} on this tape; `baton show` lists the checkpoints")]
    UnknownCheckpoint {
        /// The id asked for.
        id: CheckpointId,
    },

    /// No checkpoint at or before a step exists on the live branch.
    #[error(
        "no checkpoint at or before step {step} on the live branch; the thread has not reached it yet"
    )]
    NoCheckpointAtStep {
        /// The step asked for.
        step: StepNo,
    },

    /// Another live process holds the thread lock.
    #[error(
        "thread {thread} is already being run by process {pid} on {host} (started {started}); wait for it or stop it"
    )]
    Locked {
        /// The thread.
        thread: String,
        /// Process id of the holder.
        pid: i32,
        /// Host name of the holder.
        host: String,
        /// When the holder started (RFC 3339).
        started: String,
    },

    /// A libgit2 call failed.
    #[error("git {action}: {source}")]
    Git {
        /// What was being done.
        action: &'static str,
        /// The libgit2 error.
        #[source]
        source: git2::Error,
    },

    /// Snapshots need the project to be a git repository.
    #[error("{} is not a git repository; run `git init` there (or `baton init`) before taking snapshots", path.display())]
    NoRepository {
        /// The project folder.
        path: PathBuf,
    },

    /// A `git` command line (used for gc) failed.
    #[error(
        "`git {args}` failed ({status}): {stderr}; is git installed and the repository healthy?"
    )]
    GitCommand {
        /// The arguments given.
        args: String,
        /// Exit status.
        status: String,
        /// What git printed.
        stderr: String,
    },
}

impl TapeError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn git(action: &'static str) -> impl FnOnce(git2::Error) -> Self {
        move |source| Self::Git { action, source }
    }
}
