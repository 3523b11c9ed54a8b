//! What a test run is: its tests, machines, step tree, failures, backdoor and breakpoint.

mod apply;
pub mod axis;
pub mod merged;
mod steps;

pub use axis::{Clock, MachineAxis};
pub use merged::{Merged, Origin};
pub use steps::Steps;

use serde::Serialize;

use super::classify::BreakpointLine;
use super::store::{Caps, LineStore, Stamp};

pub type StepId = u32;
/// Tag of driver lines outside every step.
pub const ROOT: StepId = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineState {
    NotStarted,
    Booting,
    Connected,
    ShutDown,
    Crashed,
    Killed,
}

impl MachineState {
    pub fn label(self) -> &'static str {
        match self {
            Self::NotStarted => "not started",
            Self::Booting => "booting",
            Self::Connected => "connected",
            Self::ShutDown => "shut down",
            Self::Crashed => "crashed",
            Self::Killed => "killed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Machine {
    pub name: String,
    pub state: MachineState,
    pub pid: Option<u32>,
    /// Input line number where the machine was first named.
    pub first_seen_line: u64,
    /// Time (ms since start) of first sight, for live input.
    pub first_seen_ms: Option<u32>,
    pub serial: LineStore,
    /// Serial lines ever received (the store may have evicted some).
    pub serial_lines: u64,
    /// Boots seen: `starting vm`, or a kernel starting again on the console.
    pub boots: u32,
    /// No console line since the last boot began (its kernel's first line is that boot's).
    pub boot_fresh: bool,
    /// A systemd-nspawn container: its console is its journal.
    pub container: bool,
    /// Its state changes, output rate and silences over the whole run.
    pub axis: MachineAxis,
}

/// What the driver (or QEMU's own console line) says happened to a machine. The parser
/// reads these from whatever form a log has; the machine's state follows from them here,
/// in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineEvent {
    /// `starting vm`: a new boot begins.
    Starting,
    /// `QEMU running (pid N)`, `systemd-nspawn running (pid N)`.
    Running {
        pid: Option<u32>,
        /// `systemd-nspawn running`: a container, whose console is its journal.
        container: bool,
    },
    /// A console line arrived; `kernel_start` when it is a kernel's first line, which on a
    /// console that had a boot is a new one (`reboot()`, a reset).
    Console { kernel_start: bool },
    /// `connected to guest root shell`.
    Connected,
    /// A command ran on it to its end (`exit status N`, a finished `must succeed`): it
    /// was up, whatever part of the log its boot was in.
    CommandRan,
    /// `forced crash`, a kernel panic on its console.
    Crashed,
    /// `waiting for the VM to power off` finished.
    PoweredOff,
    /// `kill QemuMachine (pid N)` for it, QEMU's `terminating on signal 15`, or the only
    /// machine when a kill names none.
    Killed { pid: Option<u32> },
}

impl Machine {
    /// Applies what happened to the machine at `at`. An end (crashed, shut down) is not
    /// undone by a later kill, and a crash is not turned into a shutdown by the power-off
    /// wait after it.
    pub fn apply(&mut self, event: MachineEvent, at: Stamp) {
        use MachineState as S;
        let was = (self.state, self.boots);
        match event {
            MachineEvent::Starting => {
                self.state = S::Booting;
                self.new_boot(at);
            }
            MachineEvent::Running { pid, container } => {
                self.pid = pid;
                self.container |= container;
                if matches!(self.state, S::NotStarted | S::ShutDown | S::Killed) {
                    self.state = S::Booting;
                }
            }
            MachineEvent::Console { kernel_start } => {
                if kernel_start && !self.boot_fresh {
                    self.new_boot(at);
                }
                self.boot_fresh = false;
                if self.state == S::NotStarted {
                    self.state = S::Booting;
                }
            }
            MachineEvent::Connected => self.state = S::Connected,
            MachineEvent::CommandRan => {
                if matches!(self.state, S::NotStarted | S::Booting) {
                    self.state = S::Connected;
                }
            }
            MachineEvent::Crashed => self.state = S::Crashed,
            MachineEvent::PoweredOff => {
                if !matches!(self.state, S::Crashed | S::Killed) {
                    self.state = S::ShutDown;
                }
            }
            MachineEvent::Killed { pid } => {
                if !matches!(self.state, S::ShutDown | S::Crashed) {
                    self.state = S::Killed;
                }
                self.pid = self.pid.or(pid);
            }
        }
        if self.state != S::NotStarted && (self.state, self.boots) != was {
            self.axis.changed(at, self.state, self.boots);
        }
    }

