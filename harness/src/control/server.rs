//! The live half of the control channel: the socket a running thread listens on.
//!
//! Requests that change the thread are written to the inbox (durably) and wake the runner;
//! `status` is answered from the [`StatusBoard`] the runner updates at each control point.
//! Only peers of the user who owns the thread's folder are served.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use super::{Inbox, Reply, Request, Status, socket_path};
use crate::error::HarnessError;

/// The live status of a thread, written by its runner and read by the socket.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard(Arc<Mutex<Status>>);

impl StatusBoard {
    pub fn set(&self, status: Status) {
        if let Ok(mut board) = self.0.lock() {
            *board = status;
        }
    }

    pub fn get(&self) -> Status {
        self.0.lock().map(|board| board.clone()).unwrap_or_default()
    }
}

/// A thread's control socket, served while the value lives; dropping it stops serving and
/// removes the socket file.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
    wake: Arc<Notify>,
    board: StatusBoard,
}

impl ControlServer {
    /// Listens on the thread's socket. The caller holds the thread's lock, so a socket file
    /// already there belongs to a process that died: it is replaced.
    pub fn start(thread_dir: &Path) -> Result<ControlServer, HarnessError> {
        let path = socket_path(thread_dir);
        if let Some(parent) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| HarnessError::io(parent, source))?;
        }
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(HarnessError::io(&path, error));
            }
            _ => {}
        }
        let listener =
            UnixListener::bind(&path).map_err(|source| HarnessError::io(&path, source))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|source| HarnessError::io(&path, source))?;
        let owner = std::fs::metadata(thread_dir)
            .map_err(|source| HarnessError::io(thread_dir, source))?
            .uid();
        let wake = Arc::new(Notify::new());
        let board = StatusBoard::default();
        let serving = Serving {
            inbox: Inbox::new(thread_dir),
            owner,
            wake: Arc::clone(&wake),
            board: board.clone(),
        };
        let task = tokio::spawn(serving.accept_loop(listener));
        Ok(ControlServer {
            path,
            task,
            wake,
            board,
        })
    }

    /// Notified whenever a request lands in the inbox.
    pub fn wake(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    pub fn board(&self) -> &StatusBoard {
        &self.board
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

use std::os::unix::fs::DirBuilderExt as _;

/// What the accept loop needs.
#[derive(Debug, Clone)]
struct Serving {
    inbox: Inbox,
    owner: u32,
    wake: Arc<Notify>,
    board: StatusBoard,
}

impl Serving {
    async fn accept_loop(self, listener: UnixListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let serving = self.clone();
            tokio::spawn(async move {
                if let Err(error) = serving.serve(stream).await {
                    tracing::debug!("control connection: {error}");
                }
            });
        }
    }

    async fn serve(self, stream: UnixStream) -> Result<(), HarnessError> {
        let peer = stream.peer_cred().ok().map(|cred| cred.uid());
        let (read, mut write) = stream.into_split();
        let reply = if peer == Some(self.owner) {
            let mut line = String::new();
            let mut reader = BufReader::new(read);
            // A request is one short line; a peer that sends megabytes is not a person.
            let read = tokio::io::AsyncReadExt::take(&mut reader, 1 << 20)
                .read_line(&mut line)
                .await;
            match read
                .ok()
                .and_then(|_| serde_json::from_str::<Request>(&line).ok())
            {
                Some(request) => self.answer(request).await,
                None => refusal("the request is not one JSON line of the control protocol"),
            }
        } else {
            refusal("refused: the thread belongs to another user")
        };
        let mut line = serde_json::to_string(&reply)?;
        line.push('\n');
        write
            .write_all(line.as_bytes())
            .await
            .map_err(|source| HarnessError::io(Path::new("control socket"), source))
    }

    async fn answer(&self, request: Request) -> Reply {
        let status = self.board.get();
        if request.is_command() {
            let inbox = self.inbox.clone();
            let written = {
                let request = request.clone();
                tokio::task::spawn_blocking(move || inbox.append(&request)).await
            };
            match written {
                Ok(Ok(())) => self.wake.notify_one(),
                Ok(Err(error)) => return refusal(&format!("could not write the inbox: {error}")),
                Err(error) => return refusal(&format!("could not write the inbox: {error}")),
            }
        }
        let thread = &status.thread;
        let message = match &request {
            Request::Pause if status.paused.is_some() => {
                format!("thread {thread} is already paused")
            }
            Request::Pause => format!(
                "pause requested: thread {thread} pauses when its current step (step {}) ends",
                status.step
            ),
            Request::Continue if status.paused.is_none() => {
                format!("thread {thread} is running; a pause still pending is cancelled")
            }
            Request::Continue => format!("thread {thread} goes on"),
            Request::Instruct { .. } => {
                format!("instruction taken: thread {thread} reads it before its next model turn")
            }
            Request::Stop => format!(
                "stop requested: thread {thread} ends after its current step and stays resumable"
            ),
            Request::Status => String::new(),
        };
        Reply {
            ok: true,
            message,
            status: Some(status),
        }
    }
}

fn refusal(message: &str) -> Reply {
    Reply {
        ok: false,
        message: message.to_owned(),
        status: None,
    }
}
