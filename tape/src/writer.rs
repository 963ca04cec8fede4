//! Appending to a tape: buffered events, durable checkpoints (delta or full, chosen by
//! policy), rewinds, redaction of every line, and the in-memory head the harness reads.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;

use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::delta::{AppendOnlyPath, Differ, apply_measured, json_len};
use crate::error::{Result, TapeError};
use crate::ids::{CheckpointId, Seq, StepNo};
use crate::index::{ChainStats, Entry, EntryKind, TapeIndex};
use crate::paths::{ThreadPaths, open_private};
use crate::record::{Body, Checkpoint, Record, Rewind, SnapshotRef, StateBlob, TapeHeader};
use crate::redact::Redactor;
use crate::relink::{copy_back, still_linked};
use crate::tape::{Recovery, Tape};

/// How the writer stores states.
#[derive(Debug, Clone)]
pub struct TapeOptions {
    /// JSON pointers of arrays that only grow at the end (e.g. `/conversation`): diffed in
    /// time proportional to what was appended (see `delta` for the probe that checks it).
    pub append_only: Vec<String>,
    /// Write a full state after this many deltas in a row.
    pub max_delta_chain: usize,
    /// Write a full state once the deltas since the last full weigh more than this many
    /// times the state itself (bounds the cost of reading a state back).
    pub max_replay_ratio: f64,
}

impl Default for TapeOptions {
    fn default() -> Self {
        Self {
            append_only: Vec::new(),
            max_delta_chain: 1024,
            max_replay_ratio: 2.0,
        }
    }
}

/// The checkpoint a thread continues from, with its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// Its id.
    pub checkpoint: CheckpointId,
    /// The step it closes.
    pub step: StepNo,
    /// Its worktree snapshot.
    pub snapshot: Option<SnapshotRef>,
    /// The thread state at that checkpoint.
    pub state: Value,
}

/// A writer reopened on an existing tape.
#[derive(Debug)]
pub struct Resumed<E> {
    /// The writer, positioned after the last whole record.
    pub writer: TapeWriter<E>,
    /// The tape's header.
    pub header: TapeHeader,
    /// The events after the last checkpoint or rewind: work of an interrupted step that
    /// a resumed thread can reuse (e.g. model answers already paid for).
    pub tail: Vec<Record<E>>,
    /// What was cut off a torn tail, if anything.
    pub recovery: Option<Recovery>,
}

/// Appends records to one thread's tape.
#[derive(Debug)]
pub struct TapeWriter<E> {
    paths: ThreadPaths,
    file: File,
    index_file: File,
    index: TapeIndex,
    /// Bytes on disk (synced or not) and bytes waiting in `pending`.
    written: u64,
    pending: Vec<u8>,
    redactor: Redactor,
    options: TapeOptions,
    hints: Vec<AppendOnlyPath>,
    next_seq: u64,
    last_step: StepNo,
    head: Option<Head>,
    chain: ChainStats,
    /// Estimated encoded size of the head state.
    state_len: i64,
    _events: PhantomData<fn(E)>,
}

impl<E: Serialize + DeserializeOwned> TapeWriter<E> {
    /// Creates a new tape (refusing to overwrite one) and writes its header durably.
    pub fn create(paths: &ThreadPaths, header: &TapeHeader, options: TapeOptions) -> Result<Self> {
        paths.create_dir()?;
        let mut file = open_private(&paths.tape, true, false)?;
        let redactor = Redactor::from_env();
        let mut line = serde_json::to_string(header).map_err(TapeError::Encode)?;
        line = redactor.redact(&line).into_owned();
        line.push('\n');
        file.write_all(line.as_bytes())
            .map_err(TapeError::io("write tape", &paths.tape))?;
        file.sync_all()
            .map_err(TapeError::io("fsync tape", &paths.tape))?;
        sync_dir(&paths.dir)?;
        let index = TapeIndex::default();
        index.write(&paths.index, &header.created.to_rfc3339())?;
        let file = reopen_append(&paths.tape)?;
        let index_file = open_private(&paths.index, false, false)?;
        Ok(Self::assemble(
            paths,
            file,
            index_file,
            index,
            line.len() as u64,
            redactor,
            options,
        ))
    }

