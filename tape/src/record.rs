//! The tape's line types: the header, records (event / checkpoint / rewind) and their
//! compact wire encoding (documented field by field in `FORMAT.md`).

use chrono::{DateTime, Utc};
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::delta::Delta;
use crate::ids::{CheckpointId, Seq, StepNo, ThreadId};

/// The tape format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of every tape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapeHeader {
    /// Format version ([`FORMAT_VERSION`]).
    pub baton_tape: u32,
    /// The thread this tape records.
    pub thread: ThreadId,
    /// Where a forked thread branched off, `None` for a fresh thread.
    pub parent: Option<ParentRef>,
    /// Name of the workflow the thread runs.
    pub workflow: String,
    /// When the thread was created.
    pub created: DateTime<Utc>,
    /// The project folder.
    pub project: String,
    /// Free-form data owned by the harness.
    #[serde(default)]
    pub meta: Value,
}

impl TapeHeader {
    /// A header for a fresh (unforked) thread created now.
    pub fn new(thread: ThreadId, workflow: impl Into<String>, project: impl Into<String>) -> Self {
        Self {
            baton_tape: FORMAT_VERSION,
            thread,
            parent: None,
            workflow: workflow.into(),
            created: Utc::now(),
            project: project.into(),
            meta: Value::Null,
        }
    }
}

/// The branch point of a forked thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    /// The thread forked from.
    pub thread: ThreadId,
    /// The step forked at.
    pub step: StepNo,
    /// The parent's checkpoint forked from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointId>,
}

/// One line of the tape after the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<E> {
    /// Position on the tape.
    pub seq: Seq,
    /// The thread step the record belongs to.
    pub step: StepNo,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// What it records.
    pub body: Body<E>,
}

/// What a record holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<E> {
    /// A harness event (model answer, tool call, ...).
    Event(E),
    /// A saved thread state.
    Checkpoint(Checkpoint),
    /// The thread went back to an earlier checkpoint.
    Rewind(Rewind),
}

/// A node of the checkpoint tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The checkpoint's id (its record's sequence number).
    pub id: CheckpointId,
    /// The checkpoint its state delta is taken against.
    pub parent: Option<CheckpointId>,
    /// The step it closes.
    pub step: StepNo,
    /// The state, whole or as a delta against the parent.
    pub state: StateBlob,
    /// The worktree snapshot taken with it, if any.
    pub snapshot: Option<SnapshotRef>,
}

/// A checkpoint's state.
#[derive(Debug, Clone, PartialEq)]
pub enum StateBlob {
    /// The whole state.
    Full(Value),
    /// Edits against the parent checkpoint's state.
    Delta(Delta),
}

/// A worktree snapshot: a commit on the thread's hidden ref and its tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotRef {
    /// Commit id (hex).
    pub commit: String,
    /// Tree id (hex).
    pub tree: String,
}

/// A move of the thread's head back to an earlier checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewind {
    /// The checkpoint the thread continues from.
    pub to: CheckpointId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    #[serde(rename = "e")]
    Event,
    #[serde(rename = "c")]
    Checkpoint,
    #[serde(rename = "r")]
    Rewind,
}

#[derive(Serialize)]
struct WireOut<'a, E> {
    seq: Seq,
    step: StepNo,
    at: &'a DateTime<Utc>,
    t: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<&'a E>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<CheckpointId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    full: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    d: Option<&'a Delta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snap: Option<&'a SnapshotRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<CheckpointId>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "E: Deserialize<'de>"))]
struct WireIn<E> {
    seq: Seq,
    step: StepNo,
    at: DateTime<Utc>,
    t: Kind,
    #[serde(default, deserialize_with = "present")]
    e: Option<E>,
    #[serde(default)]
    p: Option<CheckpointId>,
    #[serde(default, deserialize_with = "present")]
    full: Option<Value>,
    #[serde(default)]
    d: Option<Delta>,
    #[serde(default)]
    snap: Option<SnapshotRef>,
    #[serde(default)]
    to: Option<CheckpointId>,
}

/// The parts of a record the index needs; the payload is skipped, not built.
#[derive(Deserialize)]
pub(crate) struct RecordHead {
    pub seq: Seq,
    pub step: StepNo,
    pub t: Kind,
    #[serde(default)]
    pub p: Option<CheckpointId>,
    #[serde(default, deserialize_with = "present")]
    pub full: Option<IgnoredAny>,
    #[serde(default)]
    pub to: Option<CheckpointId>,
}

