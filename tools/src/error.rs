//! The crate's one error type. Its `Display` text is what the model reads, so every
//! message names the path or field involved and says what to do instead.

use std::io;
use std::path::PathBuf;

/// Everything a tool call or the jail can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The project root given to [`crate::Jail::new`] cannot be opened as a folder.
    #[error("project root {root:?} is not a usable folder: {source}; pass an existing directory")]
    BadRoot {
        /// The root as given.
        root: PathBuf,
        /// Why it could not be canonicalised or is not a folder.
        #[source]
        source: io::Error,
    },
    /// An empty string was given where a path is needed.
    #[error("path is empty; give a path relative to the project root, e.g. \"src/main.rs\"")]
    EmptyPath,
    /// The path contains a NUL byte, which no file name can hold.
    #[error("path {path:?} contains a NUL byte; remove it")]
    NulInPath {
        /// The path as given.
        path: String,
    },
    /// Absolute paths are refused so every path the model uses stays project-relative.
    #[error(
        "path {path:?} is absolute; use a path relative to the project root (e.g. \"src/lib.rs\")"
    )]
    AbsolutePath {
        /// The path as given.
        path: String,
    },
    /// After removing `.` and `..` the path climbs above the project root.
    #[error("path {path:?} leaves the project folder; only files inside the project can be used")]
    EscapesRoot {
        /// The path as given.
        path: String,
    },
    /// A symbolic link along the path points outside the project.
    #[error(
        "path {path:?} goes through a symbolic link that points outside the project ({target:?}); only files inside the project can be used"
    )]
    SymlinkEscapes {
        /// The path as given.
        path: String,
        /// Where the link leads.
        target: PathBuf,
    },
    /// The path names the harness's own state (`.git/` or `.baton/`).
    #[error(
        "path {path:?} is inside {dir}/, which belongs to the harness and cannot be read or written by tools"
    )]
    HarnessState {
        /// The path as given.
        path: String,
        /// The protected folder, e.g. `.git`.
        dir: &'static str,
    },
    /// The path is one of the user's inputs (the app spec, baton's configuration, files
    /// the user protected), which the tools may read but not change.
    #[error("{path} is read-only (asked for {asked:?}): {why}")]
    ReadOnly {
        /// The protected file, project-relative.
        path: String,
        /// The path as given.
        asked: String,
        /// Why it is protected and what to do instead.
        why: String,
    },
    /// The path does not exist.
    #[error("{path:?} does not exist; use the glob tool to find the right path")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// The path exists but is not the kind of entry the tool needs (file vs folder).
    #[error("{path:?} is {actual}, not {expected}")]
    WrongKind {
        /// The path as given.
        path: String,
        /// What was found, e.g. "a folder".
        actual: &'static str,
        /// What the tool needs, e.g. "a file".
        expected: &'static str,
    },
    /// Reading or writing the file failed at the operating-system level.
    #[error("{action} {path:?} failed: {source}")]
    Io {
        /// What was being done, e.g. "reading".
        action: &'static str,
        /// The project-relative path.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The call's arguments do not fit the tool's parameters.
    #[error("invalid arguments: {message}")]
    InvalidArguments {
        /// What is wrong, naming the field.
        message: String,
    },
    /// The tool ran but its request cannot be satisfied (not found, ambiguous, too big…);
    /// the message explains what to change.
    #[error("{0}")]
    Rejected(String),
    /// A regular expression or glob pattern does not compile.
    #[error("invalid {kind} {pattern:?}: {message}")]
    BadPattern {
        /// "regex" or "glob".
        kind: &'static str,
        /// The pattern as given.
        pattern: String,
        /// The compiler's explanation.
        message: String,
    },
}

impl ToolError {
    /// Shorthand for an I/O failure on a project-relative path.
    pub(crate) fn io(action: &'static str, path: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
