//! `baton adopt FORK`: a fork's commits brought onto its origin's branch, and the origin
//! thread moved to the adopted state (a new checkpoint; its own line stays on its tape).
//!
//! A fork's repository starts from an orphan snapshot commit holding the worktree at the
//! fork step; its session commits sit on top of it. Adoption rebuilds those commits, with
//! their trees, messages and authors, on the commit the origin had at the fork step, then
//! fast-forwards the branch to them when the branch has not moved since, or makes a merge
//! commit when it has. A conflicting merge, a dirty worktree or a running thread stop it
//! before any ref, file or tape changes.

use std::path::Path;

use baton_tape::{Snapshotter, StateReader, StepNo, TapeWriter, ThreadId, ThreadLock};
use git2::{Commit, ObjectType, Odb, Oid, Repository, build::CheckoutBuilder};

use crate::error::HarnessError;
use crate::events::Event;
use crate::state::ThreadState;
use crate::threads::{all_threads, locate_thread};

/// What an adoption did.
#[derive(Debug, serde::Serialize)]
pub struct Adoption {
    pub fork: String,
    pub origin: String,
    pub branch: String,
    /// The fork's commits brought over.
    pub commits: usize,
    /// `fast-forward` or `merge`.
    pub how: &'static str,
    /// The branch's new head.
    pub head: String,
    /// The origin's new checkpoint step.
    pub origin_step: u64,
}

/// Adopts `fork` (a thread of `project` or of one of its forks) onto `onto` (default: the
/// branch its origin's worktree has checked out).
pub fn adopt(project: &Path, fork: &str, onto: Option<&str>) -> Result<Adoption, HarnessError> {
    let bad = HarnessError::BadInput;
    let (fork_dir, fork_paths) = locate_thread(project, fork)?;
    let header = baton_tape::read_header(&fork_paths.tape)?;
    let parent = header.parent.ok_or_else(|| {
        bad(format!(
            "thread {fork} is not a fork (it has no origin); `baton tree THREAD` shows the forks"
        ))
    })?;
    let origin = parent.thread.to_string();
    let (origin_dir, origin_paths) = locate_thread(project, &origin)?;
    refuse_running(project, &origin_dir, &fork_dir)?;

    let origin_reader = StateReader::open(&origin_paths)?;
    let at_fork = match parent.checkpoint {
        Some(id) => origin_reader.state_at(id)?,
        None => origin_reader.state_at(parent.step)?,
    };
    let base_sha = ThreadState::from_value(at_fork)?.git_head;
    let fork_state = head_state(&StateReader::open(&fork_paths)?)?;

    let fork_repo = Repository::open(&fork_dir)?;
    let repo = Repository::open(&origin_dir)?;
    let branch = target_branch(&repo, onto)?;
    let own = fork_commits(&fork_repo, fork_state.git_head.as_deref())?;
    if own.is_empty() {
        return Err(bad(format!(
            "fork {fork} has no commits of its own yet; run it first: baton resume {fork} --project {}",
            fork_dir.display()
        )));
    }
    let checked_out = repo
        .head()
        .ok()
        .and_then(|h| h.name().ok().map(str::to_owned))
        .is_some_and(|name| name == branch);
    // Held from here on: the origin cannot start while its branch and worktree change.
    let lock = ThreadLock::acquire(&origin_paths)?;
    let origin_id = ThreadId::new(&origin).map_err(|e| bad(e.to_string()))?;
    let snapshots = Snapshotter::open_locked(&origin_dir, &origin_id, &lock)?;
    let force =
        checked_out && worktree_is_recorded(&repo, &origin_dir, &origin_reader, &snapshots)?;

    // Rebuild the fork's commits in the origin's repository, on the fork point.
    let (from, to) = (fork_repo.odb()?, repo.odb()?);
    let base = base_sha
        .as_deref()
        .map(|sha| repo.find_commit(Oid::from_str(sha)?))
        .transpose()?;
    let mut tip = base.clone();
    for oid in &own {
        let commit = fork_repo.find_commit(*oid)?;
        copy_tree(&from, &to, commit.tree_id())?;
        let tree = repo.find_tree(commit.tree_id())?;
        let parents: Vec<&Commit> = tip.iter().collect();
        let message = commit.message_raw().unwrap_or_default();
        let rebuilt = repo.commit(
            None,
            &commit.author(),
            &commit.committer(),
            message,
            &tree,
            &parents,
        )?;
        tip = Some(repo.find_commit(rebuilt)?);
    }
    let tip = tip.ok_or_else(|| bad("nothing to adopt".to_owned()))?;

    let current = repo.find_reference(&branch)?.peel_to_commit()?;
    let fast_forward = base.as_ref().is_some_and(|b| b.id() == current.id())
        || repo.graph_descendant_of(tip.id(), current.id())?;
    let (head, how) = if fast_forward {
        (tip.id(), "fast-forward")
    } else {
        (merge(&repo, &current, &tip, base.as_ref(), fork)?, "merge")
    };
    let head_commit = repo.find_commit(head)?;
    if checked_out {
        // Safe unless every change in the worktree is the origin's own recorded work (its
        // last snapshot keeps it): a safe checkout refuses before writing if a file would be lost.
        let mut checkout = CheckoutBuilder::new();
        if force {
            checkout.force();
        } else {
            checkout.safe();
        }
        repo.checkout_tree(head_commit.as_object(), Some(&mut checkout))?;
    }
    repo.reference(&branch, head, true, &format!("baton adopt {fork}"))?;

    let origin_step = mark_origin(&origin_paths, &snapshots, &fork_state, fork, &head)?;
    drop(snapshots);
    drop(lock);
    Ok(Adoption {
        fork: fork.to_owned(),
        origin,
        branch: branch.trim_start_matches("refs/heads/").to_owned(),
        commits: own.len(),
        how,
        head: head.to_string(),
        origin_step,
    })
}

