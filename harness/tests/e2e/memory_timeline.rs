//! Recall is true to the thread's timeline: after a rewind the abandoned branch's memories
//! are hidden (and shown, labelled, with `--all-branches`); a fork sees its parent's
//! memories up to the fork point and the parent never sees the fork's; renaming the folder
//! changes nothing; a store written before memories had tape positions still recalls.
//! Real scripted runs, real embedded store and embeddings, real git.

use std::path::{Path, PathBuf};

use crate::support::{
    baton, baton_run, describe, examples_dir, project_from_example, unpack_fixture,
};
use serde_json::Value;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn script() -> PathBuf {
    examples_dir().join("counter-app").join("script.json")
}

/// `baton recall QUERY --json --limit 30 --project PROJECT` with `extra` flags.
fn recall(project: &Path, query: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "recall",
        query,
        "--json",
        "--limit",
        "30",
        "--project",
        p(project),
    ];
    args.extend_from_slice(extra);
    let output = baton(project, &args);
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The hit of the commit memory of `feature`, if recalled.
fn commit_of<'a>(hits: &'a [Value], feature: &str) -> Option<&'a Value> {
    hits.iter()
        .find(|h| h["record"]["kind"] == "commit" && h["record"]["feature"] == feature)
}

/// Every hit made by `thread`.
fn of_thread<'a>(hits: &'a [Value], thread: &str) -> Vec<&'a Value> {
    hits.iter()
        .filter(|h| h["record"]["thread"] == thread)
        .collect()
}

/// The features whose commits the hits hold.
fn committed_features(hits: &[Value]) -> Vec<String> {
    let mut features: Vec<String> = hits
        .iter()
        .filter(|h| h["record"]["kind"] == "commit")
        .filter_map(|h| h["record"]["feature"].as_str().map(str::to_owned))
        .collect();
    features.sort();
    features
}

/// The step of the commit memory of `feature`.
fn step_of(hits: &[Value], feature: &str) -> u64 {
    commit_of(hits, feature)
        .and_then(|h| h["record"]["step"].as_u64())
        .unwrap_or_else(|| panic!("no commit memory of {feature} with a step: {hits:#?}"))
}

fn rewind(project: &Path, thread: &str, to: u64) {
    let to = to.to_string();
    let output = baton(
        project,
        &["rewind", thread, "--to", &to, "--project", p(project)],
    );
    assert!(output.status.success(), "{}", describe(&output));
}

/// A finished counter-app thread `m` with memory; returns the project and every memory.
fn remembered(root: &Path) -> (PathBuf, Vec<Value>) {
    let project = project_from_example(root, "counter-app");
    let output = baton_run(root, &project, &script(), "m", &[]);
    assert!(output.status.success(), "{}", describe(&output));
    let all = recall(&project, "counter button", &[]);
    assert_eq!(
        committed_features(&all),
        ["increment", "reset", "step-size"],
        "{all:#?}"
    );
    (project, all)
}

