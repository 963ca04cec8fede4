//! The checkpoint index beside a tape: for every checkpoint and rewind, its sequence
//! number, step, byte span on the tape and parent (or target). It lets "state at step N"
//! read only the nearest full state and the deltas after it. The index is a cache: it is
//! checked against the tape on load and rebuilt from the tape when missing, stale or corrupt.
//!
//! Format: the line `baton-index 2 <tape created>`, then one fixed-width binary entry per
//! checkpoint or rewind (see [`ENTRY_LEN`]), so loading 10,000 entries is a read and a
//! loop of integer decodes rather than text parsing.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use crate::delta::apply_measured;
use crate::error::{Result, TapeError};
use crate::ids::{CheckpointId, Seq, StepNo};
use crate::lazy::{RawCheckpoint, RawState};
use crate::paths::{ThreadPaths, open_private};
use crate::record::{Body, Kind, Record, RecordHead, SnapshotRef, StateBlob, TapeHeader};
use crate::tape::{At, Tape, read_header_of};

const INDEX_MAGIC: &str = "baton-index 2";

/// Bytes per entry: the kind (`F` full, `D` delta, `R` rewind), then seq, step, offset,
/// len and link (0: none; sequence numbers start at 1) as little-endian u64s.
const ENTRY_LEN: usize = 41;

/// What an index entry points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Full,
    Delta,
    Rewind,
}

/// One checkpoint or rewind on the tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub kind: EntryKind,
    pub seq: u64,
    pub step: u64,
    pub offset: u64,
    pub len: u64,
    /// Parent checkpoint (F/D) or rewind target (R).
    pub link: Option<u64>,
}

impl Entry {
    fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0; ENTRY_LEN];
        out[0] = match self.kind {
            EntryKind::Full => b'F',
            EntryKind::Delta => b'D',
            EntryKind::Rewind => b'R',
        };
        let fields = [
            self.seq,
            self.step,
            self.offset,
            self.len,
            self.link.unwrap_or(0),
        ];
        for (slot, field) in out[1..].chunks_exact_mut(8).zip(fields) {
            slot.copy_from_slice(&field.to_le_bytes());
        }
        out
    }

    /// `None` for bytes no entry encodes to (e.g. the zeros a crash can leave).
    fn decode(bytes: &[u8; ENTRY_LEN]) -> Option<Self> {
        let kind = match bytes[0] {
            b'F' => EntryKind::Full,
            b'D' => EntryKind::Delta,
            b'R' => EntryKind::Rewind,
            _ => return None,
        };
        let (fields, _) = bytes[1..].as_chunks::<8>();
        let [seq, step, offset, len, link] = fields else {
            return None;
        };
        Some(Self {
            kind,
            seq: u64::from_le_bytes(*seq),
            step: u64::from_le_bytes(*step),
            offset: u64::from_le_bytes(*offset),
            len: u64::from_le_bytes(*len),
            link: Some(u64::from_le_bytes(*link)).filter(|&l| l != 0),
        })
    }
}

/// The chain behind one state, for the writer's full-snapshot policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChainStats {
    /// Deltas since the nearest full state.
    pub deltas: usize,
    /// Bytes of those deltas' lines.
    pub delta_bytes: u64,
}

/// Checkpoint positions of one tape.
#[derive(Debug, Clone, Default)]
pub(crate) struct TapeIndex {
    /// In tape order, so sorted by `seq`.
    entries: Vec<Entry>,
    head: Option<u64>,
    /// Where the last entry's line ends on the tape.
    covered: u64,
    /// Length of the tape's header line: where the first step's events start.
    header_len: u64,
}

impl TapeIndex {
    pub fn push(&mut self, entry: Entry) {
        self.head = match entry.kind {
            EntryKind::Rewind => entry.link,
            EntryKind::Full | EntryKind::Delta => Some(entry.seq),
        };
        self.covered = entry.offset + entry.len;
        self.entries.push(entry);
    }

    pub fn head(&self) -> Option<CheckpointId> {
        self.head.map(CheckpointId)
    }

    pub fn checkpoint(&self, id: CheckpointId) -> Result<&Entry> {
        let last = self.entries.len().saturating_sub(1);
        self.position(id.0, last).map(|i| &self.entries[i])
    }

