//! Time travel on a recorded thread: rewind then resume; forks with `--set` and `--instruct`
//! running side by side; a zero-token replay that reproduces the original tree; a corrupt
//! tape tail; and a second process refused on a running thread.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{
    baton, baton_bin, baton_run, commit_trees, describe, examples_dir, feature_list, head_state,
    project_from_example,
};

fn script() -> PathBuf {
    examples_dir().join("counter-app").join("script.json")
}

/// A finished counter-app thread `t` (no memory: these tests are about the tape).
fn finished_thread(root: &Path) -> PathBuf {
    let project = project_from_example(root, "counter-app");
    let output = baton_run(root, &project, &script(), "t", &["--no-memory"]);
    assert!(output.status.success(), "{}", describe(&output));
    project
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `baton resume t` on `project` with the counter script.
fn resume_t(root: &Path, project: &Path) -> std::process::Output {
    baton(
        root,
        &[
            "resume",
            "t",
            "--project",
            p(project),
            "--script",
            p(&script()),
            "--no-memory",
        ],
    )
}

#[test]
fn rewind_then_resume_reaches_the_same_end() {
    let root = tempfile::tempdir().unwrap();
    let project = finished_thread(root.path());
    let trees = commit_trees(&project);
    let steps = head_state(&project, "t").step;

    let output = baton(
        root.path(),
        &["rewind", "t", "--to", "6", "--project", p(&project)],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let state = head_state(&project, "t");
    assert!(state.step <= 6, "rewound state is at step {}", state.step);
    // `show` reads the live branch through the index: a step past the rewind shows the
    // rewound state, with the state and file changes since the step before.
    let show = baton(
        root.path(),
        &[
            "show",
            "t",
            "--step",
            "9",
            "--diff",
            "--project",
            p(&project),
        ],
    );
    assert!(show.status.success(), "{}", describe(&show));
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains(&format!("thread t at step {}", state.step)),
        "{text}"
    );
    assert!(text.contains("state changes since step 8"), "{text}");

    let output = resume_t(root.path(), &project);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(head_state(&project, "t").step, steps);
    assert!(feature_list(&project).features.iter().all(|f| f.passes));
    // The abandoned branch stays on the tape.
    let tape = crate::support::tape(&project, "t");
    assert!(tape.checkpoints().count() > tape.live_branch().len());
    // The branch went back with the rewind; the commits were made again with the same trees.
    assert_eq!(commit_trees(&project), trees);

    let history = baton(root.path(), &["history", "t", "--project", p(&project)]);
    assert!(history.status.success(), "{}", describe(&history));
}

#[test]
fn forks_with_set_and_instruct_run_side_by_side() {
    let root = tempfile::tempdir().unwrap();
    let project = finished_thread(root.path());
    let output = baton(
        root.path(),
        &[
            "fork",
            "t",
            "--at",
            "6",
            "--thread",
            "fa",
            "--set",
            "/max_sessions=9",
            "--project",
            p(&project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let output = baton(
        root.path(),
        &[
            "fork",
            "t",
            "--at",
            "6",
            "--thread",
            "fb",
            "--instruct",
            "Keep the styles minimal.",
            "--project",
            p(&project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));

    let fa = project.join(".baton/forks/fa");
    let fb = project.join(".baton/forks/fb");
    assert_eq!(head_state(&fa, "fa").max_sessions, 9);
    let fb_state = head_state(&fb, "fb");
    let instructed = fb_state.instruction.as_deref() == Some("Keep the styles minimal.")
        || fb_state.conversation.iter().any(|m| {
            m.content
                .as_deref()
                .is_some_and(|c| c.contains("Keep the styles minimal."))
        });
    assert!(instructed, "the instruction is in the fork's state");

    // Both forks run at once, each on its own worktree.
    let spawn = |dir: &Path, thread: &str| {
        Command::new(baton_bin())
            .args([
                "resume",
                thread,
                "--project",
                p(dir),
                "--script",
                p(&script()),
                "--no-memory",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn(&fa, "fa");
    let b = spawn(&fb, "fb");
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success(), "fork a: {}", describe(&a));
    assert!(b.status.success(), "fork b: {}", describe(&b));
    assert!(feature_list(&fa).features.iter().all(|f| f.passes));
    assert!(feature_list(&fb).features.iter().all(|f| f.passes));

    let tree = baton(root.path(), &["tree", "t", "--project", p(&project)]);
    let text = String::from_utf8_lossy(&tree.stdout);
    assert!(text.contains("fa") && text.contains("fb"), "{text}");

    // Two forks of one thread meet in it, at the step they were forked from.
    let output = baton(
        root.path(),
        &["compare", "fa", "fb", "--project", p(&project), "--json"],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["divergence"]["common"], "t", "{report}");
    assert_eq!(report["divergence"]["step"], 6, "{report}");
    for side in ["a", "b"] {
        assert_eq!(report[side]["status"], "done", "{report}");
        assert_eq!(report[side]["next"]["step"], 7, "{report}");
        assert!(report[side]["commits"].as_u64().unwrap() > 0, "{report}");
    }
    assert!(report["files_error"].is_null(), "{report}");
}

#[test]
fn compare_shows_where_a_fork_left_its_origin_and_what_differs() {
    let root = tempfile::tempdir().unwrap();
    let project = finished_thread(root.path());
    let fork = |at: &str, thread: &str| {
        let output = baton(
            root.path(),
            &[
                "fork",
                "t",
                "--at",
                at,
                "--thread",
                thread,
                "--project",
                p(&project),
            ],
        );
        assert!(output.status.success(), "{}", describe(&output));
    };
    fork("2", "early");
    let output = baton(
        root.path(),
        &["compare", "t", "early", "--project", p(&project), "--json"],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["divergence"]["common"], "t", "{report}");
    assert_eq!(report["divergence"]["step"], 2, "{report}");
    assert_eq!(report["a"]["next"]["step"], 3, "{report}");
    assert!(
        report["b"]["next"].is_null(),
        "the fork has not run: {report}"
    );
    let passing = |side: &str| report[side]["features_passing"].as_u64().unwrap();
    assert!(passing("a") > passing("b"), "{report}");
    // The finished thread built files the fork (at step 2) does not have yet.
    let files = report["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["status"] == "deleted" && f["deletions"].as_u64().unwrap() > 0),
        "{report}"
    );

    let text = baton(
        root.path(),
        &["compare", "t", "early", "--project", p(&project)],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("part after step 2"), "{text}");
    assert!(text.contains("next on early: nothing yet"), "{text}");

    let same = baton(
        root.path(),
        &["compare", "t", "t", "--project", p(&project)],
    );
    assert_eq!(same.status.code(), Some(2), "{}", describe(&same));
    let missing = baton(
        root.path(),
        &["compare", "t", "nope", "--project", p(&project)],
    );
    assert_eq!(missing.status.code(), Some(2), "{}", describe(&missing));
}

#[test]
fn replay_reproduces_the_final_tree_with_zero_tokens() {
    let root = tempfile::tempdir().unwrap();
    let project = finished_thread(root.path());
    let out = root.path().join("replayed");
    let output = baton(
        root.path(),
        &[
            "replay",
            "t",
            "--mode",
            "replay",
            "--out",
            p(&out),
            "--project",
            p(&project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let original = git2::Repository::open(&project).unwrap();
    let replayed = git2::Repository::open(&out).unwrap();
    let tree = |repo: &git2::Repository| repo.head().unwrap().peel_to_commit().unwrap().tree_id();
    assert_eq!(tree(&original), tree(&replayed));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let replay_line = stdout.lines().find(|l| l.starts_with("replay")).unwrap();
    assert_eq!(replay_line.split_whitespace().nth(1), Some("0"), "{stdout}");
}

#[test]
fn a_corrupt_tail_is_cut_and_resume_warns() {
    let root = tempfile::tempdir().unwrap();
    let project = finished_thread(root.path());
    let tape = project.join(".baton/threads/t/tape.jsonl");
    // Cut the last line in half, then add garbage.
    let text = std::fs::read(&tape).unwrap();
    let cut = text.len() - 10;
    std::fs::write(&tape, &text[..cut]).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&tape)
        .unwrap()
        .write_all(b"\x00garbage{{{")
        .unwrap();
    let output = resume_t(root.path(), &project);
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("torn tail"), "{stderr}");
}

#[test]
fn a_second_resume_of_a_running_thread_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let project = project_from_example(root.path(), "counter-app");
    let first = Command::new(baton_bin())
        .args([
            "run",
            p(&project),
            "--script",
            p(&script()),
            "--thread",
            "t",
            "--no-memory",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first process holds the lock.
    let lock = project.join(".baton/threads/t/lock");
    for _ in 0..200 {
        if lock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let second = resume_t(root.path(), &project);
    let first_output = first.wait_with_output().unwrap();
    assert!(first_output.status.success(), "{}", describe(&first_output));
    assert_ne!(second.status.code(), Some(0), "{}", describe(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("already being run"), "{stderr}");
}

/// A fork and a live replay go on with the model their thread recorded: no `--script` and
/// no `--no-memory` on their command lines.
#[test]
fn forks_and_live_replays_use_the_recorded_model() {
    let root = tempfile::tempdir().unwrap();
    let project = finished_thread(root.path());
    let output = baton(
        root.path(),
        &[
            "fork",
            "t",
            "--at",
            "6",
            "--thread",
            "fc",
            "--project",
            p(&project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let fork = project.join(".baton/forks/fc");
    let output = baton(root.path(), &["resume", "fc", "--project", p(&fork)]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(feature_list(&fork).features.iter().all(|f| f.passes));
    let connection = head_state(&fork, "fc").connection.unwrap();
    assert!(connection.script.is_some() && !connection.memory);

    let out = root.path().join("live");
    let output = baton(
        root.path(),
        &[
            "replay",
            "t",
            "--mode",
            "live",
            "--from",
            "6",
            "--out",
            p(&out),
            "--project",
            p(&project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert!(feature_list(&out).features.iter().all(|f| f.passes));
}

/// Forks `t` at `at` as `thread` and runs the fork to its end; returns its worktree.
fn finished_fork(root: &Path, project: &Path, at: &str, thread: &str) -> PathBuf {
    let output = baton(
        root,
        &[
            "fork",
            "t",
            "--at",
            at,
            "--thread",
            thread,
            "--project",
            p(project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let dir = project.join(".baton/forks").join(thread);
    let output = baton(
        root,
        &[
            "resume",
            thread,
            "--project",
            p(&dir),
            "--script",
            p(&script()),
            "--no-memory",
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    dir
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        describe(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn adopt_fast_forwards_merges_and_refuses_a_conflict_changing_nothing() {
    let root = tempfile::tempdir().unwrap();
    let project = finished_thread(root.path());

    // The branch moved on since the fork point: a merge commit.
    finished_fork(root.path(), &project, "4", "merged");
    let before = git(&project, &["rev-parse", "HEAD"]);
    let output = baton(
        root.path(),
        &["adopt", "merged", "--project", p(&project), "--json"],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let done: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(done["how"], "merge", "{done}");
    let head = git(&project, &["rev-parse", "HEAD"]);
    assert_eq!(head, done["head"].as_str().unwrap());
    assert_eq!(
        git(&project, &["rev-parse", "HEAD^1"]),
        before,
        "the branch is the first parent"
    );
    assert_eq!(
        git(&project, &["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    // The origin goes on from the adopted state; its earlier line stays on its tape.
    let state = head_state(&project, "t");
    assert_eq!(state.git_head.as_deref(), Some(head.as_str()));
    let resumed = resume_t(root.path(), &project);
    assert!(resumed.status.success(), "{}", describe(&resumed));
    assert_eq!(git(&project, &["rev-parse", "HEAD"]), head);

    // A fork whose origin was rewound to the fork point: a fast-forward.
    let output = baton(
        root.path(),
        &["rewind", "t", "--to", "4", "--project", p(&project)],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let base = git(&project, &["rev-parse", "HEAD"]);
    let fork = finished_fork(root.path(), &project, "4", "ff");
    let output = baton(
        root.path(),
        &["adopt", "ff", "--project", p(&project), "--json"],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let done: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(done["how"], "fast-forward", "{done}");
    let count = git(&project, &["rev-list", "--count", &format!("{base}..HEAD")]);
    assert_eq!(count, done["commits"].to_string(), "{done}");
    assert_eq!(
        git(&project, &["rev-parse", "HEAD^{tree}"]),
        git(&fork, &["rev-parse", "HEAD^{tree}"]),
        "the branch has the fork's tree"
    );

    // A conflicting adopt changes nothing: branch, worktree, origin tape.
    let fork = finished_fork(root.path(), &project, "4", "clash");
    std::fs::write(project.join("app.js"), "// the project went another way\n").unwrap();
    git(
        &project,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qam",
            "another way",
        ],
    );
    let head = git(&project, &["rev-parse", "HEAD"]);
    let tape_len = std::fs::metadata(project.join(".baton/threads/t/tape.jsonl"))
        .unwrap()
        .len();
    let output = baton(root.path(), &["adopt", "clash", "--project", p(&project)]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("conflicts") && stderr.contains("app.js"),
        "{stderr}"
    );
    assert_eq!(git(&project, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(&project, &["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    assert_eq!(
        std::fs::metadata(project.join(".baton/threads/t/tape.jsonl"))
            .unwrap()
            .len(),
        tape_len
    );
    assert!(fork.join("app.js").exists(), "the fork is left as it was");

    let not_a_fork = baton(root.path(), &["adopt", "t", "--project", p(&project)]);
    assert_eq!(
        not_a_fork.status.code(),
        Some(2),
        "{}",
        describe(&not_a_fork)
    );
}
