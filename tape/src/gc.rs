//! Retention of worktree snapshots: keep the last N, those younger than an age, and N
//! evenly spaced milestones, plus protected checkpoints (fork bases, the head); drop the
//! other snapshot refs and let `git gc --prune=now` free their objects.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Result, TapeError};
use crate::ids::CheckpointId;
use crate::snapshot::Snapshotter;
use crate::tape::Tape;

/// Which snapshots to keep. All `None` keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcPolicy {
    /// Keep the snapshots of the last N checkpoints that have one.
    pub keep_last: Option<usize>,
    /// Keep snapshots younger than this.
    pub keep_age: Option<Duration>,
    /// Keep N snapshots spread evenly over the thread (first and last included).
    pub milestones: Option<usize>,
}

/// What a gc run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Snapshots still referenced.
    pub snapshots_kept: usize,
    /// Snapshot refs removed.
    pub snapshots_dropped: usize,
    /// Shrinkage of the `.git` folder.
    pub bytes_freed: u64,
}

impl Snapshotter {
    /// Drops the snapshots of `tape`'s checkpoints outside `policy`, except those of
    /// `protected` checkpoints and the head checkpoint; then prunes.
    pub fn gc<E>(
        &self,
        tape: &Tape<E>,
        policy: &GcPolicy,
        protected: &[CheckpointId],
    ) -> Result<GcReport> {
        let keep = commits_to_keep(tape, policy, protected);
        let prefix = self.snapshot_ref_prefix();
        let mut dropped = 0;
        let mut kept = 0;
        let refs = self
            .repo
            .references_glob(&format!("{prefix}*"))
            .map_err(TapeError::git("list snapshot refs"))?;
        let mut doomed = Vec::new();
        for reference in refs {
            let reference = reference.map_err(TapeError::git("read snapshot ref"))?;
            let commit = reference
                .target()
                .map(|id| id.to_string())
                .unwrap_or_default();
            if keep.contains(&commit) {
                kept += 1;
            } else {
                doomed.push(reference);
            }
        }
        for mut reference in doomed {
            reference
                .delete()
                .map_err(TapeError::git("delete snapshot ref"))?;
            dropped += 1;
        }
        let git_dir = self.repo.path();
        let before = folder_size(git_dir);
        if dropped > 0 {
            let workdir = self.repo.workdir().unwrap_or(git_dir);
            run_git(workdir, &["gc", "--prune=now", "--quiet"])?;
        }
        let after = folder_size(git_dir);
        Ok(GcReport {
            snapshots_kept: kept,
            snapshots_dropped: dropped,
            bytes_freed: before.saturating_sub(after),
        })
    }
}

/// The snapshot commits `policy` keeps, plus those of `protected` checkpoints and the head.
fn commits_to_keep<E>(
    tape: &Tape<E>,
    policy: &GcPolicy,
    protected: &[CheckpointId],
) -> HashSet<String> {
    let with_snapshot: Vec<_> = tape
        .checkpoints()
        .filter(|cp| cp.snapshot.is_some())
        .collect();
    let at = |id: CheckpointId| {
        tape.records()
            .iter()
            .find(|r| r.seq.0 == id.0)
            .map(|r| r.at)
    };
    let n = with_snapshot.len();
    let keep_all =
        policy.keep_last.is_none() && policy.keep_age.is_none() && policy.milestones.is_none();
    let now = chrono::Utc::now();
    let mut keep = HashSet::new();
    for (i, cp) in with_snapshot.iter().enumerate() {
        let recent = policy.keep_last.is_some_and(|k| i + k >= n);
        let young = policy.keep_age.is_some_and(|age| {
            at(cp.id).is_some_and(|t| (now - t).to_std().is_ok_and(|elapsed| elapsed <= age))
        });
        let milestone = policy.milestones.is_some_and(|m| is_milestone(i, n, m));
        let pinned = protected.contains(&cp.id) || tape.head().is_some_and(|h| h.id == cp.id);
        if keep_all || recent || young || milestone || pinned {
            keep.extend(cp.snapshot.as_ref().map(|s| s.commit.clone()));
        }
    }
    keep
}

/// True when position `i` of `n` is one of `m` evenly spaced milestones.
fn is_milestone(i: usize, n: usize, m: usize) -> bool {
    match m {
        0 => false,
        1 => i + 1 == n,
        _ => (0..m).any(|k| (k * (n - 1) + (m - 1) / 2) / (m - 1) == i),
    }
}

fn run_git(dir: &Path, args: &[&str]) -> Result<()> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(TapeError::io("run git in", dir))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(TapeError::GitCommand {
            args: args.join(" "),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => folder_size(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::is_milestone;

    #[test]
    fn milestones_spread_evenly_with_both_ends() {
        let picked: Vec<usize> = (0..10).filter(|&i| is_milestone(i, 10, 4)).collect();
        assert_eq!(picked, vec![0, 3, 6, 9]);
        assert!(is_milestone(4, 5, 1));
        assert!(!(0..5).any(|i| is_milestone(i, 5, 0)));
    }
}