/// Copies a tree and everything under it from one object database to another (objects
/// already there are skipped: most of a fork's tree is its origin's).
fn copy_tree(from: &Odb, to: &Odb, tree: Oid) -> Result<(), HarnessError> {
    let mut pending = vec![tree];
    while let Some(oid) = pending.pop() {
        if to.exists(oid) {
            continue;
        }
        let object = from.read(oid)?;
        if object.kind() == ObjectType::Tree {
            pending.extend(tree_children(object.data())?);
        }
        to.write(object.kind(), object.data())?;
    }
    Ok(())
}

/// The ids a raw tree object names: entries of `<mode> <name>\0<20-byte id>`. Submodule
/// entries (mode 160000) point into another repository and are not followed.
fn tree_children(data: &[u8]) -> Result<Vec<Oid>, HarnessError> {
    let mut children = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let corrupt = || HarnessError::BadInput("a tree object of the fork is corrupt".to_owned());
        let nul = rest.iter().position(|&b| b == 0).ok_or_else(corrupt)?;
        let id = rest.get(nul + 1..nul + 21).ok_or_else(corrupt)?;
        if !rest.starts_with(b"160000 ") {
            children.push(Oid::from_bytes(id)?);
        }
        rest = &rest[nul + 21..];
    }
    Ok(children)
}

fn head_state(reader: &StateReader) -> Result<ThreadState, HarnessError> {
    let head = reader
        .head()
        .ok_or_else(|| HarnessError::BadInput("the thread has no checkpoint yet".to_owned()))?;
    Ok(ThreadState::from_value(reader.state_at(head)?)?)
}

