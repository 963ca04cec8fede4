//! The project folder as git sees it: initialise the repository, commit a session's work
//! (exactly once per session, even when a resumed thread commits again), read the log.

use std::path::Path;

use git2::{IndexAddOption, Oid, Repository, Signature};

use crate::error::HarnessError;

/// The trailer that ties a commit to the session that made it; it makes commits idempotent.
const SESSION_TRAILER: &str = "Baton-Session:";

/// Opens the project's repository, creating it (on branch `main`) when there is none, and
/// makes sure baton's own folder is ignored whatever the project's `.gitignore` says.
pub fn ensure_repo(dir: &Path) -> Result<Repository, HarnessError> {
    let repo = match Repository::open(dir) {
        Ok(repo) if repo.workdir().is_some_and(|w| same_dir(w, dir)) => repo,
        _ => {
            let mut options = git2::RepositoryInitOptions::new();
            options.initial_head("main");
            Repository::init_opts(dir, &options)?
        }
    };
    let exclude = repo.path().join("info").join("exclude");
    let current = std::fs::read_to_string(&exclude).unwrap_or_default();
    if !current.lines().any(|line| line.trim() == ".baton/") {
        if let Some(parent) = exclude.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HarnessError::io(parent, e))?;
        }
        let mut text = current;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(".baton/\n");
        std::fs::write(&exclude, text).map_err(|e| HarnessError::io(&exclude, e))?;
    }
    Ok(repo)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A commit baton made.
#[derive(Debug, Clone)]
pub struct Committed {
    pub sha: String,
    pub files: Vec<String>,
}

/// The error for an index that cannot be written. A `.git/index.lock` is git's own lock:
/// a git command running in the project holds it, or one killed midway (baton included)
/// left it behind, and only the user can tell which.
fn index_write_error(repo: &Repository, thread: &str, error: git2::Error) -> HarnessError {
    let lock = repo.path().join("index.lock");
    if error.code() == git2::ErrorCode::Locked || lock.exists() {
        return HarnessError::BadInput(format!(
            "cannot commit the session: {} exists. A git command is running in the project, or one was killed and left it behind; when none is running, delete it and run `baton resume {thread}`",
            lock.display()
        ));
    }
    HarnessError::Git(error)
}

/// Commits everything in the worktree (ignored files excepted) for `thread`/`session`,
/// with the session's and the project's trailers.
/// When HEAD is already this session's commit (a resumed thread finishing the same session
/// again), it is replaced rather than stacked, so every session leaves at most one commit.
/// Returns `None` when there is nothing to commit.
pub fn commit_session(
    repo: &Repository,
    thread: &str,
    session: u32,
    subject: &str,
    body: &str,
) -> Result<Option<Committed>, HarnessError> {
    let trailer = format!("{SESSION_TRAILER} {thread}/{session}");
    let mut index = repo.index()?;
    index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
    index.update_all(["*"], None)?;
    index
        .write()
        .map_err(|error| index_write_error(repo, thread, error))?;
    let tree_id = index.write_tree()?;
    let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let (parent, replacing) = match &head {
        Some(commit) if commit.message().is_ok_and(|m| has_line(m, &trailer)) => {
            (commit.parent(0).ok(), true)
        }
        Some(commit) => (Some(commit.clone()), false),
        None => (None, false),
    };
    let parent_tree = parent.as_ref().map(git2::Commit::tree_id);
    if !replacing && parent_tree == Some(tree_id) {
        return Ok(None);
    }
    if parent.is_none() && index.is_empty() {
        return Ok(None);
    }
    let files = changed_files(repo, parent_tree, tree_id)?;
    let tree = repo.find_tree(tree_id)?;
    let signature = signature(repo)?;
    // The project's id rides on every commit, so a clone (which has no `.baton/`) is
    // still the same project to its memory.
    let trailers = match repo.workdir() {
        Some(dir) => format!("{trailer}\n{}", crate::project_id::trailer(dir)?),
        None => trailer,
    };
    let message = if body.trim().is_empty() {
        format!("{subject}\n\n{trailers}\n")
    } else {
        format!("{subject}\n\n{}\n\n{trailers}\n", body.trim())
    };
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo.commit(None, &signature, &signature, &message, &tree, &parents)?;
    move_head(repo, oid, &message)?;
    Ok(Some(Committed {
        sha: oid.to_string(),
        files,
    }))
}

