//! One step of a feature's browser check: an action or an expectation, exactly as the
//! initializer model writes it in `feature_list.json` (externally tagged, snake_case).

use serde::{Deserialize, Serialize};

/// One action or expectation. Expectations retry until they hold or the action timeout runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// Navigate to a path joined to the app URL (`/`, `/about`, `#/active`) or an absolute http(s) URL.
    Goto(String),
    /// Click the first visible element matching the selector with a real mouse click, once it
    /// is stable, enabled and not covered (Playwright's actionability checks).
    Click(String),
    /// Double-click the first visible match (two real clicks, then `dblclick`).
    Dblclick(String),
    /// Move the mouse over the first visible match (`mouseover`, `:hover`).
    Hover(String),
    /// Make the first visible checkbox or radio (or the control of a matched `<label>`) checked
    /// by clicking it; nothing to do when it already is.
    Check(String),
    /// Make the first visible checkbox (or labelled control) unchecked by clicking it.
    Uncheck(String),
    /// Replace the text of an input, textarea or contenteditable element.
    Fill {
        /// CSS selector of the field.
        selector: String,
        /// Text typed into it.
        text: String,
    },
    /// Press a key (`Enter`, `Escape`, `Tab`, `ArrowDown`, `a`), in the selected element or the focused one.
    Press {
        /// CSS selector to focus first; the focused element when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selector: Option<String>,
        /// Key name as in the DOM's `KeyboardEvent.key`.
        key: String,
    },
    /// Choose an option of a `<select>` by value or by visible label.
    Select {
        /// CSS selector of the `<select>`.
        selector: String,
        /// Option value or label.
        value: String,
    },
    /// Wait until an element matching the selector is visible.
    WaitFor(WaitFor),
    /// Reload the page (`true`; `false` does nothing).
    Reload(bool),
    /// Some element matching the selector has text that matches.
    ExpectText(ExpectText),
    /// Some element matching the selector is visible.
    ExpectVisible(String),
    /// No element matching the selector is visible (absent counts as hidden).
    ExpectHidden(String),
    /// The value of the first match (input, textarea, select) matches.
    ExpectValue(ExpectText),
    /// The first match (or the control of a matched `<label>`) is checked, or with
    /// `"checked": false` unchecked.
    ExpectChecked(ExpectChecked),
    /// The first match is enabled.
    ExpectEnabled(String),
    /// The first match is disabled (`disabled`, inside `<fieldset disabled>`, or `aria-disabled`).
    ExpectDisabled(String),
    /// An attribute of the first match matches (a missing attribute never matches).
    ExpectAttribute(ExpectAttribute),
    /// Exactly `equals` elements match the selector.
    ExpectCount {
        /// CSS selector.
        selector: String,
        /// Expected number of matches.
        equals: usize,
    },
    /// The page URL matches.
    ExpectUrl(TextMatch),
    /// No `console.error` call or uncaught exception so far on this page (`true`; `false` does nothing).
    ExpectNoConsoleErrors(bool),
    /// Save a PNG of the viewport under this name in the evidence directory.
    Screenshot(String),
    /// Run a shell command (`bash -c`) in the project directory; needs no browser and no app.
    Run(RunCheck),
    /// Send one HTTP request to the app started by `app.start`; needs no browser.
    Http(HttpCheck),
}

/// `run`: a command, the exit code wanted (0 when absent), a match on its stdout, a timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCheck {
    /// Shell command, run with `bash -c` in the project directory.
    pub command: String,
    /// Exit code wanted; 0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_exit: Option<i32>,
    /// How stdout must match (`contains`, `equals` after trimming, `regex`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_stdout: Option<TextMatch>,
    /// Milliseconds before the command is killed; 30 s when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// `http`: a request (method, path, body) and what the answer must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// `GET` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path joined to the app URL, as for `goto`.
    pub path: String,
    /// A string is sent as text, anything else as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Status code wanted; any status when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// A value inside the JSON answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_json: Option<JsonExpect>,
}

/// `expect_json`: the value at a JSON pointer (`/items/0/title`) `equals` a JSON value, or
/// its text `contains` a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExpect {
    /// RFC 6901 pointer; `""` is the whole document.
    pub pointer: String,
    /// The value there equals this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// The value there (a string as is, anything else as JSON text) contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
}

