//! Workflow graphs for baton threads.
//!
//! A baton thread moves through a [`Workflow`]: a petgraph `DiGraph` whose nodes are
//! session kinds ([`NodeKind::Start`], [`NodeKind::Session`], [`NodeKind::Terminal`])
//! and whose edges carry guards. After every session the harness gathers
//! [`ThreadFacts`] (is there a feature list, how many features pass, how many sessions
//! are left) and asks [`Workflow::next`] where to go; the outgoing edges are tried in
//! the order they were declared and the first whose guards all hold is taken. `None`
//! from a non-terminal node means the thread stops unfinished.
//!
//! ```
//! use baton_workflows::{ThreadFacts, Workflow};
//!
//! let flow = Workflow::builtin("two-agent").expect("built in");
//! let fresh = ThreadFacts { max_sessions: 10, ..ThreadFacts::default() };
//! let step = flow.next(flow.start(), &fresh).expect("a first session");
//! assert_eq!(flow.node(step.to).name, "initializer");
//! assert_eq!(step.guard, "feature_list_missing && sessions_left");
//! ```
//!
//! # Guards
//!
//! | guard | holds when |
//! |---|---|
//! | `always` | always |
//! | `feature_list_missing` | there is no feature list |
//! | `features_failing` | a feature list exists and some feature fails (an empty list counts as failing) |
//! | `all_features_pass` | a non-empty feature list exists and every feature passes |
//! | `sessions_left` | fewer sessions have run than the budget allows |
//!
//! A term may be negated: `!sessions_left`.
//!
//! # The TOML format
//!
//! ```toml
//! name = "my-flow"
//! start = "start"                 # optional: the one node of kind "start"
//!
//! [[nodes]]
//! name = "start"
//! kind = "start"                  # start | session | terminal
//!
//! [[nodes]]
//! name = "coding"
//! kind = "session"
//! prompt = "coding"               # optional: prompt file stem, default the node name
//! tools = ["read_file", "bash"]   # optional: default all tools
//! max_turns = 80                  # optional: default 60
//!
//! [[nodes]]
//! name = "done"
//! kind = "terminal"
//!
//! [[edges]]
//! from = "start"
//! to = "coding"
//! when = ["features_failing", "sessions_left"]   # optional: default always
//! ```
//!
//! [`Workflow::from_toml_str`] validates as it parses and every complaint names its
//! line: unknown kinds, guards or nodes, duplicate names, a missing or second start
//! node, no terminal node, edges out of a terminal node, session nodes with no way on,
//! nodes unreachable from the start, and nodes from which no terminal can be reached.
//! [`Workflow::to_toml`] writes the same format back.
//!
//! # Rendering
//!
//! [`Workflow::render`] draws a workflow as text, Graphviz DOT or Mermaid, in
//! declaration order so the output is deterministic.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod builtin;
mod error;
mod file;
mod graph;
mod guard;
mod render;
mod validate;

use std::path::Path;

pub use error::WorkflowError;
pub use graph::{DEFAULT_MAX_TURNS, Edge, Node, NodeId, NodeKind, Transition, Workflow};
pub use guard::{Guard, GuardTerm, ThreadFacts};
pub use render::RenderFormat;

impl Workflow {
    /// The built-in workflow called `name` (see [`Workflow::builtin_names`]).
    pub fn builtin(name: &str) -> Option<Workflow> {
        builtin::load(name)
    }

    /// Names of the built-in workflows.
    pub fn builtin_names() -> &'static [&'static str] {
        builtin::BUILTIN_NAMES
    }

    /// The TOML text of a built-in workflow, for users who want to start from a copy.
    pub fn builtin_source(name: &str) -> Option<&'static str> {
        builtin::source(name)
    }

    /// Parses and validates a workflow written in the TOML format described in the
    /// crate docs.
    pub fn from_toml_str(src: &str) -> Result<Workflow, WorkflowError> {
        file::parse(src)
    }

    /// A built-in workflow by name, or else the TOML file at the path `name_or_path`.
    pub fn load(name_or_path: &str) -> Result<Workflow, WorkflowError> {
        if let Some(workflow) = Workflow::builtin(name_or_path) {
            return Ok(workflow);
        }
        let path = Path::new(name_or_path);
        let src = std::fs::read_to_string(path).map_err(|source| WorkflowError::Read {
            path: path.to_owned(),
            source,
        })?;
        Workflow::from_toml_str(&src).map_err(|err| WorkflowError::InFile {
            path: path.to_owned(),
            source: Box::new(err),
        })
    }

    /// The workflow drawn in `format`.
    pub fn render(&self, format: RenderFormat) -> String {
        match format {
            RenderFormat::Text => render::text(self),
            RenderFormat::Dot => render::dot(self),
            RenderFormat::Mermaid => render::mermaid(self),
        }
    }

    /// The workflow in the TOML format; [`Workflow::from_toml_str`] reads it back to an
    /// equal workflow.
    pub fn to_toml(&self) -> String {
        file::write(self)
    }
}
