//! The log panes' views: which test and pane are shown, where each pane is scrolled, its
//! filter, the folded steps, the search, zoom, wrap and times, and what was read. Every
//! method takes the test it shows (`Shown`) and returns what it has to say.

use std::collections::{HashMap, HashSet};

use ratatui::layout::Rect;

mod marks;
mod merged;
mod motion;
mod nav;
mod sync;
mod text;

pub use marks::{Mark, SavedMark};
pub use merged::origin_name;
pub use sync::{origin_of, within};
pub use text::tag_width;

use super::action::Action;
use super::effect::{Effect, Prompting};
use super::keymap::{Context, Keymap};
use super::view::{Matcher, Pane, PaneLines, View};
use crate::vm::model::{Freeze, StepId, StepState, Test, line_kind};

/// The test the panes show, and the freeze they show it at (if frozen).
#[derive(Clone, Copy)]
pub struct Shown<'a> {
    pub test: &'a Test,
    pub freeze: Option<&'a Freeze>,
    /// The driver's terminal is a pane (a live run).
    pub command: bool,
    /// A replay's moment: nothing after this point of the run is shown.
    pub cut: Option<u64>,
}

impl Shown<'_> {
    /// Where `pane`'s lines end: at the freeze, or at the replay's moment.
    pub fn end(&self, pane: Pane) -> Option<u64> {
        let frozen = self.freeze.and_then(|f| match pane {
            Pane::Driver => Some(f.driver_end),
            Pane::Machine(m) => Some(f.serial_end(m)),
            // What the merged order held at the freeze: up to its point, and the end of
            // the failure's report in the driver's pane.
            Pane::All => {
                let report = self
                    .test
                    .driver
                    .get(f.driver_end.saturating_sub(1))
                    .map_or(0, |l| l.at);
                let at = f.at.max(report);
                Some(crate::app::view::Source::Merged(&self.test.merged, self.test).end_at(at))
            }
            Pane::Command => None,
        });
        let cut = self.cut.and_then(|at| {
            let t = self.test;
            let source = match pane {
                Pane::Driver => crate::app::view::Source::Store(&t.driver),
                Pane::Machine(m) => crate::app::view::Source::Store(&t.machines.get(m)?.serial),
                Pane::All => crate::app::view::Source::Merged(&t.merged, t),
                Pane::Command => return None,
            };
            Some(source.end_at(at))
        });
        match (frozen, cut) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A step's state at the moment shown (in a replay, one not yet ended runs).
    pub fn step_state(&self, step: &crate::vm::model::Step) -> StepState {
        match self.cut {
            Some(c) if step.ended.is_none_or(|e| e.at > c) => StepState::Running,
            _ => step.state,
        }
    }

    /// A machine's state at the moment shown.
    pub fn machine_state(&self, m: &crate::vm::model::Machine) -> crate::vm::model::MachineState {
        match self.cut {
            Some(c) => m.state_at(c),
            None => m.state,
        }
    }
}

/// Lines below the first one on the first screen: one row less when the top row says what
/// was evicted.
fn top_rows(lines: &PaneLines<'_>, height: i64) -> i64 {
    let notice = i64::from(lines.evicted_note().is_some());
    (height - 1 - notice).max(0)
}

#[derive(Debug, Default)]
pub struct LogViews {
    /// Index of the test shown (builds can run several).
    pub test: usize,
    pub focus: Pane,
    pub views: HashMap<(usize, Pane), View>,
    pub collapsed: HashMap<usize, HashSet<StepId>>,
    pub zoom: bool,
    pub wrap: bool,
    pub times: bool,
    pub search: Option<Matcher>,
    /// Lines each machine had when it was last focused, for unread counts.
    seen: HashMap<(usize, usize), u64>,
    /// Where the panes were drawn last, for paging.
    pub rects: Vec<(Pane, Rect)>,
    /// Every pane follows the moment of the focused one.
    pub sync: bool,
    /// The moment the panes show with sync on: a position on the run's axis.
    pub moment: Option<u64>,
    /// The merged view is on: every machine and the driver in one pane.
    pub merged: bool,
    /// Lines the user marked, in order of their tests and points.
    pub marks: Vec<Mark>,
}

impl LogViews {
    pub fn view(&self, pane: Pane) -> View {
        self.views
            .get(&(self.test, pane))
            .cloned()
            .unwrap_or_default()
    }

    pub fn view_mut(&mut self, pane: Pane) -> &mut View {
        self.views.entry((self.test, pane)).or_default()
    }