    /// Where checkpoint `seq` is among the entries, trying position `near` first: a parent
    /// is almost always the entry just before its child, so walking a branch back from its
    /// end costs no searches.
    fn position(&self, seq: u64, near: usize) -> Result<usize> {
        let found = if self.entries.get(near).is_some_and(|e| e.seq == seq) {
            Some(near)
        } else {
            self.entries.binary_search_by_key(&seq, |e| e.seq).ok()
        };
        found
            .filter(|&i| self.entries[i].kind != EntryKind::Rewind)
            .ok_or(TapeError::UnknownCheckpoint {
                id: CheckpointId(seq),
            })
    }

    /// The index of a tape already in memory.
    pub fn from_tape<E>(tape: &Tape<E>) -> Self {
        let mut index = Self {
            covered: tape.header_len(),
            header_len: tape.header_len(),
            ..Self::default()
        };
        for (record, &(offset, len)) in tape.records().iter().zip(tape.spans()) {
            let (kind, link) = match &record.body {
                crate::record::Body::Event(_) => continue,
                crate::record::Body::Checkpoint(cp) => match cp.state {
                    StateBlob::Full(_) => (EntryKind::Full, cp.parent.map(|p| p.0)),
                    StateBlob::Delta(_) => (EntryKind::Delta, cp.parent.map(|p| p.0)),
                },
                crate::record::Body::Rewind(r) => (EntryKind::Rewind, Some(r.to.0)),
            };
            index.push(Entry {
                kind,
                seq: record.seq.0,
                step: record.step.0,
                offset,
                len,
                link,
            });
        }
        index
    }

    /// The file contents for this index.
    fn render(&self, created: &str) -> Vec<u8> {
        let mut out = format!("{INDEX_MAGIC} {created}\n").into_bytes();
        for entry in &self.entries {
            out.extend_from_slice(&entry.encode());
        }
        out
    }

