//! What is drawn: one module per visual region. A pane draws from state; it owns no I/O.

pub mod breakpoint;
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
    if let Some(list) = l.machine_list {
        machine_list::draw(f, list, app_ref);
    }
    if app_ref.failure_view {
        // The view takes the log panes' place; the driver's terminal stays where it is.
        let command = l
            .panes
            .iter()
            .find(|(p, _)| *p == crate::app::view::Pane::Command)
            .map(|(_, r)| *r);
        let whole = l
            .panes
            .iter()
            .map(|(_, r)| *r)
            .chain(l.machine_list)
            .reduce(|a, b| a.union(b))
            .unwrap_or(area);
        // The terminal keeps a strip at the bottom, enough to see the REPL's last lines.
        let command = command.map(|_| {
            let h = (whole.height / 4).max(8).min(whole.height / 2);
            Rect::new(whole.x, whole.bottom() - h, whole.width, h)
        });
        let body = match command {
            Some(c) => Rect::new(whole.x, whole.y, whole.width, c.y - whole.y),
            None => whole,
        };
        breakpoint::draw(f, body, app_ref);
        if let (Some(rect), Some(cmd)) = (command, &app_ref.command) {
            terminal_pane::draw(f, rect, app_ref, cmd);
        }
        status_bar::draw_bottom(f, l.bottom, app_ref);
        if app_ref.help.is_some() {
            help::draw(
                f,
                Rect::new(area.x, area.y + 1, area.width, area.height - 2),
                app_ref,
            );
        }
        app.drawn = Drawn {
            tabs,
            panes: command
                .map(|r| vec![(crate::app::view::Pane::Command, r)])
                .unwrap_or_default(),
            ..Drawn::default()
        };
        return;
    }
    for (pane, rect) in &l.panes {
        match (pane, &app_ref.command) {
            (crate::app::view::Pane::Command, Some(cmd)) => {
                terminal_pane::draw(f, *rect, app_ref, cmd)
            }
            (crate::app::view::Pane::Command, None) => {}
            _ => log_pane::draw(f, *rect, app_ref, *pane),
        }
    }
    status_bar::draw_bottom(f, l.bottom, app_ref);
    if app_ref.help.is_some() {
        help::draw(
            f,
            Rect::new(area.x, area.y + 1, area.width, area.height - 2),
            app_ref,
        );
    }
    // What a following pane shows has been seen.
    for (pane, _) in &l.panes {
        if let crate::app::view::Pane::Machine(m) = pane
            && app.view(*pane).following()
        {
            app.mark_seen(*m);
        }
    }
    app.drawn = Drawn {
        panes: l.panes,
        machine_list: l.machine_list,
        tabs,
    };
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
    let body = Rect::new(
        area.x,
        l.top.bottom(),
        area.width,
        l.bottom.y.saturating_sub(l.top.bottom()),
    );
    let app_ref: &App = app;
    let tabs = status_bar::draw_top(f, l.top, app_ref);
    if let Some(tab) = app_ref.active() {
        let typing = app_ref.help.is_none() && app_ref.typing();
        let label = format!(" {} ", tab.label());
        let console = (tab.kind == crate::app::tabs::TabKind::Pdb).then_some(&tab.console);
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
                    crate::app::tabs::TabKind::Ssh => "ssh ended",
                    crate::app::tabs::TabKind::Attach => "the sandbox shell ended",
                    crate::app::tabs::TabKind::Pdb => "the pdb session ended",
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
    status_bar::draw_bottom(f, l.bottom, app_ref);
    if app_ref.help.is_some() {
        help::draw(
            f,
            Rect::new(area.x, area.y + 1, area.width, area.height - 2),
            app_ref,
        );
    }
    app.tab_size = tab_size(area, l);
    app.drawn = Drawn {
        tabs,
        ..Drawn::default()
    };
}

/// The inner size of a tab's terminal: the body between the bars, inside its frame.
fn tab_size(area: Rect, l: &layout::Layout) -> (u16, u16) {
    let height = l.bottom.y.saturating_sub(l.top.bottom());
    (
        area.width.saturating_sub(2).max(1),
        height.saturating_sub(2).max(1),
    )
}
