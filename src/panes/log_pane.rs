//! A machine's serial console or the driver's log as a scrollable view. The driver's lines
//! are drawn as a tree: steps indented, folded or open, with their outcome and duration.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::cache::Key;
use super::text::{crop, cursor_style, moment_style, spans, wrap};
use crate::app::logviews::{origin_of, within};
use crate::app::state::App;
use crate::app::view::{Pane, PaneLines};
use crate::vm::export::state_mark;
use crate::vm::model::{MachineState, Origin, StepState, line_kind as k};
use crate::vm::store::StoredLine;

pub fn state_color(state: MachineState) -> Color {
    match state {
        MachineState::NotStarted => Color::DarkGray,
        MachineState::Booting => Color::Yellow,
        MachineState::Connected => Color::Green,
        MachineState::ShutDown => Color::Blue,
        MachineState::Crashed => Color::Red,
        MachineState::Killed => Color::Magenta,
    }
}

/// A machine's colour where lines of many machines meet (the merged view, the timeline).
pub fn machine_color(m: usize) -> Color {
    const COLORS: [Color; 6] = [
        Color::Cyan,
        Color::Green,
        Color::Yellow,
        Color::Magenta,
        Color::Blue,
        Color::LightRed,
    ];
    COLORS[m % COLORS.len()]
}

fn step_color(state: StepState) -> Color {
    match state {
        StepState::Passed => Color::Green,
        StepState::Failed => Color::Red,
        StepState::Running => Color::Yellow,
        StepState::Unclosed => Color::DarkGray,
    }
}

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App, pane: Pane) {
    // A machine pane changes with its own console only; the driver pane with anything the
    // test learns (a step's state, a failure), so it is keyed by the test's revision.
    let key = match pane {
        Pane::Machine(m) => machine_key(app, m, area),
        Pane::Driver => Some(driver_key(app, area)),
        Pane::All | Pane::Command => None,
    };
    let cache = &app.screen.cache;
    if let Some(key) = &key
        && cache.restore(f.buffer_mut(), pane, area, key)
    {
        return;
    }
    draw_anew(f, area, app, pane);
    if let Some(key) = &key {
        cache.keep(f.buffer_mut(), pane, area, key);
    }
}

/// Everything a machine pane is drawn from.
fn machine_key(app: &App, m: usize, area: Rect) -> Option<Key> {
    let test = app.current_test();
    let machine = test.machines.get(m)?;
    let view = app.views.view(Pane::Machine(m));
    let shown = app.shown();
    let lines = app.views.lines(&shown, Pane::Machine(m));
    let mut key = Key::new(area);
    key.add(app.views.focus == Pane::Machine(m) && app.overlay.help.is_none())
        .add(app.views.test)
        .add((&machine.name, machine.container))
        .add(shown.machine_state(machine).label())
        .add((machine.boots, machine.serial_lines))
        .add((
            machine.serial.first_seq(),
            machine.serial.end_seq(),
            lines.end,
        ))
        .add(shown.freeze.is_some())
        .add(app.shots.list(app.views.test, test).len())
        .add((view.anchor, view.hscroll, view.cursor, view.unread))
        .add(view.filter.as_ref().map(|f| &f.pattern))
        .add(app.views.search.as_ref().map(|f| &f.pattern))
        .add((app.views.times, app.views.wrap, test.finished))
        .add((&app.input.archive, &app.input.origin))
        .add(axis_key(app));
    Some(key)
}

/// What every log pane is drawn from besides its own lines: the moment, the step selected
/// in the driver pane, the marks.
fn axis_key(app: &App) -> (bool, Option<u64>, Option<(u64, u64)>, usize, u64) {
    let marks = &app.views.marks;
    (
        app.views.sync,
        app.views.moment,
        app.views.selected_span(&app.shown()),
        marks.len(),
        marks
            .iter()
            .map(|m| m.at)
            .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(b)),
    )
}

