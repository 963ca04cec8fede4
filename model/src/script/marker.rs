//! The session marker `[baton session N · NODE]` the harness puts in every system
//! prompt: the scripted server reads its position from it, so it keeps no hidden
//! position and a resumed or replayed thread gets the same answers.

const OPENING: &str = "[baton session ";
const SEPARATOR: &str = " · ";

/// The marker for session `session` (1-based) running workflow node `node`.
pub fn session_marker(session: u32, node: &str) -> String {
    format!("{OPENING}{session}{SEPARATOR}{node}]")
}

/// The first well-formed marker in `text`: `(session, node)`. Same language as the
/// regex `\[baton session (\d+) · ([a-z0-9_-]+)\]`.
pub fn parse_session_marker(text: &str) -> Option<(u32, String)> {
    text.match_indices(OPENING).find_map(|(start, _)| {
        let rest = &text[start + OPENING.len()..];
        let digits_end = rest.find(|c: char| !c.is_ascii_digit())?;
        let session = rest[..digits_end].parse().ok()?;
        let rest = rest[digits_end..].strip_prefix(SEPARATOR)?;
        let node_end = rest.find(']')?;
        let node = &rest[..node_end];
        is_node_name(node).then(|| (session, node.to_owned()))
    })
}

pub(crate) fn is_node_name(node: &str) -> bool {
    !node.is_empty()
        && node
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let text = format!(
            "You are a coding agent.\n{}\nGo.",
            session_marker(12, "coding")
        );
        assert_eq!(parse_session_marker(&text), Some((12, "coding".into())));
    }

    #[test]
    fn malformed_markers_are_skipped() {
        assert_eq!(parse_session_marker("[baton session x · a]"), None);
        assert_eq!(parse_session_marker("[baton session 1 · Coding]"), None);
        assert_eq!(parse_session_marker("[baton session 1 - coding]"), None);
        assert_eq!(parse_session_marker("[baton session 1 · coding"), None);
        assert_eq!(
            parse_session_marker("[baton session · a] then [baton session 3 · init-2]"),
            Some((3, "init-2".into()))
        );
    }
}
