//! Keeps the user's inputs as the user wrote them: `app_spec.md` (what to build),
//! `baton.toml` (how baton runs the thread: its limits and attempt budget, which a model
//! that could edit them could raise) and every file listed in `protected = [...]`. The file
//! tools refuse to write them (the jail's read-only list, [`InputGuard::read_only`]); bash
//! is not jailed, so after any call that may have touched anything each file is compared
//! with the version the run started with and put back. That version is also kept under
//! `.baton/inputs/`, so a person can always restore it, and it is written back there when a
//! command deleted it.

use std::path::{Path, PathBuf};

use crate::config::PROJECT_CONFIG;
use crate::error::HarnessError;

/// The app spec every session reads.
pub const SPEC: &str = "app_spec.md";

/// Where the originals are kept, under the project.
const KEPT: &str = ".baton/inputs";

/// One guarded file.
#[derive(Debug)]
struct Input {
    /// Project-relative path.
    rel: String,
    /// The content the run started with (`None`: there was no such file).
    accepted: Option<Vec<u8>>,
}

/// The user's inputs as the run found them.
#[derive(Debug)]
pub struct InputGuard {
    project: PathBuf,
    inputs: Vec<Input>,
}

impl InputGuard {
    /// Reads the guarded files as the baseline and keeps a copy of each under `.baton/inputs/`.
    pub fn load(project: &Path, protected: &[String]) -> Result<InputGuard, HarnessError> {
        let mut names = vec![SPEC.to_owned(), PROJECT_CONFIG.to_owned()];
        for rel in protected {
            let rel = rel.trim_start_matches("./").to_owned();
            if !names.contains(&rel) {
                names.push(rel);
            }
        }
        // A file that is not there is guarded only if it is baton's own configuration (a
        // model must not create one); a missing spec or protected file may be written.
        let inputs = names
            .into_iter()
            .map(|rel| Input {
                accepted: std::fs::read(project.join(&rel)).ok(),
                rel,
            })
            .filter(|input| input.accepted.is_some() || input.rel == PROJECT_CONFIG)
            .collect();
        let guard = InputGuard {
            project: project.to_path_buf(),
            inputs,
        };
        guard.keep_originals()?;
        Ok(guard)
    }

    /// The files the file tools must not write, each with the reason the model is told.
    pub fn read_only(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .map(|input| (input.rel.clone(), why(&input.rel)))
            .collect()
    }

    /// Puts back every guarded file a tool changed, created or deleted; returns what to tell
    /// the model (empty when nothing changed). Copies under `.baton/inputs/` that a command
    /// deleted are written again.
    pub fn inspect(&self) -> Result<Vec<String>, HarnessError> {
        let mut messages = Vec::new();
        for input in &self.inputs {
            let path = self.project.join(&input.rel);
            let now = std::fs::read(&path).ok();
            if now == input.accepted {
                continue;
            }
            match &input.accepted {
                Some(bytes) => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|source| HarnessError::io(parent, source))?;
                    }
                    std::fs::write(&path, bytes)
                        .map_err(|source| HarnessError::io(&path, source))?;
                }
                None => {
                    std::fs::remove_file(&path)
                        .map_err(|source| HarnessError::io(&path, source))?;
                }
            }
            messages.push(format!(
                "your change to {} was reverted: {}",
                input.rel,
                why(&input.rel)
            ));
        }
        self.keep_originals()?;
        Ok(messages)
    }

    /// Writes the copies under `.baton/inputs/` that are missing or differ.
    fn keep_originals(&self) -> Result<(), HarnessError> {
        for input in &self.inputs {
            let Some(bytes) = &input.accepted else {
                continue;
            };
            let kept = self.project.join(KEPT).join(&input.rel);
            if std::fs::read(&kept).ok().as_ref() == Some(bytes) {
                continue;
            }
            if let Some(parent) = kept.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|source| HarnessError::io(parent, source))?;
            }
            std::fs::write(&kept, bytes).map_err(|source| HarnessError::io(&kept, source))?;
        }
        Ok(())
    }
}

/// What the model is told about a guarded file.
fn why(rel: &str) -> String {
    match rel {
        SPEC => format!(
            "{SPEC} is the user's specification of the app; baton keeps it as the user wrote it. \
             Read it, never change it: build what it says, and keep your own notes in other files."
        ),
        PROJECT_CONFIG => format!(
            "{PROJECT_CONFIG} is baton's configuration (limits, attempt budget), not part of the app. Leave it alone."
        ),
        other => format!(
            "{other} is protected by the user (`protected` in {PROJECT_CONFIG}); baton keeps it as it is. Do not change it."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_is_put_back_a_new_file_removed_and_the_original_kept() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join(SPEC);
        std::fs::write(&spec, "# Counter\nA button that counts.\n").unwrap();
        let guard = InputGuard::load(dir.path(), &["data/seed.json".to_owned()]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(KEPT).join(SPEC)).unwrap(),
            "# Counter\nA button that counts.\n"
        );
        assert!(guard.inspect().unwrap().is_empty());

        std::fs::write(&spec, "A button.\n").unwrap();
        let config = dir.path().join(PROJECT_CONFIG);
        std::fs::write(&config, "feature_attempts = 99\n").unwrap();
        let messages = guard.inspect().unwrap();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("app_spec.md"), "{messages:?}");
        assert_eq!(
            std::fs::read_to_string(&spec).unwrap(),
            "# Counter\nA button that counts.\n"
        );
        assert!(!config.exists());

        // `rm -rf .baton` and the spec: both come back.
        std::fs::remove_dir_all(dir.path().join(".baton")).unwrap();
        std::fs::remove_file(&spec).unwrap();
        assert_eq!(guard.inspect().unwrap().len(), 1);
        assert!(spec.exists());
        assert!(dir.path().join(KEPT).join(SPEC).exists());
    }

    #[test]
    fn read_only_names_every_guarded_file_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SPEC), "spec").unwrap();
        std::fs::write(dir.path().join("schema.sql"), "create table t;").unwrap();
        let guard = InputGuard::load(
            dir.path(),
            &[
                "./app_spec.md".to_owned(),
                "schema.sql".to_owned(),
                "gone.txt".to_owned(),
            ],
        )
        .unwrap();
        let names: Vec<String> = guard.read_only().into_iter().map(|(rel, _)| rel).collect();
        assert_eq!(names, [SPEC, PROJECT_CONFIG, "schema.sql"]);
    }
}
