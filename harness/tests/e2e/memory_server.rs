//! Memory on a real Qdrant server (../shared/qdrant, started by scripts/test.sh), configured
//! as a user would (`qdrant_url` in baton.toml): the todo demo remembers on the server and
//! `recall` reads it back; threads killed around their memory writes and resumed end with
//! exactly the memories of an uninterrupted run; two projects with the same folder name on
//! one server never see each other's memories; a server that goes away mid-run costs one
//! warning, and the memories written meanwhile are queued and written when it is back; two
//! runs at once share the server safely. Each test removes its collection.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    TestCollection, baton, baton_bin, baton_env, describe, examples_dir, project_from_example,
    test_qdrant_url,
};
use serde_json::Value;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stats(project: &Path) -> Value {
    let output = baton(
        project,
        &["memory", "stats", "--json", "--project", p(project)],
    );
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn recall(project: &Path, query: &str) -> Vec<Value> {
    let output = baton(
        project,
        &[
            "recall",
            query,
            "--json",
            "--limit",
            "50",
            "--project",
            p(project),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_todo_demo_remembers_on_the_server_and_recall_reads_it_back() {
    let Some(url) = test_qdrant_url() else {
        return;
    };
    let collection = TestCollection::new(&url, "demo");
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("todo");
    std::fs::create_dir_all(&out).unwrap();
    collection.configure(&out);
    let output = baton(root.path(), &["demo", "--out", p(&out)]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        !out.join(".baton").join("memory").exists(),
        "nothing is kept in the embedded store"
    );

    let stats = stats(&out);
    assert_eq!(stats["backend"], "server", "{stats:#}");
    assert!(
        stats["location"]
            .as_str()
            .unwrap()
            .ends_with(&collection.name),
        "{stats:#}"
    );
    assert!(stats["total"].as_u64().unwrap() >= 10, "{stats:#}");
    let hits = recall(&out, "where are todos saved");
    let first = &hits[0]["record"];
    assert_eq!(first["kind"], "commit", "{hits:#?}");
    assert_eq!(first["feature"], "persist-todos", "{hits:#?}");
}

/// Runs the counter-app script as thread `m` in `project`, with `failpoints` killing the
/// first runs (one per failpoint, each a `kill -9`), then resumes until it ends.
fn run_killed(root: &Path, project: &Path, failpoints: &[&str]) {
    let script = examples_dir().join("counter-app").join("script.json");
    let (project, script) = (p(project), p(&script));
    let mut args = vec!["run", project, "--script", script, "--thread", "m"];
    for failpoint in failpoints {
        let output = baton_env(root, &args, &[("BATON_FAILPOINT", failpoint)]);
        assert_eq!(
            output.status.code(),
            None,
            "killed at {failpoint}: {}",
            describe(&output)
        );
        args = vec!["resume", "m", "--project", project, "--script", script];
    }
    let output = baton(root, &args);
    assert!(output.status.success(), "{}", describe(&output));
}

/// What a project's memory holds, without what differs between two runs of one script
/// (commit shas, times): kind, session, feature and text of each memory.
fn contents(project: &Path) -> BTreeSet<String> {
    recall(project, "the counter app: buttons, value, styles, errors")
        .iter()
        .map(|hit| {
            let r = &hit["record"];
            format!(
                "{} {} {} {}",
                r["kind"], r["session"], r["feature"], r["text"]
            )
        })
        .collect()
}

fn ids(project: &Path) -> BTreeSet<String> {
    recall(project, "the counter app: buttons, value, styles, errors")
        .iter()
        .map(|hit| hit["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn killed_around_memory_writes_and_resumed_loses_and_duplicates_nothing_and_projects_stay_apart() {
    let Some(url) = test_qdrant_url() else {
        return;
    };
    let collection = TestCollection::new(&url, "kill");
    let root = tempfile::tempdir().unwrap();
    // Two projects with the same folder name, the same script and the same thread name.
    let whole = project_from_example(&root.path().join("a"), "counter-app");
    let killed = project_from_example(&root.path().join("b"), "counter-app");
    collection.configure(&whole);
    collection.configure(&killed);

    run_killed(root.path(), &whole, &[]);
    let expected = stats(&whole);
    assert!(expected["total"].as_u64().unwrap() >= 8, "{expected:#}");

    // Killed just before session 2's memories are written, just after session 3's are
    // (before its checkpoint), and before a checkpoint frame.
    run_killed(
        root.path(),
        &killed,
        &[
            "session.after_commit:2",
            "session.after_remember:3",
            "checkpoint.before_frame:1",
        ],
    );
    let got = stats(&killed);
    assert_eq!(got["total"], expected["total"], "{got:#} vs {expected:#}");
    assert_eq!(got["by_kind"], expected["by_kind"]);
    assert_eq!(contents(&killed), contents(&whole));

    // Alike in content, apart on the server: neither recalls the other's memories, and the
    // second did not overwrite the first's.
    assert_ne!(got["project"], expected["project"]);
    assert!(ids(&whole).is_disjoint(&ids(&killed)));
    assert_eq!(stats(&whole)["total"], expected["total"]);
    for (project, id) in [(&whole, &expected["project"]), (&killed, &got["project"])] {
        for hit in recall(project, "counter") {
            assert_eq!(&hit["record"]["project"], id, "{hit:#}");
        }
    }
}

/// A Qdrant server of this test's own (the shared test server must stay up for the
/// others), on free ports, that can be stopped and started again on the same storage.
struct OwnServer {
    start_sh: PathBuf,
    http: u16,
    grpc: u16,
    storage: tempfile::TempDir,
}

impl OwnServer {
    fn new() -> OwnServer {
        let start_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/qdrant/start.sh");
        assert!(
            start_sh.is_file(),
            "{} is missing: the outage test starts and stops a server of its own",
            start_sh.display()
        );
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        OwnServer {
            start_sh,
            http: port(),
            grpc: port(),
            storage: tempfile::tempdir().unwrap(),
        }
    }

    fn script(&self, args: &[&str]) -> String {
        let output = Command::new("bash")
            .arg(&self.start_sh)
            .args(args)
            .env("QDRANT_HTTP_PORT", self.http.to_string())
            .env("QDRANT_GRPC_PORT", self.grpc.to_string())
            .env("QDRANT_STORAGE", self.storage.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn start(&self) -> String {
        self.script(&[])
    }

    fn stop(&self) {
        self.script(&["stop"]);
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn status_m(project: &Path) -> Option<Value> {
    let output = baton(project, &["status", "m", "--json", "--project", p(project)]);
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

#[test]
fn a_server_that_goes_away_mid_run_warns_once_and_loses_no_memory() {
    if test_qdrant_url().is_none() {
        return;
    }
    let server = OwnServer::new();
    let url = server.start();
    let collection = TestCollection::new(&url, "outage");
    let root = tempfile::tempdir().unwrap();
    let whole = project_from_example(&root.path().join("a"), "counter-app");
    collection.configure(&whole);
    run_killed(root.path(), &whole, &[]);
    let expected = stats(&whole);

    let project = project_from_example(&root.path().join("b"), "counter-app");
    collection.configure(&project);
    let mut toml = std::fs::read_to_string(project.join("baton.toml")).unwrap();
    toml.push_str("\n[pause]\nmax_steps = 4\n");
    std::fs::write(project.join("baton.toml"), toml).unwrap();
    let script = examples_dir().join("counter-app").join("script.json");
    let child = Command::new(baton_bin())
        .args(["run", p(&project), "--script", p(&script), "--thread", "m"])
        .env_remove("BATON_FAILPOINT")
        .env_remove("OPENAI_BASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(2);
    while !status_m(&project).is_some_and(|s| s["paused"].is_string()) {
        assert!(Instant::now() < deadline, "the thread never paused");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The server goes away while the thread is paused mid-run, after its first session.
    server.stop();
    let output = baton(&project, &["continue", "m", "--project", p(&project)]);
    assert!(output.status.success(), "{}", describe(&output));
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the thread goes on: {}",
        describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("memory is unreachable").count(),
        1,
        "one warning: {stderr}"
    );
    let queue = project.join(".baton").join("memory-pending.jsonl");
    assert!(std::fs::metadata(&queue).unwrap().len() > 0);

    // Back again: opening memory writes what waited, and nothing is missing or doubled.
    server.start();
    let got = stats(&project);
    assert_eq!(got["total"], expected["total"], "{got:#} vs {expected:#}");
    assert_eq!(got["by_kind"], expected["by_kind"]);
    assert_eq!(std::fs::metadata(&queue).unwrap().len(), 0);
    assert_eq!(contents(&project), contents(&whole));
}

#[test]
fn two_runs_at_once_share_the_server_safely() {
    let Some(url) = test_qdrant_url() else {
        return;
    };
    let collection = TestCollection::new(&url, "parallel");
    let root = tempfile::tempdir().unwrap();
    let script = examples_dir().join("counter-app").join("script.json");
    let projects: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|dir| {
            let project = project_from_example(&root.path().join(dir), "counter-app");
            collection.configure(&project);
            project
        })
        .collect();
    let children: Vec<_> = projects
        .iter()
        .map(|project| {
            Command::new(baton_bin())
                .args(["run", p(project), "--script", p(&script), "--thread", "m"])
                .env_remove("BATON_FAILPOINT")
                .env_remove("OPENAI_BASE_URL")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", describe(&output));
    }
    let (a, b) = (stats(&projects[0]), stats(&projects[1]));
    assert!(a["total"].as_u64().unwrap() >= 8, "{a:#}");
    assert_eq!(a["by_kind"], b["by_kind"]);
    assert_eq!(contents(&projects[0]), contents(&projects[1]));
    assert!(ids(&projects[0]).is_disjoint(&ids(&projects[1])));
}
