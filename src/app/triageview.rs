//! `vmscope triage` on a terminal: the groups, most frequent first, and the selected group's
//! signature and logs below; `Enter` on a log opens it in the usual view (`vmscope log`, a
//! process of its own on this terminal), and quitting it comes back here, where it was.

use std::path::PathBuf;

use crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::Action;
use super::keymap::{Context, Keymap};
use crate::vm::triage::{Group, Triage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focus {
    Groups,
    Logs,
}

/// A row of the list: a group, or the logs that failed with no failure reported.
struct Row<'a> {
    count: usize,
    what: String,
    group: Option<&'a Group>,
    logs: &'a [String],
}

struct View {
    focus: Focus,
    group: usize,
    log: usize,
    /// The last thing said (a log that could not be opened).
    said: Option<String>,
}

/// Shows `t` in `theme` until the user quits; `color` is passed to the logs opened from it.
pub fn run(
    t: &Triage,
    keys: &Keymap,
    theme: crate::panes::theme::Theme,
    color: &str,
) -> anyhow::Result<()> {
    let rows = rows(t);
    let mut v = View {
        focus: Focus::Groups,
        group: 0,
        log: 0,
        said: None,
    };
    let (mut term, mut guard) = super::runner::key_screen()?;
    loop {
        let mut page = 1;
        term.draw(|f| {
            page = draw(f, t, &rows, &v, keys);
            crate::panes::theme::apply(f.buffer_mut(), theme);
        })?;
        let Event::Key(k) = event::read()? else {
            continue;
        };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        let Some(row) = rows.get(v.group) else {
            if matches!(
                keys.lookup_event(Context::Log, &k),
                Some(Action::Quit | Action::Close)
            ) {
                return Ok(());
            }
            continue;
        };
        let (len, at) = match v.focus {
            Focus::Groups => (rows.len(), &mut v.group),
            Focus::Logs => (row.logs.len(), &mut v.log),
        };
        let last = len.saturating_sub(1);
        let before = *at;
        match (k.code, keys.lookup_event(Context::Log, &k)) {
            (KeyCode::Enter, _) if v.focus == Focus::Groups => {
                v.focus = Focus::Logs;
                v.log = 0;
            }
            (KeyCode::Enter, _) => {
                let log = PathBuf::from(&row.logs[v.log]);
                drop(guard);
                v.said = open(&log, color).err();
                (term, guard) = super::runner::key_screen()?;
            }
            (KeyCode::Esc | KeyCode::Left | KeyCode::Char('h'), _) if v.focus == Focus::Logs => {
                v.focus = Focus::Groups
            }
            (KeyCode::Right | KeyCode::Char('l'), _) if v.focus == Focus::Groups => {
                v.focus = Focus::Logs;
                v.log = 0;
            }
            (_, Some(Action::Quit)) => return Ok(()),
            (_, Some(Action::Close)) if v.focus == Focus::Groups => return Ok(()),
            (_, Some(Action::ScrollDown)) => *at = (*at + 1).min(last),
            (_, Some(Action::ScrollUp)) => *at = at.saturating_sub(1),
            (_, Some(Action::PageDown | Action::HalfPageDown)) => *at = (*at + page).min(last),
            (_, Some(Action::PageUp | Action::HalfPageUp)) => *at = at.saturating_sub(page),
            (_, Some(Action::Top)) => *at = 0,
            (_, Some(Action::Bottom)) => *at = last,
            _ => {}
        }
        if v.focus == Focus::Groups && v.group != before {
            v.log = 0;
        }
    }
}

/// `vmscope log PATH` on this terminal, until the user quits it.
fn open(log: &std::path::Path, color: &str) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find vmscope itself: {e}"))?;
    // The path is one the user gave (or a directory they gave listed): an argument, no shell.
    let status = std::process::Command::new(exe)
        .args(["--color", color, "log"])
        .arg(log)
        .status()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    match status.code() {
        Some(0 | 1) => Ok(()),
        _ => Err(format!("vmscope log {} ended with {status}", log.display())),
    }
}

fn rows(t: &Triage) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = t
        .groups
        .iter()
        .map(|g| {
            let s = &g.signature;
            let mut what = String::new();
            if let Some(test) = &s.test {
                what.push_str(&format!("{test} · "));
            }
            if let Some(sub) = &s.subtest {
                what.push_str(&format!("{sub} · "));
            }
            match &s.exception {
                Some(e) => what.push_str(&format!("{e}: {}", g.example)),
                None => what.push_str(&g.example),
            }
            Row {
                count: g.count,
                what,
                group: Some(g),
                logs: &g.logs,
            }
        })
        .collect();
    if !t.unexplained.is_empty() {
        rows.push(Row {
            count: t.unexplained.len(),
            what: "failed with no failure reported".into(),
            group: None,
            logs: &t.unexplained,
        });
    }
    rows
}

fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    s.chars()
        .take(width.saturating_sub(1))
        .chain(['…'])
        .collect()
}

/// Keeps `at` in a window of `h` rows starting at the returned row.
fn window(at: usize, h: usize) -> usize {
    at.saturating_sub(h.saturating_sub(1))
}