impl JsonExpect {
    /// Ok when `document` satisfies the expectation; otherwise what was found.
    pub fn judge(&self, document: &serde_json::Value) -> Result<(), String> {
        let Some(found) = document.pointer(&self.pointer) else {
            return Err(format!("nothing at {:?} in {}", self.pointer, document));
        };
        let text = found
            .as_str()
            .map_or_else(|| found.to_string(), str::to_owned);
        match (&self.equals, &self.contains) {
            (Some(want), None) if want == found => Ok(()),
            (None, Some(needle)) if text.contains(needle.as_str()) => Ok(()),
            (Some(_), None) | (None, Some(_)) => Err(format!("{} is {found}", self.pointer)),
            _ => Err("expect_json needs exactly one of \"equals\", \"contains\"".to_owned()),
        }
    }
}

impl std::fmt::Display for JsonExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.equals, &self.contains) {
            (Some(value), _) => write!(f, "JSON at {:?} equals {value}", self.pointer),
            (_, Some(value)) => write!(f, "JSON at {:?} contains {value:?}", self.pointer),
            _ => write!(f, "JSON at {:?}", self.pointer),
        }
    }
}

impl Check {
    /// Whether the check drives the browser (everything but `run` and `http`).
    pub fn needs_browser(&self) -> bool {
        !matches!(self, Self::Run(_) | Self::Http(_))
    }

    /// Whether the check needs the app to be running (everything but `run`).
    pub fn needs_app(&self) -> bool {
        !matches!(self, Self::Run(_))
    }
}

impl Check {
    /// The check's kind as the feature list spells it (`goto`, `expect_text`, ...).
    pub fn kind(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The check as compact JSON, as it appears in the feature list.
    pub fn to_compact_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| format!("<unprintable check: {error}>"))
    }
}

/// `wait_for` in its short form (`"#list li"`) or full form (`{"selector", "timeout_ms"}`);
/// the form read is the form written back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WaitFor {
    /// Just a selector; waits up to the action timeout.
    Selector(String),
    /// A selector with its own timeout.
    Full {
        /// CSS selector.
        selector: String,
        /// Timeout in milliseconds; the action timeout when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
}

impl WaitFor {
    /// The selector waited for.
    pub fn selector(&self) -> &str {
        match self {
            Self::Selector(selector) | Self::Full { selector, .. } => selector,
        }
    }

    /// The explicit timeout, if any.
    pub fn timeout_ms(&self) -> Option<u64> {
        match self {
            Self::Selector(_) => None,
            Self::Full { timeout_ms, .. } => *timeout_ms,
        }
    }
}

/// `expect_checked` in its short form (`"#done"`, checked) or full form
/// (`{"selector", "checked"}`); the form read is the form written back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExpectChecked {
    /// Just a selector: the element is checked.
    Selector(String),
    /// A selector and the state wanted.
    Full {
        /// CSS selector.
        selector: String,
        /// `true` for checked, `false` for unchecked.
        checked: bool,
    },
}

impl ExpectChecked {
    /// The selector.
    pub fn selector(&self) -> &str {
        match self {
            Self::Selector(selector) | Self::Full { selector, .. } => selector,
        }
    }

    /// The state wanted.
    pub fn checked(&self) -> bool {
        match self {
            Self::Selector(_) => true,
            Self::Full { checked, .. } => *checked,
        }
    }
}

/// `expect_attribute`: a selector, an attribute name and exactly one of `contains`, `equals`, `regex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSelectorMatch", into = "RawSelectorMatch")]
pub struct ExpectAttribute {
    /// CSS selector.
    pub selector: String,
    /// Attribute name (`aria-expanded`, `href`, `class`).
    pub name: String,
    /// How the attribute's value must match.
    pub matcher: TextMatch,
}

/// `expect_text` and `expect_value`: a selector and exactly one of `contains`, `equals`, `regex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSelectorMatch", into = "RawSelectorMatch")]
pub struct ExpectText {
    /// CSS selector.
    pub selector: String,
    /// How the element's text must match.
    pub matcher: TextMatch,
}

/// How a text must match: exactly one of `contains`, `equals` (after trimming), `regex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTextMatch", into = "RawTextMatch")]
pub enum TextMatch {
    /// The text contains this substring.
    Contains(String),
    /// The trimmed text equals this string.
    Equals(String),
    /// The text matches this regular expression (Rust regex syntax).
    Regex(String),
}

