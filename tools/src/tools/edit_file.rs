//! `edit_file`: exact string replacement in a text file. Refuses anything ambiguous
//! (no match, several matches without `replace_all`) and explains the likely slip.

use std::fmt::Write as _;
use std::fs;
use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::{existing_file, line_numbers, looks_binary, object_schema, write_atomically};
use crate::{Jail, Tool, ToolError, ToolOutput, ToolSpec, parse_args};

/// How many match lines an ambiguity error lists before summarising.
const LISTED_LINES: usize = 20;
/// The largest file edited in memory (read, matched, rebuilt: about three copies held).
const EDIT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Replaces exact text in a project file.
#[derive(Debug)]
pub struct EditFile {
    jail: Arc<Jail>,
}

#[derive(Debug, Deserialize)]
struct Args {
    path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: Option<bool>,
}

impl EditFile {
    /// An `edit_file` tool jailed to `jail`.
    pub fn new(jail: Arc<Jail>) -> Self {
        Self { jail }
    }

    fn edit(&self, args: &Args) -> Result<ToolOutput, ToolError> {
        if args.old_string.is_empty() {
            return Err(ToolError::Rejected(
                "old_string is empty; give the exact text to replace, or use write_file to create a file".to_owned(),
            ));
        }
        if args.old_string == args.new_string {
            return Err(ToolError::Rejected(
                "old_string and new_string are the same, so nothing would change".to_owned(),
            ));
        }
        let (path, metadata) = existing_file(&self.jail, &args.path)?;
        self.jail.check_writable(&args.path, &path)?;
        if metadata.len() > EDIT_MAX_BYTES {
            return Err(ToolError::Rejected(format!(
                "{:?} is {} bytes, more than the {EDIT_MAX_BYTES}-byte limit of edit_file; change it with bash (e.g. `sed -i`)",
                args.path,
                metadata.len()
            )));
        }
        let bytes = fs::read(&path).map_err(|e| ToolError::io("reading", &args.path, e))?;
        if looks_binary(&bytes) {
            return Err(ToolError::Rejected(format!(
                "{:?} is a binary file; edit_file changes text files only",
                args.path
            )));
        }
        let content = String::from_utf8(bytes).map_err(|_| {
            ToolError::Rejected(format!(
                "{:?} is not valid UTF-8, so exact text cannot be matched in it; rewrite it with write_file or change it with bash",
                args.path
            ))
        })?;
        let (old, new) = line_endings_as_in(&content, &args.old_string, &args.new_string);
        let offsets: Vec<usize> = content
            .match_indices(old.as_str())
            .map(|(offset, _)| offset)
            .collect();
        let lines = line_numbers(&content, &offsets);
        let replace_all = args.replace_all.unwrap_or(false);
        match offsets.len() {
            0 => {
                return Err(ToolError::Rejected(not_found(
                    &args.path,
                    &content,
                    &args.old_string,
                )));
            }
            1 => {}
            many if !replace_all => {
                return Err(ToolError::Rejected(format!(
                    "old_string occurs {many} times in {:?} (at lines {}); include more surrounding lines so it matches exactly once, \
                     or set replace_all: true to replace every occurrence",
                    args.path,
                    list_lines(&lines)
                )));
            }
            _ => {}
        }
        let edited = if replace_all {
            content.replace(old.as_str(), &new)
        } else {
            content.replacen(old.as_str(), &new, 1)
        };
        write_atomically(&path, edited.as_bytes())
            .map_err(|e| ToolError::io("writing", &args.path, e))?;
        let relative = self.jail.relative(&path);
        let count = offsets.len();
        let noun = if count == 1 {
            "occurrence"
        } else {
            "occurrences"
        };
        let at = if count == 1 { "line" } else { "lines" };
        Ok(ToolOutput::success(format!(
            "edited {relative}: replaced {count} {noun} (at {at} {})",
            list_lines(&lines)
        ))
        .touching(vec![relative]))
    }
}

/// Models usually send `\n`; when the file uses `\r\n` and the text only matches that
/// way, both strings are converted so the edit keeps the file's line endings.
fn line_endings_as_in(content: &str, old: &str, new: &str) -> (String, String) {
    let converts = old.contains('\n')
        && !old.contains("\r\n")
        && content.contains("\r\n")
        && !content.contains(old);
    if converts {
        (old.replace('\n', "\r\n"), new.replace('\n', "\r\n"))
    } else {
        (old.to_owned(), new.to_owned())
    }
}

/// Explains a failed match, with a hint for the two usual slips: copied line-number
/// prefixes and differing whitespace or indentation.
fn not_found(path: &str, content: &str, old: &str) -> String {
    let mut message = format!("old_string was not found in {path:?}");
    let numbered = Regex::new(r"(?m)^\s*\d+\t")
        .is_ok_and(|prefix| old.lines().all(|line| prefix.is_match(line)));
    if numbered {
        message.push_str(
            "; it seems to include the line-number prefixes that read_file shows — leave them out",
        );
    } else if let Some(line) = whitespace_insensitive_match(content, old) {
        let _ = write!(
            message,
            "; text that differs only in whitespace exists at line {line} — copy it exactly, including indentation"
        );
    } else {
        message.push_str("; read the file again and copy the text exactly");
    }
    message
}

fn whitespace_insensitive_match(content: &str, old: &str) -> Option<usize> {
    let words: Vec<String> = old.split_whitespace().map(regex::escape).collect();
    if words.is_empty() {
        return None;
    }
    let pattern = Regex::new(&words.join(r"\s+")).ok()?;
    let found = pattern.find(content)?;
    line_numbers(content, &[found.start()]).first().copied()
}

fn list_lines(lines: &[usize]) -> String {
    let shown: Vec<String> = lines
        .iter()
        .take(LISTED_LINES)
        .map(ToString::to_string)
        .collect();
    let more = lines.len().saturating_sub(LISTED_LINES);
    if more == 0 {
        shown.join(", ")
    } else {
        format!("{} and {more} more", shown.join(", "))
    }
}

impl Tool for EditFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "edit_file".to_owned(),
            description: "Replace exact text in an existing file. old_string must match the file character for character \
                 (indentation included, without read_file's line numbers) and must occur exactly once, unless replace_all is true. \
                 Include a few surrounding lines to make it unique. Read the file first."
                .to_owned(),
            parameters: object_schema(
                &[
                    ("path", "string", "File path relative to the project root."),
                    ("old_string", "string", "The exact text to replace."),
                    ("new_string", "string", "The text to put in its place (must differ from old_string)."),
                    ("replace_all", "boolean", "Replace every occurrence instead of requiring exactly one. Default false."),
                ],
                &["path", "old_string", "new_string"],
            ),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        parse_args::<Args>(args)
            .and_then(|args| self.edit(&args))
            .unwrap_or_else(ToolOutput::from)
    }
}
