//! The harness's half of `baton bench memory`: `memory reindex` throughput on a history
//! of a real repository's shape, and the latency of the `baton recall` command itself (a
//! fresh process each call: ONNX Runtime, the model and the store are loaded every time).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::memory_index::{Reindexed, reindex_project};

/// Commits in the synthetic history used when no recall set is found.
const SYNTHETIC_COMMITS: usize = 2_000;
/// `baton recall` runs timed (after one warm-up run that fills the page cache).
const RECALL_RUNS: usize = 15;

/// Reindex and recall-command figures.
#[derive(Debug, Serialize)]
pub struct HarnessMemoryFigures {
    /// Where the history came from: a recall set's commits or `synthetic`.
    pub history: String,
    /// The reindex of that history (a fresh embedded store).
    pub reindex: Reindexed,
    /// `baton recall "<question>"` on the reindexed project, wall time of the process.
    pub recall_cli_p50_ms: f64,
    /// Same, 99th percentile (the slowest of the runs).
    pub recall_cli_p99_ms: f64,
    /// Runs timed.
    pub recall_cli_runs: usize,
}

/// Builds the history in a scratch folder (the first recall set in `recall_data`, else
/// synthetic commit messages), reindexes it, and times `baton recall` on it.
pub async fn measure(recall_data: &Path) -> anyhow::Result<HarnessMemoryFigures> {
    let dir = tempfile::tempdir()?;
    let project = dir.path().join("history");
    let (history, commits) = match baton_memory::bench::recall_sets_in(recall_data).first() {
        Some((_, commits, _)) => (commits.display().to_string(), read_recall_set(commits)?),
        None => ("synthetic".to_owned(), synthetic_history()),
    };
    let queries: Vec<String> = commits
        .iter()
        .take(RECALL_RUNS)
        .map(|c| c.0.clone())
        .collect();
    tokio::task::spawn_blocking({
        let project = project.clone();
        move || write_history(&project, &commits)
    })
    .await??;
    let reindex = reindex_project(&project, false).await?;
    let exe = std::env::current_exe()?;
    let mut latencies = Vec::with_capacity(RECALL_RUNS);
    for (i, query) in std::iter::once(&queries[0]).chain(&queries).enumerate() {
        let started = Instant::now();
        let out = tokio::process::Command::new(&exe)
            .arg("recall")
            .arg(query)
            .arg("--project")
            .arg(&project)
            .output()
            .await?;
        let ms = started.elapsed().as_secs_f64() * 1_000.0;
        anyhow::ensure!(
            out.status.success(),
            "baton recall failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if i > 0 {
            latencies.push(ms);
        }
    }
    latencies.sort_by(f64::total_cmp);
    Ok(HarnessMemoryFigures {
        history,
        reindex,
        recall_cli_p50_ms: latencies[latencies.len() / 2],
        recall_cli_p99_ms: latencies[latencies.len() - 1],
        recall_cli_runs: latencies.len(),
    })
}

/// (message, changed files) of each commit, oldest first.
type History = Vec<(String, Vec<String>)>;

fn read_recall_set(commits: &Path) -> anyhow::Result<History> {
    #[derive(serde::Deserialize)]
    struct Line {
        subject: String,
        #[serde(default)]
        body: String,
        #[serde(default)]
        files: Vec<String>,
    }
    let text = std::fs::read_to_string(commits)?;
    let mut history = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let c: Line = serde_json::from_str(line)?;
        let message = if c.body.trim().is_empty() {
            c.subject
        } else {
            format!("{}\n\n{}", c.subject, c.body.trim())
        };
        history.push((message, c.files));
    }
    // Recall sets list the newest commit first.
    history.reverse();
    Ok(history)
}

fn synthetic_history() -> History {
    baton_memory::bench::commit_like_texts(SYNTHETIC_COMMITS, 11)
        .into_iter()
        .enumerate()
        .map(|(i, message)| (message, vec![format!("src/module_{}.rs", i % 97)]))
        .collect()
}

/// Real commits with git2: each changes the files it lists.
fn write_history(project: &Path, history: &History) -> anyhow::Result<()> {
    let repo = git2::Repository::init(project)?;
    let signature = git2::Signature::now("baton bench", "bench@example.invalid")?;
    let mut index = repo.index()?;
    let mut parent: Option<git2::Oid> = None;
    for (n, (message, files)) in history.iter().enumerate() {
        let files: Vec<PathBuf> = if files.is_empty() {
            vec![PathBuf::from("CHANGELOG")]
        } else {
            files.iter().map(PathBuf::from).collect()
        };
        for path in &files {
            let content = format!("{n} {}\n", path.display());
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100_644,
                uid: 0,
                gid: 0,
                file_size: 0,
                id: git2::Oid::ZERO_SHA1,
                flags: 0,
                flags_extended: 0,
                path: path.to_string_lossy().as_bytes().to_vec(),
            };
            index.add_frombuffer(&entry, content.as_bytes())?;
        }
        let tree = repo.find_tree(index.write_tree()?)?;
        let parents: Vec<git2::Commit> = parent
            .map(|p| repo.find_commit(p))
            .transpose()?
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        parent = Some(repo.commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parent_refs,
        )?);
    }
    index.write()?;
    Ok(())
}
