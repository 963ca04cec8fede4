//! A whole project run through the scripted server over real HTTP: the 3-feature counter
//! app goes from its spec to done, with real tools, git, Chromium checks and memory.

use crate::support::{
    baton_run, commit_subjects, describe, examples_dir, feature_list, head_state,
    project_from_example,
};

#[test]
fn a_three_feature_project_runs_to_done() {
    let root = tempfile::tempdir().unwrap();
    let project = project_from_example(root.path(), "counter-app");
    let script = examples_dir().join("counter-app").join("script.json");
    let output = baton_run(root.path(), &project, &script, "counter", &[]);
    assert!(output.status.success(), "{}", describe(&output));

    let list = feature_list(&project);
    assert_eq!(list.features.len(), 3);
    assert!(list.features.iter().all(|f| f.passes), "{list:?}");

    let subjects = commit_subjects(&project);
    for feature in &list.features {
        assert!(
            subjects
                .iter()
                .any(|s| s.starts_with(&format!("feat({})", feature.id))),
            "no commit names {}: {subjects:?}",
            feature.id
        );
        let evidence = project.join(".baton").join("evidence").join(&feature.id);
        let pngs = walk_pngs(&evidence);
        assert!(
            !pngs.is_empty(),
            "no screenshots under {}",
            evidence.display()
        );
    }
    assert_eq!(subjects.len(), 4, "one commit per session: {subjects:?}");

    let state = head_state(&project, "counter");
    assert_eq!(state.sessions_run, 4);
    let ledger = &state.ledger;
    assert!(ledger.total_tokens() > 0);
    assert_eq!(ledger.sessions().count(), 4, "a ledger entry per session");

    let progress = std::fs::read_to_string(project.join("baton-progress.md")).unwrap();
    assert_eq!(progress.matches("\n## Session ").count(), 4, "{progress}");
}

fn walk_pngs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk_pngs(&path));
        } else if path.extension().is_some_and(|e| e == "png") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                bytes.starts_with(b"\x89PNG"),
                "{} is not a PNG",
                path.display()
            );
            found.push(path);
        }
    }
    found
}
