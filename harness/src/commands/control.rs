//! `baton pause | continue | instruct | stop | status`: stepping into a thread from any
//! terminal. A running thread is asked over its control socket; with no process running
//! it, what can wait for the next `baton resume` (an instruction, a continue) is put in its
//! inbox, and the command says so.

use baton_tape::{StateReader, ThreadPaths};

use super::ExitCode;
use crate::cli::{InstructArgs, ThreadArgs};
use crate::control::{self, Inbox, Reply, Request, Status};
use crate::error::HarnessError;
use crate::threads::{head_state, locate_thread};

/// `baton pause`.
pub async fn pause(args: &ThreadArgs) -> anyhow::Result<ExitCode> {
    let paths = thread_paths(args)?;
    match control::send(&paths.dir, &Request::Pause).await? {
        Some(reply) => Ok(print_reply(&reply, args.json)),
        None => Ok(not_running(
            &paths,
            "nothing to pause; `baton resume` runs it again",
        )),
    }
}

/// `baton continue`.
pub async fn resume_paused(args: &ThreadArgs) -> anyhow::Result<ExitCode> {
    let paths = thread_paths(args)?;
    if let Some(reply) = control::send(&paths.dir, &Request::Continue).await? {
        return Ok(print_reply(&reply, args.json));
    }
    Inbox::new(&paths.dir).append(&Request::Continue)?;
    println!(
        "no process runs thread {}; it goes on when it is resumed: baton resume {} --project {}",
        paths.thread,
        paths.thread,
        paths.project.display()
    );
    Ok(ExitCode::Ok)
}

/// `baton instruct`.
pub async fn instruct(args: &InstructArgs) -> anyhow::Result<ExitCode> {
    if args.text.trim().is_empty() {
        return Err(HarnessError::BadInput(
            "the instruction is empty: say what the model should do, e.g. baton instruct THREAD \"use a <ul> for the list\"".to_owned(),
        )
        .into());
    }
    let (_, paths) = locate_thread(&args.project, &args.thread)?;
    let request = Request::Instruct {
        text: args.text.clone(),
        role: args.role,
    };
    if let Some(reply) = control::send(&paths.dir, &request).await? {
        return Ok(print_reply(&reply, false));
    }
    Inbox::new(&paths.dir).append(&request)?;
    println!(
        "no process runs thread {}; the instruction is kept in its inbox and read before its next model turn once it is resumed: baton resume {} --project {}",
        paths.thread,
        paths.thread,
        paths.project.display()
    );
    Ok(ExitCode::Ok)
}

/// `baton stop`.
pub async fn stop(args: &ThreadArgs) -> anyhow::Result<ExitCode> {
    let paths = thread_paths(args)?;
    match control::send(&paths.dir, &Request::Stop).await? {
        Some(reply) => Ok(print_reply(&reply, args.json)),
        None => Ok(not_running(&paths, "nothing to stop")),
    }
}

/// `baton status`: live from the running process, or the last checkpoint when none runs it.
pub async fn status(args: &ThreadArgs) -> anyhow::Result<ExitCode> {
    let paths = thread_paths(args)?;
    if let Some(reply) = control::send(&paths.dir, &Request::Status).await?
        && let Some(status) = &reply.status
    {
        print_status(status, true, args.json)?;
        return Ok(ExitCode::Ok);
    }
    let reader = StateReader::open(&paths)?;
    let Some(state) = head_state(&reader) else {
        return Err(HarnessError::BadInput(format!(
            "thread {} has no checkpoint yet; `baton resume {}` starts it",
            paths.thread, paths.thread
        ))
        .into());
    };
    let status = Status {
        thread: state.thread.clone(),
        pid: 0,
        node: state.node.clone(),
        phase: state.status_word().to_owned(),
        session: state.session,
        step: state.step,
        feature: state.feature.clone(),
        features_passing: state.features_passing,
        features_total: state.features_total,
        tokens: state.ledger.total_tokens(),
        cost: state.ledger.total_cost(),
        paused: state.paused.clone(),
        pending_requests: Inbox::new(&paths.dir)
            .entries()
            .saturating_sub(state.inbox_applied),
    };
    print_status(&status, false, args.json)?;
    Ok(ExitCode::Ok)
}

fn thread_paths(args: &ThreadArgs) -> Result<ThreadPaths, HarnessError> {
    Ok(locate_thread(&args.project, &args.thread)?.1)
}

fn not_running(paths: &ThreadPaths, what: &str) -> ExitCode {
    eprintln!("baton: no process runs thread {}: {what}", paths.thread);
    ExitCode::Failure
}

fn print_reply(reply: &Reply, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(reply).unwrap_or_default()
        );
    } else if reply.ok {
        println!("{}", reply.message);
    } else {
        eprintln!("baton: {}", reply.message);
    }
    if reply.ok {
        ExitCode::Ok
    } else {
        ExitCode::Failure
    }
}

fn print_status(status: &Status, running: bool, json: bool) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(status)?;
        value["running"] = serde_json::Value::Bool(running);
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let process = if running {
        format!("running (pid {})", status.pid)
    } else {
        "not running (last checkpoint)".to_owned()
    };
    println!("thread     {}", status.thread);
    println!("process    {process}");
    match &status.paused {
        Some(reason) => println!("paused     yes: {reason}"),
        None => println!("paused     no"),
    }
    println!("phase      {} · node {}", status.phase, status.node);
    println!("session    {} · step {}", status.session, status.step);
    println!(
        "feature    {}",
        status.feature.as_deref().unwrap_or("(none)")
    );
    println!(
        "features   {}/{} passing",
        status.features_passing, status.features_total
    );
    let cost = status
        .cost
        .map_or_else(String::new, |c| format!(" (${c:.4})"));
    println!("tokens     {}{cost}", status.tokens);
    if status.pending_requests > 0 {
        println!(
            "inbox      {} request(s) not applied yet",
            status.pending_requests
        );
    }
    Ok(())
}