/// Whether `message` has `line` as one of its lines: a trailer `Baton-Session: t1/2` must
/// not match `t1/20`, nor a thread `xt1/2`.
fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l.trim_end() == line)
}

/// Points the current branch (or a fresh `main` when HEAD is unborn) at `oid`.
fn move_head(repo: &Repository, oid: Oid, message: &str) -> Result<(), HarnessError> {
    let branch = match repo.head() {
        Ok(head) if head.is_branch() => head.name().unwrap_or("refs/heads/main").to_owned(),
        Ok(_) => {
            repo.set_head_detached(oid)?;
            return Ok(());
        }
        Err(_) => repo
            .find_reference("HEAD")
            .ok()
            .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_owned))
            .unwrap_or_else(|| "refs/heads/main".to_owned()),
    };
    let reflog = message.lines().next().unwrap_or("baton commit");
    repo.reference(&branch, oid, true, reflog)?;
    Ok(())
}

fn signature(repo: &Repository) -> Result<Signature<'static>, HarnessError> {
    match repo.signature() {
        Ok(signature) => Ok(signature.to_owned()),
        Err(_) => Ok(Signature::now("baton", "baton@localhost")?),
    }
}

fn changed_files(
    repo: &Repository,
    from: Option<Oid>,
    to: Oid,
) -> Result<Vec<String>, HarnessError> {
    let old = from.map(|id| repo.find_tree(id)).transpose()?;
    let new = repo.find_tree(to)?;
    let diff = repo.diff_tree_to_tree(old.as_ref(), Some(&new), None)?;
    let mut files: Vec<String> = diff
        .deltas()
        .filter_map(|d| d.new_file().path().or(d.old_file().path()))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// The commit HEAD points at, if any.
pub fn head_commit(repo: &Repository) -> Option<String> {
    repo.head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id().to_string())
}

/// Moves the current branch back to `sha` when it has moved on from it (a rewind abandons the
/// commits made after its step). Refuses when HEAD does not descend from `sha`: then somebody
/// else's work is on the branch, and baton leaves it alone. Returns whether it moved.
pub fn move_branch_back(repo: &Repository, sha: &str) -> Result<bool, HarnessError> {
    let target = Oid::from_str(sha)?;
    let Some(head) = head_commit(repo) else {
        return Ok(false);
    };
    let head = Oid::from_str(&head)?;
    if head == target || !repo.graph_descendant_of(head, target)? {
        return Ok(false);
    }
    move_head(repo, target, "baton rewind")?;
    Ok(true)
}

/// `git log --oneline -n` of the current branch, newest first.
pub fn log_oneline(repo: &Repository, limit: usize) -> Vec<String> {
    let Ok(mut walk) = repo.revwalk() else {
        return Vec::new();
    };
    if walk.push_head().is_err() {
        return Vec::new();
    }
    walk.filter_map(Result::ok)
        .take(limit)
        .filter_map(|oid| repo.find_commit(oid).ok())
        .map(|c| {
            let short = c.id().to_string()[..7].to_owned();
            format!("{short} {}", c.summary().ok().flatten().unwrap_or_default())
        })
        .collect()
}

/// A commit as memory remembers it.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub sha: String,
    pub message: String,
    pub files: Vec<String>,
    pub time: i64,
}

