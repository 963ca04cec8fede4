//! baton-tools: the agent's tools, all jailed to the project folder — the [`Tool`]
//! contract, the [`ToolBox`] dispatcher, the [`Jail`] that checks every path, and the
//! standard `read_file`, `write_file`, `edit_file`, `bash`, `glob` and `grep` tools, and the OS sandbox `bash` runs in.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod capped;
mod config;
mod error;
mod jail;
mod listening;
mod sandbox;
mod tool;
mod toolbox;
mod tools;
mod walk;

pub use config::ToolConfig;
pub use error::ToolError;
pub use jail::Jail;
pub use sandbox::{SandboxPolicy, SandboxStatus};
pub use tool::{Tool, ToolOutput, ToolSpec, parse_args};
pub use toolbox::ToolBox;
pub use tools::{Bash, BashOutput, BashStop, EditFile, Glob, Grep, Jobs, ReadFile, WriteFile};
