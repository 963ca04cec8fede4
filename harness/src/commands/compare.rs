//! `baton compare A B` (two threads side by side, built in `crate::compare`) and `baton
//! adopt FORK` (the better one kept, `crate::adopt`): what a person does with forks.

use std::fmt::Write as _;

use crate::cli::{AdoptArgs, CompareArgs};
use crate::compare::{Comparison, ThreadSide, compare as build};
use crate::exit::ExitCode;

pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let report = build(&args.project, &args.a, &args.b)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(ExitCode::Ok)
}

pub fn adopt(args: &AdoptArgs) -> anyhow::Result<ExitCode> {
    let done = crate::adopt::adopt(&args.project, &args.fork, args.onto.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&done)?);
        return Ok(ExitCode::Ok);
    }
    println!(
        "adopted fork {}: {} commit(s) onto {} by {} (now at {})",
        done.fork,
        done.commits,
        done.branch,
        done.how,
        &done.head[..7.min(done.head.len())]
    );
    println!(
        "thread {} goes on from the adopted state (step {}); its earlier line stays on its tape",
        done.origin, done.origin_step
    );
    Ok(ExitCode::Ok)
}

/// The report as a person reads it in a terminal.
fn render(report: &Comparison) -> String {
    let (a, b) = (&report.a, &report.b);
    let mut out = format!("compare {} ⟷ {}\n", a.thread, b.thread);
    let _ = match (&report.divergence.common, report.divergence.step) {
        (Some(common), Some(step)) => writeln!(
            out,
            "  their lines meet in thread {common} and part after step {step}"
        ),
        (Some(common), None) => writeln!(out, "  both are thread {common}"),
        (None, _) => writeln!(
            out,
            "  no common history (neither is forked from the other's line)"
        ),
    };
    for side in [a, b] {
        let _ = match &side.next {
            Some(next) => writeln!(
                out,
                "  next on {}: step {} · {}{}{}",
                side.thread,
                next.step,
                if next.tools.is_empty() {
                    "no tool calls".to_owned()
                } else {
                    next.tools.join(", ")
                },
                if next.outcome.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", next.outcome)
                },
                next.said.as_deref().map_or_else(String::new, |s| format!(
                    "\n      “{}”",
                    s.replace('\n', " ")
                ))
            ),
            None => writeln!(out, "  next on {}: nothing yet", side.thread),
        };
    }
    let width = a.thread.len().max(b.thread.len()).max(12);
    let _ = writeln!(
        out,
        "\n  {:<12}  {:<width$}  {:<width$}",
        "", a.thread, b.thread
    );
    let rows: [(&str, Figure); 8] = [
        ("status", |s| s.status.clone()),
        ("head step", |s| s.head_step.to_string()),
        ("features", features),
        ("tokens", |s| s.tokens.to_string()),
        ("cost", |s| {
            s.cost_usd
                .map_or_else(|| "—".to_owned(), |c| format!("${c:.4}"))
        }),
        ("wall time", |s| wall(s.wall_secs)),
        ("commits", |s| s.commits.to_string()),
        ("git head", |s| {
            s.git_head
                .as_deref()
                .map_or_else(|| "—".to_owned(), |h| h[..7.min(h.len())].to_owned())
        }),
    ];
    for (label, value) in rows {
        let _ = writeln!(
            out,
            "  {label:<12}  {:<width$}  {:<width$}",
            value(a),
            value(b)
        );
    }
    let _ = match (&report.files_error, report.files.len()) {
        (Some(error), _) => writeln!(out, "\n  files: not compared: {error}"),
        (None, 0) => writeln!(out, "\n  files: the same in both trees"),
        (None, n) => writeln!(out, "\n  files ({} → {}): {n} differ", a.thread, b.thread),
    };
    for file in &report.files {
        let mark = match file.status {
            "added" => 'A',
            "deleted" => 'D',
            _ => 'M',
        };
        let _ = writeln!(
            out,
            "    {mark} {}  +{} −{}",
            file.path, file.additions, file.deletions
        );
    }
    out
}

/// One figure of a thread, as a table cell.
type Figure = fn(&ThreadSide) -> String;

fn features(side: &ThreadSide) -> String {
    let mut text = format!("{}/{}", side.features_passing, side.features_total);
    if !side.blocked.is_empty() {
        let _ = write!(text, " ({} blocked)", side.blocked.len());
    }
    text
}

fn wall(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}
