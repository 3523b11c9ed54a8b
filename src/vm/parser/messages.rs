//! What each driver message means: the arms that give the forms of `forms` their meaning
//! for the step tree, the failures and the machines, said as `RunEvent`s.

use super::super::classify::{self as c, NESTED_START};
use super::super::event::{FailureChange, RunEvent};
use super::super::model::{
    FailureKind, MachineEvent, ROOT, StepState, TriggerKind, line_kind as k,
};
use super::forms::{self, Form};
use super::steps::hash_msg;
use super::{Mode, Parser, failures};

impl Parser {
    /// A driver message, with or without a machine prefix.
    pub(super) fn message(&mut self, t: usize, display: &str, plain: &str, has_sgr: bool) {
        let mut machine: Option<usize> = None;
        let mut msg = plain;
        if let Some((name, m)) = c::machine_prefix(plain) {
            let known = self.test(t).machine(name);
            let coloured_start = has_sgr && {
                let off = c::display_offset(display, plain.len() - m.len());
                display[off..].starts_with(NESTED_START)
            };
            if known.is_some() || coloured_start || c::is_machine_message(m) {
                machine = known.or_else(|| self.ensure_machine(t, name, false));
                if machine.is_some() {
                    msg = m;
                }
            }
        }
        let msg_display = if has_sgr {
            &display[c::display_offset(display, plain.len() - msg.len())..]
        } else {
            msg
        };
        let machine_name = machine.map(|m| self.test(t).machines[m].name.clone());
        if machine.is_some() {
            self.states[t].last_machine = machine;
        }
        let line = self.run.lines.saturating_sub(1);
        let form = forms::read(msg, machine.is_some());

        // Step ends.
        match form {
            Form::Finished { title, secs } => {
                let seq = self.push_driver(t, display, plain, has_sgr, k::STEP_END);
                self.step_finished(t, machine, machine_name.as_deref(), title, secs, seq);
                return;
            }
            Form::EarlyClose(secs) => {
                let seq = self.push_driver(t, display, plain, has_sgr, k::STEP_END);
                self.early_close(t, secs, seq);
                return;
            }
            _ => {}
        }

        // Step starts shown in colour.
        if msg_display.starts_with(NESTED_START) {
            self.states[t].coloured = true;
            if form == Form::GlobalTimeout {
                self.global_timeout(t, line);
            } else if machine.is_none()
                && msg == "cleanup"
                && self.test(t).script_secs.is_none()
                && !self.states[t].open.is_empty()
            {
                self.cleanup_with_open_steps(t, line);
            }
            let seq = self.push_driver(t, display, plain, has_sgr, k::STEP_HEAD);
            let parent = self.states[t].container();
            let opened = RunEvent::StepOpened {
                title: msg,
                machine: machine_name.as_deref(),
                parent,
                head: seq,
                state: StepState::Running,
            };
            let id = self.emit(t, opened).step().unwrap_or(ROOT);
            self.states[t].open.push(id);
            let activity = RunEvent::ActivityOpened {
                head: seq,
                machine: machine_name.as_deref(),
                title: msg,
            };
            self.emit(t, activity);
            self.emit(t, RunEvent::LineTagged { seq, tag: id });
            self.after_message(t, machine, &form, msg, line);
            return;
        }

        let mut kind = k::PLAIN;
        if machine.is_none() {
            kind = if self.script_check(t, msg, line) {
                k::ERROR
            } else {
                self.driver_message(t, &form, msg, line)
            };
        }
        if machine.is_none() && form == Form::Cleanup && self.test(t).script_secs.is_none() {
            if let Some((at, text)) = self.states[t].perl_die.take()
                && !self
                    .test(t)
                    .failures
                    .iter()
                    .any(|f| f.kind != FailureKind::KernelPanic)
            {
                self.add_failure(t, FailureKind::DriverError, None, text, at);
            }
            self.cleanup_with_open_steps(t, line);
        }
        let seq = self.push_driver(t, display, plain, has_sgr, kind);
        if kind == k::PLAIN
            && !self.states[t].coloured
            && !c::is_log_only(msg)
            && !msg.starts_with("(finished: ")
        {
            self.states[t]
                .candidates
                .entry(hash_msg(msg))
                .or_default()
                .push(seq);
            if c::is_known_nested(msg) && form != Form::Cleanup {
                let who = machine.map(|m| self.test(t).machines[m].name.clone());
                let activity = RunEvent::ActivityOpened {
                    head: seq,
                    machine: who.as_deref(),
                    title: msg,
                };
                self.emit(t, activity);
            }
        }
        self.after_message(t, machine, &form, msg, line);
    }

