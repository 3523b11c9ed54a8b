//! The model applies what the parser says a line means (`RunEvent`).

use super::super::classify as c;
use super::super::event::{Applied, FailureChange, RunEvent};
use super::super::store::LineStore;
use super::{
    Failure, FailureKind, Machine, MachineEvent, MachineState, Origin, Outcome, ROOT, Step, StepId,
    StepKind, StepState, Subtest, Test, axis, line_kind as k,
};

/// Siblings an implied step takes in at most, and driver lines it retags.
const MAX_ADOPTED: usize = 4096;
const MAX_RETAGGED: u64 = 65_536;
/// Failures a test keeps: past it, the last slot holds the newest one (indices stay valid).
pub const MAX_FAILURES: usize = 1000;
/// Lines a failure's traceback keeps, and bytes its message grows to.
pub const MAX_TRACEBACK: usize = 500;
const MAX_MESSAGE: usize = 64 << 10;

/// What a failure whose traceback the input cut off says.
const CUT_TRACEBACK: &str = "(the input ends inside the traceback, before its exception line)";

impl Test {
    /// Applies one event. The events of every line (a driver line, a console line) are
    /// applied here, where each call site's event is known; the rest in `apply_other`.
    #[inline(always)]
    pub fn apply(&mut self, event: RunEvent<'_>) -> Applied {
        // A console line changes its machine's pane only (keyed by its own store).
        if !matches!(event, RunEvent::SerialLine { .. }) {
            self.revision += 1;
        }
        match event {
            RunEvent::DriverLine {
                display,
                plain,
                time,
                kind,
                tag,
            } => {
                self.last = time;
                let seq = self.driver.push(display, plain, time, kind, tag);
                self.merged.push(Origin::Driver, seq);
                Applied::Line(seq)
            }
            RunEvent::SerialLine {
                machine,
                display,
                plain,
                time,
                continued,
            } => {
                self.last = time;
                if let Some(m) = self.machines.get_mut(machine) {
                    let from = m.serial.end_seq();
                    if !continued {
                        // Before the line is stored: a new boot's separator comes first.
                        let text = plain.unwrap_or(display);
                        let kernel_start = text.starts_with("[    0.000000] Linux version ");
                        m.apply(MachineEvent::Console { kernel_start }, time);
                        // Only a saved log's silences need the machine's own clock.
                        let uptime = if time.estimated() {
                            axis::uptime_ms(text)
                        } else {
                            None
                        };
                        m.axis.line(time, uptime);
                    }
                    m.serial.push(display, plain, time, 0, 0);
                    m.serial_lines += 1;
                    let to = m.serial.end_seq();
                    for seq in from..to {
                        self.merged.push(Origin::Machine(machine), seq);
                    }
                }
                Applied::Nothing
            }
            other => self.apply_other(other),
        }
    }

