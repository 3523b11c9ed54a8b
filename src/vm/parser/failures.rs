//! Failures: the 2025+ driver's `!!!` lines, plain tracebacks, and what they say about
//! the failing machine, command and subtest.

use super::super::classify as c;
use super::super::model::{
    Breakpoint, Failure, FailureKind, StepState, Subtest, Test, TriggerKind,
};
use super::Parser;

/// How a failure that only open steps show ends its message.
pub(super) const IMPLIED: &str = " (its report is not in the input)";
/// What an `error:` with nothing after it stands for.
pub(super) const NO_MESSAGE: &str = "(an exception without a message, as a bare `assert` raises)";

impl Parser {
    /// A line behind `!!! `: the 2025+ driver's errors.
    pub(super) fn bang(&mut self, t: usize, text: &str) {
        let line = self.run.lines.saturating_sub(1);
        if text.starts_with("Breakpoint reached") {
            let extra = self.opts.extra_attach_store.as_deref();
            if let Some(bp) = c::breakpoint(text, extra) {
                self.run.tests[t].breakpoint = Some(Breakpoint {
                    line: bp,
                    at_line: line,
                    verified: false,
                });
                self.trigger(t, TriggerKind::Breakpoint);
            }
            return;
        }
        if let Some(rest) = text.strip_prefix("Test \"") {
            if let Some((name, err)) = rest.split_once("\" failed with error: ") {
                let err = err.trim_matches('"').to_string();
                let f = self.add_failure(t, FailureKind::Subtest, Some(name), err.clone(), line);
                self.states[t].pending = Some(f);
                self.states[t].exception_seen = false;
                let test = &mut self.run.tests[t];
                test.failures[f].subtest = Some(name.to_string());
                subtest_failed(test, name, &err);
            }
            return;
        }
        if text.starts_with("Traceback (most recent call last):") {
            let st = &self.states[t];
            let reuse = st.pending.filter(|&f| {
                let f = &self.run.tests[t].failures[f];
                f.kind == FailureKind::Subtest && f.traceback.is_empty()
            });
            let f = match reuse {
                Some(f) => f,
                None => self.add_failure(t, FailureKind::Exception, None, String::new(), line),
            };
            self.states[t].pending = Some(f);
            self.states[t].exception_seen = false;
            self.run.tests[t].failures[f]
                .traceback
                .push(text.to_string());
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
            let failure = &mut self.run.tests[t].failures[f];
            if !text.is_empty() {
                failure.message.push('\n');
                failure.message.push_str(text);
            }
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
            let failure = &mut self.run.tests[t].failures[f];
            failure.traceback.push(text.to_string());
            // `    machine2.succeed("false")`: the machine of the failing call.
            if failure.machine.is_none() {
                let code = text.trim();
                if let Some((obj, _)) = code.split_once('.') {
                    let test = &self.run.tests[t];
                    if let Some(m) = test.machines.iter().find(|m| c::pythonize(&m.name) == obj) {
                        let name = m.name.clone();
                        self.run.tests[t].failures[f].machine = Some(name);
                    }
                }
            }
        }
    }

    pub(super) fn exception(&mut self, t: usize, name: &str, msg: &str) {
        let Some(f) = self.states[t].pending else {
            return;
        };
        self.states[t].exception_seen = true;
        let failure = &mut self.run.tests[t].failures[f];
        failure.exception = Some(name.to_string());
        if !msg.is_empty() {
            failure.message = msg.to_string();
        } else if failure.message.is_empty() || failure.message.ends_with(IMPLIED) {
            // `KeyboardInterrupt`, `bdb.BdbQuit`: the name is all there is.
            failure.message = name.to_string();
        }
        // The exception says what failed; a subtest failure keeps its subtest.
        failure.kind = if msg.contains("action timed out") || msg.contains("timed out after") {
            FailureKind::Timeout
        } else if name.contains("Assertion") {
            FailureKind::Assertion
        } else {
            FailureKind::Exception
        };
        if failure.command.is_none() {
            failure.command = c::quoted_command(msg).map(str::to_string);
        }
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

    /// A failure that left the steps of `chain` (outermost first): its machine, command and
    /// subtest are theirs.
    fn failure_in(
        &mut self,
        t: usize,
        kind: FailureKind,
        subtest: Option<&str>,
        message: String,
        line: u64,
        chain: &[super::StepId],
    ) -> usize {
        let test = &self.run.tests[t];
        let mut machine = None;
        let mut command = None;
        let mut sub = subtest.map(str::to_string);
        for &id in chain.iter().rev() {
            let s = &test.steps[id as usize];
            if command.is_none()
                && let Some(cmd) = c::step_command(&s.title)
            {
                command = Some(cmd.to_string());
                machine = s.machine.clone();
            }
            if sub.is_none()
                && let Some(n) = s.title.strip_prefix("subtest: ")
            {
                sub = Some(n.to_string());
            }
        }
        if command.is_none() {
            command = c::quoted_command(&message).map(str::to_string);
        }
        if machine.is_none() {
            // The innermost step that was about a machine.
            machine = chain
                .iter()
                .rev()
                .find_map(|&id| test.steps[id as usize].machine.clone());
        }
        self.trigger(
            t,
            if kind == FailureKind::GlobalTimeout {
                TriggerKind::GlobalTimeout
            } else {
                TriggerKind::Failure
            },
        );
        let test = &mut self.run.tests[t];
        test.failures.push(Failure {
            kind,
            exception: None,
            message,
            machine,
            subtest: sub,
            command,
            traceback: Vec::new(),
            line,
            script_line: None,
            hint: None,
        });
        test.failures.len() - 1
    }

    /// `cleanup` while steps are open and the script has not finished: an exception left
    /// them. The driver's report of it (`!!!` lines, a traceback after cleanup) completes
    /// the failure; without one (`--log-level error` hides the `!!!` lines) the failure
    /// names the step that was left.
    pub(super) fn cleanup_with_open_steps(&mut self, t: usize, line: u64) {
        let reported = self.run.tests[t]
            .failures
            .iter()
            .any(|f| f.kind != FailureKind::KernelPanic);
        let chain = self.fail_open_steps(t);
        if reported || chain.is_empty() {
            self.states[t].failed_chain = chain;
            return;
        }
        let test = &self.run.tests[t];
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
        self.run.tests[t].timed_out = true;
        let secs = self.run.tests[t].global_timeout_secs;
        let message = match secs {
            Some(s) => format!("the global timeout of {s} seconds was reached"),
            None => "the global timeout was reached".to_string(),
        };
        self.add_failure(t, FailureKind::GlobalTimeout, None, message, line);
    }
}

pub(super) fn subtest_failed(test: &mut Test, name: &str, err: &str) {
    match test.subtest_mut(name) {
        Some(s) => {
            s.state = StepState::Failed;
            s.error = Some(err.to_string());
        }
        None => test.add_subtest(Subtest {
            name: name.to_string(),
            state: StepState::Failed,
            secs: None,
            error: Some(err.to_string()),
        }),
    }
}
