//! What is drawn: one module per visual region. A pane draws from state; it owns no I/O.

pub mod breakpoint;
pub mod cache;
pub mod confirm;
pub mod help;
pub mod log_pane;
pub mod machine_list;
pub mod palette;
pub mod shot;
pub mod status_bar;
pub mod terminal_pane;
pub mod text;
pub mod theme;
pub mod timeline;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use ratatui::widgets::{Block, BorderType, Borders};

use crate::app::action::Action;
use crate::app::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use crate::app::sessions::TabKind;
use crate::app::state::{App, Drawn};
use crate::app::view::Pane;

/// Draws the whole screen in the theme's colours and returns where things went (for the
/// mouse, paging and the terminals' sizes).
pub fn draw(f: &mut Frame<'_>, app: &App) -> Drawn {
    let drawn = draw_screen(f, app);
    theme::apply(f.buffer_mut(), app.screen.theme);
    drawn
}

fn draw_screen(f: &mut Frame<'_>, app: &App) -> Drawn {
    let area = f.area();
    let test = app.current_test();
    let focus = app.views.focus;
    let l = layout::compute_for(
        area,
        &layout::Want {
            machines: test.machines.len(),
            focus,
            zoom: app.views.zoom,
            command: app.sessions.command.is_some(),
            typing: focus == Pane::Command && app.sessions.command_typing,
            driver_width: app.screen.driver_width,
            merged: app.views.merged,
        },
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
        return Drawn::default();
    }
    // A tab opened from here starts at the size it will be drawn at.
    let tab_size = Some(tab_size(area, &l));
    if app.sessions.active().is_some() {
        let tabs = draw_tab(f, area, &l, app);
        return Drawn {
            tabs,
            tab_size,
            ..Drawn::default()
        };
    }
    let tabs = status_bar::draw_top(f, l.top, app);
    app.screen.cache.retain(&l.panes);
    let mut timeline = None;
    let (panes, machine_list) = if app.timeline.open {
        timeline = Some(self::timeline::draw(f, body_of(&l, area), app));
        (Vec::new(), None)
    } else if app.failure.open {
        (draw_failure_view(f, area, &l, app), None)
    } else {
        if let Some(list) = l.machine_list {
            machine_list::draw(f, list, app);
        }
        for (pane, rect) in &l.panes {
            match (pane, &app.sessions.command) {
                (Pane::Command, Some(cmd)) => terminal_pane::draw(f, *rect, app, cmd),
                (Pane::Command, None) => {}
                _ => log_pane::draw(f, *rect, app, *pane),
            }
        }
        if let Some(open) = app.shots.open.filter(|o| o.test == app.views.test) {
            let beside = l
                .panes
                .iter()
                .find(|(p, _)| *p == Pane::Machine(open.machine))
                .map(|(_, r)| *r)
                .filter(|r| !open.full && r.width >= 40);
            let area = match beside {
                // The right half of the machine's pane: its lines stay readable on the left.
                Some(r) => Rect::new(r.x + r.width / 2, r.y, r.width - r.width / 2, r.height),
                None => body_of(&l, area),
            };
            shot::draw(f, area, app);
        }
        (l.panes.clone(), l.machine_list)
    };
    draw_bottom(f, area, &l, app);
    // The driver column's left border, when it is a column beside the machines.
    let divider = panes
        .iter()
        .find(|(p, _)| *p == Pane::Driver)
        .filter(|(_, r)| r.y == l.top.bottom() && r.x > area.x && !app.views.zoom)
        .map(|(_, r)| r.x);
    Drawn {
        panes,
        machine_list,
        tabs,
        tab_size,
        divider,
        timeline,
    }
}

/// Where the panes are, as one area (what takes their place: the timeline, the failure
/// view).
fn body_of(l: &layout::Layout, area: Rect) -> Rect {
    l.panes
        .iter()
        .map(|(_, r)| *r)
        .chain(l.machine_list)
        .reduce(|a, b| a.union(b))
        .unwrap_or(area)
}

/// The breakpoint view in the log panes' place; the driver's terminal keeps a strip at the
/// bottom, enough to see the REPL's last lines. Returns the panes still on screen.
fn draw_failure_view(
    f: &mut Frame<'_>,
    area: Rect,
    l: &layout::Layout,
    app: &App,
) -> Vec<(Pane, Rect)> {
    let whole = body_of(l, area);
    let command = app.sessions.command.as_ref().map(|cmd| {
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
    if let Some(p) = &app.overlay.prompt
        && p.kind == crate::app::overlay::PromptKind::Palette
    {
        palette::draw(
            f,
            l.bottom,
            &app.keymap,
            &app.palette(),
            p.input.value(),
            p.selected,
        );
    }
    if app.overlay.help.is_some() {
        help::draw(
            f,
            Rect::new(area.x, area.y + 1, area.width, area.height - 2),
            app,
        );
    }
    if let Some(c) = &app.overlay.confirm {
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
fn draw_tab(
    f: &mut Frame<'_>,
    area: Rect,
    l: &layout::Layout,
    app: &App,
) -> Vec<(Option<usize>, Rect)> {
    let body = body(area, l);
    let app_ref = app;
    let tabs = status_bar::draw_top(f, l.top, app_ref);
    if let Some(tab) = app_ref.sessions.active() {
        let typing = app_ref.typing();
        let label = format!(" {} ", tab.label());
        let console = (tab.kind == TabKind::Pdb).then_some(&tab.console);
        terminal_pane::draw_terminal(f, body, app_ref, &tab.pane, &label, true, typing);
        if let Some(console) = console
            && tab.running
        {
            terminal_pane::draw_input_line(f, body, &tab.pane, &console.input, typing);
        }
        let r = app.key(Action::Reconnect);
        let x = app.key(Action::CloseTab);
        let note = tab
            .failed
            .as_ref()
            .map(|why| format!("{}: {why}: {x} closes the tab", tab.label()))
            .or_else(|| tab.waiting.clone())
            .or_else(|| {
                tab.pane.exit.map(|c| {
                    // ssh's last word: on its stderr, or on its terminal.
                    let said = if tab.last_error.trim().is_empty() {
                        tab.pane.emu.screen().contents()
                    } else {
                        tab.last_error.clone()
                    };
                    let why = said
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
                    format!("{what} with status {c}{why}: {r} reconnects, {x} closes the tab")
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
    tabs
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
