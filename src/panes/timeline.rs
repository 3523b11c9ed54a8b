//! The timeline drawn: an axis, the events row, the steps as bars and a row per machine with
//! its output as a sparkline and its state changes, the cursor as a column across them.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::log_pane::{machine_color, state_color};
use crate::app::layout::Plot;
use crate::app::state::App;
use crate::app::timeline::{Axis, Row, rows};
use crate::vm::model::{FailureKind, MachineState, StepState, Test};
use crate::vm::store::Stamp;

/// Columns of the row labels: a fifth of the width, within these bounds.
const LABEL_MIN: u16 = 16;
const LABEL_MAX: u16 = 36;
const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Draws the timeline in `area`; returns where its plot went (for the keys' steps and the
/// mouse).
pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) -> Plot {
    let t = app.current_test();
    let axis = Axis::of(t);
    let what = match axis {
        Axis::Time {
            estimated: true, ..
        } => "time, estimated from the driver's step durations",
        Axis::Time { .. } => "time",
        Axis::Lines { .. } => "input lines (no times in this log)",
    };
    let block = super::frame(
        true,
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        Line::from(vec![
            Span::styled(" timeline ", Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(format!("· {what} "), Style::new().fg(Color::DarkGray)),
        ]),
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let label = (inner.width / 5).clamp(LABEL_MIN, LABEL_MAX);
    if inner.width <= label + 4 || inner.height < 4 {
        return Plot::default();
    }
    let plot_w = inner.width - label;
    let tl = &app.timeline;
    let end = axis.end();
    let col_of = |x: u64| -> u16 {
        ((u128::from(x.min(end)) * u128::from(plot_w - 1)) / u128::from(end)) as u16
    };
    let span_of = |c: u16| -> (u64, u64) {
        let lo = u64::try_from(u128::from(c) * u128::from(end) / u128::from(plot_w)).unwrap_or(end);
        let hi =
            u64::try_from(u128::from(c + 1) * u128::from(end) / u128::from(plot_w)).unwrap_or(end);
        (lo, hi.max(lo + 1))
    };
    let cursor_col = col_of(tl.cursor);
    let all = rows(t);
    // Rows: the axis, then as many rows as fit around the selected one, then the status.
    let body_h = inner.height.saturating_sub(2) as usize;
    let first = tl
        .row
        .saturating_sub(body_h.saturating_sub(1))
        .min(all.len().saturating_sub(body_h));
    let mut lines: Vec<Line<'static>> = vec![axis_row(axis, label, plot_w, cursor_col)];
    for (i, row) in all.iter().enumerate().skip(first).take(body_h) {
        let mut cells = match *row {
            Row::Events => events_row(app, t, axis, &col_of, plot_w),
            Row::Step(id, depth) => step_row(t, id, depth, axis, &col_of, plot_w),
            Row::Machine(m) => machine_row(t, m, axis, &col_of, &span_of, plot_w),
        };
        if let Some(c) = cells.1.get_mut(cursor_col as usize) {
            c.1 = c.1.add_modifier(Modifier::REVERSED);
        }
        let mut label_style = Style::new();
        if i == tl.row {
            label_style = label_style.bg(Color::DarkGray).add_modifier(Modifier::BOLD);
        }
        let mut spans = vec![Span::styled(fit(&cells.0, label as usize), label_style)];
        spans.extend(
            cells
                .1
                .into_iter()
                .map(|(ch, st)| Span::styled(ch.to_string(), st)),
        );
        lines.push(Line::from(spans));
    }
    while lines.len() < inner.height as usize - 1 {
        lines.push(Line::raw(""));
    }
    lines.push(status_row(app, t, axis));
    let buf = f.buffer_mut();
    for (i, row) in lines.iter().enumerate().take(inner.height as usize) {
        super::text::put_line(buf, inner.x, inner.y + i as u16, row, inner.width);
    }
    Plot {
        x: inner.x + label,
        width: plot_w,
        y: inner.y + 1,
        rows: (all.len() - first).min(body_h) as u16,
        first_row: first,
    }
}

/// A label cut or padded to `w` columns.
fn fit(s: &str, w: usize) -> String {
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    let n = out.chars().count();
    out.extend(std::iter::repeat_n(' ', w - n));
    out
}

type Cells = (String, Vec<(char, Style)>);

fn blank(w: u16) -> Vec<(char, Style)> {
    vec![(' ', Style::new()); w as usize]
}

fn axis_row(axis: Axis, label: u16, w: u16, cursor: u16) -> Line<'static> {
    let mut cells = blank(w);
    let dim = Style::new().fg(Color::DarkGray);
    let mut c = 0u16;
    while c < w {
        let x = u64::try_from(u128::from(c) * u128::from(axis.end()) / u128::from(w)).unwrap_or(0);
        let label = format!("┊{}", axis.label(x));
        for (i, ch) in label.chars().enumerate() {
            if let Some(cell) = cells.get_mut(c as usize + i) {
                *cell = (ch, dim);
            }
        }
        c += (label.chars().count() as u16 + 4).max(12);
    }
    if let Some(cell) = cells.get_mut(cursor as usize) {
        *cell = (
            '▼',
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        );
    }
    let mut spans = vec![Span::styled(fit("", label as usize), dim)];
    spans.extend(
        cells
            .into_iter()
            .map(|(ch, st)| Span::styled(ch.to_string(), st)),
    );
    Line::from(spans)
}

fn events_row(app: &App, t: &Test, axis: Axis, col_of: &dyn Fn(u64) -> u16, w: u16) -> Cells {
    let mut cells = blank(w);
    let mut put = |s: Stamp, ch: char, st: Style| {
        if let Some(x) = axis.x(s)
            && let Some(c) = cells.get_mut(col_of(x) as usize)
        {
            *c = (ch, st);
        }
    };
    // Screenshots first: a failure or a mark at the same column is shown over them.
    let shots = app.shots.list(app.views.test, t);
    for x in shots.iter() {
        let s = t.time_at(x.at.at).map_or(x.at, |s| Stamp {
            at: x.at.at,
            ms: s.ms,
        });
        put(s, '▣', Style::new().fg(Color::Cyan));
    }
    if let Some(fz) = t.failure_freeze() {
        put(
            stamp_of_line(t, fz.line + 1),
            '█',
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        );
    }
    for w in &t.warnings {
        put(
            stamp_of_line(t, w.first_line + 1),
            '!',
            Style::new().fg(Color::Yellow),
        );
    }
    for f in &t.failures {
        let st = if f.kind == FailureKind::KernelPanic {
            Style::new().fg(Color::LightRed)
        } else {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        };
        put(stamp_of_line(t, f.line + 1), '✗', st);
    }
    for m in app.views.marks.iter().filter(|m| m.test == app.views.test) {
        if let Some(s) = t.time_at(m.at).or(Some(Stamp { at: m.at, ms: 0 })) {
            put(
                Stamp { at: m.at, ms: s.ms },
                '▲',
                Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            );
        }
    }
    let n = t.failures.len() + t.warnings.len() + shots.len();
    (format!("events ✗ ! ▲ ▣ ({n})"), cells)
}

/// The stamp of input line `line` (1-based), with the time the panes have for it.
fn stamp_of_line(t: &Test, line: u64) -> Stamp {
    let at = Stamp::line_end(line);
    t.time_at(at).map_or(
        Stamp {
            at,
            ms: crate::vm::store::NO_TIME,
        },
        |s| Stamp { at, ms: s.ms },
    )
}

fn step_row(
    t: &Test,
    id: u32,
    depth: usize,
    axis: Axis,
    col_of: &dyn Fn(u64) -> u16,
    w: u16,
) -> Cells {
    let mut cells = blank(w);
    let Some(step) = t.step(id) else {
        return (String::new(), cells);
    };
    let color = match step.state {
        StepState::Passed => Color::Green,
        StepState::Failed => Color::Red,
        StepState::Running => Color::Yellow,
        StepState::Unclosed => Color::DarkGray,
    };
    let from = axis.x(step.began).unwrap_or(0);
    let to = step
        .ended
        .and_then(|e| axis.x(e))
        .unwrap_or_else(|| axis.x(t.last).unwrap_or(axis.end()));
    let (a, b) = (col_of(from), col_of(to.max(from)));
    for c in a..=b {
        if let Some(cell) = cells.get_mut(c as usize) {
            *cell = ('█', Style::new().fg(color));
        }
    }
    if step.state == StepState::Failed
        && let Some(cell) = cells.get_mut(b as usize)
    {
        *cell = ('✗', Style::new().fg(Color::White).bg(Color::Red));
    }
    let who = step
        .machine
        .as_deref()
        .map(|m| format!("{m}: "))
        .unwrap_or_default();
    let title = step.title.strip_prefix(&who).unwrap_or(&step.title);
    (format!("{}{who}{title}", "  ".repeat(depth)), cells)
}

fn machine_row(
    t: &Test,
    m: usize,
    axis: Axis,
    col_of: &dyn Fn(u64) -> u16,
    span_of: &dyn Fn(u16) -> (u64, u64),
    w: u16,
) -> Cells {
    let machine = &t.machines[m];
    let rate = match axis {
        Axis::Time { .. } => &machine.axis.by_time,
        Axis::Lines { .. } => &machine.axis.by_line,
    };
    let counts: Vec<f64> = (0..w)
        .map(|c| {
            let (lo, hi) = span_of(c);
            rate.between(lo, hi)
        })
        .collect();
    let max = counts.iter().copied().fold(0.0f64, f64::max);
    let color = machine_color(m);
    let mut cells: Vec<(char, Style)> = counts
        .iter()
        .map(|&n| {
            if n <= 0.0 || max <= 0.0 {
                (' ', Style::new())
            } else {
                let i = ((n / max) * 7.0).round().clamp(0.0, 7.0) as usize;
                (SPARK[i], Style::new().fg(color))
            }
        })
        .collect();
    for change in &machine.axis.history {
        let s = Stamp {
            at: change.at,
            ms: crate::vm::model::axis::time_field(change.ms, change.estimated),
        };
        let Some(x) = axis.x(s) else { continue };
        let ch = match change.state {
            MachineState::Booting => 'B',
            MachineState::Connected => '●',
            MachineState::ShutDown => '↓',
            MachineState::Crashed => '✗',
            MachineState::Killed => '■',
            MachineState::NotStarted => continue,
        };
        if let Some(c) = cells.get_mut(col_of(x) as usize) {
            *c = (
                ch,
                Style::new()
                    .fg(state_color(change.state))
                    .add_modifier(Modifier::BOLD),
            );
        }
    }
    (format!("{} {}", m + 1, machine.name), cells)
}

fn status_row(app: &App, t: &Test, axis: Axis) -> Line<'static> {
    let tl = &app.timeline;
    let at = axis.at(t, tl.cursor);
    let mut spans = vec![
        Span::styled(
            format!(" ◷ {} ", axis.label(tl.cursor)),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Span::styled(
            format!(" line {} ", at / Stamp::PARTS),
            Style::new().fg(Color::DarkGray),
        ),
    ];
    // The innermost step open at the cursor.
    let open = t
        .steps
        .iter()
        .filter(|s| s.began.at <= at && s.ended.is_none_or(|e| e.at >= at) && !s.title.is_empty())
        .last();
    if let Some(s) = open {
        spans.push(Span::styled(
            format!("▶ {}", s.title),
            Style::new().fg(Color::Yellow),
        ));
    }
    Line::from(spans)
}