/// Every commit of the current branch, oldest first (for `baton memory reindex`).
pub fn all_commits(repo: &Repository) -> Result<Vec<CommitInfo>, HarnessError> {
    let mut walk = repo.revwalk()?;
    if walk.push_head().is_err() {
        return Ok(Vec::new());
    }
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    let mut commits = Vec::new();
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        let parent_tree = commit.parent(0).ok().map(|p| p.tree_id());
        commits.push(CommitInfo {
            sha: commit.id().to_string(),
            // Lossy: a message in another encoding is still worth remembering.
            message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
            files: changed_files(repo, parent_tree, commit.tree_id())?,
            time: commit.time().seconds(),
        });
    }
    Ok(commits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_left_over_index_lock_is_a_clear_error_naming_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ensure_repo(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        std::fs::write(repo.path().join("index.lock"), "").unwrap();
        let error = commit_session(&repo, "t1", 1, "init", "").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("index.lock"), "{message}");
        assert!(message.contains("baton resume t1"), "{message}");
        std::fs::remove_file(repo.path().join("index.lock")).unwrap();
        assert!(
            commit_session(&repo, "t1", 1, "init", "")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_session_replaces_only_its_own_commit_not_one_whose_trailer_extends_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ensure_repo(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        commit_session(&repo, "t1", 1, "init", "").unwrap().unwrap();
        std::fs::write(dir.path().join("b.txt"), "two").unwrap();
        let twentieth = commit_session(&repo, "t1", 20, "feat(b)", "")
            .unwrap()
            .unwrap();
        // Session 2 commits after session 20's commit: `t1/2` is a prefix of `t1/20`, and
        // a substring match would take session 20's commit for its own and replace it.
        std::fs::write(dir.path().join("c.txt"), "three").unwrap();
        commit_session(&repo, "t1", 2, "feat(c)", "")
            .unwrap()
            .unwrap();
        let head = repo.head().unwrap().peel_to_commit().unwrap();
        assert_eq!(head.parent_id(0).unwrap().to_string(), twentieth.sha);
        assert_eq!(log_oneline(&repo, 10).len(), 3);
        assert!(has_line(
            "x\n\nBaton-Session: t1/2\n",
            "Baton-Session: t1/2"
        ));
        assert!(!has_line(
            "x\n\nBaton-Session: t1/20\n",
            "Baton-Session: t1/2"
        ));
        assert!(!has_line(
            "x\n\nBaton-Session: xt1/2\n",
            "Baton-Session: t1/2"
        ));
    }

    #[test]
    fn a_session_commits_once_even_when_committed_again() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ensure_repo(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        let first = commit_session(&repo, "t1", 1, "init", "").unwrap().unwrap();
        assert_eq!(first.files, vec!["a.txt".to_owned()]);
        std::fs::write(dir.path().join("b.txt"), "two").unwrap();
        let second = commit_session(&repo, "t1", 2, "feat(b)", "adds b")
            .unwrap()
            .unwrap();
        // The same session committing again (a resume) replaces its commit.
        let again = commit_session(&repo, "t1", 2, "feat(b)", "adds b")
            .unwrap()
            .unwrap();
        assert_eq!(log_oneline(&repo, 10).len(), 2);
        let head = repo.head().unwrap().peel_to_commit().unwrap();
        let id = crate::project_id::ProjectIdentity::resolve(dir.path())
            .unwrap()
            .id;
        assert!(
            head.message()
                .unwrap()
                .ends_with(&format!("Baton-Session: t1/2\nBaton-Project: {id}\n")),
            "{:?}",
            head.message()
        );
        assert_eq!(head.id().to_string(), again.sha);
        assert_eq!(
            repo.find_commit(second.sha.parse().unwrap())
                .unwrap()
                .tree_id(),
            head.tree_id()
        );
        // Nothing new: no commit.
        assert!(
            commit_session(&repo, "t1", 3, "noop", "")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn baton_folder_is_never_committed() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ensure_repo(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join(".baton/threads")).unwrap();
        std::fs::write(dir.path().join(".baton/threads/x"), "secret").unwrap();
        std::fs::write(dir.path().join("app.js"), "code").unwrap();
        let commit = commit_session(&repo, "t", 1, "init", "").unwrap().unwrap();
        assert_eq!(commit.files, vec!["app.js".to_owned()]);
    }
}
