//! A terminal pane: the emulator's screen drawn cell by cell, its cursor placed when the
//! pane has the keyboard.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::app::sessions::TermPane;
use crate::app::state::App;
use crate::app::view::Pane;

fn color(c: vt100::Color) -> Option<Color> {
    match c {
        vt100::Color::Default => None,
        vt100::Color::Idx(i) => Some(Color::Indexed(i)),
        vt100::Color::Rgb(r, g, b) => Some(Color::Rgb(r, g, b)),
    }
}

fn cell_style(cell: &vt100::Cell) -> Style {
    let mut style = Style::new();
    if let Some(fg) = color(cell.fgcolor()) {
        style = style.fg(fg);
    }
    if let Some(bg) = color(cell.bgcolor()) {
        style = style.bg(bg);
    }
    let mut m = Modifier::empty();
    if cell.bold() {
        m |= Modifier::BOLD;
    }
    if cell.dim() {
        m |= Modifier::DIM;
    }
    if cell.italic() {
        m |= Modifier::ITALIC;
    }
    if cell.underline() {
        m |= Modifier::UNDERLINED;
    }
    if cell.inverse() {
        m |= Modifier::REVERSED;
    }
    style.add_modifier(m)
}

/// The driver's terminal in the command band.
pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App, cmd: &TermPane) {
    let focused = app.views.focus == Pane::Command
        && app.overlay.help.is_none()
        && app.sessions.active().is_none();
    let typing = focused && app.typing();
    draw_terminal(f, area, app, cmd, " command ", focused, typing);
}

/// A terminal pane with `label` in its title: the command pane or an ssh tab.
pub fn draw_terminal(
    f: &mut Frame<'_>,
    area: Rect,
    app: &App,
    cmd: &TermPane,
    label: &str,
    focused: bool,
    typing: bool,
) {
    let mut title = vec![
        Span::styled(label.to_string(), Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(format!("{} ", cmd.title), Style::new().fg(Color::DarkGray)),
    ];
    match cmd.exit {
        None => title.push(Span::styled("● running ", Style::new().fg(Color::Yellow))),
        Some(0) => title.push(Span::styled("exited 0 ", Style::new().fg(Color::Green))),
        Some(c) => title.push(Span::styled(
            format!("exited {c} "),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        )),
    }
    if typing {
        title.push(Span::styled(
            format!(
                "[typing · {} leaves] ",
                app.key(crate::app::action::Action::Leave)
            ),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ));
    } else if focused && cmd.exit.is_none() {
        let keys = app.keymap.keys_for(
            crate::app::keymap::Context::Command,
            crate::app::action::Action::TypeHere,
        );
        let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
        title.push(Span::styled(
            format!("[navigation · {} types] ", keys.join("/")),
            Style::new().fg(Color::Cyan),
        ));
    }
    let back = cmd.emu.scrollback();
    if back > 0 {
        title.push(Span::styled(
            format!("[history -{back}] "),
            Style::new().fg(Color::Yellow),
        ));
    }
    // What runs there gives way to the state and the mode, which must stay readable.
    let others: usize = title
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, s)| s.width())
        .sum();
    let room = usize::from(area.width).saturating_sub(others + 3);
    if title[1].width() > room {
        let cut: String = cmd.title.chars().take(room.saturating_sub(2)).collect();
        title[1] = Span::styled(format!("{cut}… "), Style::new().fg(Color::DarkGray));
    }
    let border = if typing {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    let block = super::frame(focused, border, Line::from(title));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let screen = cmd.emu.screen();
    let (rows, cols) = screen.size();
    let buf = f.buffer_mut();
    for row in 0..rows.get().min(inner.height) {
        for col in 0..cols.get().min(inner.width) {
            let Some(cell) = screen.cell(row, col) else {
                continue;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            let x = inner.x + col;
            let y = inner.y + row;
            let target = &mut buf[(x, y)];
            if cell.has_contents() {
                target.set_symbol(cell.contents());
            } else {
                target.set_symbol(" ");
            }
            target.set_style(cell_style(cell));
        }
    }
    if typing && back == 0 && !screen.hide_cursor() {
        let (r, c) = screen.cursor_position();
        if r < inner.height && c < inner.width {
            f.set_cursor_position((inner.x + c, inner.y + r));
        }
    }
}

/// A console's line being edited, drawn where the program's cursor is (after its prompt).
pub fn draw_input_line(
    f: &mut Frame<'_>,
    area: Rect,
    cmd: &TermPane,
    input: &tui_input::Input,
    typing: bool,
) {
    let inner = Rect::new(
        area.x + 1,
        area.y + 1,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    if cmd.emu.scrollback() > 0 {
        return;
    }
    let (r, c) = cmd.emu.screen().cursor_position();
    if r >= inner.height || c >= inner.width {
        return;
    }
    let room = (inner.width - c) as usize;
    // Long lines scroll so the cursor stays in view.
    let scroll = input.visual_scroll(room.saturating_sub(1));
    let shown: String = input.value().chars().skip(scroll).collect();
    let rect = Rect::new(inner.x + c, inner.y + r, room as u16, 1);
    f.render_widget(ratatui::widgets::Paragraph::new(Line::raw(shown)), rect);
    if typing {
        let x = (input.visual_cursor().max(scroll) - scroll) as u16;
        f.set_cursor_position((rect.x + x.min(rect.width.saturating_sub(1)), rect.y));
    }
}
