//! The log panes' views: which test and pane are shown, where each pane is scrolled, its
//! filter, the folded steps, the search, zoom, wrap and times, and what was read. Every
//! method takes the test it shows (`Shown`) and returns what it has to say.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use ratatui::layout::Rect;

use super::action::Action;
use super::effect::{Effect, Message};
use super::palette::Run;
use super::view::{Matcher, Pane, PaneLines, View};
use crate::vm::model::{Freeze, StepId, StepState, Test, line_kind};

/// The test the panes show, and the freeze they show it at (if frozen).
#[derive(Clone, Copy)]
pub struct Shown<'a> {
    pub test: &'a Test,
    pub freeze: Option<&'a Freeze>,
}

impl Shown<'_> {
    /// Where `pane`'s lines end in the frozen view.
    pub fn end(&self, pane: Pane) -> Option<u64> {
        let f = self.freeze?;
        match pane {
            Pane::Driver => Some(f.driver_end),
            Pane::Machine(m) => Some(f.serial_end(m)),
            Pane::Command => None,
        }
    }
}

/// Lines below the first one on the first screen: one row less when the top row says what
/// was evicted.
fn top_rows(lines: &PaneLines<'_>, height: i64) -> i64 {
    let notice = i64::from(lines.store.evicted() > 0 && lines.filter.is_none());
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
        let filter = self
            .views
            .get(&(self.test, pane))
            .and_then(|v| v.filter.as_ref());
        PaneLines::new(s.test, pane, self.collapsed(), filter).until(s.end(pane))
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

    /// What the log actions do to the views; `None` for actions of other parts.
    pub fn act(&mut self, s: &Shown<'_>, action: Action) -> Option<Vec<Effect>> {
        let focus = self.focus;
        match action {
            Action::Zoom => self.zoom = !self.zoom,
            Action::ScrollUp => self.scroll(s, focus, -1),
            Action::ScrollDown => self.scroll(s, focus, 1),
            Action::PageUp | Action::PageDown | Action::HalfPageUp | Action::HalfPageDown => {
                let n = self.page(focus, action);
                self.scroll(s, focus, n);
            }
            Action::Top => self.top(s, focus),
            Action::Bottom => {
                let v = self.view_mut(focus);
                v.anchor = None;
                v.cursor = None;
                v.unread = 0;
            }
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
            Action::SearchOlder => return Some(self.jump_to_match(s, focus, true, false)),
            Action::SearchNewer => return Some(self.jump_to_match(s, focus, false, false)),
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

    /// A search submitted: the first match from where the view is.
    pub fn search(&mut self, s: &Shown<'_>, pattern: &str) -> Vec<Effect> {
        self.search = Matcher::new(pattern);
        if self.search.is_some() {
            self.jump_to_match(s, self.focus, true, true)
        } else {
            Vec::new()
        }
    }

    pub fn set_filter(&mut self, pattern: &str) {
        let m = Matcher::new(pattern);
        let v = self.view_mut(self.focus);
        v.filter = m;
        v.anchor = None;
        v.cursor = None;
    }

    /// Moves a pane's view by `n` lines (the driver pane moves its cursor).
    pub fn scroll(&mut self, s: &Shown<'_>, pane: Pane, n: i64) {
        let (last, new_anchor, new_cursor) = {
            let lines = self.lines(s, pane);
            let Some(last) = lines.last() else {
                return;
            };
            let view = self.view(pane);
            let h = self.height(pane).max(1) as i64;
            if pane == Pane::Driver {
                let cur = view.cursor.or(view.anchor).unwrap_or(last);
                let cursor = lines.step_by(cur, n);
                // Keep the cursor on screen.
                let bottom = view.anchor.unwrap_or(last);
                let top = lines.step_by(bottom, -(h - 1));
                let anchor = if cursor > bottom {
                    cursor
                } else if cursor < top {
                    lines.step_by(cursor, h - 1)
                } else {
                    bottom
                };
                (last, anchor, Some(cursor))
            } else {
                let bottom = view.anchor.unwrap_or(last);
                // The first screen ends where the top line is the first line.
                let first_bottom = lines
                    .first()
                    .map_or(last, |f| lines.step_by(f, top_rows(&lines, h)));
                let anchor = lines.step_by(bottom, n).max(first_bottom.min(last));
                (last, anchor, None)
            }
        };
        let v = self.view_mut(pane);
        if new_anchor >= last && new_cursor.is_none_or(|c| c >= last) {
            v.anchor = None;
            v.cursor = None;
            v.unread = 0;
        } else {
            v.anchor = Some(new_anchor);
            v.cursor = new_cursor;
        }
    }

    fn top(&mut self, s: &Shown<'_>, pane: Pane) {
        let (anchor, cursor) = {
            let lines = self.lines(s, pane);
            let Some(first) = lines.first() else {
                return;
            };
            let h = self.height(pane).max(1) as i64;
            (lines.step_by(first, top_rows(&lines, h)), first)
        };
        let v = self.view_mut(pane);
        v.anchor = Some(anchor);
        if pane == Pane::Driver {
            v.cursor = Some(cursor);
        }
    }

    /// Puts line `seq` of `pane` in the middle of its view.
    pub fn reveal(&mut self, s: &Shown<'_>, pane: Pane, seq: u64) {
        let anchor = {
            let lines = self.lines(s, pane);
            let h = self.height(pane).max(1) as i64;
            lines.step_by(seq, h / 2)
        };
        let v = self.view_mut(pane);
        v.anchor = Some(anchor);
        if pane == Pane::Driver {
            v.cursor = Some(seq);
        }
    }

    fn jump_to_match(
        &mut self,
        s: &Shown<'_>,
        pane: Pane,
        older: bool,
        first: bool,
    ) -> Vec<Effect> {
        let Some(m) = self.search.clone() else {
            return vec![Effect::say("no search yet: press / to search")];
        };
        let unfolded = HashSet::new();
        let found = {
            // Search sees inside folded steps too; a match there unfolds them.
            let filter = self
                .views
                .get(&(self.test, pane))
                .and_then(|v| v.filter.as_ref());
            let lines = PaneLines::new(s.test, pane, &unfolded, filter).until(s.end(pane));
            let view = self.view(pane);
            let Some(last) = lines.last() else {
                return Vec::new();
            };
            let from = if pane == Pane::Driver || !first {
                // Continue from the current match, kept as the cursor.
                view.cursor.or(view.anchor).unwrap_or(last)
            } else {
                view.anchor.unwrap_or(last)
            };
            let start = if first { from + 1 } else { from };
            lines
                .find(&m, start, older)
                .map(|s| (s, false))
                .or_else(|| {
                    // Wrap around.
                    let edge = if older {
                        lines.end
                    } else {
                        lines.store.first_seq().saturating_sub(1)
                    };
                    lines.find(&m, edge, older).map(|s| (s, true))
                })
                .map(|(s, wrapped)| (s, wrapped, lines.count_matches(&m, s)))
        };
        let Some((seq, wrapped, (total, upto))) = found else {
            return vec![Effect::warn(format!(
                "/{}: no match in this pane",
                m.pattern
            ))];
        };
        if pane == Pane::Driver {
            self.unfold_around(s.test, seq);
        }
        self.reveal(s, pane, seq);
        self.view_mut(pane).cursor = Some(seq);
        // A wrap is said, as less and vim do: the user would not know otherwise.
        let wrap = match (wrapped && !first, older) {
            (false, _) => "",
            (true, true) => " · wrapped to the bottom",
            (true, false) => " · wrapped to the top",
        };
        vec![Effect::Say(Message::info(format!(
            "/{}  match {upto} of {total}{wrap}",
            m.pattern
        )))]
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

    /// Plain text of everything a pane holds.
    pub fn text(&self, s: &Shown<'_>, pane: Pane) -> String {
        let lines = self.lines(s, pane);
        let mut out = String::new();
        for (_, l) in lines.store.iter() {
            if !lines.driver || l.kind != line_kind::STEP_END {
                out.push_str(l.plain());
                out.push('\n');
            }
        }
        out
    }

    /// The line under the cursor (or at the bottom of the view) of `pane`.
    pub fn current_line(&self, s: &Shown<'_>, pane: Pane) -> Option<String> {
        let lines = self.lines(s, pane);
        let view = self.view(pane);
        let seq = view.cursor.or(view.anchor).or_else(|| lines.last())?;
        lines.get(seq).map(|l| l.plain().to_string())
    }

    /// Where `S` saves the focused pane: a file named after the test and the pane, under
    /// the user's state directory (not the working directory, where a test's sources are).
    pub fn save_path(&self, t: &Test) -> String {
        let test = t.name.clone().unwrap_or_else(|| "vmscope".to_string());
        let pane = match self.focus {
            Pane::Driver => "driver".to_string(),
            Pane::Command => "command".to_string(),
            Pane::Machine(m) => t
                .machines
                .get(m)
                .map_or("machine".to_string(), |x| x.name.clone()),
        };
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!(
            "{}-{}-{secs}.log",
            crate::vm::export::file_stem(&test),
            crate::vm::export::file_stem(&pane)
        );
        match crate::vm::recording::saved_dir() {
            Some(dir) => dir.join(name).display().to_string(),
            None => name,
        }
    }

    /// A command on the focused pane's lines (`Run::Action` is not one: `None`).
    /// `terminal`: the driver's terminal's screen when it is the focused pane.
    pub fn command(&mut self, s: &Shown<'_>, run: Run, terminal: Option<String>) -> Vec<Effect> {
        let focus = self.focus;
        match run {
            Run::Action(_) => Vec::new(),
            Run::Filter(f) => {
                self.set_filter(&f);
                Vec::new()
            }
            Run::Search(p) => self.search(s, &p),
            Run::Goto(to) => self.goto(s, &to),
            Run::Copy(all) => Self::clipboard(terminal.or_else(|| self.copy(s, focus, all))),
            Run::Save(p) => {
                let path = p
                    .filter(|p| !p.trim().is_empty())
                    .unwrap_or_else(|| self.save_path(s.test));
                let text = terminal.unwrap_or_else(|| self.text(s, focus));
                vec![Effect::Save {
                    path: PathBuf::from(path.trim()),
                    text,
                }]
            }
        }
    }

    /// What the prompt of `action` starts with: the filter in place, the save path.
    pub fn prompt_value(&self, action: Action, t: &Test) -> String {
        match action {
            Action::Filter => self
                .view(self.focus)
                .filter
                .map(|f| f.pattern)
                .unwrap_or_default(),
            Action::Save => self.save_path(t),
            _ => String::new(),
        }
    }

    /// What `y` copies: the line under the cursor, or with `all` the whole pane.
    pub fn copy(&self, s: &Shown<'_>, pane: Pane, all: bool) -> Option<String> {
        if all {
            Some(self.text(s, pane))
        } else {
            self.current_line(s, pane)
        }
    }

    /// The effects of copying `text` (OSC 52), said.
    pub fn clipboard(text: Option<String>) -> Vec<Effect> {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return vec![Effect::say("nothing to copy here")];
        };
        let n = text.lines().count();
        let what = if n > 1 {
            format!("{n} lines")
        } else {
            "the line".into()
        };
        vec![
            Effect::Clipboard(text),
            Effect::say(format!(
                "copied {what} to the clipboard (OSC 52: where the terminal allows it)"
            )),
        ]
    }

    /// `:goto LINE` or `:goto MM:SS` in the focused log pane (the driver's, from its terminal).
    pub fn goto(&mut self, s: &Shown<'_>, to: &str) -> Vec<Effect> {
        let pane = match self.focus {
            Pane::Command => Pane::Driver,
            p => p,
        };
        let lines = self.lines(s, pane);
        let seq = match (to.parse::<u64>(), super::palette::parse_time(to)) {
            (Ok(n), _) => lines
                .first()
                .map(|f| f + n.saturating_sub(1))
                .filter(|seq| lines.get(*seq).is_some()),
            (_, Some(ms)) => lines
                .store
                .iter()
                .find(|(_, l)| l.time().is_some_and(|t| t >= ms))
                .map(|(seq, _)| seq),
            _ => return vec![Effect::warn(format!("goto {to}: a line number or MM:SS"))],
        };
        let Some(seq) = seq else {
            return vec![Effect::warn(format!("goto {to}: not in this pane"))];
        };
        self.focus = pane;
        self.reveal(s, pane, seq);
        self.view_mut(pane).cursor = Some(seq);
        Vec::new()
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

    /// Panes in focus order: the machines, then the driver, then its terminal.
    pub fn order(t: &Test, command: bool) -> Vec<Pane> {
        let mut v: Vec<Pane> = (0..t.machines.len()).map(Pane::Machine).collect();
        v.push(Pane::Driver);
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
