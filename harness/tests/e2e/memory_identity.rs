//! A project keeps its memories however it is reached: renamed, copied, through a fork's
//! worktree, or cloned (same id, found in the history); and a store made by an earlier
//! baton, whose memories carry the folder name, is adopted on open with nothing lost.
//! Real model, real embedded Qdrant Edge store, real git.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{
    baton, baton_run, describe, examples_dir, memory_total, project_from_example, unpack_fixture,
};
use serde_json::Value;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `baton recall QUERY --json --project PROJECT`.
fn recall(project: &Path, query: &str) -> Vec<Value> {
    let output = baton(
        project,
        &[
            "recall",
            query,
            "--json",
            "--limit",
            "20",
            "--project",
            p(project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The ids of the hits, in order.
fn hit_ids(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The id kept in `.baton/project.json`.
fn project_id(project: &Path) -> String {
    let text = std::fs::read_to_string(project.join(".baton").join("project.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["id"].as_str().unwrap().to_owned()
}

fn stats(project: &Path) -> Value {
    let output = baton(
        project,
        &["memory", "stats", "--json", "--project", p(project)],
    );
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .args(["-a", p(from), p(to)])
        .status()
        .unwrap();
    assert!(status.success());
}

fn assert_all_tagged(hits: &[Value], id: &str) {
    assert!(!hits.is_empty());
    for hit in hits {
        assert_eq!(hit["record"]["project"], id, "{hit:#}");
    }
}

/// A finished counter-app thread `m` with memory, in `root/counter-app`.
fn remembered_project(root: &Path) -> PathBuf {
    let project = project_from_example(root, "counter-app");
    let script = examples_dir().join("counter-app").join("script.json");
    let output = baton_run(root, &project, &script, "m", &[]);
    assert!(output.status.success(), "{}", describe(&output));
    project
}

#[test]
fn renamed_copied_forked_and_cloned_projects_keep_their_memories() {
    let root = tempfile::tempdir().unwrap();
    let project = remembered_project(root.path());
    let id = project_id(&project);
    let query = "the counter value";
    let before = recall(&project, query);
    assert_all_tagged(&before, &id);
    let total = memory_total(&project);

    let renamed = root.path().join("renamed");
    std::fs::rename(&project, &renamed).unwrap();
    let hits = recall(&renamed, query);
    assert_eq!(hit_ids(&hits), hit_ids(&before), "rename-then-recall");

    let copy = root.path().join("elsewhere");
    std::fs::create_dir_all(&copy).unwrap();
    let copy = copy.join("copy");
    copy_dir(&renamed, &copy);
    assert_eq!(
        hit_ids(&recall(&copy, query)),
        hit_ids(&before),
        "copy-then-recall"
    );
    assert_eq!(memory_total(&copy), total);

    let output = baton(
        &renamed,
        &[
            "fork",
            "m",
            "--at",
            "7",
            "--thread",
            "f",
            "--project",
            p(&renamed),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let fork = renamed.join(".baton").join("forks").join("f");
    // The fork's worktree reads its origin's memories: those of its line, up to step 7.
    let hits = recall(&fork, query);
    let up_to_fork: Vec<Value> = before
        .iter()
        .filter(|h| h["record"]["step"].as_u64().is_some_and(|s| s <= 7))
        .cloned()
        .collect();
    assert!(!up_to_fork.is_empty());
    assert_eq!(hit_ids(&hits), hit_ids(&up_to_fork), "fork-then-recall");
    assert!(
        !fork.join(".baton").join("project.json").exists(),
        "a fork's worktree is its origin, not a project of its own"
    );

    // A clone has no .baton/: its commits name the project.
    let clone = root.path().join("clone");
    git2::Repository::clone(p(&renamed), &clone).unwrap();
    assert_eq!(stats(&clone)["project"], id.as_str());
    assert_eq!(project_id(&clone), id);

    // Another project with the same folder name is another project.
    let other = root.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let other = project_from_example(&other, "counter-app");
    assert_ne!(stats(&other)["project"], id.as_str());
}

/// `tests/fixtures/legacy-memory-store.tar.gz`: the counter-app example run with memory
/// (`baton run counter-app --script examples/counter-app/script.json --thread m`) by baton
/// as it was before project ids (commit 286d96c): 11 memories tagged `counter-app`, no
/// `.baton/project.json`, no `Baton-Project:` trailers. Unpacked under another folder name.
#[test]
fn a_store_made_before_project_ids_is_adopted_with_nothing_lost() {
    let root = tempfile::tempdir().unwrap();
    unpack_fixture("legacy-memory-store.tar.gz", root.path());
    let project = root.path().join("moved-app");
    std::fs::rename(root.path().join("counter-app"), &project).unwrap();

    let first = stats(&project);
    assert_eq!(first["total"], 11, "{first:#}");
    let id = project_id(&project);
    assert_eq!(first["project"], id.as_str());
    let hits = recall(&project, "increment the counter");
    assert_all_tagged(&hits, &id);
    assert!(
        hits.iter().any(|h| h["record"]["kind"] == "commit"),
        "{hits:#?}"
    );
    // Adopted once: opening again changes nothing.
    assert_eq!(stats(&project)["total"], 11);
}
