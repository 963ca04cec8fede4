//! Reading a tape: header check, record parsing, torn-tail detection, and the in-memory
//! checkpoint tree (live branch, state at a checkpoint or step, events after a checkpoint).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::delta::apply_in_place;
use crate::error::{Result, TapeError};
use crate::ids::{CheckpointId, Seq, StepNo};
use crate::record::{Body, Checkpoint, FORMAT_VERSION, Record, RecordHead, StateBlob, TapeHeader};

/// What was cut off a torn tail (a crash mid-write, or garbage appended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes after the last whole record.
    pub dropped_bytes: u64,
    /// Lines (whole or partial) among them.
    pub dropped_lines: usize,
    /// Length of the tape up to and including the last whole record.
    pub kept_bytes: u64,
}

/// A point of the thread to read the state at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// A given checkpoint (on any branch).
    Checkpoint(CheckpointId),
    /// The last checkpoint at or before a step on the live branch.
    Step(StepNo),
}

impl From<CheckpointId> for At {
    fn from(id: CheckpointId) -> Self {
        Self::Checkpoint(id)
    }
}

impl From<StepNo> for At {
    fn from(step: StepNo) -> Self {
        Self::Step(step)
    }
}

/// A whole tape in memory.
#[derive(Debug, Clone)]
pub struct Tape<E> {
    path: PathBuf,
    header: TapeHeader,
    header_len: u64,
    records: Vec<Record<E>>,
    /// Byte offset and length (newline included) of each record's line.
    spans: Vec<(u64, u64)>,
    positions: HashMap<CheckpointId, usize>,
    head: Option<CheckpointId>,
}

impl<E: DeserializeOwned> Tape<E> {
    /// Reads the tape at `path`. A torn tail is left on disk and reported as a
    /// [`Recovery`]; corruption followed by intact records is an error.
    pub fn open(path: &Path) -> Result<(Self, Option<Recovery>)> {
        let bytes = std::fs::read(path).map_err(TapeError::io("read tape", path))?;
        Self::parse(path, &bytes)
    }

    pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<(Self, Option<Recovery>)> {
        let (header, header_len) = parse_header(path, bytes)?;
        let mut tape = Self {
            path: path.to_path_buf(),
            header,
            header_len,
            records: Vec::new(),
            spans: Vec::new(),
            positions: HashMap::new(),
            head: None,
        };
        let mut offset = header_len as usize;
        let mut line_no = 1;
        while offset < bytes.len() {
            line_no += 1;
            let rest = &bytes[offset..];
            let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
                // No newline: the write was cut, the record was never acknowledged.
                return Ok(tape.torn(offset, bytes, 1));
            };
            let line = &rest[..newline];
            if let Err(reason) = tape.push_line(line, offset as u64, newline as u64 + 1) {
                let later = &bytes[offset + newline + 1..];
                if let Some(extra) = intact_record_after(later) {
                    return Err(TapeError::Corrupt {
                        path: path.to_path_buf(),
                        line: line_no,
                        reason: format!("{reason}; line {} is intact", line_no + extra),
                    });
                }
                let lines = 1 + later
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count();
                return Ok(tape.torn(offset, bytes, lines));
            }
            offset += newline + 1;
        }
        Ok((tape, None))
    }

    fn torn(self, offset: usize, bytes: &[u8], dropped_lines: usize) -> (Self, Option<Recovery>) {
        let recovery = Recovery {
            dropped_bytes: (bytes.len() - offset) as u64,
            dropped_lines,
            kept_bytes: offset as u64,
        };
        tracing::warn!(
            tape = %self.path.display(),
            dropped_bytes = recovery.dropped_bytes,
            dropped_lines,
            "torn tail on the tape (interrupted write or appended garbage); keeping the records before it"
        );
        (self, Some(recovery))
    }

    fn push_line(&mut self, line: &[u8], offset: u64, len: u64) -> std::result::Result<(), String> {
        let record: Record<E> =
            serde_json::from_slice(line).map_err(|e| format!("not a record: {e}"))?;
        if let Some(last) = self.records.last()
            && record.seq <= last.seq
        {
            return Err(format!(
                "sequence number {} does not follow {}",
                record.seq, last.seq
            ));
        }
        match &record.body {
            Body::Checkpoint(cp) => {
                if let Some(parent) = cp.parent
                    && !self.positions.contains_key(&parent)
                {
                    return Err(format!(
                        "checkpoint {} names unknown parent {parent}",
                        cp.id
                    ));
                }
                self.positions.insert(cp.id, self.records.len());
                self.head = Some(cp.id);
            }
            Body::Rewind(rewind) => {
                if !self.positions.contains_key(&rewind.to) {
                    return Err(format!("rewind to unknown checkpoint {}", rewind.to));
                }
                self.head = Some(rewind.to);
            }
            Body::Event(_) => {}
        }
        self.records.push(record);
        self.spans.push((offset, len));
        Ok(())
    }
}

/// Reads and version-checks the header of the tape at `path`, without reading its records.
pub fn read_header(path: &Path) -> Result<TapeHeader> {
    let mut file = File::open(path).map_err(TapeError::io("open tape", path))?;
    let len = file
        .metadata()
        .map_err(TapeError::io("stat tape", path))?
        .len();
    read_header_of(&mut file, path, len).map(|(header, _)| header)
}

/// The header of the tape open as `file` (`len` bytes long) and its length with the newline.
pub(crate) fn read_header_of(file: &mut File, path: &Path, len: u64) -> Result<(TapeHeader, u64)> {
    let mut head = Vec::with_capacity(4096);
    file.take(4096)
        .read_to_end(&mut head)
        .map_err(TapeError::io("read tape", path))?;
    parse_header(path, &head).or_else(|err| {
        if head.len() as u64 == len {
            return Err(err);
        }
        // A header longer than 4 KiB (big `meta`): read the whole file once.
        let all = std::fs::read(path).map_err(TapeError::io("read tape", path))?;
        parse_header(path, &all)
    })
}

