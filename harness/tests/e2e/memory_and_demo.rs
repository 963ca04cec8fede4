//! Memory across sessions, with the real embedding model and the embedded Qdrant Edge
//! store: the todo demo ends with every feature passing and `recall` finds the persistence
//! commit first; a thread killed and resumed twice remembers exactly what an uninterrupted
//! one does (deterministic memory ids).

use crate::support::{
    baton, baton_env, commit_subjects, describe, examples_dir, feature_list, memory_total,
    project_from_example,
};

#[test]
fn the_todo_demo_builds_every_feature_and_recall_finds_the_persistence_commit() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("todo");
    let output = baton(root.path(), &["demo", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));

    let list = feature_list(&out);
    assert!(list.features.len() >= 6);
    assert!(list.features.iter().all(|f| f.passes), "{list:?}");
    let subjects = commit_subjects(&out);
    for feature in &list.features {
        assert!(
            subjects
                .iter()
                .any(|s| s.starts_with(&format!("feat({})", feature.id))),
            "no commit for {}: {subjects:?}",
            feature.id
        );
    }
    let progress = std::fs::read_to_string(out.join("baton-progress.md")).unwrap();
    assert_eq!(
        progress.matches("\n## Session ").count(),
        list.features.len() + 1,
        "a section per session"
    );

    let output = baton(
        root.path(),
        &[
            "recall",
            "where are todos saved",
            "--json",
            "--project",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let hits: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let first = &hits[0]["record"];
    assert_eq!(first["kind"], "commit", "{hits:#?}");
    assert_eq!(first["feature"], "persist-todos", "{hits:#?}");
}

#[test]
fn resuming_twice_leaves_the_memory_count_unchanged() {
    let root = tempfile::tempdir().unwrap();
    let script = examples_dir().join("counter-app").join("script.json");
    let script = script.to_str().unwrap();

    let baseline = project_from_example(&root.path().join("a"), "counter-app");
    let output = baton(
        root.path(),
        &[
            "run",
            baseline.to_str().unwrap(),
            "--script",
            script,
            "--thread",
            "m",
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let expected = memory_total(&baseline);
    assert!(
        expected >= 8,
        "commits, progress notes and checks are remembered: {expected}"
    );

    let project = project_from_example(&root.path().join("b"), "counter-app");
    let project_arg = project.to_str().unwrap();
    // Killed right after remembering session 2's work, before its checkpoint: the resumed
    // process remembers it again.
    let first = baton_env(
        root.path(),
        &["run", project_arg, "--script", script, "--thread", "m"],
        &[("BATON_FAILPOINT", "session.after_commit:2")],
    );
    assert_ne!(first.status.code(), Some(0), "{}", describe(&first));
    let second = baton_env(
        root.path(),
        &["resume", "m", "--project", project_arg, "--script", script],
        &[("BATON_FAILPOINT", "checkpoint.before_frame:1")],
    );
    assert_ne!(second.status.code(), Some(0), "{}", describe(&second));
    let last = baton(
        root.path(),
        &["resume", "m", "--project", project_arg, "--script", script],
    );
    assert!(last.status.success(), "{}", describe(&last));
    assert_eq!(memory_total(&project), expected);
}
