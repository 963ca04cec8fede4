//! `write_file`: creates or replaces a whole file, creating missing parent folders.

use std::fs;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::{object_schema, write_atomically};
use crate::{Jail, Tool, ToolError, ToolOutput, ToolSpec, parse_args};

/// Writes a whole project file.
#[derive(Debug)]
pub struct WriteFile {
    jail: Arc<Jail>,
}

#[derive(Debug, Deserialize)]
struct Args {
    path: String,
    content: String,
}

impl WriteFile {
    /// A `write_file` tool jailed to `jail`.
    pub fn new(jail: Arc<Jail>) -> Self {
        Self { jail }
    }

    fn write(&self, args: &Args) -> Result<ToolOutput, ToolError> {
        // `normalise` drops a trailing `/`, which would turn "src/" into a file named src.
        if args.path.ends_with('/') {
            return Err(ToolError::Rejected(format!(
                "path {:?} ends with `/`, so it names a folder; give the path of the file to write, e.g. \"{}index.html\" (folders are created as needed)",
                args.path, args.path
            )));
        }
        let target = self.jail.resolve_write(&args.path)?;
        let relative = self.jail.relative(&target);
        let existed = match fs::metadata(&target) {
            Ok(metadata) if metadata.is_dir() => {
                return Err(ToolError::WrongKind {
                    path: args.path.clone(),
                    actual: "a folder",
                    expected: "a file",
                });
            }
            Ok(_) => true,
            Err(_) => false,
        };
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| ToolError::io("creating the folders for", &args.path, e))?;
        }
        write_atomically(&target, args.content.as_bytes())
            .map_err(|e| ToolError::io("writing", &args.path, e))?;
        let verb = if existed { "replaced" } else { "created" };
        let bytes = args.content.len();
        Ok(
            ToolOutput::success(format!("{verb} {relative} ({bytes} bytes)"))
                .touching(vec![relative]),
        )
    }
}

impl Tool for WriteFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "write_file".to_owned(),
            description: "Create a file, or replace everything in an existing one, with the given content. \
                 Missing parent folders are created. To change part of an existing file, prefer edit_file."
                .to_owned(),
            parameters: object_schema(
                &[
                    ("path", "string", "File path relative to the project root, e.g. \"src/app.js\"."),
                    ("content", "string", "The complete new content of the file."),
                ],
                &["path", "content"],
            ),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        parse_args::<Args>(args)
            .and_then(|args| self.write(&args))
            .unwrap_or_else(ToolOutput::from)
    }
}
