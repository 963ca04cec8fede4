//! `baton memory reindex` on a real git history: every commit becomes one memory, the
//! count is reported (as JSON for scripts, with no progress bar when stderr is not a
//! terminal), and a question answered only at the end of a long commit message finds it.
//! Real model, real embedded Qdrant Edge store, real git.

use std::path::Path;
use std::process::Command;

use crate::support::{baton, describe};
use serde_json::Value;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A long message whose reason sits past the first 256 word pieces.
fn long_message() -> String {
    let filler = "Move the line buffer handling into its own module and rename the helpers so \
                  the reader and the printer share one vocabulary for offsets and lengths. ";
    format!(
        "printer: restructure the output buffer\n\n{}\n\nThe reason for all of this: on \
         Windows consoles the colours stayed changed after the user pressed Ctrl-C, because \
         the reset sequence was never written when the process was interrupted.",
        filler.repeat(8)
    )
}

#[test]
fn reindex_counts_every_commit_and_finds_reasons_at_the_end_of_long_messages() {
    let model_dir = baton_memory::resolve_model_dir(&baton_memory::EmbedderOptions::default());
    if let Some(missing) = baton_memory::first_missing_file(&model_dir) {
        assert!(
            std::env::var_os("BATON_REQUIRE_MODEL").is_none(),
            "BATON_REQUIRE_MODEL is set but {} lacks {missing}: run scripts/setup-model.sh",
            model_dir.display()
        );
        eprintln!("\n*** SKIPPING reindex test: no model (run scripts/setup-model.sh) ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    git(project, &["init", "-q", "-b", "main"]);
    let topics = [
        "add a flag to search hidden files",
        "speed up literal search with a memchr prefilter",
        "fix gitignore negation of a parent directory",
        "decompress gzip files before searching",
        "print file names in bold magenta",
        "parallel directory walker uses a work-stealing queue",
        "support glob patterns with braces",
        "release builds strip debug symbols",
    ];
    let mut messages: Vec<String> = topics.iter().map(|t| (*t).to_owned()).collect();
    messages.push(long_message());
    for (i, message) in messages.iter().enumerate() {
        std::fs::write(project.join(format!("f{i}.txt")), message).unwrap();
        git(project, &["add", "-A"]);
        git(project, &["commit", "-q", "-m", message]);
    }
    let project_arg = project.to_str().unwrap();
    let output = baton(
        project,
        &["memory", "reindex", "--json", "--project", project_arg],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let done: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {}", describe(&output)));
    assert_eq!(done["commits"], messages.len(), "{done}");
    assert_eq!(done["memories"], messages.len(), "{done}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("reindexing ["),
        "no progress bar off a terminal: {stderr}"
    );

    let output = baton(
        project,
        &[
            "recall",
            "why did the terminal keep its colours after I interrupted a search on Windows",
            "--json",
            "--limit",
            "3",
            "--project",
            project_arg,
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let hits: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        hits.iter().any(|h| h["record"]["text"]
            .as_str()
            .unwrap()
            .starts_with("printer: restructure the output buffer")),
        "{hits:#?}"
    );
}