    pub fn collapsed(&self) -> &HashSet<StepId> {
        static EMPTY: std::sync::OnceLock<HashSet<StepId>> = std::sync::OnceLock::new();
        self.collapsed
            .get(&self.test)
            .unwrap_or_else(|| EMPTY.get_or_init(HashSet::new))
    }

    /// The lines of a pane of the shown test, as shown.
    pub fn lines<'a>(&'a self, s: &Shown<'a>, pane: Pane) -> PaneLines<'a> {
        let view = self.views.get(&(self.test, pane));
        let filter = view.and_then(|v| v.filter.as_ref());
        let only = view.and_then(|v| v.only.as_deref());
        PaneLines::new(s.test, pane, self.collapsed(), filter)
            .until(s.end(pane))
            .only(only)
    }

    pub fn height(&self, pane: Pane) -> usize {
        self.rects
            .iter()
            .find(|(p, _)| *p == pane)
            .map_or(20, |(_, r)| r.height.saturating_sub(2) as usize)
    }

    pub fn unread(&self, t: &Test, m: usize) -> u64 {
        let total = t.machines.get(m).map_or(0, |x| x.serial_lines);
        total.saturating_sub(self.seen.get(&(self.test, m)).copied().unwrap_or(0))
    }

    /// Lines of machine `m` up to now have been on screen.
    pub fn mark_seen(&mut self, t: &Test, m: usize) {
        let total = t.machines.get(m).map_or(0, |x| x.serial_lines);
        self.seen.insert((self.test, m), total);
    }

    /// Views that do not follow count what arrived below them.
    pub fn count_unread(&mut self, arrived: impl Iterator<Item = (usize, u64)>) {
        for (m, new) in arrived {
            if let Some(v) = self.views.get_mut(&(self.test, Pane::Machine(m)))
                && !v.following()
            {
                v.unread += new;
            }
        }
    }

    /// What the log actions do to the views; `None` for actions of other parts. `keys`
    /// names keys in what is said.
    pub fn act(&mut self, s: &Shown<'_>, action: Action, keys: &Keymap) -> Option<Vec<Effect>> {
        let focus = self.focus;
        match action {
            Action::FocusDriver | Action::FocusMachine(_) if self.merged => {
                // A pane of its own: the merged view gives way.
                self.merged = false;
                return self.act(s, action, keys);
            }
            Action::FocusNext
            | Action::FocusPrev
            | Action::FocusDriver
            | Action::FocusMachine(_) => {
                let order = self.order(s.test, s.command);
                if let Some(p) = self.focus_for(action, &order) {
                    self.focus_on(s.test, p);
                }
            }
            Action::FocusCommand if s.command => self.focus = Pane::Command,
            Action::FocusCommand => {
                return Some(vec![Effect::say(
                    "no driver runs here: `vmscope run -- DRIVER` has a terminal to type in",
                )]);
            }
            Action::Search | Action::Filter | Action::Save => {
                let kind = match action {
                    Action::Search => Prompting::Search,
                    Action::Filter => Prompting::Filter,
                    _ => Prompting::Save,
                };
                return Some(vec![Effect::Prompt(
                    kind,
                    self.prompt_value(action, s.test),
                )]);
            }
            Action::Zoom => self.zoom = !self.zoom,
            Action::ScrollUp => {
                self.scroll(s, focus, -1);
                self.moved(s, focus);
            }
            Action::ScrollDown => {
                self.scroll(s, focus, 1);
                self.moved(s, focus);
            }
            Action::PageUp | Action::PageDown | Action::HalfPageUp | Action::HalfPageDown => {
                let n = self.page(focus, action);
                self.scroll(s, focus, n);
                self.moved(s, focus);
            }
            Action::Top => {
                self.top(s, focus);
                self.moved(s, focus);
            }
            Action::Bottom => {
                let v = self.view_mut(focus);
                v.anchor = None;
                v.cursor = None;
                v.unread = 0;
                self.moved(s, focus);
            }
            Action::Sync => {
                let on = self.toggle_sync(s);
                let key = keys.name(Context::Log, Action::Sync);
                return Some(vec![Effect::say(if on {
                    format!("sync on: every pane shows the focused pane's moment ({key}: off)")
                } else {
                    format!("sync off: each pane scrolls on its own ({key}: on)")
                })]);
            }
            Action::AllMachines => return Some(self.toggle_merged(s)),
            Action::Mark => return Some(self.toggle_mark(s)),
            Action::NextMark => return Some(self.next_mark(s)),
            Action::Marks => {
                return Some(vec![Effect::Prompt(Prompting::Palette, "mark ".into())]);
            }
            Action::NextError
            | Action::PrevError
            | Action::NextWarning
            | Action::PrevWarning
            | Action::NextStepEdge
            | Action::PrevStepEdge => return Some(self.next_of_kind(s, action)),
            Action::ScrollLeft => {
                let v = self.view_mut(focus);
                v.hscroll = v.hscroll.saturating_sub(8);
            }
            Action::ScrollRight => {
                if !self.wrap {
                    self.view_mut(focus).hscroll += 8;
                }
            }
            Action::Follow => {
                let last = self.lines(s, focus).last();
                let v = self.view_mut(focus);
                if v.following() {
                    v.anchor = last;
                } else {
                    v.anchor = None;
                    v.cursor = None;
                    v.unread = 0;
                }
            }
            Action::SearchOlder | Action::SearchNewer if self.search.is_none() => {
                let slash = keys.name(Context::Log, Action::Search);
                return Some(vec![Effect::say(format!(
                    "no search yet: {slash} searches"
                ))]);
            }
            Action::SearchOlder => {
                let said = self.jump_to_match(s, focus, true, false);
                self.moved(s, focus);
                return Some(said);
            }
            Action::SearchNewer => {
                let said = self.jump_to_match(s, focus, false, false);
                self.moved(s, focus);
                return Some(said);
            }
            Action::Wrap => {
                self.wrap = !self.wrap;
                for v in self.views.values_mut() {
                    v.hscroll = 0;
                }
            }
            Action::Times => self.times = !self.times,
            Action::ToggleStep => self.toggle_step(s),
            Action::CollapseAll => {
                let ids: HashSet<StepId> = s
                    .test
                    .steps
                    .iter()
                    .enumerate()
                    .filter(|(_, st)| {
                        !st.children.is_empty() || st.end.is_some_and(|e| e > st.head + 1)
                    })
                    .map(|(i, _)| i as StepId)
                    .collect();
                self.collapsed.insert(self.test, ids);
                let v = self.view_mut(Pane::Driver);
                v.anchor = None;
                v.cursor = None;
            }
            Action::ExpandAll => {
                self.collapsed.remove(&self.test);
            }
            Action::JumpToFailure => return Some(self.jump_to_failure(s)),
            _ => return None,
        }
        Some(Vec::new())
    }