    /// Its state at point `at` of the run.
    pub fn state_at(&self, at: u64) -> MachineState {
        let h = &self.axis.history;
        let i = h.partition_point(|c| c.at <= at);
        i.checked_sub(1)
            .map_or(MachineState::NotStarted, |i| h[i].state)
    }

    /// A new boot in the same pane: after the first, a separator line says which.
    fn new_boot(&mut self, at: Stamp) {
        self.boots += 1;
        self.boot_fresh = true;
        self.axis.boot();
        if self.boots > 1 && self.serial_lines > 0 {
            // Drawn bold yellow, so a console line with the same text is told apart.
            let plain = format!("── boot {} ──", self.boots);
            let mark = format!("\x1b[1;33m{plain}\x1b[0m");
            self.serial.push(&mark, Some(&plain), at, 0, 0);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Running,
    Passed,
    Failed,
    /// Left open at the end of an input that shows no failure (an excerpt, or a log cut off).
    Unclosed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Step,
    Subtest,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub title: String,
    pub machine: Option<String>,
    pub kind: StepKind,
    pub state: StepState,
    pub secs: Option<f64>,
    pub parent: StepId,
    pub children: Vec<StepId>,
    /// Driver line that opened the step.
    pub head: u64,
    /// Driver line that closed it.
    pub end: Option<u64>,
    /// Where and when it began and ended on the run's axis (`ended`: also where an
    /// exception left it).
    pub began: Stamp,
    pub ended: Option<Stamp>,
}

/// A step that is open now.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// The driver line that opened it.
    pub head: u64,
    pub machine: Option<String>,
    pub title: String,
}

/// The merged order keeps as many lines as this many panes hold.
pub const MERGED_PER_PANE: usize = 4;

/// Open steps remembered at most: plain logs whose ends were cut out leave starts behind.
pub const MAX_ACTIVITY: usize = 64;

#[derive(Debug, Clone, Serialize)]
pub struct Subtest {
    pub name: String,
    pub state: StepState,
    pub secs: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// `RequestedAssertionFailed`, `AssertionError`, a failed `succeed`/`wait_for_unit`.
    Assertion,
    /// A subtest reported `Test "x" failed with error: "…"`.
    Subtest,
    /// Any other exception with a traceback.
    Exception,
    /// `action timed out after …` (a retry or wait gave up).
    Timeout,
    /// The global timeout fired (`timeout reached; test terminating...`, exit 143).
    GlobalTimeout,
    /// A kernel panic on a machine's serial console.
    KernelPanic,
    /// The driver's own error line (`error: …`, Perl and early Python).
    DriverError,
    /// Nix reports the builder failing.
    BuildFailed,
    /// The test script's linter (pyflakes, ruff) refused it before any machine started.
    Lint,
    /// The test script's type check (mypy, ty) refused it before any machine started.
    Typecheck,
    /// The host cannot run the test: no access to /dev/kvm with `forceAccel`, containers
    /// without root.
    Environment,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    /// Exception class, when a traceback named one.
    pub exception: Option<String>,
    pub message: String,
    pub machine: Option<String>,
    pub subtest: Option<String>,
    pub command: Option<String>,
    pub traceback: Vec<String>,
    /// Input line where the failure was reported (0-based; reports add one).
    #[serde(skip)]
    pub line: u64,
    /// For lint and type-check failures: the line of the user's test script (the checked
    /// file's line less the header of type hints prepended to it, when the log shows it).
    pub script_line: Option<u64>,
    /// What the user can do about it.
    pub hint: Option<String>,
}

/// A warning the driver printed (`??? Warning (Category): text`), counted per text.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    pub text: String,
    pub count: u64,
    /// Input line of the first one (0-based; reports add one).
    pub first_line: u64,
}

/// Distinct warning texts a test keeps; more are counted in the last.
pub const MAX_WARNINGS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    TimedOut,
    Running,
    /// The driver ended with status 0 without running the test script to its end: an
    /// interactive session that was left.
    Ended,
    Unknown,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED OUT",
            Self::Running => "RUNNING",
            Self::Ended => "ENDED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// Where a line that names something to connect to was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The driver's terminal (its stdout) of a live run, before the test script ran: only
    /// the driver writes there then.
    Terminal,
    /// The log stream (stderr, a build log, a saved file), before any machine started. A
    /// saved file can say anything, so what it names is asked about before it is used.
    Stream,
}

