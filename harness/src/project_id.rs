//! The project's identity, which its memories are keyed by: an id made once and kept in
//! `.baton/project.json`, so a project keeps its memories when its folder is renamed, moved
//! or copied, and two projects with the same folder name on one Qdrant server never read
//! each other's.
//!
//! `.baton/` is never committed, so a clone has no `project.json`. It finds its id again in
//! the git history: every commit baton makes carries a `Baton-Project: <id>` trailer, and
//! the one nearest HEAD wins. A history baton never committed to gets an id derived from
//! its root commit, which every clone shares; a folder with no commit yet gets a random
//! one (its first baton commit then carries it). A fork's or replay's worktree
//! (`.baton/forks/<thread>`, `.baton/replays/<thread>`) is its origin project.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::HarnessError;
use crate::layout::{BATON_DIR, ProjectLayout, WORKTREE_FOLDERS};

/// The commit trailer that names the project a commit belongs to.
pub const PROJECT_TRAILER: &str = "Baton-Project:";

/// Namespace of ids derived from a root commit (a fixed random uuid: ids must never change).
const ROOT_NAMESPACE: Uuid = Uuid::from_u128(0x1d7e_44a2_9c3b_4f08_b5e6_27c1_9a0d_83f4);

/// Who a project folder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectIdentity {
    /// The id its memories carry.
    pub id: String,
    /// The folder whose `.baton/` holds the project's own files (`project.json`, the
    /// embedded memory): the folder itself, or a fork's or replay's origin project.
    pub home: PathBuf,
}

/// What `.baton/project.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct ProjectFile {
    id: String,
    /// Where the id came from: `new`, `git-trailer` or `git-root`.
    from: String,
    created: DateTime<Utc>,
}

impl ProjectIdentity {
    /// The identity of the project in `dir` (or of the origin of the worktree `dir` is),
    /// making and keeping its id on first use.
    pub fn resolve(dir: &Path) -> Result<ProjectIdentity, HarnessError> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let home = origin(&dir);
        let id = load_or_make(&home)?;
        Ok(ProjectIdentity { id, home })
    }

    /// Names memories of this project carried before projects had ids: its folder name,
    /// and for memories made in its forks' and replays' worktrees, theirs.
    pub fn legacy_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .home
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .into_iter()
            .collect();
        for worktree in worktrees(&self.home) {
            if let Some(name) = worktree.file_name() {
                names.push(name.to_string_lossy().into_owned());
            }
        }
        names
    }

    /// Every thread of the project, its forks' and replays' included, and `""` (memories
    /// that `baton memory reindex` rebuilt from files no thread owns).
    pub fn threads(&self) -> Vec<String> {
        let mut threads = vec![String::new()];
        let mut folders = vec![self.home.clone()];
        folders.extend(worktrees(&self.home));
        for folder in folders {
            if let Ok(ids) = baton_tape::list_threads(&folder) {
                threads.extend(ids.iter().map(ToString::to_string));
            }
        }
        threads.sort();
        threads.dedup();
        threads
    }
}

/// The project a folder belongs to: `X` for `X/.baton/forks/<thread>` (and for a fork of a
/// fork, nested inside), else the folder itself.
fn origin(dir: &Path) -> PathBuf {
    let mut dir = dir.to_path_buf();
    loop {
        let parent = dir.parent();
        let is_worktree = parent
            .and_then(Path::file_name)
            .is_some_and(|n| WORKTREE_FOLDERS.iter().any(|w| n == *w))
            && parent
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|n| n == BATON_DIR);
        match parent.and_then(Path::parent).and_then(Path::parent) {
            Some(project) if is_worktree => dir = project.to_path_buf(),
            _ => return dir,
        }
    }
}

/// The worktrees of the project's forks and replays, nested ones included.
fn worktrees(home: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for folder in WORKTREE_FOLDERS {
        let Ok(entries) = std::fs::read_dir(ProjectLayout::of(home).worktrees(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(worktrees(&path));
                found.push(path);
            }
        }
    }
    found
}

fn load_or_make(home: &Path) -> Result<String, HarnessError> {
    let path = ProjectLayout::of(home).project_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => make(home, &path),
        Err(e) => Err(HarnessError::io(&path, e)),
    }
}

fn parse(path: &Path, text: &str) -> Result<String, HarnessError> {
    let file: ProjectFile = serde_json::from_str(text).map_err(|e| HarnessError::BadConfig {
        path: path.to_path_buf(),
        detail: format!(
            "{e}; it keeps the project's id. Delete it and baton finds the id again in the git history (or makes a new one)"
        ),
    })?;
    Uuid::parse_str(file.id.trim())
        .map(|id| id.to_string())
        .map_err(|e| HarnessError::BadConfig {
            path: path.to_path_buf(),
            detail: format!("`id` {:?} is not a uuid ({e})", file.id),
        })
}

