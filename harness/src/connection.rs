//! What a thread remembers about how it is run: the model and where it is served, the
//! workflow, the limits and the `--no-memory` / `--no-verify` / `--no-sandbox` switches. It is
//! recorded when the thread starts (in its state and its `thread_started` event; never the API key) and
//! reused by `resume`, `replay --mode live` and forks, so a thread started against a local
//! server resumes against that server with no flags. What the command line gives again wins
//! and is recorded (`settings_changed`); `baton.toml` is read afresh, and the limits it sets
//! win over the recorded ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton_model::script::{Script, ServerHandle};
use baton_model::{Model, OpenAiModel, OpenAiSettings, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::config::{LimitArgs, ModelArgs};
use crate::error::HarnessError;

/// A thread's connection and limits as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// The model name sent to the server (for a script: the script's model name).
    pub model: String,
    /// The OpenAI-compatible base URL; `None` when a script serves the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The script served on 127.0.0.1 as the model (absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<PathBuf>,
    /// The workflow's name (the graph itself is in the tape header).
    pub workflow: String,
    pub max_sessions: u32,
    pub memory: bool,
    pub verify: bool,
    pub context_limit_tokens: usize,
    pub step_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub max_attempts: u32,
    pub loop_repeat_limit: u32,
    pub feature_attempts: u32,
    /// Whether bash runs in the OS sandbox (threads recorded before it existed: yes).
    #[serde(default = "sandbox_on")]
    pub sandbox: bool,
}

fn sandbox_on() -> bool {
    true
}

impl Connection {
    /// The connection resolved settings describe. `served` is the name the model answers
    /// to, used when a script serves it (a script names its own model).
    pub fn of(settings: &Settings, served: &str) -> Connection {
        let model = if settings.script.is_some() {
            served
        } else {
            &settings.model
        };
        Connection {
            model: model.to_owned(),
            base_url: settings.script.is_none().then(|| settings.base_url.clone()),
            script: settings.script.as_deref().map(absolute),
            workflow: settings.workflow.clone(),
            max_sessions: settings.max_sessions,
            memory: settings.memory_enabled,
            verify: settings.verify_enabled,
            context_limit_tokens: settings.context_limit_tokens,
            step_timeout_secs: settings.step_timeout.as_secs(),
            request_timeout_secs: settings.request_timeout.as_secs(),
            max_attempts: settings.max_attempts,
            loop_repeat_limit: settings.loop_repeat_limit,
            feature_attempts: settings.feature_attempts,
            sandbox: settings.sandbox.enabled,
        }
    }

    /// Settings for going on with a thread: the recorded values wherever the command line
    /// (or its environment variables) gave none, and for the limits also no config file.
    pub fn apply(&self, settings: &mut Settings, model: &ModelArgs, limits: &LimitArgs) {
        let given_model = model.script.is_some() || model.base_url.is_some();
        if !given_model {
            match (&self.script, &self.base_url) {
                (Some(script), _) => {
                    settings.script = Some(script.clone());
                }
                (None, Some(base_url)) => {
                    settings.script = None;
                    settings.base_url.clone_from(base_url);
                }
                (None, None) => {}
            }
        }
        if model.model.is_none() && model.script.is_none() && self.script.is_none() {
            settings.model.clone_from(&self.model);
        }
        settings.workflow.clone_from(&self.workflow);
        if limits.max_sessions.is_none() {
            settings.max_sessions = self.max_sessions;
        }
        if !limits.no_memory {
            settings.memory_enabled = self.memory;
        }
        if !limits.no_verify {
            settings.verify_enabled = self.verify;
        }
        if !limits.no_sandbox {
            settings.sandbox.enabled &= self.sandbox;
        }
        let from_file = |key: &str| settings.set_by_files.contains(&key);
        if !from_file("context_limit_tokens") {
            settings.context_limit_tokens = self.context_limit_tokens;
        }
        if !from_file("step_timeout_secs") {
            settings.step_timeout = Duration::from_secs(self.step_timeout_secs);
        }
        if !from_file("request_timeout_secs") {
            settings.request_timeout = Duration::from_secs(self.request_timeout_secs);
        }
        if !from_file("max_attempts") {
            settings.max_attempts = self.max_attempts;
        }
        if !from_file("loop_repeat_limit") {
            settings.loop_repeat_limit = self.loop_repeat_limit;
        }
        if !from_file("feature_attempts") {
            settings.feature_attempts = self.feature_attempts;
        }
    }

