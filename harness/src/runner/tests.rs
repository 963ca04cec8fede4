//! The runner in process, with a fake `Model` answering from a list (no HTTP, no script
//! server): steps, checkpoints, sessions, commits and resume, checked on the tape, the state
//! and the git history they leave.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use baton_model::{ChatMessage, ModelError, ModelRequest, ToolCall, Usage};
use baton_tape::StateReader;

use super::*;
use crate::bench::agent_loop::WORKFLOW;
use crate::config::{LimitArgs, ModelArgs};

/// Answers from a list, in order; counts the calls. An empty list answers "done".
struct FakeModel {
    answers: Mutex<VecDeque<Vec<(&'static str, String)>>>,
    calls: AtomicUsize,
}

impl FakeModel {
    fn new(answers: Vec<Vec<(&'static str, String)>>) -> Arc<FakeModel> {
        Arc::new(FakeModel {
            answers: Mutex::new(answers.into()),
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Model for FakeModel {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn complete(&self, _req: &ModelRequest<'_>) -> Result<ModelResponse, ModelError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let calls = self.answers.lock().unwrap().pop_front().unwrap_or_default();
        let message = if calls.is_empty() {
            ChatMessage::assistant_with_tools(Some("done".to_owned()), Vec::new())
        } else {
            let calls = calls
                .into_iter()
                .enumerate()
                .map(|(i, (name, arguments))| ToolCall {
                    id: format!("call_{n}_{i}"),
                    name: name.to_owned(),
                    arguments,
                })
                .collect();
            ChatMessage::assistant_with_tools(None, calls)
        };
        Ok(ModelResponse {
            message,
            finish_reason: Some("stop".to_owned()),
            usage: Usage {
                prompt_tokens: 100,
                completion_tokens: 10,
                estimated: false,
            },
            latency_ms: 1,
            attempts: 1,
            model: "fake".to_owned(),
            notes: Vec::new(),
            unreadable_call: None,
        })
    }
}

fn write(path: &str, content: &str) -> (&'static str, String) {
    (
        "write_file",
        serde_json::json!({"path": path, "content": content}).to_string(),
    )
}

/// A project folder with a spec, the workflow beside it, and settings for one session
/// without memory or browser.
fn project() -> (tempfile::TempDir, PathBuf, Settings) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("app_spec.md"),
        "A project for the runner's tests.\n",
    )
    .unwrap();
    let workflow = dir.path().join("one-node.toml");
    std::fs::write(&workflow, WORKFLOW).unwrap();
    let settings = Settings::resolve(
        &project,
        &ModelArgs::default(),
        &LimitArgs {
            max_sessions: Some(1),
            no_memory: true,
            no_verify: true,
            no_sandbox: false,
        },
        Some(&workflow.display().to_string()),
    )
    .unwrap();
    (dir, project, settings)
}

async fn create(project: &Path, settings: Settings, model: Arc<FakeModel>) -> ThreadRunner {
    Box::pin(ThreadRunner::create(
        NewThread {
            project,
            thread: Some("t"),
            parent: None,
        },
        settings,
        model,
    ))
    .await
    .unwrap()
}

fn session_commits(project: &Path) -> Vec<String> {
    let repo = git2::Repository::open(project).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_head().unwrap();
    walk.map(|id| repo.find_commit(id.unwrap()).unwrap())
        .filter_map(|c| c.message().ok().map(str::to_owned))
        .filter(|m| m.contains("Baton-Session:"))
        .collect()
}

#[tokio::test]
async fn each_step_is_checkpointed_and_the_session_commits_once() {
    let (_dir, project, settings) = project();
    let model = FakeModel::new(vec![
        vec![write("a.txt", "one\n")],
        vec![write("b.txt", "two\n"), write("c.txt", "three\n")],
    ]);
    let mut runner = create(&project, settings, model.clone()).await;
    let outcome = runner.run().await.unwrap();

    assert_eq!(outcome, RunOutcome::Done);
    // Two answers with tools, then the one that ends the session.
    assert_eq!(model.calls(), 3);
    for (file, text) in [("a.txt", "one\n"), ("b.txt", "two\n"), ("c.txt", "three\n")] {
        assert_eq!(std::fs::read_to_string(project.join(file)).unwrap(), text);
    }
    let state = runner.state().clone();
    assert_eq!(state.sessions_run, 1);
    assert_eq!(state.ledger.total_tokens(), 3 * 110);
    let commits = session_commits(&project);
    assert_eq!(commits.len(), 1, "{commits:?}");
    assert!(commits[0].contains("Baton-Session: t/1"), "{}", commits[0]);
    drop(runner);

    // The tape's head is the state the run ended with, and every step has a checkpoint.
    let paths = ThreadPaths::new(&project, &ThreadId::new("t").unwrap());
    let reader = StateReader::open(&paths).unwrap();
    let head = ThreadState::from_value(reader.state_at(reader.head().unwrap()).unwrap()).unwrap();
    assert_eq!(head.step, state.step);
    assert_eq!(head.sessions_run, 1);
    let live = reader.live_checkpoints();
    assert!(
        live.len() as u64 >= state.step,
        "{} checkpoints",
        live.len()
    );
}

#[tokio::test]
async fn a_finished_thread_resumes_without_asking_the_model_again() {
    let (_dir, project, settings) = project();
    let model = FakeModel::new(vec![vec![write("a.txt", "one\n")]]);
    let mut runner = create(&project, settings.clone(), model.clone()).await;
    runner.run().await.unwrap();
    let ended = runner.state().clone();
    drop(runner);

    let again = FakeModel::new(Vec::new());
    let mut resumed = Box::pin(ThreadRunner::resume(&project, "t", settings, again.clone()))
        .await
        .unwrap();
    assert_eq!(resumed.run().await.unwrap(), RunOutcome::Done);
    assert_eq!(again.calls(), 0);
    assert_eq!(resumed.state().step, ended.step);
    assert_eq!(session_commits(&project).len(), 1);
}

#[tokio::test]
async fn the_same_call_over_and_over_ends_the_session_as_a_loop() {
    let (_dir, project, settings) = project();
    let limit = settings.loop_repeat_limit as usize;
    let same = || vec![("read_file", r#"{"path": "app_spec.md"}"#.to_owned())];
    let model = FakeModel::new((0..limit + 5).map(|_| same()).collect());
    let mut runner = create(&project, settings, model.clone()).await;
    runner.run().await.unwrap();

    // The loop is caught after `limit` repeats, long before the answers run out.
    assert!(model.calls() <= limit + 1, "{} calls", model.calls());
    let paths = ThreadPaths::new(&project, &ThreadId::new("t").unwrap());
    let (tape, _) = baton_tape::Tape::<Event>::open(&paths.tape).unwrap();
    let ended_on_loop = tape.records().iter().any(|r| {
        matches!(
            r.event(),
            Some(Event::SessionEnded {
                end: crate::events::SessionEnd::LoopDetected { .. },
                ..
            })
        )
    });
    assert!(ended_on_loop);
}
