//! Moving by what happened: the next or previous error, warning or step boundary, a mark,
//! a moment picked on the timeline. Each goes to a point of the run's axis: the pane that
//! holds it shows it under the cursor, and with sync on every other pane follows.

use super::{LogViews, Shown};
use crate::app::action::Action;
use crate::app::effect::Effect;
use crate::app::view::Pane;
use crate::vm::model::{Origin, line_kind as k};

impl LogViews {
    /// The position the next move starts from: the moment, else the focused pane's line.
    fn here(&self, s: &Shown<'_>) -> Option<u64> {
        let focus = match self.focus {
            Pane::Command => Pane::Driver,
            p => p,
        };
        self.moment.or_else(|| self.position(s, focus))
    }

    /// `)` `(` `*` `#` `}` `{`: the driver's next (or previous) line of a kind, from here.
    pub fn next_of_kind(&mut self, s: &Shown<'_>, action: Action) -> Vec<Effect> {
        let (kinds, older, what): (&[u8], bool, &str) = match action {
            Action::NextError => (&[k::ERROR], false, "error"),
            Action::PrevError => (&[k::ERROR], true, "error"),
            Action::NextWarning => (&[k::WARNING], false, "warning"),
            Action::PrevWarning => (&[k::WARNING], true, "warning"),
            Action::NextStepEdge => (&[k::STEP_HEAD, k::STEP_END], false, "step start or end"),
            _ => (&[k::STEP_HEAD, k::STEP_END], true, "step start or end"),
        };
        let lines = self.lines(s, Pane::Driver);
        let from = self.here(s).unwrap_or(if older { u64::MAX } else { 0 });
        // The first line of a report, not each of its lines.
        let starts = |seq: u64| {
            let Some(l) = lines.get(seq) else {
                return false;
            };
            kinds.contains(&l.kind)
                && (kinds != [k::ERROR]
                    || lines
                        .store
                        .get(seq.wrapping_sub(1))
                        .is_none_or(|p| p.kind != k::ERROR && p.kind != k::TRACEBACK))
        };
        let found = if older {
            let mut seq = lines.store.end_at(from.saturating_sub(1)).min(lines.end);
            loop {
                match lines.prev(seq) {
                    Some(p) if starts(p) => break Some(p),
                    Some(p) => seq = p,
                    None => break None,
                }
            }
        } else {
            let mut seq = lines.store.end_at(from).max(lines.store.first_seq());
            let mut found = None;
            while seq < lines.end {
                if starts(seq) && lines.get(seq).is_some_and(|l| lines.visible(seq, &l)) {
                    found = Some(seq);
                    break;
                }
                seq += 1;
            }
            found
        };
        let Some(seq) = found else {
            let dir = if older { "before" } else { "after" };
            return vec![Effect::say(format!("no {what} {dir} this point"))];
        };
        let at = lines.get(seq).map_or(0, |l| l.at);
        self.go_to(s, Origin::Driver, at);
        Vec::new()
    }

    /// Shows point `at` of the run in `origin`'s pane (the merged view, when it is on),
    /// focused, under the cursor; with sync on, every pane follows.
    pub fn go_to(&mut self, s: &Shown<'_>, origin: Origin, at: u64) {
        let pane = if self.merged {
            Pane::All
        } else {
            match origin {
                Origin::Driver => Pane::Driver,
                Origin::Machine(m) => Pane::Machine(m),
            }
        };
        self.focus_on(s.test, pane);
        let seq = {
            let lines = self.lines(s, pane);
            let end = lines.store.end_at(at).min(lines.end);
            lines.prev(end)
        };
        if let Some(seq) = seq {
            if pane == Pane::Driver {
                self.unfold_around(s.test, seq);
            }
            self.reveal(s, pane, seq);
            self.view_mut(pane).cursor = Some(seq);
        }
        if self.sync {
            self.sync_to(s, at, Some(pane));
        } else {
            self.moment = None;
        }
    }

    /// Every pane at point `at` (the timeline's Enter): sync on, so they stay together.
    pub fn show_moment(&mut self, s: &Shown<'_>, at: u64) {
        self.sync = true;
        self.sync_to(s, at, None);
    }
}
