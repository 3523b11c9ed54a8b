//! The breakpoint view: what went wrong at a glance (exception, command, machine, subtest,
//! time, traceback, every machine's last console lines before the failure) and the keys into
//! the paused test.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use super::status_bar::clock;
use super::text::spans;
use crate::app::action::Action;
use crate::app::keymap::Context;
use crate::app::state::App;
use crate::vm::model::{Failure, Freeze, Test, TriggerKind};

/// Console lines shown per machine at most.
const CONSOLE_LINES: usize = 20;
/// Other failures of the test listed under the one it is about.
const OTHER_FAILURES: usize = 4;

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = app.current_test();
    let failure = t.main_failure();
    let freeze = t.freeze.as_ref();
    let (head, colour) = headline(app, t, freeze);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(Style::new().fg(colour))
        .title(Line::from(vec![Span::styled(
            format!(" {head} "),
            Style::new()
                .fg(Color::Black)
                .bg(colour)
                .add_modifier(Modifier::BOLD),
        )]));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let mut lines = summary(app, t, failure, freeze);
    let keys_row = 1u16;
    let room = inner.height.saturating_sub(lines.len() as u16 + keys_row) as usize;
    let failing = failure.and_then(|fl| fl.machine.as_deref());
    lines.extend(consoles(t, failing, freeze, room));
    let body = Rect::new(
        inner.x,
        inner.y,
        inner.width,
        inner.height.saturating_sub(keys_row),
    );
    f.render_widget(Paragraph::new(lines), body);
    let keys = Rect::new(inner.x, inner.bottom() - 1, inner.width, 1);
    f.render_widget(Paragraph::new(key_line(app)), keys);
}

