//! With more machines than panes fit: every machine in a list, the focused one marked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use super::log_pane::state_color;
use crate::app::state::App;
use crate::app::view::Pane;

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let test = app.current_test();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::DarkGray))
        .title(format!(" machines ({}) ", test.machines.len()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut lines = Vec::new();
    for (i, m) in test.machines.iter().enumerate() {
        let focused = app.views.focus == Pane::Machine(i);
        let mut style = Style::new();
        if focused {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let unread = app.views.unread(app.current_test(), i);
        let badge = if unread > 0 && !focused {
            format!(" +{unread}")
        } else {
            String::new()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:>2} ", i + 1), Style::new().fg(Color::DarkGray)),
            Span::styled("● ", Style::new().fg(state_color(m.state))),
            Span::styled(m.name.clone(), style),
            Span::styled(badge, Style::new().fg(Color::Cyan)),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
