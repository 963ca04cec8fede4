//! `feature_list.json`: its two accepted forms (bare array, or object with an `app` header),
//! loading with positioned errors, stable pretty printing, and the structural rules.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::check::Check;
use crate::error::VerifyError;

const DEFAULT_START: &str = "bash init.sh";
const DEFAULT_URL: &str = "http://127.0.0.1:{port}/";
const DEFAULT_READY_TIMEOUT_SECS: u64 = 20;

/// How the app under test is started and reached.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppConfig {
    /// Shell command run with `bash -c` in the project directory; default `bash init.sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// URL the app answers on; `{port}` is replaced by the port baton passes as `$PORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Seconds to wait for the URL to answer; default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_timeout_secs: Option<u64>,
    /// Fields baton does not know, kept through a read and write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AppConfig {
    /// The start command, or `bash init.sh`.
    pub fn start_command(&self) -> &str {
        self.start.as_deref().unwrap_or(DEFAULT_START)
    }

    /// The URL with `{port}` replaced.
    pub fn url_for_port(&self, port: u16) -> String {
        self.url
            .as_deref()
            .unwrap_or(DEFAULT_URL)
            .replace("{port}", &port.to_string())
    }

    /// The ready timeout in seconds, or 20.
    pub fn ready_timeout_secs(&self) -> u64 {
        self.ready_timeout_secs
            .unwrap_or(DEFAULT_READY_TIMEOUT_SECS)
    }
}

/// One end-to-end feature of the app under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    /// Stable id: `[a-z0-9][a-z0-9-_.]*`.
    pub id: String,
    /// Grouping such as `functional` or `style`.
    pub category: String,
    /// What the feature does, for a human.
    pub description: String,
    /// The manual test steps, in prose.
    pub steps: Vec<String>,
    /// The machine-run browser checks.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Whether the feature has been verified to work.
    pub passes: bool,
    /// Fields baton does not know, kept through a read and write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Feature {
    /// Whether the feature says `"verify": "manual"`: no machine can check it, so it needs no
    /// checks, and its `passes` is the session's word, never counted as verified.
    pub fn is_manual(&self) -> bool {
        self.extra.get("verify").and_then(Value::as_str) == Some(MANUAL)
    }

    /// Whether baton's checks decide this feature (it has checks).
    pub fn is_checked(&self) -> bool {
        !self.checks.is_empty()
    }
}

const MANUAL: &str = "manual";

/// The form the file was read in, so it is written back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Form {
    #[default]
    Object,
    Array,
}

/// The whole feature list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeatureList {
    /// The app header (object form only).
    pub app: Option<AppConfig>,
    /// The features, in order.
    pub features: Vec<Feature>,
    /// Unknown top-level fields of the object form.
    pub extra: Map<String, Value>,
    form: Form,
}

