//! `grep`: regex search over project files with ripgrep's own matcher and searcher,
//! printing `path:line:text` (context lines as `path-line-text`).

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};
use grep_regex::RegexMatcherBuilder;
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder, Sink, SinkContext, SinkMatch};
use serde::Deserialize;
use serde_json::Value;

use super::glob::{refuse_climbing, search_folder};
use super::object_schema;
use crate::capped::cap_middle;
use crate::walk::project_files;
use crate::{Jail, Tool, ToolConfig, ToolError, ToolOutput, ToolSpec, parse_args};

/// Longest line text shown; minified files would otherwise flood the context.
const MAX_LINE_CHARS: usize = 400;
/// Most context lines asked for around each match.
const MAX_CONTEXT: u64 = 20;

/// Searches project files for a regular expression.
#[derive(Debug)]
pub struct Grep {
    jail: Arc<Jail>,
    config: Arc<ToolConfig>,
}

#[derive(Debug, Deserialize)]
struct Args {
    pattern: String,
    path: Option<String>,
    glob: Option<String>,
    case_insensitive: Option<bool>,
    context: Option<u64>,
}

impl Grep {
    /// A `grep` tool jailed to `jail`.
    pub fn new(jail: Arc<Jail>, config: Arc<ToolConfig>) -> Self {
        Self { jail, config }
    }

    fn search(&self, args: &Args) -> Result<String, ToolError> {
        let base = search_folder(&self.jail, args.path.as_deref())?;
        let matcher = RegexMatcherBuilder::new()
            .case_insensitive(args.case_insensitive.unwrap_or(false))
            .line_terminator(Some(b'\n'))
            .build(&args.pattern)
            .map_err(|e| ToolError::BadPattern {
                kind: "regex",
                pattern: args.pattern.clone(),
                message: e.to_string(),
            })?;
        let filter = args.glob.as_deref().map(FileFilter::new).transpose()?;
        let context = args.context.unwrap_or(0).min(MAX_CONTEXT) as usize;
        let mut searcher = SearcherBuilder::new()
            .line_number(true)
            .before_context(context)
            .after_context(context)
            .binary_detection(BinaryDetection::quit(0))
            .build();
        let mut found = Found {
            text: String::new(),
            matches: 0,
            capped: false,
        };
        for file in project_files(&base) {
            if filter
                .as_ref()
                .is_some_and(|filter| !filter.accepts(&base, &file))
            {
                continue;
            }
            let display = self.jail.relative(&file);
            let sink = Collect {
                display: &display,
                found: &mut found,
                limit: self.config.grep_max_results,
                separate_files: context > 0,
                started: false,
            };
            // An unreadable file is skipped like ripgrep does; it must not hide the rest.
            let _ = searcher.search_path(&matcher, &file, sink);
            if found.capped {
                break;
            }
        }
        Ok(found.describe(
            args,
            &self.jail.relative(&base),
            self.config.grep_max_results,
            self.config.output_max_chars,
        ))
    }
}

/// Which files to search: a glob without `/` is matched against file names, one with
/// `/` against the path below the search folder.
struct FileFilter {
    matcher: GlobMatcher,
    by_name: bool,
}

impl FileFilter {
    fn new(glob: &str) -> Result<Self, ToolError> {
        refuse_climbing(glob)?;
        let by_name = !glob.contains('/');
        let matcher = GlobBuilder::new(glob.trim_start_matches("./"))
            .literal_separator(true)
            .build()
            .map_err(|e| ToolError::BadPattern {
                kind: "glob",
                pattern: glob.to_owned(),
                message: e.kind().to_string(),
            })?
            .compile_matcher();
        Ok(Self { matcher, by_name })
    }

    fn accepts(&self, base: &Path, file: &Path) -> bool {
        if self.by_name {
            file.file_name()
                .is_some_and(|name| self.matcher.is_match(name))
        } else {
            file.strip_prefix(base)
                .is_ok_and(|inner| self.matcher.is_match(inner))
        }
    }
}