#[derive(Debug, Clone, Serialize)]
pub struct SshEntry {
    pub machine: String,
    /// The command exactly as the driver printed it (shown, never run).
    pub command: String,
    /// The address read from it, in a form vmscope builds commands from; `None` when the
    /// command is of no form the driver prints (a forged ProxyCommand, an odd path).
    pub address: Option<crate::vsock::Address>,
    pub source: Source,
}

#[derive(Debug, Clone, Serialize)]
pub struct Breakpoint {
    #[serde(flatten)]
    pub line: BreakpointLine,
    /// Input line of the breakpoint.
    pub at_line: u64,
    /// A process `sleep ID` was found where the debug hook forks it (the driver's own
    /// processes for `run`, this host for a sandboxed build): the driver really paused.
    /// A line alone is only a claim, since a guest can print it.
    pub verified: bool,
}

/// What made the run stop to be looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A failure the driver reported (traceback, failed subtest or step, driver error, a
    /// failed build).
    Failure,
    /// The global timeout fired.
    GlobalTimeout,
    /// The debug hook's breakpoint (a failure paused in pdb, or `debug.breakpoint()`).
    Breakpoint,
    /// The driver exited with a non-zero status and said nothing else.
    Exit,
    /// The user froze the screen.
    Manual,
}

impl TriggerKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::GlobalTimeout => "global timeout",
            Self::Breakpoint => "breakpoint",
            Self::Exit => "driver exit",
            Self::Manual => "frozen by hand",
        }
    }
}

/// The run as it was when something failed: where each pane's lines ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Freeze {
    pub kind: TriggerKind,
    /// Input line that triggered it.
    pub line: u64,
    /// Milliseconds since the start, for live input.
    pub ms: Option<u32>,
    /// Driver lines before this sequence number were there.
    #[serde(skip)]
    pub driver_end: u64,
    /// The same per machine (machines that appeared later had none).
    #[serde(skip)]
    pub serial_end: Vec<u64>,
    /// The newest point of the run then (where the merged order ends).
    #[serde(skip)]
    pub at: u64,
    /// The failure that triggered it: the driver lines that complete its report (traceback,
    /// exception, the breakpoint) belong to the moment too.
    #[serde(skip)]
    pub failure: Option<usize>,
}

impl Freeze {
    /// Where machine `m`'s lines end in the frozen view.
    pub fn serial_end(&self, m: usize) -> u64 {
        self.serial_end.get(m).copied().unwrap_or(0)
    }
}

/// Kinds of driver-log lines, kept with each line for drawing.
pub mod line_kind {
    pub const PLAIN: u8 = 0;
    pub const STEP_HEAD: u8 = 1;
    pub const STEP_END: u8 = 2;
    pub const ERROR: u8 = 3;
    pub const WARNING: u8 = 4;
    /// Test-script prints and anything that is no driver message.
    pub const OUTPUT: u8 = 5;
    pub const NIX: u8 = 6;
    pub const PROMPT: u8 = 7;
    pub const TRACEBACK: u8 = 8;
    /// Command output after `NAME: output:` (guest data).
    pub const COMMAND_OUTPUT: u8 = 9;
}

