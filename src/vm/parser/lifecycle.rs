//! Machines and their lifecycle: names as the driver gives them, console lines, and what
//! happens to each machine, applied to the model as `MachineEvent`s.

use super::super::classify as c;
use super::super::model::{
    Failure, FailureKind, Machine, MachineEvent, MachineState, Test, line_kind as k,
};
use super::super::store::LineStore;
use super::{Dest, MAX_MACHINES, Parser};

impl Parser {
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
        let time = self.stamp();
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
        let machine = &mut self.run.tests[t].machines[m];
        // Before the line is stored: a new boot's separator comes first.
        machine.apply(MachineEvent::Console {
            time,
            kernel_start: is_kernel_start(text_plain),
        });
        machine
            .serial
            .push(text, styled.then_some(text_plain), time, 0, 0);
        machine.serial_lines += 1;
        if let Some(sink) = &mut self.sink {
            sink(t, Some(&machine.name), text_plain);
        }
        // Checked on every serial line: the cheap test first.
        if text_plain.starts_with("qemu")
            && text_plain.contains("terminating on signal 15")
            && !matches!(
                machine.state,
                MachineState::ShutDown | MachineState::Crashed
            )
        {
            // QEMU's own word on its console: the driver's kill reached it (and answers a
            // kill that named no machine).
            let pid = self.states[t].pending_kill.take();
            machine.apply(MachineEvent::Killed { pid });
        }
        self.last_dest = Some(Dest::Serial(t, m));
        if c::is_kernel_panic(text_plain) {
            self.run.tests[t].machines[m].apply(MachineEvent::Crashed);
            let already = self.run.tests[t]
                .failures
                .iter()
                .any(|f| f.kind == FailureKind::KernelPanic && f.machine.as_deref() == Some(name));
            if !already {
                let line = self.run.lines.saturating_sub(1);
                self.run.tests[t].failures.push(Failure {
                    kind: FailureKind::KernelPanic,
                    exception: None,
                    message: text_plain.trim().to_string(),
                    machine: Some(name.to_string()),
                    subtest: None,
                    command: None,
                    traceback: Vec::new(),
                    line,
                    script_line: None,
                    hint: None,
                });
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
        let test = &mut self.run.tests[t];
        if let Some(i) = test.machine(name) {
            return Some(i);
        }
        if test.machines.len() >= MAX_MACHINES
            || self.known.as_ref().is_some_and(|k| !k.contains(name))
        {
            test.machines_refused += 1;
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
            test.rename_machine(i, name);
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
        Some(test.add_machine(Machine {
            name: name.to_string(),
            state: MachineState::NotStarted,
            pid: None,
            first_seen_line: self.run.lines.saturating_sub(1),
            first_seen_ms: (self.time_ms != super::super::store::NO_TIME).then_some(self.time_ms),
            serial: LineStore::new(self.run.caps),
            serial_lines: 0,
            boots: 0,
            boot_fresh: false,
        }))
    }
}

/// A `kill machine (pid N)` that no console answered: the only machine of the test is it.
pub(super) fn resolve_kill(test: &mut Test, pid: u32) {
    if let [m] = test.machines.as_mut_slice()
        && !matches!(
            m.state,
            MachineState::ShutDown | MachineState::Crashed | MachineState::Killed
        )
    {
        m.apply(MachineEvent::Killed { pid: Some(pid) });
    }
}

/// The first line a Linux kernel prints: `[    0.000000] Linux version …`.
pub(super) fn is_kernel_start(text: &str) -> bool {
    text.starts_with("[    0.000000] Linux version ")
}
