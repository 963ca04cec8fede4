//! The project walk shared by glob and grep: honours .gitignore (and .ignore) files,
//! includes hidden files, never enters `.git/` or `.baton/`, never follows symlinks
//! (so it cannot wander outside the jail), and yields files in a stable order.

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

/// Every regular file under `start` (itself included when it is a file), sorted by path.
/// Entries the walk cannot read are skipped: one unreadable folder should not hide
/// the rest of the project.
pub(crate) fn project_files(start: &Path) -> impl Iterator<Item = PathBuf> {
    WalkBuilder::new(start)
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        .sort_by_file_name(Ord::cmp)
        .filter_entry(|entry| {
            let name = entry.file_name().to_string_lossy();
            !(name.eq_ignore_ascii_case(".git") || name.eq_ignore_ascii_case(".baton"))
        })
        .build()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_some_and(|kind| kind.is_file()))
        .map(ignore::DirEntry::into_path)
}