    /// `(finished: TITLE, in SECS seconds)`, of a machine's step or the driver's.
    fn step_finished(
        &mut self,
        t: usize,
        machine: Option<usize>,
        machine_name: Option<&str>,
        title: &str,
        secs: f64,
        seq: u64,
    ) {
        let closed = self.close_step(t, title, machine_name, Some(secs), seq);
        if title == "cleanup"
            && let Some(pid) = self.states[t].pending_kill.take()
        {
            self.emit(t, RunEvent::KillUnanswered { pid });
        }
        // The step's machine, when the end line names none.
        let machine = machine.or_else(|| {
            let test = self.test(t);
            closed
                .and_then(|id| test.step(id))
                .and_then(|s| s.machine.as_deref())
                .and_then(|n| test.machine(n))
        });
        if let Some(m) = machine {
            let event = if title == "waiting for the VM to power off" {
                // `crash()` waits for the power-off too.
                Some(MachineEvent::PoweredOff)
            } else {
                c::needs_shell(title).then_some(MachineEvent::CommandRan)
            };
            if let Some(event) = event {
                self.machine_event(t, m, event);
            }
        }
        if title == "run the VM test script" {
            self.emit(t, RunEvent::ScriptEnded);
        }
    }

    /// What a driver message (no machine's) says about failures; the kind of line it is.
    fn driver_message(&mut self, t: usize, form: &Form<'_>, msg: &str, line: u64) -> u8 {
        match *form {
            Form::GlobalTimeout => {
                self.global_timeout(t, line);
                k::PLAIN
            }
            Form::TracebackHead => self.traceback_head(t, msg, line),
            // A traceback whose head the excerpt lost.
            Form::TracebackFrame if self.states[t].pending.is_none() => {
                self.traceback_head(t, msg, line)
            }
            Form::ChainedException => {
                // Python's chained exceptions are one failure: the next traceback goes on.
                if let Some(f) = self.test(t).failures.len().checked_sub(1)
                    && self.test(t).failures[f].exception.is_some()
                {
                    self.change_failure(t, f, FailureChange::TracebackLine(msg));
                    self.states[t].continued_by_traceback = Some(f);
                }
                k::TRACEBACK
            }
            Form::SubtestReport { .. } => {
                // The driver's subtest failure without its `!!! ` (hidden colours, logs
                // that lost them).
                self.bang(t, msg);
                k::ERROR
            }
            Form::ActionTimedOut => {
                let dup = self
                    .test(t)
                    .failures
                    .last()
                    .is_some_and(|f| f.message == msg || f.message.ends_with(msg));
                if !dup {
                    let f = self.add_failure(t, FailureKind::Timeout, None, msg.to_string(), line);
                    self.timeout_machine(t, f);
                }
                k::ERROR
            }
            Form::EmptyError => {
                // The early driver's `error: {e}` for an exception without text; the
                // traceback after it (from mid-2020 on) says which.
                let message = failures::NO_MESSAGE.to_string();
                let f = self.add_failure(t, FailureKind::DriverError, None, message, line);
                self.states[t].continued_by_traceback = Some(f);
                k::ERROR
            }
            Form::DriverError(err) => {
                let dup = self
                    .test(t)
                    .failures
                    .last()
                    .is_some_and(|f| f.message == err);
                if !dup {
                    let f =
                        self.add_failure(t, FailureKind::DriverError, None, err.to_string(), line);
                    if err.contains("timed out") {
                        self.change_failure(t, f, FailureChange::Kind(FailureKind::Timeout));
                        self.timeout_machine(t, f);
                    }
                }
                k::ERROR
            }
            // The Perl driver repeats its error without `error: `.
            _ if self
                .test(t)
                .failures
                .last()
                .is_some_and(|f| f.kind == FailureKind::DriverError && f.message == msg) =>
            {
                k::ERROR
            }
            Form::PerlDie => {
                self.states[t].perl_die = Some((line, msg.to_string()));
                k::ERROR
            }
            _ => k::PLAIN,
        }
    }

    /// `Traceback (most recent call last):`: a failure, or the report of one the input
    /// showed before (cleanup with open steps, an empty `error:`, a chained exception).
    fn traceback_head(&mut self, t: usize, msg: &str, line: u64) -> u8 {
        let f = match self.states[t].continued_by_traceback.take() {
            // The report has come: its exception line, when it comes, says what failed
            // (until then the failure keeps what the input showed of it).
            Some(f) => f,
            // Whose it is, the test's or a statement typed at the REPL, its first frame says.
            None => {
                self.states[t].mode = Mode::TracebackHead(line);
                return k::TRACEBACK;
            }
        };
        self.states[t].pending = Some(f);
        self.states[t].exception_seen = false;
        self.change_failure(t, f, FailureChange::TracebackLine(msg));
        self.states[t].mode = Mode::Traceback;
        k::TRACEBACK
    }

    /// The first frame of a traceback that could be a REPL statement's: a frame of the REPL
    /// (`<stdin>`, IPython's cells) is the user's error, shown and not counted; any other is
    /// the test's failure, which started at the `Traceback` line `head`.
    pub(super) fn traceback_frame(&mut self, t: usize, plain: &str, head: u64) -> bool {
        if c::is_repl_frame(plain) {
            // What the statement had open, the exception left.
            self.fail_open_steps(t);
            self.states[t].mode = Mode::ReplTraceback;
            return false;
        }
        self.traceback_starts(t, head);
        true
    }

