//! The TUI's views drawn on a `TestBackend` (insta snapshots) and its keys.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::bench::write_synthetic_thread;
use super::*;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// The screen as text, one line per row, trailing blanks cut.
fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn project_with_thread(steps: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    write_synthetic_thread(&project, "demo", steps).unwrap();
    (dir, project)
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"/\S*/project", "[PROJECT]");
    settings.add_filter(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "[TIME]");
    settings
}

#[test]
fn the_threads_list_shows_each_thread_with_its_status() {
    let (_dir, project) = project_with_thread(3);
    let app = App::new(project.clone(), data::threads(&project));
    settings().bind(|| insta::assert_snapshot!(screen(&app, 110, 8)));
}

#[test]
fn a_thread_shows_its_steps_beside_the_selected_step_in_full() {
    let (_dir, project) = project_with_thread(8);
    let mut app = App::new(project.clone(), Vec::new());
    app.show_thread(ThreadData::load(&project, "demo").unwrap());
    // The newest step is selected; step 7 failed and is marked ✗.
    app.on_key(key(KeyCode::Up));
    settings().bind(|| insta::assert_snapshot!(screen(&app, 150, 16)));
}

#[test]
fn mark_then_d_diffs_the_two_steps_state() {
    let (_dir, project) = project_with_thread(6);
    let mut app = App::new(project.clone(), Vec::new());
    app.show_thread(ThreadData::load(&project, "demo").unwrap());
    app.on_key(key(KeyCode::Home));
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Char('m')));
    app.on_key(key(KeyCode::End));
    let action = app.on_key(key(KeyCode::Char('d')));
    assert_eq!(action, Some(Action::Diff { from: 1, to: 6 }));
    let text = data::diff(app.thread.as_ref().unwrap(), 1, 6).unwrap();
    assert!(
        text.contains("state changes from step 1 to step 6"),
        "{text}"
    );
    assert!(text.contains("app5.js"), "{text}");
    // Without a mark, `d` diffs against the step before.
    app.marked = None;
    assert_eq!(
        app.on_key(key(KeyCode::Char('d'))),
        Some(Action::Diff { from: 5, to: 6 })
    );
}

#[test]
fn keys_open_help_type_an_instruction_and_quit() {
    let (_dir, project) = project_with_thread(2);
    let mut app = App::new(project.clone(), data::threads(&project));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Some(Action::OpenThread("demo".to_owned()))
    );
    app.show_thread(ThreadData::load(&project, "demo").unwrap());
    app.on_key(key(KeyCode::Char('?')));
    let help = screen(&app, 110, 20);
    assert!(help.contains("f fork here"), "{help}");
    app.on_key(key(KeyCode::Esc));
    assert!(app.popup.is_none());
    app.on_key(key(KeyCode::Char('i')));
    for c in "use a list".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    assert!(screen(&app, 110, 20).contains("instruct: use a list"));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Some(Action::Instruct("use a list".to_owned()))
    );
    assert_eq!(
        app.on_key(key(KeyCode::Char('f'))),
        Some(Action::Fork { step: 2 })
    );
    app.on_key(key(KeyCode::Char('q')));
    assert!(app.quit);
}

#[test]
fn a_long_thread_draws_only_the_rows_in_view() {
    let (_dir, project) = project_with_thread(400);
    let mut app = App::new(project.clone(), Vec::new());
    app.show_thread(ThreadData::load(&project, "demo").unwrap());
    let text = screen(&app, 150, 20);
    assert!(text.contains("400"), "{text}");
    assert!(!text.contains("│1  "), "{text}");
    app.on_key(key(KeyCode::Home));
    let text = screen(&app, 150, 20);
    assert!(text.contains("session 1 start"), "{text}");
}

#[test]
fn only_changed_top_level_keys_become_fork_sets() {
    let before = serde_json::json!({"node": "coding", "turn": 3, "instruction": null});
    let after = serde_json::json!({"node": "coding", "turn": 3, "instruction": "use a <ul>"});
    assert_eq!(
        changed_keys(&before, &after),
        vec![r#"/instruction="use a <ul>""#.to_owned()]
    );
}

#[test]
fn rows_read_chunk_by_chunk_match_a_read_of_the_whole_tape() {
    let (_dir, project) = project_with_thread(700);
    // The rows of a chunk read on its own (node and session from the state before it)...
    let alone = ThreadData::load(&project, "demo").unwrap();
    let tail = alone.rows(500..700);
    // ...equal the same rows read after every chunk before them.
    let whole = ThreadData::load(&project, "demo").unwrap().all_rows();
    assert_eq!(whole.len(), 701, "step 0 and 700 steps");
    for (a, b) in tail.iter().zip(&whole[500..]) {
        assert_eq!(
            (a.step, a.session, &a.node, &a.outcome, a.tokens),
            (b.step, b.session, &b.node, &b.outcome, b.tokens)
        );
    }
    // Sessions are 50 steps long in the synthetic thread.
    assert_eq!(whole[520].session, 11);
    assert_eq!(whole[520].node, "coding");
    assert_eq!(alone.step_at(700), Some(700));
    assert!(alone.row(701).is_none());
}
