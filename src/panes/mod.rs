//! What is drawn: one module per visual region. A pane draws from state; it owns no I/O.

pub mod breakpoint;
pub mod confirm;
pub mod help;
pub mod log_pane;
pub mod machine_list;
pub mod status_bar;
pub mod terminal_pane;
pub mod text;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use ratatui::widgets::{Block, BorderType, Borders};

use crate::app::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use crate::app::state::{App, Drawn};
use crate::app::tabs::TabKind;
use crate::app::view::Pane;

/// Draws the whole screen and records where panes went (for the mouse and paging).
pub fn draw(f: &mut Frame<'_>, app: &mut App) {
    let area = f.area();
    let test = app.current_test();
    let l = layout::compute(
        area,
        test.machines.len(),
        app.focus,
        app.zoom,
        app.command.is_some(),
    );
    if l.too_small {
        let msg = format!(
            "terminal too small: {}x{} (vmscope needs {MIN_WIDTH}x{MIN_HEIGHT})",
            area.width, area.height
        );
        let y = area.height / 2;
        f.render_widget(
            Paragraph::new(Line::styled(
                msg,
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            )),
            Rect::new(area.x, area.y + y, area.width, 1.min(area.height)),
        );
        app.drawn = Drawn::default();
        return;
    }
    if app.active().is_some() {
        draw_tab(f, area, &l, app);
        return;
    }
    // A tab opened from here starts at the size it will be drawn at.
    app.tab_size = tab_size(area, &l);
    let app_ref: &App = app;
    let tabs = status_bar::draw_top(f, l.top, app_ref);
    let (panes, machine_list) = if app_ref.failure_view {
        (draw_failure_view(f, area, &l, app_ref), None)
    } else {
        if let Some(list) = l.machine_list {
            machine_list::draw(f, list, app_ref);
        }
        for (pane, rect) in &l.panes {
            match (pane, &app_ref.command) {
                (Pane::Command, Some(cmd)) => terminal_pane::draw(f, *rect, app_ref, cmd),
                (Pane::Command, None) => {}
                _ => log_pane::draw(f, *rect, app_ref, *pane),
            }
        }
        (l.panes.clone(), l.machine_list)
    };
    draw_bottom(f, area, &l, app_ref);
    // What a following pane shows has been seen.
    for (pane, _) in &panes {
        if let Pane::Machine(m) = pane
            && app.view(*pane).following()
        {
            app.mark_seen(*m);
        }
    }
    app.drawn = Drawn {
        panes,
        machine_list,
        tabs,
    };
}

/// The breakpoint view in the log panes' place; the driver's terminal keeps a strip at the
/// bottom, enough to see the REPL's last lines. Returns the panes still on screen.
fn draw_failure_view(
    f: &mut Frame<'_>,
    area: Rect,
    l: &layout::Layout,
    app: &App,
) -> Vec<(Pane, Rect)> {
    let whole = l
        .panes
        .iter()
        .map(|(_, r)| *r)
        .chain(l.machine_list)
        .reduce(|a, b| a.union(b))
        .unwrap_or(area);
    let command = app.command.as_ref().map(|cmd| {
        let h = (whole.height / 4).max(8).min(whole.height / 2);
        (cmd, Rect::new(whole.x, whole.bottom() - h, whole.width, h))
    });
    let body = match command {
        Some((_, c)) => Rect::new(whole.x, whole.y, whole.width, c.y - whole.y),
        None => whole,
    };
    breakpoint::draw(f, body, app);
    match command {
        Some((cmd, rect)) => {
            terminal_pane::draw(f, rect, app, cmd);
            vec![(Pane::Command, rect)]
        }
        None => Vec::new(),
    }
}

/// The bottom bar, and the help over everything when it is open.
fn draw_bottom(f: &mut Frame<'_>, area: Rect, l: &layout::Layout, app: &App) {
    status_bar::draw_bottom(f, l.bottom, app);
    if app.help.is_some() {
        help::draw(
            f,
            Rect::new(area.x, area.y + 1, area.width, area.height - 2),
            app,
        );
    }
    if let Some(c) = &app.confirm {
        confirm::draw(f, area, c);
    }
}

/// The frame of a pane: thick when focused, rounded otherwise.
pub fn frame<'a>(focused: bool, border: Style, title: Line<'a>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(border)
        .title(title)
}

/// An ssh tab over the whole body, between the two bars.
fn draw_tab(f: &mut Frame<'_>, area: Rect, l: &layout::Layout, app: &mut App) {
    let body = body(area, l);
    let app_ref: &App = app;
    let tabs = status_bar::draw_top(f, l.top, app_ref);
    if let Some(tab) = app_ref.active() {
        let typing = app_ref.help.is_none() && app_ref.typing();
        let label = format!(" {} ", tab.label());
        let console = (tab.kind == TabKind::Pdb).then_some(&tab.console);
        terminal_pane::draw_terminal(f, body, app_ref, &tab.pane, &label, true, typing);
        if let Some(console) = console
            && tab.running
        {
            terminal_pane::draw_input_line(f, body, &tab.pane, &console.input, typing);
        }
        let note = tab.waiting.clone().or_else(|| {
            tab.pane.exit.map(|c| {
                let why = tab
                    .last_error
                    .lines()
                    .rev()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .filter(|_| c != 0)
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                let what = match tab.kind {
                    TabKind::Ssh => "ssh ended",
                    TabKind::Attach => "the sandbox shell ended",
                    TabKind::Pdb => "the pdb session ended",
                };
                format!("{what} with status {c}{why}: r reconnects, x closes the tab")
            })
        });
        if let Some(note) = note {
            let y = body.y + body.height.saturating_sub(2);
            f.render_widget(
                Paragraph::new(Line::styled(
                    format!(" {note} "),
                    Style::new().fg(Color::Black).bg(Color::Yellow),
                )),
                Rect::new(body.x + 1, y, body.width.saturating_sub(2), 1),
            );
        }
    }
    draw_bottom(f, area, l, app_ref);
    app.tab_size = tab_size(area, l);
    app.drawn = Drawn {
        tabs,
        ..Drawn::default()
    };
}

/// Everything between the two bars.
fn body(area: Rect, l: &layout::Layout) -> Rect {
    Rect::new(
        area.x,
        l.top.bottom(),
        area.width,
        l.bottom.y.saturating_sub(l.top.bottom()),
    )
}

/// The inner size of a tab's terminal: the body, inside its frame.
fn tab_size(area: Rect, l: &layout::Layout) -> (u16, u16) {
    let b = body(area, l);
    (
        b.width.saturating_sub(2).max(1),
        b.height.saturating_sub(2).max(1),
    )
}