    /// How many lines a paging action moves in `pane`.
    pub fn page(&self, pane: Pane, action: Action) -> i64 {
        let h = self.height(pane).max(2) as i64;
        match action {
            Action::PageUp => -(h - 1),
            Action::PageDown => h - 1,
            Action::HalfPageUp => -(h / 2),
            _ => h / 2,
        }
    }

    /// Esc on the panes: the search's highlights, then the filter, then the zoom. Returns
    /// what it says, or `None` when nothing was left to back out of.
    pub fn back_out(&mut self) -> Option<Vec<Effect>> {
        let focus = self.focus;
        if self.search.is_some() {
            self.search = None;
        } else if self.view(focus).filter.is_some() {
            let v = self.view_mut(focus);
            v.filter = None;
            v.anchor = None;
            v.cursor = None;
            return Some(vec![Effect::say("filter off: every line shown")]);
        } else if self.zoom {
            self.zoom = false;
        } else {
            return None;
        }
        Some(Vec::new())
    }

    pub fn set_filter(&mut self, pattern: &str) {
        let m = Matcher::new(pattern);
        let v = self.view_mut(self.focus);
        v.filter = m;
        v.anchor = None;
        v.cursor = None;
    }

    /// Unfolds every step that holds driver line `seq`.
    pub fn unfold_around(&mut self, t: &Test, seq: u64) {
        let mut chain = Vec::new();
        if let Some(line) = t.driver.get(seq) {
            let mut id = line.tag;
            while let Some(step) = t.step(id) {
                chain.push(id);
                id = step.parent;
            }
        }
        if let Some(set) = self.collapsed.get_mut(&self.test) {
            for id in chain {
                set.remove(&id);
            }
        }
    }

    fn toggle_step(&mut self, s: &Shown<'_>) {
        let target = {
            let lines = self.lines(s, Pane::Driver);
            let view = self.view(Pane::Driver);
            let Some(cur) = view.cursor.or(view.anchor).or_else(|| lines.last()) else {
                return;
            };
            lines.get(cur).and_then(|l| {
                if l.kind == line_kind::STEP_HEAD {
                    Some((l.tag, cur))
                } else {
                    s.test.step(l.tag).map(|st| (l.tag, st.head))
                }
            })
        };
        let Some((id, head)) = target else {
            return;
        };
        let set = self.collapsed.entry(self.test).or_default();
        if !set.remove(&id) {
            set.insert(id);
        }
        self.reveal(s, Pane::Driver, head);
    }