/// Parses and version-checks the header line; returns it and its length with the newline.
pub(crate) fn parse_header(path: &Path, bytes: &[u8]) -> Result<(TapeHeader, u64)> {
    let bad = |reason: String| TapeError::BadHeader {
        path: path.to_path_buf(),
        reason,
    };
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("the file has no complete first line".into()))?;
    let value: Value =
        serde_json::from_slice(&bytes[..end]).map_err(|e| bad(format!("not JSON: {e}")))?;
    let version = value
        .get("baton_tape")
        .ok_or_else(|| bad("no `baton_tape` field".into()))?;
    if version.as_u64() != Some(u64::from(FORMAT_VERSION)) {
        return Err(TapeError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version.to_string(),
            supported: FORMAT_VERSION.to_string(),
        });
    }
    let header = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    Ok((header, end as u64 + 1))
}

/// How many lines after the bad one the first intact record is, if there is one.
fn intact_record_after(bytes: &[u8]) -> Option<usize> {
    let mut lines = bytes.split(|&b| b == b'\n').peekable();
    let mut n = 0;
    while let Some(line) = lines.next() {
        n += 1;
        let complete = lines.peek().is_some();
        if complete && serde_json::from_slice::<RecordHead>(line).is_ok() {
            return Some(n);
        }
    }
    None
}

impl<E> Tape<E> {
    /// The tape file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header line.
    pub fn header(&self) -> &TapeHeader {
        &self.header
    }

    /// Every record, in tape order (abandoned branches included).
    pub fn records(&self) -> &[Record<E>] {
        &self.records
    }

    /// Every checkpoint, in tape order.
    pub fn checkpoints(&self) -> impl Iterator<Item = &Checkpoint> {
        self.records.iter().filter_map(Record::checkpoint)
    }

    /// A checkpoint by id.
    pub fn checkpoint(&self, id: CheckpointId) -> Result<&Checkpoint> {
        self.positions
            .get(&id)
            .and_then(|&i| self.records[i].checkpoint())
            .ok_or(TapeError::UnknownCheckpoint { id })
    }

    /// The checkpoint the thread continues from (the last one, or a rewind's target).
    pub fn head(&self) -> Option<&Checkpoint> {
        self.head.and_then(|id| self.checkpoint(id).ok())
    }

    /// The last sequence number used (0 for an empty tape).
    pub fn last_seq(&self) -> Seq {
        self.records.last().map_or(Seq(0), |r| r.seq)
    }

    /// Length of the header line in bytes, newline included.
    pub(crate) fn header_len(&self) -> u64 {
        self.header_len
    }

    /// Byte span of each record's line.
    pub(crate) fn spans(&self) -> &[(u64, u64)] {
        &self.spans
    }

    /// The current history: checkpoints from the root to the head, following parents.
    pub fn live_branch(&self) -> Vec<&Checkpoint> {
        let mut branch = Vec::new();
        let mut next = self.head;
        while let Some(id) = next {
            let Ok(cp) = self.checkpoint(id) else { break };
            branch.push(cp);
            next = cp.parent;
        }
        branch.reverse();
        branch
    }

    /// The checkpoint `at` names: itself, or the last one at or before a step on the live branch.
    pub fn resolve(&self, at: impl Into<At>) -> Result<CheckpointId> {
        match at.into() {
            At::Checkpoint(id) => self.checkpoint(id).map(|cp| cp.id),
            At::Step(step) => self
                .live_branch()
                .into_iter()
                .rev()
                .find(|cp| cp.step <= step)
                .map(|cp| cp.id)
                .ok_or(TapeError::NoCheckpointAtStep { step }),
        }
    }

    /// The thread state at a checkpoint or step: the nearest full state plus the deltas after it.
    pub fn state_at(&self, at: impl Into<At>) -> Result<Value> {
        let mut deltas: Vec<&crate::delta::Delta> = Vec::new();
        let mut id = self.resolve(at)?;
        loop {
            let cp = self.checkpoint(id)?;
            match &cp.state {
                StateBlob::Full(full) => {
                    let mut state = full.clone();
                    for delta in deltas.iter().rev() {
                        apply_in_place(&mut state, delta)?;
                    }
                    return Ok(state);
                }
                StateBlob::Delta(delta) => {
                    deltas.push(delta);
                    id = cp.parent.ok_or(TapeError::UnknownCheckpoint { id })?;
                }
            }
        }
    }

    /// The events recorded after checkpoint `id` and before the next checkpoint or rewind.
    pub fn events_after(&self, id: CheckpointId) -> Result<&[Record<E>]> {
        let start = *self
            .positions
            .get(&id)
            .ok_or(TapeError::UnknownCheckpoint { id })?
            + 1;
        let len = self.records[start..]
            .iter()
            .position(|r| !matches!(r.body, Body::Event(_)))
            .unwrap_or(self.records.len() - start);
        Ok(&self.records[start..start + len])
    }

    /// The events after the last checkpoint or rewind: work of an interrupted step that a
    /// resumed thread can reuse (e.g. model answers already paid for).
    pub fn tail_events(&self) -> &[Record<E>] {
        &self.records[self.tail_start()..]
    }

    /// The same events, taken out of the tape.
    pub fn into_tail_events(mut self) -> Vec<Record<E>> {
        self.records.split_off(self.tail_start())
    }

    fn tail_start(&self) -> usize {
        self.records
            .iter()
            .rposition(|r| !matches!(r.body, Body::Event(_)))
            .map_or(0, |i| i + 1)
    }
}
