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
}

impl Check {
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
#[serde(try_from = "RawExpectAttribute", into = "RawExpectAttribute")]
pub struct ExpectAttribute {
    /// CSS selector.
    pub selector: String,
    /// Attribute name (`aria-expanded`, `href`, `class`).
    pub name: String,
    /// How the attribute's value must match.
    pub matcher: TextMatch,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectAttribute {
    selector: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regex: Option<String>,
}

impl TryFrom<RawExpectAttribute> for ExpectAttribute {
    type Error = String;

    fn try_from(raw: RawExpectAttribute) -> Result<Self, Self::Error> {
        let matcher = TextMatch::try_from(RawTextMatch {
            contains: raw.contains,
            equals: raw.equals,
            regex: raw.regex,
        })?;
        Ok(Self {
            selector: raw.selector,
            name: raw.name,
            matcher,
        })
    }
}

impl From<ExpectAttribute> for RawExpectAttribute {
    fn from(expect: ExpectAttribute) -> Self {
        let RawTextMatch {
            contains,
            equals,
            regex,
        } = expect.matcher.into();
        Self {
            selector: expect.selector,
            name: expect.name,
            contains,
            equals,
            regex,
        }
    }
}

/// `expect_text` and `expect_value`: a selector and exactly one of `contains`, `equals`, `regex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawExpectText", into = "RawExpectText")]
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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectText {
    selector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regex: Option<String>,
}

impl TryFrom<RawExpectText> for ExpectText {
    type Error = String;

    fn try_from(raw: RawExpectText) -> Result<Self, Self::Error> {
        let matcher = TextMatch::try_from(RawTextMatch {
            contains: raw.contains,
            equals: raw.equals,
            regex: raw.regex,
        })?;
        Ok(Self {
            selector: raw.selector,
            matcher,
        })
    }
}

impl From<ExpectText> for RawExpectText {
    fn from(expect: ExpectText) -> Self {
        let RawTextMatch {
            contains,
            equals,
            regex,
        } = expect.matcher.into();
        Self {
            selector: expect.selector,
            contains,
            equals,
            regex,
        }
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
    }

    #[test]
    fn text_matching() {
        assert!(TextMatch::Contains("1 item".into()).matches("1 item left"));
        assert!(TextMatch::Equals("Done".into()).matches("  Done\n"));
        assert!(!TextMatch::Equals("Done".into()).matches("Done!"));
        assert!(TextMatch::Regex(r"^\d+ items?".into()).matches("2 items left"));
    }
}
