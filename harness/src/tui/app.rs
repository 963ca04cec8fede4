//! The TUI's state and what each key does to it. Pure: keys that reach outside the screen
//! (fork, edit, pause, instruct, recall) come back as an [`Action`] for the caller to run,
//! so the views can be tested with a `TestBackend` and no terminal.

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::data::{StepRow, ThreadData};
use crate::threads::ThreadRow;

/// Rows moved by PgUp / PgDn.
const PAGE: usize = 20;

/// Which screen is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Threads,
    Thread,
}

/// What the right-hand pane shows for the selected step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pane {
    /// The step's events in full.
    Detail,
    /// A diff between two steps (state and files), computed when asked for.
    Diff { from: u64, to: u64, text: String },
}

/// A line being typed at the bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub purpose: Purpose,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Instruct,
    Recall,
}

/// Something a key asks for that the screen cannot do by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    OpenThread(String),
    Diff { from: u64, to: u64 },
    Fork { step: u64 },
    EditAndFork { step: u64 },
    TogglePause,
    Instruct(String),
    Recall(String),
    Reload,
}

/// Everything on screen.
#[derive(Debug)]
pub struct App {
    pub project: PathBuf,
    pub screen: Screen,
    pub threads: Vec<ThreadRow>,
    pub thread_selected: usize,
    pub thread: Option<ThreadData>,
    pub step_selected: usize,
    /// A step marked with `m`, the other side of `d`.
    pub marked: Option<usize>,
    pub pane: Pane,
    /// Lines scrolled in the right-hand pane.
    pub scroll: u16,
    /// The right-hand pane has the keys (Enter toggles).
    pub pane_focused: bool,
    /// New steps are read as they are written, and the selection follows the last one.
    pub follow: bool,
    pub input: Option<Input>,
    /// A box over the screen: help, recall results.
    pub popup: Option<(String, String)>,
    /// The line at the bottom: what the last action did.
    pub message: String,
    pub quit: bool,
}

impl App {
    pub fn new(project: PathBuf, threads: Vec<ThreadRow>) -> App {
        App {
            project,
            screen: Screen::Threads,
            threads,
            thread_selected: 0,
            thread: None,
            step_selected: 0,
            marked: None,
            pane: Pane::Detail,
            scroll: 0,
            pane_focused: false,
            follow: false,
            input: None,
            popup: None,
            message: "? help · q quit".to_owned(),
            quit: false,
        }
    }

    /// Shows a thread, keeping the selection where it was when the same thread is read
    /// again (follow mode moves it to the newest step).
    pub fn show_thread(&mut self, data: ThreadData) {
        let same = self
            .thread
            .as_ref()
            .is_some_and(|t| t.thread == data.thread);
        let last = data.len().saturating_sub(1);
        let at_end = self.step_selected + 1 >= self.thread.as_ref().map_or(0, ThreadData::len);
        if !same {
            self.step_selected = last;
            self.marked = None;
            self.pane = Pane::Detail;
            self.scroll = 0;
        } else if self.follow && at_end {
            self.step_selected = last;
        } else {
            self.step_selected = self.step_selected.min(last);
        }
        self.screen = Screen::Thread;
        self.thread = Some(data);
    }

    pub fn selected_row(&self) -> Option<Arc<StepRow>> {
        self.thread.as_ref()?.row(self.step_selected)
    }

