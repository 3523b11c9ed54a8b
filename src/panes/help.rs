//! `?`: the keys of the focused context, from the same table as the hints; `/` filters them.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use crate::app::keymap::Context;
use crate::app::state::App;

/// The rows of the help for a context: (section, keys, description).
pub fn rows(app: &App, ctx: Context) -> Vec<(&'static str, String, &'static str)> {
    let mut out = Vec::new();
    for &c in ctx.chain() {
        let mut seen = Vec::new();
        for (_, action) in app.keymap.bindings(c) {
            if seen.contains(action) {
                continue;
            }
            seen.push(*action);
            let keys = app.keymap.keys_for(ctx, *action);
            let keys: Vec<String> = keys
                .iter()
                .filter(|_| true)
                .map(ToString::to_string)
                .collect();
            if keys.is_empty() {
                continue;
            }
            out.push((c.title(), keys.join(" "), action.describe()));
        }
    }
    out
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
        None => format!(" keys: {} · / to search · Esc to close ", ctx.title()),
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