/// Everything the driver pane is drawn from. The failed step it marks follows from the
/// steps (the revision) and the freeze (its end), so no walk over the steps per frame.
fn driver_key(app: &App, area: Rect) -> Key {
    let test = app.current_test();
    let view = app.views.view(Pane::Driver);
    let shown = app.shown();
    let lines = app.views.lines(&shown, Pane::Driver);
    let collapsed = app.views.collapsed();
    let mut key = Key::new(area);
    key.add(app.views.focus == Pane::Driver && app.overlay.help.is_none())
        .add((
            app.views.test,
            test.revision,
            lines.end,
            shown.freeze.is_some(),
        ))
        .add(shown.cut)
        .add((
            collapsed.len(),
            collapsed.iter().map(|&s| u64::from(s)).sum::<u64>(),
        ))
        .add((view.anchor, view.hscroll, view.cursor, view.unread))
        .add(view.filter.as_ref().map(|f| &f.pattern))
        .add(app.views.search.as_ref().map(|f| &f.pattern))
        .add((app.views.times, app.views.wrap, test.finished))
        .add((&app.input.archive, &app.input.origin))
        .add(axis_key(app));
    key
}

fn draw_anew(f: &mut Frame<'_>, area: Rect, app: &App, pane: Pane) {
    let focused = app.views.focus == pane && app.overlay.help.is_none();
    let test = app.current_test();
    let view = app.views.view(pane);
    let lines = app.views.lines(&app.shown(), pane);

    let mut title: Vec<Span<'static>> = Vec::new();
    let mut border = Style::new().fg(Color::DarkGray);
    match pane {
        Pane::Machine(m) => {
            let Some(machine) = test.machines.get(m) else {
                return;
            };
            title.push(Span::styled(
                format!(" {} ", m + 1),
                Style::new().fg(Color::DarkGray),
            ));
            title.push(Span::styled(
                machine.name.clone(),
                Style::new().add_modifier(Modifier::BOLD),
            ));
            let state = app.shown().machine_state(machine);
            title.push(Span::styled(" ● ", Style::new().fg(state_color(state))));
            title.push(Span::raw(state.label().to_string()));
            if machine.boots > 1 {
                title.push(Span::styled(
                    format!(" · boot {}", machine.boots),
                    Style::new().fg(Color::Yellow),
                ));
            }
            title.push(Span::styled(
                format!(" · {} lines ", machine.serial_lines),
                Style::new().fg(Color::DarkGray),
            ));
            if matches!(state, MachineState::Crashed) {
                border = border.fg(Color::Red);
                title.push(Span::styled(
                    "✗ crashed ",
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            }
        }
        Pane::Command => return,
        Pane::All => {
            title.push(Span::styled(" a ", Style::new().fg(Color::DarkGray)));
            title.push(Span::styled(
                "all machines",
                Style::new().add_modifier(Modifier::BOLD),
            ));
            title.push(Span::styled(
                " · input order ",
                Style::new().fg(Color::DarkGray),
            ));
            if let Some(only) = &view.only {
                let names: Vec<&str> = only
                    .iter()
                    .map(|o| crate::app::logviews::origin_name(test, *o))
                    .collect();
                title.push(Span::styled(
                    format!("[only: {}] ", names.join(", ")),
                    Style::new().fg(Color::Black).bg(Color::Magenta),
                ));
            }
        }
        Pane::Driver => {
            title.push(Span::styled(" 0 ", Style::new().fg(Color::DarkGray)));
            title.push(Span::styled(
                "driver",
                Style::new().add_modifier(Modifier::BOLD),
            ));
            if !test.failures.is_empty() {
                title.push(Span::styled(
                    format!(" ✗ {} ", test.failures.len()),
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            } else {
                title.push(Span::raw(" "));
            }
        }
    }
    if let Some(f) = &view.filter {
        title.push(Span::styled(
            format!("[filter: {}] ", f.pattern),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ));
    }
    if app.shown().freeze.is_some() {
        let since = lines.hidden();
        let text = if since > 0 {
            format!("[frozen · +{since} since] ")
        } else {
            "[frozen] ".to_string()
        };
        title.push(Span::styled(
            text,
            Style::new().fg(Color::Black).bg(Color::Blue),
        ));
    } else if !view.following() {
        let more = if view.unread > 0 {
            format!(" +{}", view.unread)
        } else {
            String::new()
        };
        title.push(Span::styled(
            format!("[paused{more}] "),
            Style::new().fg(Color::Yellow),
        ));
    }
    if focused {
        border = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    }
    let block = super::frame(focused, border, Line::from(title));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let rows = rows(app, &lines, &view, inner, focused);
    // Rows are already cut to the pane's width: written straight into the buffer, without
    // a Paragraph reflowing them again.
    let buf = f.buffer_mut();
    for (i, row) in rows.iter().enumerate().take(inner.height as usize) {
        super::text::put_line(buf, inner.x, inner.y + i as u16, row, inner.width);
    }
}

/// The rows of the view, bottom-anchored: the anchor line (or the newest) ends the view.
fn rows(
    app: &App,
    lines: &PaneLines<'_>,
    view: &crate::app::view::View,
    inner: Rect,
    focused: bool,
) -> Vec<Line<'static>> {
    let height = inner.height as usize;
    let width = inner.width as usize;
    let Some(last) = lines.last() else {
        let msg = if lines.filter.is_some() {
            "(no line matches the filter)"
        } else if lines.test.finished {
            // A saved log, or a run that ended: nothing more will come.
            if lines.driver {
                "(no driver output in this log)"
            } else {
                "(no console output in this log)"
            }
        } else if lines.driver {
            "(no driver output yet)"
        } else {
            "(no serial output yet)"
        };
        return vec![Line::styled(msg, Style::new().fg(Color::DarkGray))];
    };
    let bottom = view.anchor.unwrap_or(last).min(last);
    let bottom = if lines.get(bottom).is_some_and(|l| lines.visible(bottom, &l)) {
        bottom
    } else {
        lines.prev(bottom).unwrap_or(last)
    };
    let failed = if lines.driver {
        app.failure.failed_head(app.current_test())
    } else {
        None
    };
    let span = match lines.pane {
        Pane::Driver => None,
        _ => app.views.selected_span(&app.shown()),
    };
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut seq = Some(bottom);
    let mut top_seq = bottom;
    while let Some(s) = seq {
        if out.len() >= height {
            break;
        }
        let Some(line) = lines.get(s) else {
            break;
        };
        let mut rendered = render_line(app, lines, &line, s, width, view.hscroll);
        if focused && view.cursor == Some(s) {
            for r in &mut rendered {
                *r = std::mem::take(r).patch_style(cursor_style());
            }
        } else if app.views.sync && view.cursor == Some(s) {
            // The moment every pane shows, in the panes without the focus.
            for r in &mut rendered {
                *r = std::mem::take(r).patch_style(moment_style());
            }
        } else if within(&line, span) {
            for r in &mut rendered {
                *r = std::mem::take(r).patch_style(Style::new().bg(Color::Indexed(236)));
            }
        } else if failed == Some(s) {
            for r in &mut rendered {
                *r = std::mem::take(r).patch_style(
                    Style::new()
                        .fg(Color::White)
                        .bg(Color::Red)
                        .add_modifier(Modifier::BOLD),
                );
            }
        }
        for r in rendered.into_iter().rev() {
            out.push(r);
        }
        top_seq = s;
        seq = lines.prev(s);
    }
    out.truncate(height);
    // At the top of what memory holds: say what was evicted and where it is.
    if let Some(gone) = lines.evicted_note()
        && lines.prev(top_seq).is_none()
        && out.len() < height
    {
        out.push(Line::styled(
            format!(
                "⋯ {gone} not in memory; the whole log is in {}",
                app.input.archive.as_deref().unwrap_or(&app.input.origin)
            ),
            Style::new()
                .fg(Color::Yellow)
                .add_modifier(Modifier::ITALIC),
        ));
    }
    out.reverse();
    out
}

fn render_line(
    app: &App,
    lines: &PaneLines<'_>,
    line: &StoredLine,
    seq: u64,
    width: usize,
    hscroll: usize,
) -> Vec<Line<'static>> {
    let mut prefix: Vec<Span<'static>> = Vec::new();
    let test = lines.test;
    let origin = origin_of(lines, lines.pane, seq);
    let shots = match lines.pane {
        Pane::Machine(m) => app
            .shots
            .list(app.views.test, test)
            .iter()
            .any(|x| x.machine == m)
            .then_some(m),
        _ => None,
    };
    if shots.is_some() || app.views.marks.iter().any(|m| m.test == app.views.test) {
        let marked = origin.is_some_and(|o| app.views.is_marked(o, line.at));
        let shot = shots.is_some_and(|m| app.shots.marks_line(app.views.test, test, m, seq));
        prefix.push(match (marked, shot) {
            (true, _) => Span::styled("▌", Style::new().fg(Color::Magenta)),
            (false, true) => Span::styled("▣", Style::new().fg(Color::Cyan)),
            _ => Span::raw(" "),
        });
    }
    if app.views.times {
        let gutter = match line.time() {
            Some(ms) => format!(
                "{:>3}:{:02}.{:03} ",
                ms / 60_000,
                (ms / 1000) % 60,
                ms % 1000
            ),
            None => format!("{:>6} ", line.input_line()),
        };
        prefix.push(Span::styled(gutter, Style::new().fg(Color::DarkGray)));
    }
    let merged = lines.store.origin(seq).is_some();
    if let Some(o) = origin.filter(|_| merged) {
        let width = crate::app::logviews::tag_width(test);
        let name = crate::app::logviews::origin_name(test, o);
        let name: String = name.chars().take(width).collect();
        let color = match o {
            Origin::Driver => Color::White,
            Origin::Machine(m) => machine_color(m),
        };
        prefix.push(Span::styled(
            format!("{name:<width$}"),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ));
        prefix.push(Span::styled(" │ ", Style::new().fg(Color::DarkGray)));
    }
    let mut base = Style::new();
    let mut suffix: Option<Span<'static>> = None;
    if lines.is_driver(seq) {
        let depth = if merged { 0 } else { lines.depth(line) };
        prefix.push(Span::raw("  ".repeat(depth.min(20))));
        match line.kind {
            // A step whose details left memory (the step cap): its line, dimmed.
            k::STEP_HEAD if lines.test.step(line.tag).is_none() => {
                prefix.push(Span::styled("  · ", Style::new().fg(Color::DarkGray)));
                base = base.fg(Color::DarkGray);
            }
            k::STEP_HEAD => {
                let step = lines.test.step(line.tag);
                let folded = app.views.collapsed().contains(&line.tag);
                let shown = app.shown();
                let state = step.map_or(StepState::Unclosed, |s| shown.step_state(s));
                prefix.push(Span::styled(
                    if folded { "▸ " } else { "▾ " },
                    Style::new().fg(Color::DarkGray),
                ));
                prefix.push(Span::styled(
                    format!("{} ", state_mark(state)),
                    Style::new()
                        .fg(step_color(state))
                        .add_modifier(Modifier::BOLD),
                ));
                if state == StepState::Failed {
                    base = base.fg(Color::Red);
                }
                suffix = match step.map(|s| (state, s.secs.filter(|_| state != StepState::Running)))
                {
                    Some((_, Some(secs))) => Some(Span::styled(
                        format!(" {secs:.2}s"),
                        Style::new().fg(Color::DarkGray),
                    )),
                    Some((StepState::Running, None)) => {
                        Some(Span::styled(" running", Style::new().fg(Color::Yellow)))
                    }
                    _ => None,
                };
            }
            k::ERROR | k::TRACEBACK => base = base.fg(Color::Red),
            k::WARNING => base = base.fg(Color::Yellow),
            k::NIX => base = base.fg(Color::DarkGray),
            k::PROMPT => base = base.fg(Color::Cyan),
            k::COMMAND_OUTPUT => {
                base = base.fg(Color::Gray).add_modifier(Modifier::ITALIC);
                prefix.push(Span::styled("│ ", Style::new().fg(Color::DarkGray)));
            }
            _ => {}
        }
    }
    let mut text = spans(line, base, app.views.search.as_ref());
    // A container's console is its journal: each entry's unit stands out.
    if let Pane::Machine(m) = lines.pane
        && test.machines.get(m).is_some_and(|x| x.container)
        && let Some(e) = crate::vm::journal::parse(&line.plain())
    {
        let unit = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
        text = crate::panes::text::emphasize(text, &[e.ident], unit);
    }
    if app.views.wrap {
        text.extend(suffix);
        return wrap(prefix, text, width);
    }
    // A step's duration stays in sight at the right edge; a long title gives way.
    let Some(suffix) = suffix else {
        return vec![crop(prefix, text, hscroll, width)];
    };
    let pw: usize = prefix.iter().map(Span::width).sum();
    let tw: usize = text
        .iter()
        .map(Span::width)
        .sum::<usize>()
        .saturating_sub(hscroll);
    let sw = suffix.width();
    if pw + tw + sw <= width {
        text.push(suffix);
        return vec![crop(prefix, text, hscroll, width)];
    }
    let room = width.saturating_sub(sw + 1);
    let mut row = crop(prefix, text, hscroll, room);
    row.spans
        .push(Span::styled("…", Style::new().fg(Color::DarkGray)));
    row.spans.push(suffix);
    vec![row]
}
