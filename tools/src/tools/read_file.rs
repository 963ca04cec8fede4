//! `read_file`: a text file with `cat -n` style line numbers, whole or by line range.
//! Big files are streamed, never loaded whole, when a range is asked for.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::{BINARY_SNIFF_BYTES, existing_file, looks_binary, object_schema};
use crate::{Jail, Tool, ToolConfig, ToolError, ToolOutput, ToolSpec, parse_args};

/// Reads a project file with line numbers.
#[derive(Debug)]
pub struct ReadFile {
    jail: Arc<Jail>,
    config: Arc<ToolConfig>,
}

#[derive(Debug, Deserialize)]
struct Args {
    path: String,
    offset: Option<u64>,
    limit: Option<u64>,
}

impl ReadFile {
    /// A `read_file` tool jailed to `jail`.
    pub fn new(jail: Arc<Jail>, config: Arc<ToolConfig>) -> Self {
        Self { jail, config }
    }

    fn read(&self, args: &Args) -> Result<String, ToolError> {
        let (path, metadata) = existing_file(&self.jail, &args.path)?;
        let ranged = args.offset.is_some() || args.limit.is_some();
        let max = self.config.read_max_bytes;
        if !ranged && metadata.len() > max as u64 {
            return Err(ToolError::Rejected(format!(
                "{:?} is {} bytes, more than the {max}-byte limit for reading a whole file; \
                 ask for a range with offset and limit (e.g. offset: 1, limit: 400), or find the part you need with grep",
                args.path,
                metadata.len()
            )));
        }
        let first = match (args.offset, args.limit) {
            (Some(0), _) => {
                return Err(invalid(
                    "offset is a 1-based line number; use 1 for the first line",
                ));
            }
            (_, Some(0)) => return Err(invalid("limit must be at least 1 line")),
            (offset, _) => offset.unwrap_or(1),
        };
        let mut file = File::open(&path).map_err(|e| ToolError::io("reading", &args.path, e))?;
        let mut start = Vec::with_capacity(BINARY_SNIFF_BYTES);
        (&mut file)
            .take(BINARY_SNIFF_BYTES as u64)
            .read_to_end(&mut start)
            .map_err(|e| ToolError::io("reading", &args.path, e))?;
        if looks_binary(&start) {
            return Err(ToolError::Rejected(format!(
                "{:?} is a binary file (it contains NUL bytes); read_file shows text only — inspect it with bash (e.g. `file`, `xxd | head`)",
                args.path
            )));
        }
        let reader = BufReader::new(Cursor::new(start).chain(file));
        let window = LineWindow {
            first,
            limit: args.limit,
            max_bytes: max,
        };
        let shown = window
            .render(reader)
            .map_err(|e| ToolError::io("reading", &args.path, e))?;
        shown.describe(&args.path, ranged)
    }
}

fn invalid(message: &str) -> ToolError {
    ToolError::InvalidArguments {
        message: message.to_owned(),
    }
}

/// Which lines to show and how many bytes of them at most.
struct LineWindow {
    first: u64,
    limit: Option<u64>,
    max_bytes: usize,
}

/// The numbered lines shown and where they sit in the file.
struct Shown {
    text: String,
    first: u64,
    last: u64,
    total: u64,
    stopped_at_bytes: bool,
    /// Set when a single line was longer than the whole byte budget.
    cut_line: bool,
    /// Set when a shown line was not UTF-8 (its bad bytes are shown as U+FFFD).
    not_utf8: bool,
}

impl LineWindow {
    fn render(&self, mut reader: impl BufRead) -> std::io::Result<Shown> {
        let mut shown = Shown {
            text: String::new(),
            first: self.first,
            last: 0,
            total: 0,
            stopped_at_bytes: false,
            cut_line: false,
            not_utf8: false,
        };
        let mut line = Vec::new();
        // Counts file bytes, not rendered ones, so a file under the limit is always whole.
        let mut shown_bytes = 0;
        loop {
            let number = shown.total + 1;
            let wanted = number >= self.first
                && self.limit.is_none_or(|limit| number - self.first < limit)
                && !shown.stopped_at_bytes;
            // Only a shown line is kept, and only as much of it as can be shown (plus its
            // line ending): a file that is one 100 MB line must not be held in memory.
            let keep = if wanted { self.max_bytes + 2 } else { 0 };
            let length = read_line_capped(&mut reader, &mut line, keep)?;
            if length == 0 {
                break;
            }
            shown.total = number;
            if !wanted {
                continue;
            }
            if shown_bytes + length > self.max_bytes && shown.last > 0 {
                shown.stopped_at_bytes = true;
                continue;
            }
            let mut content: &[u8] = &line;
            if length == line.len() {
                content = content.strip_suffix(b"\n").unwrap_or(content);
                content = content.strip_suffix(b"\r").unwrap_or(content);
            }
            let cut = content.len() > self.max_bytes;
            if cut {
                content = &content[..self.max_bytes];
                shown.stopped_at_bytes = true;
                shown.cut_line = true;
            }
            // A character cut in two by the byte limit is not a sign of a non-UTF-8 file.
            shown.not_utf8 |= std::str::from_utf8(content)
                .is_err_and(|error| !cut || error.error_len().is_some());
            shown_bytes += length;
            let _ = writeln!(
                shown.text,
                "{number:>6}\t{}",
                String::from_utf8_lossy(content)
            );
            shown.last = number;
        }
        Ok(shown)
    }
}

