//! The real all-MiniLM-L6-v2 through fastembed: meaning, agreement with onnxruntime in
//! Python (reference.json written by scripts/setup-model.sh), clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use baton_memory::{
    Embedder, EmbedderOptions, FastEmbedder, INT8_MODEL_FILE, MODEL_FILES, MemoryError, Precision,
    resolve_model_dir,
};

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn paraphrases_score_far_above_unrelated_text() {
    let Some(model) = common::model() else { return };
    let pairs = [
        (
            "user authentication",
            "login session management",
            "bake a chocolate cake",
        ),
        (
            "where are todos saved",
            "persist the todo list in localStorage",
            "forecast chart for the week",
        ),
        (
            "the build is broken",
            "compilation fails after the last change",
            "a walk on the beach",
        ),
    ];
    for (a, related, unrelated) in pairs {
        let v = model.embed(&[a, related, unrelated]).unwrap();
        let (near, far) = (cos(&v[0], &v[1]), cos(&v[0], &v[2]));
        assert!(
            near > far + 0.25,
            "{a}: related {near:.3} vs unrelated {far:.3}"
        );
    }
    assert_eq!(model.dim(), 384);
}

/// The reference sentences and, per sentence, the vector onnxruntime in Python computed
/// with the weights of `precision`.
fn reference(precision: Precision) -> Vec<(String, Vec<f32>)> {
    let path = resolve_model_dir(&EmbedderOptions::default()).join("reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let field = match precision {
        Precision::Int8 => "vector_int8",
        Precision::Fp32 => "vector",
    };
    reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let vector = s[field]
                .as_array()
                .unwrap_or_else(|| {
                    panic!(
                        "{} lacks {field}: rerun scripts/setup-model.sh",
                        path.display()
                    )
                })
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            (s["text"].as_str().unwrap().to_owned(), vector)
        })
        .collect()
}

fn load(precision: Precision) -> FastEmbedder {
    FastEmbedder::load(EmbedderOptions {
        precision: Some(precision),
        ..EmbedderOptions::default()
    })
    .unwrap()
}

#[test]
fn both_precisions_match_onnxruntime_reference_within_1e4() {
    if common::model().is_none() {
        return;
    }
    for precision in [Precision::Int8, Precision::Fp32] {
        let model = load(precision);
        assert_eq!(model.precision(), precision);
        let sentences = reference(precision);
        assert!(sentences.len() >= 3);
        let texts: Vec<&str> = sentences.iter().map(|(t, _)| t.as_str()).collect();
        let vectors = model.embed(&texts).unwrap();
        for ((text, expected), v) in sentences.iter().zip(&vectors) {
            assert_eq!(expected.len(), v.len());
            let worst = expected
                .iter()
                .zip(v)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0_f32, f32::max);
            assert!(worst < 1e-4, "{precision:?} {text}: max difference {worst}");
            assert!((cos(v, v) - 1.0).abs() < 1e-4, "unit length");
        }
    }
}

#[test]
fn int8_is_the_default_and_stays_close_to_fp32() {
    let Some(model) = common::model() else { return };
    assert_eq!(model.precision(), Precision::Int8);
    assert!(model.model_id().contains("int8"), "{}", model.model_id());
    let texts = [
        "fix: refresh JWT access tokens before they expire",
        "Persist todos to localStorage so they survive a page reload",
        "search: respect .gitignore files in parent directories",
    ];
    let int8 = model.embed(&texts).unwrap();
    let fp32 = load(Precision::Fp32).embed(&texts).unwrap();
    for ((text, a), b) in texts.iter().zip(&int8).zip(&fp32) {
        assert!(
            cos(a, b) > 0.97,
            "{text}: int8 vs fp32 cosine {}",
            cos(a, b)
        );
    }
}

#[test]
fn a_folder_without_int8_weights_runs_fp32_unless_int8_is_asked_for() {
    if common::model().is_none() {
        return;
    }
    // The folder an older setup left: every file but the int8 weights (linked, not copied).
    let full = resolve_model_dir(&EmbedderOptions::default());
    let old = tempfile::tempdir().unwrap();
    for file in MODEL_FILES {
        std::os::unix::fs::symlink(full.join(file), old.path().join(file)).unwrap();
    }
    let fallback = FastEmbedder::load(EmbedderOptions {
        model_dir: Some(old.path().to_path_buf()),
        ..EmbedderOptions::default()
    })
    .unwrap();
    assert_eq!(fallback.precision(), Precision::Fp32);
    let Err(err) = FastEmbedder::load(EmbedderOptions {
        model_dir: Some(old.path().to_path_buf()),
        precision: Some(Precision::Int8),
        ..EmbedderOptions::default()
    }) else {
        panic!("loaded int8 weights from a folder without them")
    };
    let text = err.to_string();
    assert!(
        text.contains(INT8_MODEL_FILE) && text.contains("setup-model.sh"),
        "{text}"
    );
}

#[test]
fn precision_names_parse_and_others_do_not() {
    assert_eq!(Precision::parse("int8"), Some(Precision::Int8));
    assert_eq!(Precision::parse(" FP32 "), Some(Precision::Fp32));
    assert_eq!(Precision::parse("fp16"), None);
    assert_eq!(Precision::Int8.model_file(), INT8_MODEL_FILE);
}

#[test]
fn a_texts_vector_does_not_depend_on_the_texts_beside_it() {
    let Some(model) = common::model() else { return };
    // int8 arithmetic depends a little on the run's shape: a long text beside a short one
    // would move the short one's vector if they shared a run.
    let long = "kitchen renovation notes: ".repeat(40);
    let batch = model
        .embed(&["alpha release notes", "kitchen sink", &long])
        .unwrap();
    let single = model.embed(&["kitchen sink"]).unwrap();
    assert_eq!(batch[1], single[0]);
    assert!(model.embed(&[]).unwrap().is_empty());
    assert!(cos(&batch[0], &single[0]) < 0.9);
}

#[test]
fn many_texts_spread_over_workers_come_back_in_order() {
    let Some(model) = common::model() else { return };
    // Enough texts to go to the worker sessions, of very different lengths.
    let texts: Vec<String> = (0..40)
        .map(|i| format!("commit {i}: {}", "fix the parser ".repeat(i % 7 + 1)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let together = model.embed(&refs).unwrap();
    assert_eq!(together.len(), texts.len());
    for (i, text) in refs.iter().enumerate().step_by(9) {
        let alone = model.embed(&[text]).unwrap();
        let similarity = cos(&together[i], &alone[0]);
        assert!(similarity > 0.9999, "text {i}: cosine {similarity}");
    }
}

#[test]
fn a_missing_model_folder_names_the_fix() {
    // ONNX Runtime must be loadable for this path to be reached; without it the error
    // is OrtMissing, which names its own fix.
    let Err(err) = FastEmbedder::load(EmbedderOptions {
        model_dir: Some("/nonexistent/baton-model".into()),
        ..EmbedderOptions::default()
    }) else {
        panic!("loaded a model from a missing folder")
    };
    let text = err.to_string();
    match err {
        MemoryError::ModelMissing { .. } => {
            assert!(
                text.contains("BATON_MODEL_DIR") && text.contains("setup-model.sh"),
                "{text}"
            );
        }
        MemoryError::OrtMissing { .. } => assert!(text.contains("setup-model.sh"), "{text}"),
        other => panic!("unexpected error: {other}"),
    }
}
