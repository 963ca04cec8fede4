//! Putting an open file back at its path. The agent's bash tool runs in the project, so a
//! command such as `rm -rf .baton` or `git clean -fdx` can unlink the tape while baton
//! still writes it: the writes would go on into a file no path leads to, and the thread
//! would be gone at exit. The open handle still holds every byte, so it is copied back.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use crate::error::{Result, TapeError};
use crate::paths::open_private;

/// Whether `path` still names the very file `file` has open.
pub(crate) fn still_linked(file: &File, path: &Path) -> Result<bool> {
    let open = file
        .metadata()
        .map_err(TapeError::io("inspect open file", path))?;
    Ok(std::fs::symlink_metadata(path)
        .is_ok_and(|on_disk| on_disk.dev() == open.dev() && on_disk.ino() == open.ino()))
}

/// Writes everything in `file` to a new file at `path` (replacing whatever is there now)
/// and returns that file, opened for appending.
pub(crate) fn copy_back(file: &File, path: &Path) -> Result<File> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".restoring");
    let temp = path.with_file_name(name);
    let _ = std::fs::remove_file(&temp);
    let mut copy = open_private(&temp, true, false)?;
    let mut buffer = vec![0; 1 << 20];
    let mut offset = 0;
    loop {
        let read = file
            .read_at(&mut buffer, offset)
            .map_err(TapeError::io("read open file", path))?;
        if read == 0 {
            break;
        }
        copy.write_all(&buffer[..read])
            .map_err(TapeError::io("write restored file", &temp))?;
        offset += read as u64;
    }
    copy.sync_all()
        .map_err(TapeError::io("fsync restored file", &temp))?;
    std::fs::rename(&temp, path).map_err(TapeError::io("rename restored file", path))?;
    open_private(path, false, false)
}
