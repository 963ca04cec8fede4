//! JSON state deltas: `diff(old, new)` and `apply(base, delta)`, exact for any JSON.
//!
//! A delta is a list of operations on paths (object keys and array indices). Objects
//! are diffed key by key and arrays element by element, so one changed key costs one
//! small operation and a grown array costs only its new elements.
//!
//! Flat per-step cost: the writer keeps the previous state and calls [`Differ`] with
//! *append-only hints* (paths such as `/conversation`). For a hinted array that did not
//! shrink, only a bounded probe is compared (its last elements plus a rotating window
//! that sweeps the whole prefix over successive checkpoints) instead of every element,
//! so a 10,000-message conversation costs the same per step as a 10-message one. If a
//! probe ever finds a changed element the array falls back to the exact element-wise
//! diff for that checkpoint, so a caller that breaks its promise loses nothing that the
//! probe sees; the sweep bounds how long an unseen edit can go unrecorded.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, TapeError};

/// Elements compared at the end of a hinted array on every checkpoint.
const TAIL_PROBE: usize = 2;
/// Elements of a hinted array's prefix compared per checkpoint by the rotating sweep.
const SWEEP_WINDOW: usize = 16;

/// One step of a path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Seg {
    /// An array index.
    Index(usize),
    /// An object key.
    Key(String),
}

// By hand rather than `untagged`: serde's untagged enums buffer every value before trying
// the variants, and reading a state back parses thousands of paths.
impl<'de> Deserialize<'de> for Seg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct SegVisitor;
        impl serde::de::Visitor<'_> for SegVisitor {
            type Value = Seg;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key (string) or an array index (non-negative integer)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Seg, E> {
                usize::try_from(v).map(Seg::Index).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Seg, E> {
                Ok(Seg::Key(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> std::result::Result<Seg, E> {
                Ok(Seg::Key(v))
            }
        }
        d.deserialize_any(SegVisitor)
    }
}

/// One edit. Encoded compactly as `{"s":[path,value]}`, `{"r":[path]}`,
/// `{"a":[path,[values]]}`, `{"t":[path,len]}` (see `FORMAT.md`). `V` is how values are
/// held: built [`Value`]s, or unparsed JSON text when a state is read lazily.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op<V = Value> {
    /// Put `value` at the path (replacing the root when the path is empty).
    #[serde(rename = "s")]
    Set(Vec<Seg>, V),
    /// Remove the object key at the path.
    #[serde(rename = "r")]
    Remove(Vec<Seg>),
    /// Push values at the end of the array at the path.
    #[serde(rename = "a")]
    Append(Vec<Seg>, Vec<V>),
    /// Shorten the array at the path to `len` elements.
    #[serde(rename = "t")]
    Truncate(Vec<Seg>, usize),
}

/// The edits turning one state into the next, applied in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Delta {
    /// The operations.
    pub ops: Vec<Op>,
}

impl Delta {
    /// True when the states were equal.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The exact delta from `old` to `new`; compares everything (see [`Differ`] for the
/// hinted, flat-cost version the writer uses).
pub fn diff(old: &Value, new: &Value) -> Delta {
    Differ::new(&mut []).diff(old, new)
}

/// `base` with `delta` applied.
pub fn apply(base: &Value, delta: &Delta) -> Result<Value> {
    let mut state = base.clone();
    apply_in_place(&mut state, delta)?;
    Ok(state)
}

/// Applies `delta` to `state` in place; on error `state` may be partly edited.
pub fn apply_in_place(state: &mut Value, delta: &Delta) -> Result<()> {
    apply_measured(state, delta.clone()).map(|_| ())
}

/// Applies `delta`, moving its values into the state, and returns how much the state's
/// JSON size changed (estimated without re-encoding the state: only the touched values
/// are measured).
pub(crate) fn apply_measured(state: &mut Value, delta: Delta) -> Result<i64> {
    let mut growth = 0i64;
    for op in delta.ops {
        growth += apply_op(state, op)?;
    }
    Ok(growth)
}

fn apply_op(state: &mut Value, op: Op) -> Result<i64> {
    match op {
        Op::Set(path, value) => {
            let added = json_len(&value);
            let Some((last, parent_path)) = path.split_last() else {
                let removed = json_len(state);
                *state = value;
                return Ok(added - removed);
            };
            let parent = locate(state, parent_path)?;
            let old = match (parent, last) {
                (Value::Object(map), Seg::Key(key)) => map.insert(key.clone(), value),
                (Value::Array(items), Seg::Index(i)) if *i < items.len() => {
                    Some(std::mem::replace(&mut items[*i], value))
                }
                _ => {
                    return Err(mismatch(
                        &path,
                        "no object key or array element to set there",
                    ));
                }
            };
            Ok(added - old.map_or(0, |v| json_len(&v)))
        }
        Op::Remove(path) => {
            let Some((Seg::Key(key), parent_path)) = path.split_last() else {
                return Err(mismatch(&path, "remove needs an object key"));
            };
            let Value::Object(map) = locate(state, parent_path)? else {
                return Err(mismatch(&path, "remove needs an object"));
            };
            let old = map
                .remove(key)
                .ok_or_else(|| mismatch(&path, "key to remove is missing"))?;
            Ok(-json_len(&old) - signed(key.len()) - 4)
        }
        Op::Append(path, values) => {
            let Value::Array(items) = locate(state, &path)? else {
                return Err(mismatch(&path, "append needs an array"));
            };
            let added = values.iter().map(|v| json_len(v) + 1).sum();
            items.extend(values);
            Ok(added)
        }
        Op::Truncate(path, len) => {
            let Value::Array(items) = locate(state, &path)? else {
                return Err(mismatch(&path, "truncate needs an array"));
            };
            if len > items.len() {
                return Err(mismatch(
                    &path,
                    "array is shorter than the truncation length",
                ));
            }
            let removed: i64 = items[len..].iter().map(|v| json_len(v) + 1).sum();
            items.truncate(len);
            Ok(-removed)
        }
    }
}

fn locate<'v>(mut node: &'v mut Value, path: &[Seg]) -> Result<&'v mut Value> {
    for (depth, seg) in path.iter().enumerate() {
        node = match (node, seg) {
            (Value::Object(map), Seg::Key(key)) => map.get_mut(key),
            (Value::Array(items), Seg::Index(i)) => items.get_mut(*i),
            _ => None,
        }
        .ok_or_else(|| mismatch(&path[..=depth], "path does not exist in the base state"))?;
    }
    Ok(node)
}

