//! States read back lazily: "state at step N" without building every value.
//!
//! Building a `serde_json::Value` of a big state costs far more than reading its bytes
//! (allocating every string, array and map). Here the nearest full state and the deltas
//! after it are parsed only as deep as the deltas reach: a subtree no delta touches (every
//! old message of a long conversation) stays as its validated JSON text. Appended values
//! are kept as text too. The result renders to exact JSON text, or becomes a `Value` on
//! demand, so a caller that wants one part pays only for that part.
//!
//! Nothing is copied out of the lines read from the tape: the state keeps that text (one
//! buffer) and its unparsed parts are byte spans of it, so a 4 MB conversation costs one
//! validating pass and no allocation per message.

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::delta::{Op, Seg, mismatch};
use crate::error::{Result, TapeError};
use crate::ids::{Seq, StepNo};
use crate::record::{Kind, SnapshotRef};

/// A byte range of the text a state was read from, holding one validated JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// Where `part`, a slice borrowed from `text` (as `serde_json` borrows raw values from
    /// its input), lies in `text`; `None` if it is not a slice of it.
    fn of(text: &str, part: &str) -> Option<Self> {
        let start = part.as_ptr().addr().checked_sub(text.as_ptr().addr())?;
        let end = start + part.len();
        (end <= text.len()).then_some(Self { start, end })
    }

    fn get(self, text: &str) -> &str {
        &text[self.start..self.end]
    }
}

/// A delta operation whose values are still JSON text, borrowed from the state's text.
pub(crate) type RawOp<'t> = Op<&'t RawValue>;

/// A JSON value opened only where an edit needed it. Raw parts are spans of the text the
/// state was read from, which every method takes as `text`.
#[derive(Debug, Clone)]
pub(crate) enum Lazy {
    /// A subtree no edit has reached.
    Raw(Span),
    /// A scalar met while opening a container (the parser hands over its value, not its text).
    Scalar(Value),
    /// An opened array.
    Array(Vec<Lazy>),
    /// An opened object, in key order.
    Object(IndexMap<String, Lazy>),
}

impl Lazy {
    /// Applies one edit, opening the nodes on its path.
    pub fn apply(&mut self, text: &str, op: RawOp<'_>) -> Result<()> {
        let span = |path: &[Seg], raw: &RawValue| {
            Span::of(text, raw.get())
                .ok_or_else(|| mismatch(path, "delta value is not part of the text read"))
        };
        match op {
            Op::Set(path, value) => {
                let value = Self::Raw(span(&path, value)?);
                let Some((last, parent_path)) = path.split_last() else {
                    *self = value;
                    return Ok(());
                };
                match (self.locate(text, parent_path)?, last) {
                    (Self::Object(map), Seg::Key(key)) => match map.get_mut(key) {
                        // No new key to allocate for the common edit of an existing field.
                        Some(slot) => *slot = value,
                        None => {
                            map.insert(key.clone(), value);
                        }
                    },
                    (Self::Array(items), Seg::Index(i)) if *i < items.len() => {
                        items[*i] = value;
                    }
                    _ => {
                        return Err(mismatch(
                            &path,
                            "no object key or array element to set there",
                        ));
                    }
                }
            }
            Op::Remove(path) => {
                let Some((Seg::Key(key), parent_path)) = path.split_last() else {
                    return Err(mismatch(&path, "remove needs an object key"));
                };
                let Self::Object(map) = self.locate(text, parent_path)? else {
                    return Err(mismatch(&path, "remove needs an object"));
                };
                // The same order `serde_json::Map::remove` leaves under `preserve_order`.
                map.swap_remove(key)
                    .ok_or_else(|| mismatch(&path, "key to remove is missing"))?;
            }
            Op::Append(path, values) => {
                let Self::Array(items) = self.locate(text, &path)? else {
                    return Err(mismatch(&path, "append needs an array"));
                };
                items.reserve(values.len());
                for value in values {
                    items.push(Self::Raw(span(&path, value)?));
                }
            }
            Op::Truncate(path, len) => {
                let Self::Array(items) = self.locate(text, &path)? else {
                    return Err(mismatch(&path, "truncate needs an array"));
                };
                if len > items.len() {
                    return Err(mismatch(
                        &path,
                        "array is shorter than the truncation length",
                    ));
                }
                items.truncate(len);
            }
        }
        Ok(())
    }