/// A field that is present is `Some`, even when its value is JSON `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl<E: Serialize> Serialize for Record<E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut wire = WireOut {
            seq: self.seq,
            step: self.step,
            at: &self.at,
            t: Kind::Event,
            e: None,
            p: None,
            full: None,
            d: None,
            snap: None,
            to: None,
        };
        match &self.body {
            Body::Event(event) => wire.e = Some(event),
            Body::Checkpoint(cp) => {
                wire.t = Kind::Checkpoint;
                wire.p = cp.parent;
                wire.snap = cp.snapshot.as_ref();
                match &cp.state {
                    StateBlob::Full(state) => wire.full = Some(state),
                    StateBlob::Delta(delta) => wire.d = Some(delta),
                }
            }
            Body::Rewind(rewind) => {
                wire.t = Kind::Rewind;
                wire.to = Some(rewind.to);
            }
        }
        wire.serialize(serializer)
    }
}

impl<'de, E: Deserialize<'de>> Deserialize<'de> for Record<E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireIn::<E>::deserialize(deserializer)?;
        let body = match wire.t {
            Kind::Event => Body::Event(wire.e.ok_or_else(|| de::Error::missing_field("e"))?),
            Kind::Checkpoint => {
                let state = match (wire.full, wire.d) {
                    (Some(full), None) => StateBlob::Full(full),
                    (None, Some(delta)) => StateBlob::Delta(delta),
                    _ => {
                        return Err(de::Error::custom(
                            "a checkpoint needs exactly one of `full` and `d`",
                        ));
                    }
                };
                if matches!(state, StateBlob::Delta(_)) && wire.p.is_none() {
                    return Err(de::Error::custom("a delta checkpoint needs its parent `p`"));
                }
                Body::Checkpoint(Checkpoint {
                    id: wire.seq.into(),
                    parent: wire.p,
                    step: wire.step,
                    state,
                    snapshot: wire.snap,
                })
            }
            Kind::Rewind => Body::Rewind(Rewind {
                to: wire.to.ok_or_else(|| de::Error::missing_field("to"))?,
            }),
        };
        Ok(Self {
            seq: wire.seq,
            step: wire.step,
            at: wire.at,
            body,
        })
    }
}

impl<E> Record<E> {
    /// The checkpoint this record holds, if it is one.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        match &self.body {
            Body::Checkpoint(cp) => Some(cp),
            _ => None,
        }
    }

    /// The event this record holds, if it is one.
    pub fn event(&self) -> Option<&E> {
        match &self.body {
            Body::Event(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_round_trip_including_null_payloads() {
        let at = Utc::now();
        let records: Vec<Record<Value>> = vec![
            Record {
                seq: Seq(1),
                step: StepNo(0),
                at,
                body: Body::Event(Value::Null),
            },
            Record {
                seq: Seq(2),
                step: StepNo(0),
                at,
                body: Body::Checkpoint(Checkpoint {
                    id: CheckpointId(2),
                    parent: None,
                    step: StepNo(0),
                    state: StateBlob::Full(Value::Null),
                    snapshot: Some(SnapshotRef {
                        commit: "c".into(),
                        tree: "t".into(),
                    }),
                }),
            },
            Record {
                seq: Seq(3),
                step: StepNo(0),
                at,
                body: Body::Rewind(Rewind {
                    to: CheckpointId(2),
                }),
            },
        ];
        for record in records {
            let line = serde_json::to_string(&record).unwrap();
            assert_eq!(
                serde_json::from_str::<Record<Value>>(&line).unwrap(),
                record,
                "{line}"
            );
        }
    }

    #[test]
    fn malformed_records_are_rejected() {
        for bad in [
            json!({"seq": 1, "step": 0, "at": "2026-01-01T00:00:00Z", "t": "e"}),
            json!({"seq": 1, "step": 0, "at": "2026-01-01T00:00:00Z", "t": "c", "d": []}),
            json!({"seq": 1, "step": 0, "at": "2026-01-01T00:00:00Z", "t": "x"}),
        ] {
            assert!(serde_json::from_value::<Record<Value>>(bad).is_err());
        }
    }
}
