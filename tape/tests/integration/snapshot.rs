//! Worktree snapshots against a real git repository: round trip through plain file
//! operations, ignored files and the user's HEAD/branch/index untouched, diffs, forks, gc.

use std::fs;
use std::path::Path;

use baton_tape::{
    GcPolicy, Snapshotter, StepNo, Tape, TapeError, TapeHeader, TapeOptions, TapeWriter, ThreadId,
    ThreadLock, ThreadPaths,
};
use git2::{Repository, Signature};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn read(root: &Path, rel: &str) -> Option<String> {
    fs::read_to_string(root.join(rel)).ok()
}

/// A repository with one user commit on `main` and one staged change.
fn user_repo(root: &Path) -> Repository {
    let repo = Repository::init(root).unwrap();
    write(root, ".gitignore", "ignored/\n*.log\n");
    write(root, "a.txt", "alpha\n");
    write(root, "b.txt", "bravo\n");
    write(root, "src/c.rs", "fn main() {}\n");
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::now("user", "user@example.com").unwrap();
    let commit = repo
        .commit(None, &sig, &sig, "initial", &tree, &[])
        .unwrap();
    repo.reference("refs/heads/main", commit, true, "init")
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    drop(tree);
    write(root, "staged.txt", "staged by the user\n");
    index.add_path(Path::new("staged.txt")).unwrap();
    index.write().unwrap();
    repo
}

#[test]
fn snapshot_and_restore_round_trip_without_touching_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = user_repo(root);
    let head_before = repo.head().unwrap().target().unwrap();
    let index_before = fs::read(root.join(".git/index")).unwrap();

    let thread = ThreadId::new("t-snap").unwrap();
    let snapshotter = Snapshotter::open(root, &thread).unwrap();
    let first = snapshotter.snapshot(StepNo(1), "before").unwrap();
    assert_eq!(
        snapshotter.snapshot(StepNo(1), "unchanged").unwrap(),
        first,
        "no new commit for an unchanged tree"
    );

    write(root, "new.txt", "created\n");
    write(root, "a.txt", "alpha changed\n");
    fs::remove_file(root.join("b.txt")).unwrap();
    write(root, "ignored/cache.bin", "ignored data\n");
    write(root, "debug.log", "log line\n");
    let second = snapshotter.snapshot(StepNo(2), "after").unwrap();
    assert_ne!(first, second);

    let patch = snapshotter.diff_trees(&first, &second).unwrap();
    assert!(
        patch.contains("+alpha changed") && patch.contains("-bravo") && patch.contains("+created"),
        "{patch}"
    );
    assert!(
        !patch.contains("ignored data") && !patch.contains("log line") && !patch.contains(".baton"),
        "{patch}"
    );

    snapshotter.restore(&first).unwrap();
    assert_eq!(read(root, "a.txt").as_deref(), Some("alpha\n"));
    assert_eq!(read(root, "b.txt").as_deref(), Some("bravo\n"));
    assert_eq!(
        read(root, "new.txt"),
        None,
        "a file created after the snapshot survived the restore"
    );
    assert_eq!(
        read(root, "ignored/cache.bin").as_deref(),
        Some("ignored data\n")
    );
    assert_eq!(read(root, "debug.log").as_deref(), Some("log line\n"));
    assert!(root.join(".baton/threads/t-snap/snapshot.index").exists());

    snapshotter.restore(&second).unwrap();
    assert_eq!(read(root, "a.txt").as_deref(), Some("alpha changed\n"));
    assert_eq!(read(root, "b.txt"), None);
    assert_eq!(read(root, "new.txt").as_deref(), Some("created\n"));

    // The user's HEAD, branch and index are exactly as before.
    let repo = Repository::open(root).unwrap();
    assert_eq!(repo.head().unwrap().name().unwrap(), "refs/heads/main");
    assert_eq!(repo.head().unwrap().target().unwrap(), head_before);
    assert_eq!(fs::read(root.join(".git/index")).unwrap(), index_before);
    assert!(
        fs::read_to_string(root.join(".git/info/exclude"))
            .unwrap()
            .contains("/.baton/")
    );
    for snapshot in [&first, &second] {
        let refname = format!("refs/baton/t-snap/snapshots/{}", snapshot.commit);
        assert_eq!(
            repo.refname_to_id(&refname).unwrap().to_string(),
            snapshot.commit
        );
    }

    // A fork checks the first snapshot out beside the project.
    let fork_dir = tempfile::tempdir().unwrap();
    snapshotter.fork_worktree(&first, fork_dir.path()).unwrap();
    assert_eq!(read(fork_dir.path(), "a.txt").as_deref(), Some("alpha\n"));
    assert_eq!(read(fork_dir.path(), "b.txt").as_deref(), Some("bravo\n"));
    assert_eq!(read(fork_dir.path(), "new.txt"), None);
    assert_eq!(
        read(root, "a.txt").as_deref(),
        Some("alpha changed\n"),
        "forking changed the parent"
    );
}

#[test]
fn a_project_without_git_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Snapshotter::open(dir.path(), &ThreadId::new("t").unwrap()).unwrap_err();
    assert!(matches!(err, TapeError::NoRepository { .. }));
    assert!(err.to_string().contains("git init"), "{err}");
}

