//! Shared helpers for baton's end-to-end tests: the `baton` binary, fresh example projects,
//! scripts written on the fly, and readers for what a thread leaves behind (git log, feature
//! list, the state on its tape).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use baton::events::Event;
use baton::state::ThreadState;
use baton_tape::{Tape, ThreadId, ThreadPaths};
use baton_verify::FeatureList;

/// The `baton` binary cargo built for this test run.
pub fn baton_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

/// The repository's `examples/` folder.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples")
}

/// Runs `baton` with `args` in `cwd`, with memory switched off unless `memory` is true
/// (keeps tests that are not about memory quick) and the model's variables cleared.
pub fn baton(cwd: &Path, args: &[&str]) -> Output {
    Command::new(baton_bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("BATON_FAILPOINT")
        .output()
        .expect("run baton")
}

/// `baton run PROJECT --script SCRIPT --thread THREAD` followed by `extra` flags, in `cwd`.
pub fn baton_run(
    cwd: &Path,
    project: &Path,
    script: &Path,
    thread: &str,
    extra: &[&str],
) -> Output {
    let (project, script) = (project.to_str().unwrap(), script.to_str().unwrap());
    let mut args = vec!["run", project, "--script", script, "--thread", thread];
    args.extend_from_slice(extra);
    baton(cwd, &args)
}

/// Like `baton`, with extra environment variables.
pub fn baton_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(baton_bin());
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("BATON_FAILPOINT");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run baton")
}

/// Stdout and stderr of a run, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes a script (JSON) into `dir` and returns its path.
pub fn write_script(dir: &Path, name: &str, script: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(script).unwrap()).unwrap();
    path
}

/// The project's commits on its current branch, oldest first.
fn commits(project: &Path) -> Vec<(String, String)> {
    let repo = git2::Repository::open(project).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_head().unwrap();
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .unwrap();
    walk.map(|oid| {
        let commit = repo.find_commit(oid.unwrap()).unwrap();
        let subject = commit
            .summary()
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_owned();
        (subject, commit.tree_id().to_string())
    })
    .collect()
}

/// The subjects of the project's commits, oldest first.
pub fn commit_subjects(project: &Path) -> Vec<String> {
    commits(project)
        .into_iter()
        .map(|(subject, _)| subject)
        .collect()
}

/// The tree ids of the project's commits, oldest first.
pub fn commit_trees(project: &Path) -> Vec<String> {
    commits(project).into_iter().map(|(_, tree)| tree).collect()
}

pub fn feature_list(project: &Path) -> FeatureList {
    FeatureList::load(&project.join("feature_list.json")).unwrap()
}

/// The tape of a thread.
pub fn tape(project: &Path, thread: &str) -> Tape<Event> {
    let paths = ThreadPaths::new(project, &ThreadId::new(thread).unwrap());
    Tape::<Event>::open(&paths.tape).unwrap().0
}

/// The state at the head of a thread.
pub fn head_state(project: &Path, thread: &str) -> ThreadState {
    let tape = tape(project, thread);
    let head = tape.head().expect("a checkpoint").id;
    ThreadState::from_value(tape.state_at(head).unwrap()).unwrap()
}

/// A fresh project folder with an example's app spec in it.
pub fn project_from_example(root: &Path, example: &str) -> PathBuf {
    let project = root.join(example);
    std::fs::create_dir_all(&project).unwrap();
    std::fs::copy(
        examples_dir().join(example).join("app_spec.md"),
        project.join("app_spec.md"),
    )
    .unwrap();
    project
}

/// Every file of the worktree (outside .git and .baton) with its content, sorted.
pub fn worktree_files(project: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == ".git" || name == ".baton" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(project, project, &mut out);
    out.sort();
    out
}

/// How many memories the project's store holds (`baton memory stats --json`).
/// Unpacks `harness/tests/fixtures/NAME` (a `.tar.gz` of a project made by an older baton)
/// into `into`.
pub fn unpack_fixture(name: &str, into: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&fixture)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success(), "unpacking {}", fixture.display());
}

/// Runs `baton demo --example EXAMPLE` into `root/out`; asserts it succeeded and returns
/// the project folder and what the demo printed.
pub fn demo_example(root: &Path, example: &str, out: &str) -> (PathBuf, String) {
    let project = root.join(out);
    let output = baton(
        root,
        &[
            "demo",
            "--example",
            example,
            "--out",
            project.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    (
        project,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

pub fn memory_total(project: &Path) -> u64 {
    let output = baton(
        project,
        &[
            "memory",
            "stats",
            "--json",
            "--project",
            project.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let stats: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    stats["total"].as_u64().unwrap()
}

/// The status `baton threads --json` gives a thread, and whether its lock file is still there.
pub fn thread_status(project: &Path, thread: &str) -> (String, bool) {
    let output = baton(
        project,
        &["threads", "--json", "--project", project.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let threads: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let status = threads
        .iter()
        .find(|t| t["thread"] == thread)
        .and_then(|t| t["status"].as_str())
        .unwrap_or("missing")
        .to_owned();
    let paths = ThreadPaths::new(project, &ThreadId::new(thread).unwrap());
    (status, paths.lock.exists())
}

/// The Qdrant server for the server tests (`BATON_TEST_QDRANT_URL`, set by scripts/test.sh
/// after starting ../shared/qdrant; baton processes started by other tests never see it).
/// `None` after a loud message when unset, unless BATON_REQUIRE_QDRANT is set (CI), where
/// that is a failure.
pub fn test_qdrant_url() -> Option<String> {
    if let Ok(url) = std::env::var("BATON_TEST_QDRANT_URL") {
        return Some(url);
    }
    assert!(
        std::env::var_os("BATON_REQUIRE_QDRANT").is_none(),
        "BATON_REQUIRE_QDRANT is set but BATON_TEST_QDRANT_URL is not: run `bash scripts/test.sh` (it starts ../shared/qdrant)"
    );
    eprintln!(
        "\n*** SKIPPING server test: BATON_TEST_QDRANT_URL is not set; scripts/test.sh starts ../shared/qdrant ***\n"
    );
    None
}

/// A collection on the test server used by one test, deleted when dropped (a failing test
/// included), so test runs leave nothing behind on the server.
pub struct TestCollection {
    pub url: String,
    pub name: String,
}

impl TestCollection {
    pub fn new(url: &str, what: &str) -> TestCollection {
        TestCollection {
            url: url.to_owned(),
            name: format!("baton-test-{what}-{}", std::process::id()),
        }
    }

    /// Writes `baton.toml` into `project`, pointing its memory at this collection.
    pub fn configure(&self, project: &Path) {
        std::fs::write(
            project.join("baton.toml"),
            format!(
                "[memory]\nqdrant_url = \"{}\"\ncollection = \"{}\"\n",
                self.url, self.name
            ),
        )
        .unwrap();
    }
}

impl Drop for TestCollection {
    fn drop(&mut self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let dim = 384;
            if let Ok(store) =
                baton_memory::ServerStore::connect(&self.url, None, &self.name, dim).await
            {
                let _ = store.delete_collection().await;
            }
        });
    }
}