    /// Replaces the index file atomically (write a temporary file, rename).
    pub fn write(&self, path: &Path, created: &str) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let mut file = open_private(&tmp, false, true)?;
        file.write_all(&self.render(created))
            .map_err(TapeError::io("write index", &tmp))?;
        std::fs::rename(&tmp, path).map_err(TapeError::io("replace index", path))
    }

    /// The checkpoint `at` names, on the live branch for a step.
    pub fn resolve(&self, at: At) -> Result<CheckpointId> {
        match at {
            At::Checkpoint(id) => self.checkpoint(id).map(|_| id),
            At::Step(step) => {
                let mut next = self.head;
                let mut near = self.entries.len().saturating_sub(1);
                while let Some(seq) = next {
                    let at = self.position(seq, near)?;
                    let entry = &self.entries[at];
                    if entry.step <= step.0 {
                        return Ok(CheckpointId(seq));
                    }
                    next = entry.link;
                    near = at.saturating_sub(1);
                }
                Err(TapeError::NoCheckpointAtStep { step })
            }
        }
    }

    /// Entries from checkpoint `id` back to the nearest full state (target first).
    fn chain(&self, id: CheckpointId) -> Result<Vec<Entry>> {
        let mut chain = Vec::new();
        let mut at = self.position(id.0, self.entries.len().saturating_sub(1))?;
        loop {
            let entry = self.entries[at];
            chain.push(entry);
            match (entry.kind, entry.link) {
                (EntryKind::Full, _) => return Ok(chain),
                (_, Some(parent)) => at = self.position(parent, at.saturating_sub(1))?,
                (_, None) => {
                    return Err(TapeError::UnknownCheckpoint {
                        id: CheckpointId(entry.seq),
                    });
                }
            }
        }
    }

    /// Reads the lines of checkpoint `id`'s chain (the nearest full state and the deltas
    /// after it) from the tape in one read.
    fn read_chain(&self, tape: &Path, id: CheckpointId) -> Result<ChainLines> {
        let chain = self.chain(id)?;
        let start = chain.iter().map(|e| e.offset).min().unwrap_or(0);
        let end = chain.iter().map(|e| e.offset + e.len).max().unwrap_or(0);
        // Read into spare capacity: zeroing megabytes first would cost as much as the read.
        let mut buf = Vec::with_capacity((end - start) as usize);
        let mut file = File::open(tape).map_err(TapeError::io("open tape", tape))?;
        file.seek(SeekFrom::Start(start))
            .map_err(TapeError::io("seek tape", tape))?;
        file.take(end - start)
            .read_to_end(&mut buf)
            .map_err(TapeError::io("read tape", tape))?;
        let lines = ChainLines {
            tape: tape.to_path_buf(),
            chain,
            buf,
            start,
        };
        if lines.buf.len() as u64 != end - start {
            return Err(lines.not_there());
        }
        Ok(lines)
    }

    /// Reads the state at checkpoint `id` from the tape, parsing only its chain's lines.
    pub fn load_state(&self, tape: &Path, id: CheckpointId) -> Result<LoadedState> {
        let lines = self.read_chain(tape, id)?;
        let mut state = Value::Null;
        let mut snapshot = None;
        for (entry, line) in lines.full_first() {
            let record: Record<IgnoredAny> =
                serde_json::from_slice(line).map_err(|_| lines.not_there())?;
            let Body::Checkpoint(cp) = record.body else {
                return Err(lines.not_there());
            };
            match (cp.state, entry.kind) {
                (StateBlob::Full(full), EntryKind::Full) if cp.id.0 == entry.seq => state = full,
                (StateBlob::Delta(delta), EntryKind::Delta) if cp.id.0 == entry.seq => {
                    apply_measured(&mut state, delta)?;
                }
                _ => return Err(lines.not_there()),
            }
            snapshot = cp.snapshot;
        }
        Ok(LoadedState {
            state,
            snapshot,
            step: StepNo(lines.chain[0].step),
            stats: stats_of(&lines.chain),
        })
    }

    /// The same state read lazily: subtrees no delta touches stay JSON text.
    pub fn load_raw_state(&self, tape: &Path, id: CheckpointId) -> Result<RawState> {
        let mut lines = self.read_chain(tape, id)?;
        // The raw parts of the state are spans of this text: validated once, never copied.
        let text =
            String::from_utf8(std::mem::take(&mut lines.buf)).map_err(|_| lines.not_there())?;
        let mut state = None;
        let mut snapshot = None;
        for entry in lines.chain.iter().rev() {
            let from = (entry.offset - lines.start) as usize;
            let cp = text
                .get(from..from + entry.len as usize)
                .and_then(|line| RawCheckpoint::parse(&text, line).ok())
                .filter(|cp| cp.seq.0 == entry.seq && cp.t == Kind::Checkpoint)
                .ok_or_else(|| lines.not_there())?;
            match (cp.full, cp.d, entry.kind, &mut state) {
                (Some(full), None, EntryKind::Full, _) => state = Some(full),
                (None, Some(ops), EntryKind::Delta, Some(state)) => {
                    for op in ops {
                        state.apply(&text, op)?;
                    }
                }
                _ => return Err(lines.not_there()),
            }
            snapshot = cp.snap;
        }
        let state = state.ok_or_else(|| lines.not_there())?;
        Ok(RawState::new(
            text,
            state,
            snapshot,
            StepNo(lines.chain[0].step),
        ))
    }

    /// Loads the index file of `paths`, checking it against the tape; rebuilds it (and
    /// rewrites the file) when it is missing, corrupt or stale. Returns the tape's header too.
    pub fn load_or_rebuild(paths: &ThreadPaths) -> Result<(Self, TapeHeader)> {
        let mut tape = File::open(&paths.tape).map_err(TapeError::io("open tape", &paths.tape))?;
        let tape_len = tape
            .metadata()
            .map_err(TapeError::io("stat tape", &paths.tape))?
            .len();
        let (header, header_len) = read_header_of(&mut tape, &paths.tape, tape_len)?;
        let created = header.created.to_rfc3339();
        let bytes = std::fs::read(&paths.index).unwrap_or_default();
        let loaded = Self::parse(&bytes, &created, header_len, tape_len)
            .filter(|(index, _)| index.last_entry_matches(&mut tape));
        let (mut index, complete) = match loaded {
            Some(loaded) => loaded,
            None => (
                Self {
                    covered: header_len,
                    header_len,
                    ..Self::default()
                },
                false,
            ),
        };
        let added = index.scan_tail(&mut tape, tape_len, &paths.tape)?;
        if !complete || added > 0 {
            tracing::debug!(index = %paths.index.display(), "checkpoint index rebuilt from the tape");
            index.write(&paths.index, &created)?;
        }
        Ok((index, header))
    }

    /// The live branch from the root to the head, each checkpoint with the span of the
    /// event lines just before it (the events of the step it closes).
    pub fn live_checkpoints(&self) -> Vec<LiveCheckpoint> {
        let mut branch = Vec::new();
        let mut next = self.head;
        let mut near = self.entries.len().saturating_sub(1);
        while let Some(seq) = next {
            let Ok(at) = self.position(seq, near) else {
                break;
            };
            let entry = &self.entries[at];
            let start = at.checked_sub(1).map_or(self.header_len, |i| {
                self.entries[i].offset + self.entries[i].len
            });
            branch.push(LiveCheckpoint {
                id: CheckpointId(entry.seq),
                step: StepNo(entry.step),
                events: start..entry.offset,
            });
            next = entry.link;
            near = at.saturating_sub(1);
        }
        branch.reverse();
        branch
    }

    /// The step a record with sequence number `seq` belongs to (see [`Placement`]): the
    /// first checkpoint or rewind at or after it closes or abandons that step.
    pub fn placement(&self, seq: u64) -> Placement {
        let at = self.entries.partition_point(|e| e.seq < seq);
        match self.entries.get(at) {
            None => Placement::Open,
            Some(entry) if entry.kind == EntryKind::Rewind => Placement::Rewound,
            Some(entry) => Placement::Closed(CheckpointId(entry.seq)),
        }
    }

    /// The checkpoints from the root to `to` (inclusive), following parent links.
    pub fn branch_to(&self, to: CheckpointId) -> Vec<CheckpointId> {
        let mut branch = Vec::new();
        let mut next = Some(to.0);
        let mut near = self.entries.len().saturating_sub(1);
        while let Some(seq) = next {
            let Ok(at) = self.position(seq, near) else {
                break;
            };
            branch.push(CheckpointId(seq));
            next = self.entries[at].link;
            near = at.saturating_sub(1);
        }
        branch.reverse();
        branch
    }

    /// How many checkpoints the tape holds, on every branch.
    pub fn checkpoint_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind != EntryKind::Rewind)
            .count()
    }

    /// Where the last indexed record's line ends: every record after it is an event.
    pub fn covered(&self) -> u64 {
        self.covered
    }

    /// The last checkpoint or rewind.
    pub fn last(&self) -> Option<&Entry> {
        self.entries.last()
    }

    /// The entries of an index file, checked against the tape's creation time and length;
    /// `None` if anything is wrong. The flag is false when the file ends in part of an entry
    /// (a crash mid-append): the entries before it are kept, the file must be rewritten.
    fn parse(bytes: &[u8], created: &str, header_len: u64, tape_len: u64) -> Option<(Self, bool)> {
        let body = bytes.strip_prefix(format!("{INDEX_MAGIC} {created}\n").as_bytes())?;
        let (entries, torn) = body.as_chunks::<ENTRY_LEN>();
        let mut index = Self {
            covered: header_len,
            header_len,
            entries: Vec::with_capacity(entries.len()),
            ..Self::default()
        };
        for bytes in entries {
            let entry = Entry::decode(bytes)?;
            let ordered = entry.offset >= index.covered
                && entry.len > 0
                && entry
                    .offset
                    .checked_add(entry.len)
                    .is_some_and(|end| end <= tape_len)
                && index.entries.last().is_none_or(|last| entry.seq > last.seq);
            let linked = match (entry.kind, entry.link) {
                (EntryKind::Delta | EntryKind::Rewind, None) => false,
                (_, Some(link)) => {
                    let last = index.entries.len().saturating_sub(1);
                    index.position(link, last).is_ok()
                }
                (EntryKind::Full, None) => true,
            };
            if !ordered || !linked {
                return None;
            }
            index.push(entry);
        }
        Some((index, torn.is_empty()))
    }

    /// Spot check: the last entry's span holds that record on the tape.
    fn last_entry_matches(&self, tape: &mut File) -> bool {
        let Some(last) = self.entries.last() else {
            return true;
        };
        let mut line = vec![0; last.len as usize];
        tape.seek(SeekFrom::Start(last.offset)).is_ok()
            && tape.read_exact(&mut line).is_ok()
            && line.last() == Some(&b'\n')
            && serde_json::from_slice::<RecordHead>(&line).is_ok_and(|h| h.seq.0 == last.seq)
    }

    /// Adds the checkpoints and rewinds written after the last indexed one (a crash
    /// between the tape's fsync and the index write leaves them out). Stops at a torn tail.
    fn scan_tail(&mut self, tape: &mut File, tape_len: u64, path: &Path) -> Result<usize> {
        let mut rest = Vec::with_capacity((tape_len - self.covered) as usize);
        tape.seek(SeekFrom::Start(self.covered))
            .map_err(TapeError::io("seek tape", path))?;
        tape.read_to_end(&mut rest)
            .map_err(TapeError::io("read tape", path))?;
        let mut offset = self.covered;
        let mut added = 0;
        for line in rest.split_inclusive(|&b| b == b'\n') {
            let Some(body) = line.strip_suffix(b"\n") else {
                break;
            };
            let Ok(head) = serde_json::from_slice::<RecordHead>(body) else {
                break;
            };
            if self
                .entries
                .last()
                .is_some_and(|last| head.seq.0 <= last.seq)
            {
                break;
            }
            let len = line.len() as u64;
            let (kind, link) = match head.t {
                Kind::Event => (None, None),
                Kind::Checkpoint if head.full.is_some() => (Some(EntryKind::Full), head.p),
                Kind::Checkpoint => (Some(EntryKind::Delta), head.p),
                Kind::Rewind => (Some(EntryKind::Rewind), head.to),
            };
            if let Some(kind) = kind {
                let link = link.map(|l| l.0);
                self.push(Entry {
                    kind,
                    seq: head.seq.0,
                    step: head.step.0,
                    offset,
                    len,
                    link,
                });
                added += 1;
            }
            offset += len;
        }
        Ok(added)
    }

    /// Appends one entry to the index file (not fsynced: the index is rebuildable).
    pub fn append_to_file(file: &mut File, path: &Path, entry: &Entry) -> Result<()> {
        file.write_all(&entry.encode())
            .map_err(TapeError::io("write index", path))
    }
}

