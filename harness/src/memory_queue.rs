//! Memories that could not be written because the Qdrant server stopped answering wait in
//! `.baton/memory-pending.jsonl` (fsynced, one record per line) and are written when it
//! answers again: after the next write that succeeds, or when memory is next opened. The
//! thread goes on meanwhile, with one warning per outage. Point ids are deterministic, so
//! a replay cut short and done again duplicates nothing.

use crate::layout::ProjectLayout;
use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use baton_memory::{Memory, MemoryError, MemoryRecord};

/// The queue of one project (its home folder's `.baton/`).
#[derive(Debug)]
pub struct PendingMemories {
    path: PathBuf,
    /// Whether the current outage was reported: one warning each, however many writes fail.
    warned: AtomicBool,
}

/// Whether an error means the store could not be reached (worth queueing and retrying), as
/// opposed to a record it refuses (which a retry would refuse again).
pub fn is_unreachable(error: &MemoryError) -> bool {
    matches!(error, MemoryError::Server { .. })
}

impl PendingMemories {
    pub fn new(home: &Path) -> PendingMemories {
        PendingMemories {
            path: ProjectLayout::of(home).pending_memories(),
            warned: AtomicBool::new(false),
        }
    }

    /// Where the queue is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether records are waiting.
    pub fn waiting(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| m.len() > 0)
    }

    /// Reports an unreachable store, once per outage.
    pub fn report(&self, error: &MemoryError) {
        if !self.warned.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                %error,
                "memory is unreachable; the thread goes on, and memories are queued in {} and written when it answers again",
                self.path.display()
            );
        }
    }

    /// Appends records to the queue, durably.
    pub fn push(&self, records: &[MemoryRecord]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = File::options().create(true).append(true).open(&self.path)?;
        file.lock()?;
        let mut text = String::new();
        for record in records {
            text.push_str(&serde_json::to_string(record).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        file.write_all(text.as_bytes())?;
        file.sync_data()
    }

    /// Writes the waiting records into `memory` and empties the queue; returns how many.
    /// On failure they stay queued. Another process replaying the same queue is left to it.
    pub async fn replay(&self, memory: &Memory) -> Result<usize, MemoryError> {
        let io = |source| MemoryError::Io {
            what: "replaying queued memories from",
            path: self.path.clone(),
            source,
        };
        let mut file = match File::options().read(true).write(true).open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(e)),
        };
        if file.try_lock().is_err() {
            return Ok(0);
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io)?;
        // A line cut short by a kill during its append is the only one that cannot parse;
        // its records were never acknowledged as queued, and the session that wrote it
        // remembers them again when it is resumed.
        let records: Vec<MemoryRecord> = text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let count = records.len();
        if count > 0 {
            memory.remember(records).await?;
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.sync_data().map_err(io)?;
        if self.warned.swap(false, Ordering::AcqRel) || count > 0 {
            tracing::info!(count, "memory answers again; queued memories written");
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_memory::MemoryKind;

    #[test]
    fn pushed_records_wait_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let queue = PendingMemories::new(dir.path());
        assert!(!queue.waiting());
        let record = |text: &str| MemoryRecord {
            kind: MemoryKind::Commit,
            text: text.into(),
            project: "p".into(),
            thread: "t".into(),
            session: Some(1),
            step: None,
            tape_seq: None,
            feature: None,
            commit: None,
            file: None,
            at: chrono::Utc::now(),
        };
        queue.push(&[record("one"), record("two")]).unwrap();
        queue.push(&[record("three")]).unwrap();
        assert!(queue.waiting());
        let text = std::fs::read_to_string(queue.path()).unwrap();
        let parsed: Vec<MemoryRecord> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let texts: Vec<&str> = parsed.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["one", "two", "three"]);
    }
}
