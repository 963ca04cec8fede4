//! Drawing the TUI: the threads list, a thread's step list beside the selected step (or a
//! diff), a status line, and boxes for help, input and recall results. Only the rows that
//! fit are built, so a 10,000-step thread draws as fast as a 10-step one.

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::app::{App, Pane, Purpose, Screen};
use super::data::{StepRow, ThreadData, step_detail};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let [main, bottom] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    match app.screen {
        Screen::Threads => draw_threads(frame, app, main),
        Screen::Thread => draw_thread(frame, app, main),
    }
    draw_bottom(frame, app, bottom);
    if let Some((title, text)) = &app.popup {
        draw_popup(frame, title, text);
    }
}

fn draw_threads(frame: &mut Frame, app: &App, area: Rect) {
    let header = Row::new([
        "thread",
        "status",
        "node",
        "step",
        "features",
        "tokens",
        "last activity",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let rows = app.threads.iter().enumerate().map(|(i, row)| {
        let style = if i == app.thread_selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        Row::new([
            Cell::from(row.thread.clone()),
            Cell::from(row.status.clone()).style(status_style(&row.status)),
            Cell::from(row.node.clone()),
            Cell::from(row.step.to_string()),
            Cell::from(row.features.clone()),
            Cell::from(row.tokens.to_string()),
            Cell::from(row.last_activity.clone()),
        ])
        .style(style)
    });
    let title = format!(" threads of {} ", app.project.display());
    let table = Table::new(
        rows,
        [
            Constraint::Min(16),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(19),
        ],
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(title));
    if app.threads.is_empty() {
        let empty = Paragraph::new("no threads here: `baton run PROJECT` starts one")
            .block(Block::default().borders(Borders::ALL).title(" threads "));
        frame.render_widget(empty, area);
    } else {
        frame.render_widget(table, area);
    }
}

fn status_style(status: &str) -> Style {
    match status {
        "done" => Style::new().fg(Color::Green),
        "running" => Style::new().fg(Color::Cyan),
        "paused" => Style::new().fg(Color::Yellow),
        "failed" | "unreadable" => Style::new().fg(Color::Red),
        _ => Style::new(),
    }
}

fn draw_thread(frame: &mut Frame, app: &App, area: Rect) {
    let Some(data) = &app.thread else {
        return;
    };
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(area);
    let mut header = format!(" {} · {} steps", data.thread, data.len());
    if let Some(state) = &data.head {
        let _ = write!(
            header,
            " · {} · s{} {} · features {}/{} · {} tok",
            state.status_word(),
            state.session,
            state.node,
            state.features_passing,
            state.features_total,
            state.ledger.total_tokens()
        );
        if let Some(reason) = &state.paused {
            let _ = write!(header, " · PAUSED ({reason})");
        }
    }
    if data.abandoned > 0 {
        let _ = write!(header, " · {} rewound-away checkpoints", data.abandoned);
    }
    if app.follow {
        header.push_str(" · following");
    }
    frame.render_widget(
        Paragraph::new(header).style(Style::new().add_modifier(Modifier::BOLD)),
        head,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(48), Constraint::Percentage(52)]).areas(body);
    draw_steps(frame, app, data, left);
    draw_pane(frame, app, right);
}

fn draw_steps(frame: &mut Frame, app: &App, data: &ThreadData, area: Rect) {
    // Only the rows in view are read and built: the window around the selection.
    let visible = area.height.saturating_sub(3).max(1) as usize;
    let first = app
        .step_selected
        .saturating_sub(visible.saturating_sub(1))
        .min(data.len().saturating_sub(visible));
    let header = Row::new(["step", "s", "node", "tool calls", "tok", "ms", "outcome"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let rows = data.rows(first..first + visible);
    let table_rows = rows
        .iter()
        .enumerate()
        .map(|(i, row)| step_row(app, first + i, row));
    let focus = if app.pane_focused { "" } else { " ◆" };
    let table = Table::new(
        table_rows,
        [
            Constraint::Length(6),
            Constraint::Length(3),
            Constraint::Length(11),
            Constraint::Min(14),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" steps{focus} ")),
    );
    frame.render_widget(table, area);
}

fn step_row<'a>(app: &App, i: usize, row: &'a StepRow) -> Row<'a> {
    let mut marker = String::new();
    if app.marked == Some(i) {
        marker.push('*');
    }
    if !row.forks.is_empty() {
        marker.push('⑂');
    }
    let tools: Vec<Span> = row
        .tools
        .iter()
        .flat_map(|(name, ok)| {
            let style = if *ok {
                Style::new()
            } else {
                Style::new().fg(Color::Red)
            };
            let mark = if *ok { "" } else { "✗" };
            [Span::styled(format!("{name}{mark}"), style), Span::raw(" ")]
        })
        .collect();
    let mut outcome = row.outcome.clone();
    if !row.forks.is_empty() {
        outcome = format!("forks: {} {outcome}", row.forks.join(","));
    }
    let style = match () {
        () if i == app.step_selected => Style::new().add_modifier(Modifier::REVERSED),
        () if row.failed => Style::new().fg(Color::Red),
        () => Style::new(),
    };
    Row::new([
        Cell::from(format!("{}{marker}", row.step)),
        Cell::from(row.session.to_string()),
        Cell::from(row.node.clone()),
        Cell::from(Line::from(tools)),
        Cell::from(row.tokens.to_string()),
        Cell::from(row.latency_ms.to_string()),
        Cell::from(outcome),
    ])
    .style(style)
}

fn draw_pane(frame: &mut Frame, app: &App, area: Rect) {
    let (title, text) = match &app.pane {
        Pane::Detail => (
            " step ".to_owned(),
            app.selected_row()
                .map(|row| step_detail(&row))
                .unwrap_or_default(),
        ),
        Pane::Diff { from, to, text } => (format!(" diff {from} → {to} "), text.clone()),
    };
    let focus = if app.pane_focused { "◆" } else { "" };
    let paragraph = Paragraph::new(text)
        .wrap(Wrap { trim: false })
        .scroll((app.scroll, 0))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!("{title}{focus}")),
        );
    frame.render_widget(paragraph, area);
}

fn draw_bottom(frame: &mut Frame, app: &App, area: Rect) {
    let line = match &app.input {
        Some(input) => {
            let prompt = match input.purpose {
                Purpose::Instruct => "instruct: ",
                Purpose::Recall => "recall: ",
            };
            Line::from(vec![
                Span::styled(prompt, Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(input.text.clone()),
                Span::styled("█", Style::new()),
            ])
        }
        None => Line::from(app.message.clone()),
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_popup(frame: &mut Frame, title: &str, text: &str) {
    let area = frame.area();
    let width = area.width.saturating_sub(8).min(100);
    let height = (text.lines().count() as u16 + 2).min(area.height.saturating_sub(4));
    let popup = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text.to_owned())
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {title} · Esc closes ")),
            ),
        popup,
    );
}