/// Deltas of a chain (target first, full last).
fn stats_of(chain: &[Entry]) -> ChainStats {
    let deltas = &chain[..chain.len().saturating_sub(1)];
    ChainStats {
        deltas: deltas.len(),
        delta_bytes: deltas.iter().map(|e| e.len).sum(),
    }
}

/// The lines behind one state, as read from the tape.
struct ChainLines {
    tape: std::path::PathBuf,
    /// Target first, full state last.
    chain: Vec<Entry>,
    buf: Vec<u8>,
    /// Tape offset of `buf[0]`.
    start: u64,
}

impl ChainLines {
    /// Each entry with its line, full state first.
    fn full_first(&self) -> impl Iterator<Item = (&Entry, &[u8])> {
        self.chain.iter().rev().map(|entry| {
            let from = (entry.offset - self.start) as usize;
            (entry, &self.buf[from..from + entry.len as usize])
        })
    }

    fn not_there(&self) -> TapeError {
        TapeError::Corrupt {
            path: self.tape.clone(),
            line: 0,
            reason: "the index points at a record that is not there; delete the index file to rebuild it".into(),
        }
    }
}

/// Where a record (by its sequence number) stands among the tape's branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the step this checkpoint closed: on the live branch when the checkpoint is.
    Closed(CheckpointId),
    /// In a step that never reached a checkpoint before a rewind: abandoned.
    Rewound,
    /// After the last checkpoint or rewind: in the step now open, on top of the head.
    Open,
}

