//! One moment for every pane. With sync on, moving the cursor in a pane (or selecting a
//! step in the driver's tree) brings every other pane to the same point of the input: its
//! last line at or before it, under a cursor line. The driver's stream is one stream, so
//! "the same point" is exact.

use super::{LogViews, Shown};
use crate::app::view::{Pane, PaneLines};
use crate::vm::model::{Origin, line_kind};
use crate::vm::store::StoredLine;

impl LogViews {
    /// The panes of the shown test that scroll: machines, the driver, the merged view.
    pub fn log_panes(&self, s: &Shown<'_>) -> Vec<Pane> {
        let mut panes: Vec<Pane> = (0..s.test.machines.len()).map(Pane::Machine).collect();
        panes.push(Pane::Driver);
        if self.merged {
            panes.push(Pane::All);
        }
        panes
    }

    /// The line `pane` points at: its cursor, else the bottom of its view.
    pub fn pointed(&self, s: &Shown<'_>, pane: Pane) -> Option<u64> {
        let lines = self.lines(s, pane);
        let view = self.view(pane);
        let seq = view.cursor.or(view.anchor).or_else(|| lines.last())?;
        lines.get(seq).is_some().then_some(seq)
    }

    /// The position on the run's axis of the line `pane` points at.
    pub fn position(&self, s: &Shown<'_>, pane: Pane) -> Option<u64> {
        let seq = self.pointed(s, pane)?;
        self.lines(s, pane).get(seq).map(|l| l.at)
    }

    /// The wheel over `pane`: a scroll, followed by the others with sync on.
    pub fn scroll_moved(&mut self, s: &Shown<'_>, pane: Pane, n: i64) {
        self.scroll(s, pane, n);
        self.moved(s, pane);
    }

    /// A motion in `pane` happened: with sync on, the moment is its cursor's, and every
    /// other pane follows.
    pub fn moved(&mut self, s: &Shown<'_>, pane: Pane) {
        if !self.sync || pane == Pane::Command {
            return;
        }
        if let Some(at) = self.position(s, pane) {
            self.moment = Some(at);
            self.sync_to(s, at, Some(pane));
        }
    }

    /// Every pane but `except` shows moment `at`: its last line at or before it, under the
    /// cursor, in the middle of the view. A pane with nothing that early shows its start.
    pub fn sync_to(&mut self, s: &Shown<'_>, at: u64, except: Option<Pane>) {
        self.moment = Some(at);
        for pane in self.log_panes(s) {
            if Some(pane) == except {
                continue;
            }
            let (cursor, anchor) = {
                let lines = self.lines(s, pane);
                let h = self.height(pane).max(1) as i64;
                let end = lines.store.end_at(at).min(lines.end);
                match lines.prev(end) {
                    Some(seq) => (Some(seq), Some(super::motion::centred(&lines, seq, h))),
                    None => {
                        let top = lines.first().map(|f| lines.step_by(f, h - 1));
                        (None, top)
                    }
                }
            };
            if pane == Pane::Driver
                && let Some(seq) = cursor
            {
                self.unfold_around(s.test, seq);
            }
            let v = self.view_mut(pane);
            v.cursor = cursor;
            v.anchor = anchor;
        }
    }

    /// Turns sync on or off; on, the others come to the focused pane's moment at once.
    pub fn toggle_sync(&mut self, s: &Shown<'_>) -> bool {
        self.sync = !self.sync;
        if self.sync {
            let focus = match self.focus {
                Pane::Command => Pane::Driver,
                p => p,
            };
            if let Some(at) = self.position(s, focus) {
                self.sync_to(s, at, Some(focus));
            }
        } else {
            self.moment = None;
        }
        self.sync
    }

    /// The step selected in the driver pane (its cursor on the step's line), as the span of
    /// the axis it covers: its lines are marked in every pane.
    pub fn selected_span(&self, s: &Shown<'_>) -> Option<(u64, u64)> {
        let view = self.view(Pane::Driver);
        let seq = view.cursor?;
        let line = s.test.driver.get(seq)?;
        if line.kind != line_kind::STEP_HEAD {
            return None;
        }
        let step = s.test.step(line.tag)?;
        let end = step.ended.map_or(u64::MAX, |e| e.at);
        Some((step.began.at, end))
    }
}

/// Where a line of `lines` went: its own pane's, or in the merged view the one it names.
pub fn origin_of(lines: &PaneLines<'_>, pane: Pane, seq: u64) -> Option<Origin> {
    match pane {
        Pane::Driver => Some(Origin::Driver),
        Pane::Machine(m) => Some(Origin::Machine(m)),
        Pane::All => lines.store.origin(seq),
        Pane::Command => None,
    }
}

/// Whether `line` falls inside `span` of the axis.
pub fn within(line: &StoredLine<'_>, span: Option<(u64, u64)>) -> bool {
    span.is_some_and(|(a, b)| line.at >= a && line.at <= b)
}
