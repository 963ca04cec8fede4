//! One handler per subcommand. `dispatch` picks it; handlers return the exit code.
//! Exit codes: 0 ok / done, 1 failure or unfinished, 2 bad input.

#[cfg(feature = "bench")]
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

use crate::cli::{Cli, Command};
pub(crate) use crate::exit::ExitCode;

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
        #[cfg(feature = "bench")]
        Command::Bench(command) => Box::pin(bench::bench(command)).await,
    }
}