/// A checkpoint of the live branch and where the events of its step lie on the tape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCheckpoint {
    pub id: CheckpointId,
    /// The step the checkpoint closes.
    pub step: StepNo,
    /// Byte span of the event lines recorded before it (after the previous checkpoint or
    /// rewind, on whatever branch): read with [`StateReader::read_events`].
    pub events: std::ops::Range<u64>,
}

/// A state read back from the tape.
#[derive(Debug, Clone)]
pub(crate) struct LoadedState {
    pub state: Value,
    pub snapshot: Option<SnapshotRef>,
    pub step: StepNo,
    pub stats: ChainStats,
}

/// Reads states of a thread through its index, without loading the whole tape.
#[derive(Debug, Clone)]
pub struct StateReader {
    tape: std::path::PathBuf,
    header: TapeHeader,
    index: TapeIndex,
}

impl StateReader {
    /// Loads (or rebuilds) the index of the thread at `paths`.
    pub fn open(paths: &ThreadPaths) -> Result<Self> {
        let (index, header) = TapeIndex::load_or_rebuild(paths)?;
        Ok(Self {
            tape: paths.tape.clone(),
            header,
            index,
        })
    }

    /// The tape's header.
    pub fn header(&self) -> &TapeHeader {
        &self.header
    }

    /// The head checkpoint (last checkpoint, or the target of the last rewind).
    pub fn head(&self) -> Option<CheckpointId> {
        self.index.head()
    }

    /// The step checkpoint `id` closes.
    pub fn step_of(&self, id: CheckpointId) -> Result<StepNo> {
        self.index.checkpoint(id).map(|entry| StepNo(entry.step))
    }

