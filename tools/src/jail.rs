//! The jail: turns the model's project-relative path strings into real paths that are
//! guaranteed to lie inside the canonical project root and outside the harness's own
//! state (`.git/`, `.baton/`). Every file-touching tool goes through it.
//!
//! Paths are first normalised lexically (so `a/../../x` is caught before touching the
//! disk), then resolved on disk so that symbolic links anywhere along the path,
//! including the last component, are followed and checked.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use crate::ToolError;

/// Folders that hold the harness's state; tools may neither read nor write in them.
const HARNESS_DIRS: [&str; 2] = [".git", ".baton"];

/// A canonical project root that all tool paths are resolved against.
#[derive(Debug, Clone)]
pub struct Jail {
    root: PathBuf,
    /// Project files the tools may read but never write (the user's inputs), by their
    /// project-relative path, each with the reason the model is given.
    read_only: Vec<(String, String)>,
}

impl Jail {
    /// Canonicalises `root`, which must be an existing folder.
    pub fn new(root: &Path) -> Result<Jail, ToolError> {
        let bad_root = |source| ToolError::BadRoot {
            root: root.to_path_buf(),
            source,
        };
        let canonical = root.canonicalize().map_err(bad_root)?;
        if !canonical.is_dir() {
            return Err(bad_root(std::io::Error::from(ErrorKind::NotADirectory)));
        }
        Ok(Jail {
            root: canonical,
            read_only: Vec::new(),
        })
    }

    /// Makes project files read-only for the tools: `(relative path, why)` pairs.
    #[must_use]
    pub fn with_read_only(mut self, files: Vec<(String, String)>) -> Jail {
        self.read_only = files
            .into_iter()
            .filter_map(|(rel, why)| Some((normalise(&rel).ok()?.join("/"), why)))
            .collect();
        self
    }

    /// Refuses a resolved path that is one of the read-only files (however it was named:
    /// `./app_spec.md`, `sub/../app_spec.md` or a symlink to it).
    pub fn check_writable(&self, rel: &str, resolved: &Path) -> Result<(), ToolError> {
        let relative = self.relative(resolved);
        match self.read_only.iter().find(|(path, _)| *path == relative) {
            Some((path, why)) => Err(ToolError::ReadOnly {
                path: path.clone(),
                asked: rel.to_owned(),
                why: why.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The canonical project root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a path that must already exist, following symlinks.
    pub fn resolve_read(&self, rel: &str) -> Result<PathBuf, ToolError> {
        let parts = normalise(rel)?;
        let lexical = join(&self.root, &parts);
        match lexical.canonicalize() {
            Ok(resolved) => {
                self.check_inside(rel, &resolved)?;
                Ok(resolved)
            }
            Err(error) if is_missing(&error) => Err(ToolError::NotFound {
                path: rel.to_owned(),
            }),
            Err(source) => Err(ToolError::io("resolving", rel, source)),
        }
    }

    /// Resolves a path that may not exist yet. The deepest part of it that exists is
    /// resolved on disk (following symlinks, which must stay inside); the missing rest
    /// is appended as plain names, so creating it cannot leave the root.
    pub fn resolve_write(&self, rel: &str) -> Result<PathBuf, ToolError> {
        let parts = normalise(rel)?;
        if parts.is_empty() {
            return Err(ToolError::WrongKind {
                path: rel.to_owned(),
                actual: "the project root folder",
                expected: "a file path",
            });
        }
        let mut existing = parts.len();
        while existing > 0 {
            match join(&self.root, &parts[..existing]).symlink_metadata() {
                Ok(_) => break,
                Err(error) if is_missing(&error) => existing -= 1,
                Err(source) => return Err(ToolError::io("inspecting", rel, source)),
            }
        }
        let anchor = join(&self.root, &parts[..existing]);
        let resolved = match anchor.canonicalize() {
            Ok(resolved) => resolved,
            Err(error) if is_missing(&error) => {
                // lstat saw the entry but stat cannot follow it: a dangling symlink, whose
                // target could be anywhere, so writing through it is refused.
                let target = std::fs::read_link(&anchor).unwrap_or_default();
                return Err(ToolError::Rejected(format!(
                    "{rel:?} goes through the symbolic link {:?} whose target \"{}\" does not exist; write to a real path instead",
                    parts[..existing].join("/"),
                    target.display()
                )));
            }
            Err(source) => return Err(ToolError::io("resolving", rel, source)),
        };
        self.check_inside(rel, &resolved)?;
        if existing < parts.len() && !resolved.is_dir() {
            return Err(ToolError::WrongKind {
                path: parts[..existing].join("/"),
                actual: "a file",
                expected: "a folder",
            });
        }
        let target = join(&resolved, &parts[existing..]);
        self.check_writable(rel, &target)?;
        Ok(target)
    }

    /// The project-relative form of `abs`, with `/` separators (`.` for the root). A path
    /// outside the root is returned whole, so a message never hides where something is.
    pub fn relative(&self, abs: &Path) -> String {
        let inner = match abs.strip_prefix(&self.root) {
            Ok(inner) => inner.to_path_buf(),
            Err(_) => match abs
                .canonicalize()
                .ok()
                .and_then(|c| c.strip_prefix(&self.root).ok().map(Path::to_path_buf))
            {
                Some(inner) => inner,
                None => return abs.to_string_lossy().into_owned(),
            },
        };
        let parts: Vec<_> = inner
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.is_empty() {
            ".".to_owned()
        } else {
            parts.join("/")
        }
    }

    /// Refuses a resolved path that left the root or lies in harness state.
    fn check_inside(&self, rel: &str, resolved: &Path) -> Result<(), ToolError> {
        let Ok(inner) = resolved.strip_prefix(&self.root) else {
            return Err(ToolError::SymlinkEscapes {
                path: rel.to_owned(),
                target: resolved.to_path_buf(),
            });
        };
        for component in inner.components() {
            if let Component::Normal(name) = component
                && let Some(dir) = harness_dir(&name.to_string_lossy())
            {
                return Err(ToolError::HarnessState {
                    path: rel.to_owned(),
                    dir,
                });
            }
        }
        Ok(())
    }
}

/// Splits `rel` into plain names with `.` and `..` applied, refusing anything that is
/// absolute, climbs above the root, or names harness state.
fn normalise(rel: &str) -> Result<Vec<&str>, ToolError> {
    if rel.is_empty() {
        return Err(ToolError::EmptyPath);
    }
    if rel.contains('\0') {
        return Err(ToolError::NulInPath {
            path: rel.to_owned(),
        });
    }
    if rel.starts_with('/') || Path::new(rel).is_absolute() {
        return Err(ToolError::AbsolutePath {
            path: rel.to_owned(),
        });
    }
    let mut parts = Vec::new();
    for segment in rel.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(ToolError::EscapesRoot {
                        path: rel.to_owned(),
                    });
                }
            }
            name => parts.push(name),
        }
    }
    if let Some(dir) = parts.iter().find_map(|name| harness_dir(name)) {
        return Err(ToolError::HarnessState {
            path: rel.to_owned(),
            dir,
        });
    }
    Ok(parts)
}

