//! States read back lazily: "state at step N" without building every value.
//!
//! Building a `serde_json::Value` of a big state costs far more than reading its bytes
//! (allocating every string, array and map). Here the nearest full state and the deltas
//! after it are parsed only as deep as the deltas reach: a subtree no delta touches (every
//! old message of a long conversation) stays as its validated JSON text. Appended values
//! are kept as text too. The result renders to exact JSON text, or becomes a `Value` on
//! demand, so a caller that wants one part pays only for that part.

use indexmap::IndexMap;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::delta::{Op, Seg, mismatch};
use crate::error::{Result, TapeError};
use crate::ids::StepNo;
use crate::record::SnapshotRef;

/// Unparsed JSON text, already validated by the parser that cut it out.
pub(crate) type Raw = Box<RawValue>;

/// A delta operation whose values are kept as text.
pub(crate) type RawOp = Op<Raw>;

/// A JSON value opened only where an edit needed it.
#[derive(Debug, Clone)]
pub(crate) enum Lazy {
    /// A subtree no edit has reached.
    Raw(Raw),
    /// An opened array.
    Array(Vec<Lazy>),
    /// An opened object, in key order.
    Object(IndexMap<String, Lazy>),
}

impl Lazy {
    /// Applies one edit, opening the nodes on its path.
    pub fn apply(&mut self, op: RawOp) -> Result<()> {
        match op {
            Op::Set(path, value) => {
                let Some((last, parent_path)) = path.split_last() else {
                    *self = Self::Raw(value);
                    return Ok(());
                };
                match (self.locate(parent_path)?, last) {
                    (Self::Object(map), Seg::Key(key)) => {
                        map.insert(key.clone(), Self::Raw(value));
                    }
                    (Self::Array(items), Seg::Index(i)) if *i < items.len() => {
                        items[*i] = Self::Raw(value);
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
                let Self::Object(map) = self.locate(parent_path)? else {
                    return Err(mismatch(&path, "remove needs an object"));
                };
                // The same order `serde_json::Map::remove` leaves under `preserve_order`.
                map.swap_remove(key)
                    .ok_or_else(|| mismatch(&path, "key to remove is missing"))?;
            }
            Op::Append(path, values) => {
                let Self::Array(items) = self.locate(&path)? else {
                    return Err(mismatch(&path, "append needs an array"));
                };
                items.extend(values.into_iter().map(Self::Raw));
            }
            Op::Truncate(path, len) => {
                let Self::Array(items) = self.locate(&path)? else {
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

    fn locate(&mut self, path: &[Seg]) -> Result<&mut Self> {
        let mut node = self;
        for (depth, seg) in path.iter().enumerate() {
            let missing = || mismatch(&path[..=depth], "path does not exist in the base state");
            node.open()
                .map_err(|()| mismatch(&path[..depth], "recorded JSON there does not parse"))?;
            node = match (node, seg) {
                (Self::Object(map), Seg::Key(key)) => map.get_mut(key),
                (Self::Array(items), Seg::Index(i)) => items.get_mut(*i),
                _ => None,
            }
            .ok_or_else(missing)?;
        }
        node.open()
            .map_err(|()| mismatch(path, "recorded JSON there does not parse"))?;
        Ok(node)
    }

    /// Turns a raw object or array into an opened one (its children stay raw); a scalar
    /// stays as it is. Fails only on text that is not JSON.
    fn open(&mut self) -> std::result::Result<(), ()> {
        let Self::Raw(raw) = self else {
            return Ok(());
        };
        let text = raw.get();
        *self = match text.trim_start().as_bytes().first() {
            Some(b'[' | b'{') => Opened { depth: 1 }
                .deserialize(&mut serde_json::Deserializer::from_str(text))
                .map_err(|_| ())?,
            // Scalars have no children; the caller decides whether that is an error.
            _ => return Ok(()),
        };
        Ok(())
    }

    /// Builds the value.
    pub fn to_value(&self) -> Result<Value> {
        Ok(match self {
            Self::Raw(raw) => serde_json::from_str(raw.get()).map_err(TapeError::Encode)?,
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .map(Self::to_value)
                    .collect::<Result<Vec<_>>>()?,
            ),
            Self::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_value()?)))
                    .collect::<Result<serde_json::Map<_, _>>>()?,
            ),
        })
    }
}

impl Serialize for Lazy {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Raw(raw) => raw.serialize(serializer),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    out.serialize_entry(key, value)?;
                }
                out.end()
            }
        }
    }
}

