//! Failures: the 2025+ driver's `!!!` lines, plain tracebacks, and what they say about
//! the failing machine, command and subtest.

use super::super::classify as c;
use super::super::event::{FailureChange, RunEvent};
use super::super::model::{Breakpoint, FailureKind, TriggerKind};
use super::Parser;

/// How a failure that only open steps show ends its message.
pub(super) const IMPLIED: &str = " (its report is not in the input)";
/// What an `error:` with nothing after it stands for.
pub(super) const NO_MESSAGE: &str = "(an exception without a message, as a bare `assert` raises)";

/// A message that stands in for a report not (yet) read.
pub(super) fn is_placeholder(message: &str) -> bool {
    message.ends_with(IMPLIED) || message == NO_MESSAGE
}

/// What a placeholder becomes when the input ends inside the report's traceback.
pub(super) fn cut_report(message: &str) -> String {
    match message.strip_suffix(IMPLIED) {
        Some(head) => {
            format!("{head} (the input ends inside its traceback, before the exception line)")
        }
        None => "(the input ends inside the traceback, before its exception line)".to_string(),
    }
}

impl Parser {
    /// A line behind `!!! `: the 2025+ driver's errors.
    pub(super) fn bang(&mut self, t: usize, text: &str) {
        let line = self.run.lines.saturating_sub(1);
        if text.starts_with("Breakpoint reached") {
            let extra = self.opts.extra_attach_store.as_deref();
            if let Some(bp) = c::breakpoint(text, extra) {
                let bp = Breakpoint {
                    line: bp,
                    at_line: line,
                    verified: false,
                };
                self.emit(t, RunEvent::Breakpoint(&bp));
                self.trigger(t, TriggerKind::Breakpoint);
            }
            return;
        }
        if let Some(rest) = text.strip_prefix("Test \"") {
            if let Some((name, err)) = rest.split_once("\" failed with error: ") {
                let err = err.trim_matches('"');
                let f =
                    self.add_failure(t, FailureKind::Subtest, Some(name), err.to_string(), line);
                self.states[t].pending = Some(f);
                self.states[t].exception_seen = false;
                self.emit(t, RunEvent::SubtestFailed { name, error: err });
            }
            return;
        }
        if text.starts_with("Traceback (most recent call last):") {
            let reuse = self.states[t].pending.filter(|&f| {
                let f = &self.test(t).failures[f];
                f.kind == FailureKind::Subtest && f.traceback.is_empty()
            });
            let f = match reuse {
                Some(f) => f,
                None => self.add_failure(t, FailureKind::Exception, None, String::new(), line),
            };
            self.states[t].pending = Some(f);
            self.states[t].exception_seen = false;
            self.change_failure(t, f, FailureChange::TracebackLine(text));
            return;
        }
        let Some(f) = self.states[t].pending else {
            // A lone error line (a MachineError's text, a polling condition…).
            if !text.trim().is_empty() {
                self.add_failure(t, FailureKind::Exception, None, text.to_string(), line);
            }
            return;
        };
        if self.states[t].exception_seen {
            // More lines of a multi-line exception message.
            self.change_failure(t, f, FailureChange::MessageLine(text));
            return;
        }
        if let Some((name, msg)) = c::exception_line(text) {
            self.exception(t, name, msg);
            return;
        }
        self.traceback_line(t, text);
    }

    pub(super) fn traceback_line(&mut self, t: usize, text: &str) {
        if let Some(f) = self.states[t].pending {
            // `    machine2.succeed("false")` names the machine of the failing call.
            self.change_failure(t, f, FailureChange::TracebackLine(text));
        }
    }

    pub(super) fn exception(&mut self, t: usize, name: &str, msg: &str) {
        let Some(f) = self.states[t].pending else {
            return;
        };
        self.states[t].exception_seen = true;
        if is_placeholder(&self.test(t).failures[f].message) {
            self.change_failure(t, f, FailureChange::ReportCame);
        }
        let message = msg;
        self.change_failure(t, f, FailureChange::Exception { name, message });
        self.environment_failure(t, f);
    }

    pub(super) fn add_failure(
        &mut self,
        t: usize,
        kind: FailureKind,
        subtest: Option<&str>,
        message: String,
        line: u64,
    ) -> usize {
        let chain = self.fail_open_steps(t);
        self.failure_in(t, kind, subtest, message, line, &chain)
    }

    /// A failure that left the steps of `chain` (outermost first).
    fn failure_in(
        &mut self,
        t: usize,
        kind: FailureKind,
        subtest: Option<&str>,
        message: String,
        line: u64,
        chain: &[super::StepId],
    ) -> usize {
        let trigger = if kind == FailureKind::GlobalTimeout {
            TriggerKind::GlobalTimeout
        } else {
            TriggerKind::Failure
        };
        self.trigger(t, trigger);
        let failed = RunEvent::Failed {
            kind,
            message: &message,
            line,
            subtest,
            machine: None,
            chain,
        };
        self.emit(t, failed).failure().unwrap_or_default()
    }

    /// `cleanup` while steps are open and the script has not finished: an exception left
    /// them. The driver's report of it (`!!!` lines, a traceback after cleanup) completes
    /// the failure; without one (`--log-level error` hides the `!!!` lines) the failure
    /// names the step that was left.
    pub(super) fn cleanup_with_open_steps(&mut self, t: usize, line: u64) {
        let reported = self
            .test(t)
            .failures
            .iter()
            .any(|f| f.kind != FailureKind::KernelPanic);
        let chain = self.fail_open_steps(t);
        if reported || chain.is_empty() {
            self.states[t].failed_chain = chain;
            return;
        }
        let test = self.test(t);
        let left = chain
            .iter()
            .rev()
            .map(|&id| test.steps[id as usize].title.as_str())
            .find(|title| !title.starts_with("subtest: ") && *title != "run the VM test script")
            .or_else(|| {
                chain
                    .last()
                    .map(|&id| test.steps[id as usize].title.as_str())
            })
            .unwrap_or_default()
            .to_string();
        let message = format!("`{left}` did not finish: an error ended the test script{IMPLIED}");
        let f = self.failure_in(t, FailureKind::Exception, None, message, line, &chain);
        self.states[t].continued_by_traceback = Some(f);
        self.states[t].failed_chain = chain;
    }

    pub(super) fn global_timeout(&mut self, t: usize, line: u64) {
        self.emit(t, RunEvent::TimedOut);
        let secs = self.test(t).global_timeout_secs;
        let message = match secs {
            Some(s) => format!("the global timeout of {s} seconds was reached"),
            None => "the global timeout was reached".to_string(),
        };
        self.add_failure(t, FailureKind::GlobalTimeout, None, message, line);
    }
}