    /// The last whole record of the tape: the last event after the last checkpoint or
    /// rewind if there is one (a torn tail is ignored), else that checkpoint or rewind
    /// (a checkpoint holding a full state is parsed whole). Reads only the end of the tape.
    pub fn last_record<E: DeserializeOwned>(&self) -> Result<Option<Record<E>>> {
        let mut file = File::open(&self.tape).map_err(TapeError::io("open tape", &self.tape))?;
        let mut rest = Vec::new();
        file.seek(SeekFrom::Start(self.index.covered()))
            .and_then(|_| file.read_to_end(&mut rest))
            .map_err(TapeError::io("read tape", &self.tape))?;
        let events = rest
            .split_inclusive(|&b| b == b'\n')
            .map_while(|line| line.strip_suffix(b"\n"))
            .map_while(|line| serde_json::from_slice::<Record<E>>(line).ok());
        if let Some(event) = events.last() {
            return Ok(Some(event));
        }
        let Some(entry) = self.index.last() else {
            return Ok(None);
        };
        let mut line = Vec::with_capacity(entry.len as usize);
        file.seek(SeekFrom::Start(entry.offset))
            .and_then(|_| (&mut file).take(entry.len).read_to_end(&mut line))
            .map_err(TapeError::io("read tape", &self.tape))?;
        serde_json::from_slice(&line)
            .map(Some)
            .map_err(|e| TapeError::Corrupt {
                path: self.tape.clone(),
                line: 0,
                reason: format!("the index's last record does not parse ({e}); delete the index file to rebuild it"),
            })
    }

    /// The checkpoint `at` names.
    pub fn resolve(&self, at: impl Into<At>) -> Result<CheckpointId> {
        self.index.resolve(at.into())
    }

    /// The live branch with each step's event span, from the index alone: a 10,000-step
    /// thread's step list without parsing its tape.
    pub fn live_checkpoints(&self) -> Vec<LiveCheckpoint> {
        self.index.live_checkpoints()
    }

    /// Checkpoints on every branch (the live ones and those rewinds left behind).
    pub fn checkpoint_count(&self) -> usize {
        self.index.checkpoint_count()
    }

    /// Where the record with sequence number `seq` stands: in a step closed by a checkpoint
    /// (live or not), in one abandoned by a rewind, or in the step now open. From the index
    /// alone, by binary search.
    pub fn placement(&self, seq: Seq) -> Placement {
        self.index.placement(seq.0)
    }

    /// The branch from the root to checkpoint `to` (inclusive): for a fork, its parent's
    /// line up to the fork point.
    pub fn branch_to(&self, to: CheckpointId) -> Vec<CheckpointId> {
        self.index.branch_to(to)
    }

    /// The event records in each of `spans` (from [`LiveCheckpoint::events`]), in order,
    /// read through one open file.
    pub fn read_events<E: DeserializeOwned>(
        &self,
        spans: &[std::ops::Range<u64>],
    ) -> Result<Vec<Vec<Record<E>>>> {
        let mut file = File::open(&self.tape).map_err(TapeError::io("open tape", &self.tape))?;
        let mut buffer = Vec::new();
        spans
            .iter()
            .map(|span| {
                buffer.clear();
                file.seek(SeekFrom::Start(span.start))
                    .and_then(|_| {
                        (&mut file)
                            .take(span.end.saturating_sub(span.start))
                            .read_to_end(&mut buffer)
                    })
                    .map_err(TapeError::io("read tape", &self.tape))?;
                buffer
                    .split(|&b| b == b'\n')
                    .filter(|line| !line.is_empty())
                    .map(|line| {
                        serde_json::from_slice::<Record<E>>(line).map_err(|e| TapeError::Corrupt {
                            path: self.tape.clone(),
                            line: 0,
                            reason: format!("an event at byte {} does not parse ({e})", span.start),
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// The thread state at a checkpoint or at a step of the live branch.
    pub fn state_at(&self, at: impl Into<At>) -> Result<Value> {
        let id = self.index.resolve(at.into())?;
        Ok(self.index.load_state(&self.tape, id)?.state)
    }

    /// The same state read lazily: cheap to get, rendered or built on demand.
    pub fn raw_state_at(&self, at: impl Into<At>) -> Result<RawState> {
        let id = self.index.resolve(at.into())?;
        self.index.load_raw_state(&self.tape, id)
    }
}
