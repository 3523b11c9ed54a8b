//! The top bar (test, machines, current step, time, outcome) and the bottom bar (prompt,
//! message, or key hints from the keymap).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::log_pane::state_color;
use crate::app::overlay::PromptKind;
use crate::app::state::App;
use crate::vm::Outcome;

pub fn outcome_style(o: Outcome) -> Style {
    let c = match o {
        Outcome::Passed => Color::Green,
        Outcome::Failed | Outcome::TimedOut => Color::Red,
        Outcome::Running => Color::Yellow,
        Outcome::Unknown | Outcome::Ended => Color::Gray,
    };
    Style::new().fg(c).add_modifier(Modifier::BOLD)
}

pub fn clock(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// Draws the top bar; returns where each tab's label is (`None`: the panes), for the mouse.
pub fn draw_top(f: &mut Frame<'_>, area: Rect, app: &App) -> Vec<(Option<usize>, Rect)> {
    let mut labels: Vec<(Option<usize>, u16, u16)> = Vec::new();
    let width = |spans: &[Span<'_>]| spans.iter().map(|s| s.width() as u16).sum::<u16>();
    let test = app.current_test();
    let dim = Style::new().fg(Color::DarkGray);
    let right = right_spans(app);
    let right_w: usize = right.iter().map(Span::width).sum();
    let mut left: Vec<Span<'static>> = vec![Span::styled(
        " vmscope ",
        Style::new().fg(Color::Black).bg(Color::Cyan),
    )];
    let tests: Vec<usize> = app.run().visible_tests().map(|(i, _)| i).collect();
    if tests.len() > 1 {
        for (n, &i) in tests.iter().enumerate() {
            let t = &app.run().tests[i];
            let name = t.name.clone().unwrap_or_else(|| format!("test {}", n + 1));
            let style = if i == app.views.test {
                outcome_style(t.outcome(app.run().live)).add_modifier(Modifier::REVERSED)
            } else {
                outcome_style(t.outcome(app.run().live))
            };
            left.push(Span::raw(" "));
            left.push(Span::styled(format!("[{name}]"), style));
        }
    } else {
        let name = test
            .name
            .clone()
            .unwrap_or_else(|| app.input.origin.clone());
        // The name gives way first, the machines' states after it: what takes the right
        // side (freeze, clock, outcome) and the machines' room are known below.
        let states: usize = test
            .machines
            .iter()
            .map(|m| 2 + m.name.chars().count())
            .sum();
        let room =
            usize::from(area.width).saturating_sub(right_w + width(&left) as usize + 3 + states);
        left.push(Span::styled(
            format!(" {} ", shorten(&name, room.max(8))),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    left.push(Span::styled("│", dim));
    // Whole machine states only; those that do not fit are counted.
    let room = usize::from(area.width).saturating_sub(right_w + width(&left) as usize);
    let mut used = 0;
    for (i, m) in test.machines.iter().enumerate() {
        let w = 2 + m.name.chars().count();
        let rest = test.machines.len() - i;
        let more = if rest > 1 { 4 } else { 0 };
        if used + w + more > room {
            left.push(Span::styled(format!(" +{rest}"), dim));
            break;
        }
        used += w;
        let state = app.shown().machine_state(m);
        left.push(Span::styled(" ●", Style::new().fg(state_color(state))));
        left.push(Span::raw(m.name.clone()));
    }
    if !app.sessions.tabs.is_empty() {
        left.push(Span::styled(" │", dim));
        let panes = Style::new().add_modifier(Modifier::BOLD);
        left.push(Span::raw(" "));
        labels.push((None, width(&left), 7));
        left.push(if app.sessions.active.is_none() {
            Span::styled("[panes]", panes.add_modifier(Modifier::REVERSED))
        } else {
            Span::styled("[panes]", dim)
        });
        for (i, tab) in app.sessions.tabs.iter().enumerate() {
            let color = if tab.running {
                Color::Green
            } else if tab.waiting.is_some() {
                Color::Yellow
            } else {
                Color::Red
            };
            let mut style = Style::new().fg(color);
            if app.sessions.active == Some(i) {
                style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            }
            left.push(Span::raw(" "));
            let label = Span::styled(format!("[{}]", tab.label()), style);
            labels.push((Some(i), width(&left), label.width() as u16));
            left.push(label);
        }
        if app.sessions.sync_typing {
            left.push(Span::styled(
                " SYNC",
                Style::new().fg(Color::Black).bg(Color::Magenta),
            ));
        }
    }
    if let Some(step) = test.current_step() {
        left.push(Span::styled(" │ ", dim));
        let who = step
            .machine
            .as_deref()
            .map(|m| format!("{m}: "))
            .unwrap_or_default();
        left.push(Span::styled(
            format!("▶ {who}{}", step.title),
            Style::new().fg(Color::Yellow),
        ));
    }
    let rw: u16 = right.iter().map(|s| s.width() as u16).sum();
    let lw = area.width.saturating_sub(rw);
    f.render_widget(
        Paragraph::new(Line::from(left)),
        Rect::new(area.x, area.y, lw, 1),
    );
    f.render_widget(
        Paragraph::new(Line::from(right)),
        Rect::new(area.x + lw, area.y, rw.min(area.width), 1),
    );
    labels
        .into_iter()
        .filter(|&(_, x, w)| x + w <= lw)
        .map(|(tab, x, w)| (tab, Rect::new(area.x + x, area.y, w, 1)))
        .collect()
}

pub fn draw_bottom(f: &mut Frame<'_>, area: Rect, app: &App) {
    if let Some(p) = &app.overlay.prompt {
        let label = match p.kind {
            PromptKind::Search | PromptKind::HelpSearch => "/",
            PromptKind::Filter => "filter: ",
            PromptKind::Save => "save to: ",
            PromptKind::Palette => ":",
        };
        let width = area.width.saturating_sub(label.len() as u16 + 1) as usize;
        let scroll = p.input.visual_scroll(width);
        let value: String = p.input.value().chars().skip(scroll).collect();
        let line = Line::from(vec![
            Span::styled(
                label,
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ),
            Span::raw(value),
        ]);
        f.render_widget(Paragraph::new(line), area);
        let x =
            area.x + label.len() as u16 + (p.input.visual_cursor().saturating_sub(scroll)) as u16;
        f.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
        return;
    }
    if let Some(m) = &app.overlay.message {
        let style = if m.error {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::Cyan)
        };
        f.render_widget(
            Paragraph::new(Line::styled(format!(" {}", m.text), style)),
            area,
        );
        return;
    }
    if app.typing() {
        let line = Line::from(vec![
            Span::styled(
                " TYPING ",
                Style::new()
                    .fg(Color::Black)
                    .bg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(match app.sessions.active() {
                Some(_) if app.sessions.sync_typing => {
                    " every key goes to every ssh tab · ".to_string()
                }
                Some(tab) => format!(" every key goes to {} · ", tab.label()),
                None => " every key goes to the driver's terminal · ".to_string(),
            }),
            Span::styled(
                app.key(crate::app::action::Action::Leave),
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ),
            Span::raw(" returns to navigation"),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let mut modes = Vec::new();
    if app.views.wrap {
        modes.push("wrap");
    }
    if app.views.times {
        modes.push("times");
    }
    if app.views.zoom {
        modes.push("zoom");
    }
    let modes = (!modes.is_empty()).then(|| {
        Span::styled(
            format!(" [{}]", modes.join(" ")),
            Style::new().fg(Color::Yellow),
        )
    });
    // Whole hints only, in the keymap's order (the first matter most): one that does not fit
    // is left out with every one after it, never cut mid-word.
    let room = usize::from(area.width).saturating_sub(modes.as_ref().map_or(0, Span::width));
    let mut used = 0;
    let mut spans: Vec<Span<'static>> = Vec::new();
    let facts = app.facts();
    for (key, _, label) in app
        .keymap
        .hints(app.scope().context())
        .into_iter()
        .filter(|(_, a, _)| crate::app::commands::possible(&facts, *a))
    {
        let key = Span::styled(
            format!(" {key}"),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        );
        let label = Span::raw(format!(" {label} "));
        let width = key.width() + label.width();
        if used + width > room {
            break;
        }
        used += width;
        spans.extend([key, label]);
    }
    spans.extend(modes);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The right side of the top bar: the freeze, the clock, the outcome.
fn right_spans(app: &App) -> Vec<Span<'static>> {
    let test = app.current_test();
    let dim = Style::new().fg(Color::DarkGray);
    let replay = app.replay.as_ref().filter(|r| r.loaded);
    let mut outcome = test.outcome(app.run().live);
    let mut elapsed = app
        .input
        .elapsed(app.current_test())
        .map(clock)
        .unwrap_or_else(|| "--:--".into());
    let mut right = Vec::new();
    if let Some(r) = replay {
        // The run as it was then: running until it failed or ended.
        let cut = app.shown().cut.unwrap_or(u64::MAX);
        let failed = test.failures.iter().any(|f| {
            f.kind != crate::vm::model::FailureKind::KernelPanic
                && crate::vm::store::Stamp::line_start(f.line + 1) <= cut
        });
        if !r.at_end(test) {
            outcome = if failed {
                crate::vm::Outcome::Failed
            } else {
                crate::vm::Outcome::Running
            };
        }
        elapsed = clock(std::time::Duration::from_millis(u64::from(r.at_ms)));
        right.push(Span::styled(
            format!(" {} ", r.label()),
            Style::new().fg(Color::Black).bg(Color::Green),
        ));
        if let Some(w) = &r.window {
            right.push(Span::styled(
                format!(" lines {}–{} read again ", w.from_line, w.to_line),
                Style::new().fg(Color::Black).bg(Color::Yellow),
            ));
        }
    }
    if app.input.recording_cut.is_some() {
        right.push(Span::styled(
            " ✂ RECORDING CUT ",
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        ));
    }
    if let Some((done, total)) = app.input.loading() {
        right.extend(loading_spans(done, total));
    }
    if let Some(fz) = &test.freeze {
        if app.shown().freeze.is_some() {
            let at = match fz.kind {
                crate::vm::model::TriggerKind::Manual => "by hand".to_string(),
                k => format!("at the {}", k.label()),
            };
            right.push(Span::styled(
                format!(" ❄ FROZEN {at} "),
                Style::new().fg(Color::Black).bg(Color::Blue),
            ));
        } else {
            // Only input that still grows is live; a saved log is shown whole.
            let f = app.key(crate::app::action::Action::Freeze);
            let shown = if app.run().live { "LIVE" } else { "WHOLE LOG" };
            right.push(Span::styled(format!(" {shown} ({f} freezes) "), dim));
        }
    }
    if let Some(at) = app.views.moment.filter(|_| app.views.sync) {
        right.push(Span::styled(
            format!(" ◷ {} ", moment_badge(test, at)),
            Style::new().fg(Color::Black).bg(Color::Indexed(250)),
        ));
    }
    right.extend([
        Span::styled(format!(" {elapsed} "), dim),
        Span::styled(format!("● {} ", outcome.label()), outcome_style(outcome)),
    ]);
    right
}

/// The moment the panes show: its input line, and its time where one is known (`~` when
/// estimated from the driver's step durations).
pub fn moment_label(t: &crate::vm::model::Test, at: u64) -> String {
    let line = at / crate::vm::store::Stamp::PARTS;
    match t.time_at(at) {
        Some(s) if s.estimated() => format!(
            "line {line} · ~{}",
            clock_ms(s.ms & !crate::vm::store::EST_FLAG)
        ),
        Some(s) => format!("line {line} · {}", clock_ms(s.ms)),
        None => format!("line {line}"),
    }
}

/// The moment in the top bar, short: `L187 ~0:01.6`.
fn moment_badge(t: &crate::vm::model::Test, at: u64) -> String {
    let line = at / crate::vm::store::Stamp::PARTS;
    match t.time_at(at) {
        Some(s) if s.estimated() => {
            format!("L{line} ~{}", clock_ms(s.ms & !crate::vm::store::EST_FLAG))
        }
        Some(s) => format!("L{line} {}", clock_ms(s.ms)),
        None => format!("L{line}"),
    }
}

/// Milliseconds as `M:SS.s`.
pub fn clock_ms(ms: u32) -> String {
    format!(
        "{}:{:02}.{}",
        ms / 60_000,
        (ms / 1000) % 60,
        (ms % 1000) / 100
    )
}

/// "reading 412 MB of 1.0 GB" and a bar of how much that is.
fn loading_spans(done: u64, total: u64) -> [Span<'static>; 3] {
    const CELLS: u64 = 10;
    let full = (done.saturating_mul(CELLS) / total.max(1)).min(CELLS) as usize;
    [
        Span::styled(
            format!(" reading {} of {} ", size(done), size(total)),
            Style::new().fg(Color::Cyan),
        ),
        Span::styled("█".repeat(full), Style::new().fg(Color::Cyan)),
        Span::styled(
            "░".repeat(CELLS as usize - full),
            Style::new().fg(Color::DarkGray),
        ),
    ]
}

/// A byte count as people say it: 412 MB, 1.0 GB, 3.2 MB.
pub fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e7 {
        format!("{:.0} MB", b / 1e6)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// `text` cut to `n` characters, with an ellipsis when cut.
fn shorten(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let mut out: String = text.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size(412_000_000), "412 MB");
        assert_eq!(size(1_000_000_000), "1.0 GB");
        assert_eq!(size(3_210_000), "3.2 MB");
        assert_eq!(size(5_400), "5 kB");
    }

    #[test]
    fn the_loading_bar_fills_with_what_is_read() {
        let bar = |d, t| {
            let s = loading_spans(d, t);
            (s[0].content.to_string(), s[1].content.chars().count())
        };
        assert_eq!(bar(0, 1000), (" reading 0 kB of 1 kB ".to_string(), 0));
        assert_eq!(bar(412_000_000, 1_000_000_000).1, 4);
        assert_eq!(bar(1_000_000_000, 1_000_000_000).1, 10);
    }
}
