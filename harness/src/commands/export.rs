//! `baton export THREAD --format trajectory|dpo|sft` and `baton rate THREAD --step N good|bad`
//! (the data is built in `crate::export`; formats in docs/EXPORT.md).

use std::io::Write as _;

use crate::cli::{ExportArgs, RateArgs};
use crate::error::HarnessError;
use crate::exit::ExitCode;
use crate::export::{export as build, rate as record};

pub fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let lines = build(&args.project, &args.thread, args.format)?;
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    if let Some(path) = &args.output {
        std::fs::write(path, &text).map_err(|e| HarnessError::io(path, e))?;
        eprintln!("{} lines written to {}", lines.len(), path.display());
    } else {
        let mut out = std::io::stdout().lock();
        if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            // A closed pipe (`| head`) is the reader being done.
            if error.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(error.into());
            }
        }
    }
    Ok(ExitCode::Ok)
}

pub fn rate(args: &RateArgs) -> anyhow::Result<ExitCode> {
    let rating = record(
        &args.project,
        &args.thread,
        args.step,
        args.verdict,
        args.note.clone(),
    )?;
    println!(
        "rated step {} of thread {} {:?}",
        rating.step, args.thread, rating.verdict
    );
    Ok(ExitCode::Ok)
}
