//! Checkpoints: the thread's state as of a step, with a git snapshot of its worktree,
//! durably on the tape.
//!
//! An agent step's snapshot is taken off the step's critical path. When the step's tools are
//! done (their frames written), the snapshot starts in the blocking pool and the step ends;
//! the next step asks the model meanwhile, and the checkpoint frame is written as soon as the
//! answer is back and the snapshot done ("settled"), before anything of the next step is
//! recorded or run. Nothing of baton's touches the worktree in between. A crash before the
//! settle leaves the step without its checkpoint, exactly like a crash during its tools:
//! `resume` goes back to the checkpoint before and runs the step again with its recorded
//! model answer.
//!
//! One fsync makes the step's tool frames, its checkpoint and the next model answer durable
//! together, before the next step's tools run: the frames of a step without a checkpoint
//! are never used by `resume`, so they need no fsync of their own. Written to the file at
//! the step's end, they survive a kill in any case.
//!
//! Checkpoints at session starts and ends, where the harness itself writes files, take
//! their snapshot at once and scan the whole worktree.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use baton_tape::{SnapshotRef, Snapshotter, StepNo};

use super::ThreadRunner;
use super::encode::StateEncoder;
use super::step::Touched;
use crate::error::HarnessError;
use crate::failpoint::failpoint;

/// A step whose tools named every file they wrote is snapshotted from those paths alone;
/// every this-many such steps the whole worktree is scanned anyway, so what changed behind
/// the tools' backs (a dev server writing its data file) is not missed for long.
const FULL_SCAN_EVERY: u32 = 16;

/// A snapshotter shared with the blocking task that takes a step's snapshot.
type SharedSnapshotter = Arc<Mutex<Snapshotter>>;

/// The runner's checkpointing: worktree snapshots, the checkpoint that waits for its
/// snapshot, the state encoder, and what the current step's tools touched.
pub(super) struct Checkpoints {
    /// The thread's snapshotter, shared with the blocking task that takes a step's snapshot.
    snapshots: SharedSnapshotter,
    /// The last step's checkpoint, written once its snapshot is done.
    pending: Option<PendingCheckpoint>,
    /// Writes each checkpoint's state as a delta against the one before.
    encoder: StateEncoder,
    /// What the current step's tools may have changed, for its snapshot.
    pub(super) touched: Touched,
    /// Snapshots taken from touched paths since the last full worktree scan.
    partial_snapshots: u32,
}

impl Checkpoints {
    pub(super) fn new(snapshotter: Snapshotter) -> Self {
        Checkpoints {
            snapshots: Arc::new(Mutex::new(snapshotter)),
            pending: None,
            encoder: StateEncoder::default(),
            touched: Touched::default(),
            partial_snapshots: 0,
        }
    }
}

/// A step whose snapshot is being taken and whose checkpoint is not written yet.
#[derive(Debug)]
pub(super) struct PendingCheckpoint {
    step: StepNo,
    snapshot: tokio::task::JoinHandle<Result<(SnapshotRef, std::time::Duration), HarnessError>>,
}

impl ThreadRunner {
    /// Checkpoints now, with a snapshot of the whole worktree.
    pub(super) async fn checkpoint(&mut self) -> Result<(), HarnessError> {
        self.settle().await?;
        self.checkpoints.partial_snapshots = 0;
        let step = StepNo(self.state.step);
        failpoint("checkpoint.before_snapshot");
        let started = Instant::now();
        let snapshot =
            lock(&self.checkpoints.snapshots)?.snapshot(step, &snapshot_message(step))?;
        let took = started.elapsed();
        self.timing.current.snapshot += took;
        self.timing.current.snapshot_wait += took;
        self.write_checkpoint(step, snapshot, Durability::Now)
    }

    /// Ends an agent step: starts its snapshot in the background (from the paths its tools
    /// named when they all did, of the whole worktree otherwise); [`Self::settle`] writes
    /// the checkpoint.
    pub(super) fn checkpoint_step(&mut self) -> Result<(), HarnessError> {
        self.recording.tape.flush()?;
        let step = StepNo(self.state.step);
        let paths = match std::mem::take(&mut self.checkpoints.touched) {
            Touched::Paths(paths) if self.checkpoints.partial_snapshots < FULL_SCAN_EVERY => {
                self.checkpoints.partial_snapshots += 1;
                Some(paths)
            }
            Touched::Paths(_) | Touched::Anything => {
                self.checkpoints.partial_snapshots = 0;
                None
            }
        };
        let snapshots = Arc::clone(&self.checkpoints.snapshots);
        let snapshot = tokio::task::spawn_blocking(move || {
            failpoint("checkpoint.before_snapshot");
            let started = Instant::now();
            let snapshots = lock(&snapshots)?;
            let message = snapshot_message(step);
            let snapshot = match paths {
                Some(paths) => snapshots.snapshot_paths(step, &message, &paths)?,
                None => snapshots.snapshot(step, &message)?,
            };
            Ok((snapshot, started.elapsed()))
        });
        self.checkpoints.pending = Some(PendingCheckpoint { step, snapshot });
        Ok(())
    }

    /// Writes the checkpoint of the step whose snapshot is under way, once it is done,
    /// durable at the caller's next sync (every caller records and syncs right after). A
    /// no-op when no checkpoint is pending.
    pub(super) async fn settle(&mut self) -> Result<(), HarnessError> {
        let Some(pending) = self.checkpoints.pending.take() else {
            return Ok(());
        };
        let waited = Instant::now();
        let (snapshot, took) = pending.snapshot.await.map_err(|join| {
            HarnessError::SnapshotTask(format!(
                "the worktree snapshot of step {} did not finish ({join}); `baton resume` goes on from the checkpoint before it",
                pending.step
            ))
        })??;
        self.timing.current.snapshot_wait += waited.elapsed();
        self.timing.current.snapshot += took;
        self.write_checkpoint(pending.step, snapshot, Durability::AtNextSync)
    }

    /// Records the state as of `step` with its snapshot.
    fn write_checkpoint(
        &mut self,
        step: StepNo,
        snapshot: SnapshotRef,
        durability: Durability,
    ) -> Result<(), HarnessError> {
        failpoint("checkpoint.before_frame");
        let tape = &mut self.recording.tape;
        self.checkpoints
            .encoder
            .with_value(&mut self.state, |value| match durability {
                Durability::Now => tape.checkpoint(step, value, Some(snapshot)),
                Durability::AtNextSync => tape.checkpoint_unsynced(step, value, Some(snapshot)),
            })??;
        failpoint("checkpoint.after_frame");
        Ok(())
    }

    /// The snapshotter, for work that must see the worktree as it is now (after a settle).
    pub(super) fn snapshotter(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, Snapshotter>, HarnessError> {
        lock(&self.checkpoints.snapshots)
    }
}

/// When a checkpoint frame must be on disk.
#[derive(Debug, Clone, Copy)]
enum Durability {
    /// Before `write_checkpoint` returns.
    Now,
    /// With whatever the caller records next (one fsync for both).
    AtNextSync,
}

/// Locks the snapshotter; a snapshot task that panicked holding it poisons it for good.
fn lock(
    snapshots: &SharedSnapshotter,
) -> Result<std::sync::MutexGuard<'_, Snapshotter>, HarnessError> {
    snapshots.lock().map_err(|_| {
        HarnessError::SnapshotTask(
            "an earlier worktree snapshot failed midway; `baton resume` goes on from the last checkpoint".to_owned(),
        )
    })
}

fn snapshot_message(step: StepNo) -> String {
    format!("step {step}")
}