    fn locate(&mut self, text: &str, path: &[Seg]) -> Result<&mut Self> {
        let mut node = self;
        for (depth, seg) in path.iter().enumerate() {
            let missing = || mismatch(&path[..=depth], "path does not exist in the base state");
            node.open(text)
                .map_err(|()| mismatch(&path[..depth], "recorded JSON there does not parse"))?;
            node = match (node, seg) {
                (Self::Object(map), Seg::Key(key)) => map.get_mut(key),
                (Self::Array(items), Seg::Index(i)) => items.get_mut(*i),
                _ => None,
            }
            .ok_or_else(missing)?;
        }
        node.open(text)
            .map_err(|()| mismatch(path, "recorded JSON there does not parse"))?;
        Ok(node)
    }

    /// Turns a raw object or array into an opened one (its children stay raw); a scalar
    /// stays as it is. Fails only on text that is not JSON.
    fn open(&mut self, text: &str) -> std::result::Result<(), ()> {
        let Self::Raw(span) = *self else {
            return Ok(());
        };
        let raw = span.get(text);
        *self = match raw.trim_start().as_bytes().first() {
            Some(b'[' | b'{') => parse(text, raw, 1).map_err(|_| ())?,
            // Scalars have no children; the caller decides whether that is an error.
            _ => return Ok(()),
        };
        Ok(())
    }

    /// Builds the value.
    pub fn to_value(&self, text: &str) -> Result<Value> {
        Ok(match self {
            Self::Raw(span) => serde_json::from_str(span.get(text)).map_err(TapeError::Encode)?,
            Self::Scalar(value) => value.clone(),
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.to_value(text))
                    .collect::<Result<Vec<_>>>()?,
            ),
            Self::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_value(text)?)))
                    .collect::<Result<serde_json::Map<_, _>>>()?,
            ),
        })
    }

    /// Appends the value's JSON text to `out`: raw parts as recorded, the rest compact.
    fn render(&self, text: &str, out: &mut String) -> Result<()> {
        match self {
            Self::Raw(span) => out.push_str(span.get(text)),
            Self::Scalar(value) => out.push_str(&value.to_string()),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(text, out)?;
                }
                out.push(']');
            }
            Self::Object(map) => {
                out.push('{');
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(key).map_err(TapeError::Encode)?);
                    out.push(':');
                    value.render(text, out)?;
                }
                out.push('}');
            }
        }
        Ok(())
    }
}

/// Containers opened while a full state is first parsed: the root and its children (a
/// conversation array, a feature list), so the first deltas need not re-parse the text.
const OPEN_DEPTH: usize = 2;

/// Parses `part` (a slice of `text`) into a [`Lazy`] opened `depth` levels deep.
fn parse(text: &str, part: &str, depth: usize) -> serde_json::Result<Lazy> {
    let mut de = serde_json::Deserializer::from_str(part);
    let lazy = Opened { text, depth }.deserialize(&mut de)?;
    de.end()?;
    Ok(lazy)
}

/// Parses JSON into a [`Lazy`] whose containers are opened `depth` levels deep, in a
/// single pass; deeper subtrees become spans of `text`, which the input must be a slice of.
struct Opened<'t> {
    text: &'t str,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Opened<'_> {
    type Value = Lazy;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Lazy, D::Error> {
        if self.depth == 0 {
            return span_of(self.text, <&RawValue>::deserialize(deserializer)?).map(Lazy::Raw);
        }
        deserializer.deserialize_any(self)
    }
}