    /// Reopens a tape and restores the head state so the next checkpoint continues the
    /// chain. Reads only the index, the head's chain and the events after the last
    /// checkpoint; anything odd there (a torn tail, a stale index) falls back to reading the
    /// whole tape, which cuts a torn tail off and rebuilds the index.
    pub fn open(paths: &ThreadPaths, options: TapeOptions) -> Result<Resumed<E>> {
        if let Some(resumed) = Self::open_indexed(paths, &options)? {
            return Ok(resumed);
        }
        let (tape, recovery) = Tape::<E>::open(&paths.tape)?;
        let file = reopen_append(&paths.tape)?;
        if let Some(recovery) = &recovery {
            file.set_len(recovery.kept_bytes)
                .map_err(TapeError::io("truncate torn tape", &paths.tape))?;
            file.sync_all()
                .map_err(TapeError::io("fsync tape", &paths.tape))?;
        }
        let index = TapeIndex::from_tape(&tape);
        index.write(&paths.index, &tape.header().created.to_rfc3339())?;
        let header = tape.header().clone();
        let tail = tape.into_tail_events();
        Ok(Resumed {
            writer: Self::reopen(paths, file, index, options, &tail)?,
            header,
            tail,
            recovery,
        })
    }

    /// The fast path of [`open`](Self::open); `None` when the tape needs the full read.
    fn open_indexed(paths: &ThreadPaths, options: &TapeOptions) -> Result<Option<Resumed<E>>> {
        let (index, header) = TapeIndex::load_or_rebuild(paths)?;
        let mut file = reopen_append(&paths.tape)?;
        let mut rest = Vec::new();
        file.seek(SeekFrom::Start(index.covered()))
            .and_then(|_| file.read_to_end(&mut rest))
            .map_err(TapeError::io("read tape", &paths.tape))?;
        let mut tail: Vec<Record<E>> = Vec::new();
        let mut last_seq = index.last().map_or(0, |e| e.seq);
        for line in rest.split_inclusive(|&b| b == b'\n') {
            let Some(Ok(record)) = line
                .strip_suffix(b"\n")
                .map(serde_json::from_slice::<Record<E>>)
            else {
                return Ok(None);
            };
            if !matches!(record.body, Body::Event(_)) || record.seq.0 <= last_seq {
                return Ok(None);
            }
            last_seq = record.seq.0;
            tail.push(record);
        }
        Ok(Some(Resumed {
            writer: Self::reopen(paths, file, index, options.clone(), &tail)?,
            header,
            tail,
            recovery: None,
        }))
    }

    /// A writer appending after `tail` (the events after the index's last entry), its head
    /// restored from the index.
    fn reopen(
        paths: &ThreadPaths,
        file: File,
        index: TapeIndex,
        options: TapeOptions,
        tail: &[Record<E>],
    ) -> Result<Self> {
        let written = std::fs::metadata(&paths.tape)
            .map_err(TapeError::io("stat tape", &paths.tape))?
            .len();
        let index_file = open_private(&paths.index, false, false)?;
        let mut writer = Self::assemble(
            paths,
            file,
            index_file,
            index,
            written,
            Redactor::from_env(),
            options,
        );
        let last = writer.index.last().map(|e| (e.seq, StepNo(e.step)));
        let (last_seq, last_step) = tail
            .last()
            .map(|r| (r.seq.0, r.step))
            .or(last)
            .unwrap_or((0, StepNo(0)));
        writer.next_seq = last_seq + 1;
        writer.last_step = last_step;
        if let Some(id) = writer.index.head() {
            let loaded = writer.index.load_state(&paths.tape, id)?;
            writer.chain = loaded.stats;
            writer.state_len = json_len(&loaded.state);
            writer.head = Some(Head {
                checkpoint: id,
                step: loaded.step,
                snapshot: loaded.snapshot,
                state: loaded.state,
            });
        }
        Ok(writer)
    }
}

