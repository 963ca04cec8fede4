//! Background jobs: bash commands that outlived their call. A command still running when
//! the foreground cap is reached, or one that starts listening on a TCP port (a server), is
//! not killed: it goes on in the background, its output appended to a log under
//! `.baton/jobs/`, and the model reads that output with `bash_output` and ends the job with
//! `bash_stop` (the background-shell tools coding agents have). Every job still running
//! when the tool box is dropped (the run ends) is killed with its process group.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Deserialize;
use serde_json::Value;

use super::object_schema;
use crate::capped::cap_middle;
use crate::{Tool, ToolConfig, ToolError, ToolOutput, ToolSpec, parse_args};

/// Where job logs go, under the project root (harness state: not snapshotted or committed).
const JOBS_DIR: &str = ".baton/jobs";

/// How long `bash_stop` waits for the group to go after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Where a command's output goes: kept in memory while it runs in the foreground, then
/// appended to the job's log once it is moved to the background.
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) capture: crate::capped::HeadTail,
    pub(crate) log: Option<File>,
}

impl Sink {
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        match &mut self.log {
            // A log that cannot be written (its folder was deleted) loses output, not the job.
            Some(log) => {
                let _ = log.write_all(bytes);
            }
            None => self.capture.push(bytes),
        }
    }
}

/// One command running in the background.
#[derive(Debug)]
struct Job {
    command: String,
    group: Pid,
    log: PathBuf,
    /// Bytes of the log already shown by `bash_output`.
    shown: u64,
    started: Instant,
    exited: Receiver<std::io::Result<ExitStatus>>,
    status: Option<String>,
}

impl Job {
    /// Notes the exit status once the command has ended.
    fn poll(&mut self) -> Option<&str> {
        if self.status.is_none()
            && let Ok(result) = self.exited.try_recv()
        {
            self.status = Some(match result {
                Ok(status) => describe_status(status),
                Err(error) => format!("ended ({error})"),
            });
        }
        self.status.as_deref()
    }

    fn state(&mut self) -> String {
        let secs = self.started.elapsed().as_secs();
        match self.poll() {
            Some(status) => status.to_owned(),
            None => format!("running for {secs} s"),
        }
    }
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended".to_owned(),
    }
}

/// The jobs of one tool box, shared by `bash`, `bash_output` and `bash_stop`.
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: Mutex<BTreeMap<u32, Job>>,
}

impl Jobs {
    /// Moves a running command to the background: opens its log (with what it printed so
    /// far) and points the output sink at it. Returns the job's number and log path.
    pub(crate) fn adopt(
        &self,
        root: &Path,
        command: &str,
        group: Pid,
        sink: &Mutex<Sink>,
        exited: Receiver<std::io::Result<ExitStatus>>,
        started: Instant,
    ) -> Result<(u32, String), ToolError> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let id = jobs.keys().next_back().map_or(1, |last| last + 1);
        let rel = format!("{JOBS_DIR}/{id}.log");
        let path = root.join(&rel);
        let opened =
            std::fs::create_dir_all(root.join(JOBS_DIR)).and_then(|()| File::create(&path));
        let mut log = opened.map_err(|e| ToolError::io("creating the job log", rel.clone(), e))?;
        {
            let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
            let so_far = sink.capture.render(usize::MAX);
            let _ = log.write_all(so_far.as_bytes());
            let shown = so_far.len() as u64;
            sink.log = Some(log);
            jobs.insert(
                id,
                Job {
                    command: command.to_owned(),
                    group,
                    log: path,
                    shown,
                    started,
                    exited,
                    status: None,
                },
            );
        }
        Ok((id, rel))
    }

    fn with_job<T>(&self, id: u32, f: impl FnOnce(&mut Job) -> T) -> Result<T, ToolError> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let known: Vec<String> = jobs.keys().map(u32::to_string).collect();
        match jobs.get_mut(&id) {
            Some(job) => Ok(f(job)),
            None if known.is_empty() => Err(ToolError::Rejected(format!(
                "there is no background job {id}: none is running (bash moves a command to the background when it outlives its timeout or starts a server)"
            ))),
            None => Err(ToolError::Rejected(format!(
                "there is no background job {id}; the jobs are {}",
                known.join(", ")
            ))),
        }
    }

    fn list(&self) -> String {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if jobs.is_empty() {
            return "no background jobs".to_owned();
        }
        let mut out = String::new();
        for (id, job) in jobs.iter_mut() {
            let state = job.state();
            let _ = writeln!(out, "job {id}: {} ({state})", job.command);
        }
        out.trim_end().to_owned()
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        let jobs = self.jobs.get_mut().unwrap_or_else(PoisonError::into_inner);
        for job in jobs.values_mut() {
            if job.poll().is_none() {
                let _ = killpg(job.group, Signal::SIGKILL);
            }
        }
    }
}

