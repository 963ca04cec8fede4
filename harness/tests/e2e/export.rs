//! `baton export` of a forked thread, each format checked against its schema in
//! docs/export/, and `baton rate` turning a DPO pair around.

use std::path::{Path, PathBuf};

use crate::support::{baton, baton_run, describe, examples_dir, project_from_example};
use serde_json::Value;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The schema keywords docs/export/ uses: type, enum, required, properties, items, $ref.
fn validate(schema: &Value, root: &Value, value: &Value, at: &str) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = root.pointer(reference.trim_start_matches('#')).unwrap();
        return validate(target, root, value, at);
    }
    if let Some(kinds) = schema.get("type") {
        let kinds: Vec<&str> = match kinds {
            Value::String(kind) => vec![kind.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema"),
        };
        let ok = kinds.iter().any(|kind| match *kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("type {other} not handled"),
        });
        assert!(ok, "{at}: {value} is not {kinds:?}");
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        assert!(options.contains(value), "{at}: {value} not in {options:?}");
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required {
            assert!(
                value.get(key.as_str().unwrap()).is_some(),
                "{at}: missing {key}"
            );
        }
    }
    if let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (key, sub) in properties {
            if let Some(field) = object.get(key) {
                validate(sub, root, field, &format!("{at}/{key}"));
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, item) in list.iter().enumerate() {
            validate(items, root, item, &format!("{at}/{i}"));
        }
    }
}

fn export(root: &Path, project: &Path, format: &str) -> Vec<Value> {
    let out = root.join(format!("{format}.jsonl"));
    let output = baton(
        root,
        &[
            "export",
            "t",
            "--format",
            format,
            "-o",
            p(&out),
            "--project",
            p(project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let schema_path: PathBuf = examples_dir()
        .join("../docs/export")
        .join(format!("{format}.schema.json"));
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    for (i, line) in lines.iter().enumerate() {
        validate(&schema, &schema, line, &format!("{format} line {i}"));
    }
    lines
}

#[test]
fn export_of_a_forked_thread_follows_its_schemas_and_ratings_turn_pairs() {
    let root = tempfile::tempdir().unwrap();
    let project = project_from_example(root.path(), "counter-app");
    let script = examples_dir().join("counter-app").join("script.json");
    let output = baton_run(root.path(), &project, &script, "t", &["--no-memory"]);
    assert!(output.status.success(), "{}", describe(&output));
    // A fork left at step 6 with an instruction: it has done nothing since, so the origin,
    // which went on to pass every feature, is the better continuation.
    let output = baton(
        root.path(),
        &[
            "fork",
            "t",
            "--at",
            "6",
            "--thread",
            "fa",
            "--instruct",
            "Use tabs.",
            "--project",
            p(&project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));

    let branches = export(root.path(), &project, "trajectory");
    assert_eq!(branches.len(), 2, "{branches:?}");
    assert_eq!(branches[0]["thread"], "t");
    assert_eq!(branches[1]["thread"], "fa");
    assert_eq!(branches[1]["parent"], "t");
    assert_eq!(branches[1]["fork_step"], 6);
    assert_eq!(branches[1]["instruction"], "Use tabs.");
    assert!(branches[0]["features_passing"].as_u64().unwrap() > 0);

    let pairs = export(root.path(), &project, "dpo");
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(pairs[0]["step"], 6);
    assert_eq!(pairs[0]["chosen"]["thread"], "t");
    assert_eq!(pairs[0]["rejected"]["thread"], "fa");
    assert_eq!(pairs[0]["reason"], "features");

    let samples = export(root.path(), &project, "sft");
    assert!(!samples.is_empty());
    assert!(
        samples.iter().all(|s| s["thread"] == "t"),
        "only the finished branch"
    );

    // A person prefers the fork: the pair turns around, and the fork's sessions (none yet) are
    // in the SFT set while the origin, rated bad after the fork, leaves it.
    let fork_dir = project.join(".baton/forks/fa");
    let output = baton(
        root.path(),
        &[
            "rate",
            "fa",
            "--step",
            "6",
            "good",
            "--note",
            "cleaner",
            "--project",
            p(&project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert!(fork_dir.join(".baton/threads/fa/ratings.jsonl").exists());
    let pairs = export(root.path(), &project, "dpo");
    assert_eq!(pairs[0]["chosen"]["thread"], "fa", "{:?}", pairs[0]);
    assert_eq!(pairs[0]["chosen"]["rating"], "good");
    assert_eq!(pairs[0]["reason"], "rating");
    let output = baton(
        root.path(),
        &["rate", "t", "--step", "7", "bad", "--project", p(&project)],
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        export(root.path(), &project, "sft")
            .iter()
            .all(|s| s["thread"] != "t")
    );

    // A step the thread does not have is bad input, named.
    let output = baton(
        root.path(),
        &[
            "rate",
            "t",
            "--step",
            "9999",
            "good",
            "--project",
            p(&project),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no live step 9999"));
}
