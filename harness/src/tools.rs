//! The agent's tool set for a thread: the jailed file and shell tools of `baton-tools`, plus
//! the harness's own: `recall` (semantic memory) and the `browser_*` tools (to explore the
//! running app; deciding `passes` stays with the harness). Calls run in a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_memory::{MemoryKind, RecallFilter};
use baton_model::ToolDefinition;
use baton_tools::{
    Jail, SandboxStatus, Tool, ToolBox, ToolConfig, ToolOutput, ToolSpec, parse_args,
};
use baton_verify::{BrowserOptions, BrowserSession, FeatureList, RunningApp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Settings;
use crate::error::HarnessError;
use crate::layout::ProjectLayout;
use crate::memory::{MemoryHandle, format_hit, recall_on_line};
use crate::timeline::Timeline;

/// Checks, before a thread starts or resumes, that its bash can run as `[sandbox]` asks:
/// a sandbox that cannot start is one warning (once per process), or a refusal when it is
/// required.
pub fn check_sandbox(settings: &Settings) -> Result<(), HarnessError> {
    match settings.sandbox.status() {
        SandboxStatus::On | SandboxStatus::Off => Ok(()),
        SandboxStatus::Unavailable(why) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| eprintln!("baton: warning: {why}"));
            Ok(())
        }
        SandboxStatus::Refused(why) => Err(HarnessError::BadInput(why)),
    }
}

/// The tools of one thread.
#[derive(Clone)]
pub struct HarnessTools {
    toolbox: Arc<ToolBox>,
}

impl HarnessTools {
    pub fn new(
        project: &Path,
        thread: &str,
        memory: Option<MemoryHandle>,
        settings: &Settings,
        read_only: Vec<(String, String)>,
    ) -> Result<HarnessTools, HarnessError> {
        let jail = Jail::new(project).map_err(|e| HarnessError::BadInput(e.to_string()))?;
        let jail = Arc::new(jail.with_read_only(read_only));
        let config = ToolConfig {
            bash_timeout: settings.bash_timeout_cap,
            bash_max_timeout: settings.bash_timeout_cap,
            sandbox: settings.sandbox.clone(),
            ..ToolConfig::default()
        };

        let mut toolbox = ToolBox::standard(jail, config);
        if let Some(memory) = memory {
            toolbox.register(Arc::new(RecallTool {
                memory,
                project: project.to_path_buf(),
                thread: thread.to_owned(),
                runtime: tokio::runtime::Handle::current(),
            }));
        }
        let browser = Arc::new(Browser::new(project, settings));
        for action in BrowserAction::ALL {
            toolbox.register(Arc::new(BrowserTool {
                browser: Arc::clone(&browser),
                action,
            }));
        }
        Ok(HarnessTools {
            toolbox: Arc::new(toolbox),
        })
    }

    /// The definitions sent to the model: all tools, or the node's allow-list.
    pub fn definitions(&self, allowed: &[String]) -> Vec<ToolDefinition> {
        self.toolbox
            .specs(allowed)
            .into_iter()
            .map(|spec| ToolDefinition {
                name: spec.name,
                description: spec.description,
                parameters: spec.parameters,
            })
            .collect()
    }

    /// Runs one call off the async runtime, with the time the tool itself took (without the
    /// hand-over to the blocking pool). Never fails: errors are outputs the model sees.
    pub async fn call(&self, name: &str, arguments: &str) -> (ToolOutput, Duration) {
        let toolbox = Arc::clone(&self.toolbox);
        let name = name.to_owned();
        let arguments = arguments.to_owned();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let output = toolbox.call(&name, &arguments);
            (output, started.elapsed())
        })
        .await
        .unwrap_or_else(|join| {
            let output = ToolOutput::error(format!("the tool crashed: {join}"));
            (output, Duration::ZERO)
        })
    }
}

/// `recall`: the agent searches what earlier sessions learned.
struct RecallTool {
    memory: MemoryHandle,
    /// The thread's worktree and name: recall shows what is true on its line.
    project: PathBuf,
    thread: String,
    runtime: tokio::runtime::Handle,
}

#[derive(Deserialize)]
struct RecallArgs {
    query: String,
    kind: Option<String>,
    feature: Option<String>,
    limit: Option<usize>,
}