/// One test (one `vm-test-run-NAME` of a build, or the only test of a bare log).
#[derive(Debug, Clone)]
pub struct Test {
    /// Counts the events applied but console lines: what the driver pane is drawn from
    /// changed when it moved.
    pub revision: u64,
    /// What the driver's JUnit report, read beside the log, added or told differently.
    pub junit: Option<crate::vm::junit::report::Reconciled>,
    /// Steps about a machine's screen (screenshots, OCR waits), by id, oldest first: the few
    /// the screen's views read, without a walk over every step.
    pub screen_steps: Vec<StepId>,
    pub name: Option<String>,
    pub machines: Vec<Machine>,
    /// Machine index by name (kept by `add_machine` and `rename_machine`).
    index: std::collections::HashMap<String, usize, NameHash>,
    pub driver: LineStore,
    pub steps: Steps,
    /// Top-level steps, in order of their head line.
    pub roots: Vec<StepId>,
    pub subtests: Vec<Subtest>,
    /// The newest subtest of each name (kept by `add_subtest`).
    subtest_index: std::collections::HashMap<String, usize>,
    pub failures: Vec<Failure>,
    /// Failures past `MAX_FAILURES`, each replaced in the last slot by the next.
    pub failures_dropped: u64,
    pub ssh: Vec<SshEntry>,
    pub breakpoint: Option<Breakpoint>,
    pub pdb: Option<(String, u16)>,
    pub global_timeout_secs: Option<f64>,
    /// When `Test will time out …` arrived (ms since start, live input): the timer's start.
    pub global_timeout_at_ms: Option<u32>,
    /// The first failure's moment (or a manual freeze, until something fails).
    pub freeze: Option<Freeze>,
    /// The run came through a Nix build (`vm-test-run-NAME> ` or Nix's lines): a
    /// breakpoint then pauses inside the build sandbox.
    pub in_build: bool,
    /// `test script finished in N s`.
    pub script_secs: Option<f64>,
    pub exit_code: Option<i32>,
    /// What the test is doing now: the steps open at this point, innermost last (steps
    /// opened in colour, and in plain text the nested starts not yet finished).
    pub activity: Vec<Activity>,
    pub passed_evidence: bool,
    pub timed_out: bool,
    pub finished: bool,
    pub caps: Caps,
    /// Machine names not taken because the test had as many machines as it keeps.
    pub machines_refused: u64,
    /// The remote builder Nix says the build ran on (`ssh://HOST`): a paused sandbox is there.
    pub builder: Option<String>,
    /// The driver's warnings, one per text, in the order first seen.
    pub warnings: Vec<Warning>,
    warning_index: std::collections::HashMap<String, usize>,
    /// Lines of type hints the type check prepends to the test script, when the log
    /// shows the checked file.
    pub script_header: Option<u64>,
    /// A saved log's estimate of time, from the driver's step durations.
    pub clock: Clock,
    /// Every stored line in input order, across the panes.
    pub merged: Merged,
    /// The newest stamp of anything the test was told.
    pub last: Stamp,
}

impl Test {
    pub fn new(name: Option<String>, caps: Caps) -> Self {
        Self {
            revision: 0,
            name,
            machines: Vec::new(),
            index: std::collections::HashMap::default(),
            driver: LineStore::new(caps),
            steps: Steps::new(caps.max_steps),
            roots: Vec::new(),
            subtests: Vec::new(),
            subtest_index: std::collections::HashMap::new(),
            failures: Vec::new(),
            failures_dropped: 0,
            ssh: Vec::new(),
            breakpoint: None,
            pdb: None,
            global_timeout_secs: None,
            global_timeout_at_ms: None,
            freeze: None,
            in_build: false,
            script_secs: None,
            exit_code: None,
            activity: Vec::new(),
            passed_evidence: false,
            timed_out: false,
            finished: false,
            caps,
            machines_refused: 0,
            builder: None,
            warnings: Vec::new(),
            warning_index: std::collections::HashMap::new(),
            script_header: None,
            clock: Clock::default(),
            merged: Merged::new(if caps.keep_serial {
                caps.max_lines.saturating_mul(MERGED_PER_PANE)
            } else {
                0
            }),
            last: Stamp::default(),
            junit: None,
            screen_steps: Vec::new(),
        }
    }

    /// One more warning with `text`, first seen at input line `line`.
    pub fn add_warning(&mut self, text: &str, line: u64) {
        if let Some(&i) = self.warning_index.get(text) {
            self.warnings[i].count += 1;
            return;
        }
        if self.warnings.len() >= MAX_WARNINGS {
            if let Some(last) = self.warnings.last_mut() {
                last.count += 1;
            }
            return;
        }
        self.warning_index
            .insert(text.to_string(), self.warnings.len());
        self.warnings.push(Warning {
            text: text.to_string(),
            count: 1,
            first_line: line,
        });
    }