/// Makes the id and keeps it. Two processes making it at once agree: the file is linked
/// into place only if absent, and the loser reads the winner's.
fn make(home: &Path, path: &Path) -> Result<String, HarnessError> {
    let (id, from) = from_history(home).unwrap_or_else(|| (Uuid::new_v4(), "new"));
    let file = ProjectFile {
        id: id.to_string(),
        from: from.to_owned(),
        created: Utc::now(),
    };
    let dir = ProjectLayout::of(home).baton_dir().to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| HarnessError::io(&dir, e))?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| HarnessError::io(&tmp, std::io::Error::other(e)))?;
    text.push('\n');
    std::fs::write(&tmp, text).map_err(|e| HarnessError::io(&tmp, e))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(file.id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_make(home),
        Err(e) => Err(HarnessError::io(path, e)),
    }
}

/// The id the project's git history names: the `Baton-Project:` trailer nearest HEAD on
/// the first-parent line, else one derived from the root commit of that line.
fn from_history(home: &Path) -> Option<(Uuid, &'static str)> {
    let repo = git2::Repository::open(home).ok()?;
    let mut commit = repo.head().ok()?.peel_to_commit().ok()?;
    loop {
        if let Some(id) = commit.message().ok().and_then(trailer_id) {
            return Some((id, "git-trailer"));
        }
        let Ok(parent) = commit.parent(0) else {
            let root = format!("git-root:{}", commit.id());
            return Some((Uuid::new_v5(&ROOT_NAMESPACE, root.as_bytes()), "git-root"));
        };
        commit = parent;
    }
}

fn trailer_id(message: &str) -> Option<Uuid> {
    message
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(PROJECT_TRAILER))
        .and_then(|id| Uuid::parse_str(id.trim()).ok())
}

/// The trailer line for commits of the project in `dir`.
pub fn trailer(dir: &Path) -> Result<String, HarnessError> {
    let identity = ProjectIdentity::resolve(dir)?;
    Ok(format!("{PROJECT_TRAILER} {}", identity.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(repo: &git2::Repository, message: &str) {
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = {
            let mut index = repo.index().unwrap();
            repo.find_tree(index.write_tree().unwrap()).unwrap()
        };
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
    }

    #[test]
    fn the_id_is_made_once_and_kept_by_rename_and_copy() {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("app");
        std::fs::create_dir_all(&a).unwrap();
        let first = ProjectIdentity::resolve(&a).unwrap();
        assert_eq!(ProjectIdentity::resolve(&a).unwrap(), first);
        let renamed = root.path().join("renamed");
        std::fs::rename(&a, &renamed).unwrap();
        assert_eq!(ProjectIdentity::resolve(&renamed).unwrap().id, first.id);
        let copy = root.path().join("copy");
        std::fs::create_dir_all(copy.join(".baton")).unwrap();
        std::fs::copy(
            ProjectLayout::of(&renamed).project_file(),
            ProjectLayout::of(&copy).project_file(),
        )
        .unwrap();
        assert_eq!(ProjectIdentity::resolve(&copy).unwrap().id, first.id);
        let other = root.path().join("elsewhere").join("app");
        std::fs::create_dir_all(&other).unwrap();
        assert_ne!(
            ProjectIdentity::resolve(&other).unwrap().id,
            first.id,
            "the same folder name is another project"
        );
    }

    #[test]
    fn a_clone_finds_its_id_in_the_history() {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("a");
        let repo = git2::Repository::init(&a).unwrap();
        commit(&repo, "start\n");
        let by_root = ProjectIdentity::resolve(&a).unwrap().id;
        std::fs::remove_dir_all(a.join(".baton")).unwrap();
        assert_eq!(
            ProjectIdentity::resolve(&a).unwrap().id,
            by_root,
            "the root commit gives the same id again"
        );
        let named = Uuid::new_v4();
        commit(
            &repo,
            &format!("feat: x\n\nBaton-Session: t/1\n{PROJECT_TRAILER} {named}\n"),
        );
        commit(&repo, "a commit by hand\n");
        std::fs::remove_dir_all(a.join(".baton")).unwrap();
        assert_eq!(ProjectIdentity::resolve(&a).unwrap().id, named.to_string());
        let b = root.path().join("b");
        git2::Repository::clone(a.to_str().unwrap(), &b).unwrap();
        assert_eq!(ProjectIdentity::resolve(&b).unwrap().id, named.to_string());
    }

    #[test]
    fn a_forks_worktree_is_its_origin() {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("app");
        let fork = project.join(".baton").join("forks").join("f1");
        let nested = fork.join(".baton").join("replays").join("r1");
        std::fs::create_dir_all(&nested).unwrap();
        let origin = ProjectIdentity::resolve(&project).unwrap();
        for worktree in [&fork, &nested] {
            let found = ProjectIdentity::resolve(worktree).unwrap();
            assert_eq!(found, origin);
        }
        assert_eq!(origin.legacy_names(), ["app", "r1", "f1"]);
    }

    #[test]
    fn a_broken_project_file_is_an_error_naming_the_fix() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(".baton")).unwrap();
        std::fs::write(ProjectLayout::of(root.path()).project_file(), "{").unwrap();
        let err = ProjectIdentity::resolve(root.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("project.json") && err.contains("Delete it"),
            "{err}"
        );
    }
}
