//! Keeps `feature_list.json` honest. After any tool call that may have touched it, the file
//! is compared with the last accepted version; an edit that removes, reorders, renames or
//! re-specifies a feature, or sets `passes` (only the harness does that), is reverted and the
//! model is told why. While the initializer drafts it, a feature without checks that is not
//! marked `"verify": "manual"` is refused too: nothing could ever verify it. The harness's own writes go through `accept` and become the new baseline.

use std::path::{Path, PathBuf};

use baton_verify::{FeatureList, PassesPolicy, check_integrity};

use crate::error::HarnessError;

pub const FEATURE_LIST: &str = "feature_list.json";

/// The accepted state of the feature list during a session.
#[derive(Debug)]
pub struct FeatureGuard {
    path: PathBuf,
    accepted: Option<(String, FeatureList)>,
    /// True in the session that writes the list: features may still be added and edited.
    drafting: bool,
}

/// What the guard did about a tool call.
#[derive(Debug, PartialEq, Eq)]
pub enum GuardVerdict {
    /// Nothing changed, or the change is allowed.
    Accepted,
    /// The change broke the rules; the file was put back. The reasons are for the model.
    Reverted(Vec<String>),
    /// A first draft that does not parse; kept on disk, not accepted.
    Invalid(String),
}

impl FeatureGuard {
    /// Reads the current list as the baseline. A list that is missing is fine (the initializer
    /// writes it); one that does not parse is an error for the caller to report.
    pub fn load(project: &Path, drafting: bool) -> FeatureGuard {
        let path = project.join(FEATURE_LIST);
        let accepted = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| FeatureList::parse(&text).ok().map(|list| (text, list)));
        FeatureGuard {
            path,
            accepted,
            drafting,
        }
    }

    /// Checks the file after a tool call, reverting a forbidden edit.
    pub fn inspect(&mut self) -> Result<GuardVerdict, HarnessError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(HarnessError::io(&self.path, source)),
        };
        match (&self.accepted, text) {
            (None, None) => Ok(GuardVerdict::Accepted),
            (Some((old, _)), Some(new)) if *old == new => Ok(GuardVerdict::Accepted),
            (Some(_), None) => {
                self.restore()?;
                Ok(GuardVerdict::Reverted(vec![format!(
                    "{FEATURE_LIST} was deleted; it has been restored. The feature list is never removed."
                )]))
            }
            (old, Some(new)) => {
                let old = old.as_ref().map(|(_, list)| list.clone());
                self.judge(old.as_ref(), &new)
            }
        }
    }

    fn judge(
        &mut self,
        old: Option<&FeatureList>,
        new_text: &str,
    ) -> Result<GuardVerdict, HarnessError> {
        let new = match FeatureList::parse(new_text) {
            Ok(list) => list,
            Err(error) => {
                if self.drafting && old.is_none() {
                    // A first draft that does not parse yet stays on disk for the model to fix.
                    return Ok(GuardVerdict::Invalid(format!(
                        "{FEATURE_LIST} does not parse: {error}. Fix it: baton cannot use it as it is."
                    )));
                }
                self.restore()?;
                return Ok(GuardVerdict::Reverted(vec![format!(
                    "{FEATURE_LIST} no longer parsed ({error}); the previous version was restored."
                )]));
            }
        };
        let reasons: Vec<String> = match &old {
            // While the list is being drafted anything goes except claiming `passes` and
            // features that nothing could verify (no checks, not marked manual).
            Some(_) | None if self.drafting => new
                .features
                .iter()
                .filter(|feature| feature.passes)
                .map(|feature| {
                    format!(
                        "feature \"{}\": `passes` must stay false; only baton sets it, after the checks pass",
                        feature.id
                    )
                })
                .chain(new.unverifiable())
                .collect(),
            Some(old) => check_integrity(
                old,
                &new,
                PassesPolicy {
                    model_may_set_passes: false,
                    allow_additions: false,
                },
            )
            .iter()
            .map(ToString::to_string)
            .collect(),
            None => Vec::new(),
        };
        if reasons.is_empty() {
            self.accepted = Some((new_text.to_owned(), new));
            return Ok(GuardVerdict::Accepted);
        }
        if old.is_some() {
            self.restore()?;
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
        Ok(GuardVerdict::Reverted(reasons))
    }

    /// Writes a list the harness changed (for `passes`) and takes it as the new baseline.
    pub fn accept(&mut self, list: FeatureList) -> Result<(), HarnessError> {
        let text = list.to_json_pretty();
        std::fs::write(&self.path, &text).map_err(|source| HarnessError::io(&self.path, source))?;
        self.accepted = Some((text, list));
        Ok(())
    }

    fn restore(&self) -> Result<(), HarnessError> {
        if let Some((text, _)) = &self.accepted {
            std::fs::write(&self.path, text)
                .map_err(|source| HarnessError::io(&self.path, source))?;
        }
        Ok(())
    }
}