    #[inline(never)]
    fn apply_other(&mut self, event: RunEvent<'_>) -> Applied {
        use RunEvent as E;
        match event {
            E::Named(name) => {
                if self.name.is_none() {
                    self.name = Some(name.to_string());
                }
            }
            E::ThroughBuild => self.in_build = true,
            E::Builder(host) => self.builder = Some(host.to_string()),
            E::ExitStatus(code) => self.exit_code = Some(code),
            E::BuilderExit(code) => {
                if self.exit_code.is_none() {
                    self.exit_code = code;
                }
                if code == Some(143) {
                    // SIGTERM: the driver's global timeout killed it.
                    self.timed_out = true;
                }
            }
            E::ScriptFinished(secs) => {
                self.script_secs = self.script_secs.or(secs);
                if self.only_panics() {
                    self.passed_evidence = true;
                }
            }
            E::ScriptEnded => self.passed_evidence |= self.failures.is_empty(),
            E::AllSubtestsPassed => self.passed_evidence = true,
            E::OutPath(name) => {
                if self.failures.is_empty() {
                    self.passed_evidence = true;
                }
                if self.name.is_none() {
                    self.name = Some(name.to_string());
                }
            }
            E::GlobalTimeoutArmed { secs, at_ms } => {
                if self.global_timeout_secs.is_none() {
                    self.global_timeout_secs = secs;
                    self.global_timeout_at_ms = at_ms;
                    self.clock.armed(secs);
                }
            }
            E::TimedOut => {
                self.timed_out = true;
                self.clock.timed_out();
            }
            E::Pdb(host, port) => self.pdb = Some((host.to_string(), port)),
            E::Ssh(entry) => self.ssh.push(entry.clone()),
            E::Breakpoint(bp) => self.breakpoint = Some(bp.clone()),
            E::ScriptHeader(n) => self.script_header = self.script_header.or(Some(n)),
            E::Warning { text, line } => self.add_warning(text, line),

            // Applied by `apply`.
            E::DriverLine { .. } | E::SerialLine { .. } => {}
            E::LineKind { seq, kind } => {
                if let Some(d) = self.driver.get_mut(seq) {
                    d.kind = kind;
                }
            }
            E::LineTagged { seq, tag } => {
                if let Some(d) = self.driver.get_mut(seq) {
                    d.tag = tag;
                }
            }

            E::MachineSeen { name, line, ms } => {
                return Applied::Machine(self.add_machine(Machine {
                    name: name.to_string(),
                    state: MachineState::NotStarted,
                    pid: None,
                    first_seen_line: line,
                    first_seen_ms: ms,
                    serial: LineStore::new(self.caps.serial()),
                    serial_lines: 0,
                    boots: 0,
                    boot_fresh: false,
                    container: false,
                    axis: super::MachineAxis::default(),
                }));
            }
            E::MachineRenamed { machine, name } => self.rename_machine(machine, name),
            E::MachineRefused => self.machines_refused += 1,
            E::Machine { machine, event, at } => {
                self.last = at;
                if let Some(m) = self.machines.get_mut(machine) {
                    let from = m.serial.end_seq();
                    m.apply(event, at);
                    // A new boot's separator line.
                    for seq in from..m.serial.end_seq() {
                        self.merged.push(Origin::Machine(machine), seq);
                    }
                }
            }
            E::KillUnanswered { pid } => {
                if let [m] = self.machines.as_mut_slice()
                    && !matches!(
                        m.state,
                        MachineState::ShutDown | MachineState::Crashed | MachineState::Killed
                    )
                {
                    m.apply(MachineEvent::Killed { pid: Some(pid) }, self.last);
                }
            }

            E::StepOpened {
                title,
                machine,
                parent,
                head,
                state,
            } => {
                let machine = machine.map(str::to_string);
                return Applied::Step(self.open_step(title, machine, parent, head, state));
            }
            E::StepPromoted {
                head,
                title,
                state,
                end,
            } => return Applied::Step(self.promote(head, title, state, end)),
            E::StepClosed {
                id,
                title,
                secs,
                end,
                machine,
            } => {
                let ended = self.driver.get(end).map_or(self.last, |l| l.stamp());
                let Some(step) = self.steps.get_mut(id as usize) else {
                    return Applied::Nothing;
                };
                step.state = StepState::Passed;
                step.secs = secs;
                step.end = Some(end);
                step.ended = Some(ended);
                let (head, began) = (step.head, step.began);
                if step.machine.is_none() {
                    step.machine = machine.map(str::to_string);
                }
                self.clock.step_ended(began, secs);
                if let Some(d) = self.driver.get_mut(end) {
                    d.tag = id;
                }
                self.close_activity(head);
                self.finish_subtest(title, StepState::Passed, secs);
            }
            E::StepImplied {
                title,
                machine,
                parent,
                end,
                secs,
            } => {
                if let Some(d) = self.driver.get_mut(end) {
                    d.kind = k::STEP_HEAD;
                }
                let machine = machine.map(str::to_string);
                let id = self.open_step(title, machine, parent, end, StepState::Passed);
                let step = &mut self.steps[id as usize];
                step.secs = secs;
                // Its start is not in the input: it began its duration before its end.
                let ended = step.began;
                step.ended = Some(ended);
                if let (Some(ms), Some(secs)) = (ended.time_or_estimate(), secs) {
                    let back = (secs.max(0.0) * 1000.0).min(f64::from(ms)) as u32;
                    step.began.ms = axis::time_field(Some(ms - back), ended.estimated());
                }
                self.finish_subtest(title, StepState::Passed, secs);
                if let Some(d) = self.driver.get_mut(end) {
                    d.tag = id;
                }
                if let Some(secs) = secs {
                    self.adopt_enclosed(id, parent, secs);
                }
                return Applied::Step(id);
            }
            E::EarlyClosed {
                head,
                title,
                secs,
                end,
            } => {
                let id = self.promote(head, title, StepState::Passed, end);
                self.close_activity(head);
                let ended = self.driver.get(end).map_or(self.last, |l| l.stamp());
                let step = &mut self.steps[id as usize];
                step.secs = Some(secs);
                step.ended = Some(ended);
                let began = step.began;
                self.clock.step_ended(began, Some(secs));
                if let Some(d) = self.driver.get_mut(end) {
                    d.tag = id;
                }
                return Applied::Step(id);
            }
            E::StepsFailed(chain) => {
                for &id in chain {
                    let Some(s) = self.steps.get_mut(id as usize) else {
                        continue;
                    };
                    s.state = StepState::Failed;
                    s.ended = s.ended.or(Some(self.last));
                    if let Some(name) = s.title.strip_prefix("subtest: ") {
                        let name = name.to_string();
                        if let Some(sub) = self.subtest_mut(&name) {
                            sub.state = StepState::Failed;
                        }
                    }
                }
            }
            E::SubtestFailed { name, error } => match self.subtest_mut(name) {
                Some(s) => {
                    s.state = StepState::Failed;
                    s.error = Some(error.to_string());
                }
                None => self.add_subtest(Subtest {
                    name: name.to_string(),
                    state: StepState::Failed,
                    secs: None,
                    error: Some(error.to_string()),
                }),
            },
            E::ActivityOpened {
                head,
                machine,
                title,
            } => self.open_activity(head, machine.map(str::to_string), title),
            E::ActivityCleared => self.activity.clear(),

            E::Failed {
                kind,
                message,
                line,
                subtest,
                machine,
                chain,
            } => {
                let message = message.to_string();
                let f = self.add_failure(kind, message, line, subtest, machine, chain);
                return Applied::Failure(f);
            }
            E::FailureChanged { failure, change } => self.change_failure(failure, change),

            E::Frozen {
                kind,
                line,
                ms,
                failure,
            } => {
                if self.freeze_now(kind, line, ms)
                    && let Some(f) = &mut self.freeze
                {
                    f.failure = failure;
                }
            }
            E::ReportGoesOn { failure } => {
                let end = self.driver.end_seq();
                if let Some(f) = &mut self.freeze
                    && f.failure == Some(failure)
                    && f.driver_end + 64 > end
                {
                    f.driver_end = end;
                }
            }
            E::InputEnded { open } => self.input_ended(open),
        }
        Applied::Nothing
    }

