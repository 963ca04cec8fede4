//! Synthetic data for the store benchmark: vectors shaped like text embeddings
//! (points scattered around topic centres) or uniformly random, with memory payloads.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Bm25Encoder;
use crate::store::Point;

/// Project value matched by the filtered searches: one of ten, so ~10% of points.
pub(super) const FILTERED_PROJECT: &str = "project-3";
const PROJECTS: usize = 10;
/// Kind matched by the wide filtered searches: one of five, so ~20% of points.
pub(super) const WIDE_FILTERED_KIND: &str = "commit";
const KINDS: [&str; 5] = [
    WIDE_FILTERED_KIND,
    "progress",
    "error",
    "fix",
    "verification",
];
/// Noise per dimension around a topic centre: gives cosines to the centre around 0.7,
/// like sentences on one subject.
const TOPIC_NOISE: f32 = 0.05;

/// How vectors are distributed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shape {
    /// Around this many random topic centres.
    Topics(usize),
    /// Uniformly on the sphere.
    Uniform,
}

/// Deterministic generator: point `i` is the same on every run with the same seed.
pub(super) struct Synthetic {
    shape: Shape,
    dim: usize,
    seed: u64,
    centres: Vec<Vec<f32>>,
    bm25: Bm25Encoder,
}

impl Synthetic {
    pub(super) fn new(shape: Shape, dim: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let centres = match shape {
            Shape::Topics(n) => (0..n.max(1))
                .map(|_| unit(gaussian_vector(&mut rng, dim, 1.0)))
                .collect(),
            Shape::Uniform => Vec::new(),
        };
        Self {
            shape,
            dim,
            seed,
            centres,
            bm25: Bm25Encoder::new(),
        }
    }

    fn vector(&self, rng: &mut StdRng) -> Vec<f32> {
        match self.shape {
            Shape::Uniform => unit(gaussian_vector(rng, self.dim, 1.0)),
            Shape::Topics(_) => {
                let centre = &self.centres[rng.random_range(0..self.centres.len())];
                let noise = gaussian_vector(rng, self.dim, TOPIC_NOISE);
                unit(centre.iter().zip(noise).map(|(c, n)| c + n).collect())
            }
        }
    }

    /// Points `first..first + count`.
    pub(super) fn points(&self, first: usize, count: usize) -> Vec<Point> {
        (first..first + count)
            .map(|i| {
                let mut rng = StdRng::seed_from_u64(
                    self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let dense = self.vector(&mut rng);
                // Real BM25 terms from the same vocabulary as the recall queries, so the
                // sparse half of whole recall walks posting lists as long as real ones.
                let text = commit_like_text(&mut rng, i);
                Point {
                    id: Uuid::from_u128(i as u128 + 1),
                    dense,
                    sparse: self.bm25.document(&text),
                    payload: payload(i, text),
                }
            })
            .collect()
    }

    /// Query vectors drawn like the points (new noise, same topics).
    pub(super) fn queries(&self, count: usize) -> Vec<Vec<f32>> {
        let mut rng = StdRng::seed_from_u64(self.seed.wrapping_add(0xA5A5));
        (0..count).map(|_| self.vector(&mut rng)).collect()
    }
}

/// A valid memory payload, so whole recall can run over these points.
fn payload(i: usize, text: String) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("kind".into(), Value::from(KINDS[i % KINDS.len()]));
    p.insert("text".into(), Value::from(text));
    p.insert(
        "project".into(),
        Value::from(format!("project-{}", i % PROJECTS)),
    );
    p.insert("thread".into(), Value::from(format!("thread-{}", i % 50)));
    p.insert("session".into(), Value::from((i % 40) as u64 + 1));
    p.insert(
        "at_ms".into(),
        Value::from(1_700_000_000_000_u64 + i as u64 * 1_000),
    );
    p
}

fn gaussian_vector(rng: &mut StdRng, dim: usize, sigma: f32) -> Vec<f32> {
    (0..dim).map(|_| gaussian(rng) * sigma).collect()
}

/// Box–Muller: one standard normal sample.
fn gaussian(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// Texts shaped like commit messages, for embedding throughput and recall latency.
pub fn commit_like_texts(n: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|i| commit_like_text(&mut rng, i)).collect()
}

/// One commit-message-like text numbered `i`.
fn commit_like_text(rng: &mut StdRng, i: usize) -> String {
    const TYPES: [&str; 5] = ["feat", "fix", "perf", "refactor", "test"];
    const VERBS: [&str; 8] = [
        "add", "handle", "cache", "validate", "persist", "render", "debounce", "retry",
    ];
    const THINGS: [&str; 10] = [
        "login form",
        "todo list",
        "payment intent",
        "search box",
        "forecast chart",
        "board lanes",
        "CSV import",
        "avatar upload",
        "session token",
        "recipe scaling",
    ];
    const WHEN: [&str; 6] = [
        "when the API returns null",
        "after a page reload",
        "on slow networks",
        "for users in other time zones",
        "while offline",
        "on mobile screens",
    ];
    format!(
        "{}: {} the {} {} (#{i})",
        TYPES[rng.random_range(0..TYPES.len())],
        VERBS[rng.random_range(0..VERBS.len())],
        THINGS[rng.random_range(0..THINGS.len())],
        WHEN[rng.random_range(0..WHEN.len())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn topic_points_sit_near_their_centre_and_are_unit_length() {
        let data = Synthetic::new(Shape::Topics(1), 384, 1);
        let p = &data.points(0, 1)[0];
        assert!((cos(&p.dense, &p.dense) - 1.0).abs() < 1e-4);
        let c = cos(&p.dense, &data.centres[0]);
        assert!((0.6..0.8).contains(&c), "cosine to centre {c}");
    }

    #[test]
    fn points_are_deterministic() {
        let a = Synthetic::new(Shape::Topics(10), 16, 3).points(5, 2);
        let b = Synthetic::new(Shape::Topics(10), 16, 3).points(5, 2);
        assert_eq!(a, b);
    }
}
