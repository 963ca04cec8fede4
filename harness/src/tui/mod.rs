//! `baton tui [THREAD]`: a terminal UI over a project's threads (ratatui + crossterm).
//!
//! The threads list; for a thread, its live steps with forks marked, the selected step's
//! messages, tool calls and results in full, and the state and file diff against any other
//! step; follow mode for a running thread. From a step a person can fork, edit the state and
//! fork, pause or continue the running thread, instruct it, and search the memory. Those
//! reach outside the screen through the same paths as the CLI: the control channel for a
//! running thread, and `baton fork` / `baton recall` run as child processes (their output
//! would tear the screen otherwise).

mod app;
#[cfg(feature = "bench")]
pub mod bench;
mod data;
mod view;

pub(crate) use app::{Action, App, Pane};
pub(crate) use data::{
    StepRow, ThreadData, diff as thread_diff, fork_tree, step_detail, threads as thread_list,
};

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};
use tokio::runtime::Handle;

use crate::control::{self, InstructionRole, Request};
use crate::error::HarnessError;
use crate::exit::ExitCode;

/// How often the screen looks for new steps of the followed thread.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// Runs the TUI until the person quits.
pub async fn run(project: PathBuf, thread: Option<String>) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        return Err(HarnessError::BadInput(
            "baton tui needs a terminal: run it in one (for scripts, `baton history` and `baton show` print the same facts)".to_owned(),
        )
        .into());
    }
    let mut app = App::new(project.clone(), data::threads(&project));
    if let Some(thread) = thread {
        app.show_thread(ThreadData::load(&project, &thread)?);
    }
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut terminal = ratatui::init();
        let result = event_loop(&mut terminal, &mut app, &handle);
        ratatui::restore();
        result
    })
    .await?
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    handle: &Handle,
) -> anyhow::Result<ExitCode> {
    loop {
        terminal.draw(|frame| view::draw(frame, app))?;
        if app.quit {
            return Ok(ExitCode::Ok);
        }
        if event::poll(FOLLOW_POLL)? {
            if let TermEvent::Key(key) = event::read()?
                && key.kind == KeyEventKind::Press
                && let Some(action) = app.on_key(key)
            {
                perform(app, action, terminal, handle);
            }
        } else if app.follow
            && let Some(data) = &app.thread
            && data.grew()
        {
            let thread = data.thread.clone();
            if let Ok(data) = ThreadData::load(&app.project, &thread) {
                app.show_thread(data);
            }
        }
    }
}

/// Does what a key asked for; failures become the bottom line's message.
fn perform(app: &mut App, action: Action, terminal: &mut DefaultTerminal, handle: &Handle) {
    let result = match action {
        Action::OpenThread(thread) => {
            ThreadData::load(&app.project, &thread).map(|data| app.show_thread(data))
        }
        Action::Reload => {
            app.threads = data::threads(&app.project);
            app.thread_selected = app.thread_selected.min(app.threads.len().saturating_sub(1));
            Ok(())
        }
        Action::Diff { from, to } => match &app.thread {
            Some(thread) => data::diff(thread, from, to).map(|text| {
                app.pane = Pane::Diff { from, to, text };
                app.scroll = 0;
            }),
            None => Ok(()),
        },
        Action::Fork { step } => fork(app, step, &[]),
        Action::EditAndFork { step } => edit_and_fork(app, step, terminal),
        Action::TogglePause => toggle_pause(app, handle),
        Action::Instruct(text) => instruct(app, handle, text),
        Action::Recall(query) => recall(app, &query),
    };
    if let Err(error) = result {
        app.message = format!("error: {error}");
    }
}

/// The thread folder of the open thread.
fn thread_dir(app: &App) -> Option<(String, PathBuf)> {
    let data = app.thread.as_ref()?;
    Some((data.thread.clone(), data.paths.dir.clone()))
}

fn toggle_pause(app: &mut App, handle: &Handle) -> Result<(), HarnessError> {
    let Some((thread, dir)) = thread_dir(app) else {
        return Ok(());
    };
    let status = handle.block_on(control::send(&dir, &Request::Status))?;
    let Some(status) = status.and_then(|reply| reply.status) else {
        app.message = format!("no process runs thread {thread}: `baton resume {thread}` runs it");
        return Ok(());
    };
    let request = if status.paused.is_some() {
        Request::Continue
    } else {
        Request::Pause
    };
    if let Some(reply) = handle.block_on(control::send(&dir, &request))? {
        app.message = reply.message;
    }
    Ok(())
}

