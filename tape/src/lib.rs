//! `baton-tape`: the persistence core that lets a thread never lose its place.
//!
//! A thread is one append-only JSONL tape (`tape.jsonl`, format in `FORMAT.md`) of
//! harness events and state checkpoints. Checkpoints form a tree of JSON deltas with an
//! occasional full state; rewinds move the head without deleting anything. Beside the
//! tape: a rebuildable index, a lock file, and worktree snapshots on hidden git refs.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "bench")]
pub mod bench;
mod delta;
mod error;
mod gc;
mod ids;
mod index;
mod lazy;
mod lock;
mod paths;
mod record;
mod redact;
mod relink;
mod snapshot;
mod tape;
mod writer;

pub use delta::{AppendOnlyPath, Delta, Differ, Op, Seg, apply, apply_in_place, diff, pointer};
pub use error::{Result, TapeError};
pub use gc::{GcPolicy, GcReport};
pub use ids::{CheckpointId, Seq, StepNo, ThreadId};
pub use index::{LiveCheckpoint, Placement, StateReader};
pub use lazy::RawState;
pub use lock::{LockHolder, ThreadLock};
pub use paths::{ThreadPaths, list_threads, threads_dir};
pub use record::{
    Body, Checkpoint, FORMAT_VERSION, ParentRef, Record, Rewind, SnapshotRef, StateBlob, TapeHeader,
};
pub use redact::{REDACTED, Redactor};
pub use snapshot::Snapshotter;
pub use tape::{At, Recovery, Tape, read_header};
pub use writer::{Head, Resumed, TapeOptions, TapeWriter};
