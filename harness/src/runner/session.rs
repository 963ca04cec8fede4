//! Session boundaries: choosing the next workflow node, opening a session (re-checking the
//! features that passed, picking the target feature, recalling memories, writing the two
//! opening messages), and closing it (verifying the target in Chromium, setting `passes`,
//! progress notes, the git commit, memories).

use std::fmt::Write as _;

use baton_model::ChatMessage;
use baton_verify::FeatureList;
use baton_workflows::{NodeKind, ThreadFacts};

use super::ThreadRunner;
use crate::error::HarnessError;
use crate::events::{Event, SessionEnd};
use crate::failpoint::failpoint;
use crate::feature_guard::{FEATURE_LIST, FeatureGuard};
use crate::progress::{self, SessionNote};
use crate::prompt::{self, ProjectView};
use crate::state::Phase;

/// How many progress sections and log lines a session's first message carries.
const PROGRESS_SECTIONS: usize = 3;
const GIT_LOG_LINES: usize = 20;

impl ThreadRunner {
    /// Between sessions: follow the first edge whose guard holds, and open the next session.
    pub(super) async fn next_node(&mut self) -> Result<(), HarnessError> {
        let list = self.read_feature_list();
        let facts = ThreadFacts {
            feature_list_present: list.is_some(),
            features_total: list.as_ref().map_or(0, |l| l.features.len()),
            features_passing: list.as_ref().map_or(0, FeatureList::passing),
            sessions_run: self.state.sessions_run,
            max_sessions: self.state.max_sessions,
        };
        self.state.features_total = facts.features_total;
        self.state.features_passing = facts.features_passing;
        let from = self
            .workflow
            .node_by_name(&self.state.node)
            .unwrap_or_else(|| self.workflow.start());
        let Some(transition) = self.workflow.next(from, &facts) else {
            // Out of sessions with only blocked features left: that is why it ends.
            if let Some(list) = &list
                && let super::blocking::Target::AllBlocked(reason) = self.pick_target(list)
            {
                return self.end_blocked(reason).await;
            }
            let reason = if facts.sessions_run >= facts.max_sessions {
                format!(
                    "session budget exhausted ({} of {} sessions) with {}/{} features passing; resume with a larger --max-sessions to go on",
                    facts.sessions_run,
                    facts.max_sessions,
                    facts.features_passing,
                    facts.features_total
                )
            } else {
                format!(
                    "no edge out of node \"{}\" holds (features {}/{}, sessions {}/{})",
                    self.state.node,
                    facts.features_passing,
                    facts.features_total,
                    facts.sessions_run,
                    facts.max_sessions
                )
            };
            self.state.phase = Phase::Stopped {
                reason: reason.clone(),
            };
            self.record(Event::ThreadFinished {
                status: format!("stopped: {reason}"),
            })?;
            return self.checkpoint().await;
        };
        let to = self.workflow.node(transition.to).clone();
        self.record(Event::Transition {
            from: self.state.node.clone(),
            to: to.name.clone(),
            guard: transition.guard.clone(),
        })?;
        self.state.node.clone_from(&to.name);
        if to.kind == NodeKind::Terminal {
            self.state.phase = Phase::Done;
            self.record(Event::ThreadFinished {
                status: "done".to_owned(),
            })?;
            return self.checkpoint().await;
        }
        self.open_session(list).await
    }

    async fn open_session(&mut self, list: Option<FeatureList>) -> Result<(), HarnessError> {
        self.state.session += 1;
        self.state.turn = 0;
        self.state.recent_calls.clear();
        self.state.drafting = list.is_none();
        let mut regressions = Vec::new();
        let list = match list {
            Some(list) => {
                let (list, found) = self.recheck_passing(list).await?;
                regressions = found;
                Some(list)
            }
            None => None,
        };
        let target = match list.as_ref().map(|list| self.pick_target(list)) {
            Some(super::blocking::Target::Feature(feature)) => Some(feature),
            Some(super::blocking::Target::AllBlocked(reason)) => {
                // No session opens after all.
                self.state.session -= 1;
                return self.end_blocked(reason).await;
            }
            Some(super::blocking::Target::Nothing) | None => None,
        };
        self.guard = FeatureGuard::load(&self.project, self.state.drafting);
        self.state.feature = target.as_ref().map(|f| f.id.clone());
        let memories = match &target {
            Some(feature) => self.recall_for(&feature.id, &feature.description).await,
            None => Vec::new(),
        };
        let node = self.node().clone();
        let template =
            prompt::template(node.prompt.as_deref().unwrap_or(&node.name), &self.project)?;
        let system = prompt::render_system(
            &template,
            self.state.session,
            &node.name,
            &self.state.thread,
        );
        let repo = crate::project::ensure_repo(&self.project)?;
        let view = ProjectView {
            spec: std::fs::read_to_string(self.project.join("app_spec.md")).ok(),
            feature_summary: list.as_ref().map(feature_summary),
            target: target.as_ref().map(describe_target),
            regressions,
            progress_tail: progress::tail(&self.project, PROGRESS_SECTIONS),
            git_log: crate::project::log_oneline(&repo, GIT_LOG_LINES),
            memories: memories.clone(),
            instruction: self.state.instruction.take(),
            handoff: self.state.handoff.take(),
        };
        self.state.conversation = vec![
            ChatMessage::system(&system),
            ChatMessage::user(prompt::render_context(&view)),
        ];
        self.state.phase = Phase::InSession;
        self.record(Event::SessionStarted {
            session: self.state.session,
            node: node.name.clone(),
            feature: self.state.feature.clone(),
            memories: memories.len(),
        })?;
        self.checkpoint().await
    }

