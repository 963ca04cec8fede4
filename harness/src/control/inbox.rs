//! The durable half of the control channel: `inbox.jsonl` in the thread's folder, one
//! request a line, appended and fsynced before the person is told it was taken.
//!
//! Entries are numbered by their line (0-based); the runner keeps the count it has applied
//! in its checkpointed state. A torn last line (a kill mid-append) is not an entry: it is
//! skipped until a complete line follows it, and then ignored for good.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Request;
use crate::error::HarnessError;

/// One request in the inbox, with when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    #[serde(flatten)]
    pub request: Request,
    /// RFC 3339 time of writing (shown in history; not used for ordering).
    pub at: String,
}

/// A thread's inbox file.
#[derive(Debug, Clone)]
pub struct Inbox {
    path: PathBuf,
}

impl Inbox {
    /// The inbox of the thread whose folder is `thread_dir`.
    pub fn new(thread_dir: &Path) -> Inbox {
        Inbox {
            path: thread_dir.join("inbox.jsonl"),
        }
    }

    /// Appends a request durably. Appends from several processes interleave by whole lines
    /// (one `write` of a line under `O_APPEND`).
    pub fn append(&self, request: &Request) -> Result<(), HarnessError> {
        let entry = InboxEntry {
            request: request.clone(),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let mut line = serde_json::to_vec(&entry)?;
        line.push(b'\n');
        let io = |source| HarnessError::io(&self.path, source);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(io)?;
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)
    }

    /// The entries from number `from` on (complete lines only). A line that does not parse
    /// counts as an entry (so numbering stays stable) but is skipped.
    pub fn read_from(&self, from: u64) -> Result<Vec<(u64, InboxEntry)>, HarnessError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(HarnessError::io(&self.path, source)),
        };
        Ok(complete_lines(&bytes)
            .enumerate()
            .skip(usize::try_from(from).unwrap_or(usize::MAX))
            .filter_map(|(number, line)| {
                let entry = serde_json::from_slice::<InboxEntry>(line).ok()?;
                Some((number as u64, entry))
            })
            .collect())
    }

    /// How many entries (complete lines) the inbox holds.
    pub fn entries(&self) -> u64 {
        std::fs::read(&self.path).map_or(0, |bytes| complete_lines(&bytes).count() as u64)
    }
}

/// The newline-terminated lines of `bytes`, without their newlines; a torn tail (no
/// newline yet) is left out.
fn complete_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    bytes[..end]
        .split_inclusive(|&b| b == b'\n')
        .map(|line| &line[..line.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::InstructionRole;

    #[test]
    fn entries_are_numbered_by_line_and_a_torn_tail_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Inbox::new(dir.path());
        assert_eq!(inbox.entries(), 0);
        inbox.append(&Request::Pause).unwrap();
        inbox
            .append(&Request::Instruct {
                text: "use a <ul>".into(),
                role: InstructionRole::User,
            })
            .unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join("inbox.jsonl"))
            .unwrap();
        file.write_all(b"{\"op\":\"sto").unwrap();
        assert_eq!(inbox.entries(), 2);
        let entries = inbox.read_from(1).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, 1);
        assert!(matches!(entries[0].1.request, Request::Instruct { .. }));
    }

    #[test]
    fn an_unreadable_line_keeps_its_number() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("inbox.jsonl"),
            "not json\n{\"op\":\"stop\",\"at\":\"t\"}\n",
        )
        .unwrap();
        let entries = Inbox::new(dir.path()).read_from(0).unwrap();
        assert_eq!(
            entries,
            vec![(
                1,
                InboxEntry {
                    request: Request::Stop,
                    at: "t".into()
                }
            )]
        );
    }
}
