//! Benchmarks as library functions (the harness prints them: `baton bench memory`,
//! `baton bench recall-quality`). Figures are measured and returned, never asserted.

mod quality;
mod synthetic;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

pub use quality::{
    BUILTIN_CORPUS, Corpus, CorpusMemory, CorpusQuery, CorpusSource, QualityOptions, QualityReport,
    RULES_TRIED, RuleScore, Score, measure, recall_quality, recall_sets_in,
};

use crate::store::{Condition, EdgeStore, Filter, Query, SearchRequest, ServerStore, VectorStore};
use crate::{Embedder, EmbedderOptions, FastEmbedder, Memory, MemoryError, RecallFilter};
pub use synthetic::commit_like_texts;
use synthetic::{Shape, Synthetic};

/// What to measure.
#[derive(Debug, Clone)]
pub struct MemoryBenchOptions {
    /// Points in the store.
    pub n: usize,
    /// Queries per figure.
    pub queries: usize,
    /// Scratch folder (stores are created in subfolders and removed afterwards).
    pub dir: PathBuf,
    /// Texts embedded for the throughput figure.
    pub embed_texts: usize,
    /// Topic centres of the text-shaped vectors.
    pub topics: usize,
    /// Model location.
    pub embedder: EmbedderOptions,
    /// Random seed, so runs are comparable.
    pub seed: u64,
    /// A Qdrant server (gRPC URL, API key) to measure beside the embedded store.
    pub server: Option<(String, Option<String>)>,
}

impl Default for MemoryBenchOptions {
    fn default() -> Self {
        Self {
            n: 100_000,
            queries: 200,
            dir: std::env::temp_dir().join("baton-memory-bench"),
            embed_texts: 1_000,
            topics: 2_000,
            embedder: EmbedderOptions::default(),
            seed: 7,
            server: None,
        }
    }
}

/// Everything `baton bench memory` prints.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryBenchReport {
    /// Embedding figures.
    pub embed: EmbedFigures,
    /// Store figures on vectors shaped like text embeddings (topic centres + noise).
    pub text_shaped: StoreFigures,
    /// Store figures on uniformly random vectors: HNSW's worst case.
    pub uniform_random: StoreFigures,
    /// Whole recall (embed query + dense and BM25 search + fusion) on the text-shaped store.
    pub recall: RecallFigures,
    /// The same text-shaped figures and whole recall on a Qdrant server, when one was given.
    pub server: Option<ServerFigures>,
}

/// A Qdrant server's figures, on the same points and queries as the embedded store's.
#[derive(Debug, Clone, Serialize)]
pub struct ServerFigures {
    /// The server's gRPC URL.
    pub url: String,
    /// Store figures on text-shaped vectors (`optimize_s`: until the server's own
    /// background indexing is done).
    pub text_shaped: StoreFigures,
    /// Whole recall against the server.
    pub recall: RecallFigures,
}

/// Embedding throughput and latency.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedFigures {
    /// Seconds to load ONNX Runtime and the model.
    pub load_s: f64,
    /// Texts embedded in batches.
    pub texts: usize,
    /// Batched throughput.
    pub texts_per_s: f64,
    /// One short query, median.
    pub query_p50_ms: f64,
    /// One short query, 99th percentile.
    pub query_p99_ms: f64,
}

/// Store figures at one size.
#[derive(Debug, Clone, Serialize)]
pub struct StoreFigures {
    /// Points stored.
    pub n: usize,
    /// Dimensions.
    pub dim: usize,
    /// Upserts per second (batches of 1,000, index not yet built).
    pub insert_per_s: f64,
    /// Seconds for `optimize()` (HNSW build) over all points.
    pub optimize_s: f64,
    /// Top-5 search, median.
    pub search_p50_ms: f64,
    /// Top-5 search, 99th percentile.
    pub search_p99_ms: f64,
    /// Top-5 search with a payload filter matching ~10% of points (one project of ten),
    /// median. So few points are scanned exactly by the engine's query planner.
    pub filtered_p50_ms: f64,
    /// Same, 99th percentile.
    pub filtered_p99_ms: f64,
    /// Share of the exact top 5 that the index returns.
    pub recall_at_5: f64,
    /// Same, with the filter.
    pub filtered_recall_at_5: f64,
    /// Top-5 search with a filter matching ~20% of points (one memory kind of five), median:
    /// too many to scan, so the HNSW graph is walked within the filter.
    pub wide_filtered_p50_ms: f64,
    /// Same, 99th percentile.
    pub wide_filtered_p99_ms: f64,
    /// Same, share of the exact top 5 found.
    pub wide_filtered_recall_at_5: f64,
    /// Exhaustive search, median (what the index saves).
    pub exact_p50_ms: f64,
}

