//! Settings of a run, layered: command line > environment > `baton.toml` in the project >
//! the user's `~/.config/baton/config.toml` > built-in defaults. The command line and the
//! environment arrive together through clap (`env = ...`); files are read here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_model::Prices;
use baton_tools::SandboxPolicy;
use baton_verify::BrowserOptions;
use clap::Args;
use serde::Deserialize;

use crate::env_vars;
use crate::error::HarnessError;

/// The command line's layer of the settings (with their environment variables, which clap
/// reads): how to reach the model.
#[derive(Debug, Clone, Args, Default)]
pub struct ModelArgs {
    /// Model name sent to the server.
    #[arg(long, env = env_vars::MODEL)]
    pub model: Option<String>,
    /// OpenAI-compatible base URL (OpenAI, Ollama, vLLM, llama.cpp, LiteLLM, ...).
    #[arg(long, env = env_vars::OPENAI_BASE_URL)]
    pub base_url: Option<String>,
    /// API key (never written to the tape).
    #[arg(long, env = env_vars::OPENAI_API_KEY, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Serve this script on 127.0.0.1 and use it as the model (offline runs and tests).
    #[arg(long, env = env_vars::SCRIPT, conflicts_with = "base_url")]
    pub script: Option<PathBuf>,
}

/// The command line's layer: limits of a run.
#[derive(Debug, Clone, Args, Default)]
pub struct LimitArgs {
    /// Sessions the thread may run in all (initializer included).
    #[arg(long, env = env_vars::MAX_SESSIONS)]
    pub max_sessions: Option<u32>,
    /// Do without semantic memory for this run.
    #[arg(long)]
    pub no_memory: bool,
    /// Do without browser verification (features can then never pass).
    #[arg(long)]
    pub no_verify: bool,
    /// Run the agent's bash commands without the OS sandbox (`[sandbox]` in baton.toml).
    #[arg(long)]
    pub no_sandbox: bool,
}

/// Everything a thread run needs to know, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub model: String,
    pub base_url: String,
    pub api_key: Option<String>,
    pub script: Option<PathBuf>,
    pub request_timeout: Duration,
    pub max_attempts: u32,
    pub max_sessions: u32,
    pub step_timeout: Duration,
    pub loop_repeat_limit: u32,
    pub context_limit_tokens: usize,
    pub prices: BTreeMap<String, Prices>,
    pub workflow: String,
    pub memory_enabled: bool,
    pub memory_top_k: usize,
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<String>,
    /// The server collection memories go in (`QDRANT_COLLECTION` / `memory.collection`).
    pub qdrant_collection: String,
    pub verify_enabled: bool,
    pub chromium: Option<PathBuf>,
    /// Coding sessions a feature gets before it is marked blocked and the thread moves on.
    pub feature_attempts: u32,
    /// Initializer sessions in a row that may end without a valid feature list before the
    /// thread stops.
    pub initializer_attempts: u32,
    /// Project files the model may not change besides `app_spec.md` and `baton.toml`
    /// (`protected = [...]`), relative to the project.
    pub protected: Vec<String>,
    /// The longest a bash command runs in the foreground, whatever the model asks; past it
    /// the command goes on in the background (`bash_timeout_cap_secs`).
    pub bash_timeout_cap: Duration,
    /// How often a progress line reports a model request or tool call still in flight.
    pub progress_interval: Duration,
    /// The limits a config file set (by their `baton.toml` key): a thread's recorded
    /// limits give way to these on resume (see `connection`).
    pub set_by_files: Vec<&'static str>,
    pub pause: PauseRules,
    /// `[sandbox]`: how the agent's bash commands are confined (`--no-sandbox` turns it off).
    pub sandbox: SandboxPolicy,
}