pub(crate) fn mismatch(path: &[Seg], reason: &'static str) -> TapeError {
    TapeError::DeltaMismatch {
        path: pointer(path),
        reason,
    }
}

/// Renders a path as a JSON pointer (`/conversation/3/content`).
pub fn pointer(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(key) => out.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// Approximate encoded size of a value in bytes (escapes not counted); cheap, no allocation
/// except for numbers. Signed because the writer adds and subtracts these.
pub(crate) fn json_len(value: &Value) -> i64 {
    match value {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => signed(n.to_string().len()),
        Value::String(s) => signed(s.len()) + 2,
        Value::Array(items) => 2 + items.iter().map(|v| json_len(v) + 1).sum::<i64>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| signed(k.len()) + 4 + json_len(v))
                .sum::<i64>()
        }
    }
}

pub(crate) fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An array path the caller promises only ever grows at its end (e.g. `/conversation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOnlyPath {
    keys: Vec<String>,
    sweep_cursor: usize,
}

impl AppendOnlyPath {
    /// Parses a JSON pointer made of object keys (`/conversation`, `/session/messages`).
    pub fn new(pointer: &str) -> Self {
        let keys = pointer
            .split('/')
            .skip(1)
            .map(|k| k.replace("~1", "/").replace("~0", "~"))
            .collect();
        Self {
            keys,
            sweep_cursor: 0,
        }
    }

    fn matches(&self, path: &[Seg]) -> bool {
        self.keys.len() == path.len()
            && self
                .keys
                .iter()
                .zip(path)
                .all(|(k, seg)| matches!(seg, Seg::Key(s) if s == k))
    }

    /// Compares a bounded probe of `old` against `new`'s prefix: the tail, then the next
    /// window of the rotating sweep.
    fn prefix_unchanged(&mut self, old: &[Value], new: &[Value]) -> bool {
        let len = old.len();
        if len == 0 {
            return true;
        }
        let tail_same = (len.saturating_sub(TAIL_PROBE)..len).all(|i| old[i] == new[i]);
        let start = self.sweep_cursor % len;
        let window = SWEEP_WINDOW.min(len);
        self.sweep_cursor = start + window;
        tail_same && (start..start + window).all(|i| old[i % len] == new[i % len])
    }
}

/// Computes deltas, using append-only hints to keep the cost proportional to the change.
pub struct Differ<'h> {
    hints: &'h mut [AppendOnlyPath],
    path: Vec<Seg>,
    ops: Vec<Op>,
}

impl<'h> Differ<'h> {
    /// A differ trusting (and probing) the given append-only paths.
    pub fn new(hints: &'h mut [AppendOnlyPath]) -> Self {
        Self {
            hints,
            path: Vec::new(),
            ops: Vec::new(),
        }
    }

    /// The delta from `old` to `new`.
    pub fn diff(mut self, old: &Value, new: &Value) -> Delta {
        self.node(old, new);
        Delta { ops: self.ops }
    }

    fn node(&mut self, old: &Value, new: &Value) {
        match (old, new) {
            (Value::Object(before), Value::Object(after)) => {
                for key in before.keys().filter(|k| !after.contains_key(*k)) {
                    self.ops.push(Op::Remove(self.child(Seg::Key(key.clone()))));
                }
                for (key, value) in after {
                    self.path.push(Seg::Key(key.clone()));
                    match before.get(key) {
                        Some(previous) => self.node(previous, value),
                        None => self.ops.push(Op::Set(self.path.clone(), value.clone())),
                    }
                    self.path.pop();
                }
            }
            (Value::Array(before), Value::Array(after)) => self.array(before, after),
            _ if old == new => {}
            _ => self.ops.push(Op::Set(self.path.clone(), new.clone())),
        }
    }

    fn array(&mut self, before: &[Value], after: &[Value]) {
        if after.len() >= before.len()
            && let Some(hint) = self.hints.iter_mut().find(|h| h.matches(&self.path))
            && hint.prefix_unchanged(before, after)
        {
            if after.len() > before.len() {
                self.ops.push(Op::Append(
                    self.path.clone(),
                    after[before.len()..].to_vec(),
                ));
            }
            return;
        }
        let first_op = self.ops.len();
        if after.len() < before.len() {
            self.ops.push(Op::Truncate(self.path.clone(), after.len()));
        }
        for (i, (old, new)) in before.iter().zip(after).enumerate() {
            self.path.push(Seg::Index(i));
            self.node(old, new);
            self.path.pop();
        }
        if after.len() > before.len() {
            self.ops.push(Op::Append(
                self.path.clone(),
                after[before.len()..].to_vec(),
            ));
        }
        // A mostly rewritten array (e.g. an insertion at the front) is smaller as one value.
        let ops = self.ops.len() - first_op;
        if ops > 4 && ops > after.len() / 2 {
            self.ops.truncate(first_op);
            self.ops
                .push(Op::Set(self.path.clone(), Value::Array(after.to_vec())));
        }
    }

    fn child(&self, seg: Seg) -> Vec<Seg> {
        let mut path = self.path.clone();
        path.push(seg);
        path
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// Any JSON value (shared with the lazy reader's tests).
    pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            "[a-z0-9 ~/\"\\\\é]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-d~/]{0,3}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn apply_of_diff_round_trips(a in arb_json(), b in arb_json()) {
            let delta = diff(&a, &b);
            prop_assert_eq!(apply(&a, &delta).unwrap(), b.clone());
            // and the encoding of the delta round-trips too
            let text = serde_json::to_string(&delta).unwrap();
            let decoded: Delta = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(apply(&a, &decoded).unwrap(), b);
        }

        #[test]
        fn chained_deltas_round_trip(states in prop::collection::vec(arb_json(), 1..8)) {
            let mut current = states[0].clone();
            for pair in states.windows(2) {
                apply_in_place(&mut current, &diff(&pair[0], &pair[1])).unwrap();
                prop_assert_eq!(&current, &pair[1]);
            }
        }

        #[test]
        fn hinted_diff_is_exact_for_appends(
            start in prop::collection::vec(arb_json(), 0..40),
            grows in prop::collection::vec(prop::collection::vec(arb_json(), 0..3), 1..10),
        ) {
            let mut hints = vec![AppendOnlyPath::new("/log")];
            let mut old = json!({ "log": start });
            for extra in grows {
                let mut new = old.clone();
                new["log"].as_array_mut().unwrap().extend(extra);
                let delta = Differ::new(&mut hints).diff(&old, &new);
                apply_in_place(&mut old, &delta).unwrap();
                prop_assert_eq!(&old, &new);
            }
        }
    }

    #[test]
    fn deltas_are_small_for_the_common_case() {
        let old = json!({"conversation": ["a", "b"], "features": [{"id": 1, "passes": false}], "step": 1});
        let new = json!({"conversation": ["a", "b", "c"], "features": [{"id": 1, "passes": true}], "step": 2});
        let text = serde_json::to_string(&diff(&old, &new)).unwrap();
        assert_eq!(
            text,
            r#"[{"a":[["conversation"],["c"]]},{"s":[["features",0,"passes"],true]},{"s":[["step"],2]}]"#
        );
    }

    #[test]
    fn hint_probe_catches_an_edit_in_the_tail_and_the_sweep_finds_older_ones() {
        let mut hints = vec![AppendOnlyPath::new("/log")];
        let old = json!({"log": (0..100).collect::<Vec<_>>()});
        let mut new = old.clone();
        new["log"][99] = json!("edited");
        let delta = Differ::new(&mut hints).diff(&old, &new);
        assert_eq!(apply(&old, &delta).unwrap(), new);

        // An edit deep in the prefix is caught once the sweep reaches it.
        let mut new = old.clone();
        new["log"][50] = json!("edited");
        let caught = (0..10).any(|_| !Differ::new(&mut hints).diff(&old, &new).is_empty());
        assert!(caught, "the sweep never reached element 50");
    }

    #[test]
    fn bad_deltas_are_errors_naming_the_path() {
        let delta = Delta {
            ops: vec![Op::Append(vec![Seg::Key("missing".into())], vec![json!(1)])],
        };
        let err = apply(&json!({}), &delta).unwrap_err().to_string();
        assert!(err.contains("/missing"), "{err}");
    }
}