    fn only_panics(&self) -> bool {
        self.failures
            .iter()
            .all(|f| f.kind == FailureKind::KernelPanic)
    }

    fn open_step(
        &mut self,
        title: &str,
        machine: Option<String>,
        parent: StepId,
        head: u64,
        state: StepState,
    ) -> StepId {
        let id = self.steps.len() as StepId;
        let kind = if title.starts_with("subtest: ") {
            StepKind::Subtest
        } else {
            StepKind::Step
        };
        let began = self.driver.get(head).map_or(self.last, |l| l.stamp());
        self.steps.push(Step {
            title: title.to_string(),
            machine,
            kind,
            state,
            secs: None,
            parent,
            children: Vec::new(),
            head,
            end: None,
            began,
            ended: None,
        });
        self.insert_child(parent, id);
        if crate::vm::shots::about_the_screen(title) {
            if self.screen_steps.len() >= crate::vm::shots::MAX_SCREEN_STEPS {
                // The oldest go, as steps do: a forged flood cannot grow this without bound.
                self.screen_steps
                    .drain(..crate::vm::shots::MAX_SCREEN_STEPS / 10);
            }
            self.screen_steps.push(id);
        }
        if let Some(orphans) = self.steps.evict() {
            // Steps whose parent left memory are shown from the top.
            let steps = &self.steps;
            self.roots.retain(|&id| steps.holds(id));
            self.roots.extend(orphans);
            self.roots.sort_by_key(|&id| (steps[id as usize].head, id));
        }
        if let Some(name) = title.strip_prefix("subtest: ")
            && self
                .subtest_mut(name)
                .is_none_or(|s| s.state != StepState::Running)
        {
            self.add_subtest(Subtest {
                name: name.to_string(),
                state,
                secs: None,
                error: None,
            });
        }
        id
    }

