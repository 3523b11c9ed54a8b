//! The question put before a command runs: the exact command, what is typed after it, and
//! why vmscope asks.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::effect::Confirm;

pub fn draw(f: &mut Frame<'_>, area: Rect, c: &Confirm) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = vec![Line::styled("vmscope would run:", dim)];
    for (i, l) in c.lines.iter().enumerate() {
        if i == 1 {
            lines.push(Line::styled("then type into its shell:", dim));
        }
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(l.clone(), bold),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Asked because {}.", c.why),
        Style::new().fg(Color::Yellow),
    ));
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled(" y ", Style::new().fg(Color::Black).bg(Color::Green)),
        Span::raw(" run it   "),
        Span::styled(" n ", Style::new().fg(Color::Black).bg(Color::Red)),
        Span::raw(" do not"),
    ]));
    let width = area.width.saturating_sub(4).clamp(20, 110);
    let inner = width.saturating_sub(2).max(1) as usize;
    // Wrapped rows: each line takes its width over the inner width, rounded up.
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (rows as u16 + 2).min(area.height);
    let rect = Rect::new(
        area.x + (area.width.saturating_sub(width)) / 2,
        area.y + (area.height.saturating_sub(height)) / 2,
        width.min(area.width),
        height,
    );
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Double)
                .border_style(Style::new().fg(Color::Yellow))
                .title(Line::styled(" run this? ", bold)),
        ),
        rect,
    );
}