    fn jump_to_failure(&mut self, s: &Shown<'_>) -> Vec<Effect> {
        let t = s.test;
        let failed = t
            .steps
            .iter()
            .filter(|st| st.state == StepState::Failed)
            .map(|st| st.head)
            .max();
        let error_line = t
            .driver
            .iter()
            .find(|(_, l)| l.kind == line_kind::ERROR)
            .map(|(seq, _)| seq);
        let Some(seq) = error_line.or(failed) else {
            return vec![Effect::say("no failure in this test")];
        };
        // Unfold the steps around it.
        if let Some(set) = self.collapsed.get_mut(&self.test) {
            set.clear();
        }
        self.focus = Pane::Driver;
        self.reveal(s, Pane::Driver, seq);
        Vec::new()
    }

    /// The failed step open, under the driver pane's cursor. The view stays at the end of
    /// the frozen lines (where the failure's report is) when the step fits on screen.
    pub fn show_failed_step(&mut self, s: &Shown<'_>, head: u64) {
        self.unfold_around(s.test, head);
        let near_end = {
            let lines = self.lines(s, Pane::Driver);
            let h = self.height(Pane::Driver).max(2) as i64;
            lines
                .last()
                .is_some_and(|last| lines.step_by(last, -(h - 2)) <= head)
        };
        if near_end {
            let v = self.view_mut(Pane::Driver);
            v.anchor = None;
            v.cursor = Some(head);
        } else {
            self.reveal(s, Pane::Driver, head);
        }
    }

    /// `]` / `[`: the next or previous test worth showing, with the driver pane focused:
    /// its status said, and whether it has nothing for the failure view.
    pub fn switch_test(
        &mut self,
        run: &crate::vm::TestRun,
        forward: bool,
        live: bool,
    ) -> (Effect, bool) {
        let tests: Vec<usize> = run.visible_tests().map(|(i, _)| i).collect();
        let i = tests.iter().position(|&t| t == self.test).unwrap_or(0);
        let n = tests.len().max(1);
        let j = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        self.test = tests.get(j).copied().unwrap_or(self.test);
        self.focus = Pane::Driver;
        let t = &run.tests[self.test.min(run.tests.len() - 1)];
        let name = t.name.clone().unwrap_or_else(|| format!("test {}", j + 1));
        let said = Effect::say(format!("{name}: {}", t.outcome(live).label()));
        (said, t.freeze.is_none() && t.breakpoint.is_none())
    }

    /// The screen was laid out: paging follows the panes' sizes, and what a following
    /// machine pane shows has been seen.
    pub fn laid_out(&mut self, t: &Test, panes: &[(Pane, Rect)]) {
        self.rects = panes.to_vec();
        for (pane, _) in panes {
            if let Pane::Machine(m) = pane
                && self.view(*pane).following()
            {
                self.mark_seen(t, *m);
            }
        }
    }

    /// The focused machine, or the first one.
    pub fn machine_or_first(&self) -> usize {
        match self.focus {
            Pane::Machine(m) => m,
            _ => 0,
        }
    }

    /// Panes in focus order: the machines, then the driver, then its terminal (the merged
    /// view, when on, stands for the machines and the driver).
    pub fn order(&self, t: &Test, command: bool) -> Vec<Pane> {
        let mut v: Vec<Pane> = if self.merged {
            vec![Pane::All]
        } else {
            let mut v: Vec<Pane> = (0..t.machines.len()).map(Pane::Machine).collect();
            v.push(Pane::Driver);
            v
        };
        if command {
            v.push(Pane::Command);
        }
        v
    }

    /// Focus goes to `pane`; a machine's lines up to now are read.
    pub fn focus_on(&mut self, t: &Test, pane: Pane) {
        self.focus = pane;
        if let Pane::Machine(m) = pane {
            self.mark_seen(t, m);
        }
    }

    /// Where a focus action goes among the panes in `order` (machines, driver, terminal).
    pub fn focus_for(&self, action: Action, order: &[Pane]) -> Option<Pane> {
        let i = order.iter().position(|p| *p == self.focus).unwrap_or(0);
        let n = order.len().max(1);
        match action {
            Action::FocusNext => order.get((i + 1) % n).copied(),
            Action::FocusPrev => order.get((i + n - 1) % n).copied(),
            Action::FocusDriver => Some(Pane::Driver),
            Action::FocusMachine(m) => order
                .iter()
                .find(|p| **p == Pane::Machine(m.wrapping_sub(1)))
                .copied(),
            _ => None,
        }
    }
}
