//! Command-line interface types (clap derive). One variant per subcommand; handlers live in
//! `commands/`. Every option that has an environment variable says so with `env = ...`.

use crate::config::{LimitArgs, ModelArgs};
use crate::env_vars;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// baton — runs an LLM coding agent on a project over many sessions, and never loses its place.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive a project from its app spec to done: initializer, then coding sessions.
    Run(RunArgs),
    /// Continue an interrupted thread from its last checkpoint.
    Resume(ResumeArgs),
    /// Run the offline demo: the todo app built by the scripted model, into a fresh folder.
    Demo(DemoArgs),
    /// Pause a running thread when its current step ends.
    Pause(ThreadArgs),
    /// Let a paused thread go on.
    Continue(ThreadArgs),
    /// Give a thread an instruction, delivered before its next model turn.
    Instruct(InstructArgs),
    /// End a running thread cleanly after its current step (it stays resumable).
    Stop(ThreadArgs),
    /// What a thread is doing now: node, session, step, feature, tokens, paused or not.
    Status(ThreadArgs),
    /// A terminal UI over the project's threads: steps, messages, diffs, fork, pause, instruct.
    Tui(TuiArgs),
    /// A dashboard in the browser: threads, fork trees, steps, evidence, recall, live.
    Web(WebArgs),
    /// List the threads of a project with their status.
    Threads(ProjectJsonArgs),
    /// The steps of a thread: node, tool calls, outcome, tokens.
    History(ThreadArgs),
    /// The state of a thread at one step (and what changed against the step before).
    Show(ShowArgs),
    /// Move a thread (state and worktree) back to a step; later steps stay on the tape.
    Rewind(RewindArgs),
    /// Start a new thread from a step of another, with edits or an instruction.
    Fork(ForkArgs),
    /// Run a recorded thread again on a fresh copy of its project.
    Replay(ReplayArgs),
    /// The fork tree of a thread.
    Tree(ThreadArgs),
    /// Two threads side by side: where they diverge, features, tokens, cost, time, files.
    Compare(CompareArgs),
    /// Bring a fork's commits onto its origin's branch; the origin goes on from there.
    Adopt(AdoptArgs),
    /// Training data from a thread's fork tree: trajectories, DPO pairs or SFT samples.
    Export(ExportArgs),
    /// Rate a step of a thread good or bad (steers `export --format dpo|sft`).
    Rate(RateArgs),
    /// Drop worktree snapshots outside a retention policy.
    Gc(GcArgs),
    /// Run the feature checks in headless Chromium and print a table.
    Verify(VerifyArgs),
    /// Search the project's memory of earlier sessions.
    Recall(RecallArgs),
    /// Memory operations: stats, reindex, migrate.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Workflow graphs: check a TOML file, draw a workflow.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Serve a script of assistant turns over the OpenAI chat-completions protocol.
    ScriptServer(ScriptServerArgs),
    /// Benchmarks that print figures.
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The project folder (created when missing).
    pub project: PathBuf,
    /// The app spec to copy in as app_spec.md (default: the project's own app_spec.md).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Thread id (default: a new one).
    #[arg(long)]
    pub thread: Option<String>,
    /// Workflow: a built-in name or a TOML file.
    #[arg(long, env = env_vars::WORKFLOW)]
    pub workflow: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    pub thread: String,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// A thread that was paused goes on at once instead of waiting for `baton continue`.
    #[arg(long = "continue")]
    pub continue_paused: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the demo (default: a fresh folder under the system temp dir).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The example to run.
    #[arg(long, default_value = "todo-app")]
    pub example: String,
    /// Run the scripted model's bash commands without the OS sandbox.
    #[arg(long)]
    pub no_sandbox: bool,
}