/// The harness folder `name` stands for, compared without case so that case-folding
/// file systems cannot be used to reach `.GIT/`.
fn harness_dir(name: &str) -> Option<&'static str> {
    HARNESS_DIRS
        .into_iter()
        .find(|dir| name.eq_ignore_ascii_case(dir))
}

fn join(base: &Path, parts: &[&str]) -> PathBuf {
    let mut path = base.to_path_buf();
    path.extend(parts);
    path
}

/// Whether an error means "nothing there" (including a file used as a folder).
fn is_missing(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_applies_dots_and_refuses_escapes() {
        assert_eq!(normalise("a/./b/../c").unwrap(), vec!["a", "c"]);
        assert_eq!(normalise("a//b/").unwrap(), vec!["a", "b"]);
        assert!(normalise(".").unwrap().is_empty());
        assert!(matches!(
            normalise("a/../../x"),
            Err(ToolError::EscapesRoot { .. })
        ));
        assert!(matches!(
            normalise("/etc/passwd"),
            Err(ToolError::AbsolutePath { .. })
        ));
        assert!(matches!(normalise(""), Err(ToolError::EmptyPath)));
        assert!(matches!(
            normalise("a\0b"),
            Err(ToolError::NulInPath { .. })
        ));
        assert!(matches!(
            normalise("sub/.GIT/config"),
            Err(ToolError::HarnessState { dir: ".git", .. })
        ));
        assert!(matches!(
            normalise(".baton/x"),
            Err(ToolError::HarnessState { dir: ".baton", .. })
        ));
        assert_eq!(normalise(".gitignore").unwrap(), vec![".gitignore"]);
    }

    #[test]
    fn read_only_files_are_refused_however_they_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app_spec.md"), "spec").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("../app_spec.md", dir.path().join("sub/link.md")).unwrap();
        let jail = Jail::new(dir.path())
            .unwrap()
            .with_read_only(vec![("./app_spec.md".into(), "the user's spec".into())]);
        for name in [
            "app_spec.md",
            "./app_spec.md",
            "sub/../app_spec.md",
            "sub/link.md",
        ] {
            let error = jail.resolve_write(name).unwrap_err();
            assert!(
                matches!(&error, ToolError::ReadOnly { path, .. } if path == "app_spec.md"),
                "{name}: {error}"
            );
            assert!(error.to_string().contains("the user's spec"), "{error}");
        }
        assert!(
            jail.resolve_read("app_spec.md").is_ok(),
            "reading stays allowed"
        );
        assert!(jail.resolve_write("notes.md").is_ok());
    }
}