/// `[pause]`: when a running thread pauses by itself and waits for `baton continue`.
/// Every rule is off unless set: an unattended run goes on unless asked otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRules {
    /// Pause after this many failing tool calls in a row.
    pub failing_tool_calls: Option<u32>,
    /// Pause when a session ends on a loop.
    #[serde(default)]
    pub on_loop: bool,
    /// Pause when a feature uses its attempt budget and is blocked.
    #[serde(default)]
    pub on_blocked: bool,
    /// Pause once the thread has used this many tokens.
    pub max_tokens: Option<u64>,
    /// Pause once the thread has cost this much (needs a price for the model).
    pub max_cost_usd: Option<f64>,
    /// Pause once the thread has taken this many steps.
    pub max_steps: Option<u64>,
    /// Pause after this many seconds of wall time in one run of the process.
    pub max_wall_secs: Option<u64>,
}

impl PauseRules {
    /// `self` wins over `lower` rule by rule.
    fn over(self, lower: PauseRules) -> PauseRules {
        PauseRules {
            failing_tool_calls: self.failing_tool_calls.or(lower.failing_tool_calls),
            on_loop: self.on_loop || lower.on_loop,
            on_blocked: self.on_blocked || lower.on_blocked,
            max_tokens: self.max_tokens.or(lower.max_tokens),
            max_cost_usd: self.max_cost_usd.or(lower.max_cost_usd),
            max_steps: self.max_steps.or(lower.max_steps),
            max_wall_secs: self.max_wall_secs.or(lower.max_wall_secs),
        }
    }
}

/// The file form: every key optional, unknown keys rejected so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    model: Option<String>,
    base_url: Option<String>,
    request_timeout_secs: Option<u64>,
    max_attempts: Option<u32>,
    max_sessions: Option<u32>,
    step_timeout_secs: Option<u64>,
    loop_repeat_limit: Option<u32>,
    context_limit_tokens: Option<usize>,
    workflow: Option<String>,
    feature_attempts: Option<u32>,
    initializer_attempts: Option<u32>,
    #[serde(default)]
    protected: Vec<String>,
    bash_timeout_cap_secs: Option<u64>,
    progress_interval_secs: Option<u64>,
    #[serde(default)]
    prices: BTreeMap<String, Prices>,
    #[serde(default)]
    memory: FileMemory,
    #[serde(default)]
    verify: FileVerify,
    #[serde(default)]
    pause: PauseRules,
    #[serde(default)]
    sandbox: FileSandbox,
}

/// `[sandbox]`; unset keys take `SandboxPolicy::default()`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSandbox {
    enabled: Option<bool>,
    required: Option<bool>,
    network: Option<bool>,
    home_allow: Option<Vec<PathBuf>>,
}

impl FileSandbox {
    fn over(self, lower: FileSandbox) -> FileSandbox {
        FileSandbox {
            enabled: self.enabled.or(lower.enabled),
            required: self.required.or(lower.required),
            network: self.network.or(lower.network),
            home_allow: self.home_allow.or(lower.home_allow),
        }
    }

