//! `baton demo`: the offline demo. It builds an example app (default: the todo app) into a
//! fresh folder with the scripted model served on 127.0.0.1, real tools, real git, real
//! Chromium checks and real embeddings, then says where the result is and how to look at it.

use std::path::PathBuf;

use anyhow::Context as _;

use super::ExitCode;
use crate::cli::{DemoArgs, RunArgs};
use crate::config::{LimitArgs, ModelArgs};
use crate::env_vars;
use crate::error::HarnessError;
use crate::layout::ProjectLayout;

/// Where the examples are: `BATON_EXAMPLES`, `./examples`, or the source tree baton was built from.
fn examples_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os(env_vars::EXAMPLES).map(PathBuf::from),
        Some(PathBuf::from("examples")),
        Some(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("examples"),
        ),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("todo-app").is_dir())
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let examples = examples_dir().ok_or_else(|| {
        HarnessError::BadInput(
            "cannot find the examples folder: run from the repository root or set BATON_EXAMPLES"
                .to_owned(),
        )
    })?;
    let example = examples.join(&args.example);
    let script = example.join("script.json");
    let spec = example.join("app_spec.md");
    if !script.is_file() || !spec.is_file() {
        return Err(HarnessError::BadInput(format!(
            "example \"{}\" needs app_spec.md and script.json in {}",
            args.example,
            example.display()
        ))
        .into());
    }
    let out = match args.out {
        Some(out) => out,
        None => std::env::temp_dir().join(format!(
            "baton-demo-{}-{}",
            args.example,
            chrono::Utc::now().format("%Y%m%d-%H%M%S")
        )),
    };
    if ProjectLayout::of(&out).baton_dir().exists() {
        return Err(HarnessError::BadInput(format!(
            "{} already holds a baton project: pick another --out",
            out.display()
        ))
        .into());
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    eprintln!(
        "baton demo: building {} into {}",
        args.example,
        out.display()
    );
    let code = super::run::run(RunArgs {
        project: out.clone(),
        spec: Some(spec),
        thread: Some("demo".to_owned()),
        workflow: None,
        model: ModelArgs {
            script: Some(script),
            ..ModelArgs::default()
        },
        limits: LimitArgs {
            no_sandbox: args.no_sandbox,
            ..LimitArgs::default()
        },
    })
    .await?;
    println!();
    println!("The result is in {}", out.display());
    // Only web examples have a server to start; a CLI example is looked at in its folder.
    if out.join("init.sh").is_file() {
        println!(
            "  look at it:    cd {} && PORT=8000 bash init.sh   # then open http://127.0.0.1:8000/",
            out.display()
        );
    } else {
        println!("  look at it:    cd {}", out.display());
    }
    println!("  its history:   git -C {} log --oneline", out.display());
    println!("  the features:  {}/feature_list.json", out.display());
    println!("  the notes:     {}/baton-progress.md", out.display());
    println!("  the evidence:  {}/.baton/evidence/", out.display());
    println!(
        "  the steps:     baton history demo --project {}",
        out.display()
    );
    println!(
        "  its memory:    baton recall \"where are todos saved\" --project {}",
        out.display()
    );
    Ok(code)
}
