//! The failure view's part: which triggers (a failure, the global timeout, the driver's
//! exit, a breakpoint) were shown, whether the panes are frozen at the failure or follow the
//! run, and which pause pdb was told to leave.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::action::Action;
use super::effect::Effect;
use super::keymap::{Context, Keymap};
use super::logviews::{LogViews, Shown};
use super::sessions::connect::Ctx;
use super::sessions::{Sessions, TabKind};
use super::trust::{Checks, Mode};
use super::view::Pane;
use crate::vm::TestRun;
use crate::vm::model::{Freeze, StepState, Test, TriggerKind};
use crate::vm::store::Stamp;

/// What the triggers of a run ask for.
#[derive(Debug, PartialEq, Eq)]
pub enum Trigger {
    Nothing,
    /// Open the view on test `test`; `paused`: at a breakpoint.
    Open {
        test: usize,
        paused: bool,
    },
    /// A breakpoint line that nothing on this host confirms (its input line).
    Claimed(u64),
}

#[derive(Debug, Default)]
pub struct FailureView {
    /// The view is shown (what went wrong, and the keys into the paused test).
    pub open: bool,
    /// The panes follow the live run although something failed (`L`).
    pub live_panes: bool,
    /// Triggers (test, input line, is a breakpoint) whose view was opened once.
    announced: HashSet<(usize, u64, bool)>,
    /// Per test, the pause (breakpoint line) that pdb was told to leave.
    resumed: HashMap<usize, u64>,
    /// Breakpoint lines (input line) already said to be unconfirmed.
    noted: HashSet<u64>,
    /// A replay's moment: triggers after it have not happened yet.
    pub until: Option<u64>,
}

impl FailureView {
    /// The freeze the panes show now, if they are frozen.
    pub fn frozen<'a>(&self, t: &'a Test) -> Option<&'a Freeze> {
        if self.live_panes {
            return None;
        }
        t.freeze.as_ref()
    }

    /// The head line of the innermost step that failed at the freeze.
    pub fn failed_head(&self, t: &Test) -> Option<u64> {
        let f = self.frozen(t)?;
        t.steps
            .iter()
            .filter(|s| s.state == StepState::Failed && s.head < f.driver_end)
            .map(|s| s.head)
            .max()
    }

    /// The test waits in pdb: it reached a breakpoint that was not continued or quit from
    /// here, and its driver did not end.
    pub fn paused(&self, t: &Test, test: usize, exited: bool) -> bool {
        !exited && pause_mark(t).is_some_and(|m| self.resumed.get(&test) != Some(&m))
    }

    /// A pdb command that lets the test go on was sent.
    pub fn note_resumed(&mut self, t: &Test, test: usize, line: &str) {
        if matches!(
            line.trim(),
            "c" | "cont" | "continue" | "q" | "quit" | "exit"
        ) && let Some(m) = pause_mark(t)
        {
            self.resumed.insert(test, m);
        }
    }

    /// Triggers and breakpoints not yet shown. In a live run a breakpoint line counts once
    /// its marker process is found: a guest can print the line, not start a process on this
    /// host.
    pub fn triggers(&mut self, tests: &[Test], mode: Mode) -> Trigger {
        let mut open = None;
        let mut paused = false;
        let mut claimed = None;
        let live = mode != Mode::Log;
        let until = self.until;
        let come = |line: u64| until.is_none_or(|c| Stamp::line_start(line + 1) <= c);
        for (i, t) in tests.iter().enumerate() {
            let unconfirmed = t.breakpoint.as_ref().is_some_and(|b| live && !b.verified);
            if let Some(f) = &t.freeze
                && come(f.line)
                && f.kind != TriggerKind::Manual
                && !(f.kind == TriggerKind::Breakpoint && unconfirmed)
                && self.announced.insert((i, f.line, false))
            {
                open = open.or(Some(i));
            }
            if let Some(b) = t.breakpoint.as_ref().filter(|b| come(b.at_line)) {
                if unconfirmed {
                    claimed = claimed.or(Some(b.at_line));
                } else if self.announced.insert((i, b.at_line, true)) {
                    open = Some(i);
                    paused = true;
                }
            }
        }
        match (open, claimed) {
            (Some(test), _) => Trigger::Open { test, paused },
            (None, Some(line)) if self.noted.insert(line) => Trigger::Claimed(line),
            _ => Trigger::Nothing,
        }
    }

    /// A replay went to point `cut`: what had not happened by then is forgotten, so that it
    /// comes again when the replay gets there.
    pub fn replay_at(&mut self, cut: u64) {
        let back = self.until.is_some_and(|u| cut < u);
        self.until = Some(cut);
        if back {
            let before = self.announced.len();
            self.announced
                .retain(|&(_, line, _)| Stamp::line_start(line + 1) <= cut);
            if self.announced.len() < before {
                self.open = false;
            }
        }
    }

    /// What the view opens for, in words.
    pub fn what(t: &Test) -> &'static str {
        if t.breakpoint.is_some() {
            return "the test is paused at a breakpoint";
        }
        match t.freeze.as_ref().map(|f| f.kind) {
            Some(TriggerKind::GlobalTimeout) => "the global timeout was reached",
            Some(TriggerKind::Exit) => "the driver exited with an error",
            _ => "the test failed",
        }
    }

    /// How long the global timeout leaves, for a live run that is paused: its timer started
    /// when the driver printed `Test will time out …`.
    pub fn timeout_left(t: &Test, start: Instant) -> Option<Duration> {
        let total = Duration::try_from_secs_f64(t.global_timeout_secs?).ok()?;
        let since = start
            .elapsed()
            .saturating_sub(Duration::from_millis(u64::from(t.global_timeout_at_ms?)));
        Some(total.saturating_sub(since))
    }
}

