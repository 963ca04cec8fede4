//! `bash`: runs a shell command in the project folder with a deadline. The command gets
//! its own process group so that everything it starts can be killed at once, its
//! output (stdout and stderr interleaved through one pipe) is read on a thread so a
//! chatty command cannot deadlock, and secrets are stripped from its environment. Where
//! the OS sandbox can start (`crate::sandbox`), the command runs inside it.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{PipeReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Deserialize;
use serde_json::Value;

use super::jobs::{Jobs, Sink};
use super::object_schema;
use crate::capped::HeadTail;
use crate::{Jail, SandboxStatus, Tool, ToolConfig, ToolError, ToolOutput, ToolSpec, parse_args};

/// How long output is still read after the command exits. Past it, processes the
/// command left in the background that still hold the output pipe are killed, so a
/// stray `sleep 1000 &` cannot hold the session.
const DRAIN_GRACE: Duration = Duration::from_millis(300);

/// Environment variables whose names contain one of these (in any case) are not passed
/// on, so the agent cannot read the model's API key or other credentials.
const SECRET_MARKERS: [&str; 6] = ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"];

/// Runs shell commands in the project folder.
#[derive(Debug)]
pub struct Bash {
    jail: Arc<Jail>,
    config: Arc<ToolConfig>,
    jobs: Arc<Jobs>,
    /// Whether commands run in the sandbox, or why none may run (a required sandbox
    /// that cannot start), decided once when the tool is made.
    sandboxed: Result<bool, String>,
}

#[derive(Debug, Deserialize)]
struct Args {
    command: String,
    timeout_secs: Option<u64>,
}

/// How the command ended.
enum Ending {
    Exited(ExitStatus),
    TimedOut(Duration),
    /// Still running: moved to the background as a job (number, log, why).
    Background(u32, String, String),
}

/// What happens at the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtDeadline {
    /// The model asked for a deadline below the cap: the command is killed there.
    Kill,
    /// The cap: the command goes on in the background.
    Background,
}

/// How often a running command is checked for a listening socket.
const LISTEN_POLL: Duration = Duration::from_millis(250);

impl Bash {
    /// A `bash` tool running in `jail`'s root; commands that outlive the cap become `jobs`.
    pub fn new(jail: Arc<Jail>, config: Arc<ToolConfig>, jobs: Arc<Jobs>) -> Self {
        let sandboxed = match config.sandbox.status() {
            SandboxStatus::On => Ok(true),
            SandboxStatus::Off | SandboxStatus::Unavailable(_) => Ok(false),
            SandboxStatus::Refused(why) => Err(why),
        };
        Self {
            jail,
            config,
            jobs,
            sandboxed,
        }
    }

    /// The deadline for this call, what happens there, and a note for the model when its
    /// ask was changed. `timeout_secs: 0` (a weak model's "no timeout") means the default.
    fn timeout(&self, asked: Option<u64>) -> (Duration, AtDeadline, Option<String>) {
        let cap = self.config.bash_max_timeout;
        let wanted = match asked {
            None | Some(0) => self.config.bash_timeout,
            Some(secs) => Duration::from_secs(secs),
        };
        if wanted < cap {
            return (wanted, AtDeadline::Kill, None);
        }
        let note = (wanted > cap && asked.is_some_and(|secs| secs > 0)).then(|| {
            format!(
                "[timeout_secs {} is above the {} s foreground cap; a command still running then goes on in the background]",
                wanted.as_secs(),
                cap.as_secs()
            )
        });
        (cap, AtDeadline::Background, note)
    }

    fn run(&self, args: &Args) -> Result<ToolOutput, ToolError> {
        if args.command.trim().is_empty() {
            return Err(ToolError::InvalidArguments {
                message: "command is empty; give a shell command to run".to_owned(),
            });
        }
        let sandboxed = self.sandboxed.clone().map_err(ToolError::Rejected)?;
        let (timeout, at_deadline, timeout_note) = self.timeout(args.timeout_secs);
        let start_failed = |e| ToolError::io("starting bash in", ".", e);
        let (reader, writer) = std::io::pipe().map_err(start_failed)?;
        let mut command = self
            .config
            .sandbox
            .command(self.jail.root(), &args.command, sandboxed);
        command
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(start_failed)?)
            .stderr(writer)
            .process_group(0);
        for (name, _) in std::env::vars_os() {
            if is_secret(&name) {
                command.env_remove(name);
            }
        }
        let started = Instant::now();
        let mut child = command.spawn().map_err(start_failed)?;
        // The Command holds the pipe's write ends; they must close for EOF to be seen.
        drop(command);
        let group = Pid::from_raw(child.id().cast_signed());
        let sink = Arc::new(Mutex::new(Sink {
            capture: HeadTail::for_chars(self.config.output_max_chars),
            log: None,
        }));
        let drained = spawn_reader(reader, Arc::clone(&sink));
        let (exited_tx, exited) = mpsc::channel();
        thread::spawn(move || {
            let _ = exited_tx.send(child.wait());
        });