    /// Closes the session: verify, set `passes`, write the progress section, commit, remember.
    pub(super) async fn finish_session(
        &mut self,
        end: SessionEnd,
        summary: Option<String>,
    ) -> Result<(), HarnessError> {
        self.timing.current.ended_session = true;
        let session = self.state.session;
        let node = self.state.node.clone();
        let feature = self.state.feature.clone();
        let verification = match (&feature, self.read_feature_list()) {
            (Some(id), Some(list)) => Some(self.verify_session(list, id).await?),
            _ => None,
        };
        failpoint("session.after_verify");
        let end_text = end.describe();
        let loop_note = loop_handoff(session, &end, &self.state.recent_calls);
        if let (Some(id), Some(verdict)) = (&feature, &verification)
            && self.settings.verify_enabled
        {
            self.count_attempt(id, verdict, &end_text)?;
        }
        progress::append(
            &self.project,
            &SessionNote {
                session,
                node: &node,
                feature: feature.as_deref(),
                end: &end_text,
                verification: verification.as_ref().map(|v| v.line.as_str()),
                summary: summary.as_deref(),
            },
        )?;
        let (subject, body) = commit_message(
            &node,
            self.state.drafting,
            feature.as_deref(),
            self.read_feature_list().as_ref(),
            verification.as_ref().is_some_and(|v| v.passed),
            summary.as_deref(),
        );
        failpoint("session.before_commit");
        let repo = crate::project::ensure_repo(&self.project)?;
        let committed =
            crate::project::commit_session(&repo, &self.state.thread, session, &subject, &body)?;
        failpoint("session.after_commit");
        if let Some(commit) = &committed {
            self.state.git_head = Some(commit.sha.clone());
            self.record(Event::Commit {
                session,
                sha: commit.sha.clone(),
                message: subject.clone(),
                files: commit.files.clone(),
            })?;
        }
        self.remember_session(
            session,
            feature.as_deref(),
            committed.as_ref(),
            &subject,
            summary.as_deref(),
            verification.as_ref(),
        )
        .await;
        failpoint("session.after_remember");
        // The counts first, so that whoever hears the session end sees its outcome.
        let list = self.read_feature_list();
        self.state.features_total = list.as_ref().map_or(0, |l| l.features.len());
        self.state.features_passing = list.as_ref().map_or(0, FeatureList::passing);
        self.record(Event::SessionEnded {
            session,
            end,
            summary,
        })?;
        self.state.sessions_run += 1;
        self.state.phase = Phase::Between;
        self.state.conversation.clear();
        self.state.turn = 0;
        self.state.feature = None;
        self.state.recent_calls.clear();
        self.state.handoff = loop_note;
        let unfinished_draft = self.state.drafting && list.is_none();
        if unfinished_draft {
            self.hand_on_missing_list(session, &end_text)?;
        } else if self.state.drafting {
            self.state.failed_initializers = 0;
        }
        if verification.is_some() {
            // The next session's start can trust this verification while nothing changes.
            self.state.verified_tree = Some(self.current_tree()?);
        }
        self.checkpoint().await
    }

