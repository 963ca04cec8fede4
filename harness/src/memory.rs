//! The project's memory handle: which store (embedded or a Qdrant server) under which
//! project id, the slot a rebuild fills, the queue of writes a server did not take; and
//! recall on a thread's line (`recall_on_line`: ranked by the store, judged by `timeline`,
//! one result per session). What the runner remembers is in `runner/remember.rs`. Point
//! ids are deterministic (the memory crate hashes kind, thread, source and text), so
//! resuming or replaying a thread never duplicates a memory.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use baton_memory::{
    Adoption, Backend, EmbedderOptions, Hit, Memory, MemoryConfig, MemoryError, MemoryKind,
    MemoryRecord, RecallFilter,
};
use chrono::Utc;

use crate::config::Settings;
use crate::error::HarnessError;
use crate::layout::ProjectLayout;
use crate::memory_queue::{PendingMemories, is_unreachable};
use crate::project_id::ProjectIdentity;
use crate::timeline::{Timeline, Visibility};

/// The text a commit is remembered by (its message, then the files it changed); the
/// memory crate owns it so its quality benchmark indexes commits exactly as reindex does.
pub use baton_memory::commit_text;

/// An open memory plus the project id its records carry. The memory sits in a slot the
/// runner can empty and refill: when its files vanish under a running thread (a command ran
/// `rm -rf .baton`), it is rebuilt in the background (`memory_repair`) and, meanwhile,
/// memories are neither stored nor recalled.
#[derive(Clone)]
pub struct MemoryHandle {
    slot: Arc<RwLock<Option<Arc<Memory>>>>,
    /// The project's id (see [`crate::project_id`]): every record carries it, recall filters on it.
    pub project: String,
    /// Writes waiting for the store to answer again (see [`crate::memory_queue`]).
    pub pending: Arc<PendingMemories>,
}

/// The memory configuration for a project whose own files are in `project` (a fork's
/// worktree passes its origin): the embedded shard in `.baton/memory/`, or the Qdrant
/// server named by `QDRANT_URL` / `memory.qdrant_url`.
pub fn config_for(
    project: &Path,
    settings_url: Option<&str>,
    api_key: Option<&str>,
    collection: &str,
) -> MemoryConfig {
    let backend = match settings_url {
        Some(url) => Backend::Server {
            url: url.to_owned(),
            api_key: api_key.map(str::to_owned),
        },
        None => Backend::Edge {
            path: ProjectLayout::of(project).memory(),
        },
    };
    MemoryConfig {
        backend,
        embedder: EmbedderOptions::default(),
        collection: collection.to_owned(),
    }
}

impl MemoryHandle {
    /// Opens the memory of the project in `project` (for a fork's worktree, its origin's),
    /// keyed by the project's id, and adopts memories made before projects had ids.
    pub async fn open(
        project: &Path,
        url: Option<&str>,
        api_key: Option<&str>,
        collection: &str,
    ) -> Result<MemoryHandle, HarnessError> {
        let identity = ProjectIdentity::resolve(project)?;
        let config = |folder: &Path| config_for(folder, url, api_key, collection);
        let memory = match Memory::open(config(&identity.home)).await {
            // The origin's embedded store is one process's at a time; a fork running beside
            // its parent remembers into its own worktree rather than not at all.
            Err(MemoryError::StoreLocked { path }) if !same_folder(&identity.home, project) => {
                tracing::warn!(
                    origin = %path.display(),
                    "the origin project's memory is in use by another process; this worktree \
                     uses its own (a Qdrant server, QDRANT_URL, lets them share)"
                );
                Memory::open(config(project)).await?
            }
            opened => opened?,
        };
        let adoption = if url.is_some() {
            Adoption::Named {
                names: identity.legacy_names(),
                threads: identity.threads(),
            }
        } else {
            Adoption::Everything
        };
        let adopted = memory.adopt(&identity.id, &adoption).await?;
        if adopted > 0 {
            tracing::info!(
                adopted,
                project = %identity.id,
                "memories made before project ids now carry this project's id"
            );
        }
        let pending = PendingMemories::new(&identity.home);
        if pending.waiting()
            && let Err(error) = pending.replay(&memory).await
        {
            pending.report(&error);
        }
        Ok(MemoryHandle {
            slot: Arc::new(RwLock::new(Some(Arc::new(memory)))),
            project: identity.id,
            pending: Arc::new(pending),
        })
    }

    /// Opens the project's memory where its settings say (`Settings::for_project`): a
    /// Qdrant server (`QDRANT_URL` / `memory.qdrant_url`) or the embedded store.
    pub async fn open_configured(project: &Path) -> Result<Self, HarnessError> {
        Self::open_with(project, &Settings::for_project(project)?).await
    }

    /// Opens the project's memory where `settings` say.
    pub(crate) async fn open_with(
        project: &Path,
        settings: &Settings,
    ) -> Result<Self, HarnessError> {
        Self::open(
            project,
            settings.qdrant_url.as_deref(),
            settings.qdrant_api_key.as_deref(),
            &settings.qdrant_collection,
        )
        .await
    }

    /// A handle whose slot is empty, for a store that is being rebuilt (`memory_repair`).
    pub(crate) fn empty(identity: ProjectIdentity) -> Self {
        MemoryHandle {
            slot: Arc::new(RwLock::new(None)),
            project: identity.id,
            pending: Arc::new(PendingMemories::new(&identity.home)),
        }
    }