struct Found {
    text: String,
    matches: usize,
    capped: bool,
}

impl Found {
    fn describe(mut self, args: &Args, base: &str, limit: usize, max_chars: usize) -> String {
        if self.matches == 0 {
            let within = args
                .glob
                .as_deref()
                .map(|glob| format!(" in files matching {glob:?}"))
                .unwrap_or_default();
            return format!("no matches for {:?} under {base}{within}", args.pattern);
        }
        if self.capped {
            let _ = write!(
                self.text,
                "[stopped after {limit} matching lines; narrow the pattern, path or glob]"
            );
        }
        cap_middle(&self.text, max_chars)
    }
}

/// Writes one file's matches and context into [`Found`], stopping at the limit.
struct Collect<'a> {
    display: &'a str,
    found: &'a mut Found,
    limit: usize,
    /// With context, groups from different files are separated by `--` as within one.
    separate_files: bool,
    started: bool,
}

impl Collect<'_> {
    fn line(&mut self, separator: char, number: Option<u64>, bytes: &[u8]) {
        if !self.started {
            self.started = true;
            if self.separate_files && !self.found.text.is_empty() {
                self.found.text.push_str("--\n");
            }
        }
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = String::from_utf8_lossy(bytes);
        let number = number.unwrap_or(0);
        let _ = if text.chars().count() > MAX_LINE_CHARS {
            let cut: String = text.chars().take(MAX_LINE_CHARS).collect();
            writeln!(
                self.found.text,
                "{}{separator}{number}{separator}{cut}…[line cut]",
                self.display
            )
        } else {
            writeln!(
                self.found.text,
                "{}{separator}{number}{separator}{text}",
                self.display
            )
        };
    }
}

impl Sink for Collect<'_> {
    type Error = io::Error;

    fn matched(&mut self, _searcher: &Searcher, found: &SinkMatch<'_>) -> Result<bool, io::Error> {
        if self.found.matches >= self.limit {
            self.found.capped = true;
            return Ok(false);
        }
        let first = found.line_number();
        for (index, line) in found.lines().enumerate() {
            self.line(':', first.map(|n| n + index as u64), line);
        }
        self.found.matches += 1;
        Ok(true)
    }

    fn context(
        &mut self,
        _searcher: &Searcher,
        context: &SinkContext<'_>,
    ) -> Result<bool, io::Error> {
        self.line('-', context.line_number(), context.bytes());
        Ok(true)
    }

    fn context_break(&mut self, _searcher: &Searcher) -> Result<bool, io::Error> {
        self.found.text.push_str("--\n");
        Ok(true)
    }
}

impl Tool for Grep {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "grep".to_owned(),
            description: format!(
                "Search file contents with a regular expression (Rust regex syntax, like ripgrep; a pattern matches within one line). \
                 Prints `path:line:text` for each matching line, and `path-line-text` for context lines, at most {} matching lines. \
                 Files ignored by .gitignore and binary files are skipped.",
                self.config.grep_max_results
            ),
            parameters: object_schema(
                &[
                    (
                        "pattern",
                        "string",
                        "Regular expression, e.g. \"fn\\\\s+main\" or \"TODO|FIXME\".",
                    ),
                    (
                        "path",
                        "string",
                        "File or folder to search, relative to the project root. Omit for the whole project.",
                    ),
                    (
                        "glob",
                        "string",
                        "Only search files matching this glob: \"*.rs\" matches file names, \"src/**/*.ts\" paths.",
                    ),
                    (
                        "case_insensitive",
                        "boolean",
                        "Ignore letter case. Default false.",
                    ),
                    (
                        "context",
                        "integer",
                        "Lines of context to show before and after each match (at most 20). Default 0.",
                    ),
                ],
                &["pattern"],
            ),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        match parse_args::<Args>(args).and_then(|args| self.search(&args)) {
            Ok(text) => ToolOutput::success(text),
            Err(error) => error.into(),
        }
    }
}