fn instruct(app: &mut App, handle: &Handle, text: String) -> Result<(), HarnessError> {
    let Some((thread, dir)) = thread_dir(app) else {
        return Ok(());
    };
    let request = Request::Instruct {
        text,
        role: InstructionRole::User,
    };
    if let Some(reply) = handle.block_on(control::send(&dir, &request))? {
        app.message = reply.message;
        return Ok(());
    }
    control::Inbox::new(&dir).append(&request)?;
    app.message = format!(
        "no process runs thread {thread}: the instruction waits in its inbox for `baton resume {thread}`"
    );
    Ok(())
}

/// `baton fork THREAD --at STEP [--set ...]` as a child process.
fn fork(app: &mut App, step: u64, sets: &[String]) -> Result<(), HarnessError> {
    let Some((thread, _)) = thread_dir(app) else {
        return Ok(());
    };
    let mut args = vec![
        "fork".to_owned(),
        thread,
        "--at".to_owned(),
        step.to_string(),
        "--project".to_owned(),
        app.project.display().to_string(),
    ];
    for set in sets {
        args.push("--set".to_owned());
        args.push(set.clone());
    }
    let output = baton_child(&args)?;
    app.message = first_line(&output);
    Ok(())
}

/// Writes the step's state to a file, opens it in `$EDITOR`, and forks with what changed.
fn edit_and_fork(
    app: &mut App,
    step: u64,
    terminal: &mut DefaultTerminal,
) -> Result<(), HarnessError> {
    let Some(data) = &app.thread else {
        return Ok(());
    };
    let reader = baton_tape::StateReader::open(&data.paths)?;
    let before = reader.state_at(reader.resolve(baton_tape::StepNo(step))?)?;
    let file = tempfile::Builder::new()
        .prefix("baton-state-")
        .suffix(".json")
        .tempfile()
        .map_err(|source| HarnessError::io(Path::new("temp file"), source))?;
    std::fs::write(file.path(), serde_json::to_string_pretty(&before)?)
        .map_err(|source| HarnessError::io(file.path(), source))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned());
    ratatui::restore();
    let edited = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status();
    *terminal = ratatui::init();
    match edited {
        Ok(status) if status.success() => {}
        Ok(status) => {
            app.message = format!("the editor exited with {status}: nothing forked");
            return Ok(());
        }
        Err(error) => {
            app.message = format!("could not start the editor `{editor}` ({error}): set $EDITOR");
            return Ok(());
        }
    }
    let text = std::fs::read_to_string(file.path())
        .map_err(|source| HarnessError::io(file.path(), source))?;
    let after: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(error) => {
            app.message = format!("the edited state is not JSON ({error}): nothing forked");
            return Ok(());
        }
    };
    let sets = changed_keys(&before, &after);
    if sets.is_empty() {
        "the state was not changed: nothing forked".clone_into(&mut app.message);
        return Ok(());
    }
    fork(app, step, &sets)
}

/// `--set /key=JSON` for every top-level key whose value changed.
fn changed_keys(before: &serde_json::Value, after: &serde_json::Value) -> Vec<String> {
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return Vec::new();
    };
    after
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, value)| format!("/{key}={value}"))
        .collect()
}

fn recall(app: &mut App, query: &str) -> Result<(), HarnessError> {
    let args = [
        "recall".to_owned(),
        query.to_owned(),
        "--project".to_owned(),
        app.project.display().to_string(),
    ];
    let output = baton_child(&args)?;
    app.popup = Some((format!("recall: {query}"), output));
    Ok(())
}

/// Runs this binary with `args`; its stdout, or its stderr when it failed.
fn baton_child(args: &[String]) -> Result<String, HarnessError> {
    let exe = std::env::current_exe()
        .map_err(|source| HarnessError::io(Path::new("current executable"), source))?;
    let output = Command::new(&exe)
        .args(args)
        .output()
        .map_err(|source| HarnessError::io(&exe, source))?;
    let text = if output.status.success() {
        output.stdout
    } else {
        output.stderr
    };
    Ok(String::from_utf8_lossy(&text).trim().to_owned())
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests;
