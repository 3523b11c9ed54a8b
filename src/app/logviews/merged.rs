//! The merged view: every machine and the driver in one pane, in the order of the input,
//! each line tagged with its pane; `:only` keeps some machines.

use super::{LogViews, Shown};
use crate::app::effect::Effect;
use crate::app::view::Pane;
use crate::vm::model::{Origin, Test};

impl LogViews {
    /// `a`: the merged view on (focused, at the moment the focused pane showed), or off
    /// (back to the pane its cursor's line came from).
    pub fn toggle_merged(&mut self, s: &Shown<'_>) -> Vec<Effect> {
        let from = match self.focus {
            Pane::Command => Pane::Driver,
            p => p,
        };
        // A pane that follows the run hands on following it.
        let at = self
            .position(s, from)
            .filter(|_| !self.view(from).following() || self.sync);
        if self.merged {
            let origin = self
                .pointed(s, Pane::All)
                .and_then(|seq| self.lines(s, Pane::All).store.origin(seq));
            self.merged = false;
            let back = match origin {
                Some(Origin::Machine(m)) => Pane::Machine(m),
                _ => Pane::Driver,
            };
            self.focus_on(s.test, back);
            if let Some(at) = at {
                self.show_in(s, back, at);
            }
            return vec![Effect::say("each pane on its own again")];
        }
        self.merged = true;
        self.focus = Pane::All;
        let v = self.view_mut(Pane::All);
        v.anchor = None;
        v.cursor = None;
        if let Some(at) = at {
            self.show_in(s, Pane::All, at);
        }
        if self.sync
            && let Some(at) = at
        {
            self.sync_to(s, at, Some(Pane::All));
        }
        vec![Effect::say(
            "every machine and the driver in input order (`:only NAME…` keeps some)",
        )]
    }

    /// `pane` shows its last line at or before `at`, under the cursor.
    fn show_in(&mut self, s: &Shown<'_>, pane: Pane, at: u64) {
        let seq = {
            let lines = self.lines(s, pane);
            let end = lines.store.end_at(at).min(lines.end);
            lines.prev(end)
        };
        if let Some(seq) = seq {
            self.reveal(s, pane, seq);
            self.view_mut(pane).cursor = Some(seq);
        }
    }

    /// `:only NAME…`: the merged view keeps these machines (`driver` names the driver);
    /// nothing named: every pane again.
    pub fn only(&mut self, t: &Test, names: &str) -> Vec<Effect> {
        let mut only = Vec::new();
        let mut unknown = Vec::new();
        for name in names.split([',', ' ']).filter(|n| !n.is_empty()) {
            if name == "driver" {
                only.push(Origin::Driver);
            } else if let Some(m) = t.machine(name) {
                only.push(Origin::Machine(m));
            } else {
                unknown.push(name);
            }
        }
        if !unknown.is_empty() {
            return vec![Effect::warn(format!(
                "only: no machine named {}",
                unknown.join(", ")
            ))];
        }
        self.merged = true;
        self.focus = Pane::All;
        let v = self.view_mut(Pane::All);
        v.anchor = None;
        v.cursor = None;
        if only.is_empty() {
            v.only = None;
            vec![Effect::say("every machine and the driver")]
        } else {
            let n = only.len();
            v.only = Some(only);
            vec![Effect::say(format!(
                "the merged view shows {n} of {} panes (`:only` alone: all)",
                t.machines.len() + 1
            ))]
        }
    }
}

/// A pane's name as the merged view tags its lines.
pub fn origin_name(t: &Test, origin: Origin) -> &str {
    match origin {
        Origin::Driver => "driver",
        Origin::Machine(m) => t.machines.get(m).map_or("?", |x| x.name.as_str()),
    }
}