/// Containers opened while a full state is first parsed: the root and its children (a
/// conversation array, a feature list), so the first deltas need not re-parse the text.
pub(crate) const OPEN_DEPTH: usize = 2;

/// Parses JSON into a [`Lazy`] whose containers are opened `depth` levels deep, in a
/// single pass; deeper subtrees are kept as text.
pub(crate) struct Opened {
    pub depth: usize,
}

impl<'de> DeserializeSeed<'de> for Opened {
    type Value = Lazy;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Lazy, D::Error> {
        if self.depth == 0 {
            return Raw::deserialize(deserializer).map(Lazy::Raw);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Opened {
    type Value = Lazy;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> std::result::Result<Lazy, A::Error> {
        let mut map = IndexMap::with_capacity(access.size_hint().unwrap_or(8));
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(Opened {
                depth: self.depth - 1,
            })?;
            map.insert(key, value);
        }
        Ok(Lazy::Object(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> std::result::Result<Lazy, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(8));
        while let Some(item) = access.next_element_seed(Opened {
            depth: self.depth - 1,
        })? {
            items.push(item);
        }
        Ok(Lazy::Array(items))
    }

    // Scalars at an opened level are kept as their text.
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Lazy, E> {
        scalar(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Lazy, E> {
        scalar(v)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Lazy, E> {
        scalar(v)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Lazy, E> {
        scalar(v)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Lazy, E> {
        scalar(v)
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Lazy, E> {
        scalar(())
    }
}

fn scalar<T: Serialize, E: serde::de::Error>(value: T) -> std::result::Result<Lazy, E> {
    serde_json::value::to_raw_value(&value)
        .map(Lazy::Raw)
        .map_err(E::custom)
}

/// The thread state at a checkpoint, read lazily (see the module header).
#[derive(Debug, Clone)]
pub struct RawState {
    pub(crate) state: Lazy,
    /// The worktree snapshot taken with the checkpoint.
    pub snapshot: Option<SnapshotRef>,
    /// The step the checkpoint closes.
    pub step: StepNo,
}

impl RawState {
    /// The state as JSON text (the same value the thread had, rendered compactly except
    /// for untouched subtrees, which keep their recorded text).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(&self.state).map_err(TapeError::Encode)
    }

    /// The state as a `Value` (parses every part not parsed yet).
    pub fn to_value(&self) -> Result<Value> {
        self.state.to_value()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::delta::tests::arb_json;
    use crate::delta::{Delta, apply, diff};

    fn lazy_apply(base: &Value, delta: &Delta) -> Result<Value> {
        let mut lazy = Lazy::Raw(RawValue::from_string(base.to_string()).unwrap());
        let ops: Vec<RawOp> = serde_json::from_str(&serde_json::to_string(delta).unwrap()).unwrap();
        for op in ops {
            lazy.apply(op)?;
        }
        let text = serde_json::to_string(&lazy).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            lazy.to_value()?
        );
        lazy.to_value()
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
        let base = json!({"log": [{"m": 1}, {"m": 2}], "n": 1});
        let mut lazy = Lazy::Raw(RawValue::from_string(base.to_string()).unwrap());
        lazy.apply(Op::Append(
            vec![Seg::Key("log".into())],
            vec![RawValue::from_string("{\"m\":3}".into()).unwrap()],
        ))
        .unwrap();
        let Lazy::Object(map) = &lazy else {
            panic!("root not opened")
        };
        let Lazy::Array(items) = &map["log"] else {
            panic!("log not opened")
        };
        assert!(items.iter().all(|i| matches!(i, Lazy::Raw(_))));
        assert!(matches!(map["n"], Lazy::Raw(_)));
        let err = lazy
            .apply(Op::Append(vec![Seg::Key("n".into())], vec![]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/n"), "{err}");
    }
}
