//! `baton-progress.md`: the handoff notes, one section per session, written by the harness
//! from what the session did (no wall-clock times, so a resumed thread writes the same file).

use std::fmt::Write as _;
use std::path::Path;

use crate::error::HarnessError;

pub const PROGRESS_FILE: &str = "baton-progress.md";

/// What one session's section says.
#[derive(Debug)]
pub struct SessionNote<'a> {
    pub session: u32,
    pub node: &'a str,
    pub feature: Option<&'a str>,
    pub end: &'a str,
    pub verification: Option<&'a str>,
    pub summary: Option<&'a str>,
}

/// Renders a session's section.
pub fn render(note: &SessionNote<'_>) -> String {
    let mut out = format!("## Session {} · {}", note.session, note.node);
    if let Some(feature) = note.feature {
        let _ = write!(out, " · {feature}");
    }
    out.push_str("\n\n");
    if let Some(summary) = note.summary.filter(|s| !s.trim().is_empty()) {
        let _ = writeln!(out, "{}\n", summary.trim());
    }
    let _ = writeln!(out, "- ended: {}", note.end);
    if let Some(verification) = note.verification {
        let _ = writeln!(out, "- verification: {verification}");
    }
    out
}

/// Appends a section, creating the file with a title when it does not exist.
pub fn append(project: &Path, note: &SessionNote<'_>) -> Result<(), HarnessError> {
    let path = project.join(PROGRESS_FILE);
    let mut text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            "# Progress notes\n\nOne section per session, written by baton.\n".to_owned()
        }
        Err(source) => return Err(HarnessError::io(&path, source)),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&render(note));
    std::fs::write(&path, text).map_err(|source| HarnessError::io(&path, source))
}

/// The last `sections` sections, for the next session's prompt.
pub fn tail(project: &Path, sections: usize) -> Option<String> {
    let text = std::fs::read_to_string(project.join(PROGRESS_FILE)).ok()?;
    let starts: Vec<usize> = text.match_indices("\n## ").map(|(i, _)| i + 1).collect();
    let from = starts.len().checked_sub(sections).map_or(0, |i| starts[i]);
    let tail = text[from..].trim();
    (!tail.is_empty()).then(|| tail.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_append_and_the_tail_keeps_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        for session in 1..=3 {
            append(
                dir.path(),
                &SessionNote {
                    session,
                    node: "coding",
                    feature: Some("f"),
                    end: "finished",
                    verification: Some("passed"),
                    summary: Some("did things"),
                },
            )
            .unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join(PROGRESS_FILE)).unwrap();
        assert_eq!(text.matches("## Session").count(), 3);
        let tail = tail(dir.path(), 2).unwrap();
        assert!(tail.starts_with("## Session 2"), "{tail}");
        assert!(tail.contains("## Session 3"));
    }
}