impl<E: Serialize> TapeWriter<E> {
    fn assemble(
        paths: &ThreadPaths,
        file: File,
        index_file: File,
        index: TapeIndex,
        written: u64,
        redactor: Redactor,
        options: TapeOptions,
    ) -> Self {
        let hints = options
            .append_only
            .iter()
            .map(|p| AppendOnlyPath::new(p))
            .collect();
        Self {
            paths: paths.clone(),
            file,
            index_file,
            index,
            written,
            pending: Vec::with_capacity(64 * 1024),
            redactor,
            options,
            hints,
            next_seq: 1,
            last_step: StepNo(0),
            head: None,
            chain: ChainStats::default(),
            state_len: 0,
            _events: PhantomData,
        }
    }

    /// The checkpoint the thread continues from and its state.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// The sequence number the next record will get: what something made now (a memory)
    /// records to be placed on the tape's branches later ([`crate::StateReader::placement`]).
    pub fn next_seq(&self) -> Seq {
        Seq(self.next_seq)
    }

    /// The thread's files.
    pub fn paths(&self) -> &ThreadPaths {
        &self.paths
    }

    /// The step of the last record written.
    pub fn last_step(&self) -> StepNo {
        self.last_step
    }

    /// Buffers an event; it reaches disk at the next [`sync`](Self::sync) or checkpoint.
    pub fn append(&mut self, step: StepNo, event: E) -> Result<Seq> {
        let record = Record {
            seq: Seq(self.next_seq),
            step,
            at: Utc::now(),
            body: Body::Event(event),
        };
        self.buffer(&record)?;
        Ok(record.seq)
    }

