//! `glob`: finds project files by glob pattern over the gitignore-aware walk.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use globset::GlobBuilder;
use serde::Deserialize;
use serde_json::Value;

use super::object_schema;
use crate::walk::project_files;
use crate::{Jail, Tool, ToolConfig, ToolError, ToolOutput, ToolSpec, parse_args};

/// Lists project files matching a glob pattern.
#[derive(Debug)]
pub struct Glob {
    jail: Arc<Jail>,
    config: Arc<ToolConfig>,
}

#[derive(Debug, Deserialize)]
struct Args {
    pattern: String,
    path: Option<String>,
}

impl Glob {
    /// A `glob` tool jailed to `jail`.
    pub fn new(jail: Arc<Jail>, config: Arc<ToolConfig>) -> Self {
        Self { jail, config }
    }

    fn find(&self, args: &Args) -> Result<String, ToolError> {
        let base = search_folder(&self.jail, args.path.as_deref())?;
        let pattern = args.pattern.trim_start_matches("./");
        if pattern.starts_with('/') {
            return Err(ToolError::Rejected(format!(
                "pattern {:?} is absolute; patterns are matched against paths relative to the search folder, e.g. \"src/**/*.rs\"",
                args.pattern
            )));
        }
        refuse_climbing(&args.pattern)?;
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| ToolError::BadPattern {
                kind: "glob",
                pattern: args.pattern.clone(),
                message: e.kind().to_string(),
            })?
            .compile_matcher();
        let mut found: Vec<String> = project_files(&base)
            .filter(|file| {
                file.strip_prefix(&base)
                    .is_ok_and(|inner| matcher.is_match(inner))
            })
            .map(|file| self.jail.relative(&file))
            .collect();
        found.sort();
        let where_ = self.jail.relative(&base);
        if found.is_empty() {
            let mut message = format!("no files match {:?} under {where_}", args.pattern);
            if !pattern.contains('/') {
                let _ = write!(
                    message,
                    " (`*` does not cross folders: use \"**/{pattern}\" to search every folder)"
                );
            }
            return Ok(message);
        }
        let total = found.len();
        found.truncate(self.config.glob_max_results);
        let mut listing = found.join("\n");
        if total > found.len() {
            let _ = write!(
                listing,
                "\n[… {} more matches not shown; narrow the pattern or pass a path]",
                total - found.len()
            );
        }
        Ok(listing)
    }
}

/// Refuses a pattern with a `..` part: matched against paths below the search folder it
/// could never match, and the model would read "no files" as "nothing there".
pub(super) fn refuse_climbing(pattern: &str) -> Result<(), ToolError> {
    if pattern.split('/').any(|part| part == "..") {
        return Err(ToolError::Rejected(format!(
            "pattern {pattern:?} contains `..`; patterns match paths below the search folder, so to look elsewhere in the project pass that folder as path (e.g. path: \"src\", pattern: \"**/*.rs\")"
        )));
    }
    Ok(())
}

/// The folder a search starts from: the project root, or `path` (a folder or a file).
pub(super) fn search_folder(jail: &Jail, path: Option<&str>) -> Result<PathBuf, ToolError> {
    match path {
        None => Ok(jail.root().to_path_buf()),
        Some(path) => jail.resolve_read(path),
    }
}

impl Tool for Glob {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "glob".to_owned(),
            description: format!(
                "Find files by name pattern. `*` matches within one folder level, `**` across folders, `{{a,b}}` either: \
                 \"**/*.rs\", \"src/**/test_*.py\", \"*.{{json,toml}}\". Returns matching file paths relative to the project root, \
                 sorted (at most {}). Files ignored by .gitignore are skipped.",
                self.config.glob_max_results
            ),
            parameters: object_schema(
                &[
                    (
                        "pattern",
                        "string",
                        "Glob pattern, matched against paths relative to the search folder.",
                    ),
                    (
                        "path",
                        "string",
                        "Folder to search under, relative to the project root. Omit for the whole project.",
                    ),
                ],
                &["pattern"],
            ),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        match parse_args::<Args>(args).and_then(|args| self.find(&args)) {
            Ok(listing) => ToolOutput::success(listing),
            Err(error) => error.into(),
        }
    }
}