    fn policy(self, turned_off: bool) -> SandboxPolicy {
        let default = SandboxPolicy::default();
        SandboxPolicy {
            enabled: !turned_off && self.enabled.unwrap_or(default.enabled),
            required: self.required.unwrap_or(default.required),
            network: self.network.unwrap_or(default.network),
            home_allow: self.home_allow.unwrap_or(default.home_allow),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMemory {
    enabled: Option<bool>,
    top_k: Option<usize>,
    qdrant_url: Option<String>,
    collection: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVerify {
    enabled: Option<bool>,
    chromium: Option<PathBuf>,
}

/// The server collection baton's memories live in unless `memory.collection` says otherwise.
pub const COLLECTION: &str = "baton";

/// The name of the per-project config file.
pub const PROJECT_CONFIG: &str = "baton.toml";

impl FileConfig {
    fn read(path: &Path) -> Result<Option<FileConfig>, HarnessError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(HarnessError::io(path, source)),
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|error| HarnessError::BadConfig {
                path: path.to_path_buf(),
                detail: error.to_string(),
            })
    }

    /// `self` wins over `lower` key by key.
    fn over(self, lower: FileConfig) -> FileConfig {
        let mut prices = lower.prices;
        prices.extend(self.prices);
        FileConfig {
            model: self.model.or(lower.model),
            base_url: self.base_url.or(lower.base_url),
            request_timeout_secs: self.request_timeout_secs.or(lower.request_timeout_secs),
            max_attempts: self.max_attempts.or(lower.max_attempts),
            max_sessions: self.max_sessions.or(lower.max_sessions),
            step_timeout_secs: self.step_timeout_secs.or(lower.step_timeout_secs),
            loop_repeat_limit: self.loop_repeat_limit.or(lower.loop_repeat_limit),
            context_limit_tokens: self.context_limit_tokens.or(lower.context_limit_tokens),
            workflow: self.workflow.or(lower.workflow),
            feature_attempts: self.feature_attempts.or(lower.feature_attempts),
            initializer_attempts: self.initializer_attempts.or(lower.initializer_attempts),
            protected: [self.protected, lower.protected].concat(),
            bash_timeout_cap_secs: self.bash_timeout_cap_secs.or(lower.bash_timeout_cap_secs),
            progress_interval_secs: self.progress_interval_secs.or(lower.progress_interval_secs),
            prices,
            memory: FileMemory {
                enabled: self.memory.enabled.or(lower.memory.enabled),
                top_k: self.memory.top_k.or(lower.memory.top_k),
                qdrant_url: self.memory.qdrant_url.or(lower.memory.qdrant_url),
                collection: self.memory.collection.or(lower.memory.collection),
            },
            verify: FileVerify {
                enabled: self.verify.enabled.or(lower.verify.enabled),
                chromium: self.verify.chromium.or(lower.verify.chromium),
            },
            pause: self.pause.over(lower.pause),
            sandbox: self.sandbox.over(lower.sandbox),
        }
    }
}

impl FileConfig {
    /// The keys of the limits a thread records that these files set.
    fn limits_set(&self) -> Vec<&'static str> {
        [
            ("request_timeout_secs", self.request_timeout_secs.is_some()),
            ("max_attempts", self.max_attempts.is_some()),
            ("step_timeout_secs", self.step_timeout_secs.is_some()),
            ("loop_repeat_limit", self.loop_repeat_limit.is_some()),
            ("context_limit_tokens", self.context_limit_tokens.is_some()),
            ("feature_attempts", self.feature_attempts.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }
}

fn user_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("baton").join("config.toml"))
}

impl Settings {
    /// Resolves the settings for a run in `project`.
    pub fn resolve(
        project: &Path,
        model: &ModelArgs,
        limits: &LimitArgs,
        workflow: Option<&str>,
    ) -> Result<Settings, HarnessError> {
        let user = match user_config_path() {
            Some(path) => FileConfig::read(&path)?.unwrap_or_default(),
            None => FileConfig::default(),
        };
        let file = FileConfig::read(&project.join(PROJECT_CONFIG))?
            .unwrap_or_default()
            .over(user);
        let set_by_files = file.limits_set();
        let qdrant_url = env_vars::get(env_vars::QDRANT_URL).or(file.memory.qdrant_url);
        Ok(Settings {
            model: model
                .model
                .clone()
                .or(file.model)
                .unwrap_or_else(|| "gpt-4o-mini".to_owned()),
            base_url: model
                .base_url
                .clone()
                .or(file.base_url)
                .unwrap_or_else(|| "https://api.openai.com/v1".to_owned()),
            api_key: model.api_key.clone(),
            script: model.script.clone(),
            request_timeout: Duration::from_secs(file.request_timeout_secs.unwrap_or(300)),
            max_attempts: file.max_attempts.unwrap_or(5),
            max_sessions: limits.max_sessions.or(file.max_sessions).unwrap_or(50),
            step_timeout: Duration::from_secs(file.step_timeout_secs.unwrap_or(900)),
            loop_repeat_limit: file.loop_repeat_limit.unwrap_or(3).max(2),
            context_limit_tokens: file.context_limit_tokens.unwrap_or(120_000),
            prices: file.prices,
            workflow: workflow
                .map(str::to_owned)
                .or(file.workflow)
                .unwrap_or_else(|| "two-agent".to_owned()),
            memory_enabled: !limits.no_memory && file.memory.enabled.unwrap_or(true),
            memory_top_k: file.memory.top_k.unwrap_or(5),
            qdrant_url,
            qdrant_api_key: env_vars::get(env_vars::QDRANT_API_KEY),
            qdrant_collection: env_vars::get(env_vars::QDRANT_COLLECTION)
                .or(file.memory.collection)
                .unwrap_or_else(|| COLLECTION.to_owned()),
            verify_enabled: !limits.no_verify && file.verify.enabled.unwrap_or(true),
            chromium: std::env::var_os(env_vars::CHROMIUM)
                .map(PathBuf::from)
                .or(file.verify.chromium),
            pause: file.pause,
            feature_attempts: file.feature_attempts.unwrap_or(3).max(1),
            initializer_attempts: file.initializer_attempts.unwrap_or(3).max(1),
            protected: file.protected,
            bash_timeout_cap: Duration::from_secs(file.bash_timeout_cap_secs.unwrap_or(120).max(1)),
            progress_interval: Duration::from_secs(
                file.progress_interval_secs.unwrap_or(10).max(1),
            ),
            set_by_files,
            sandbox: file.sandbox.policy(limits.no_sandbox),
        })
    }

