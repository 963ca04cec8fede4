//! The `baton` binary: parse the command line, run one command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = baton::cli::Cli::parse();
    baton::logging::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(baton::commands::dispatch(cli)) {
        Ok(code) => code.into(),
        Err(error) => {
            eprintln!("baton: error: {}", describe(&error));
            baton::commands::exit_code_for(&error).into()
        }
    }
}

/// `baton history | head` closes stdout early: the next print fails with a broken pipe, which
/// `println!` turns into a panic. That is the reader being done, not an error: end quietly
/// with exit 0, as other command-line tools do.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// The error and its causes, "a: b: c", leaving out a cause whose text the message before
/// it already quotes (many of baton's errors name their source in their own words).
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