    pub fn machine(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The newest subtest named `name`.
    pub fn subtest_mut(&mut self, name: &str) -> Option<&mut Subtest> {
        let i = *self.subtest_index.get(name)?;
        self.subtests.get_mut(i)
    }

    pub fn add_subtest(&mut self, subtest: Subtest) {
        self.subtest_index
            .insert(subtest.name.clone(), self.subtests.len());
        self.subtests.push(subtest);
    }

    pub fn add_machine(&mut self, machine: Machine) -> usize {
        let i = self.machines.len();
        self.index.insert(machine.name.clone(), i);
        self.machines.push(machine);
        i
    }

    pub fn rename_machine(&mut self, i: usize, name: &str) {
        if let Some(m) = self.machines.get_mut(i) {
            self.index.remove(&m.name);
            m.name = name.to_string();
            self.index.insert(m.name.clone(), i);
        }
    }

    /// The outcome as the input shows it so far; `live` says whether more may come.
    pub fn outcome(&self, live: bool) -> Outcome {
        if self.timed_out {
            Outcome::TimedOut
        } else if self
            .failures
            .iter()
            .any(|f| f.kind != FailureKind::KernelPanic)
            || self.exit_code.is_some_and(|c| c != 0)
        {
            Outcome::Failed
        } else if self.passed_evidence {
            Outcome::Passed
        } else if self.exit_code == Some(0) {
            // A driver that ran its script says `test script finished`: this one was left.
            Outcome::Ended
        } else if live && !self.finished {
            Outcome::Running
        } else {
            Outcome::Unknown
        }
    }

    /// Takes the run as it is now as the moment of failure, unless something failed
    /// already (a freeze made by hand gives way to a real trigger).
    pub fn freeze_now(&mut self, kind: TriggerKind, line: u64, ms: Option<u32>) -> bool {
        if !self.may_freeze(kind) {
            return false;
        }
        self.revision += 1;
        self.freeze = Some(Freeze {
            kind,
            line,
            ms,
            driver_end: self.driver.end_seq(),
            serial_end: self.machines.iter().map(|m| m.serial.end_seq()).collect(),
            at: self.last.at,
            failure: None,
        });
        true
    }

    /// Whether a trigger of `kind` takes the moment: nothing went wrong yet, or only a
    /// breakpoint line was seen and now something fails (the driver reports a failure
    /// before its breakpoint, so a breakpoint first may be a guest's line).
    pub fn may_freeze(&self, kind: TriggerKind) -> bool {
        match self.failure_freeze() {
            None => true,
            Some(f) => f.kind == TriggerKind::Breakpoint && kind != TriggerKind::Breakpoint,
        }
    }

    /// The freeze of something that went wrong (not one made by hand).
    pub fn failure_freeze(&self) -> Option<&Freeze> {
        self.freeze
            .as_ref()
            .filter(|f| f.kind != TriggerKind::Manual)
    }

    /// The failure the run is about: the first one the driver reported (a kernel panic is
    /// the guest's word, so it comes only when nothing else failed).
    pub fn main_failure(&self) -> Option<&Failure> {
        self.failures
            .iter()
            .find(|f| f.kind != FailureKind::KernelPanic)
            .or_else(|| self.failures.first())
    }

    /// The innermost open step: what the test is doing now.
    pub fn current_step(&self) -> Option<&Activity> {
        self.activity.last()
    }

    pub fn open_activity(&mut self, head: u64, machine: Option<String>, title: &str) {
        if self.activity.len() >= MAX_ACTIVITY {
            self.activity.remove(0);
        }
        self.activity.push(Activity {
            head,
            machine,
            title: title.to_string(),
        });
    }

    pub fn close_activity(&mut self, head: u64) {
        self.activity.retain(|a| a.head != head);
    }

    /// Makes the merged order of the test's lines, once: from what the stores hold, then
    /// kept up as lines come.
    pub fn merge(&mut self) {
        if self.merged.on {
            return;
        }
        let mut held = vec![(Origin::Driver, positions(&self.driver))];
        held.extend(
            self.machines
                .iter()
                .enumerate()
                .map(|(i, m)| (Origin::Machine(i), positions(&m.serial))),
        );
        self.merged.make(held);
    }

    /// The stores of the test: the driver's, then each machine's.
    pub fn stores(&self) -> impl Iterator<Item = &LineStore> {
        std::iter::once(&self.driver).chain(self.machines.iter().map(|m| &m.serial))
    }

    /// The newest line of any pane at or before point `at`, for its time.
    pub fn time_at(&self, at: u64) -> Option<Stamp> {
        self.stores()
            .filter_map(|s| s.stamp_at(at))
            .filter(|s| s.time_or_estimate().is_some())
            .max_by_key(|s| s.at)
    }

    /// The first line of any pane at or after time `ms` (real, or estimated in a saved
    /// log): the point of the run at that time.
    pub fn at_time(&self, ms: u32) -> Option<Stamp> {
        self.stores()
            .filter_map(|s| s.from_time(ms))
            .min_by_key(|s| s.at)
    }

    pub fn step(&self, id: StepId) -> Option<&Step> {
        self.steps.get(id as usize)
    }

    pub fn depth(&self, mut id: StepId) -> usize {
        let mut d = 0;
        while let Some(s) = self.step(id) {
            d += 1;
            id = s.parent;
            if d > 256 {
                break;
            }
        }
        d
    }
}

/// Each line a store holds as (its position, its number).
fn positions(store: &LineStore) -> Vec<(u64, u64)> {
    store.iter().map(|(seq, l)| (l.at, seq)).collect()
}

/// Machine names are short keys looked up once per console line: foldhash reads them a
/// word at a time where SipHash's setup alone costs more than the lookup. The map holds
/// `MAX_MACHINES` names at most, so no seed is needed against collisions a guest forges.
pub type NameHash = foldhash::fast::FixedState;

/// Everything read so far.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub tests: Vec<Test>,
    /// Input lines read.
    pub lines: u64,
    pub bytes: u64,
    /// The input is live (a stream that may grow).
    pub live: bool,
    /// Where the whole input can be read again.
    pub origin: Option<String>,
    pub caps: Caps,
    /// Empty lines left by two writers' lines run together, not stored.
    pub glue_blanks: u64,
    /// Lines stored beyond the input's: the pieces of long lines after their first, and
    /// the second parts of lines two writers made together.
    pub split_lines: u64,
}

