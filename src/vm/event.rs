//! What a line of the driver's output means for the model. The parser reads a line and says
//! what it means as a `RunEvent`; `Test::apply` (in `model/apply.rs`) changes the model.
//! The parser changes no test in any other way (`tests/layout.rs` holds it to that).

use super::model::{
    Breakpoint, FailureKind, MachineEvent, SshEntry, StepId, StepState, TriggerKind,
};
use super::store::Stamp;

#[derive(Debug, Clone, Copy)]
pub enum RunEvent<'a> {
    // The test as a whole.
    /// Its name, where it had none.
    Named(&'a str),
    /// It came through a Nix build (`vm-test-run-NAME> `, Nix's own lines).
    ThroughBuild,
    /// The remote builder Nix ran it on (`ssh://HOST`).
    Builder(&'a str),
    /// The exit status a recording or the live driver gives apart from its lines.
    ExitStatus(i32),
    /// The exit code of Nix's report (the first one kept; 143 is the global timeout).
    BuilderExit(Option<i32>),
    /// `test script finished in N s` (the first one is the driver's).
    ScriptFinished(Option<f64>),
    /// `(finished: run the VM test script, …)`.
    ScriptEnded,
    /// `N out of N tests succeeded`.
    AllSubtestsPassed,
    /// nix-build printed the test's output path: it built.
    OutPath(&'a str),
    /// `Test will time out and terminate in N seconds` (the first one kept).
    GlobalTimeoutArmed {
        secs: Option<f64>,
        at_ms: Option<u32>,
    },
    /// The global timeout fired.
    TimedOut,
    /// `RemotePdb session open at …`.
    Pdb(&'a str, u16),
    /// A machine's backdoor command, read before the script ran.
    Ssh(&'a SshEntry),
    /// `!!! Breakpoint reached`.
    Breakpoint(&'a Breakpoint),
    /// The type check's header of type hints is this many lines long.
    ScriptHeader(u64),
    /// `??? Warning (…): TEXT`, counted per text.
    Warning { text: &'a str, line: u64 },

    // Lines.
    /// A line of the driver's log; applied as `Applied::Line(seq)`.
    DriverLine {
        display: &'a str,
        plain: Option<&'a str>,
        time: Stamp,
        kind: u8,
        tag: StepId,
    },
    /// A console line of a machine (`continued`: a later piece of a long one).
    SerialLine {
        machine: usize,
        display: &'a str,
        plain: Option<&'a str>,
        time: Stamp,
        continued: bool,
    },
    /// A stored driver line is of another kind than first thought.
    LineKind { seq: u64, kind: u8 },
    /// A stored driver line belongs to step `tag`.
    LineTagged { seq: u64, tag: StepId },

    // Machines.
    /// A machine seen for the first time; applied as `Applied::Machine(i)`.
    MachineSeen {
        name: &'a str,
        line: u64,
        ms: Option<u32>,
    },
    /// The symbols block spells a machine's name as a Python identifier: its real name.
    MachineRenamed { machine: usize, name: &'a str },
    /// A name not taken: the test has as many machines as it keeps.
    MachineRefused,
    /// What happened to a machine, at the line that said so.
    Machine {
        machine: usize,
        event: MachineEvent,
        at: Stamp,
    },
    /// A `kill machine (pid N)` no console answered: the only machine is the one killed.
    KillUnanswered { pid: u32 },

    // Steps.
    /// A step that starts at driver line `head`; applied as `Applied::Step(id)`.
    StepOpened {
        title: &'a str,
        machine: Option<&'a str>,
        parent: StepId,
        head: u64,
        state: StepState,
    },
    /// Plain line `head` turns out to start step `title`, which holds every later line of
    /// its container (up to `end` when it has passed).
    StepPromoted {
        head: u64,
        title: &'a str,
        state: StepState,
        end: u64,
    },
    /// `(finished: …)` of an open step, at driver line `end`.
    StepClosed {
        id: StepId,
        title: &'a str,
        secs: Option<f64>,
        end: u64,
        machine: Option<&'a str>,
    },
    /// `(finished: …)` whose start is not in the input: the end line stands for it.
    StepImplied {
        title: &'a str,
        machine: Option<&'a str>,
        parent: StepId,
        end: u64,
        secs: Option<f64>,
    },
    /// The early driver's `(N seconds)` at driver line `end` closes the plain start `head`.
    EarlyClosed {
        head: u64,
        title: &'a str,
        secs: f64,
        end: u64,
    },
    /// An exception left these steps.
    StepsFailed(&'a [StepId]),
    /// A subtest's report: `Test "NAME" failed with error: "…"`.
    SubtestFailed { name: &'a str, error: &'a str },
    /// A step the test is in now (for the top bar).
    ActivityOpened {
        head: u64,
        machine: Option<&'a str>,
        title: &'a str,
    },
    /// Whatever was going on has stopped.
    ActivityCleared,

    // Failures.
    /// Something failed; applied as `Applied::Failure(i)`. Its machine, command and subtest
    /// come from the innermost steps of `chain` (outermost first) unless given.
    Failed {
        kind: FailureKind,
        message: &'a str,
        line: u64,
        subtest: Option<&'a str>,
        machine: Option<&'a str>,
        chain: &'a [StepId],
    },
    FailureChanged {
        failure: usize,
        change: FailureChange<'a>,
    },

    // The moment of failure.
    /// The test freezes at input line `line`, for failure `failure`.
    Frozen {
        kind: TriggerKind,
        line: u64,
        ms: Option<u32>,
        failure: Option<usize>,
    },
    /// The report of the failure the test froze for goes on: its lines join the frozen log.
    ReportGoesOn { failure: usize },

    /// The input has ended with these steps still open.
    InputEnded { open: &'a [StepId] },
}

#[derive(Debug, Clone, Copy)]
pub enum FailureChange<'a> {
    /// What failed, said again.
    Message(&'a str),
    /// One more line of a multi-line exception message.
    MessageLine(&'a str),
    /// The rest of a message a checker wrapped.
    MessageWrapped(&'a str),
    /// The placeholder of an implied or empty report gives way to the report.
    ReportCame,
    Kind(FailureKind),
    /// The traceback's exception line.
    Exception {
        name: &'a str,
        message: &'a str,
    },
    Subtest(&'a str),
    /// A line of its traceback (a script frame may name the machine).
    TracebackLine(&'a str),
    /// The machine it was about, where none is known.
    Machine(Option<&'a str>),
    ScriptLine(Option<u64>),
    Hint(&'static str),
}

/// What applying an event made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Nothing,
    Line(u64),
    Machine(usize),
    Step(StepId),
    Failure(usize),
}

impl Applied {
    pub fn line(self) -> u64 {
        match self {
            Self::Line(seq) => seq,
            _ => 0,
        }
    }

    pub fn machine(self) -> Option<usize> {
        match self {
            Self::Machine(i) => Some(i),
            _ => None,
        }
    }

    pub fn step(self) -> Option<StepId> {
        match self {
            Self::Step(id) => Some(id),
            _ => None,
        }
    }

    pub fn failure(self) -> Option<usize> {
        match self {
            Self::Failure(i) => Some(i),
            _ => None,
        }
    }
}
