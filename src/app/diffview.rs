//! `vmscope diff` on a terminal: the two runs' steps side by side, row by row, scrolled
//! together; the rows that differ marked, the first of them selected; what got slower and
//! the new error lines below.

use crossterm::event::{self, Event, KeyEventKind};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::Action;
use super::keymap::{Context, Keymap};
use crate::vm::diff::{Diff, StepSide};
use crate::vm::export::state_mark;
use crate::vm::model::StepState;

struct View {
    /// The row selected, and the first row shown.
    row: usize,
    top: usize,
}

/// Shows `d` in `theme` until the user quits.
pub fn run(d: &Diff, keys: &Keymap, theme: crate::panes::theme::Theme) -> anyhow::Result<()> {
    let (mut term, _guard) = super::runner::key_screen()?;
    let mut v = View {
        row: d.first_difference.unwrap_or(0),
        top: 0,
    };
    loop {
        let mut body = 1;
        term.draw(|f| {
            body = draw(f, d, &mut v, keys);
            crate::panes::theme::apply(f.buffer_mut(), theme);
        })?;
        let ev = event::read()?;
        let Event::Key(k) = ev else {
            continue;
        };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        let last = d.rows.len().saturating_sub(1);
        let page = body.max(2) - 1;
        match keys.lookup_event(Context::Log, &k) {
            Some(Action::Quit | Action::Close) => return Ok(()),
            Some(Action::ScrollDown) => v.row = (v.row + 1).min(last),
            Some(Action::ScrollUp) => v.row = v.row.saturating_sub(1),
            Some(Action::PageDown | Action::HalfPageDown) => v.row = (v.row + page).min(last),
            Some(Action::PageUp | Action::HalfPageUp) => v.row = v.row.saturating_sub(page),
            Some(Action::Top) => v.row = 0,
            Some(Action::Bottom) => v.row = last,
            Some(Action::SearchNewer) => {
                if let Some(i) = (v.row + 1..d.rows.len()).find(|&i| d.rows[i].differs()) {
                    v.row = i;
                }
            }
            Some(Action::SearchOlder) => {
                if let Some(i) = (0..v.row).rev().find(|&i| d.rows[i].differs()) {
                    v.row = i;
                }
            }
            _ => {}
        }
    }
}

