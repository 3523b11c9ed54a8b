//! The failure view's part: which triggers (a failure, the global timeout, the driver's
//! exit, a breakpoint) were shown, whether the panes are frozen at the failure or follow the
//! run, and which pause pdb was told to leave.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::trust::Mode;
use crate::vm::model::{Freeze, StepState, Test, TriggerKind};

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
        for (i, t) in tests.iter().enumerate() {
            let unconfirmed = t.breakpoint.as_ref().is_some_and(|b| live && !b.verified);
            if let Some(f) = &t.freeze
                && f.kind != TriggerKind::Manual
                && !(f.kind == TriggerKind::Breakpoint && unconfirmed)
                && self.announced.insert((i, f.line, false))
            {
                open = open.or(Some(i));
            }
            if let Some(b) = &t.breakpoint {
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