impl Tool for RecallTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "recall".to_owned(),
            description:
                "Search the semantic memory of earlier sessions of this project: commits, \
                progress notes, errors and their fixes, failed checks, instructions. Ask in plain \
                words (\"how are todos stored\"); results come with their source."
                    .to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What you want to know, in plain words."},
                    "kind": {"type": "string", "enum": ["commit", "progress", "summary", "error", "fix", "verification", "instruction"], "description": "Only memories of this kind."},
                    "feature": {"type": "string", "description": "Only memories about this feature id."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 20, "description": "How many results (default 5)."}
                },
                "required": ["query"]
            }),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        let args: RecallArgs = match parse_args(args) {
            Ok(args) => args,
            Err(error) => return ToolOutput::error(error.to_string()),
        };
        let kinds = match args
            .kind
            .as_deref()
            .map(str::parse::<MemoryKind>)
            .transpose()
        {
            Ok(kind) => kind.into_iter().collect(),
            Err(error) => return ToolOutput::error(format!("kind: {error}")),
        };
        let filter = RecallFilter {
            project: Some(self.memory.project.clone()),
            kinds,
            feature: args.feature,
            ..RecallFilter::default()
        };
        let limit = args.limit.unwrap_or(5).clamp(1, 20);
        let Some(memory) = self.memory.memory() else {
            return ToolOutput::error(
                "memory is being rebuilt (its files were deleted); try recall again in a few steps"
                    .to_owned(),
            );
        };
        let mut timeline = match Timeline::for_thread(&self.project, &self.thread) {
            Ok(timeline) => timeline,
            Err(error) => return ToolOutput::error(format!("recall failed: {error}")),
        };
        match self.runtime.block_on(async move {
            recall_on_line(&memory, &args.query, &filter, limit, &mut timeline, false).await
        }) {
            Ok(hits) if hits.is_empty() => ToolOutput::success("no memories match".to_owned()),
            Ok(hits) => ToolOutput::success(
                hits.iter()
                    .enumerate()
                    .map(|(i, (hit, _))| {
                        format!("{}. ({:.2}) {}", i + 1, hit.score, format_hit(hit))
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            // An outage is not the model's mistake: it is told, without a failed call that
            // would be remembered as a lesson of the project or count towards a pause.
            Err(error) if crate::memory_queue::is_unreachable(&error) => {
                self.memory.pending.report(&error);
                ToolOutput::success("memory is unreachable just now; go on without it".to_owned())
            }
            Err(error) => ToolOutput::error(format!("recall failed: {error}")),
        }
    }
}

/// The browser the agent explores with, and the app it runs against, both started lazily.
struct Browser {
    project: PathBuf,
    options: BrowserOptions,
    evidence: PathBuf,
    inner: Mutex<Option<(Option<RunningApp>, BrowserSession)>>,
}

impl Browser {
    fn new(project: &Path, settings: &Settings) -> Browser {
        Browser {
            project: project.to_path_buf(),
            options: settings.browser_options(),
            evidence: ProjectLayout::of(project).agent_evidence(),
            inner: Mutex::new(None),
        }
    }

    /// Runs `f` with the session, starting the app (from the feature list's `app` header or
    /// `init.sh`) and the browser on first use.
    fn with_session<T>(
        &self,
        f: impl FnOnce(&BrowserSession, Option<&str>) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| "the browser crashed earlier; try again".to_owned())?;
        if guard.is_none() {
            let app = self.start_app()?;
            let session = BrowserSession::new(self.options.clone());
            *guard = Some((app, session));
        }
        let Some((app, session)) = guard.as_ref() else {
            return Err("the browser is not running".to_owned());
        };
        f(session, app.as_ref().map(|a| a.url.as_str()))
    }

    fn start_app(&self) -> Result<Option<RunningApp>, String> {
        if !self.project.join("init.sh").exists()
            && !self
                .project
                .join(crate::feature_guard::FEATURE_LIST)
                .exists()
        {
            return Ok(None);
        }
        let app = FeatureList::load(&self.project.join(crate::feature_guard::FEATURE_LIST))
            .ok()
            .and_then(|list| list.app)
            .unwrap_or_default();
        let log = ProjectLayout::of(&self.project).agent_app_log();
        baton_verify::start_app(&self.project, &app, &log)
            .map(Some)
            .map_err(|e| format!("could not start the app: {e}"))
    }
}

#[derive(Clone, Copy)]
enum BrowserAction {
    Navigate,
    Click,
    Fill,
    Text,
    Screenshot,
    Console,
}

impl BrowserAction {
    const ALL: [BrowserAction; 6] = [
        BrowserAction::Navigate,
        BrowserAction::Click,
        BrowserAction::Fill,
        BrowserAction::Text,
        BrowserAction::Screenshot,
        BrowserAction::Console,
    ];
}

struct BrowserTool {
    browser: Arc<Browser>,
    action: BrowserAction,
}