    /// Writes buffered records and fsyncs: everything appended so far is durable.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.file
            .sync_data()
            .map_err(TapeError::io("fsync tape", &self.paths.tape))
    }

    /// Records the thread state at the end of `step` (a delta against the head, or a full
    /// state when the policy says so) and syncs, so the step is durable before the next starts.
    pub fn checkpoint(
        &mut self,
        step: StepNo,
        state: &Value,
        snapshot: Option<SnapshotRef>,
    ) -> Result<CheckpointId> {
        let id = self.checkpoint_unsynced(step, state, snapshot)?;
        self.sync()?;
        Ok(id)
    }

    /// [`checkpoint`](Self::checkpoint) without the fsync: the record is written (it
    /// survives the process being killed) and becomes durable at the next
    /// [`sync`](Self::sync), so a caller that records more right after pays one fsync for
    /// all of it. Until then a power cut can lose it, and the index entry written with it
    /// is found stale and rebuilt on open.
    pub fn checkpoint_unsynced(
        &mut self,
        step: StepNo,
        state: &Value,
        snapshot: Option<SnapshotRef>,
    ) -> Result<CheckpointId> {
        let seq = Seq(self.next_seq);
        let id = CheckpointId::from(seq);
        let parent = self.head.as_ref().map(|h| h.checkpoint);
        let delta = self
            .head
            .as_ref()
            .map(|head| Differ::new(&mut self.hints).diff(&head.state, state));
        let blob = match delta {
            Some(delta) if !self.full_due(&delta) => StateBlob::Delta(delta),
            _ => StateBlob::Full(state.clone()),
        };
        let cp = Checkpoint {
            id,
            parent,
            step,
            state: blob,
            snapshot,
        };
        let record = Record {
            seq,
            step,
            at: Utc::now(),
            body: Body::<E>::Checkpoint(cp),
        };
        let offset = self.written + self.pending.len() as u64;
        let len = self.buffer(&record)?;
        self.flush()?;
        let Body::Checkpoint(cp) = record.body else {
            return Ok(id);
        };
        let kind = self.advance_head(cp, state, len)?;
        self.record_in_index(Entry {
            kind,
            seq: seq.0,
            step: step.0,
            offset,
            len,
            link: parent.map(|p| p.0),
        })?;
        Ok(id)
    }

    /// Moves the head back to checkpoint `to`: appends a rewind record (durably) and loads
    /// that state. Later records stay on the tape as an abandoned branch.
    pub fn rewind(&mut self, to: CheckpointId) -> Result<&Head> {
        self.sync()?;
        let loaded = self.index.load_state(&self.paths.tape, to)?;
        let seq = Seq(self.next_seq);
        let record = Record {
            seq,
            step: loaded.step,
            at: Utc::now(),
            body: Body::<E>::Rewind(Rewind { to }),
        };
        let offset = self.written + self.pending.len() as u64;
        let len = self.buffer(&record)?;
        self.sync()?;
        let entry = Entry {
            kind: EntryKind::Rewind,
            seq: seq.0,
            step: loaded.step.0,
            offset,
            len,
            link: Some(to.0),
        };
        self.record_in_index(entry)?;
        self.chain = loaded.stats;
        self.state_len = json_len(&loaded.state);
        let head = Head {
            checkpoint: to,
            step: loaded.step,
            snapshot: loaded.snapshot,
            state: loaded.state,
        };
        Ok(self.head.insert(head))
    }

    fn full_due(&self, delta: &crate::delta::Delta) -> bool {
        let delta_len = serde_json::to_vec(delta).map_or(u64::MAX, |v| v.len() as u64);
        let replay = self.chain.delta_bytes + delta_len;
        self.chain.deltas + 1 > self.options.max_delta_chain
            || replay as f64 > self.options.max_replay_ratio * self.state_len.max(1024) as f64
    }

    fn advance_head(&mut self, cp: Checkpoint, state: &Value, len: u64) -> Result<EntryKind> {
        let (kind, new_state) =
            if let (StateBlob::Delta(delta), Some(head)) = (cp.state, self.head.take()) {
                let mut head_state = head.state;
                self.state_len += apply_measured(&mut head_state, delta)?;
                self.chain.deltas += 1;
                self.chain.delta_bytes += len;
                (EntryKind::Delta, head_state)
            } else {
                self.state_len = len.cast_signed();
                self.chain = ChainStats::default();
                (EntryKind::Full, state.clone())
            };
        self.head = Some(Head {
            checkpoint: cp.id,
            step: cp.step,
            snapshot: cp.snapshot,
            state: new_state,
        });
        Ok(kind)
    }

    fn record_in_index(&mut self, entry: Entry) -> Result<()> {
        TapeIndex::append_to_file(&mut self.index_file, &self.paths.index, &entry)?;
        self.index.push(entry);
        Ok(())
    }

    /// Encodes, redacts and buffers one record; returns its line length.
    fn buffer(&mut self, record: &Record<E>) -> Result<u64> {
        let line = serde_json::to_string(record).map_err(TapeError::Encode)?;
        let line = self.redactor.redact(&line);
        self.pending.extend_from_slice(line.as_bytes());
        self.pending.push(b'\n');
        self.next_seq = record.seq.0 + 1;
        self.last_step = record.step;
        Ok(line.len() as u64 + 1)
    }

    /// Puts the tape and its index back at their paths when something deleted or replaced
    /// them while this writer had them open (a command run by the agent cleaning the
    /// project, say). Returns whether anything had to be put back.
    pub fn relink(&mut self) -> Result<bool> {
        self.flush()?;
        let tape_linked = still_linked(&self.file, &self.paths.tape)?;
        let index_linked = still_linked(&self.index_file, &self.paths.index)?;
        if tape_linked && index_linked {
            return Ok(false);
        }
        self.paths.create_dir()?;
        if !tape_linked {
            self.file = copy_back(&self.file, &self.paths.tape)?;
        }
        if !index_linked {
            self.index_file = copy_back(&self.index_file, &self.paths.index)?;
        }
        sync_dir(&self.paths.dir)?;
        tracing::warn!(tape = %self.paths.tape.display(), "the tape had been removed from its folder; it was written back");
        Ok(true)
    }

    /// Writes buffered records to the file without an fsync: they survive the process
    /// being killed; [`sync`](Self::sync) makes them survive a power cut too.
    pub fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            self.file
                .write_all(&self.pending)
                .map_err(TapeError::io("write tape", &self.paths.tape))?;
            self.written += self.pending.len() as u64;
            self.pending.clear();
        }
        Ok(())
    }
}

impl<E> Drop for TapeWriter<E> {
    fn drop(&mut self) {
        // Buffered events are best effort on drop; durability comes from `sync`/`checkpoint`.
        if !self.pending.is_empty() && self.file.write_all(&self.pending).is_ok() {
            let _ = self.file.sync_data();
        }
    }
}

fn reopen_append(path: &std::path::Path) -> Result<File> {
    open_private(path, false, false)
}

fn sync_dir(dir: &std::path::Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TapeError::io("fsync folder", dir))
}