    /// Where the model is, for listings: the script's file name or the base URL.
    pub fn endpoint(&self) -> String {
        match (&self.script, &self.base_url) {
            (Some(script), _) => format!("script {}", script.display()),
            (None, Some(url)) => url.clone(),
            (None, None) => String::new(),
        }
    }
}

/// The path made absolute when it exists (recorded paths must not depend on the cwd).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The model a run talks to, and the scripted server behind it when `--script` was given
/// (kept alive as long as the model is used).
pub struct ModelConnection {
    pub model: Arc<dyn Model>,
    pub server: Option<ServerHandle>,
}

/// Connects to the configured model: a script served on 127.0.0.1 (offline runs), or an
/// OpenAI-compatible endpoint.
pub async fn connect_model(settings: &Settings) -> Result<ModelConnection, HarnessError> {
    let retry = RetryPolicy {
        max_attempts: settings.max_attempts,
        ..RetryPolicy::default()
    };
    if let Some(path) = &settings.script {
        let script = Script::load(path)?;
        let model_name = script.model_name().to_owned();
        let server = baton_model::script::serve(script, ([127, 0, 0, 1], 0).into()).await?;
        let model = OpenAiModel::new(OpenAiSettings {
            base_url: server.base_url(),
            api_key: Some("scripted".to_owned()),
            model: model_name,
            request_timeout: settings.request_timeout,
            retry,
        })?;
        return Ok(ModelConnection {
            model: Arc::new(model),
            server: Some(server),
        });
    }
    let model = OpenAiModel::new(OpenAiSettings {
        base_url: settings.base_url.clone(),
        api_key: settings.api_key.clone(),
        model: settings.model.clone(),
        request_timeout: settings.request_timeout,
        retry,
    })?;
    Ok(ModelConnection {
        model: Arc::new(model),
        server: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path) -> Settings {
        Settings::resolve(dir, &ModelArgs::default(), &LimitArgs::default(), None).unwrap()
    }

    #[test]
    fn recorded_connection_fills_what_the_command_line_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut started = settings(dir.path());
        started.base_url = "http://127.0.0.1:18080/v1".into();
        started.model = "qwen".into();
        started.max_sessions = 4;
        started.verify_enabled = false;
        started.context_limit_tokens = 6000;
        started.sandbox.enabled = false;
        let recorded = Connection::of(&started, "qwen");

        let mut resumed = settings(dir.path());
        recorded.apply(&mut resumed, &ModelArgs::default(), &LimitArgs::default());
        assert_eq!(resumed.base_url, "http://127.0.0.1:18080/v1");
        assert_eq!(resumed.model, "qwen");
        assert_eq!(resumed.max_sessions, 4);
        assert!(!resumed.verify_enabled);
        assert_eq!(resumed.context_limit_tokens, 6000);
        assert!(!resumed.sandbox.enabled, "--no-sandbox is kept on resume");
        assert_eq!(Connection::of(&resumed, "qwen"), recorded);

        let flags = ModelArgs {
            model: Some("other".into()),
            ..ModelArgs::default()
        };
        let limits = LimitArgs {
            max_sessions: Some(9),
            ..LimitArgs::default()
        };
        let mut overridden = settings(dir.path());
        overridden.model = "other".into();
        overridden.max_sessions = 9;
        recorded.apply(&mut overridden, &flags, &limits);
        assert_eq!(overridden.model, "other");
        assert_eq!(overridden.max_sessions, 9);
        assert_eq!(overridden.base_url, "http://127.0.0.1:18080/v1");
    }

    #[test]
    fn a_limit_set_in_baton_toml_wins_over_the_recorded_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut started = settings(dir.path());
        started.context_limit_tokens = 6000;
        let recorded = Connection::of(&started, "m");
        std::fs::write(
            dir.path().join(crate::config::PROJECT_CONFIG),
            "context_limit_tokens = 7000\n",
        )
        .unwrap();
        let mut resumed = settings(dir.path());
        recorded.apply(&mut resumed, &ModelArgs::default(), &LimitArgs::default());
        assert_eq!(resumed.context_limit_tokens, 7000);
    }

    #[test]
    fn tapes_from_before_the_sandbox_resume_with_it_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut value = serde_json::to_value(Connection::of(&settings(dir.path()), "m")).unwrap();
        value.as_object_mut().unwrap().remove("sandbox");
        let old: Connection = serde_json::from_value(value).unwrap();
        assert!(old.sandbox);
    }

    #[test]
    fn the_api_key_is_never_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut started = settings(dir.path());
        started.api_key = Some("sk-secret-123".into());
        let text = serde_json::to_string(&Connection::of(&started, "m")).unwrap();
        assert!(!text.contains("sk-secret"), "{text}");
    }
}
