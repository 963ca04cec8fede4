//! The standard tools (files, search, bash and its background jobs), one module each, and the few helpers they share.

mod bash;
mod edit_file;
mod glob;
mod grep;
mod jobs;
mod read_file;
mod write_file;

pub use bash::Bash;
pub use edit_file::EditFile;
pub use glob::Glob;
pub use grep::Grep;
pub use jobs::{BashOutput, BashStop, Jobs};
pub use read_file::ReadFile;
pub use write_file::WriteFile;

use std::fs::{self, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use crate::{Jail, ToolError};

/// How much of a file's start is checked for NUL bytes to call it binary (as git does).
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// A JSON Schema object with the given `(name, type, description)` properties.
fn object_schema(properties: &[(&str, &str, &str)], required: &[&str]) -> Value {
    let properties: Map<String, Value> = properties
        .iter()
        .map(|(name, kind, description)| {
            (
                (*name).to_owned(),
                json!({ "type": kind, "description": description }),
            )
        })
        .collect();
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

/// Resolves `rel` to an existing regular file. Folders get a pointer to glob; FIFOs,
/// sockets and devices are refused because opening one can block the call forever.
fn existing_file(jail: &Jail, rel: &str) -> Result<(PathBuf, Metadata), ToolError> {
    let path = jail.resolve_read(rel)?;
    let metadata = path
        .metadata()
        .map_err(|e| ToolError::io("reading", rel, e))?;
    if metadata.is_dir() {
        return Err(ToolError::Rejected(format!(
            "{rel:?} is a folder, not a file; use the glob tool to list its files"
        )));
    }
    if !metadata.is_file() {
        return Err(ToolError::Rejected(format!(
            "{rel:?} is not a regular file (a pipe, socket or device); only regular files can be read or edited"
        )));
    }
    Ok((path, metadata))
}

fn looks_binary(start: &[u8]) -> bool {
    start[..start.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// Replaces `path` with `bytes` through a temporary file and a rename, so a kill in the
/// middle leaves either the old or the new content, never half of it. An existing
/// file's permissions (e.g. the executable bit of a script) are carried over.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let parent = path
        .parent()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let temp = parent.join(format!(
        ".{}.baton-tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = fs::File::create_new(&temp)?;
        file.write_all(bytes)?;
        if let Ok(existing) = fs::metadata(path) {
            file.set_permissions(existing.permissions())?;
        }
        drop(file);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// 1-based line numbers of the given ascending byte offsets in `text`.
fn line_numbers(text: &str, offsets: &[usize]) -> Vec<usize> {
    let mut line = 1;
    let mut scanned = 0;
    offsets
        .iter()
        .map(|&offset| {
            line += text[scanned..offset].matches('\n').count();
            scanned = offset;
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_are_one_based_and_cumulative() {
        let text = "a\nb\nc a\n\na";
        assert_eq!(line_numbers(text, &[0, 6, 10]), vec![1, 3, 5]);
    }

    #[test]
    fn atomic_write_keeps_the_executable_bit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("init.sh");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
    }
}