    /// An initializer session ended without a valid feature list: the next one is told what
    /// is missing, and after `initializer_attempts` such sessions in a row the thread stops.
    fn hand_on_missing_list(&mut self, session: u32, end_text: &str) -> Result<(), HarnessError> {
        self.state.failed_initializers += 1;
        let problem = match FeatureList::load(&self.project.join(FEATURE_LIST)) {
            Err(baton_verify::VerifyError::ReadFeatureList { .. }) => {
                format!("{FEATURE_LIST} does not exist")
            }
            Err(error) => format!("{FEATURE_LIST} exists but is not a valid feature list: {error}"),
            Ok(_) => format!("{FEATURE_LIST} could not be read"),
        };
        let failed = self.state.failed_initializers;
        let limit = self.settings.initializer_attempts;
        let note = format!(
            "Initializer session {session} ended ({end_text}) without a valid feature list: {problem}. \
             This session must write {FEATURE_LIST} (the features of app_spec.md, each with id, category, description, steps and passes: false) before anything else; \
             {failed} of {limit} initializer sessions have failed so far."
        );
        self.state.handoff = Some(match self.state.handoff.take() {
            Some(loop_note) => format!("{note}\n\n{loop_note}"),
            None => note,
        });
        if failed >= limit {
            let reason = format!(
                "{failed} initializer sessions in a row ended without a valid {FEATURE_LIST} (the last: {problem}); \
                 the model cannot set the project up. Try a stronger model (a new thread), or raise initializer_attempts \
                 in baton.toml and resume"
            );
            self.state.phase = Phase::Stopped {
                reason: reason.clone(),
            };
            self.record(Event::ThreadFinished {
                status: format!("stopped: {reason}"),
            })?;
        }
        Ok(())
    }

    pub(super) fn read_feature_list(&self) -> Option<FeatureList> {
        FeatureList::load(&self.project.join(FEATURE_LIST)).ok()
    }
}

fn feature_summary(list: &FeatureList) -> String {
    let mut out = format!("{} features, {}:\n", list.features.len(), list.summary());
    for feature in &list.features {
        let mark = if feature.passes { "x" } else { " " };
        // Manual features are never counted as verified, even when their session ended.
        let manual = if feature.is_checked() {
            ""
        } else {
            " (manual)"
        };
        let _ = writeln!(
            out,
            "- [{mark}] {}{manual}: {}",
            feature.id, feature.description
        );
    }
    out.trim_end().to_owned()
}

fn describe_target(feature: &baton_verify::Feature) -> String {
    let mut out = format!(
        "`{}` ({}): {}\n\nVerification steps:\n",
        feature.id, feature.category, feature.description
    );
    for (i, step) in feature.steps.iter().enumerate() {
        let _ = writeln!(out, "{}. {step}", i + 1);
    }
    if !feature.checks.is_empty() {
        let _ = write!(
            out,
            "\nbaton will run these {} browser checks when you finish:\n",
            feature.checks.len()
        );
        for check in &feature.checks {
            let _ = writeln!(
                out,
                "- `{}`",
                serde_json::to_string(check).unwrap_or_default()
            );
        }
    }
    out.trim_end().to_owned()
}

/// What the next session is told about a session that ended in a loop: the calls that
/// repeated and what they last returned (from the round before the one that was stopped).
fn loop_handoff(
    session: u32,
    end: &SessionEnd,
    recent: &[crate::state::RecentCall],
) -> Option<String> {
    let SessionEnd::LoopDetected {
        period, repeats, ..
    } = end
    else {
        return None;
    };
    let period = usize::try_from(*period).unwrap_or(1).max(1);
    let start = recent.len().saturating_sub(2 * period);
    let round = &recent[start..recent.len().saturating_sub(period).max(start)];
    let mut out = format!(
        "Session {session} was ended by baton because it repeated itself: these {} call(s) came {repeats} times in a row. Do not send them again: read what they returned, find out why, and do something else.\n",
        round.len().max(1)
    );
    for call in round {
        let result = call.result.trim();
        let result = if result.is_empty() {
            "(no result)"
        } else {
            result
        };
        let _ = write!(
            out,
            "\n- `{}`\n  last result: {}",
            call.call,
            result.replace('\n', "\n    ")
        );
    }
    Some(out)
}

/// The commit for a session: the subject names the feature; the body is the model's summary.
fn commit_message(
    node: &str,
    drafting: bool,
    feature: Option<&str>,
    list: Option<&FeatureList>,
    passed: bool,
    summary: Option<&str>,
) -> (String, String) {
    let subject = match feature {
        Some(id) => {
            let description = list
                .and_then(|l| l.get(id))
                .map_or_else(String::new, |f| f.description.clone());
            let kind = if passed { "feat" } else { "wip" };
            let first_line = description.lines().next().unwrap_or("").trim();
            if first_line.is_empty() {
                format!("{kind}({id}): session work")
            } else {
                format!("{kind}({id}): {}", truncate(first_line, 72))
            }
        }
        None => match list {
            Some(list) if drafting || list.passing() == 0 => format!(
                "{node}: set up the project ({} features)",
                list.features.len()
            ),
            _ => format!("{node}: session work"),
        },
    };
    (subject, summary.unwrap_or("").to_owned())
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}