    fn insert_child(&mut self, parent: StepId, id: StepId) {
        let head = self.steps[id as usize].head;
        let in_steps = parent != ROOT && (parent as usize) < self.steps.len();
        let list = if in_steps {
            &self.steps[parent as usize].children
        } else {
            &self.roots
        };
        // Promoted steps may start before siblings created earlier: keep head order.
        let pos = list
            .iter()
            .rposition(|&s| self.steps.get(s as usize).is_some_and(|x| x.head <= head))
            .map_or(0, |p| p + 1);
        let list = if in_steps {
            &mut self.steps[parent as usize].children
        } else {
            &mut self.roots
        };
        list.insert(pos, id);
    }

    fn finish_subtest(&mut self, title: &str, state: StepState, secs: Option<f64>) {
        if let Some(name) = title.strip_prefix("subtest: ") {
            match self.subtest_mut(name) {
                Some(s) if s.state != StepState::Failed => {
                    s.state = state;
                    s.secs = secs;
                }
                Some(_) => {}
                None => self.add_subtest(Subtest {
                    name: name.to_string(),
                    state,
                    secs,
                    error: None,
                }),
            }
        }
    }

    /// Plain line `head` becomes the start of a step that contains every later line of its
    /// container up to `end`.
    fn promote(&mut self, head: u64, title: &str, state: StepState, end: u64) -> StepId {
        let line = self.driver.get(head);
        let parent = line.map_or(ROOT, |l| l.tag);
        let machine = line.and_then(|l| {
            let plain = l.plain();
            let (n, _) = c::machine_prefix(&plain)?;
            self.machine(n).map(|_| n.to_string())
        });
        let id = self.open_step(title, machine, parent, head, state);
        // Later siblings move into the new step.
        let siblings = match parent {
            ROOT => &mut self.roots,
            p => &mut self.steps[p as usize].children,
        };
        // The new step was inserted by head order, near the end.
        let pos = siblings
            .iter()
            .rposition(|&s| s == id)
            .unwrap_or(siblings.len());
        let moved: Vec<StepId> = siblings.drain(pos + 1..).collect();
        for &m in &moved {
            self.steps[m as usize].parent = id;
        }
        self.steps[id as usize].children = moved;
        if let Some(line) = self.driver.get_mut(head) {
            line.kind = k::STEP_HEAD;
            line.tag = id;
        }
        for (_, line) in self.driver.iter_mut_from(head + 1) {
            if line.tag == parent {
                line.tag = id;
            }
        }
        if state == StepState::Passed {
            let ended = self.driver.get(end).map_or(self.last, |l| l.stamp());
            let step = &mut self.steps[id as usize];
            step.end = Some(end);
            step.ended = Some(ended);
        }
        id
    }

