//! `baton verify`: run the feature checks in headless Chromium and print a table.

use baton_verify::{FeatureList, Outcome};

use super::ExitCode;
use crate::cli::VerifyArgs;
use crate::config::Settings;
use crate::error::HarnessError;
use crate::feature_guard::FEATURE_LIST;

pub async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let path = args.project.join(FEATURE_LIST);
    let list = FeatureList::load(&path).map_err(HarnessError::from)?;
    for id in &args.feature {
        if list.get(id).is_none() {
            return Err(HarnessError::BadInput(format!(
                "no feature \"{id}\" in {}",
                path.display()
            ))
            .into());
        }
    }
    let options = Settings::for_project(&args.project)?.browser_options();
    let project = args.project.clone();
    let ids = (!args.feature.is_empty()).then_some(args.feature.clone());
    let url = args.url.clone();
    let report = tokio::task::spawn_blocking(move || {
        baton_verify::verify_features(&project, &list, ids.as_deref(), url.as_deref(), &options)
    })
    .await??;
    let failed = report.results.iter().any(|r| r.outcome == Outcome::Failed);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{:<28} {:<9} {:>8}  failing action",
            "feature", "result", "time"
        );
        for result in &report.results {
            let outcome = match result.outcome {
                Outcome::Passed => "passed",
                Outcome::Failed => "FAILED",
                Outcome::NoChecks => "manual",
            };
            println!(
                "{:<28} {:<9} {:>6}ms  {}",
                result.feature_id,
                outcome,
                result.duration_ms,
                crate::runner::failure_text(result).unwrap_or_default()
            );
        }
        let passed = count(&report.results, Outcome::Passed);
        let manual = count(&report.results, Outcome::NoChecks);
        let failing = count(&report.results, Outcome::Failed);
        // Features without checks are shown apart: nothing verified them.
        println!(
            "{passed}/{} passing, {manual} manual, {failing} failing",
            report.results.len()
        );
    }
    Ok(if failed {
        ExitCode::Failure
    } else {
        ExitCode::Ok
    })
}

fn count(results: &[baton_verify::FeatureResult], outcome: Outcome) -> usize {
    results.iter().filter(|r| r.outcome == outcome).count()
}