    /// A traceback held back at its head line is the test's failure.
    pub(super) fn traceback_starts(&mut self, t: usize, head: u64) {
        // Its moment is the head line, where the traceback began.
        self.trigger_at(t, TriggerKind::Failure, head);
        let f = self.add_failure(t, FailureKind::Exception, None, String::new(), head);
        self.states[t].pending = Some(f);
        self.states[t].exception_seen = false;
        self.change_failure(
            t,
            f,
            FailureChange::TracebackLine("Traceback (most recent call last):"),
        );
        self.states[t].mode = Mode::Traceback;
    }

    /// What a message says about the run beyond the step tree and failures.
    fn after_message(
        &mut self,
        t: usize,
        machine: Option<usize>,
        form: &Form<'_>,
        msg: &str,
        line: u64,
    ) {
        if let Some(m) = machine {
            let event = match *form {
                Form::StartingVm => Some(MachineEvent::Starting),
                Form::Running(pid) => Some(MachineEvent::Running {
                    pid,
                    container: msg.starts_with("systemd-nspawn"),
                }),
                Form::Connected => Some(MachineEvent::Connected),
                // The Perl driver ran a command.
                Form::ExitStatus => Some(MachineEvent::CommandRan),
                Form::ForcedCrash => Some(MachineEvent::Crashed),
                Form::Output => {
                    // A failed command's output: it ran.
                    self.states[t].mode = Mode::Output;
                    Some(MachineEvent::CommandRan)
                }
                _ => None,
            };
            if matches!(form, Form::StartingVm | Form::Running(_)) {
                self.states[t].script_started = true;
            }
            if let Some(event) = event {
                self.machine_event(t, m, event);
            }
            return;
        }
        match *form {
            Form::Kill { pid } => self.kill(t, pid, msg),
            // The first one is the driver's; a guest can print more.
            Form::ScriptFinished(secs) => {
                self.emit(t, RunEvent::ScriptFinished(secs));
            }
            Form::TimeoutArmed(secs) => {
                let at_ms = self.arrival_ms();
                self.emit(t, RunEvent::GlobalTimeoutArmed { secs, at_ms });
            }
            Form::SymbolsHead => self.states[t].mode = Mode::Symbols(0),
            Form::SshHead if !self.states[t].script_started => self.states[t].mode = Mode::Ssh,
            Form::RemotePdb(ref host, port) => {
                self.emit(t, RunEvent::Pdb(host, port));
            }
            Form::SubtestsSucceeded { ok, all } if ok == all => {
                self.emit(t, RunEvent::AllSubtestsPassed);
            }
            Form::SubtestsSucceeded { ok, all } => {
                let message = format!("{ok} out of {all} tests succeeded");
                self.add_failure(t, FailureKind::Subtest, None, message, line);
            }
            Form::SubtestSummary { name, error } => {
                // The early driver's summary names the subtest of a failure it reported.
                self.emit(t, RunEvent::SubtestFailed { name, error });
                let unnamed = self
                    .test(t)
                    .failures
                    .iter()
                    .rposition(|f| f.kind == FailureKind::Subtest && f.subtest.is_none());
                let f = match unnamed {
                    Some(f) => {
                        self.change_failure(t, f, FailureChange::Message(error));
                        f
                    }
                    None => {
                        let message = error.to_string();
                        self.add_failure(t, FailureKind::Subtest, Some(name), message, line)
                    }
                };
                self.change_failure(t, f, FailureChange::Subtest(name));
            }
            // nix-build prints the output path when the build succeeded.
            Form::OutPath(name) => {
                self.emit(t, RunEvent::OutPath(name));
            }
            _ => {}
        }
    }

    /// `kill machine (pid N)`, `killing NAME (pid N)`, `kill QemuMachine (pid N)`…
    fn kill(&mut self, t: usize, pid: Option<u32>, msg: &str) {
        // The early drivers name the machine they kill.
        let by_name = msg
            .strip_prefix("killing ")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.split_once(" (pid "))
            .map(|(n, _)| n)
            .filter(|n| c::is_name(n))
            .and_then(|name| self.ensure_machine(t, name, false));
        // `kill machine (pid N)` names no machine in the drivers that print the word
        // itself: the pid tells, or QEMU's answer on a console, or at last the only machine
        // there is.
        let machines = &self.test(t).machines;
        let target =
            by_name.or_else(|| pid.and_then(|p| machines.iter().position(|m| m.pid == Some(p))));
        if let Some(old) = self.states[t].pending_kill.take() {
            self.emit(t, RunEvent::KillUnanswered { pid: old });
        }
        match target {
            Some(m) => {
                let event = MachineEvent::Killed { pid };
                self.machine_event(t, m, event);
            }
            // The machine's QEMU says next that it was terminated.
            None if !msg.starts_with("kill vlan") => self.states[t].pending_kill = pid,
            None => {}
        }
    }

    /// A timeout no open step names a machine for was waiting on the last one spoken of.
    fn timeout_machine(&mut self, t: usize, f: usize) {
        let Some(m) = self.states[t].last_machine else {
            return;
        };
        let name = self.test(t).machines.get(m).map(|m| m.name.clone());
        self.change_failure(t, f, FailureChange::Machine(name.as_deref()));
    }
}
