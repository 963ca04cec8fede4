//! The harness's error type. Library code returns `HarnessError`; the binary wraps it in
//! anyhow with context and maps "bad input" variants to exit code 2.

use std::path::{Path, PathBuf};

/// Everything that can stop a harness operation.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A config file does not parse or has unknown keys.
    #[error("config file {}: {detail}", path.display())]
    BadConfig { path: PathBuf, detail: String },
    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    BadInput(String),
    /// No tape for this thread in this project.
    #[error("no thread \"{thread}\" in {}: run `baton threads --project {}` to list them", project.display(), project.display())]
    ThreadNotFound { thread: String, project: PathBuf },
    /// The model could not be asked.
    #[error(transparent)]
    Model(#[from] baton_model::ModelError),
    /// The tape or a snapshot failed.
    #[error(transparent)]
    Tape(#[from] baton_tape::TapeError),
    /// Verification could not run.
    #[error(transparent)]
    Verify(#[from] baton_verify::VerifyError),
    /// Memory could not be opened or searched.
    #[error(transparent)]
    Memory(#[from] baton_memory::MemoryError),
    /// A workflow does not load or validate.
    #[error(transparent)]
    Workflow(#[from] baton_workflows::WorkflowError),
    /// A git operation on the project failed.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    /// The model did not answer within the step timeout (the thread stays resumable).
    #[error("{0}")]
    StepTimeout(String),
    /// A step's worktree snapshot, taken in the background, did not finish.
    #[error("{0}")]
    SnapshotTask(String),
    /// The recorded state does not decode into the harness's state type.
    #[error("recorded state does not decode: {0}")]
    State(#[from] serde_json::Error),
}

impl HarnessError {
    pub fn io(path: &Path, source: std::io::Error) -> HarnessError {
        HarnessError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the error is the user's input rather than a failure of the run (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            HarnessError::BadConfig { .. }
                | HarnessError::BadInput(_)
                | HarnessError::ThreadNotFound { .. }
                | HarnessError::Workflow(_)
        )
    }
}