#[derive(Debug, Args)]
pub struct ProjectJsonArgs {
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WebArgs {
    /// A project to show (repeat for several; default: the current folder).
    #[arg(long)]
    pub project: Vec<PathBuf>,
    /// Where to listen; loopback unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub bind: std::net::SocketAddr,
    /// Serve on a non-loopback address; every request then needs the token kept in
    /// ~/.config/baton/web-token.
    #[arg(long)]
    pub allow_remote: bool,
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Open this thread at once (otherwise the threads list comes first).
    pub thread: Option<String>,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

#[derive(Debug, Args)]
pub struct InstructArgs {
    pub thread: String,
    /// The instruction, in plain words.
    pub text: String,
    /// Whether the model reads it as a user or a system message.
    #[arg(long = "as", value_enum, default_value = "user")]
    pub role: crate::control::InstructionRole,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

#[derive(Debug, Args)]
pub struct ThreadArgs {
    pub thread: String,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The fork to adopt.
    pub fork: String,
    /// The branch to bring its commits onto (default: the one checked out in the origin).
    #[arg(long)]
    pub onto: Option<String>,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A thread (e.g. the origin).
    pub a: String,
    /// Another thread (e.g. a fork of it).
    pub b: String,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub thread: String,
    #[arg(long)]
    pub step: u64,
    /// Also show the state delta and the file diff against the step before.
    #[arg(long)]
    pub diff: bool,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

#[derive(Debug, Args)]
pub struct RewindArgs {
    pub thread: String,
    #[arg(long)]
    pub to: u64,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

#[derive(Debug, Args)]
pub struct ForkArgs {
    pub thread: String,
    #[arg(long)]
    pub at: u64,
    /// Id of the new thread (default: a new one).
    #[arg(long = "thread")]
    pub new_thread: Option<String>,
    /// Edit the state: a JSON pointer path and a JSON value, e.g. `--set /max_sessions=12`.
    #[arg(long = "set", value_name = "PATH=JSON")]
    pub sets: Vec<String>,
    /// An instruction for the model, injected where the fork starts.
    #[arg(long)]
    pub instruct: Option<String>,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReplayMode {
    /// Recorded model answers, real tools.
    Replay,
    /// Recorded model answers and recorded tool results.
    Mock,
    /// Recorded answers up to --from, the live model after.
    Live,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    pub thread: String,
    /// Replay from this step (default: the start).
    #[arg(long)]
    pub from: Option<u64>,
    #[arg(long, value_enum, default_value = "replay")]
    pub mode: ReplayMode,
    /// Where the fresh copy goes (default: beside the project).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only this thread (default: every thread of the project).
    pub thread: Option<String>,
    #[arg(long)]
    pub keep_last: Option<usize>,
    /// Keep snapshots younger than this (e.g. 7d, 12h, 30m).
    #[arg(long)]
    pub keep_age: Option<String>,
    /// Keep every N-th step as a milestone.
    #[arg(long)]
    pub milestones: Option<usize>,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(default_value = ".")]
    pub project: PathBuf,
    /// Only these features.
    #[arg(long)]
    pub feature: Vec<String>,
    /// The app already runs here: do not start it.
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RecallArgs {
    pub query: String,
    /// Recall as this thread sees it: its live line, and its parent's up to the fork point
    /// (default: the threads of the --project folder).
    #[arg(long)]
    pub thread: Option<String>,
    /// Show memories of abandoned branches and other threads too, labelled.
    #[arg(long)]
    pub all_branches: bool,
    /// commit, progress, summary, error, fix, verification, instruction
    #[arg(long)]
    pub kind: Vec<String>,
    #[arg(long)]
    pub feature: Option<String>,
    /// Only memories from this date on (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// How many memories of each kind, which model, which store.
    Stats(ProjectJsonArgs),
    /// Rebuild memory from git log, tapes and progress notes.
    Reindex(ProjectJsonArgs),
    /// Copy the embedded store to a Qdrant server and point the project at it.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[arg(long, env = env_vars::QDRANT_URL)]
    pub to: String,
    #[arg(long, env = env_vars::QDRANT_API_KEY, hide_env_values = true)]
    pub api_key: Option<String>,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Validate a workflow TOML file.
    Check { file: PathBuf },
    /// Draw a workflow.
    Show {
        /// A built-in name or a TOML file.
        workflow: String,
        #[arg(long, value_enum, default_value = "text")]
        format: GraphFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct ScriptServerArgs {
    #[arg(long)]
    pub script: PathBuf,
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
}

/// Which memory stores `baton bench memory` measures.
#[cfg(feature = "bench")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchBackend {
    /// The embedded Qdrant Edge store only.
    Edge,
    /// The embedded store and a Qdrant server, side by side.
    Server,
}

#[cfg(feature = "bench")]
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The harness's own time per step, the model's latency excluded.
    AgentLoop {
        #[arg(long, default_value_t = 500)]
        steps: u32,
        /// Make the scripted model take this long per answer (real models take seconds;
        /// the snapshot of each step runs while the model is asked).
        #[arg(long, default_value_t = 0)]
        model_delay_ms: u64,
        /// Bash calls timed with the sandbox on and with it off (0 leaves that part out).
        #[arg(long, default_value_t = 50)]
        bash_calls: u32,
        #[arg(long)]
        json: bool,
    },
    /// Tape and checkpoint costs on the peers' workload.
    Tape {
        #[arg(long, default_value_t = 10_000)]
        steps: usize,
        #[arg(long)]
        json: bool,
    },
    /// Embedding, store search and recall at scale.
    Memory {
        #[arg(long, default_value_t = 100_000)]
        n: usize,
        /// `server`: also measure a Qdrant server (`--qdrant-url` / QDRANT_URL) on the same
        /// points and queries, beside the embedded store.
        #[arg(long, value_enum, default_value_t = BenchBackend::Edge)]
        backend: BenchBackend,
        #[arg(long, env = env_vars::QDRANT_URL)]
        qdrant_url: Option<String>,
        #[arg(long, env = env_vars::QDRANT_API_KEY, hide_env_values = true)]
        qdrant_api_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Recall quality: dense, BM25 and baton's default side by side (recall@5, MRR@10,
    /// per kind of question). Without --corpus: the built-in corpus and every real
    /// history's recall set in BATON_RECALL_DATA or ../shared/data/recall.
    RecallQuality {
        /// A corpus: the built-in format (JSON with memories and queries), or a recall
        /// set's `<name>.commits.jsonl` (then --queries names its questions).
        #[arg(long)]
        corpus: Option<std::path::PathBuf>,
        /// The recall set's `<name>.queries.json` (with a `.commits.jsonl` corpus).
        #[arg(long, requires = "corpus")]
        queries: Option<std::path::PathBuf>,
        /// Folder of recall sets measured when no --corpus is given.
        #[arg(long, env = crate::env_vars::RECALL_DATA)]
        recall_data: Option<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Timeline-aware recall: opening a long, rewound thread's line and judging one fetch.
    Timeline {
        #[arg(long, default_value_t = 10_000)]
        steps: u64,
        #[arg(long)]
        json: bool,
    },
    /// Dashboard: a long thread's page ready; a new step's way to a live page.
    Web {
        #[arg(long, default_value_t = 10_000)]
        steps: usize,
        #[arg(long)]
        json: bool,
    },
    /// TUI: time to open a long thread and draw it; control-channel round trips.
    Tui {
        #[arg(long, default_value_t = 10_000)]
        steps: usize,
        #[arg(long)]
        json: bool,
    },
    /// Browser start and feature-check latency.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// A real OpenAI-compatible server under baton: tokens/s and time to first token as
    /// baton sees them, then the counter-app spec within a session budget.
    RealModel {
        #[arg(long, env = env_vars::OPENAI_BASE_URL)]
        base_url: String,
        #[arg(long, env = env_vars::MODEL)]
        model: String,
        #[arg(long, env = env_vars::OPENAI_API_KEY, hide_env_values = true)]
        api_key: Option<String>,
        /// Streamed probe requests.
        #[arg(long, default_value_t = 3)]
        probes: u32,
        /// Sessions of the counter-app run, initializer included (0: probes only).
        #[arg(long, default_value_t = 4)]
        sessions: u32,
        /// Turns per session.
        #[arg(long, default_value_t = 12)]
        max_turns: u32,
        /// Context limit of the run (fit it to the server's context size).
        #[arg(long, default_value_t = 6000)]
        context_limit: usize,
        /// Skip the Chromium checks (then no feature can pass).
        #[arg(long)]
        no_verify: bool,
        #[arg(long)]
        json: bool,
    },
}

/// `baton export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The root of the fork tree to export (forks and replays of it are included).
    pub thread: String,
    #[arg(long, value_enum)]
    pub format: crate::export::Format,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

/// `baton rate`.
#[derive(Debug, Args)]
pub struct RateArgs {
    pub thread: String,
    /// The step rated (a live step of the thread).
    #[arg(long)]
    pub step: u64,
    #[arg(value_enum)]
    pub verdict: crate::export::Verdict,
    /// Why, in a few words.
    #[arg(long)]
    pub note: Option<String>,
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}