impl TestRun {
    pub fn new(caps: Caps) -> Self {
        Self {
            tests: vec![Test::new(None, caps)],
            lines: 0,
            bytes: 0,
            live: false,
            origin: None,
            caps,
            glue_blanks: 0,
            split_lines: 0,
        }
    }

    /// The outcome of the whole run: the worst of its tests.
    pub fn outcome(&self) -> Outcome {
        let outcomes: Vec<Outcome> = self
            .tests
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| t.outcome(self.live))
            .collect();
        for o in [
            Outcome::TimedOut,
            Outcome::Failed,
            Outcome::Running,
            Outcome::Unknown,
            Outcome::Ended,
        ] {
            if outcomes.contains(&o) {
                return o;
            }
        }
        if outcomes.is_empty() {
            if self.live {
                Outcome::Running
            } else {
                Outcome::Unknown
            }
        } else {
            Outcome::Passed
        }
    }

    /// Tests that saw any line.
    pub fn visible_tests(&self) -> impl Iterator<Item = (usize, &Test)> {
        let many = self.tests.iter().filter(|t| !t.is_empty()).count() > 1;
        self.tests
            .iter()
            .enumerate()
            .filter(move |(i, t)| !t.is_empty() || (!many && *i == 0))
    }
}

impl Test {
    pub fn is_empty(&self) -> bool {
        self.machines.is_empty() && self.driver.end_seq() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            name: "m".into(),
            state: MachineState::NotStarted,
            pid: None,
            first_seen_line: 0,
            first_seen_ms: None,
            serial: LineStore::new(Caps::default()),
            serial_lines: 0,
            boots: 0,
            boot_fresh: false,
            container: false,
            axis: MachineAxis::default(),
        }
    }

    #[test]
    fn ends_are_not_undone() {
        use MachineEvent as E;
        let mut m = machine();
        let at = Stamp::default();
        for e in [
            E::Starting,
            E::Running {
                pid: Some(5),
                container: false,
            },
            E::Crashed,
        ] {
            m.apply(e, at);
        }
        m.apply(E::PoweredOff, at);
        m.apply(E::Killed { pid: Some(6) }, at);
        assert_eq!((m.state, m.pid), (MachineState::Crashed, Some(5)));

        let mut m = machine();
        m.apply(
            E::Console {
                kernel_start: false,
            },
            at,
        );
        assert_eq!(m.state, MachineState::Booting);
        m.apply(E::CommandRan, at);
        assert_eq!(m.state, MachineState::Connected);
        m.apply(E::PoweredOff, at);
        m.apply(E::Killed { pid: Some(7) }, at);
        assert_eq!((m.state, m.pid), (MachineState::ShutDown, Some(7)));
        // A machine started again after its end boots again.
        m.apply(
            E::Running {
                pid: Some(8),
                container: false,
            },
            at,
        );
        assert_eq!((m.state, m.pid), (MachineState::Booting, Some(8)));
    }
}