/// The span of a raw value borrowed from `text`.
fn span_of<E: serde::de::Error>(text: &str, raw: &RawValue) -> std::result::Result<Span, E> {
    Span::of(text, raw.get())
        .ok_or_else(|| E::custom("raw JSON not borrowed from the state's text"))
}

impl<'de> Visitor<'de> for Opened<'_> {
    type Value = Lazy;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> std::result::Result<Lazy, A::Error> {
        let mut map = IndexMap::with_capacity(access.size_hint().unwrap_or(8));
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(Opened {
                text: self.text,
                depth: self.depth - 1,
            })?;
            map.insert(key, value);
        }
        Ok(Lazy::Object(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> std::result::Result<Lazy, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(8));
        while let Some(item) = access.next_element_seed(Opened {
            text: self.text,
            depth: self.depth - 1,
        })? {
            items.push(item);
        }
        Ok(Lazy::Array(items))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Lazy, E> {
        Ok(Lazy::Scalar(v.into()))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Lazy, E> {
        Ok(Lazy::Scalar(v.into()))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Lazy, E> {
        Ok(Lazy::Scalar(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Lazy, E> {
        Ok(Lazy::Scalar(v.into()))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Lazy, E> {
        Ok(Lazy::Scalar(v.into()))
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Lazy, E> {
        Ok(Lazy::Scalar(Value::Null))
    }
}

/// A checkpoint line read for a lazy state: the full state opened [`OPEN_DEPTH`] levels
/// deep, delta values as text borrowed from the line.
pub(crate) struct RawCheckpoint<'t> {
    pub seq: Seq,
    pub t: Kind,
    pub full: Option<Lazy>,
    pub d: Option<Vec<RawOp<'t>>>,
    pub snap: Option<SnapshotRef>,
}

impl<'t> RawCheckpoint<'t> {
    /// Parses `line`, a slice of `text`.
    pub fn parse(text: &str, line: &'t str) -> serde_json::Result<Self> {
        let mut de = serde_json::Deserializer::from_str(line);
        let checkpoint = CheckpointLine { text }.deserialize(&mut de)?;
        de.end()?;
        Ok(checkpoint)
    }
}

/// The record fields a lazy read uses; the others (`step`, `at`, `p`) are skipped.
#[derive(Deserialize)]
#[serde(field_identifier)]
enum Field {
    #[serde(rename = "seq")]
    Seq,
    #[serde(rename = "t")]
    Kind,
    #[serde(rename = "full")]
    Full,
    #[serde(rename = "d")]
    Delta,
    #[serde(rename = "snap")]
    Snapshot,
    #[serde(other)]
    Other,
}

/// By hand rather than derived: the full state's parser needs `text` to record spans.
struct CheckpointLine<'t> {
    text: &'t str,
}

impl<'de> DeserializeSeed<'de> for CheckpointLine<'_> {
    type Value = RawCheckpoint<'de>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<RawCheckpoint<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CheckpointLine<'_> {
    type Value = RawCheckpoint<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a checkpoint record")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut access: A,
    ) -> std::result::Result<RawCheckpoint<'de>, A::Error> {
        use serde::de::Error as _;
        let (mut seq, mut t, mut full, mut d, mut snap) = (None, None, None, None, None);
        while let Some(field) = access.next_key()? {
            match field {
                Field::Seq => seq = Some(access.next_value()?),
                Field::Kind => t = Some(access.next_value()?),
                Field::Full => {
                    full = Some(access.next_value_seed(Opened {
                        text: self.text,
                        depth: OPEN_DEPTH,
                    })?);
                }
                Field::Delta => d = Some(access.next_value()?),
                Field::Snapshot => snap = access.next_value()?,
                Field::Other => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawCheckpoint {
            seq: seq.ok_or_else(|| A::Error::missing_field("seq"))?,
            t: t.ok_or_else(|| A::Error::missing_field("t"))?,
            full,
            d,
            snap,
        })
    }
}

/// The thread state at a checkpoint, read lazily (see the module header).
#[derive(Debug, Clone)]
pub struct RawState {
    /// The tape lines the state was read from; `state`'s raw parts are spans of it.
    text: String,
    state: Lazy,
    /// The worktree snapshot taken with the checkpoint.
    pub snapshot: Option<SnapshotRef>,
    /// The step the checkpoint closes.
    pub step: StepNo,
}

impl RawState {
    pub(crate) fn new(
        text: String,
        state: Lazy,
        snapshot: Option<SnapshotRef>,
        step: StepNo,
    ) -> Self {
        Self {
            text,
            state,
            snapshot,
            step,
        }
    }

    /// The state as JSON text (the same value the thread had, rendered compactly except
    /// for untouched subtrees, which keep their recorded text).
    pub fn to_json(&self) -> Result<String> {
        let mut out = String::new();
        self.state.render(&self.text, &mut out)?;
        Ok(out)
    }

    /// The state as a `Value` (parses every part not parsed yet).
    pub fn to_value(&self) -> Result<Value> {
        self.state.to_value(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::delta::tests::arb_json;
    use crate::delta::{Delta, apply, diff};

    /// Applies `delta` to `base` lazily, both held in one text as a chain's lines are.
    fn lazy_apply(base: &Value, delta: &Delta) -> Result<Value> {
        let base_json = base.to_string();
        let text = format!("{base_json}\n{}", serde_json::to_string(delta).unwrap());
        let mut lazy = Lazy::Raw(Span::of(&text, &text[..base_json.len()]).unwrap());
        let ops: Vec<RawOp<'_>> = serde_json::from_str(&text[base_json.len() + 1..]).unwrap();
        for op in ops {
            lazy.apply(&text, op)?;
        }
        let state = RawState::new(text, lazy, None, StepNo(0));
        assert_eq!(
            serde_json::from_str::<Value>(&state.to_json()?).unwrap(),
            state.to_value()?
        );
        state.to_value()
    }

    proptest! {
        #[test]
        fn lazy_application_equals_eager_application(a in arb_json(), b in arb_json()) {
            let delta = diff(&a, &b);
            prop_assert_eq!(lazy_apply(&a, &delta).unwrap(), apply(&a, &delta).unwrap());
        }
    }

    #[test]
    fn untouched_subtrees_stay_text_and_bad_paths_are_errors() {
        let text = r#"{"log":[{"m":1},{"m":2}],"n":1} [{"a":[["log"],[{"m":3}]]}]"#;
        let mut lazy = Lazy::Raw(Span::of(text, &text[..31]).unwrap());
        let ops: Vec<RawOp<'_>> = serde_json::from_str(&text[32..]).unwrap();
        for op in ops {
            lazy.apply(text, op).unwrap();
        }
        let Lazy::Object(map) = &lazy else {
            panic!("root not opened")
        };
        let Lazy::Array(items) = &map["log"] else {
            panic!("log not opened")
        };
        assert!(items.iter().all(|i| matches!(i, Lazy::Raw(_))));
        assert!(matches!(map["n"], Lazy::Raw(_)));
        let err = lazy
            .apply(text, Op::Append(vec![Seg::Key("n".into())], vec![]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/n"), "{err}");
    }

    #[test]
    fn checkpoint_lines_keep_their_values_as_spans() {
        let text = r#"{"seq":4,"step":2,"at":"x","t":"c","full":{"a":[1,{"b":2}],"c":"d"},"snap":{"commit":"c","tree":"t"}}"#;
        let cp = RawCheckpoint::parse(text, text).unwrap();
        assert_eq!((cp.seq, cp.t), (Seq(4), Kind::Checkpoint));
        assert!(cp.d.is_none() && cp.snap.is_some());
        let state = RawState::new(text.into(), cp.full.unwrap(), None, StepNo(2));
        assert_eq!(state.to_json().unwrap(), r#"{"a":[1,{"b":2}],"c":"d"}"#);
        assert!(RawCheckpoint::parse(text, r#"{"t":"c"}"#).is_err());
    }
}
