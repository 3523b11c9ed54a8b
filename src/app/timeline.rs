//! The timeline (`T`): the run along one axis, its steps as bars, a row per machine with its
//! output rate, its state changes and its silences, the failures, warnings and marks. A
//! cursor moves along it; Enter shows every pane at that moment.
//!
//! The axis is time where the run has it (arrival times in a live run or a recording, the
//! driver's step durations added up in a saved log), and input lines where it has none.

use super::action::Action;
use super::effect::Effect;
use super::keymap::{Context, Keymap};
use super::logviews::{LogViews, Shown};
use crate::vm::model::axis::Silence;
use crate::vm::model::{StepId, StepKind, Test};
use crate::vm::store::Stamp;

/// What the x axis measures, and how far it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Milliseconds since the start (`estimated`: from step durations).
    Time { end: u64, estimated: bool },
    /// Input lines.
    Lines { end: u64 },
}

impl Axis {
    pub fn of(t: &Test) -> Self {
        match t.last.time_or_estimate() {
            Some(ms) if ms > 0 => Self::Time {
                end: u64::from(ms),
                estimated: t.last.estimated(),
            },
            _ => Self::Lines {
                end: t.last.input_line().max(1),
            },
        }
    }

    pub fn end(self) -> u64 {
        match self {
            Self::Time { end, .. } | Self::Lines { end } => end.max(1),
        }
    }

    /// Where `s` lies on the axis (`None`: no time known for it on a time axis).
    pub fn x(self, s: Stamp) -> Option<u64> {
        match self {
            Self::Time { .. } => s.time_or_estimate().map(u64::from),
            Self::Lines { .. } => Some(s.input_line()),
        }
    }

    /// The point of the run at `x`: the last line at or before it.
    pub fn at(self, t: &Test, x: u64) -> u64 {
        match self {
            Self::Time { .. } => {
                let ms = u32::try_from(x).unwrap_or(u32::MAX);
                // The first line at or after the time, less one: the moment just before.
                match t.at_time(ms.saturating_add(1)) {
                    Some(s) => s.at.saturating_sub(1).max(Stamp::PARTS),
                    None => t.last.at,
                }
            }
            Self::Lines { .. } => Stamp::line_end(x),
        }
    }

    /// `x` as it is read: a clock, or a line number.
    pub fn label(self, x: u64) -> String {
        match self {
            Self::Time { estimated, end } => {
                let ms = x;
                let t = if end < 2000 {
                    // A run of a second or two: tenths would label every tick alike.
                    format!("{}.{:03}s", ms / 1000, ms % 1000)
                } else if ms >= 3_600_000 {
                    format!(
                        "{}:{:02}:{:02}",
                        ms / 3_600_000,
                        (ms / 60_000) % 60,
                        (ms / 1000) % 60
                    )
                } else {
                    format!(
                        "{}:{:02}.{}",
                        ms / 60_000,
                        (ms / 1000) % 60,
                        (ms % 1000) / 100
                    )
                };
                if estimated { format!("~{t}") } else { t }
            }
            Self::Lines { .. } => format!("L{x}"),
        }
    }
}

/// A row of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// Failures, warnings, marks and the freeze.
    Events,
    /// A step: those at the top two levels of the tree, and every subtest.
    Step(StepId, usize),
    Machine(usize),
}

/// Steps shown at most: a log of a thousand subtests lists the first of them.
const MAX_STEP_ROWS: usize = 400;

/// The rows of `t`'s timeline, in order.
pub fn rows(t: &Test) -> Vec<Row> {
    let mut out = vec![Row::Events];
    let steps = crate::vm::export::walk(t)
        .into_iter()
        .filter(|&(id, depth)| {
            depth <= 1 || t.step(id).is_some_and(|s| s.kind == StepKind::Subtest)
        })
        .take(MAX_STEP_ROWS)
        .map(|(id, depth)| Row::Step(id, depth.min(3)));
    out.extend(steps);
    out.extend((0..t.machines.len()).map(Row::Machine));
    out
}

#[derive(Debug, Default)]
pub struct Timeline {
    pub open: bool,
    /// Where the cursor is on the axis.
    pub cursor: u64,
    /// The row selected.
    pub row: usize,
    /// The plot's width as last drawn, in columns (a key moves the cursor by one).
    pub width: u16,
    /// Which of the selected machine's silences `n` shows next.
    next_silence: usize,
}

impl Timeline {
    /// `T` anywhere, and the timeline's keys while it has them (`on`); `None` for other
    /// actions. Leaving for a pane closes it; Enter shows every pane at the cursor's moment.
    pub fn route(
        &mut self,
        on: bool,
        action: Action,
        views: &mut LogViews,
        s: &Shown<'_>,
        keys: &Keymap,
    ) -> Option<Vec<Effect>> {
        if action == Action::Timeline {
            let at = views
                .moment
                .or_else(|| views.position(s, views.focus))
                .and_then(|at| s.test.time_at(at).map(|t| Stamp { at, ..t }));
            self.toggle(s.test, at);
            if !self.open {
                return Some(Vec::new());
            }
            let k = [Action::JumpHere, Action::NextSilence, Action::Timeline]
                .map(|a| keys.name(Context::Timeline, a));
            return Some(vec![Effect::say(format!(
                "{}: every pane to the cursor's moment · {}: a machine's longest silence · {}: close",
                k[0], k[1], k[2]
            ))]);
        }
        if !on {
            if action.goes_to_a_pane() {
                self.open = false;
            }
            return None;
        }
        if !matches!(
            action,
            Action::ScrollLeft
                | Action::ScrollRight
                | Action::TimeBack
                | Action::TimeOn
                | Action::Top
                | Action::Bottom
                | Action::ScrollUp
                | Action::ScrollDown
                | Action::JumpHere
                | Action::NextSilence
        ) {
            // The global keys (help, quit, the palette) go on.
            return None;
        }
        let (jump, said) = self.act(s.test, action);
        if let Some(at) = jump {
            views.show_moment(s, at);
            let label = crate::panes::status_bar::moment_label(s.test, at);
            return Some(vec![Effect::say(format!(
                "every pane at {label} (sync on)"
            ))]);
        }
        Some(said)
    }

