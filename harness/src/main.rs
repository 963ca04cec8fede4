//! The `baton` binary: parse the command line, run one command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