/// Reads one line (up to and including `\n`, or to the end) and returns its length in
/// bytes, keeping at most its first `keep` bytes in `line`.
fn read_line_capped(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    keep: usize,
) -> std::io::Result<usize> {
    line.clear();
    let mut length = 0;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(length);
        }
        let (used, ended) = match buffer.iter().position(|&byte| byte == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (buffer.len(), false),
        };
        let room = keep.saturating_sub(line.len()).min(used);
        line.extend_from_slice(&buffer[..room]);
        reader.consume(used);
        length += used;
        if ended {
            return Ok(length);
        }
    }
}

impl Shown {
    fn describe(self, path: &str, ranged: bool) -> Result<String, ToolError> {
        if self.total == 0 {
            return Ok(format!("({path:?} is empty)"));
        }
        if self.last == 0 {
            return Err(ToolError::Rejected(format!(
                "{path:?} has {} lines; offset {} is past the end",
                self.total, self.first
            )));
        }
        let mut text = self.text;
        if self.not_utf8 {
            text.push_str(
                "[the file is not valid UTF-8: bytes that are not were shown as \u{FFFD}; edit_file cannot change it, use bash or rewrite it with write_file]\n",
            );
        }
        if self.cut_line {
            let _ = write!(
                text,
                "[line {} is longer than the read limit and was cut; see the rest with grep or bash]",
                self.last
            );
        } else if self.stopped_at_bytes {
            let _ = write!(
                text,
                "[output stopped at the read limit after line {}; continue with offset: {}]",
                self.last,
                self.last + 1
            );
        } else if ranged && (self.first > 1 || self.last < self.total) {
            let _ = write!(
                text,
                "[lines {}–{} of {}]",
                self.first, self.last, self.total
            );
        }
        Ok(text)
    }
}

impl Tool for ReadFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "read_file".to_owned(),
            description: format!(
                "Read a text file from the project. Lines come back numbered like `cat -n` (\"     1\\tfirst line\"); \
                 the numbers are not part of the file, so leave them out when you copy text into edit_file. \
                 Files over {} bytes must be read in parts with offset and limit. Use glob to find paths and grep to find lines.",
                self.config.read_max_bytes
            ),
            parameters: object_schema(
                &[
                    (
                        "path",
                        "string",
                        "File path relative to the project root, e.g. \"src/main.rs\".",
                    ),
                    (
                        "offset",
                        "integer",
                        "First line to show, 1-based. Omit to start at line 1.",
                    ),
                    (
                        "limit",
                        "integer",
                        "How many lines to show. Omit to read to the end.",
                    ),
                ],
                &["path"],
            ),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        match parse_args::<Args>(args).and_then(|args| self.read(&args)) {
            Ok(text) => ToolOutput::success(text),
            Err(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_counted_whole_but_kept_only_in_part() {
        let mut text = vec![b'a'; 4 << 20];
        text.extend_from_slice(b"\nend");
        let mut reader = BufReader::new(Cursor::new(text));
        let mut line = Vec::new();
        assert_eq!(
            read_line_capped(&mut reader, &mut line, 16).unwrap(),
            (4 << 20) + 1
        );
        assert_eq!(line, vec![b'a'; 16]);
        assert!(line.capacity() < 64 * 1024, "kept {}", line.capacity());
        assert_eq!(read_line_capped(&mut reader, &mut line, 16).unwrap(), 3);
        assert_eq!(line, b"end");
        assert_eq!(read_line_capped(&mut reader, &mut line, 16).unwrap(), 0);
    }
}