    /// A step that contains others (the script, a subtest, a machine's first command) whose
    /// start the input lacks: the finished steps right before its end are its own while
    /// their durations fit in its own.
    fn adopt_enclosed(&mut self, id: StepId, parent: StepId, secs: f64) {
        let title = self.steps[id as usize].title.clone();
        let subtest = title.starts_with("subtest: ");
        // Besides the script and subtests, a machine's first command holds its connection
        // (`waiting for the VM to finish booting`): nothing else is known to nest.
        let command_of = (title != "run the VM test script" && !subtest)
            .then(|| self.steps[id as usize].machine.clone());
        if command_of.as_ref().is_some_and(|m| m.is_none()) {
            return;
        }
        let in_steps = parent != ROOT && (parent as usize) < self.steps.len();
        let siblings: Vec<StepId> = if in_steps {
            self.steps[parent as usize].children.clone()
        } else {
            self.roots.clone()
        };
        // Durations are printed to a hundredth: each adds up to half of one.
        let mut room = secs + 0.005 * (siblings.len().min(MAX_ADOPTED) as f64 + 1.0);
        let mut adopted: Vec<StepId> = Vec::new();
        for &s in siblings
            .iter()
            .rev()
            .filter(|&&s| s != id)
            .take(MAX_ADOPTED)
        {
            let step = &self.steps[s as usize];
            let before_script = matches!(
                step.title.as_str(),
                "start all VLans"
                    | "start vlan"
                    | "start vhost-device-vsock"
                    | "run the VM test script"
            );
            // Subtests follow each other; the cleanup comes after the script.
            if before_script
                || step.title == "cleanup"
                || (subtest && step.kind == StepKind::Subtest)
                || step.state != StepState::Passed
            {
                break;
            }
            if let Some(machine) = &command_of
                && (step.title != "waiting for the VM to finish booting"
                    || step.machine != *machine)
            {
                break;
            }
            let Some(d) = step.secs else { break };
            if d > room {
                break;
            }
            room -= d;
            adopted.push(s);
            if command_of.is_some() {
                break;
            }
        }
        if adopted.is_empty() {
            return;
        }
        adopted.reverse();
        let list = if in_steps {
            &mut self.steps[parent as usize].children
        } else {
            &mut self.roots
        };
        list.retain(|s| !adopted.contains(s));
        let first_head = self.steps[adopted[0] as usize].head;
        for &s in &adopted {
            self.steps[s as usize].parent = id;
        }
        self.steps[id as usize].children = adopted;
        // The lines between the first adopted step and the end were the parent's.
        let end = self.steps[id as usize].head;
        for seq in first_head..end.min(first_head + MAX_RETAGGED) {
            if let Some(line) = self.driver.get_mut(seq)
                && line.tag == parent
            {
                line.tag = id;
            }
        }
    }

    /// A failure that left the steps of `chain` (outermost first): its machine, command and
    /// subtest are theirs unless given.
    fn add_failure(
        &mut self,
        kind: FailureKind,
        message: String,
        line: u64,
        subtest: Option<&str>,
        machine: Option<&str>,
        chain: &[StepId],
    ) -> usize {
        let mut step_machine = None;
        let mut command = None;
        let mut sub = subtest.map(str::to_string);
        let steps = || {
            chain
                .iter()
                .rev()
                .filter_map(|&id| self.steps.get(id as usize))
        };
        for s in steps() {
            if command.is_none()
                && let Some(cmd) = c::step_command(&s.title)
            {
                command = Some(cmd.to_string());
                step_machine = s.machine.clone();
            }
            if sub.is_none()
                && let Some(n) = s.title.strip_prefix("subtest: ")
            {
                sub = Some(n.to_string());
            }
        }
        // A guest's panic text names no command.
        if command.is_none() && kind != FailureKind::KernelPanic {
            command = c::quoted_command(&message).map(str::to_string);
        }
        // The innermost step that was about a machine.
        let machine = machine
            .map(str::to_string)
            .or(step_machine)
            .or_else(|| steps().find_map(|s| s.machine.clone()));
        let failure = Failure {
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
        };
        if self.failures.len() > MAX_FAILURES {
            let last = self.failures.len() - 1;
            self.failures[last] = failure;
            self.failures_dropped += 1;
            return last;
        }
        self.failures.push(failure);
        self.failures.len() - 1
    }