fn draw(f: &mut ratatui::Frame<'_>, d: &Diff, v: &mut View, keys: &Keymap) -> usize {
    let area = f.area();
    if area.height < 8 || area.width < 40 {
        f.render_widget(
            Paragraph::new("terminal too small for the diff (40x8 at least)"),
            area,
        );
        return 1;
    }
    let outcome = |o: crate::vm::Outcome| {
        let c = match o {
            crate::vm::Outcome::Passed => Color::Green,
            crate::vm::Outcome::Failed | crate::vm::Outcome::TimedOut => Color::Red,
            _ => Color::Yellow,
        };
        Style::new().fg(c).add_modifier(Modifier::BOLD)
    };
    let first = match d.first_difference {
        Some(i) => format!(" · first difference: row {}", i + 1),
        None => " · no step differs".to_string(),
    };
    // File names only: the top bar has room for both and what differs.
    let short = |p: &str| {
        std::path::Path::new(p.trim_end_matches('/'))
            .file_name()
            .map_or(p.to_string(), |n| n.to_string_lossy().into_owned())
    };
    let top = Line::from(vec![
        Span::styled(
            " vmscope diff ",
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Span::raw(format!(" good: {} ", short(&d.good.name))),
        Span::styled(d.good.outcome.label(), outcome(d.good.outcome)),
        Span::styled(" │ ", Style::new().fg(Color::DarkGray)),
        Span::raw(format!("bad: {} ", short(&d.bad.name))),
        Span::styled(d.bad.outcome.label(), outcome(d.bad.outcome)),
        Span::styled(first, Style::new().fg(Color::DarkGray)),
    ]);
    f.render_widget(Paragraph::new(top), Rect::new(0, 0, area.width, 1));
    let notes = notes(d);
    let notes_h = (notes.len() as u16).min(area.height / 3);
    let body_h = area.height - 2 - notes_h;
    let half = area.width / 2;
    // The selected row stays in view.
    let h = body_h as usize;
    if v.row < v.top {
        v.top = v.row;
    } else if v.row >= v.top + h {
        v.top = v.row + 1 - h;
    }
    for (i, row) in d.rows.iter().enumerate().skip(v.top).take(h) {
        let y = 1 + (i - v.top) as u16;
        let selected = i == v.row;
        for (side, x, w) in [(&row.good, 0, half), (&row.bad, half, area.width - half)] {
            let mut line = side_line(side.as_ref(), w as usize);
            let bg = match (row.differs(), side.is_some()) {
                (false, _) => None,
                (true, false) => Some(Color::Indexed(238)),
                (true, true) if side.as_ref().is_some_and(|s| s.state == StepState::Failed) => {
                    Some(Color::Indexed(52))
                }
                (true, true) => Some(Color::Indexed(58)),
            };
            if let Some(bg) = bg {
                line = line.patch_style(Style::new().bg(bg));
            }
            if selected {
                line = line.patch_style(Style::new().add_modifier(Modifier::REVERSED));
            }
            f.render_widget(Paragraph::new(line), Rect::new(x, y, w, 1));
        }
    }
    for (i, n) in notes.into_iter().take(notes_h as usize).enumerate() {
        f.render_widget(
            Paragraph::new(n),
            Rect::new(0, 1 + body_h + i as u16, area.width, 1),
        );
    }
    let hint = |a: Action| keys.name(Context::Log, a);
    let bottom = format!(
        " {} {} rows · {}/{} next/previous difference · {} quit · row {} of {}",
        hint(Action::ScrollDown),
        hint(Action::ScrollUp),
        hint(Action::SearchNewer),
        hint(Action::SearchOlder),
        hint(Action::Quit),
        v.row + 1,
        d.rows.len()
    );
    f.render_widget(
        Paragraph::new(Line::styled(bottom, Style::new().fg(Color::DarkGray))),
        Rect::new(0, area.height - 1, area.width, 1),
    );
    h
}

/// One side of a row: the step indented by its depth, its state and duration.
fn side_line(s: Option<&StepSide>, width: usize) -> Line<'static> {
    let Some(s) = s else {
        return Line::styled(
            format!("{:width$}", "  (not in this run)"),
            Style::new().fg(Color::DarkGray),
        );
    };
    let color = match s.state {
        StepState::Passed => Color::Green,
        StepState::Failed => Color::Red,
        StepState::Running => Color::Yellow,
        StepState::Unclosed => Color::DarkGray,
    };
    let secs = s.seconds.map(|x| format!(" {x:.2}s")).unwrap_or_default();
    let title = match &s.machine {
        Some(m) if !s.title.starts_with(&format!("{m}: ")) => format!("{m}: {}", s.title),
        _ => s.title.clone(),
    };
    let indent = "  ".repeat(s.depth.min(8));
    let room = width.saturating_sub(indent.len() + 3 + secs.len());
    let title: String = if title.chars().count() > room {
        title
            .chars()
            .take(room.saturating_sub(1))
            .chain(['…'])
            .collect()
    } else {
        format!("{title:room$}")
    };
    Line::from(vec![
        Span::raw(format!(" {indent}")),
        Span::styled(format!("{} ", state_mark(s.state)), Style::new().fg(color)),
        Span::raw(title),
        Span::styled(secs, Style::new().fg(Color::DarkGray)),
    ])
}

/// What got slower and the new error lines, a line each.
fn notes(d: &Diff) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for s in d.slower.iter().take(5) {
        out.push(Line::from(vec![
            Span::styled(" slower ", Style::new().fg(Color::Black).bg(Color::Yellow)),
            Span::raw(format!(
                " {:.1}x  {}  {:.2}s → {:.2}s",
                s.ratio, s.title, s.good_seconds, s.bad_seconds
            )),
        ]));
    }
    for e in d.new_errors.iter().take(8) {
        out.push(Line::from(vec![
            Span::styled(" new error ", Style::new().fg(Color::White).bg(Color::Red)),
            Span::raw(format!(" {}: {}  (line {})", e.machine, e.line, e.at_line)),
        ]));
    }
    out
}
