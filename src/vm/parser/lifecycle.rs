//! Machines and their lifecycle: names as the driver gives them, console lines, and what
//! happens to each machine, applied to the model as `MachineEvent`s.

use super::super::classify as c;
use super::super::event::RunEvent;
use super::super::model::{FailureKind, MachineEvent, MachineState, line_kind as k};
use super::{Dest, MAX_MACHINES, Parser};

impl Parser {
    /// What happened to machine `m` of test `t`, at the line being read.
    pub(super) fn machine_event(&mut self, t: usize, m: usize, event: MachineEvent) {
        let at = self.here(t);
        self.emit(
            t,
            RunEvent::Machine {
                machine: m,
                event,
                at,
            },
        );
    }

    pub(super) fn serial(
        &mut self,
        t: usize,
        name: &str,
        display: &str,
        plain: &str,
        off: usize,
        has_sgr: bool,
    ) {
        // A guest is writing: whatever follows may be its text.
        self.states[t].script_started = true;
        let Some(m) = self.ensure_machine(t, name, false) else {
            // More machines than any test has: the line stays in the driver's log.
            self.push_driver(t, display, plain, has_sgr, k::OUTPUT);
            return;
        };
        let time = self.stamp(t);
        let text_plain = &plain[off..];
        let mut text = if has_sgr {
            &display[c::display_offset(display, off)..]
        } else {
            text_plain
        };
        if has_sgr && display.starts_with("\x1b[2m") {
            text = text.strip_suffix("\x1b[0m").unwrap_or(text);
        }
        let styled = has_sgr && text.len() != text_plain.len();
        let line = RunEvent::SerialLine {
            machine: m,
            display: text,
            plain: styled.then_some(text_plain),
            time,
            continued: false,
        };
        self.emit(t, line);
        self.sink_serial(t, m, text_plain);
        // Checked on every serial line: the cheap test first.
        if text_plain.starts_with("qemu")
            && text_plain.contains("terminating on signal 15")
            && !matches!(
                self.test(t).machines[m].state,
                MachineState::ShutDown | MachineState::Crashed
            )
        {
            // QEMU's own word on its console: the driver's kill reached it (and answers a
            // kill that named no machine).
            let pid = self.states[t].pending_kill.take();
            let event = MachineEvent::Killed { pid };
            self.machine_event(t, m, event);
        }
        self.last_dest = Some(Dest::Serial(t, m));
        if c::is_kernel_panic(text_plain) {
            let event = MachineEvent::Crashed;
            self.machine_event(t, m, event);
            let already =
                self.test(t).failures.iter().any(|f| {
                    f.kind == FailureKind::KernelPanic && f.machine.as_deref() == Some(name)
                });
            if !already {
                // The guest's word: it freezes nothing and leaves the steps as they are.
                let panic = RunEvent::Failed {
                    kind: FailureKind::KernelPanic,
                    message: text_plain.trim(),
                    line: self.run.lines.saturating_sub(1),
                    subtest: None,
                    machine: Some(name),
                    chain: &[],
                };
                self.emit(t, panic);
            }
        }
    }

    /// The machine named `name`, added if it is new; `None` once the test has
    /// [`MAX_MACHINES`] (the names refused are counted).
    pub(super) fn ensure_machine(
        &mut self,
        t: usize,
        name: &str,
        from_symbols: bool,
    ) -> Option<usize> {
        let test = self.test(t);
        if let Some(i) = test.machine(name) {
            return Some(i);
        }
        if test.machines.len() >= MAX_MACHINES
            || self.known.as_ref().is_some_and(|k| !k.contains(name))
        {
            self.emit(t, RunEvent::MachineRefused);
            return None;
        }
        let py = c::pythonize(name);
        if !from_symbols
            && py != name
            && let Some(i) = test.machine(&py)
            && test.machines[i].serial_lines == 0
            && test.machines[i].state == MachineState::NotStarted
        {
            // The symbols block spells names as Python identifiers.
            self.emit(t, RunEvent::MachineRenamed { machine: i, name });
            return Some(i);
        }
        if from_symbols
            && let Some(i) = test
                .machines
                .iter()
                .position(|m| c::pythonize(&m.name) == name)
        {
            return Some(i);
        }
        let seen = RunEvent::MachineSeen {
            name,
            line: self.run.lines.saturating_sub(1),
            ms: self.arrival_ms(),
        };
        self.emit(t, seen).machine()
    }
}
