//! The user's files that `baton run` starts from, checked before a thread exists: the
//! app spec must be text, and a `feature_list.json` already in the project must parse
//! with unique ids. A list that does not parse would otherwise read as "missing", and
//! the initializer would write over the user's file.

use std::io::ErrorKind;
use std::path::Path;

use baton_verify::FeatureList;

use crate::error::HarnessError;
use crate::feature_guard::FEATURE_LIST;

const SPEC: &str = "app_spec.md";

/// Copies `--spec` in as app_spec.md; without it the project must already have one.
pub fn place_spec(project: &Path, spec: Option<&Path>) -> Result<(), HarnessError> {
    let target = project.join(SPEC);
    let Some(spec) = spec else {
        return match std::fs::symlink_metadata(&target) {
            Ok(_) => spec_text(&target).map(drop),
            Err(_) => Err(HarnessError::BadInput(format!(
                "{} has no {SPEC}: pass --spec FILE with the app's spec",
                project.display()
            ))),
        };
    };
    let text = spec_text(spec)?;
    match std::fs::read(&target) {
        Ok(existing) if existing != text.as_bytes() => Err(HarnessError::BadInput(format!(
            "{} already has a different {SPEC}; drop --spec to keep it, or remove it first",
            project.display()
        ))),
        Ok(_) => Ok(()),
        Err(_) => std::fs::write(&target, text).map_err(|source| HarnessError::io(&target, source)),
    }
}

/// The spec's text; a missing, unreadable, binary or empty spec is the user's to fix.
fn spec_text(path: &Path) -> Result<String, HarnessError> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|error| match error.kind() {
        ErrorKind::NotFound => HarnessError::BadInput(format!(
            "the app spec {shown} does not exist; pass --spec with the path of a text file"
        )),
        ErrorKind::IsADirectory => HarnessError::BadInput(format!(
            "the app spec {shown} is a folder; the spec is one text (Markdown) file"
        )),
        _ => HarnessError::BadInput(format!(
            "the app spec {shown} cannot be read ({error}); check its permissions"
        )),
    })?;
    if bytes.contains(&0) {
        return Err(HarnessError::BadInput(format!(
            "the app spec {shown} is a binary file (it contains NUL bytes); write the spec as UTF-8 text (Markdown)"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|error| {
        HarnessError::BadInput(format!(
            "the app spec {shown} is not UTF-8 (invalid byte at offset {}); convert it, e.g. `iconv -f latin1 -t utf-8`",
            error.utf8_error().valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(HarnessError::BadInput(format!(
            "the app spec {shown} is empty; describe the app to build in it"
        )));
    }
    Ok(text)
}

/// Refuses a `feature_list.json` that the run could not use: one that does not parse, or
/// whose ids repeat (`passes` and verification go by id). A missing list is fine.
pub fn check_feature_list(project: &Path) -> Result<(), HarnessError> {
    let path = project.join(FEATURE_LIST);
    let shown = path.display();
    let fix = "fix it, or move it away to let the initializer session write a new one";
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| HarnessError::BadInput(format!("{shown} is not UTF-8 text; {fix}")))?,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(HarnessError::BadInput(format!(
                "{shown} cannot be read ({error}); {fix}"
            )));
        }
    };
    let list = FeatureList::parse(&text)
        .map_err(|error| HarnessError::BadInput(format!("{shown}: {error} — {fix}")))?;
    let mut seen = std::collections::HashSet::new();
    let repeated: Vec<String> = list
        .features
        .iter()
        .filter(|feature| !seen.insert(feature.id.as_str()))
        .map(|feature| format!("{:?}", feature.id))
        .collect();
    if repeated.is_empty() {
        Ok(())
    } else {
        Err(HarnessError::BadInput(format!(
            "{shown} has repeated feature ids ({}); every feature needs its own id — {fix}",
            repeated.join(", ")
        )))
    }
}