    /// Opens at `at` (the moment shown, else the failure's, else the end), or closes.
    pub fn toggle(&mut self, t: &Test, at: Option<Stamp>) {
        self.open = !self.open;
        if self.open {
            let axis = Axis::of(t);
            self.cursor = at
                .and_then(|s| axis.x(s))
                .unwrap_or(axis.end())
                .min(axis.end());
            self.next_silence = 0;
            self.row = self.row.min(rows(t).len().saturating_sub(1));
        }
    }

    /// A key on the timeline. `Ok(Some(at))`: show every pane at point `at`.
    pub fn act(&mut self, t: &Test, action: Action) -> (Option<u64>, Vec<Effect>) {
        let axis = Axis::of(t);
        let end = axis.end();
        let column = (end / u64::from(self.width.max(1))).max(1);
        let n_rows = rows(t).len();
        match action {
            Action::ScrollLeft => self.cursor = self.cursor.saturating_sub(column),
            Action::ScrollRight => self.cursor = (self.cursor + column).min(end),
            Action::TimeBack => self.cursor = self.cursor.saturating_sub((end / 10).max(1)),
            Action::TimeOn => self.cursor = (self.cursor + (end / 10).max(1)).min(end),
            Action::Top => self.cursor = 0,
            Action::Bottom => self.cursor = end,
            Action::ScrollUp => {
                self.row = self.row.saturating_sub(1);
                self.next_silence = 0;
            }
            Action::ScrollDown => {
                self.row = (self.row + 1).min(n_rows.saturating_sub(1));
                self.next_silence = 0;
            }
            Action::JumpHere => {
                self.open = false;
                return (Some(axis.at(t, self.cursor)), Vec::new());
            }
            Action::NextSilence => return (None, self.silence(t, axis)),
            _ => {}
        }
        (None, Vec::new())
    }

    /// A click on the plot: the cursor to its column (of `width`), the row selected.
    pub fn click(&mut self, t: &Test, column: u16, width: u16, row: usize) {
        let end = Axis::of(t).end();
        self.cursor = u64::try_from(
            u128::from(column) * u128::from(end) / u128::from(width.saturating_sub(1).max(1)),
        )
        .unwrap_or(end)
        .min(end);
        self.row = row.min(rows(t).len().saturating_sub(1));
        self.next_silence = 0;
    }

    /// `n`: the selected machine's next longest silence (on another row, the longest of
    /// any machine), with the cursor at its start.
    fn silence(&mut self, t: &Test, axis: Axis) -> Vec<Effect> {
        let row = rows(t).get(self.row).copied();
        let mut all: Vec<(usize, Silence)> = match row {
            Some(Row::Machine(m)) => t.machines[m]
                .axis
                .silences_until(t.last)
                .into_iter()
                .map(|s| (m, s))
                .collect(),
            _ => t
                .machines
                .iter()
                .enumerate()
                .flat_map(|(m, x)| {
                    x.axis
                        .silences_until(t.last)
                        .into_iter()
                        .map(move |s| (m, s))
                })
                .collect(),
        };
        all.sort_by_key(|(_, s)| std::cmp::Reverse((s.ms, s.lines)));
        if all.is_empty() {
            return vec![Effect::say(
                "no silence: every line came right after another",
            )];
        }
        let i = self.next_silence % all.len();
        self.next_silence = i + 1;
        let (m, s) = all[i];
        if let Some(x) = axis.x(s.from) {
            self.cursor = x;
        }
        let name = &t.machines[m].name;
        let how_long = match axis {
            Axis::Time { estimated, .. } => format!(
                "{}{:.1} s",
                if estimated { "~" } else { "" },
                f64::from(s.ms) / 1000.0
            ),
            Axis::Lines { .. } => format!("{} lines of others", s.lines),
        };
        let until = match s.to_line {
            Some(l) => format!("to line {l}"),
            None => "to the end".to_string(),
        };
        vec![Effect::say(format!(
            "{name} silent {how_long}, from line {} {until} (longest {} of {})",
            s.from_line,
            i + 1,
            all.len()
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::{Caps, ParseOptions, Parser};

    #[test]
    fn a_log_without_times_is_measured_in_lines_and_one_with_durations_in_time() {
        let plain = Parser::parse_all(
            b"machine # one\nmachine # two\n",
            Caps::default(),
            ParseOptions::default(),
        );
        assert_eq!(Axis::of(&plain.tests[0]), Axis::Lines { end: 2 });
        let timed = Parser::parse_all(
            b"\x1b[1m\x1b[32mstart all VMs\x1b[0m\nmachine: starting vm\n(finished: start all VMs, in 2.50 seconds)\nmachine # up\n",
            Caps::default(),
            ParseOptions::default(),
        );
        let t = &timed.tests[0];
        assert_eq!(
            Axis::of(t),
            Axis::Time {
                end: 2500,
                estimated: true
            }
        );
        assert_eq!(Axis::of(t).label(2500), "~0:02.5");
        // A short run's ticks keep milliseconds apart.
        let short = Axis::Time {
            end: 120,
            estimated: true,
        };
        assert_eq!(short.label(60), "~0.060s");
        assert_ne!(short.label(60), short.label(70));
    }
}