/// What went wrong, field by field, and the test script's frames.
fn summary(
    app: &App,
    t: &Test,
    failure: Option<&Failure>,
    freeze: Option<&Freeze>,
) -> Vec<Line<'static>> {
    let label = Style::new().fg(Color::DarkGray);
    let mut lines: Vec<Line<'static>> = Vec::new();

    if let Some(fl) = failure {
        let exception = fl.exception.clone().unwrap_or_else(|| kind_name(fl));
        let mut first = fl.message.lines();
        lines.push(Line::from(vec![
            Span::styled(
                format!("{exception}: "),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                first.next().unwrap_or_default().to_string(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
        ]));
        for more in first.take(3) {
            lines.push(Line::raw(format!("  {more}")));
        }
        if let Some(n) = fl.script_line {
            lines.push(Line::from(vec![
                Span::styled("line of the test script  ", label),
                Span::raw(n.to_string()),
            ]));
        }
        if let Some(hint) = &fl.hint {
            lines.push(Line::styled(
                format!("→ {hint}"),
                Style::new().fg(Color::Yellow),
            ));
        }
    } else if let Some(b) = &t.breakpoint {
        lines.push(Line::styled(
            format!(
                "debug.breakpoint() paused the test script (line {})",
                b.at_line + 1
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    } else if let Some(fz) = freeze {
        lines.push(Line::styled(
            match fz.kind {
                TriggerKind::Exit => format!(
                    "the driver exited with status {}",
                    t.exit_code.or(app.input.exit_code).unwrap_or(-1)
                ),
                _ => "frozen by hand: the panes show the run as it was then".to_string(),
            },
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    // What else failed in this test (the other diagnostics of a checker, a second subtest).
    let others: Vec<&Failure> = t
        .failures
        .iter()
        .filter(|o| o.kind != crate::vm::model::FailureKind::KernelPanic)
        // Not the one shown, nor the traceback that says a subtest's report again.
        .filter(|o| {
            failure.is_none_or(|m| {
                !std::ptr::eq(*o, m) && (o.message != m.message || o.kind == m.kind)
            })
        })
        .collect();
    for o in others.iter().take(OTHER_FAILURES) {
        let at = match o.script_line {
            Some(n) => format!("line {n} of the test script"),
            None => format!("input line {}", o.line + 1),
        };
        lines.push(Line::from(vec![
            Span::styled("also  ", label),
            Span::styled(format!("{}: ", kind_name(o)), Style::new().fg(Color::Red)),
            Span::raw(o.message.lines().next().unwrap_or_default().to_string()),
            Span::styled(format!("  ({at})"), label),
        ]));
    }
    if others.len() > OTHER_FAILURES {
        lines.push(Line::styled(
            format!("also  {} more", others.len() - OTHER_FAILURES),
            label,
        ));
    }
    // A kernel panic is the guest's word: shown beside the failure, never as it.
    for p in t
        .failures
        .iter()
        .filter(|p| p.kind == crate::vm::model::FailureKind::KernelPanic)
        .filter(|p| failure.is_none_or(|m| !std::ptr::eq(*p, m)))
    {
        lines.push(Line::styled(
            format!(
                "kernel panic on {}: {}",
                p.machine.as_deref().unwrap_or("?"),
                p.message
            ),
            Style::new().fg(Color::Red),
        ));
    }
    lines.push(Line::raw(""));
    let mut field = |name: &str, value: String, style: Style| {
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<10}"), label),
            Span::styled(value, style),
        ]));
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    if let Some(fl) = failure {
        if let Some(c) = &fl.command {
            field("command", c.clone(), bold.fg(Color::Yellow));
        }
        if let Some(m) = &fl.machine {
            field("machine", m.clone(), bold);
        }
        if let Some(s) = &fl.subtest {
            field("subtest", s.clone(), Style::new());
        }
    }
    if let Some(fz) = freeze {
        let after = fz.ms.map(|ms| match ms {
            0..60_000 => format!("{:.1} s", f64::from(ms) / 1000.0),
            _ => clock(std::time::Duration::from_millis(u64::from(ms))),
        });
        let when = match after {
            Some(a) => format!("{a} after the start · input line {}", fz.line + 1),
            None => format!("input line {}", fz.line + 1),
        };
        field("when", when, Style::new());
    }
    if let Some(total) = t.global_timeout_secs {
        let total_d = std::time::Duration::try_from_secs_f64(total).unwrap_or_default();
        match crate::app::failure::FailureView::timeout_left(app.current_test(), app.input.start)
            .filter(|_| app.input.live && app.input.ended.is_none())
        {
            Some(left) if app.facts().paused => field(
                "timeout",
                format!(
                    "{} left of {}: the global timeout ends the paused session",
                    clock(left),
                    clock(total_d)
                ),
                bold.fg(if left.as_secs() < 300 {
                    Color::Red
                } else {
                    Color::Yellow
                }),
            ),
            _ => field(
                "timeout",
                format!("global timeout {}", clock(total_d)),
                label,
            ),
        }
    }
    if let Some(b) = t.breakpoint.as_ref().filter(|_| app.facts().paused) {
        let key = |a| app.keymap.name(Context::Breakpoint, a);
        let (a, p) = (key(Action::Attach), key(Action::Pdb));
        let (where_, how) = if app.facts().sandboxed() {
            (
                "in the build sandbox",
                format!("{a} attaches, {p} pdb, 1–9 ssh from inside it"),
            )
        } else {
            (
                "outside a sandbox",
                format!("{p} opens pdb, 1–9 ssh into a machine"),
            )
        };
        let claim = if b.verified {
            ""
        } else {
            "claimed by a line, not confirmed: every key asks first · "
        };
        field(
            "paused",
            format!("{claim}{where_} · {how}"),
            Style::new().fg(Color::Magenta),
        );
        field(
            "attach",
            format!("sudo {} {}", b.line.attach, b.line.id),
            Style::new(),
        );
        let pdb = match &t.pdb {
            Some((host, port)) => format!("{host}:{port}"),
            None => {
                let (host, port) = crate::app::sessions::connect::DEFAULT_PDB;
                format!("{host}:{port}? (the driver has not said where pdb listens yet)")
            }
        };
        field("pdb", pdb, Style::new());
    }
    if let Some(fl) = failure {
        let frames = script_frames(&fl.traceback);
        if !frames.is_empty() {
            lines.push(Line::raw(""));
            lines.push(Line::styled("traceback", label));
            // The innermost frames say the most.
            let skip = frames.len().saturating_sub(10);
            for l in frames.into_iter().skip(skip) {
                let style = if l.trim_start().starts_with("File ") {
                    Style::new().fg(Color::DarkGray)
                } else {
                    Style::new().fg(Color::Yellow)
                };
                lines.push(Line::styled(format!("  {l}"), style));
            }
        }
    }

    lines
}

/// Every machine's console up to the moment, the failing machine first, in `room` rows.
fn consoles(
    t: &Test,
    failing: Option<&str>,
    freeze: Option<&Freeze>,
    room: usize,
) -> Vec<Line<'static>> {
    let label = Style::new().fg(Color::DarkGray);
    let mut lines = Vec::new();
    let mut order: Vec<usize> = (0..t.machines.len()).collect();
    order.sort_by_key(|&m| Some(t.machines[m].name.as_str()) != failing);
    if order.is_empty() || room <= 2 {
        return lines;
    }
    lines.push(Line::raw(""));
    let per = ((room - 1) / order.len()).clamp(2, CONSOLE_LINES + 1);
    for m in order {
        if lines.len() + 2 > room {
            break;
        }
        let machine = &t.machines[m];
        let end = freeze.map_or(machine.serial.end_seq(), |fz| fz.serial_end(m));
        let note = if Some(machine.name.as_str()) == failing {
            " (failed here)"
        } else {
            ""
        };
        lines.push(Line::from(vec![
            Span::styled(format!("── {} ", m + 1), label),
            Span::styled(
                machine.name.clone(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                " ● ",
                Style::new().fg(super::log_pane::state_color(machine.state)),
            ),
            Span::raw(machine.state.label()),
            Span::styled(
                format!("{note} · last console lines before the failure ──"),
                label,
            ),
        ]));
        let from = end
            .saturating_sub(per as u64 - 1)
            .max(machine.serial.first_seq());
        if from >= end {
            lines.push(Line::styled("  (no console output)", label));
        }
        for seq in from..end {
            if let Some(l) = machine.serial.get(seq) {
                let mut row = vec![Span::raw("  ")];
                row.extend(spans(&l, Style::new(), None));
                lines.push(Line::from(row));
            }
        }
    }
    lines
}

/// The traceback's frames of the test script (`File "<string>"`), with their source lines;
/// all frames when none is the script's (a driver error). Python's `~~~^^^` markers and
/// blank lines are left out.
fn script_frames(traceback: &[String]) -> Vec<&String> {
    let mut frames: Vec<Vec<&String>> = Vec::new();
    for l in traceback {
        let t = l.trim();
        if t.is_empty() || l.starts_with("Traceback (") || t.chars().all(|c| "~^ ".contains(c)) {
            continue;
        }
        if t.starts_with("File \"") || frames.is_empty() {
            frames.push(Vec::new());
        }
        if let Some(f) = frames.last_mut() {
            f.push(l);
        }
    }
    let script = |f: &Vec<&String>| f.first().is_some_and(|l| l.contains("File \"<string>\""));
    let keep: Vec<Vec<&String>> = if frames.iter().any(script) {
        frames.into_iter().filter(script).collect()
    } else {
        frames
    };
    keep.into_iter().flatten().collect()
}

fn headline(app: &App, t: &Test, freeze: Option<&Freeze>) -> (String, Color) {
    // In a live run a breakpoint line counts once its marker process confirmed it; a
    // saved log can only claim one.
    let live = app.checks.mode != crate::app::trust::Mode::Log;
    // A recording of a run that has ended tells of a pause that is over.
    if t.breakpoint.is_some() && !app.input.live && app.input.exit_code.is_some() {
        return (
            "⏸ WAS PAUSED AT A BREAKPOINT (the recorded run has ended)".into(),
            Color::Magenta,
        );
    }
    if let Some(b) = t.breakpoint.as_ref().filter(|b| b.verified || !live) {
        return match (app.facts().paused, b.verified) {
            (true, true) => ("⏸ PAUSED AT A BREAKPOINT".into(), Color::Magenta),
            (true, false) => (
                "⏸ BREAKPOINT (claimed, not confirmed)".into(),
                Color::Magenta,
            ),
            (false, _) => ("▶ LEFT THE BREAKPOINT".into(), Color::Yellow),
        };
    }
    if t.breakpoint.is_some() && app.facts().paused {
        return (
            "⏸ BREAKPOINT (claimed, not confirmed)".into(),
            Color::Magenta,
        );
    }
    match freeze.map(|f| f.kind) {
        Some(TriggerKind::GlobalTimeout) => ("⏱ GLOBAL TIMEOUT".into(), Color::Red),
        Some(TriggerKind::Exit) => ("✗ THE DRIVER FAILED".into(), Color::Red),
        Some(TriggerKind::Manual) => ("❄ FROZEN".into(), Color::Blue),
        _ => ("✗ TEST FAILED".into(), Color::Red),
    }
}

fn kind_name(f: &crate::vm::model::Failure) -> String {
    use crate::vm::model::FailureKind as K;
    match f.kind {
        K::Assertion => "assertion failed",
        K::Subtest => "subtest failed",
        K::Exception => "exception",
        K::Timeout => "timed out",
        K::GlobalTimeout => "global timeout",
        K::KernelPanic => "kernel panic",
        K::DriverError => "driver error",
        K::BuildFailed => "build failed",
        K::Lint => "lint failed",
        K::Typecheck => "type check failed",
        K::Environment => "the host cannot run the test",
    }
    .to_string()
}

/// The view's keys, from the keymap.
fn key_line(app: &App) -> Line<'static> {
    let key = Style::new().fg(Color::Black).bg(Color::Cyan);
    let mut out = Vec::new();
    let entries: [(Action, &str); 7] = [
        (Action::Attach, "attach"),
        (Action::Pdb, "pdb"),
        (Action::SshMachine(1), "shell into machine N"),
        (Action::PdbContinue, "continue"),
        (Action::PdbQuit, "quit pdb"),
        (Action::Live, "live panes"),
        (Action::FailureView, "panes"),
    ];
    for (action, what) in entries {
        if !app.offers(action) {
            continue;
        }
        let Some(k) = app
            .keymap
            .keys_for(Context::Breakpoint, action)
            .first()
            .copied()
        else {
            continue;
        };
        let k = if matches!(action, Action::SshMachine(_)) {
            "1–9".to_string()
        } else {
            k.to_string()
        };
        out.push(Span::styled(format!(" {k} "), key));
        out.push(Span::raw(format!(" {what}  ")));
    }
    Line::from(out)
}

#[cfg(test)]
mod tests {
    use super::script_frames;

    #[test]
    fn only_the_test_scripts_frames_are_shown() {
        let tb: Vec<String> = [
            "Traceback (most recent call last):",
            "  File \"/nix/store/x-nixos-test-driver/lib/test_driver/__init__.py\", line 162, in main",
            "    driver.run_tests()",
            "    ~~~~~~~~~~~~~~~~^^",
            "  File \"<string>\", line 15, in <module>",
            "    machine.succeed(\"false\")",
            "",
        ]
        .map(String::from)
        .to_vec();
        let shown: Vec<&str> = script_frames(&tb).into_iter().map(String::as_str).collect();
        assert_eq!(
            shown,
            [
                "  File \"<string>\", line 15, in <module>",
                "    machine.succeed(\"false\")"
            ]
        );
        // A driver error has no script frame: every frame stays, without the markers.
        let shown = script_frames(&tb[..4]);
        assert_eq!(shown.len(), 2, "{shown:?}");
    }
}