#[test]
fn gc_frees_dropped_snapshots_and_keeps_protected_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    user_repo(root);
    let thread = ThreadId::new("t-gc").unwrap();
    let snapshotter = Snapshotter::open(root, &thread).unwrap();
    let paths = ThreadPaths::new(root, &thread);
    let mut writer = TapeWriter::<Value>::create(
        &paths,
        &TapeHeader::new(thread, "w", "p"),
        TapeOptions::default(),
    )
    .unwrap();
    let mut ids = Vec::new();
    let mut snaps = Vec::new();
    for step in 1..=8u64 {
        // Incompressible content so dropped snapshots hold real bytes.
        let mut rng = StdRng::seed_from_u64(step);
        let noise: String = (0..200_000)
            .map(|_| char::from(rng.random_range(b'a'..=b'z')))
            .collect();
        write(root, "big.txt", &format!("{step}{noise}"));
        let snap = snapshotter.snapshot(StepNo(step), "step").unwrap();
        ids.push(
            writer
                .checkpoint(StepNo(step), &json!({"step": step}), Some(snap.clone()))
                .unwrap(),
        );
        snaps.push(snap);
    }
    drop(writer);
    let (tape, _) = Tape::<Value>::open(&paths.tape).unwrap();

    let report = snapshotter
        .gc(
            &tape,
            &GcPolicy {
                keep_last: Some(2),
                ..GcPolicy::default()
            },
            &[ids[1]],
        )
        .unwrap();
    assert_eq!(report.snapshots_dropped, 5, "{report:?}");
    assert_eq!(report.snapshots_kept, 3, "{report:?}");
    assert!(report.bytes_freed > 100_000, "{report:?}");
    for keep in [1, 6, 7] {
        snapshotter.restore(&snaps[keep]).unwrap();
        assert!(
            read(root, "big.txt")
                .unwrap()
                .starts_with(&(keep + 1).to_string())
        );
    }
    assert!(
        snapshotter.restore(&snaps[3]).is_err(),
        "a dropped snapshot is still restorable"
    );
}

#[test]
fn a_snapshot_of_named_paths_equals_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    user_repo(root);
    let thread = ThreadId::new("t-paths").unwrap();
    let incremental = Snapshotter::open(root, &thread).unwrap();
    // The first snapshot of a snapshotter scans whatever it is told.
    let first = incremental
        .snapshot_paths(StepNo(1), "first", &["nothing"])
        .unwrap();
    let full = Snapshotter::open(root, &ThreadId::new("t-full").unwrap()).unwrap();
    assert_eq!(first.tree, full.snapshot(StepNo(1), "first").unwrap().tree);

    write(root, "a.txt", "alpha, edited\n");
    write(root, "new/deep/d.txt", "delta\n");
    write(root, "ignored/e.txt", "ignored\n");
    write(root, "f.log", "ignored too\n");
    fs::remove_file(root.join("b.txt")).unwrap();
    let paths = [
        "a.txt",
        "new/deep/d.txt",
        "ignored/e.txt",
        "f.log",
        "b.txt",
        "never-existed.txt",
    ];
    let second = incremental
        .snapshot_paths(StepNo(2), "second", &paths)
        .unwrap();
    assert_ne!(second.tree, first.tree);
    assert_eq!(
        second.tree,
        full.snapshot(StepNo(2), "second").unwrap().tree
    );
    // Nothing named, nothing changed: the last snapshot is reused.
    let third = incremental
        .snapshot_paths(StepNo(3), "third", &[] as &[&str])
        .unwrap();
    assert_eq!(third, second);
}

#[test]
fn an_index_lock_left_by_a_killed_writer_is_removed_under_the_thread_lock() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    user_repo(root);
    let thread = ThreadId::new("t-stale").unwrap();
    let paths = ThreadPaths::new(root, &thread);
    let first = Snapshotter::open(root, &thread)
        .unwrap()
        .snapshot(StepNo(1), "first")
        .unwrap();
    // What a kill in the middle of writing the private index leaves behind.
    let stale = format!("{}.lock", paths.snapshot_index.display());
    fs::write(&stale, b"").unwrap();
    assert!(
        Snapshotter::open(root, &thread)
            .unwrap()
            .restore(&first)
            .is_err(),
        "without the thread lock nobody may assume the lock file is stale"
    );
    let held = ThreadLock::acquire(&paths).unwrap();
    Snapshotter::open_locked(root, &thread, &held)
        .unwrap()
        .restore(&first)
        .unwrap();
    assert!(!Path::new(&stale).exists());
}

#[test]
fn snapshot_if_changed_keeps_only_a_worktree_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    user_repo(root);
    let thread = ThreadId::new("t-keep").unwrap();
    let snapshotter = Snapshotter::open(root, &thread).unwrap();
    let first = snapshotter.snapshot(StepNo(1), "first").unwrap();
    let fresh = Snapshotter::open(root, &thread).unwrap();
    assert_eq!(
        fresh
            .snapshot_if_changed(&first, StepNo(1), "same")
            .unwrap(),
        None
    );
    write(root, "a.txt", "edited by hand\n");
    let kept = fresh
        .snapshot_if_changed(&first, StepNo(1), "changed")
        .unwrap()
        .expect("a changed worktree is kept");
    assert_ne!(kept.tree, first.tree);
}
