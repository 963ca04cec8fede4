//! ONNX Runtime sessions of the model and how texts are spread over them. A query or a few
//! texts run on the first session, which uses every core; a large call (a reindex, a
//! session's memories) runs on one single-threaded session per core, each taking the next
//! text. The model's matrices are small for one text, so one core per text wastes less on
//! handing work between threads: measured on 2 cores, two single-threaded sessions embedded
//! 20–30% more texts per second than one session with two threads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use fastembed::{
    EmbeddingModel, InitOptionsUserDefined, Pooling, TextEmbedding, TextInitOptions,
    TokenizerFiles, UserDefinedEmbeddingModel,
};

use super::Precision;
use crate::MemoryError;

/// all-MiniLM-L6-v2 was trained on 256-token windows (sentence-transformers' setting).
const MAX_TOKENS: usize = 256;
/// Texts per ONNX run: one. With int8 arithmetic a text's vector would otherwise depend a
/// little on the texts beside it (cosine down to 0.999), and with no padding one text per
/// run is as fast as batches: fp32 on 2 cores embedded 97 commits/s against 74/s in
/// batches of 32.
const BATCH: usize = 1;
/// Calls with fewer texts stay on the first session: starting the workers' sessions
/// (30–100 ms each) would cost more than it saves.
const PARALLEL_FROM: usize = 16;
/// Worker sessions at most: each holds its own copy of the weights.
const MAX_WORKERS: usize = 4;
/// ONNX Runtime's intra-op workers busy-wait between operators by default. On a small
/// machine shared with other work a spinning worker takes the core another thread
/// needs: measured on 2 loaded cores, 1,000 short texts embedded at 127/s spinning
/// and 240/s not, with a third less CPU time.
const ORT_NO_SPINNING: [(&str, &str); 2] = [
    ("session.intra_op.allow_spinning", "0"),
    ("session.inter_op.allow_spinning", "0"),
];

/// Where every session's weights come from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// A local model folder and the weights to read from it.
    Folder(PathBuf, Precision),
    /// fastembed's download of the fp32 model from Hugging Face.
    Download,
}

/// The sessions of one embedder.
pub(super) struct Sessions {
    source: Source,
    // fastembed's embed takes &mut self, hence one lock per session.
    first: Mutex<TextEmbedding>,
    /// Loaded on the first large call; `None` when that failed (the first session then
    /// does the work alone, as it would on one core).
    workers: OnceLock<Option<Vec<Mutex<TextEmbedding>>>>,
}

impl Sessions {
    /// The weights every session runs (the download is fp32).
    pub(super) fn precision(&self) -> Precision {
        match self.source {
            Source::Folder(_, precision) => precision,
            Source::Download => Precision::Fp32,
        }
    }

    /// Loads the first session (every core).
    pub(super) fn load(source: Source) -> Result<Self, MemoryError> {
        let first = open(&source, None)?;
        Ok(Self {
            source,
            first: Mutex::new(first),
            workers: OnceLock::new(),
        })
    }

    /// One vector per text, in order.
    pub(super) fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError> {
        match self.workers_for(texts.len()) {
            Some(workers) => embed_in_parallel(workers, texts),
            None => run(&self.first, texts),
        }
    }

    fn workers_for(&self, texts: usize) -> Option<&[Mutex<TextEmbedding>]> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if texts < PARALLEL_FROM || cores < 2 {
            return None;
        }
        self.workers
            .get_or_init(|| {
                let count = cores.min(MAX_WORKERS);
                match (0..count)
                    .map(|_| open(&self.source, Some(1)).map(Mutex::new))
                    .collect::<Result<Vec<_>, _>>()
                {
                    Ok(workers) => Some(workers),
                    Err(error) => {
                        tracing::warn!(%error, "cannot start embedding workers; embedding on one session");
                        None
                    }
                }
            })
            .as_deref()
    }
}

/// Each worker takes the next text until none is left; vectors go back to their places.
fn embed_in_parallel(
    workers: &[Mutex<TextEmbedding>],
    texts: &[&str],
) -> Result<Vec<Vec<f32>>, MemoryError> {
    let next = AtomicUsize::new(0);
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .iter()
            .map(|session| {
                let next = &next;
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(text) = texts.get(i) else {
                            return Ok(done);
                        };
                        let mut vectors = run(session, &[text])?;
                        done.push((i, vectors.pop().unwrap_or_default()));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(MemoryError::Embedding(
                        "an embedding worker panicked".into(),
                    ))
                })
            })
            .collect::<Vec<Result<Vec<(usize, Vec<f32>)>, MemoryError>>>()
    });
    let mut out = vec![Vec::new(); texts.len()];
    for done in results {
        for (i, vector) in done? {
            out[i] = vector;
        }
    }
    Ok(out)
}

fn run(session: &Mutex<TextEmbedding>, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError> {
    // A panic inside fastembed poisons the lock; the model itself is still usable.
    let mut session = session
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    session
        .embed(texts, Some(BATCH))
        .map_err(MemoryError::embedding)
}

/// A session of `source`'s weights; `threads` `None` means ONNX Runtime's default (every
/// core).
fn open(source: &Source, threads: Option<usize>) -> Result<TextEmbedding, MemoryError> {
    match source {
        Source::Folder(dir, precision) => open_local(dir, *precision, threads),
        Source::Download => open_download(threads),
    }
}

fn open_local(
    dir: &Path,
    precision: Precision,
    threads: Option<usize>,
) -> Result<TextEmbedding, MemoryError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| MemoryError::Io {
            what: "reading model file",
            path,
            source,
        })
    };
    let tokenizer_files = TokenizerFiles {
        tokenizer_file: read("tokenizer.json")?,
        config_file: read("config.json")?,
        special_tokens_map_file: read("special_tokens_map.json")?,
        tokenizer_config_file: read("tokenizer_config.json")?,
    };
    let model = UserDefinedEmbeddingModel::new(read(precision.model_file())?, tokenizer_files)
        .with_pooling(Pooling::Mean);
    let mut options = ORT_NO_SPINNING
        .iter()
        .fold(InitOptionsUserDefined::new(), |o, (k, v)| {
            o.with_session_config(*k, *v)
        })
        .with_max_length(MAX_TOKENS);
    if let Some(threads) = threads {
        options = options.with_intra_threads(threads);
    }
    TextEmbedding::try_new_from_user_defined(model, options).map_err(MemoryError::embedding)
}

fn open_download(threads: Option<usize>) -> Result<TextEmbedding, MemoryError> {
    let cache = dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/baton/fastembed");
    let mut options = ORT_NO_SPINNING
        .iter()
        .fold(
            TextInitOptions::new(EmbeddingModel::AllMiniLML6V2),
            |o, (k, v)| o.with_session_config(*k, *v),
        )
        .with_cache_dir(cache)
        .with_max_length(MAX_TOKENS)
        .with_show_download_progress(false);
    if let Some(threads) = threads {
        options = options.with_intra_threads(threads);
    }
    TextEmbedding::try_new(options).map_err(MemoryError::embedding)
}
