//! `baton run` and `baton resume`: drive a thread to its end and print a summary.

use anyhow::Context as _;

use super::{ExitCode, inputs};
use crate::cli::{ResumeArgs, RunArgs};
use crate::config::Settings;
use crate::connection::connect_model;
use crate::runner::{NewThread, RunOutcome, ThreadRunner};

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.project)
        .with_context(|| format!("cannot create {}", args.project.display()))?;
    inputs::place_spec(&args.project, args.spec.as_deref())?;
    inputs::check_feature_list(&args.project)?;
    let settings = Settings::resolve(
        &args.project,
        &args.model,
        &args.limits,
        args.workflow.as_deref(),
    )?;
    let connection = connect_model(&settings).await?;
    let mut runner = ThreadRunner::create(
        NewThread {
            project: &args.project,
            thread: args.thread.as_deref(),
            parent: None,
        },
        settings,
        connection.model.clone(),
    )
    .await?;
    eprintln!(
        "baton: thread {} in {}",
        runner.thread(),
        runner.project().display()
    );
    drive(&mut runner).await
}

pub async fn resume(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let settings = settings_for_thread(&args.project, &args.thread, &args.model, &args.limits)?;
    let connection = connect_model(&settings).await?;
    let mut runner = ThreadRunner::resume(
        &args.project,
        &args.thread,
        settings,
        connection.model.clone(),
    )
    .await?;
    if args.continue_paused {
        runner.continue_if_paused()?;
    }
    eprintln!(
        "baton: resuming thread {} at step {} ({} {})",
        runner.thread(),
        runner.state().step,
        runner.state().node,
        runner.state().status_word()
    );
    drive(&mut runner).await
}

/// The settings to go on with a thread: what the thread recorded when it started (model,
/// endpoint, limits), with what this command line gives on top.
pub fn settings_for_thread(
    project: &std::path::Path,
    thread: &str,
    model: &crate::config::ModelArgs,
    limits: &crate::config::LimitArgs,
) -> Result<Settings, crate::error::HarnessError> {
    let mut settings = Settings::resolve(project, model, limits, None)?;
    if let Some(recorded) = crate::threads::connection_of(project, thread)? {
        recorded.apply(&mut settings, model, limits);
    }
    Ok(settings)
}

/// Runs to the end and prints the summary; a failure leaves the thread resumable and says how.
pub async fn drive(runner: &mut ThreadRunner) -> anyhow::Result<ExitCode> {
    let outcome = runner.run().await;
    print_summary(runner, outcome.as_ref().ok());
    match outcome {
        Ok(RunOutcome::Done) => Ok(ExitCode::Ok),
        Ok(RunOutcome::Stopped(reason)) => {
            eprintln!("baton: stopped unfinished: {reason}");
            Ok(ExitCode::Failure)
        }
        Ok(RunOutcome::Blocked(reason)) => {
            eprintln!("baton: blocked: {reason}");
            Ok(ExitCode::Failure)
        }
        Err(error) => Err(anyhow::Error::new(error).context(format!(
            "thread {} stopped at step {}; it is resumable: baton resume {} --project {}",
            runner.thread(),
            runner.state().step,
            runner.thread(),
            runner.project().display()
        ))),
    }
}

fn print_summary(runner: &ThreadRunner, outcome: Option<&RunOutcome>) {
    let state = runner.state();
    let status = match outcome {
        Some(RunOutcome::Done) => "done",
        Some(RunOutcome::Stopped(_)) => "stopped",
        Some(RunOutcome::Blocked(_)) => "blocked",
        None => "interrupted",
    };
    let ledger = &state.ledger;
    let cost = ledger.total_cost().map_or_else(
        || "cost unknown (no price configured)".to_owned(),
        |c| format!("${c:.4}"),
    );
    println!("thread     {}", state.thread);
    println!("status     {status}");
    println!("project    {}", runner.project().display());
    println!("sessions   {}", state.sessions_run);
    println!("steps      {}", state.step);
    // From the list itself when it is there, so manual features are shown apart.
    let features =
        baton_verify::FeatureList::load(&runner.project().join(crate::feature_guard::FEATURE_LIST))
            .map_or_else(
                |_| {
                    format!(
                        "{}/{} passing",
                        state.features_passing, state.features_total
                    )
                },
                |list| list.summary(),
            );
    println!(
        "features   {features}{}",
        crate::display::blocked_note(state)
    );
    println!(
        "tokens     {} in, {} out ({cost})",
        ledger.total().prompt_tokens,
        ledger.total().completion_tokens
    );
    println!("time       {:.1} s", runner.elapsed_secs());
}
