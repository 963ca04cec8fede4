//! The one error type of baton-verify: every variant says what went wrong and how to fix it.

use std::path::PathBuf;

/// Everything that can go wrong while reading feature lists, starting apps and driving Chromium.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The feature list file could not be read from disk.
    #[error("cannot read feature list {path}: {source}")]
    ReadFeatureList {
        /// The file that was read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The feature list is not valid JSON or does not match the schema; the message has line and column.
    #[error(
        "feature_list.json is invalid: {source}. Expected an array of features or an object {{\"app\": {{...}}, \"features\": [...]}}; each feature needs id, category, description, steps, passes"
    )]
    ParseFeatureList {
        /// serde_json's error, which carries the line and column.
        #[source]
        source: serde_json::Error,
    },

    /// The feature list's first non-blank character is neither `[` nor `{`.
    #[error(
        "feature_list.json is invalid at line {line} column {column}: expected `[` (array of features) or `{{` (object with \"features\")"
    )]
    FeatureListShape {
        /// 1-based line of the offending character.
        line: usize,
        /// 1-based column of the offending character.
        column: usize,
    },

    /// Writing a file (evidence, result.json, screenshot, app log) failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The app's start command could not be spawned.
    #[error(
        "cannot start the app with `{command}` in {dir}: {source}. Check that bash exists and the project directory is readable"
    )]
    AppSpawn {
        /// The start command.
        command: String,
        /// The project directory it ran in.
        dir: PathBuf,
        /// The spawn error.
        #[source]
        source: std::io::Error,
    },

    /// No free TCP port could be reserved on 127.0.0.1.
    #[error("cannot find a free port on 127.0.0.1: {source}")]
    NoFreePort {
        /// The bind error.
        #[source]
        source: std::io::Error,
    },

    /// The app's start command exited with a failure before its URL answered.
    #[error(
        "the app's start command `{command}` exited with {status} before {url} answered; last lines of its log:\n{log_tail}"
    )]
    AppExited {
        /// The start command.
        command: String,
        /// The URL that was being waited for.
        url: String,
        /// The exit status, as text.
        status: String,
        /// The last lines of the app's log.
        log_tail: String,
    },

    /// The app's URL did not answer HTTP (status < 500) within the ready timeout.
    #[error(
        "the app did not answer at {url} within {timeout_secs} s (raise app.ready_timeout_secs if it starts slowly, and make sure it listens on $PORT); last lines of its log:\n{log_tail}"
    )]
    AppNotReady {
        /// The URL that was polled.
        url: String,
        /// The timeout that ran out.
        timeout_secs: u64,
        /// The last lines of the app's log.
        log_tail: String,
    },

    /// No Chromium binary was found where baton looked.
    #[error(
        "Chromium not found ({detail}). Install it with `apt-get install -y chromium`, or set BATON_CHROMIUM to the path of a Chromium/Chrome binary"
    )]
    BrowserMissing {
        /// Where baton looked.
        detail: String,
    },

    /// Chromium was found but could not be started or driven.
    #[error("Chromium failed: {detail}")]
    Browser {
        /// What the browser layer reported.
        detail: String,
    },

    /// The launcher script through which Chromium starts (so that it dies with baton) could
    /// not be written.
    #[error(
        "cannot prepare Chromium's launcher in {dir}: {detail}. baton starts Chromium through a small script in a private temporary directory so that Chromium dies with baton; set TMPDIR to a writable directory where files may be executed (not mounted noexec)"
    )]
    ChromiumLauncher {
        /// The directory the launcher's own directory was to be created in.
        dir: PathBuf,
        /// What failed.
        detail: String,
    },

    /// `setsid`, which the guards of Chromium and the app need, is not on `$PATH`.
    #[error(
        "`setsid` not found on $PATH; baton runs Chromium and the app through it so that they die with baton. Install util-linux (`apt-get install -y util-linux`) or add its directory to PATH"
    )]
    SetsidMissing,

    /// A browser action did not finish within its timeout.
    #[error("{action} did not finish within {timeout_ms} ms")]
    Timeout {
        /// The action that timed out.
        action: String,
        /// The timeout in milliseconds.
        timeout_ms: u64,
    },

    /// A browser tool's step did not succeed in the page.
    #[error("{action}: expected {expected}; found {found}")]
    Action {
        /// The step, such as `click "#add"`.
        action: String,
        /// What it needed.
        expected: String,
        /// What the page showed last.
        found: String,
    },

    /// A browser tool was given an argument it cannot use.
    #[error("{0}")]
    InvalidInput(String),

    /// The bench's local HTTP server could not be started.
    #[error("bench server failed: {source}")]
    BenchServer {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl VerifyError {
    pub(crate) fn browser(error: impl std::fmt::Display) -> Self {
        Self::Browser {
            detail: format!("{error:#}"),
        }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Write {
            path: path.into(),
            source,
        }
    }
}