    /// The memory, unless it is being rebuilt.
    pub fn memory(&self) -> Option<Arc<Memory>> {
        self.slot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Empties the slot, returning what was in it (the runner drops it off the main thread).
    pub(crate) fn take(&self) -> Option<Arc<Memory>> {
        self.slot
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Fills the slot with a (re)opened memory.
    pub(crate) fn put(&self, memory: Memory) {
        *self.slot.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(memory));
    }

    /// A record with the fields every harness memory shares.
    pub fn record(&self, kind: MemoryKind, thread: &str, text: String) -> MemoryRecord {
        MemoryRecord {
            kind,
            text,
            project: self.project.clone(),
            thread: thread.to_owned(),
            session: None,
            step: None,
            tape_seq: None,
            feature: None,
            commit: None,
            file: None,
            at: Utc::now(),
        }
    }

    /// Stores records. A store that does not answer gets them later (queued, fsynced); a
    /// store that refuses them is logged. Either way the session goes on.
    pub(crate) async fn remember(&self, records: Vec<MemoryRecord>) {
        let Some(memory) = self.memory() else { return };
        match memory.remember(records.clone()).await {
            Ok(_) => {
                if self.pending.waiting()
                    && let Err(error) = self.pending.replay(&memory).await
                {
                    self.pending.report(&error);
                }
            }
            Err(error) if is_unreachable(&error) => {
                self.pending.report(&error);
                if let Err(e) = self.pending.push(&records) {
                    tracing::warn!(error = %e, path = %self.pending.path().display(), "could not queue memories; they are lost");
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not store memories; the session goes on without them");
            }
        }
    }
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The first fetch of a recall asks for this many hits per hit wanted: memories not on
/// the viewer's line are dropped after ranking, and a progress note whose session's commit
/// is also found gives its place away.
const OVERFETCH: usize = 4;

/// The most hits one recall fetches while looking for enough on the viewer's line.
const MAX_FETCH: usize = 1_024;

/// Recalls `limit` memories true on `timeline`'s line (with `all_branches`, the others
/// too, each with the label saying where it was made), one per session's work: a
/// session's progress note says what its commit message says, so when both match, the
/// commit (which names its sha) stands for both. The store is asked for more than `limit`
/// and the ranking filtered, so moving a thread's line (rewind, fork, resume) never
/// re-embeds anything; when too few survive, it asks again for more.
pub async fn recall_on_line(
    memory: &Memory,
    query: &str,
    filter: &RecallFilter,
    limit: usize,
    timeline: &mut Timeline,
    all_branches: bool,
) -> Result<Vec<(Hit, Visibility)>, baton_memory::MemoryError> {
    let mut fetch = limit.saturating_mul(OVERFETCH).clamp(20, MAX_FETCH);
    loop {
        let hits = memory.recall(query, filter, fetch).await?;
        let exhausted = hits.len() < fetch || fetch >= MAX_FETCH;
        let judged: Vec<(Hit, Visibility)> = hits
            .into_iter()
            .map(|hit| {
                let visibility = timeline.judge(&hit.record);
                (hit, visibility)
            })
            .filter(|(_, visibility)| all_branches || *visibility == Visibility::Live)
            .collect();
        let distinct = one_per_session(judged, limit);
        if distinct.len() >= limit || exhausted {
            return Ok(distinct);
        }
        fetch = fetch.saturating_mul(OVERFETCH).min(MAX_FETCH);
    }
}

/// The first `limit` hits, leaving out progress notes whose session's commit is among them.
fn one_per_session(hits: Vec<(Hit, Visibility)>, limit: usize) -> Vec<(Hit, Visibility)> {
    let committed: std::collections::HashSet<(String, Option<u32>)> = hits
        .iter()
        .filter(|(hit, _)| hit.record.kind == MemoryKind::Commit)
        .map(|(hit, _)| (hit.record.thread.clone(), hit.record.session))
        .collect();
    hits.into_iter()
        .filter(|(hit, _)| {
            hit.record.kind != MemoryKind::Progress
                || hit.record.session.is_none()
                || !committed.contains(&(hit.record.thread.clone(), hit.record.session))
        })
        .take(limit)
        .collect()
}

/// A hit's line, with the label of a memory not on the viewer's line in front.
pub fn format_judged(hit: &Hit, visibility: &Visibility) -> String {
    match visibility {
        Visibility::Live => format_hit(hit),
        Visibility::Hidden(label) => format!("[{label}] {}", format_hit(hit)),
    }
}

/// One line per hit, with its source, for prompts and the recall tool.
pub fn format_hit(hit: &Hit) -> String {
    let record = &hit.record;
    let mut source = record.kind.to_string();
    if let Some(commit) = &record.commit {
        source.push(' ');
        source.push_str(&commit[..commit.len().min(7)]);
    }
    if let Some(session) = record.session {
        let _ = write!(source, " · session {session}");
    }
    if let Some(feature) = &record.feature {
        let _ = write!(source, " · {feature}");
    }
    let text = record.text.trim().replace('\n', " ");
    let text: String = text.chars().take(400).collect();
    format!("[{source}] {text}")
}