#[test]
fn a_rewound_branch_is_hidden_from_recall_and_shown_labelled_with_all_branches() {
    let root = tempfile::tempdir().unwrap();
    let (project, all) = remembered(root.path());
    let last = step_of(&all, "step-size");
    let reset = step_of(&all, "reset");
    assert!(reset < last);
    rewind(&project, "m", last - 1);

    let query = "a step drop-down sets how much each click adds";
    let hits = recall(&project, query, &[]);
    assert!(commit_of(&hits, "step-size").is_none(), "{hits:#?}");
    assert!(
        hits.iter()
            .all(|h| h["record"]["step"].as_u64().is_none_or(|s| s < last)),
        "nothing of the abandoned steps: {hits:#?}"
    );
    assert_eq!(committed_features(&hits), ["increment", "reset"]);
    // Asked as the thread, the same.
    let as_thread = recall(&project, query, &["--thread", "m"]);
    assert_eq!(committed_features(&as_thread), ["increment", "reset"]);

    let every = recall(&project, query, &["--all-branches"]);
    let abandoned = commit_of(&every, "step-size").expect("shown with --all-branches");
    let label = abandoned["hidden"].as_str().unwrap();
    assert!(
        label.contains("abandoned branch") && label.contains(&format!("step {last}")),
        "{label}"
    );
    assert!(commit_of(&every, "reset").unwrap().get("hidden").is_none());
    let text = baton(
        &project,
        &["recall", query, "--all-branches", "--project", p(&project)],
    );
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("[abandoned branch: m step"),
        "{}",
        describe(&text)
    );

    // Rename-then-recall: the folder's name is not the project, nor the timeline.
    let renamed = root.path().join("renamed-app");
    std::fs::rename(&project, &renamed).unwrap();
    let again = recall(&renamed, query, &[]);
    assert_eq!(committed_features(&again), ["increment", "reset"]);
    assert!(commit_of(&recall(&renamed, query, &["--all-branches"]), "step-size").is_some());

    // Going on from the rewind makes the step-size work again, on the live line.
    let output = baton(
        &renamed,
        &[
            "resume",
            "m",
            "--project",
            p(&renamed),
            "--script",
            p(&script()),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let redone = recall(&renamed, query, &[]);
    let commit = commit_of(&redone, "step-size").expect("the redone commit is live");
    assert!(commit.get("hidden").is_none());
}

#[test]
fn a_fork_sees_its_parent_up_to_the_fork_point_and_the_parent_never_sees_the_fork() {
    let root = tempfile::tempdir().unwrap();
    let (project, all) = remembered(root.path());
    let increment = step_of(&all, "increment");
    let reset = step_of(&all, "reset");
    let at = increment.to_string();
    let output = baton(
        &project,
        &[
            "fork",
            "m",
            "--at",
            &at,
            "--thread",
            "f",
            "--project",
            p(&project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let fork = project.join(".baton").join("forks").join("f");

    let query = "counter button";
    let seen = recall(&fork, query, &[]);
    assert_eq!(committed_features(&seen), ["increment"], "{seen:#?}");
    assert!(
        seen.iter()
            .all(|h| h["record"]["step"].as_u64().is_none_or(|s| s <= increment)),
        "{seen:#?}"
    );
    assert_eq!(
        committed_features(&recall(&project, query, &["--thread", "f"])),
        ["increment"],
        "the fork's line, asked from the project"
    );
    let every = recall(&fork, query, &["--all-branches"]);
    let later = commit_of(&every, "reset").unwrap();
    assert!(
        later["hidden"].as_str().unwrap().contains(&format!(
            "m step {reset}, after the fork at step {increment}"
        )),
        "{later:#}"
    );

    // The fork does its own work (with memory); its parent's line never shows it.
    let output = baton(
        &project,
        &[
            "resume",
            "f",
            "--project",
            p(&fork),
            "--script",
            p(&script()),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let fork_all = recall(&project, query, &["--all-branches"]);
    let made_by_fork = of_thread(&fork_all, "f");
    assert!(!made_by_fork.is_empty(), "{fork_all:#?}");
    assert!(
        made_by_fork.iter().all(|h| h["hidden"]
            .as_str()
            .is_some_and(|l| l.contains("other branch"))),
        "{made_by_fork:#?}"
    );
    let parent = recall(&project, query, &[]);
    assert!(of_thread(&parent, "f").is_empty(), "{parent:#?}");
    assert_eq!(
        committed_features(&parent),
        ["increment", "reset", "step-size"]
    );
    // The fork sees its own work and its parent's up to the fork point.
    let fork_now = recall(&fork, query, &[]);
    assert!(!of_thread(&fork_now, "f").is_empty(), "{fork_now:#?}");
    assert!(
        of_thread(&fork_now, "m")
            .iter()
            .all(|h| h["record"]["step"].as_u64().is_none_or(|s| s <= increment)),
        "{fork_now:#?}"
    );
}

/// `tests/fixtures/store-before-tape-positions.tar.gz`: the counter-app example run with
/// memory (`baton run counter-app --script examples/counter-app/script.json --thread m`) by
/// baton before memories recorded their tape position (commit b51cdf8), without its
/// evidence and logs. Its memories have a thread and a step but no `tape_seq`.
#[test]
fn a_store_made_before_tape_positions_still_recalls_and_follows_a_rewind() {
    let root = tempfile::tempdir().unwrap();
    unpack_fixture("store-before-tape-positions.tar.gz", root.path());
    let project = root.path().join("counter-app");

    let all = recall(&project, "counter button", &[]);
    assert_eq!(
        committed_features(&all),
        ["increment", "reset", "step-size"]
    );
    assert!(all.iter().all(|h| h["record"]["tape_seq"].is_null()));
    let last = step_of(&all, "step-size");
    rewind(&project, "m", last - 1);
    let hits = recall(&project, "counter button", &[]);
    assert_eq!(committed_features(&hits), ["increment", "reset"]);
    let every = recall(&project, "counter button", &["--all-branches"]);
    assert!(
        every
            .iter()
            .filter(|h| h["record"]["step"].as_u64().is_some_and(|s| s >= last))
            .all(|h| h["hidden"]
                .as_str()
                .is_some_and(|l| l.contains("abandoned"))),
        "{every:#?}"
    );
}