    fn change_failure(&mut self, f: usize, change: FailureChange<'_>) {
        use FailureChange as F;
        // A traceback's call on a machine (`    client.succeed(…)`) names the machine.
        let machine_of_call = |test: &Test, text: &str| {
            let (obj, _) = text.trim().split_once('.')?;
            let m = test
                .machines
                .iter()
                .find(|m| c::pythonize(&m.name) == obj)?;
            Some(m.name.clone())
        };
        let call = match &change {
            F::TracebackLine(text) => machine_of_call(self, text),
            _ => None,
        };
        let Some(failure) = self.failures.get_mut(f) else {
            return;
        };
        match change {
            F::Message(text) => failure.message = text.to_string(),
            F::MessageLine(text) => {
                if !text.is_empty() && failure.message.len() < MAX_MESSAGE {
                    failure.message.push('\n');
                    failure.message.push_str(text);
                }
            }
            F::MessageWrapped(text) if failure.message.len() < MAX_MESSAGE => {
                failure.message.push(' ');
                failure.message.push_str(text);
            }
            F::MessageWrapped(_) => {}
            F::ReportCame => failure.message.clear(),
            F::Kind(kind) => failure.kind = kind,
            F::Exception { name, message } => {
                failure.exception = Some(name.to_string());
                if !message.is_empty() {
                    failure.message = message.to_string();
                } else if failure.message.is_empty() {
                    // `KeyboardInterrupt`, `bdb.BdbQuit`: the name is all there is.
                    failure.message = name.to_string();
                }
                // The exception says what failed.
                failure.kind = if message.contains("action timed out")
                    || message.contains("timed out after")
                {
                    FailureKind::Timeout
                } else if name.contains("Assertion") {
                    FailureKind::Assertion
                } else {
                    FailureKind::Exception
                };
                if failure.command.is_none() {
                    failure.command = c::quoted_command(message).map(str::to_string);
                }
            }
            F::Subtest(name) => failure.subtest = Some(name.to_string()),
            F::TracebackLine(text) => {
                if failure.traceback.len() < MAX_TRACEBACK {
                    failure.traceback.push(text.to_string());
                } else if failure.traceback.len() == MAX_TRACEBACK {
                    failure
                        .traceback
                        .push("⋯ (the rest of this traceback is not kept)".to_string());
                }
                if failure.machine.is_none() {
                    failure.machine = call;
                }
            }
            F::Machine(name) => {
                if failure.machine.is_none() {
                    failure.machine = name.map(str::to_string);
                }
            }
            F::ScriptLine(line) => failure.script_line = line,
            F::Hint(hint) => failure.hint = Some(hint.to_string()),
        }
    }

    fn input_ended(&mut self, open: &[StepId]) {
        self.finished = true;
        self.activity.clear();
        for f in &mut self.failures {
            if f.message.is_empty() {
                f.message = CUT_TRACEBACK.to_string();
            }
        }
        let failed = self.outcome(false) != Outcome::Passed && !self.failures.is_empty();
        let left = if failed {
            StepState::Failed
        } else {
            StepState::Unclosed
        };
        for &id in open {
            if let Some(s) = self.steps.get_mut(id as usize) {
                s.state = left;
            }
        }
        for s in &mut self.subtests {
            if s.state == StepState::Running {
                s.state = left;
            }
        }
    }
}
