//! `?`: the keys of the focused context, from the same table as the hints; `/` filters them.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use crate::app::action::Action;
use crate::app::keymap::Context;
use crate::app::state::App;

/// The rows of the help for a context: (section, keys, description). The context's own
/// chain first; a terminal read also lists its keys while typing; every help ends with
/// the keys of prompts and questions. `1`…`9` are one row.
pub fn rows(app: &App, ctx: Context) -> Vec<(&'static str, String, &'static str)> {
    let mut sections: Vec<(Context, Context)> = Vec::new();
    if ctx == Context::Command {
        sections.push((Context::Terminal, Context::Terminal));
    }
    sections.extend(ctx.chain().iter().map(|&c| (c, ctx)));
    for extra in [Context::Prompt, Context::Confirm] {
        if !sections.iter().any(|(c, _)| *c == extra) {
            sections.push((extra, extra));
        }
    }
    let mut out = Vec::new();
    for (c, seen_from) in sections {
        let mut seen = Vec::new();
        for (_, action) in app.keymap.bindings(c) {
            if seen.contains(action)
                || matches!(action, Action::FocusMachine(n) | Action::SshMachine(n) if *n > 1)
            {
                continue;
            }
            seen.push(*action);
            let keys = match action {
                Action::FocusMachine(_) | Action::SshMachine(_) => {
                    numbered(app, seen_from, *action)
                }
                // This section's own keys for it that still reach it from here.
                a => (app.keymap.bindings(c).iter())
                    .filter(|(k, x)| x == a && app.keymap.lookup(seen_from, *k) == Some(*a))
                    .map(|(k, _)| k.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            if keys.is_empty() {
                continue;
            }
            let what = match action {
                Action::FocusMachine(_) => "focus machine pane 1–9",
                Action::SshMachine(_) => {
                    "shell into machine 1–9 (in the sandbox when paused in one)"
                }
                a => a.describe(),
            };
            out.push((c.title(), keys, what));
        }
    }
    out
}

/// The keys of the numbered actions (`1`…`9`) as one range, when they are the digits.
fn numbered(app: &App, ctx: Context, action: Action) -> String {
    let make = |n| match action {
        Action::FocusMachine(_) => Action::FocusMachine(n),
        _ => Action::SshMachine(n),
    };
    let keys: Vec<String> = (1..=9)
        .filter_map(|n| app.keymap.key(ctx, make(n)).map(|k| k.to_string()))
        .collect();
    let digits: Vec<String> = (1..=9).map(|n| n.to_string()).collect();
    if keys == digits {
        "1…9".to_string()
    } else {
        keys.join(" ")
    }
}

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(help) = &app.overlay.help else {
        return;
    };
    let ctx = app.views_context();
    let w = area.width.saturating_sub(4).min(90);
    let h = area.height.saturating_sub(2);
    let rect = Rect::new(area.x + (area.width - w) / 2, area.y + 1, w, h);
    f.render_widget(Clear, rect);
    let title = match &help.filter {
        Some(m) => format!(" keys: {} · /{} ", ctx.title(), m.pattern),
        None => format!(
            " keys: {} · {} to search · {} to close ",
            ctx.title(),
            app.keymap.name(Context::Help, Action::Search),
            app.keymap.name(Context::Help, Action::Close)
        ),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(title);
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut section = "";
    for (sec, keys, desc) in rows(app, ctx) {
        if let Some(m) = &help.filter
            && !m.is_match(&keys)
            && !m.is_match(desc)
        {
            continue;
        }
        if sec != section {
            if !lines.is_empty() {
                lines.push(Line::raw(""));
            }
            lines.push(Line::styled(
                sec.to_string(),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ));
            section = sec;
        }
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {keys:<22}"),
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ),
            Span::raw(desc.to_string()),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::styled(
            "(no key matches)",
            Style::new().fg(Color::DarkGray),
        ));
    }
    let scroll = help.scroll.min(lines.len().saturating_sub(1));
    f.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), inner);
}