#[derive(Deserialize)]
struct NavigateArgs {
    url: String,
}
#[derive(Deserialize)]
struct SelectorArgs {
    selector: String,
}
#[derive(Deserialize)]
struct FillArgs {
    selector: String,
    text: String,
}
#[derive(Deserialize)]
struct TextArgs {
    selector: Option<String>,
}
#[derive(Deserialize)]
struct ShotArgs {
    name: String,
}

fn selector_schema(description: &str) -> Value {
    json!({"type": "object", "properties": {"selector": {"type": "string", "description": description}}, "required": ["selector"]})
}

impl Tool for BrowserTool {
    fn spec(&self) -> ToolSpec {
        let (name, description, parameters) = match self.action {
            BrowserAction::Navigate => (
                "browser_navigate",
                "Open a page of the running app in headless Chromium (the app is started with init.sh on first use). A path like \"/\" is joined to the app's URL.",
                json!({"type": "object", "properties": {"url": {"type": "string", "description": "A path of the app (\"/\", \"/#/active\") or an http(s) URL."}}, "required": ["url"]}),
            ),
            BrowserAction::Click => (
                "browser_click",
                "Click the element matching a CSS selector.",
                selector_schema("CSS selector of the element to click."),
            ),
            BrowserAction::Fill => (
                "browser_fill",
                "Type text into the input matching a CSS selector.",
                json!({"type": "object", "properties": {"selector": {"type": "string"}, "text": {"type": "string"}}, "required": ["selector", "text"]}),
            ),
            BrowserAction::Text => (
                "browser_text",
                "The visible text of the page, or of the element matching a CSS selector.",
                json!({"type": "object", "properties": {"selector": {"type": "string"}}}),
            ),
            BrowserAction::Screenshot => (
                "browser_screenshot",
                "Save a PNG screenshot of the page; returns its path.",
                json!({"type": "object", "properties": {"name": {"type": "string", "description": "A short name for the file."}}, "required": ["name"]}),
            ),
            BrowserAction::Console => (
                "browser_console",
                "The browser console messages and uncaught errors of the page so far.",
                json!({"type": "object", "properties": {}}),
            ),
        };
        ToolSpec {
            name: name.to_owned(),
            description: description.to_owned(),
            parameters,
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        let result = match self.action {
            BrowserAction::Navigate => parse_args::<NavigateArgs>(args)
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    self.browser.with_session(|s, base| {
                        let url = join_url(base, &a.url);
                        s.navigate(&url)
                            .map(|title| format!("opened {url}: \"{title}\""))
                            .map_err(|e| e.to_string())
                    })
                }),
            BrowserAction::Click => parse_args::<SelectorArgs>(args)
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    self.browser.with_session(|s, _| {
                        s.click(&a.selector)
                            .map(|()| format!("clicked {}", a.selector))
                            .map_err(|e| e.to_string())
                    })
                }),
            BrowserAction::Fill => parse_args::<FillArgs>(args)
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    self.browser.with_session(|s, _| {
                        s.fill(&a.selector, &a.text)
                            .map(|()| format!("filled {}", a.selector))
                            .map_err(|e| e.to_string())
                    })
                }),
            BrowserAction::Text => parse_args::<TextArgs>(args)
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    self.browser.with_session(|s, _| {
                        s.visible_text(a.selector.as_deref())
                            .map_err(|e| e.to_string())
                    })
                }),
            BrowserAction::Screenshot => parse_args::<ShotArgs>(args)
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    let safe: String = a
                        .name
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                    let path = self.browser.evidence.join(format!(
                        "{}.png",
                        if safe.is_empty() { "shot" } else { &safe }
                    ));
                    self.browser.with_session(|s, _| {
                        s.screenshot(&path)
                            .map(|p| format!("saved {}", p.display()))
                            .map_err(|e| e.to_string())
                    })
                }),
            BrowserAction::Console => self.browser.with_session(|s, _| {
                let lines = s.console_log();
                Ok(if lines.is_empty() {
                    "no console messages".to_owned()
                } else {
                    lines.join("\n")
                })
            }),
        };
        match result {
            Ok(text) => ToolOutput::success(text),
            Err(error) => ToolOutput::error(error),
        }
    }
}

fn join_url(base: Option<&str>, target: &str) -> String {
    if target.starts_with("http://") || target.starts_with("https://") {
        return target.to_owned();
    }
    match base {
        Some(base) => format!(
            "{}/{}",
            base.trim_end_matches('/'),
            target.trim_start_matches('/')
        ),
        None => target.to_owned(),
    }
}
