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
            baton::exit::exit_code_for(&error).into()
        }
    }
}

/// `baton history | head` closes stdout early: the next print fails with a broken pipe, which
/// `println!` turns into a panic. That is the reader being done, not an error: end quietly
/// with exit 0, as other command-line tools do.
///
/// A panic on any thread but the main one is a background task failing (a memory store's
/// flush, a tool in the blocking pool, a watcher): its task or thread ends, and baton goes
/// on. It is shown as one warning line, once per place it happens, never as a backtrace
/// (`-vv` logs the details). Panics on the main thread are bugs and keep the default report.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
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
        let thread = std::thread::current();
        if thread.name() == Some("main") {
            default(info);
            return;
        }
        let place = info
            .location()
            .map_or_else(String::new, |l| format!("{}:{}", l.file(), l.line()));
        tracing::debug!(thread = thread.name().unwrap_or("unnamed"), %place, message, "background panic");
        let first = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(place.clone());
        if first {
            // Some engines put a backtrace in the message itself: keep what comes before it.
            let message = message.split(", backtrace").next().unwrap_or_default();
            let line: String = message
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            eprintln!(
                "baton: warning: a background task failed ({line}; at {place}); baton goes on without it"
            );
        }
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