/// What marks the current pause: the breakpoint's line, or remote-pdb's listening line.
fn pause_mark(t: &Test) -> Option<u64> {
    t.breakpoint
        .as_ref()
        .map(|b| b.at_line)
        .or(t.pdb.as_ref().map(|_| u64::MAX))
}

/// What the failure view's keys reach: the run (a freeze by hand is written into its test),
/// the views it moves and the sessions it opens.
pub struct Cx<'a> {
    pub run: &'a mut TestRun,
    pub test: usize,
    pub views: &'a mut LogViews,
    pub sessions: &'a mut Sessions,
    pub checks: &'a Checks,
    pub keymap: &'a Keymap,
    pub live: bool,
    pub exited: bool,
    pub now_ms: u32,
}

/// Test `i` of `run` (the last one when `i` is past the end).
fn test_of(run: &TestRun, i: usize) -> &Test {
    &run.tests[i.min(run.tests.len() - 1)]
}

impl Cx<'_> {
    fn shown(&self) -> &Test {
        test_of(self.run, self.test)
    }

    fn key(&self, action: Action) -> String {
        self.keymap.name(Context::Breakpoint, action)
    }

    fn sandboxed(&self) -> bool {
        let t = self.shown();
        t.in_build && t.breakpoint.is_some()
    }
}

impl FailureView {
    /// The failure view's actions and the keys into the paused test; `None` for actions
    /// of other parts.
    pub fn act(&mut self, action: Action, cx: &mut Cx<'_>) -> Option<Vec<Effect>> {
        let paused = self.paused(cx.shown(), cx.test, cx.exited);
        let not_paused = "nothing waits in pdb: the test pauses in pdb at a breakpoint \
                          (enableDebugHook = true, or --debug-hook-attach)";
        Some(match action {
            Action::FailureView => self.toggle(cx),
            Action::Freeze => self.freeze(cx),
            Action::Live => {
                self.live_panes = true;
                self.open = false;
                let v = cx.views.view_mut(Pane::Driver);
                v.anchor = None;
                v.cursor = None;
                let back = cx.key(Action::Freeze);
                vec![Effect::say(match cx.shown().freeze {
                    Some(_) => {
                        format!("panes follow the run ({back}: back to the moment of failure)")
                    }
                    None => "panes follow the run".into(),
                })]
            }
            Action::Attach if cx.shown().breakpoint.is_none() || !paused => vec![Effect::warn(
                "no paused build to attach to: the test pauses at one with \
                 enableDebugHook = true (or --debug-hook-attach)",
            )],
            Action::Attach => {
                let ctx = Ctx {
                    test: test_of(cx.run, cx.test),
                    checks: cx.checks,
                };
                cx.sessions
                    .open_tab(TabKind::Attach, String::new(), None, &ctx)
            }
            Action::Pdb | Action::PdbQuit | Action::PdbContinue if !paused => {
                vec![Effect::warn(not_paused)]
            }
            Action::Pdb => {
                let sandboxed = cx.sandboxed();
                let ctx = Ctx {
                    test: test_of(cx.run, cx.test),
                    checks: cx.checks,
                };
                cx.sessions.pdb(None, sandboxed, &ctx)
            }
            Action::PdbContinue | Action::PdbQuit => {
                let cmd = if action == Action::PdbContinue {
                    "c"
                } else {
                    "q"
                };
                // The command goes to pdb's tab in the background: the view stays, and the
                // run's answer (the REPL back, the driver's end) shows where it is.
                let (shown, typing) = (cx.sessions.active, cx.sessions.tab_typing);
                let sandboxed = cx.sandboxed();
                let ctx = Ctx {
                    test: test_of(cx.run, cx.test),
                    checks: cx.checks,
                };
                let mut effects = cx.sessions.pdb(Some(cmd), sandboxed, &ctx);
                (cx.sessions.active, cx.sessions.tab_typing) = (shown, typing);
                self.note_resumed(cx.shown(), cx.test, cmd);
                effects.push(Effect::say(if cmd == "c" {
                    "continue: the test goes on from the breakpoint"
                } else {
                    "quit: pdb stops the test"
                }));
                effects
            }
            _ => return None,
        })
    }