    /// The settings of a command that does not talk to the model (`verify`, `recall`,
    /// `memory`, …): the same layers, with nothing given on the command line.
    pub fn for_project(project: &Path) -> Result<Settings, HarnessError> {
        Settings::resolve(project, &ModelArgs::default(), &LimitArgs::default(), None)
    }

    /// How verification starts Chromium: `BATON_CHROMIUM`, else `verify.chromium`, else
    /// where the browser crate finds it.
    pub fn browser_options(&self) -> BrowserOptions {
        BrowserOptions {
            chromium_path: self.chromium.clone(),
            ..BrowserOptions::default()
        }
    }

    /// The price table entry for the configured model, when one is known.
    pub fn price(&self) -> Option<&Prices> {
        self.prices.get(&self.model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_beats_project_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROJECT_CONFIG),
            "model = \"from-file\"\nmax_sessions = 7\nloop_repeat_limit = 4\nfeature_attempts = 2\n",
        )
        .unwrap();
        let cli = ModelArgs {
            model: Some("from-cli".into()),
            ..ModelArgs::default()
        };
        let settings = Settings::resolve(dir.path(), &cli, &LimitArgs::default(), None).unwrap();
        assert_eq!(settings.model, "from-cli");
        assert_eq!(settings.max_sessions, 7);
        assert_eq!(settings.loop_repeat_limit, 4);
        assert_eq!(settings.feature_attempts, 2);
        assert_eq!(
            settings.set_by_files,
            ["loop_repeat_limit", "feature_attempts"]
        );
        assert_eq!(settings.workflow, "two-agent");
    }

    #[test]
    fn sandbox_section_and_no_sandbox_flag() {
        let dir = tempfile::tempdir().unwrap();
        let resolve = |limits: &LimitArgs| {
            Settings::resolve(dir.path(), &ModelArgs::default(), limits, None).unwrap()
        };
        assert_eq!(
            resolve(&LimitArgs::default()).sandbox,
            SandboxPolicy::default()
        );
        std::fs::write(
            dir.path().join(PROJECT_CONFIG),
            "[sandbox]\nnetwork = true\nrequired = true\nhome_allow = [\".m2\"]\n",
        )
        .unwrap();
        let sandbox = resolve(&LimitArgs::default()).sandbox;
        assert!(sandbox.enabled && sandbox.network && sandbox.required);
        assert_eq!(sandbox.home_allow, [PathBuf::from(".m2")]);
        let off = LimitArgs {
            no_sandbox: true,
            ..LimitArgs::default()
        };
        assert!(!resolve(&off).sandbox.enabled);
        std::fs::write(
            dir.path().join(PROJECT_CONFIG),
            "[sandbox]\nnetwrok = true\n",
        )
        .unwrap();
        let error = Settings::resolve(dir.path(), &ModelArgs::default(), &off, None).unwrap_err();
        assert!(error.to_string().contains("netwrok"), "{error}");
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROJECT_CONFIG), "max_sesions = 3\n").unwrap();
        let error = Settings::resolve(
            dir.path(),
            &ModelArgs::default(),
            &LimitArgs::default(),
            None,
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("baton.toml"), "{message}");
        assert!(message.contains("max_sesions"), "{message}");
    }
}