fn draw(
    f: &mut ratatui::Frame<'_>,
    t: &Triage,
    rows: &[Row<'_>],
    v: &View,
    keys: &Keymap,
) -> usize {
    let area = f.area();
    if area.height < 10 || area.width < 40 {
        f.render_widget(
            Paragraph::new("terminal too small for triage (40x10 at least)"),
            area,
        );
        return 1;
    }
    let w = area.width as usize;
    let dim = Style::new().fg(Color::DarkGray);
    let failures: usize = t.groups.iter().map(|g| g.count).sum();
    let top = Line::from(vec![
        Span::styled(
            " vmscope triage ",
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Span::raw(format!(
            " {} logs · {} passed · {failures} failures in {} groups",
            t.logs,
            t.passed,
            t.groups.len()
        )),
        Span::styled(
            if t.unexplained.is_empty() {
                String::new()
            } else {
                format!(" · {} failed with no failure reported", t.unexplained.len())
            },
            dim,
        ),
    ]);
    f.render_widget(Paragraph::new(top), Rect::new(0, 0, area.width, 1));
    let body = area.height - 2;
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new(" no log failed: nothing to group").style(dim),
            Rect::new(0, 1, area.width, 1),
        );
    }
    // The list takes up to half the body; the selected group's detail the rest.
    let list_h = (rows.len() as u16).clamp(1, body / 2);
    let first = window(v.group, list_h as usize);
    for (i, row) in rows.iter().enumerate().skip(first).take(list_h as usize) {
        let selected = i == v.group;
        let head = format!(" {:>4}x  #{:<3} ", row.count, i + 1);
        let room = w.saturating_sub(head.chars().count());
        let mut line = Line::from(vec![
            Span::styled(head, Style::new().fg(Color::Red)),
            Span::raw(cut(&row.what, room)),
        ]);
        if selected {
            let m = if v.focus == Focus::Groups {
                Modifier::REVERSED
            } else {
                Modifier::BOLD
            };
            line = line.patch_style(Style::new().add_modifier(m));
        }
        let y = 1 + (i - first) as u16;
        f.render_widget(Paragraph::new(line), Rect::new(0, y, area.width, 1));
    }
    let mut y = 1 + list_h;
    f.render_widget(
        Paragraph::new(Line::styled("─".repeat(w), dim)),
        Rect::new(0, y, area.width, 1),
    );
    y += 1;
    let end = 1 + body;
    let mut logs_h = 1;
    if let Some(row) = rows.get(v.group) {
        let mut detail: Vec<Line<'_>> = Vec::new();
        if let Some(g) = row.group {
            let s = &g.signature;
            let field = |k: &str, val: &str| {
                Line::from(vec![
                    Span::styled(format!(" {k:<9}"), dim),
                    Span::raw(cut(val, w.saturating_sub(10))),
                ])
            };
            detail.push(field("kind", &format!("{:?}", s.kind).to_lowercase()));
            for (k, val) in [
                ("test", &s.test),
                ("subtest", &s.subtest),
                ("command", &s.command),
                ("machine", &g.machine),
            ] {
                if let Some(val) = val {
                    detail.push(field(k, val));
                }
            }
            let what = match &s.exception {
                Some(e) => format!("{e}: {}", g.example),
                None => g.example.clone(),
            };
            detail.push(field("example", &what));
        }
        detail.push(Line::styled(
            format!(
                " in {} log{} (Enter opens one)",
                row.logs.len(),
                if row.logs.len() == 1 { "" } else { "s" }
            ),
            dim,
        ));
        for l in detail {
            if y >= end {
                break;
            }
            f.render_widget(Paragraph::new(l), Rect::new(0, y, area.width, 1));
            y += 1;
        }
        logs_h = end.saturating_sub(y).max(1) as usize;
        let first = window(v.log, logs_h);
        for (i, log) in row.logs.iter().enumerate().skip(first).take(logs_h) {
            if y >= end {
                break;
            }
            let mut line = Line::raw(format!("   {}", cut(log, w.saturating_sub(3))));
            if v.focus == Focus::Logs && i == v.log {
                line = line.patch_style(Style::new().add_modifier(Modifier::REVERSED));
            }
            f.render_widget(Paragraph::new(line), Rect::new(0, y, area.width, 1));
            y += 1;
        }
    }
    let hint = |a: Action| keys.name(Context::Log, a);
    let bottom = match (&v.said, v.focus) {
        (Some(said), _) => said.clone(),
        (None, Focus::Groups) => format!(
            " {} {} groups · Enter its logs · {} quit",
            hint(Action::ScrollDown),
            hint(Action::ScrollUp),
            hint(Action::Quit)
        ),
        (None, Focus::Logs) => format!(
            " {} {} logs · Enter open the log in the usual view · Esc back to the groups · {} quit",
            hint(Action::ScrollDown),
            hint(Action::ScrollUp),
            hint(Action::Quit)
        ),
    };
    let style = if v.said.is_some() {
        Style::new().fg(Color::Red)
    } else {
        dim
    };
    f.render_widget(
        Paragraph::new(Line::styled(bottom, style)),
        Rect::new(0, area.height - 1, area.width, 1),
    );
    match v.focus {
        Focus::Groups => list_h as usize,
        Focus::Logs => logs_h,
    }
}