    /// Handles one key; `Some` when the caller has work to do.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return None;
        }
        if let Some(input) = &mut self.input {
            return match key.code {
                KeyCode::Esc => {
                    self.input = None;
                    None
                }
                KeyCode::Enter => {
                    let Input { purpose, text } = self.input.take()?;
                    if text.trim().is_empty() {
                        return None;
                    }
                    Some(match purpose {
                        Purpose::Instruct => Action::Instruct(text),
                        Purpose::Recall => Action::Recall(text),
                    })
                }
                KeyCode::Backspace => {
                    input.text.pop();
                    None
                }
                KeyCode::Char(c) => {
                    input.text.push(c);
                    None
                }
                _ => None,
            };
        }
        if self.popup.is_some() {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q' | '?')
            ) {
                self.popup = None;
            }
            return None;
        }
        if key.code == KeyCode::Char('?') {
            self.popup = Some(("keys".to_owned(), HELP.to_owned()));
            return None;
        }
        match self.screen {
            Screen::Threads => self.on_threads_key(key),
            Screen::Thread => self.on_thread_key(key),
        }
    }

    fn on_threads_key(&mut self, key: KeyEvent) -> Option<Action> {
        let count = self.threads.len();
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Up | KeyCode::Char('k') => {
                self.thread_selected = self.thread_selected.saturating_sub(1);
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.thread_selected = (self.thread_selected + 1).min(count.saturating_sub(1));
            }
            KeyCode::Enter => {
                let row = self.threads.get(self.thread_selected)?;
                return Some(Action::OpenThread(row.thread.clone()));
            }
            KeyCode::Char('r') => return Some(Action::Reload),
            _ => {}
        }
        None
    }

    fn on_thread_key(&mut self, key: KeyEvent) -> Option<Action> {
        let count = self.thread.as_ref().map_or(0, ThreadData::len);
        let last = count.saturating_sub(1);
        if self.pane_focused {
            match key.code {
                KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => self.scroll = self.scroll.saturating_add(1),
                KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(PAGE as u16),
                KeyCode::PageDown => self.scroll = self.scroll.saturating_add(PAGE as u16),
                KeyCode::Home => self.scroll = 0,
                KeyCode::Enter | KeyCode::Esc | KeyCode::Tab => self.pane_focused = false,
                KeyCode::Char('q') => self.quit = true,
                _ => return self.on_step_command(key),
            }
            return None;
        }
        let before = self.step_selected;
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Esc | KeyCode::Backspace => {
                self.screen = Screen::Threads;
                return Some(Action::Reload);
            }
            KeyCode::Up | KeyCode::Char('k') => self.step_selected = before.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.step_selected = (before + 1).min(last),
            KeyCode::PageUp => self.step_selected = before.saturating_sub(PAGE),
            KeyCode::PageDown => self.step_selected = (before + PAGE).min(last),
            KeyCode::Home | KeyCode::Char('g') => self.step_selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.step_selected = last,
            KeyCode::Enter | KeyCode::Tab => self.pane_focused = true,
            _ => return self.on_step_command(key),
        }
        if self.step_selected != before {
            self.pane = Pane::Detail;
            self.scroll = 0;
        }
        None
    }

    /// Keys that act on the selected step, from either pane.
    fn on_step_command(&mut self, key: KeyEvent) -> Option<Action> {
        let step = self.thread.as_ref()?.step_at(self.step_selected)?;
        match key.code {
            KeyCode::Char('m') => {
                self.marked = Some(self.step_selected);
                self.message = format!("marked step {step}: `d` on another step diffs against it");
                None
            }
            KeyCode::Char('d') => {
                let data = self.thread.as_ref()?;
                let from = match self.marked {
                    Some(marked) if marked != self.step_selected => data.step_at(marked)?,
                    _ => data.step_at(self.step_selected.checked_sub(1)?)?,
                };
                Some(Action::Diff {
                    from: from.min(step),
                    to: from.max(step),
                })
            }
            KeyCode::Char('f') => Some(Action::Fork { step }),
            KeyCode::Char('e') => Some(Action::EditAndFork { step }),
            KeyCode::Char('p') => Some(Action::TogglePause),
            KeyCode::Char('F') => {
                self.follow = !self.follow;
                self.message = if self.follow {
                    "follow: new steps appear as they are written".to_owned()
                } else {
                    "follow off".to_owned()
                };
                None
            }
            KeyCode::Char('i') => {
                self.input = Some(Input {
                    purpose: Purpose::Instruct,
                    text: String::new(),
                });
                None
            }
            KeyCode::Char('/') => {
                self.input = Some(Input {
                    purpose: Purpose::Recall,
                    text: String::new(),
                });
                None
            }
            _ => None,
        }
    }
}

/// The help box.
pub const HELP: &str = "\
threads list    ↑/↓ move · Enter open · r reload · q quit
step list       ↑/↓ PgUp/PgDn Home/End move · Enter/Tab read the step (↑/↓ scroll, Esc back)
                Esc back to the threads
on a step       m mark · d diff against the marked step (or the one before)
                f fork here · e edit this step's state in $EDITOR, then fork
                p pause / continue the running thread · i instruct it
                / search the project's memory · F follow new steps
anywhere        ? this help · q quit · Ctrl-C quit";