impl TextMatch {
    /// Whether `text` satisfies the match; an invalid regex never matches (rejected at parse time).
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Self::Contains(needle) => text.contains(needle.as_str()),
            Self::Equals(expected) => text.trim() == expected.trim(),
            Self::Regex(pattern) => regex::Regex::new(pattern).is_ok_and(|re| re.is_match(text)),
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            Self::Regex(pattern) => regex::Regex::new(pattern)
                .map(|_| ())
                .map_err(|error| format!("invalid regex {pattern:?}: {error}")),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for TextMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Contains(value) => write!(f, "contains {value:?}"),
            Self::Equals(value) => write!(f, "equals {value:?}"),
            Self::Regex(value) => write!(f, "matches /{value}/"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTextMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regex: Option<String>,
}

impl TryFrom<RawTextMatch> for TextMatch {
    type Error = String;

    fn try_from(raw: RawTextMatch) -> Result<Self, Self::Error> {
        let matcher = match (raw.contains, raw.equals, raw.regex) {
            (Some(value), None, None) => Self::Contains(value),
            (None, Some(value), None) => Self::Equals(value),
            (None, None, Some(value)) => Self::Regex(value),
            _ => return Err("give exactly one of \"contains\", \"equals\", \"regex\"".to_owned()),
        };
        matcher.validate()?;
        Ok(matcher)
    }
}

impl From<TextMatch> for RawTextMatch {
    fn from(matcher: TextMatch) -> Self {
        let mut raw = Self {
            contains: None,
            equals: None,
            regex: None,
        };
        match matcher {
            TextMatch::Contains(value) => raw.contains = Some(value),
            TextMatch::Equals(value) => raw.equals = Some(value),
            TextMatch::Regex(value) => raw.regex = Some(value),
        }
        raw
    }
}

/// The JSON form shared by `expect_text`, `expect_value` and `expect_attribute`: a selector,
/// the attribute's `name` (`expect_attribute` only) and exactly one of `contains`, `equals`,
/// `regex`. One form, so the three read and write their matchers the same way.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelectorMatch {
    selector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regex: Option<String>,
}

impl RawSelectorMatch {
    fn new(selector: String, name: Option<String>, matcher: TextMatch) -> Self {
        let RawTextMatch {
            contains,
            equals,
            regex,
        } = matcher.into();
        Self {
            selector,
            name,
            contains,
            equals,
            regex,
        }
    }

    /// The selector, the attribute name if any, and the validated matcher.
    fn split(self) -> Result<(String, Option<String>, TextMatch), String> {
        let matcher = TextMatch::try_from(RawTextMatch {
            contains: self.contains,
            equals: self.equals,
            regex: self.regex,
        })?;
        Ok((self.selector, self.name, matcher))
    }
}

impl TryFrom<RawSelectorMatch> for ExpectText {
    type Error = String;

    fn try_from(raw: RawSelectorMatch) -> Result<Self, Self::Error> {
        match raw.split()? {
            (selector, None, matcher) => Ok(Self { selector, matcher }),
            (_, Some(_), _) => {
                Err("unknown field `name` (only expect_attribute names an attribute)".to_owned())
            }
        }
    }
}

impl From<ExpectText> for RawSelectorMatch {
    fn from(expect: ExpectText) -> Self {
        Self::new(expect.selector, None, expect.matcher)
    }
}

impl TryFrom<RawSelectorMatch> for ExpectAttribute {
    type Error = String;

    fn try_from(raw: RawSelectorMatch) -> Result<Self, Self::Error> {
        match raw.split()? {
            (selector, Some(name), matcher) => Ok(Self {
                selector,
                name,
                matcher,
            }),
            (_, None, _) => Err("missing field `name` (the attribute to read)".to_owned()),
        }
    }
}