/// Whole recall latency.
#[derive(Debug, Clone, Serialize)]
pub struct RecallFigures {
    /// Points in the store.
    pub n: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// Runs every figure; takes minutes at the default 100,000 points.
pub async fn run(opts: MemoryBenchOptions) -> Result<MemoryBenchReport, MemoryError> {
    let started = Instant::now();
    let options = opts.embedder.clone();
    let embedder =
        Arc::new(tokio::task::spawn_blocking(move || FastEmbedder::load(options)).await??);
    let load_s = started.elapsed().as_secs_f64();
    let embed = embed_figures(Arc::clone(&embedder), &opts, load_s).await?;
    tracing::info!(?embed, "memory bench: embedding");

    let dim = embedder.dim();
    let text_dir = opts.dir.join("text-shaped");
    let store = edge_store(&text_dir, dim).await?;
    let text_shaped = store_figures(&opts, Shape::Topics(opts.topics), dim, &store).await?;
    tracing::info!(?text_shaped, "memory bench: text-shaped store");
    let recall = recall_figures(Arc::clone(&embedder), Arc::new(store), &opts).await?;
    tracing::info!(?recall, "memory bench: whole recall");
    remove_dir(&text_dir)?;

    let uniform_dir = opts.dir.join("uniform");
    let store = edge_store(&uniform_dir, dim).await?;
    let uniform_random = store_figures(&opts, Shape::Uniform, dim, &store).await?;
    drop(store);
    tracing::info!(?uniform_random, "memory bench: uniform store");
    remove_dir(&uniform_dir)?;

    let server = match &opts.server {
        Some((url, api_key)) => {
            Some(server_figures(embedder, &opts, url, api_key.as_deref()).await?)
        }
        None => None,
    };
    Ok(MemoryBenchReport {
        embed,
        text_shaped,
        uniform_random,
        recall,
        server,
    })
}

/// The text-shaped figures on a server, in a collection of the bench's own, deleted after.
async fn server_figures(
    embedder: Arc<FastEmbedder>,
    opts: &MemoryBenchOptions,
    url: &str,
    api_key: Option<&str>,
) -> Result<ServerFigures, MemoryError> {
    let dim = embedder.dim();
    let collection = format!("baton-bench-{}", std::process::id());
    let store = Arc::new(ServerStore::connect(url, api_key, &collection, dim).await?);
    store.clear().await?;
    let measured = async {
        let text_shaped = store_figures(opts, Shape::Topics(opts.topics), dim, &*store).await?;
        tracing::info!(
            ?text_shaped,
            "memory bench: text-shaped store on the server"
        );
        let recall =
            recall_figures(embedder, Arc::clone(&store) as Arc<dyn VectorStore>, opts).await?;
        Ok::<_, MemoryError>(ServerFigures {
            url: url.to_owned(),
            text_shaped,
            recall,
        })
    }
    .await;
    store.delete_collection().await?;
    measured
}

async fn edge_store(dir: &std::path::Path, dim: usize) -> Result<EdgeStore, MemoryError> {
    remove_dir(dir)?;
    let path = dir.to_path_buf();
    tokio::task::spawn_blocking(move || EdgeStore::open_with_threshold(&path, dim, usize::MAX))
        .await?
}

async fn embed_figures(
    embedder: Arc<FastEmbedder>,
    opts: &MemoryBenchOptions,
    load_s: f64,
) -> Result<EmbedFigures, MemoryError> {
    let texts = synthetic::commit_like_texts(opts.embed_texts, opts.seed);
    let queries = opts.queries.min(200);
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        embedder.embed(&refs[..refs.len().min(32)])?; // warm-up
        let started = Instant::now();
        embedder.embed(&refs)?;
        let texts_per_s = refs.len() as f64 / started.elapsed().as_secs_f64();
        let mut latencies = Vec::with_capacity(queries);
        for text in refs.iter().cycle().take(queries) {
            let started = Instant::now();
            embedder.embed(&[text])?;
            latencies.push(ms(started));
        }
        Ok(EmbedFigures {
            load_s,
            texts: refs.len(),
            texts_per_s,
            query_p50_ms: percentile(&mut latencies, 50.0),
            query_p99_ms: percentile(&mut latencies, 99.0),
        })
    })
    .await?
}

