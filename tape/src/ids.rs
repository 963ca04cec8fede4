//! Newtype ids: thread ids (validated, human-readable), step numbers, frame sequence
//! numbers and checkpoint ids.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::TapeError;

/// A thread's name: `[A-Za-z0-9._-]{1,64}`, safe as a folder name and a git ref component.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ThreadId(String);

impl ThreadId {
    /// Validates `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, TapeError> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 64
            && id != "."
            && id != ".."
            && !id.to_ascii_lowercase().ends_with(".lock")
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(id))
        } else {
            Err(TapeError::InvalidThreadId { id })
        }
    }

    /// A short, readable, unique-enough id such as `t-20261121-a1b2c3`.
    pub fn generate() -> Self {
        let day = chrono::Utc::now().format("%Y%m%d");
        let tag: u32 = rand::rng().random_range(0..0x0100_0000);
        Self(format!("t-{day}-{tag:06x}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ThreadId {
    type Error = TapeError;
    fn try_from(id: String) -> Result<Self, TapeError> {
        Self::new(id)
    }
}

impl From<ThreadId> for String {
    fn from(id: ThreadId) -> Self {
        id.0
    }
}

impl FromStr for ThreadId {
    type Err = TapeError;
    fn from_str(s: &str) -> Result<Self, TapeError> {
        Self::new(s)
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! number_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

number_id!(
    /// A step of a thread (one model turn and its tool calls).
    StepNo
);
number_id!(
    /// Sequence number of a record: strictly increasing along one tape, starting at 1.
    Seq
);
number_id!(
    /// A checkpoint is named by the sequence number of its record.
    CheckpointId
);

impl From<Seq> for CheckpointId {
    fn from(seq: Seq) -> Self {
        Self(seq.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_are_validated() {
        assert!(ThreadId::new("t-20261121-a1b2c3").is_ok());
        assert!(ThreadId::new("a.b_c-D9").is_ok());
        for bad in ["", "..", "a/b", "a b", "é", "x.lock", &"a".repeat(65)] {
            assert!(ThreadId::new(bad).is_err(), "{bad:?} accepted");
        }
        let generated = ThreadId::generate();
        assert!(ThreadId::new(generated.as_str()).is_ok());
        assert_eq!(generated.as_str().len(), "t-20261121-a1b2c3".len());
    }

    #[test]
    fn ids_serialise_transparently() {
        let id: ThreadId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc\"");
        assert!(serde_json::from_str::<ThreadId>("\"a/b\"").is_err());
        assert_eq!(serde_json::to_string(&Seq(7)).unwrap(), "7");
        assert_eq!("12".parse::<StepNo>().unwrap(), StepNo(12));
    }
}
