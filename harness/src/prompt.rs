//! The two messages that open every session: the node's system prompt (from
//! `harness/prompts/<node>.md`, or a file the workflow names) and the project's state as the
//! first user message. The system prompt carries the marker `[baton session N · NODE]`, which
//! tells any model which session it is in and lets the scripted server find its place.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::HarnessError;

const INITIALIZER: &str = include_str!("../prompts/initializer.md");
const CODING: &str = include_str!("../prompts/coding.md");
const REVIEW: &str = include_str!("../prompts/review.md");

/// Loads a node's prompt template: a built-in stem, or a Markdown file relative to the project.
pub fn template(stem: &str, project: &Path) -> Result<String, HarnessError> {
    match stem {
        "initializer" => Ok(INITIALIZER.to_owned()),
        "coding" => Ok(CODING.to_owned()),
        "review" => Ok(REVIEW.to_owned()),
        other => {
            let path = project.join(other);
            let path = if path.extension().is_some() {
                path
            } else {
                path.with_extension("md")
            };
            std::fs::read_to_string(&path).map_err(|_| {
                HarnessError::BadInput(format!(
                    "workflow node prompt \"{other}\": no built-in prompt of that name and no file {}; \
                     built-ins are initializer, coding and review",
                    path.display()
                ))
            })
        }
    }
}

/// Fills a template's `{{session}}`, `{{node}}` and `{{thread}}`, and makes sure the marker
/// line is there even when a custom template forgot it.
pub fn render_system(template: &str, session: u32, node: &str, thread: &str) -> String {
    let text = template
        .replace("{{session}}", &session.to_string())
        .replace("{{node}}", node)
        .replace("{{thread}}", thread);
    let marker = marker(session, node);
    if text.contains(&marker) {
        text
    } else {
        format!("{marker}\n\n{text}")
    }
}

/// The line that names a session in its system prompt (the scripted server reads it back).
pub fn marker(session: u32, node: &str) -> String {
    baton_model::script::session_marker(session, node)
}

/// What the first user message tells the model about the project.
#[derive(Debug, Default)]
pub struct ProjectView {
    pub spec: Option<String>,
    pub feature_summary: Option<String>,
    pub target: Option<String>,
    pub regressions: Vec<String>,
    pub progress_tail: Option<String>,
    pub git_log: Vec<String>,
    pub memories: Vec<String>,
    pub instruction: Option<String>,
    /// What the last session left undone (it looped, or ended without a feature list).
    pub handoff: Option<String>,
}

/// Spec text longer than this is cut (the model can still read the file).
const SPEC_MAX_CHARS: usize = 12_000;

/// Renders the first user message of a session.
pub fn render_context(view: &ProjectView) -> String {
    let mut out = String::new();
    if let Some(instruction) = &view.instruction {
        let _ = writeln!(out, "## Instruction from a person\n\n{instruction}\n");
    }
    if let Some(handoff) = &view.handoff {
        let _ = writeln!(out, "## Left undone by the last session\n\n{handoff}\n");
    }
    if let Some(target) = &view.target {
        let _ = writeln!(out, "## Your feature\n\n{target}\n");
    }
    if !view.regressions.is_empty() {
        let _ = writeln!(
            out,
            "## Regressions\n\nThese features passed before and fail now; their `passes` was set back to false:\n"
        );
        for regression in &view.regressions {
            let _ = writeln!(out, "- {regression}");
        }
        out.push('\n');
    }
    match &view.spec {
        Some(spec) if spec.chars().count() > SPEC_MAX_CHARS => {
            let cut: String = spec.chars().take(SPEC_MAX_CHARS).collect();
            let _ = writeln!(
                out,
                "## App spec (app_spec.md, first {SPEC_MAX_CHARS} characters)\n\n{cut}\n"
            );
        }
        Some(spec) => {
            let _ = writeln!(out, "## App spec (app_spec.md)\n\n{}\n", spec.trim_end());
        }
        None => {
            let _ = writeln!(out, "## App spec\n\nThe project has no app_spec.md.\n");
        }
    }
    if let Some(summary) = &view.feature_summary {
        let _ = writeln!(out, "## Features (feature_list.json)\n\n{summary}\n");
    }
    if !view.memories.is_empty() {
        let _ = writeln!(out, "## What earlier sessions learned (recalled)\n");
        for memory in &view.memories {
            let _ = writeln!(out, "- {memory}");
        }
        out.push('\n');
    }
    if let Some(progress) = &view.progress_tail {
        let _ = writeln!(
            out,
            "## Latest progress notes (baton-progress.md)\n\n{}\n",
            progress.trim_end()
        );
    }
    if !view.git_log.is_empty() {
        let _ = writeln!(
            out,
            "## git log --oneline -{}\n\n{}\n",
            view.git_log.len(),
            view.git_log.join("\n")
        );
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prompts_render_with_their_marker() {
        let coding = render_system(CODING, 3, "coding", "t-1");
        assert!(coding.starts_with("[baton session 3 · coding]"));
        insta::assert_snapshot!("coding_system", coding);
        let initializer = render_system(INITIALIZER, 1, "initializer", "t-1");
        insta::assert_snapshot!("initializer_system", initializer);
    }

    #[test]
    fn a_custom_template_without_marker_gets_one() {
        let text = render_system("Review the code of {{thread}}.", 4, "review", "t-9");
        assert_eq!(
            text,
            "[baton session 4 · review]\n\nReview the code of t-9."
        );
    }

    #[test]
    fn context_message_renders_every_section() {
        let view = ProjectView {
            spec: Some("A todo app.".into()),
            feature_summary: Some(
                "2 features, 1 passing:\n- [x] add-todo\n- [ ] toggle-todo".into(),
            ),
            target: Some("toggle-todo: Toggle a todo".into()),
            regressions: vec!["add-todo: expect_count failed".into()],
            progress_tail: Some("## Session 2\nAdded the input.".into()),
            git_log: vec!["abc1234 feat(add-todo): add todos".into()],
            memories: vec!["[commit abc1234] feat(add-todo): add todos".into()],
            instruction: Some("Use a <ul> for the list.".into()),
            handoff: Some("Session 1 ended in a loop: `bash ls` 3 times.".into()),
        };
        insta::assert_snapshot!("context_all_sections", render_context(&view));
    }
}