#[derive(Serialize, Deserialize)]
struct ObjectForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app: Option<AppConfig>,
    features: Vec<Feature>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl FeatureList {
    /// A new list in the object form.
    pub fn new(app: Option<AppConfig>, features: Vec<Feature>) -> Self {
        Self {
            app,
            features,
            extra: Map::new(),
            form: Form::Object,
        }
    }

    /// Read and parse a feature list file.
    pub fn load(path: &Path) -> Result<Self, VerifyError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| VerifyError::ReadFeatureList {
                path: path.to_path_buf(),
                source,
            })?;
        Self::parse(&text)
    }

    /// Parse either form; errors carry serde_json's line and column.
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        Ok(match first_significant_char(text) {
            Some((_, '[')) => Self {
                features: serde_json::from_str(text)
                    .map_err(|source| VerifyError::ParseFeatureList { source })?,
                form: Form::Array,
                ..Self::default()
            },
            Some((_, '{')) => {
                let object: ObjectForm = serde_json::from_str(text)
                    .map_err(|source| VerifyError::ParseFeatureList { source })?;
                Self {
                    app: object.app,
                    features: object.features,
                    extra: object.extra,
                    form: Form::Object,
                }
            }
            Some((offset, _)) => {
                let (line, column) = line_column(text, offset);
                return Err(VerifyError::FeatureListShape { line, column });
            }
            None => {
                let (line, column) = line_column(text, text.len());
                return Err(VerifyError::FeatureListShape { line, column });
            }
        })
    }

    /// Pretty JSON in the form it was read in, with a trailing newline; stable for equal lists.
    pub fn to_json_pretty(&self) -> String {
        let rendered = match self.form {
            Form::Array => serde_json::to_string_pretty(&self.features),
            Form::Object => serde_json::to_string_pretty(&ObjectForm {
                app: self.app.clone(),
                features: self.features.clone(),
                extra: self.extra.clone(),
            }),
        };
        // Serialising plain data with string keys cannot fail; keep the type honest anyway.
        let mut text = rendered.unwrap_or_else(|error| format!("<unserialisable: {error}>"));
        text.push('\n');
        text
    }

    /// Whether the list was read from (and will be written as) a bare array.
    pub fn is_array_form(&self) -> bool {
        self.form == Form::Array
    }

    /// The first feature that does not pass yet.
    pub fn first_failing(&self) -> Option<&Feature> {
        self.features.iter().find(|feature| !feature.passes)
    }

    /// How many features pass.
    pub fn passing(&self) -> usize {
        self.features
            .iter()
            .filter(|feature| feature.passes)
            .count()
    }

    /// How many features pass on their checks: the verified ones.
    pub fn verified(&self) -> usize {
        self.features
            .iter()
            .filter(|feature| feature.passes && feature.is_checked())
            .count()
    }

    /// How many features have no checks (manual ones, or old lists without checks).
    pub fn unchecked(&self) -> usize {
        self.features
            .iter()
            .filter(|feature| !feature.is_checked())
            .count()
    }

    /// `7/9 passing, 1 manual, 1 failing`: features without checks are shown apart and never
    /// counted as passing.
    pub fn summary(&self) -> String {
        let total = self.features.len();
        let verified = self.verified();
        let manual = self.unchecked();
        let failing = total - verified - manual;
        let mut text = format!("{verified}/{total} passing");
        if manual > 0 {
            let _ = write!(text, ", {manual} manual");
        }
        if failing > 0 {
            let _ = write!(text, ", {failing} failing");
        }
        text
    }

    /// What stops an initializer's list from being verifiable: each feature that has no
    /// checks and does not say `"verify": "manual"`, and each unknown `verify` value.
    pub fn unverifiable(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for feature in &self.features {
            let id = &feature.id;
            match feature.extra.get("verify") {
                Some(value) if value.as_str() != Some(MANUAL) => problems.push(format!(
                    "feature {id:?} has \"verify\": {value}; the only value is \"manual\""
                )),
                _ => {}
            }
            if !feature.is_checked() && !feature.is_manual() {
                problems.push(format!(
                    "feature {id:?} has no checks: without them nothing proves it works, so it could never pass. \
                     Add \"checks\" that exercise it (start with {{\"goto\": \"/\"}}), or, only if no machine can check it, \
                     add \"verify\": \"manual\" (it is then shown apart and never counted as verified)"
                ));
            }
        }
        problems
    }

    /// The feature with this id.
    pub fn get(&self, id: &str) -> Option<&Feature> {
        self.features.iter().find(|feature| feature.id == id)
    }

    /// Set `passes` of the feature with this id; false when there is no such feature.
    pub fn set_passes(&mut self, id: &str, passes: bool) -> bool {
        match self.features.iter_mut().find(|feature| feature.id == id) {
            Some(feature) => {
                feature.passes = passes;
                true
            }
            None => false,
        }
    }

    /// Structural rules: ids unique, well formed; descriptions and steps present.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (index, feature) in self.features.iter().enumerate() {
            let id = &feature.id;
            if id.is_empty() {
                problems.push(format!("feature #{index} has an empty id"));
            } else if !is_valid_id(id) {
                problems.push(format!(
                    "feature #{index} id {id:?} must match [a-z0-9][a-z0-9-_.]* (lowercase letters, digits, - _ .)"
                ));
            }
            if !id.is_empty() && !seen.insert(id.as_str()) {
                problems.push(format!("feature id {id:?} appears more than once"));
            }
            if feature.description.trim().is_empty() {
                problems.push(format!("feature {id:?} has an empty description"));
            }
            if feature.steps.is_empty() {
                problems.push(format!("feature {id:?} has no steps"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn first_significant_char(text: &str) -> Option<(usize, char)> {
    text.char_indices()
        .find(|(_, c)| !c.is_whitespace() && *c != '\u{feff}')
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.chars().count(), |newline| {
            before[newline + 1..].chars().count()
        })
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJECT: &str = r##"{
  "app": { "start": "node server.js", "url": "http://127.0.0.1:{port}/app/", "owner": "qa" },
  "features": [
    { "id": "add-todo", "category": "functional", "description": "Add a todo",
      "steps": ["type", "press enter"], "checks": [{"goto": "/"}, {"wait_for": "#list"}],
      "passes": false, "priority": 1 },
    { "id": "count", "category": "functional", "description": "Count", "steps": ["look"], "passes": true }
  ],
  "version": 3
}"##;

    #[test]
    fn object_form_round_trips_with_extra_fields() {
        let list = FeatureList::parse(OBJECT).unwrap();
        assert!(!list.is_array_form());
        let app = list.app.as_ref().unwrap();
        assert_eq!(app.url_for_port(4000), "http://127.0.0.1:4000/app/");
        assert_eq!(app.start_command(), "node server.js");
        assert_eq!(app.extra["owner"], "qa");
        assert_eq!(list.features[0].extra["priority"], 1);
        assert_eq!(list.extra["version"], 3);
        let written = list.to_json_pretty();
        let reread = FeatureList::parse(&written).unwrap();
        assert_eq!(reread, list);
        assert_eq!(reread.to_json_pretty(), written);
    }

    #[test]
    fn array_form_round_trips() {
        let text = r#"[{"id":"a","category":"c","description":"d","steps":["s"],"passes":false,"note":"x"}]"#;
        let list = FeatureList::parse(text).unwrap();
        assert!(list.is_array_form());
        assert!(list.app.is_none());
        let written = list.to_json_pretty();
        assert!(written.trim_start().starts_with('['));
        assert_eq!(FeatureList::parse(&written).unwrap(), list);
        assert_eq!(list.features[0].extra["note"], "x");
    }

    #[test]
    fn defaults_of_app_config() {
        let app = AppConfig::default();
        assert_eq!(app.start_command(), "bash init.sh");
        assert_eq!(app.url_for_port(8123), "http://127.0.0.1:8123/");
        assert_eq!(app.ready_timeout_secs(), 20);
    }

    #[test]
    fn parse_errors_name_line_column_and_expectation() {
        let missing =
            "[\n  {\"id\": \"a\", \"category\": \"c\", \"description\": \"d\", \"steps\": []}\n]";
        let error = FeatureList::parse(missing).unwrap_err().to_string();
        assert!(error.contains("missing field `passes`"), "{error}");
        assert!(error.contains("line 2"), "{error}");

        let syntax = "[\n  {\"id\": \"a\",,}\n]";
        let error = FeatureList::parse(syntax).unwrap_err().to_string();
        assert!(error.contains("line 2 column"), "{error}");

        let bad_check = "[\n{\"id\":\"a\",\"category\":\"c\",\"description\":\"d\",\"steps\":[\"s\"],\"passes\":false,\n\"checks\":[{\"expect_url\":{\"regex\":\"(\"}}]}]";
        let error = FeatureList::parse(bad_check).unwrap_err().to_string();
        assert!(
            error.contains("invalid regex") && error.contains("line 3"),
            "{error}"
        );

        let error = FeatureList::parse("\n  \"just a string\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 2 column 3"), "{error}");
        assert!(FeatureList::parse("   ").is_err());
    }

    #[test]
    fn queries_and_set_passes() {
        let mut list = FeatureList::parse(OBJECT).unwrap();
        assert_eq!(list.passing(), 1);
        assert_eq!(list.first_failing().unwrap().id, "add-todo");
        assert!(list.set_passes("add-todo", true));
        assert!(!list.set_passes("nope", true));
        assert!(list.first_failing().is_none());
        assert_eq!(list.get("count").unwrap().description, "Count");
    }

    #[test]
    fn features_without_checks_must_be_manual_and_are_counted_apart() {
        let text = r#"[
          {"id":"a","category":"c","description":"d","steps":["s"],"checks":[{"goto":"/"}],"passes":true},
          {"id":"b","category":"c","description":"d","steps":["s"],"passes":true,"verify":"manual"},
          {"id":"c","category":"c","description":"d","steps":["s"],"checks":[{"goto":"/"}],"passes":false},
          {"id":"d","category":"c","description":"d","steps":["s"],"passes":false},
          {"id":"e","category":"c","description":"d","steps":["s"],"passes":false,"verify":"later"}
        ]"#;
        let list = FeatureList::parse(text).unwrap();
        assert!(list.get("b").unwrap().is_manual());
        assert!(!list.get("d").unwrap().is_manual());
        assert_eq!(list.summary(), "1/5 passing, 3 manual, 1 failing");
        assert_eq!(list.passing(), 2);
        let problems = list.unverifiable().join("\n");
        assert!(problems.contains("\"d\" has no checks"), "{problems}");
        assert!(problems.contains("\"verify\": \"later\""), "{problems}");
        assert!(problems.contains("\"e\" has no checks"), "{problems}");
        assert!(!problems.contains("\"b\""), "{problems}");
        assert!(!problems.contains("\"a\""), "{problems}");
    }

    #[test]
    fn validate_reports_every_problem() {
        let text = r#"[
          {"id":"ok-1","category":"c","description":"d","steps":["s"],"passes":false},
          {"id":"ok-1","category":"c","description":"d","steps":["s"],"passes":false},
          {"id":"Bad Id","category":"c","description":"d","steps":["s"],"passes":false},
          {"id":"","category":"c","description":" ","steps":[],"passes":false}
        ]"#;
        let problems = FeatureList::parse(text).unwrap().validate().unwrap_err();
        let joined = problems.join("\n");
        assert!(
            joined.contains("\"ok-1\" appears more than once"),
            "{joined}"
        );
        assert!(joined.contains("\"Bad Id\" must match"), "{joined}");
        assert!(joined.contains("empty id"), "{joined}");
        assert!(joined.contains("empty description"), "{joined}");
        assert!(joined.contains("no steps"), "{joined}");
        assert!(FeatureList::parse(OBJECT).unwrap().validate().is_ok());
    }
}