/// No thread of the project may run while its branch and worktree change under it.
fn refuse_running(project: &Path, origin_dir: &Path, fork_dir: &Path) -> Result<(), HarnessError> {
    for (dir, id) in all_threads(project) {
        if dir != origin_dir && dir != fork_dir {
            continue;
        }
        let paths = baton_tape::ThreadPaths::new(&dir, &id);
        if ThreadLock::holder(&paths)?.is_some_and(|h| h.is_alive()) {
            return Err(HarnessError::BadInput(format!(
                "thread {id} is running in {}; stop it first (`baton stop {id}`), then adopt",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Whether the worktree may be overwritten: `false` when it is clean (a safe checkout will
/// do), `true` when its changes are exactly the origin's last snapshot (the thread's own work
/// in progress, kept on its tape, e.g. after a rewind). Changes of anyone else stop adoption.
fn worktree_is_recorded(
    repo: &Repository,
    dir: &Path,
    origin: &StateReader,
    snapshots: &Snapshotter,
) -> Result<bool, HarnessError> {
    let mut options = git2::StatusOptions::new();
    options.include_untracked(false).include_ignored(false);
    let changed: Vec<String> = repo
        .statuses(Some(&mut options))?
        .iter()
        .filter_map(|entry| entry.path().ok().map(str::to_owned))
        .collect();
    if changed.is_empty() {
        return Ok(false);
    }
    let recorded = origin
        .head()
        .and_then(|head| origin.raw_state_at(head).ok())
        .and_then(|state| state.snapshot);
    if let Some(recorded) = recorded
        && snapshots
            .snapshot_if_changed(&recorded, StepNo(0), "worktree before adopt")?
            .is_none()
    {
        return Ok(true);
    }
    Err(HarnessError::BadInput(format!(
        "{} has uncommitted changes that no checkpoint of its thread holds ({}); commit or stash them, then adopt",
        dir.display(),
        changed.join(", ")
    )))
}

/// `refs/heads/NAME` for `onto`, or the branch checked out.
fn target_branch(repo: &Repository, onto: Option<&str>) -> Result<String, HarnessError> {
    let name = match onto {
        Some(name) => format!("refs/heads/{}", name.trim_start_matches("refs/heads/")),
        None => repo
            .head()
            .ok()
            .filter(git2::Reference::is_branch)
            .and_then(|h| h.name().ok().map(str::to_owned))
            .ok_or_else(|| {
                HarnessError::BadInput(
                    "the project has no branch checked out; name one with --onto BRANCH".to_owned(),
                )
            })?,
    };
    if repo.find_reference(&name).is_err() {
        return Err(HarnessError::BadInput(format!(
            "no branch {} in the project; `git branch` lists them",
            name.trim_start_matches("refs/heads/")
        )));
    }
    Ok(name)
}

/// The fork's own commits, oldest first: from its head back to (not including) the orphan
/// snapshot its repository started from.
fn fork_commits(repo: &Repository, head: Option<&str>) -> Result<Vec<Oid>, HarnessError> {
    let mut commit = match head {
        Some(sha) => repo.find_commit(Oid::from_str(sha)?)?,
        None => repo.head()?.peel_to_commit()?,
    };
    let mut own = Vec::new();
    while commit.parent_count() > 0 {
        own.push(commit.id());
        commit = commit.parent(0)?;
    }
    own.reverse();
    Ok(own)
}

/// A merge commit of `ours` and `theirs`; a conflict stops with the paths and changes nothing.
fn merge(
    repo: &Repository,
    ours: &Commit,
    theirs: &Commit,
    base: Option<&Commit>,
    fork: &str,
) -> Result<Oid, HarnessError> {
    let ancestor = match base {
        Some(base) => base.tree()?,
        None => repo.find_tree(repo.treebuilder(None)?.write()?)?,
    };
    let mut index = repo.merge_trees(&ancestor, &ours.tree()?, &theirs.tree()?, None)?;
    if index.has_conflicts() {
        let paths: Vec<String> = index
            .conflicts()?
            .filter_map(Result::ok)
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|entry| String::from_utf8_lossy(&entry.path).into_owned())
            .collect();
        return Err(HarnessError::BadInput(format!(
            "adopting {fork} conflicts with the branch in {}; nothing was changed. Resolve by hand \
             (the fork's worktree is .baton/forks/{fork}), or rewind the fork and let it redo the work",
            paths.join(", ")
        )));
    }
    let tree = repo.find_tree(index.write_tree_to(repo)?)?;
    let signature = repo
        .signature()
        .or_else(|_| git2::Signature::now("baton", "baton@localhost"))?;
    let message =
        format!("Adopt fork {fork}\n\nbaton adopt: the fork's commits merged onto the branch.\n");
    Ok(repo.commit(
        None,
        &signature,
        &signature,
        &message,
        &tree,
        &[ours, theirs],
    )?)
}

/// The origin thread's new checkpoint: its state with the fork's progress (features, git
/// head) and a snapshot of the adopted worktree, so `baton resume ORIGIN` goes on from there.
fn mark_origin(
    paths: &baton_tape::ThreadPaths,
    snapshots: &Snapshotter,
    fork_state: &ThreadState,
    fork: &str,
    head: &Oid,
) -> Result<u64, HarnessError> {
    let mut writer = TapeWriter::<Event>::open(paths, crate::runner::tape_options())?.writer;
    let current = writer
        .head()
        .map(|h| ThreadState::from_value(h.state.clone()))
        .transpose()?
        .ok_or_else(|| HarnessError::BadInput("the origin has no checkpoint".to_owned()))?;
    let step = current.step + 1;
    let mut state = current;
    state.step = step;
    state.git_head = Some(head.to_string());
    state.features_total = fork_state.features_total;
    state.features_passing = fork_state.features_passing;
    state.blocked.clone_from(&fork_state.blocked);
    state.regressions.clone_from(&fork_state.regressions);
    state.verified_tree.clone_from(&fork_state.verified_tree);
    state.node.clone_from(&fork_state.node);
    state.phase.clone_from(&fork_state.phase);
    state.feature = None;
    state.conversation.clear();
    let snapshot = snapshots.snapshot(StepNo(step), &format!("adopted fork {fork}"))?;
    writer.append(
        StepNo(step),
        Event::HumanEdit {
            sets: vec![format!(
                "adopt fork {fork}: branch at {}",
                &head.to_string()[..7]
            )],
            instruction: None,
        },
    )?;
    writer.checkpoint(StepNo(step), &state.to_value()?, Some(snapshot))?;
    writer.sync()?;
    Ok(step)
}
