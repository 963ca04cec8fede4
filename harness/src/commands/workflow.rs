//! `baton workflow check|show` and `baton script-server`.

use baton_model::script::Script;
use baton_workflows::{RenderFormat, Workflow};

use super::ExitCode;
use crate::cli::{GraphFormat, ScriptServerArgs, WorkflowCommand};
use crate::error::HarnessError;

pub fn workflow(command: WorkflowCommand) -> anyhow::Result<ExitCode> {
    match command {
        WorkflowCommand::Check { file } => {
            let text = std::fs::read_to_string(&file).map_err(|source| HarnessError::Io {
                path: file.clone(),
                source,
            })?;
            match Workflow::from_toml_str(&text) {
                Ok(workflow) => {
                    let nodes = workflow.nodes().count();
                    println!(
                        "{}: ok (workflow \"{}\", {nodes} nodes)",
                        file.display(),
                        workflow.name()
                    );
                    Ok(ExitCode::Ok)
                }
                Err(error) => {
                    eprintln!("{}: {error}", file.display());
                    Ok(ExitCode::BadInput)
                }
            }
        }
        WorkflowCommand::Show { workflow, format } => {
            let workflow = Workflow::load(&workflow).map_err(HarnessError::from)?;
            let format = match format {
                GraphFormat::Text => RenderFormat::Text,
                GraphFormat::Dot => RenderFormat::Dot,
                GraphFormat::Mermaid => RenderFormat::Mermaid,
            };
            print!("{}", workflow.render(format));
            Ok(ExitCode::Ok)
        }
    }
}

pub async fn script_server(args: ScriptServerArgs) -> anyhow::Result<ExitCode> {
    let script = Script::load(&args.script)?;
    let handle = baton_model::script::serve(script, ([127, 0, 0, 1], args.port).into()).await?;
    println!("serving {} on {}", args.script.display(), handle.base_url());
    println!("use: OPENAI_BASE_URL={} baton run ...", handle.base_url());
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await?;
    Ok(ExitCode::Ok)
}
