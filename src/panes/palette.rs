//! The command palette's list: the entries that match what is typed, best first, each with
//! its key and what it does; the highlighted one runs on Enter.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::app::action::Action;
use crate::app::keymap::{Context, Keymap};
use crate::app::palette;

/// Draws the list above the bottom bar (`bottom`), over what is there.
pub fn draw(
    f: &mut Frame<'_>,
    bottom: Rect,
    keys: &Keymap,
    entries: &[palette::Entry],
    query: &str,
    selected: usize,
) {
    let found = palette::matches(entries, query);
    let rows = (found.len().max(1) as u16)
        .min(12)
        .min(bottom.y.saturating_sub(1));
    if rows == 0 {
        return;
    }
    let width = bottom.width.min(90);
    let area = Rect::new(bottom.x, bottom.y - rows - 2, width, rows + 2);
    f.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(Color::Cyan))
        .title(Line::styled(
            {
                let k = |a| keys.name(Context::Prompt, a);
                format!(
                    " commands ({}{} choose, {} runs, {} closes) ",
                    k(Action::SelectPrev),
                    k(Action::SelectNext),
                    k(Action::Submit),
                    k(Action::Cancel)
                )
            },
            Style::new().fg(Color::Cyan),
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let name_w = found
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0)
        .min(28);
    let key_w = found
        .iter()
        .filter_map(|e| e.key.as_deref())
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<Line> = if found.is_empty() {
        vec![Line::styled(
            format!(" no command matches {query:?}"),
            Style::new().fg(Color::Red),
        )]
    } else {
        // Keep the selected entry in view.
        let first = selected.saturating_sub(rows as usize - 1);
        found
            .iter()
            .enumerate()
            .skip(first)
            .take(rows as usize)
            .map(|(i, e)| {
                let mark = if i == selected {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else {
                    Style::new()
                };
                Line::from(vec![
                    Span::styled(
                        format!(" {:<name_w$} ", e.name),
                        mark.add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(
                        format!("{:>key_w$} ", e.key.as_deref().unwrap_or("")),
                        mark.fg(Color::Yellow),
                    ),
                    Span::styled(format!(" {}", e.text), mark.add_modifier(Modifier::DIM)),
                ])
            })
            .collect()
    };
    f.render_widget(Paragraph::new(lines), inner);
}
