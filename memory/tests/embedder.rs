//! The real all-MiniLM-L6-v2 through fastembed: meaning, agreement with onnxruntime in
//! Python (reference.json written by scripts/setup-model.sh), clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use baton_memory::{Embedder, EmbedderOptions, FastEmbedder, MemoryError, resolve_model_dir};

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

#[test]
fn vectors_match_onnxruntime_reference_within_1e4() {
    let Some(model) = common::model() else { return };
    let path = resolve_model_dir(&EmbedderOptions::default()).join("reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sentences = reference["sentences"].as_array().unwrap();
    assert!(sentences.len() >= 3);
    let texts: Vec<&str> = sentences
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    let vectors = model.embed(&texts).unwrap();
    for (s, v) in sentences.iter().zip(&vectors) {
        let expected: Vec<f32> = s["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(expected.len(), v.len());
        let worst = expected
            .iter()
            .zip(v)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0_f32, f32::max);
        assert!(worst < 1e-4, "{}: max difference {worst}", s["text"]);
        assert!((cos(v, v) - 1.0).abs() < 1e-4, "unit length");
    }
}

#[test]
fn batch_order_is_kept_and_empty_input_gives_nothing() {
    let Some(model) = common::model() else { return };
    let batch = model
        .embed(&["alpha release notes", "kitchen sink"])
        .unwrap();
    let single = model.embed(&["kitchen sink"]).unwrap();
    assert!(cos(&batch[1], &single[0]) > 0.9999);
    assert!(model.embed(&[]).unwrap().is_empty());
}

#[test]
fn a_missing_model_folder_names_the_fix() {
    // ONNX Runtime must be loadable for this path to be reached; without it the error
    // is OrtMissing, which names its own fix.
    let Err(err) = FastEmbedder::load(EmbedderOptions {
        model_dir: Some("/nonexistent/baton-model".into()),
        ort_dylib: None,
        allow_download: false,
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