/// New output in a job's log since it was last shown, capped to `max_chars`.
fn new_output(job: &mut Job, max_chars: usize) -> Result<String, ToolError> {
    let rel = job.log.display().to_string();
    let mut file = match File::open(&job.log) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok("(the job's log was deleted; its output is lost)".to_owned());
        }
        Err(error) => return Err(ToolError::io("reading the job log", rel, error)),
    };
    file.seek(SeekFrom::Start(job.shown))
        .map_err(|e| ToolError::io("reading the job log", rel.clone(), e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| ToolError::io("reading the job log", rel, e))?;
    job.shown += bytes.len() as u64;
    Ok(cap_middle(&String::from_utf8_lossy(&bytes), max_chars))
}

#[derive(Debug, Deserialize)]
struct JobArgs {
    job: Option<u32>,
}

/// `bash_output`: the new output of a background job, and whether it still runs.
#[derive(Debug)]
pub struct BashOutput {
    jobs: Arc<Jobs>,
    config: Arc<ToolConfig>,
}

impl BashOutput {
    pub fn new(jobs: Arc<Jobs>, config: Arc<ToolConfig>) -> Self {
        Self { jobs, config }
    }

    fn run(&self, args: &JobArgs) -> Result<ToolOutput, ToolError> {
        let Some(id) = args.job else {
            return Ok(ToolOutput::success(self.jobs.list()));
        };
        let max = self.config.output_max_chars;
        let (output, state) = self.jobs.with_job(id, |job| {
            let state = job.state();
            (new_output(job, max), state)
        })?;
        let output = output?;
        let output = if output.is_empty() {
            "(no new output)".to_owned()
        } else {
            output
        };
        Ok(ToolOutput::success(format!(
            "{}\n[job {id}: {state}]",
            output.trim_end()
        )))
    }
}

impl Tool for BashOutput {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "bash_output".to_owned(),
            description: "Show what a background job (a bash command that outlived the foreground cap or started a server) printed since you last looked, and whether it still runs.".to_owned(),
            parameters: object_schema(
                &[("job", "integer", "The job number bash gave when it moved the command to the background.")],
                &["job"],
            ),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        parse_args::<JobArgs>(args)
            .and_then(|args| self.run(&args))
            .unwrap_or_else(ToolOutput::from)
    }
}

/// `bash_stop`: ends a background job and everything it started.
#[derive(Debug)]
pub struct BashStop {
    jobs: Arc<Jobs>,
    config: Arc<ToolConfig>,
}

impl BashStop {
    pub fn new(jobs: Arc<Jobs>, config: Arc<ToolConfig>) -> Self {
        Self { jobs, config }
    }

    fn run(&self, args: &JobArgs) -> Result<ToolOutput, ToolError> {
        let Some(id) = args.job else {
            return Err(ToolError::InvalidArguments {
                message: format!("give the job to stop; {}", self.jobs.list()),
            });
        };
        let max = self.config.output_max_chars;
        let (output, state) = self.jobs.with_job(id, |job| {
            if job.poll().is_none() {
                let _ = killpg(job.group, Signal::SIGTERM);
                let deadline = Instant::now() + STOP_GRACE;
                while job.poll().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if job.poll().is_none() {
                    let _ = killpg(job.group, Signal::SIGKILL);
                    let _ = job.exited.recv_timeout(STOP_GRACE);
                    job.status = Some("killed".to_owned());
                }
            }
            // Whatever the group's other processes still do, they go too.
            let _ = killpg(job.group, Signal::SIGKILL);
            (new_output(job, max), job.state())
        })?;
        let output = output?;
        Ok(ToolOutput::success(format!(
            "{}\n[job {id} stopped: {state}]",
            output.trim_end()
        ))
        .touching_anything())
    }
}

impl Tool for BashStop {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "bash_stop".to_owned(),
            description: "Stop a background job and every process it started (SIGTERM, then SIGKILL after 2 s); shows its last output.".to_owned(),
            parameters: object_schema(&[("job", "integer", "The job number to stop.")], &["job"]),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        parse_args::<JobArgs>(args)
            .and_then(|args| self.run(&args))
            .unwrap_or_else(ToolOutput::from)
    }
}
