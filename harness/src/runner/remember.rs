//! What the runner remembers as it goes, without the model asking: each session's commit,
//! progress note and verification, failing tool calls, regressions; and what it recalls for
//! a session's first message (only what is true on the thread's live line). Memory failures
//! never stop a session: they are logged, and the session goes on without them.

use baton_memory::{MemoryKind, MemoryRecord, RecallFilter};

use super::{TargetVerdict, ThreadRunner};
use crate::memory::{commit_text, format_hit, recall_on_line};
use crate::memory_queue::is_unreachable;
use crate::project::Committed;
use crate::timeline::Timeline;

impl ThreadRunner {
    /// The memories most relevant to a feature, for the session's first message.
    pub(crate) async fn recall_for(&self, feature: &str, description: &str) -> Vec<String> {
        let Some((handle, memory)) = self
            .memory
            .handle
            .as_ref()
            .and_then(|handle| Some((handle, handle.memory()?)))
        else {
            return Vec::new();
        };
        let filter = RecallFilter {
            project: Some(handle.project.clone()),
            ..RecallFilter::default()
        };
        let query = format!("{feature}: {description}");
        // Only what is true on this thread's line: not the work of a rewound branch.
        let mut timeline = match Timeline::for_thread(&self.project, &self.state.thread) {
            Ok(timeline) => timeline,
            Err(error) => {
                tracing::warn!(%error, "the thread's line does not read; the session starts without memories");
                return Vec::new();
            }
        };
        let top_k = self.settings.memory_top_k;
        match recall_on_line(&memory, &query, &filter, top_k, &mut timeline, false).await {
            Ok(hits) => hits.iter().map(|(hit, _)| format_hit(hit)).collect(),
            Err(error) if is_unreachable(&error) => {
                handle.pending.report(&error);
                Vec::new()
            }
            Err(error) => {
                tracing::warn!(%error, "recall failed; the session starts without memories");
                Vec::new()
            }
        }
    }

    /// Remembers what a session did: its commit, its progress note, its verification.
    pub(crate) async fn remember_session(
        &self,
        session: u32,
        feature: Option<&str>,
        commit: Option<&Committed>,
        subject: &str,
        summary: Option<&str>,
        verification: Option<&TargetVerdict>,
    ) {
        let Some(handle) = &self.memory.handle else {
            return;
        };
        let thread = self.state.thread.clone();
        let step = self.state.step;
        let tape_seq = self.tape_position();
        let with_source = |mut record: MemoryRecord| {
            record.session = Some(session);
            record.step = Some(step);
            record.tape_seq = Some(tape_seq);
            record.feature = feature.map(str::to_owned);
            record
        };
        let mut records = Vec::new();
        if let Some(commit) = commit {
            let mut message = subject.to_owned();
            if let Some(summary) = summary.filter(|s| !s.trim().is_empty()) {
                message.push_str("\n\n");
                message.push_str(summary.trim());
            }
            let text = commit_text(&message, &commit.files);
            let mut record = with_source(handle.record(MemoryKind::Commit, &thread, text));
            record.commit = Some(commit.sha.clone());
            records.push(record);
        }
        if let Some(summary) = summary.filter(|s| !s.trim().is_empty()) {
            let mut record = with_source(handle.record(
                MemoryKind::Progress,
                &thread,
                summary.trim().to_owned(),
            ));
            record.file = Some(crate::progress::PROGRESS_FILE.to_owned());
            records.push(record);
        }
        if let Some(verdict) = verification {
            let kind = if verdict.passed {
                MemoryKind::Fix
            } else {
                MemoryKind::Verification
            };
            let text = format!(
                "{}: {}",
                feature.unwrap_or("feature"),
                verdict.failure.as_deref().unwrap_or(&verdict.line)
            );
            records.push(with_source(handle.record(kind, &thread, text)));
        }
        handle.remember(records).await;
    }

    /// Remembers a failing tool call, so later sessions can recall what went wrong.
    pub(crate) async fn remember_tool_error(&self, call: &baton_model::ToolCall, error: &str) {
        let Some(handle) = &self.memory.handle else {
            return;
        };
        let arguments: String = call.arguments.chars().take(300).collect();
        let error: String = error.chars().take(600).collect();
        let mut record = handle.record(
            MemoryKind::Error,
            &self.state.thread,
            format!("{} {arguments} failed: {error}", call.name),
        );
        record.session = Some(self.state.session);
        record.step = Some(self.state.step);
        record.tape_seq = Some(self.tape_position());
        record.feature.clone_from(&self.state.feature);
        handle.remember(vec![record]).await;
    }

    /// Remembers that a feature which passed before broke.
    pub(crate) async fn remember_regression(&self, feature: &str, failure: &str) {
        let Some(handle) = &self.memory.handle else {
            return;
        };
        let mut record = handle.record(
            MemoryKind::Error,
            &self.state.thread,
            format!("regression: {feature} passed before and now fails: {failure}"),
        );
        record.session = Some(self.state.session);
        record.step = Some(self.state.step);
        record.tape_seq = Some(self.tape_position());
        record.feature = Some(feature.to_owned());
        handle.remember(vec![record]).await;
    }
}