impl From<ExpectAttribute> for RawSelectorMatch {
    fn from(expect: ExpectAttribute) -> Self {
        Self::new(expect.selector, Some(expect.name), expect.matcher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Check, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn every_documented_form_round_trips() {
        let forms = [
            r#"{"goto":"/"}"#,
            r##"{"click":"#add"}"##,
            r##"{"fill":{"selector":"#new-todo","text":"Buy milk"}}"##,
            r##"{"press":{"selector":"#new-todo","key":"Enter"}}"##,
            r#"{"press":{"key":"Escape"}}"#,
            r##"{"select":{"selector":"#filter","value":"active"}}"##,
            r##"{"wait_for":{"selector":"#list li","timeout_ms":3000}}"##,
            r##"{"wait_for":"#list li"}"##,
            r#"{"reload":true}"#,
            r##"{"expect_text":{"selector":"#count","contains":"1 item"}}"##,
            r##"{"expect_text":{"selector":"#count","regex":"^\\d+ items?$"}}"##,
            r##"{"expect_visible":"#list"}"##,
            r#"{"expect_hidden":".empty"}"#,
            r##"{"expect_count":{"selector":"#list li","equals":2}}"##,
            r##"{"expect_url":{"contains":"#/active"}}"##,
            r#"{"expect_no_console_errors":true}"#,
            r#"{"screenshot":"after-add"}"#,
            r##"{"dblclick":"#list li label"}"##,
            r#"{"hover":".menu"}"#,
            r#"{"check":"input.toggle"}"#,
            r#"{"uncheck":"input.toggle"}"#,
            r##"{"expect_value":{"selector":"#new-todo","equals":""}}"##,
            r#"{"expect_checked":".toggle"}"#,
            r#"{"expect_checked":{"selector":".toggle","checked":false}}"#,
            r##"{"expect_enabled":"#save"}"##,
            r##"{"expect_disabled":"#save"}"##,
            r##"{"expect_attribute":{"selector":"#menu","name":"aria-expanded","equals":"true"}}"##,
            r#"{"run":{"command":"./wc.sh a.txt","expect_exit":0,"expect_stdout":{"contains":"3"},"timeout_ms":5000}}"#,
            r#"{"run":{"command":"false","expect_exit":1}}"#,
            r#"{"http":{"method":"POST","path":"/todos","body":{"title":"x"},"expect_status":201,"expect_json":{"pointer":"/title","equals":"x"}}}"#,
            r#"{"http":{"path":"/health","expect_json":{"pointer":"","contains":"ok"}}}"#,
        ];
        for form in forms {
            let check = parse(form).unwrap_or_else(|e| panic!("{form}: {e}"));
            assert_eq!(check.to_compact_json(), form);
        }
    }

    #[test]
    fn two_matchers_are_rejected() {
        let error = parse(r##"{"expect_text":{"selector":"#c","contains":"a","equals":"b"}}"##)
            .unwrap_err()
            .to_string();
        assert!(error.contains("exactly one"), "{error}");
    }

    #[test]
    fn bad_regex_and_unknown_action_are_rejected() {
        let error = parse(r#"{"expect_url":{"regex":"("}}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid regex"), "{error}");
        let error = parse(r##"{"tap":"#x"}"##).unwrap_err().to_string();
        assert!(error.contains("unknown variant `tap`"), "{error}");
        let error = parse(r##"{"expect_attribute":{"selector":"#m","equals":"x"}}"##)
            .unwrap_err()
            .to_string();
        assert!(error.contains("name"), "{error}");
        let error = parse(r##"{"expect_text":{"selector":"#m","name":"id","equals":"x"}}"##)
            .unwrap_err()
            .to_string();
        assert!(error.contains("only expect_attribute"), "{error}");
    }

    #[test]
    fn json_expectations() {
        let doc = serde_json::json!({"items": [{"title": "Buy milk", "done": false}]});
        let expect = |text: &str| serde_json::from_str::<JsonExpect>(text).unwrap();
        assert!(
            expect(r#"{"pointer":"/items/0/done","equals":false}"#)
                .judge(&doc)
                .is_ok()
        );
        assert!(
            expect(r#"{"pointer":"/items/0/title","contains":"milk"}"#)
                .judge(&doc)
                .is_ok()
        );
        let error = expect(r#"{"pointer":"/items/1","equals":1}"#)
            .judge(&doc)
            .unwrap_err();
        assert!(error.contains("nothing at"), "{error}");
        let error = expect(r#"{"pointer":"/items/0/done","equals":true}"#)
            .judge(&doc)
            .unwrap_err();
        assert!(error.contains("is false"), "{error}");
        assert!(expect(r#"{"pointer":""}"#).judge(&doc).is_err());
    }

    #[test]
    fn text_matching() {
        assert!(TextMatch::Contains("1 item".into()).matches("1 item left"));
        assert!(TextMatch::Equals("Done".into()).matches("  Done\n"));
        assert!(!TextMatch::Equals("Done".into()).matches("Done!"));
        assert!(TextMatch::Regex(r"^\d+ items?".into()).matches("2 items left"));
    }
}
