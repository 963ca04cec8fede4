//! The control channel of a thread: how a person steps into a run from another terminal.
//!
//! Two parts, so that nothing a person says is lost by a kill:
//! - the **inbox** (`.baton/threads/<id>/inbox.jsonl`): every request that changes the
//!   thread (pause, continue, instruct, stop) is appended and fsynced before it is
//!   acknowledged. The runner applies inbox entries in order at its control point (before
//!   each step and between sessions) and records how many it has applied in the
//!   checkpointed state, so a resumed thread applies exactly the ones it had not;
//! - the **socket** (`control.sock` beside the tape, mode 0600, peers of another user
//!   refused): a running thread answers `status` live and is woken at once when a request
//!   lands in its inbox. With no process running the thread, requests still go to the
//!   inbox and take effect when it is resumed.
//!
//! The wire protocol is one JSON request line and one JSON reply line per connection.

mod inbox;
mod server;

pub use inbox::{Inbox, InboxEntry};
pub use server::{ControlServer, StatusBoard};

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;

use crate::error::HarnessError;

/// The longest socket path that fits `sockaddr_un` (108 bytes with its NUL) with room left.
const MAX_SOCKET_PATH: usize = 100;

/// Who an instruction speaks as in the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum InstructionRole {
    /// A user message (the default: models follow user turns most readily).
    User,
    /// A system message.
    System,
}

/// What a person asks of a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Finish the current step, then wait.
    Pause,
    /// Go on after a pause (a person's or an automatic one).
    Continue,
    /// Deliver a message before the next model turn.
    Instruct { text: String, role: InstructionRole },
    /// End the run cleanly after the current step; the thread stays resumable.
    Stop,
    /// What the thread is doing now.
    Status,
}

impl Request {
    /// Whether the request changes the thread (and so goes through the inbox).
    pub fn is_command(&self) -> bool {
        !matches!(self, Request::Status)
    }
}

/// The live state of a running thread, as `baton status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub thread: String,
    pub pid: u32,
    pub node: String,
    pub phase: String,
    pub session: u32,
    pub step: u64,
    pub feature: Option<String>,
    pub features_passing: usize,
    pub features_total: usize,
    pub tokens: u64,
    pub cost: Option<f64>,
    /// Why the thread is paused, when it is.
    pub paused: Option<String>,
    /// Inbox entries written but not applied yet.
    pub pending_requests: u64,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// Where the control socket of a thread whose folder is `thread_dir` lives. Beside the tape
/// when the path fits a Unix socket address; otherwise (deep project folders) in a private
/// folder under the temp dir, named by a hash of the thread folder, so every process finds
/// the same one.
pub fn socket_path(thread_dir: &Path) -> PathBuf {
    let natural = thread_dir.join("control.sock");
    if natural.as_os_str().len() <= MAX_SOCKET_PATH {
        return natural;
    }
    let digest = sha2::Sha256::digest(thread_dir.as_os_str().as_encoded_bytes());
    short_socket_dir().join(format!("{}.sock", &hex::encode(digest)[..24]))
}

/// `$TMPDIR/baton-<uid>`: the fallback folder for sockets, mode 0700.
fn short_socket_dir() -> PathBuf {
    use std::os::unix::fs::MetadataExt as _;
    let uid = std::fs::metadata("/proc/self").map_or(0, |meta| meta.uid());
    std::env::temp_dir().join(format!("baton-{uid}"))
}

/// Sends one request to the process running the thread. `Ok(None)` when no process
/// answers on the socket (nothing runs the thread, or it died without removing it).
pub async fn send(thread_dir: &Path, request: &Request) -> Result<Option<Reply>, HarnessError> {
    let path = socket_path(thread_dir);
    let Ok(stream) = UnixStream::connect(&path).await else {
        return Ok(None);
    };
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let mut line = serde_json::to_string(request)?;
        line.push('\n');
        write
            .write_all(line.as_bytes())
            .await
            .map_err(|source| HarnessError::io(&path, source))?;
        let mut reply = String::new();
        BufReader::new(read)
            .read_line(&mut reply)
            .await
            .map_err(|source| HarnessError::io(&path, source))?;
        if reply.trim().is_empty() {
            return Ok(None);
        }
        Ok(Some(serde_json::from_str::<Reply>(&reply)?))
    };
    // A runner answers within milliseconds; a socket nobody serves any more must not hang
    // the command.
    match tokio::time::timeout(Duration::from_secs(10), exchange).await {
        Ok(result) => result,
        Err(_) => Err(HarnessError::BadInput(format!(
            "the process running the thread did not answer on {} within 10 s",
            path.display()
        ))),
    }
}