    /// `b`: the view, or the panes again.
    fn toggle(&mut self, cx: &mut Cx<'_>) -> Vec<Effect> {
        let t = cx.shown();
        if !self.open && t.freeze.is_none() && t.breakpoint.is_none() {
            let f = cx.key(Action::Freeze);
            return vec![Effect::say(format!(
                "nothing failed in this test: {f} freezes the panes now"
            ))];
        }
        // From a tab, `b` shows the view; on the view, the panes.
        self.open = cx.sessions.active.is_some() || !self.open;
        cx.sessions.hide_tabs();
        Vec::new()
    }

    /// `F`: panes back at the failure, or frozen now when nothing failed.
    fn freeze(&mut self, cx: &mut Cx<'_>) -> Vec<Effect> {
        self.live_panes = false;
        let line = cx.run.lines.saturating_sub(1);
        let live = cx.key(Action::Live);
        let i = cx.test.min(cx.run.tests.len() - 1);
        let ms = cx.live.then_some(cx.now_ms);
        let t = &mut cx.run.tests[i];
        let text = match t.failure_freeze() {
            Some(f) => format!("panes frozen at the {} ({live}: live)", f.kind.label()),
            None => {
                t.freeze_now(TriggerKind::Manual, line, ms);
                format!("panes frozen now ({live}: live again)")
            }
        };
        self.show_failed_step(test_of(cx.run, cx.test), cx.views);
        vec![Effect::say(text)]
    }

    /// Opens the view for triggers and breakpoints not yet shown; returns what to say
    /// when something happened (`Some(vec![])`: the view opened).
    pub fn check(&mut self, mode: Mode, busy: bool, cx: &mut Cx<'_>) -> Option<Vec<Effect>> {
        match self.triggers(&cx.run.tests, mode) {
            Trigger::Open { test, paused } => {
                let mut said: Vec<Effect> = self.show(test, paused, busy, cx).into_iter().collect();
                // A driver that stopped for want of root: the offer to run it as root.
                let ctx = crate::app::sessions::connect::Ctx {
                    test: test_of(cx.run, test),
                    checks: cx.checks,
                };
                said.extend(cx.sessions.as_root.offer(&ctx));
                Some(said)
            }
            Trigger::Claimed(_) => Some(vec![Effect::warn(
                "a line says the test reached a breakpoint, but no `sleep ID` marker process \
                 confirms it yet: its keys ask before they run anything",
            )]),
            Trigger::Nothing => None,
        }
    }

    /// Opens the view on test `test`, unless the user is typing into a terminal and
    /// nothing waits (a breakpoint always takes the screen: the driver waits in pdb).
    /// Returns what to say instead when it did not open.
    pub fn show(
        &mut self,
        test: usize,
        paused: bool,
        busy: bool,
        cx: &mut Cx<'_>,
    ) -> Option<Effect> {
        if !paused && busy {
            let what = Self::what(&cx.run.tests[test]);
            let b = cx.key(Action::FailureView);
            return Some(Effect::warn(format!("{what}: {b} shows what went wrong")));
        }
        cx.views.test = test;
        cx.test = test;
        self.live_panes = false;
        self.open = true;
        cx.sessions.hide_tabs();
        cx.sessions.command_typing = false;
        let t = test_of(cx.run, cx.test);
        self.show_failed_step(t, cx.views);
        self.sync_at_failure(t, cx.views);
        None
    }

    /// The failed step open, under the driver pane's cursor.
    pub fn show_failed_step(&self, t: &Test, views: &mut LogViews) {
        let shown = Shown {
            test: t,
            freeze: self.frozen(t),
            command: false,
            cut: None,
        };
        if let Some(head) = self.failed_head(t) {
            views.show_failed_step(&shown, head);
        }
    }

    /// Every pane at the moment of failure, following the cursor from there: what the user
    /// looks for first is what each machine was doing then.
    fn sync_at_failure(&self, t: &Test, views: &mut LogViews) {
        let Some(f) = t.failure_freeze() else {
            return;
        };
        let shown = Shown {
            test: t,
            freeze: self.frozen(t),
            command: false,
            cut: None,
        };
        views.sync = true;
        let at = Stamp::line_end(f.line + 1);
        views.sync_to(&shown, at, Some(Pane::Driver));
    }
}