        let moved = |why: String, exited| -> Result<Ending, ToolError> {
            let (id, log) = self.jobs.adopt(
                self.jail.root(),
                &args.command,
                group,
                &sink,
                exited,
                started,
            )?;
            Ok(Ending::Background(id, log, why))
        };
        let mut output_so_far = None;
        let ending = loop {
            let left = timeout.saturating_sub(started.elapsed());
            match exited.recv_timeout(left.min(LISTEN_POLL)) {
                Ok(status) => {
                    break Ending::Exited(
                        status.map_err(|e| ToolError::io("waiting for bash in", ".", e))?,
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ToolError::Rejected(
                        "lost track of the command (its waiter thread ended)".to_owned(),
                    ));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            let ports = crate::listening::listening_ports(group.as_raw());
            let secs = started.elapsed().as_secs();
            if !ports.is_empty() || started.elapsed() >= timeout {
                if ports.is_empty() && at_deadline == AtDeadline::Kill {
                    kill_group(group);
                    let _ = exited.recv();
                    break Ending::TimedOut(timeout);
                }
                output_so_far = Some(render(&sink, self.config.output_max_chars));
                let why = if ports.is_empty() {
                    format!("still running after {secs} s (the foreground cap)")
                } else {
                    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
                    format!("listening on port {} after {secs} s", ports.join(", "))
                };
                break moved(why, exited)?;
            }
        };
        let mut notes: Vec<&str> = timeout_note.as_deref().into_iter().collect();
        if !matches!(ending, Ending::Background(..))
            && drained.recv_timeout(DRAIN_GRACE) == Err(RecvTimeoutError::Timeout)
        {
            kill_group(group);
            if matches!(ending, Ending::Exited(_)) {
                notes.push("[processes left running in the background still held the output and were killed; redirect their output (e.g. `cmd > log 2>&1 &`) to keep them]");
            }
            if drained.recv_timeout(DRAIN_GRACE).is_err() {
                notes.push("[output reading stopped: a process outside the command's group still holds it]");
            }
        }
        let output = output_so_far.unwrap_or_else(|| render(&sink, self.config.output_max_chars));
        Ok(report(&output, &notes, &ending).touching_anything())
    }
}

fn render(sink: &Mutex<Sink>, max_chars: usize) -> String {
    sink.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .capture
        .render(max_chars)
}

/// Reads the pipe to its end on a thread; the receiver hears when it is done.
fn spawn_reader(mut reader: PipeReader, sink: Arc<Mutex<Sink>>) -> Receiver<()> {
    let (done_tx, done) = mpsc::channel();
    thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read @ 1..) = reader.read(&mut buffer) {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(&buffer[..read]);
        }
        let _ = done_tx.send(());
    });
    done
}

fn kill_group(group: Pid) {
    // ESRCH (the group is already gone) is the outcome we want anyway.
    let _ = killpg(group, Signal::SIGKILL);
}

fn is_secret(name: &OsStr) -> bool {
    let name = name.to_string_lossy().to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|marker| name.contains(marker))
}

fn report(output: &str, notes: &[&str], ending: &Ending) -> ToolOutput {
    let mut content = if output.is_empty() {
        "(no output)\n".to_owned()
    } else {
        output.to_owned()
    };
    if !content.ends_with('\n') {
        content.push('\n');
    }
    for note in notes {
        content.push_str(note);
        content.push('\n');
    }
    match ending {
        Ending::TimedOut(after) => {
            let _ = write!(
                content,
                "timed out after {} s (the timeout_secs you gave); the command and every process it started were killed. \
                 Leave timeout_secs out to let a long command go on in the background",
                after.as_secs()
            );
            ToolOutput::error(content)
        }
        Ending::Background(id, log, why) => {
            let _ = write!(
                content,
                "{why}: the command goes on in the background as job {id}, its output appended to {log}. \
                 bash_output {{\"job\": {id}}} shows what it printed since; bash_stop {{\"job\": {id}}} stops it. \
                 Do not start it again."
            );
            ToolOutput::success(content)
        }
        Ending::Exited(status) => {
            match (status.code(), status.signal()) {
                (Some(code), _) => {
                    let _ = write!(content, "exit code: {code}");
                }
                (None, Some(signal)) => {
                    let name = Signal::try_from(signal).map_or("unknown signal", Signal::as_str);
                    let _ = write!(content, "killed by signal {signal} ({name})");
                }
                (None, None) => content.push_str("ended without an exit code"),
            }
            if status.success() {
                ToolOutput::success(content)
            } else {
                ToolOutput::error(content)
            }
        }
    }
}

impl Tool for Bash {
    fn spec(&self) -> ToolSpec {
        let sandboxed = self.sandboxed.clone().unwrap_or(false);
        ToolSpec {
            name: "bash".to_owned(),
            description: format!(
                "Run a shell command with `bash -c` in the project root (stdin is empty; stdout and stderr come back together, \
                 followed by the exit code). Use it to build, test, run scripts, git, and install packages. \
                 A command runs in the foreground for at most {} s: one still running then, or one that starts listening on a port \
                 (a server), goes on in the background as a job (read its output with bash_output, end it with bash_stop). \
                 A smaller timeout_secs kills the command at that time instead. Output over {} characters \
                 keeps only its beginning and end. {}Prefer read_file, grep and glob for looking at files.{}",
                self.config.bash_max_timeout.as_secs(),
                self.config.output_max_chars,
                if sandboxed {
                    ""
                } else {
                    "Background processes (`cmd &`) still holding the output when the command ends are killed; \
                     send their output to a file. "
                },
                self.config.sandbox.describe(sandboxed)
            ),
            parameters: object_schema(
                &[
                    (
                        "command",
                        "string",
                        "The shell command, e.g. \"cargo test 2>&1 | tail -50\".",
                    ),
                    (
                        "timeout_secs",
                        "integer",
                        "Seconds before the command is killed; omit it to let a long command go on in the background.",
                    ),
                ],
                &["command"],
            ),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        parse_args::<Args>(args)
            .and_then(|args| self.run(&args))
            .unwrap_or_else(ToolOutput::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised_in_any_case() {
        for name in [
            "OPENAI_API_KEY",
            "github_token",
            "Db_Password",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_secret(OsStr::new(name)), "{name}");
        }
        for name in ["PATH", "HOME", "CARGO_HOME"] {
            assert!(!is_secret(OsStr::new(name)), "{name}");
        }
    }
}
