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
            eprintln!("baton: error: {error:#}");
            baton::commands::exit_code_for(&error).into()
        }
    }
}