async fn store_figures(
    opts: &MemoryBenchOptions,
    shape: Shape,
    dim: usize,
    store: &dyn VectorStore,
) -> Result<StoreFigures, MemoryError> {
    let data = Synthetic::new(shape, dim, opts.seed);

    // Only the upserts are timed: making the synthetic points (vectors, BM25 terms,
    // payloads) is the benchmark's own work, not the store's.
    let mut upserting = std::time::Duration::ZERO;
    let mut inserted = 0;
    while inserted < opts.n {
        let batch = (opts.n - inserted).min(1_000);
        let points = data.points(inserted, batch);
        let started = Instant::now();
        store.upsert(points).await?;
        upserting += started.elapsed();
        inserted += batch;
    }
    let insert_per_s = opts.n as f64 / upserting.as_secs_f64();
    tracing::info!(?shape, insert_per_s, "memory bench: inserted");
    let started = Instant::now();
    store.optimize().await?;
    let optimize_s = started.elapsed().as_secs_f64();
    tracing::info!(?shape, optimize_s, "memory bench: index built");

    let queries = data.queries(opts.queries);
    let keyword = |key: &str, value: &str| Filter {
        must: vec![Condition::Keyword {
            key: key.into(),
            value: value.into(),
        }],
    };
    let plain = search_figures(store, &queries, &Filter::default()).await?;
    let filtered = search_figures(
        store,
        &queries,
        &keyword("project", synthetic::FILTERED_PROJECT),
    )
    .await?;
    let wide_filtered = search_figures(
        store,
        &queries,
        &keyword("kind", synthetic::WIDE_FILTERED_KIND),
    )
    .await?;
    Ok(StoreFigures {
        n: opts.n,
        dim,
        insert_per_s,
        optimize_s,
        search_p50_ms: plain.p50,
        search_p99_ms: plain.p99,
        filtered_p50_ms: filtered.p50,
        filtered_p99_ms: filtered.p99,
        recall_at_5: plain.recall,
        filtered_recall_at_5: filtered.recall,
        wide_filtered_p50_ms: wide_filtered.p50,
        wide_filtered_p99_ms: wide_filtered.p99,
        wide_filtered_recall_at_5: wide_filtered.recall,
        exact_p50_ms: plain.exact_p50,
    })
}

struct SearchFigures {
    p50: f64,
    p99: f64,
    recall: f64,
    exact_p50: f64,
}

async fn search_figures(
    store: &dyn VectorStore,
    queries: &[Vec<f32>],
    filter: &Filter,
) -> Result<SearchFigures, MemoryError> {
    let request = |q: &Vec<f32>, exact: bool| SearchRequest {
        query: Query::Dense(q.clone()),
        filter: filter.clone(),
        limit: 5,
        exact,
    };
    // All approximate searches first, then the exact ones: an exact search streams every
    // vector (77 MB at 100k, in half precision) through the CPU caches, and an approximate
    // search timed right after one would pay for refilling them, which no search in a
    // session does.
    let mut latencies = Vec::with_capacity(queries.len());
    let mut approximate = Vec::with_capacity(queries.len());
    for q in queries {
        let started = Instant::now();
        approximate.push(store.search(request(q, false)).await?);
        latencies.push(ms(started));
    }
    let mut exact_latencies = Vec::with_capacity(queries.len());
    let (mut found, mut wanted) = (0, 0);
    for (q, approximate) in queries.iter().zip(&approximate) {
        let started = Instant::now();
        let exact = store.search(request(q, true)).await?;
        exact_latencies.push(ms(started));
        wanted += exact.len();
        found += exact
            .iter()
            .filter(|e| approximate.iter().any(|a| a.id == e.id))
            .count();
    }
    Ok(SearchFigures {
        p50: percentile(&mut latencies, 50.0),
        p99: percentile(&mut latencies, 99.0),
        recall: found as f64 / wanted.max(1) as f64,
        exact_p50: percentile(&mut exact_latencies, 50.0),
    })
}

async fn recall_figures(
    embedder: Arc<FastEmbedder>,
    store: Arc<dyn VectorStore>,
    opts: &MemoryBenchOptions,
) -> Result<RecallFigures, MemoryError> {
    let memory = Memory::with_parts(embedder, store);
    let texts = synthetic::commit_like_texts(opts.queries, opts.seed + 1);
    let mut latencies = Vec::with_capacity(texts.len());
    memory
        .recall(&texts[0], &RecallFilter::default(), 5)
        .await?; // warm-up
    for text in &texts {
        let started = Instant::now();
        memory.recall(text, &RecallFilter::default(), 5).await?;
        latencies.push(ms(started));
    }
    Ok(RecallFigures {
        n: opts.n,
        p50_ms: percentile(&mut latencies, 50.0),
        p99_ms: percentile(&mut latencies, 99.0),
    })
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1_000.0
}

/// Nearest-rank percentile; 0 for no samples.
fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn remove_dir(dir: &std::path::Path) -> Result<(), MemoryError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|source| MemoryError::Io {
            what: "removing benchmark store",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&mut v, 50.0) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&mut v, 99.0) - 99.0).abs() < f64::EPSILON);
        assert!((percentile(&mut [], 50.0)).abs() < f64::EPSILON);
    }
}
