//! Limits that keep tool output within what a model context can take and keep a
//! runaway command from holding a session forever.

use std::time::Duration;

use crate::SandboxPolicy;

/// Limits for the standard tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolConfig {
    /// Files larger than this are only read when a line range is asked for; a range's
    /// output stops at this many bytes.
    pub read_max_bytes: usize,
    /// How long a bash command may run when the call does not say.
    pub bash_timeout: Duration,
    /// The foreground cap: a command still running then goes on in the background as a
    /// job instead of holding the session (whatever timeout the call asked for).
    pub bash_max_timeout: Duration,
    /// Bash (and grep) output beyond this many characters keeps only its head and tail.
    pub output_max_chars: usize,
    /// Matching lines grep reports before it stops.
    pub grep_max_results: usize,
    /// Paths glob reports before it stops.
    pub glob_max_results: usize,
    /// Whether and how `bash` runs in the OS sandbox.
    pub sandbox: SandboxPolicy,
}

impl Default for ToolConfig {
    fn default() -> Self {
        Self {
            read_max_bytes: 256 * 1024,
            bash_timeout: Duration::from_mins(2),
            bash_max_timeout: Duration::from_mins(2),
            output_max_chars: 30_000,
            grep_max_results: 200,
            glob_max_results: 1000,
            sandbox: SandboxPolicy::default(),
        }
    }
}
