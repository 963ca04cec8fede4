//! One handler per subcommand. `dispatch` picks it; handlers return the exit code.
//! Exit codes: 0 ok / done, 1 failure or unfinished, 2 bad input.

pub(crate) mod bench;
mod compare;
mod control;
mod demo;
pub mod export;
mod inputs;
pub(crate) mod inspect;
pub(crate) mod memory;
mod run;
mod time_travel;
mod verify;
mod workflow;

use std::process::ExitCode as StdExitCode;
use std::sync::Arc;

use baton_model::script::{Script, ServerHandle};
use baton_model::{Model, OpenAiModel, OpenAiSettings, RetryPolicy};

use crate::cli::{Cli, Command};
use crate::config::Settings;
use crate::error::HarnessError;

/// The process exit code of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    Failure = 1,
    BadInput = 2,
}

impl From<ExitCode> for StdExitCode {
    fn from(code: ExitCode) -> StdExitCode {
        StdExitCode::from(code as u8)
    }
}

/// Runs the command the user asked for.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Resume(args) => run::resume(args).await,
        Command::Demo(args) => demo::demo(args).await,
        Command::Pause(args) => control::pause(&args).await,
        Command::Continue(args) => control::resume_paused(&args).await,
        Command::Instruct(args) => control::instruct(&args).await,
        Command::Stop(args) => control::stop(&args).await,
        Command::Status(args) => control::status(&args).await,
        Command::Tui(args) => crate::tui::run(args.project, args.thread).await,
        Command::Web(args) => crate::web::serve(args.project, args.bind, args.allow_remote).await,
        Command::Threads(args) => inspect::threads(&args),
        Command::History(args) => inspect::history(&args),
        Command::Show(args) => inspect::show(&args),
        Command::Tree(args) => inspect::tree(&args),
        Command::Compare(args) => compare::compare(&args),
        Command::Adopt(args) => compare::adopt(&args),
        Command::Export(args) => export::export(&args),
        Command::Rate(args) => export::rate(&args),
        Command::Rewind(args) => time_travel::rewind(&args),
        Command::Fork(args) => time_travel::fork(&args),
        Command::Replay(args) => Box::pin(time_travel::replay(args)).await,
        Command::Gc(args) => time_travel::gc(&args),
        Command::Verify(args) => verify::verify(args).await,
        Command::Recall(args) => memory::recall(args).await,
        Command::Memory(command) => memory::memory(command).await,
        Command::Workflow(command) => workflow::workflow(command),
        Command::ScriptServer(args) => workflow::script_server(args).await,
        Command::Bench(command) => Box::pin(bench::bench(command)).await,
    }
}

/// Exit code 2 for errors that are the user's input, 1 for the rest.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    let bad_input = error.chain().any(|cause| {
        cause
            .downcast_ref::<HarnessError>()
            .is_some_and(HarnessError::is_bad_input)
    });
    if bad_input {
        ExitCode::BadInput
    } else {
        ExitCode::Failure
    }
}

/// The model a run talks to, and the scripted server behind it when `--script` was given
/// (kept alive as long as the model is used).
pub struct ModelConnection {
    pub model: Arc<dyn Model>,
    pub server: Option<ServerHandle>,
}

/// Connects to the configured model: a script served on 127.0.0.1 (offline runs), or an
/// OpenAI-compatible endpoint.
pub async fn connect_model(settings: &Settings) -> Result<ModelConnection, HarnessError> {
    let retry = RetryPolicy {
        max_attempts: settings.max_attempts,
        ..RetryPolicy::default()
    };
    if let Some(path) = &settings.script {
        let script = Script::load(path)?;
        let model_name = script.model_name().to_owned();
        let server = baton_model::script::serve(script, ([127, 0, 0, 1], 0).into()).await?;
        let model = OpenAiModel::new(OpenAiSettings {
            base_url: server.base_url(),
            api_key: Some("scripted".to_owned()),
            model: model_name,
            request_timeout: settings.request_timeout,
            retry,
        })?;
        return Ok(ModelConnection {
            model: Arc::new(model),
            server: Some(server),
        });
    }
    let model = OpenAiModel::new(OpenAiSettings {
        base_url: settings.base_url.clone(),
        api_key: settings.api_key.clone(),
        model: settings.model.clone(),
        request_timeout: settings.request_timeout,
        retry,
    })?;
    Ok(ModelConnection {
        model: Arc::new(model),
        server: None,
    })
}
