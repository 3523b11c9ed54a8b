//! The line parser: bytes in, `TestRun` out.
//!
//! One classifier for every driver generation and every wrapping. Lines are routed to their
//! test (by `vm-test-run-NAME> ` prefix, or Nix's tail header), then classified: serial
//! line, driver message about a machine, step start or end, error, warning, block of the
//! SSH backdoor or of the exposed symbols, command output, print. Guest text can never be
//! taken for the driver's: serial lines and command output are classified before anything
//! else looks at their content.
//!
//! By concern: `glue` takes apart lines two writers made together, `nix` reads Nix's own
//! lines and failure reports, `blocks` the symbols and backdoor blocks, `lifecycle` the
//! machines (through `MachineEvent`s the model applies), `steps` the step tree, `failures`
//! the driver's errors and tracebacks, `checks` what stops a test before its script runs.
//! This file routes lines to them and keeps the per-test reading state.

mod blocks;
mod checks;
mod failures;
mod glue;
mod lifecycle;
mod nix;
mod steps;

use blocks::ssh_entry;
use failures::subtest_failed;
use glue::glued_serial;
use lifecycle::resolve_kill;
use steps::hash_msg;

use std::collections::HashMap;

use super::classify::{self as c, NESTED_START, Wrap};
use super::model::{
    FailureKind, MachineEvent, ROOT, Source, StepId, StepState, Test, TestRun, TriggerKind,
    line_kind as k,
};
use super::sanitize;
use super::splitter::{LineSplitter, Piece};
use super::store::Caps;

/// How far back an early-driver `(N seconds)` close looks for its start.
const EARLY_CLOSE_LOOKBACK: usize = 4000;

/// Machines (and backdoor entries) a test keeps at most: real tests have a handful, a log
/// that names more is not one the driver wrote.
pub const MAX_MACHINES: usize = 1024;

#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Extra store directory whose `<hash>-attach/bin/attach` is accepted (tests only).
    pub extra_attach_store: Option<String>,
    /// Longest piece of a line.
    pub max_line: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Inside `additionally exposed symbols:`; the number of indented lines seen.
    Symbols(u8),
    Ssh,
    Warning,
    /// A plain Python traceback (no `!!! `).
    Traceback,
    /// Command output after `NAME: output:`; the machine.
    Output,
}

/// Where the last line went, for the pieces of a cut line.
#[derive(Debug, Clone, Copy)]
enum Dest {
    Driver(usize, u8),
    Serial(usize, usize),
}

#[derive(Debug)]
struct TestState {
    mode: Mode,
    /// Explicitly opened (coloured) steps, outermost first.
    open: Vec<StepId>,
    /// Plain lines that a later `(finished: …)` may turn into step starts, by message hash.
    candidates: HashMap<u64, Vec<u64>>,
    /// The input shows nested starts in colour, so plain lines are never starts.
    coloured: bool,
    /// Failure being completed by traceback lines.
    pending: Option<usize>,
    /// A `!!!` traceback has reached its exception line.
    exception_seen: bool,
    /// Steps failed by the current failure, outermost first.
    failed_chain: Vec<StepId>,
    /// The test script may have run: a machine started, a serial line arrived or the first
    /// symbols block was printed (the driver prints it right before it runs the script).
    /// From here on a guest can write into the stream, so blocks that name addresses are
    /// no longer read.
    script_started: bool,
    /// The last early-driver `(N seconds)` close that found no start.
    early_floor: Option<u64>,
    /// The pid of a `kill machine (pid N)` that named no known machine.
    pending_kill: Option<u32>,
    /// A failure the next traceback completes rather than a new one: the exception it
    /// chains to (`During handling of the above exception…`), or the failure implied by
    /// steps that cleanup found open.
    continued_by_traceback: Option<usize>,
    /// The first line of a ty or ruff diagnostic, waiting for its ` --> FILE:LINE`.
    diagnostic_head: Option<String>,
    /// The type check's last diagnostic, whose message mypy may wrap onto the next lines.
    diagnostic_wrap: Option<usize>,
    /// The machine the driver last spoke of: a retry that times out with no step open
    /// (the Perl driver's) was waiting on it.
    last_machine: Option<usize>,
    /// The Perl driver's last `die`-shaped line (its line, its text): the test's failure
    /// when cleanup follows it with nothing else failed (a `die` outside the script's
    /// `eval`, as when no pty could be opened).
    perl_die: Option<(u64, String)>,
}

impl TestState {
    fn new() -> Self {
        Self {
            mode: Mode::Normal,
            open: Vec::new(),
            candidates: HashMap::new(),
            coloured: false,
            pending: None,
            exception_seen: false,
            failed_chain: Vec::new(),
            script_started: false,
            early_floor: None,
            pending_kill: None,
            continued_by_traceback: None,
            diagnostic_head: None,
            diagnostic_wrap: None,
            last_machine: None,
            perl_die: None,
        }
    }

    fn container(&self) -> StepId {
        self.open.last().copied().unwrap_or(ROOT)
    }
}

/// Receives every stored line as it is stored: test index, machine (None for the driver
/// log) and plain text. `split` writes files through it without holding lines in memory.
pub type Sink = Box<dyn FnMut(usize, Option<&str>, &str)>;

pub struct Parser {
    pub run: TestRun,
    pub sink: Option<Sink>,
    opts: ParseOptions,
    splitter: LineSplitter,
    states: Vec<TestState>,
    /// Test receiving Nix tail (`       > `) lines.
    tail_test: Option<usize>,
    /// Test that received the last line: bare lines between prefixed ones go there.
    current: usize,
    last_dest: Option<Dest>,
    display: String,
    plain_buf: String,
    time_ms: u32,
    /// Lines of the driver's terminal (stdout), read only for the blocks that name machines.
    term_splitter: LineSplitter,
    term_block: TermBlock,
    /// The driver's terminal has shown the REPL or the test script may have run: what it
    /// prints from now on may be the script's (or a guest's) text.
    term_closed: bool,
    /// The machines of the driver's configuration, when it was read: no other name is one.
    known: Option<std::collections::HashSet<String>>,
    /// A test whose run must be frozen once the current line is stored (and the failure
    /// that did it).
    trigger: Option<(usize, TriggerKind, u64, Option<usize>)>,
    /// Empty lines still owed by lines that two writers made together, and the input line
    /// after which they are no longer expected.
    glue_blanks: u8,
    glue_deadline: u64,
    /// Nix's failure report being read: it becomes a failure once its tail has been shown.
    nix_report: Option<nix::Report>,
}

/// Where the reading of the driver's terminal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TermBlock {
    None,
    Symbols,
    Ssh,
}

impl Parser {
    pub fn new(caps: Caps, opts: ParseOptions) -> Self {
        let max_line = opts.max_line.unwrap_or(super::splitter::DEFAULT_MAX_LINE);
        Self {
            run: TestRun::new(caps),
            sink: None,
            opts,
            splitter: LineSplitter::new(max_line),
            states: vec![TestState::new()],
            tail_test: None,
            current: 0,
            last_dest: None,
            display: String::new(),
            plain_buf: String::new(),
            time_ms: super::store::NO_TIME,
            term_splitter: LineSplitter::new(max_line),
            term_block: TermBlock::None,
            term_closed: false,
            known: None,
            trigger: None,
            glue_blanks: 0,
            glue_deadline: 0,
            nix_report: None,
        }
    }

    /// Options from the environment: `VMSCOPE_TEST_ATTACH_STORE` names a store directory
    /// whose `attach` programs are accepted besides `/nix/store` (tests only).
    pub fn env_options() -> ParseOptions {
        ParseOptions {
            extra_attach_store: std::env::var("VMSCOPE_TEST_ATTACH_STORE")
                .ok()
                .filter(|s| s.starts_with('/')),
            ..ParseOptions::default()
        }
    }

    /// When the line being read arrived (ms since the start), for live input.
    fn arrival_ms(&self) -> Option<u32> {
        (self.time_ms != super::store::NO_TIME).then_some(self.time_ms)
    }

    /// Marks test `t` to be frozen at the line being read (the first trigger wins).
    pub(super) fn trigger(&mut self, t: usize, kind: TriggerKind) {
        if self.run.tests[t].may_freeze(kind) && self.trigger.is_none() {
            let failure =
                (kind != TriggerKind::Breakpoint).then_some(self.run.tests[t].failures.len());
            self.trigger = Some((t, kind, self.run.lines.saturating_sub(1), failure));
        }
    }

    /// Parses a whole input at once (files, tests).
    pub fn parse_all(bytes: &[u8], caps: Caps, opts: ParseOptions) -> TestRun {
        let mut p = Self::new(caps, opts);
        p.feed(bytes, super::store::NO_TIME);
        p.finish();
        p.run
    }

    /// What lines stored now carry: their arrival time, or their input line number.
    fn stamp(&self) -> u32 {
        if self.time_ms == super::store::NO_TIME {
            super::store::line_stamp(self.run.lines)
        } else {
            self.time_ms
        }
    }

    /// Feeds bytes that arrived at `time_ms` (milliseconds since start, or `NO_TIME`).
    pub fn feed(&mut self, bytes: &[u8], time_ms: u32) {
        self.time_ms = time_ms;
        self.run.bytes += bytes.len() as u64;
        let mut splitter = std::mem::take(&mut self.splitter);
        splitter.feed(bytes, &mut |piece| self.piece(piece));
        self.splitter = splitter;
    }

    /// What the driver printed on its terminal (stdout, shared with the REPL). Only the
    /// `additionally exposed symbols:` and SSH backdoor blocks are read from it: they name
    /// the machines and their addresses; the rest is the REPL's and stays in its pane.
    pub fn feed_terminal(&mut self, bytes: &[u8]) {
        let mut splitter = std::mem::take(&mut self.term_splitter);
        splitter.feed(bytes, &mut |piece| self.terminal_line(piece.bytes));
        self.term_splitter = splitter;
    }

    /// The machines of the driver's configuration file (a live run): they are the test's
    /// machines, in the driver's order, and no line names another one.
    pub fn known_machines(&mut self, names: &[String]) {
        let t = self.current;
        for name in names {
            self.ensure_machine(t, name, false);
        }
        self.known = Some(names.iter().cloned().collect());
    }

    /// The exit status the run ended with, where the input says it apart from its lines
    /// (a recording's exit record, the live driver's status).
    pub fn set_exit_code(&mut self, code: i32) {
        let t = self.current;
        self.run.tests[t].exit_code = Some(code);
    }

    /// The input has ended: flush the last line and settle open steps.
    pub fn finish(&mut self) {
        let mut splitter = std::mem::take(&mut self.splitter);
        splitter.finish(&mut |piece| self.piece(piece));
        self.splitter = splitter;
        self.settle_nix_report();
        self.apply_trigger();
        for (t, st) in self.run.tests.iter_mut().zip(&mut self.states) {
            if let Some(pid) = st.pending_kill.take() {
                resolve_kill(t, pid);
            }
            t.finished = true;
            t.activity.clear();
            for f in &mut t.failures {
                if f.message.is_empty() {
                    f.message = "(the input ends inside the traceback, before its exception line)"
                        .to_string();
                }
            }
            let failed =
                t.outcome(false) != super::model::Outcome::Passed && !t.failures.is_empty();
            for id in st.open.drain(..) {
                if let Some(s) = t.steps.get_mut(id as usize) {
                    s.state = if failed {
                        StepState::Failed
                    } else {
                        StepState::Unclosed
                    };
                }
            }
            for s in &mut t.subtests {
                if s.state == StepState::Running {
                    s.state = if failed {
                        StepState::Failed
                    } else {
                        StepState::Unclosed
                    };
                }
            }
        }
    }

    fn piece(&mut self, piece: Piece<'_>) {
        // The pieces of a long line are one input line.
        if piece.continued {
            self.run.split_lines += 1;
        } else {
            self.run.lines += 1;
        }
        // A line that is already safe is used where it lies; others are cleaned in a buffer.
        let mut buf = std::mem::take(&mut self.display);
        let (display, has_sgr): (&str, bool) = match sanitize::clean(piece.bytes) {
            Some((s, sgr)) => (s, sgr),
            None => {
                let sgr = sanitize::sanitize_into(piece.bytes, &mut buf);
                (&buf, sgr)
            }
        };
        if piece.continued
            && let Some(dest) = self.last_dest
        {
            self.continue_line(dest, display, has_sgr);
        } else {
            self.line(display, has_sgr);
        }
        self.display = buf;
        if !self.apply_trigger()
            && let Some(Dest::Driver(t, k::ERROR | k::TRACEBACK)) = self.last_dest
        {
            // The rest of the failure's report joins the frozen driver pane.
            let pending = self.states[t].pending;
            let test = &mut self.run.tests[t];
            if let Some(f) = &mut test.freeze
                && f.failure.is_some()
                && f.failure == pending
                && f.driver_end + 64 > test.driver.end_seq()
            {
                f.driver_end = test.driver.end_seq();
            }
        }
    }

    /// Freezes the test a trigger was set for, once its line is stored.
    fn apply_trigger(&mut self) -> bool {
        let Some((t, kind, line, failure)) = self.trigger.take() else {
            return false;
        };
        let ms = self.arrival_ms();
        let test = &mut self.run.tests[t];
        if test.freeze_now(kind, line, ms)
            && let Some(f) = &mut test.freeze
        {
            f.failure = failure;
        }
        true
    }

    fn continue_line(&mut self, dest: Dest, display: &str, has_sgr: bool) {
        let plain = has_sgr.then(|| sanitize::strip_sgr(display));
        let time = self.stamp();
        match dest {
            Dest::Driver(t, kind) => {
                let tag = self.states[t].container();
                self.run.tests[t]
                    .driver
                    .push(display, plain.as_deref(), time, kind, tag);
                if let Some(sink) = &mut self.sink {
                    sink(t, None, plain.as_deref().unwrap_or(display));
                }
            }
            Dest::Serial(t, m) => {
                let machine = &mut self.run.tests[t].machines[m];
                machine.serial.push(display, plain.as_deref(), time, 0, 0);
                machine.serial_lines += 1;
                if let Some(sink) = &mut self.sink {
                    sink(t, Some(&machine.name), plain.as_deref().unwrap_or(display));
                }
            }
        }
    }

    fn line(&mut self, display: &str, has_sgr: bool) {
        let (wrap, inner) = if c::may_be_wrapped(display) {
            c::unwrap_nix(display)
        } else {
            (Wrap::Bare, display)
        };
        // A `logging` formatter's time and level, when a script added one.
        let inner = c::strip_log_prefix(inner);
        let t = match wrap {
            Wrap::Prefixed { test, .. } => self.test_named(test),
            Wrap::Tail => self.tail_test.unwrap_or(self.current),
            Wrap::Bare => self.current,
        };
        if !matches!(wrap, Wrap::Bare) {
            self.run.tests[t].in_build = true;
        }
        if self.glue_blanks > 0 {
            if self.run.lines > self.glue_deadline {
                self.glue_blanks = 0;
            } else if is_blank(inner) {
                // The newline of a line that was glued to another.
                self.glue_blanks -= 1;
                self.run.glue_blanks += 1;
                return;
            }
        }
        if !matches!(wrap, Wrap::Tail) {
            if self.nix_line(inner, has_sgr) {
                return;
            }
            // Whatever follows a failure report's tail ends the report.
            self.settle_nix_report();
        }
        self.current = t;
        self.inner(t, inner, has_sgr, 0);
    }

    fn test_named(&mut self, name: &str) -> usize {
        if let Some(i) = self
            .run
            .tests
            .iter()
            .position(|t| t.name.as_deref() == Some(name))
        {
            return i;
        }
        // An unnamed test that only saw stray lines (a `$ nix build` line, an elision, a
        // console line) is the prefixed test's own beginning.
        if let Some(i) = self
            .run
            .tests
            .iter()
            .position(|t| t.name.is_none() && t.steps.is_empty() && t.failures.is_empty())
        {
            self.run.tests[i].name = Some(name.to_string());
            return i;
        }
        self.run
            .tests
            .push(Test::new(Some(name.to_string()), self.run.caps));
        self.states.push(TestState::new());
        self.run.tests.len() - 1
    }

    /// One line of one test, without its Nix wrapping.
    fn inner(&mut self, t: usize, display: &str, has_sgr: bool, depth: u8) {
        let mut display = display;
        while let Some(rest) = display.strip_prefix("\x1b[0m") {
            display = rest;
        }
        // Lines written by two threads at once: split where a serial line starts.
        if has_sgr
            && depth < 8
            && let Some(at) = glued_serial(display)
        {
            let left = &display[..at];
            // What a terminal drew before the serial line (a prompt redraw) may be blank.
            if !sanitize::strip_sgr(left).trim().is_empty() {
                self.run.split_lines += 1;
                self.inner(t, left, true, depth + 1);
            }
            self.glue_blanks = (self.glue_blanks + 1).min(8);
            self.glue_deadline = self.run.lines + 16;
            self.inner(t, &display[at..], true, depth + 1);
            return;
        }
        // The plain text is built in a buffer kept between lines: no allocation per line.
        let mut buf = std::mem::take(&mut self.plain_buf);
        buf.clear();
        let plain: &str = if has_sgr {
            sanitize::strip_sgr_into(display, &mut buf);
            &buf
        } else {
            display
        };
        let serial = c::serial(plain);
        if depth < 8 {
            let test = &self.run.tests[t];
            let is_machine = |n: &str| test.machine(n).is_some();
            let at = match serial {
                Some((_, off)) => {
                    glue::message_after_serial(display, plain, off, has_sgr, &is_machine)
                }
                None => glue::after_message(display, plain, &is_machine),
            };
            if let Some(dat) = at {
                self.plain_buf = buf;
                self.run.split_lines += 1;
                // The second writer's newline comes as an empty line soon after.
                self.glue_blanks = (self.glue_blanks + 1).min(8);
                self.glue_deadline = self.run.lines + 16;
                self.inner(t, &display[..dat], has_sgr, depth + 1);
                self.inner(t, &display[dat..], has_sgr, depth + 1);
                return;
            }
        }
        let has_sgr = has_sgr && plain.len() != display.len();
        self.classify(t, display, plain, has_sgr, serial);
        self.plain_buf = buf;
    }

    /// What a line is, once its wrapping and glued neighbours are gone.
    fn classify(
        &mut self,
        t: usize,
        display: &str,
        plain: &str,
        has_sgr: bool,
        serial: Option<(&str, usize)>,
    ) {
        // A console line written while the main thread prints a traceback or a warning
        // is another thread's: the block goes on after it.
        if let Some((name, off)) = serial
            && matches!(self.states[t].mode, Mode::Traceback | Mode::Warning)
        {
            self.serial(t, name, display, plain, off, has_sgr);
            return;
        }
        // Blocks whose lines are recognised by what came before them.
        match self.states[t].mode {
            Mode::Symbols(n) => {
                if let Some(list) = plain.strip_prefix("    ") {
                    if n == 0 && !self.states[t].script_started {
                        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                            if c::is_name(name) {
                                self.ensure_machine(t, name, true);
                            }
                        }
                    }
                    self.states[t].mode = if n >= 2 {
                        // The driver runs the test script right after this block.
                        self.states[t].script_started = true;
                        Mode::Normal
                    } else {
                        Mode::Symbols(n + 1)
                    };
                    self.push_driver(t, display, plain, has_sgr, k::PLAIN);
                    return;
                }
                self.states[t].script_started = true;
                self.states[t].mode = Mode::Normal;
            }
            Mode::Ssh => {
                if plain.starts_with("Note:") {
                    self.push_driver(t, display, plain, has_sgr, k::PLAIN);
                    return;
                }
                if let Some((name, command)) = ssh_entry(plain) {
                    self.record_ssh(t, name, command, Source::Stream);
                    self.push_driver(t, display, plain, has_sgr, k::PLAIN);
                    return;
                }
                self.states[t].mode = Mode::Normal;
            }
            Mode::Warning => {
                if plain.starts_with("    ") {
                    self.push_driver(t, display, plain, has_sgr, k::WARNING);
                    return;
                }
                self.states[t].mode = Mode::Normal;
            }
            Mode::Traceback => {
                if plain.starts_with(' ') {
                    self.traceback_line(t, plain);
                    self.push_driver(t, display, plain, has_sgr, k::TRACEBACK);
                    return;
                }
                self.states[t].mode = Mode::Normal;
                if let Some((name, msg)) = c::exception_line(plain)
                    .or_else(|| c::is_exception_name(plain).then_some((plain, "")))
                {
                    self.exception(t, name, msg);
                    self.push_driver(t, display, plain, has_sgr, k::ERROR);
                    return;
                }
            }
            Mode::Output => {
                if !self.ends_output(t, display, plain) {
                    if let Some((name, off)) = serial
                        && self.run.tests[t].machine(name).is_some()
                    {
                        self.serial(t, name, display, plain, off, has_sgr);
                        return;
                    }
                    self.push_driver(t, display, plain, has_sgr, k::COMMAND_OUTPUT);
                    return;
                }
                self.states[t].mode = Mode::Normal;
            }
            Mode::Normal => {}
        }

        if let Some((name, off)) = serial {
            self.serial(t, name, display, plain, off, has_sgr);
            return;
        }
        if let Some(text) = plain
            .strip_prefix("!!! ")
            .or((plain == "!!!").then_some(""))
        {
            self.bang(t, text);
            self.push_driver(t, display, plain, has_sgr, k::ERROR);
            return;
        }
        if let Some(text) = plain.strip_prefix("??? ") {
            // Counted per text: some are printed on every call.
            let line = self.run.lines.saturating_sub(1);
            self.run.tests[t].add_warning(text.trim_end(), line);
            self.states[t].mode = Mode::Warning;
            self.push_driver(t, display, plain, has_sgr, k::WARNING);
            return;
        }
        if c::repl_prompt(plain).is_some() {
            // The user types from here on: the test script's code runs.
            self.states[t].script_started = true;
            self.push_driver(t, display, plain, has_sgr, k::PROMPT);
            return;
        }
        self.message(t, display, plain, has_sgr);
    }

    fn ends_output(&self, t: usize, display: &str, plain: &str) -> bool {
        // The early driver's subtest report has no `!!! ` before it.
        let subtest_report =
            |l: &str| l.starts_with("Test \"") && l.contains("\" failed with error: ");
        if plain.starts_with("!!! Test \"")
            || subtest_report(plain)
            || plain.starts_with("!!! Traceback")
            || plain.starts_with("Traceback (most recent call last):")
            || plain.starts_with("(finished: ")
            || plain.starts_with("??? Warning")
            || plain == "cleanup"
            || plain == "cleaning up"
            || (plain.starts_with("kill") && plain.contains("(pid "))
            || display.starts_with(NESTED_START)
        {
            return true;
        }
        if let Some((name, _)) = c::machine_prefix(plain) {
            return self.run.tests[t].machine(name).is_some();
        }
        false
    }

    /// A driver message, with or without a machine prefix.
    fn message(&mut self, t: usize, display: &str, plain: &str, has_sgr: bool) {
        let mut machine: Option<usize> = None;
        let mut msg = plain;
        if let Some((name, m)) = c::machine_prefix(plain) {
            let known = self.run.tests[t].machine(name);
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
        let machine_name = machine.map(|m| self.run.tests[t].machines[m].name.clone());
        if machine.is_some() {
            self.states[t].last_machine = machine;
        }
        let line = self.run.lines.saturating_sub(1);

        // Step ends.
        if let Some((title, secs)) = c::finished(msg) {
            let seq = self.push_driver(t, display, plain, has_sgr, k::STEP_END);
            let closed = self.close_step(t, title, machine_name.as_deref(), Some(secs), seq);
            if title == "cleanup"
                && let Some(pid) = self.states[t].pending_kill.take()
            {
                resolve_kill(&mut self.run.tests[t], pid);
            }
            // The step's machine, when the end line names none.
            let machine = machine.or_else(|| {
                let test = &self.run.tests[t];
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
                    self.run.tests[t].machines[m].apply(event);
                }
            }
            if title == "run the VM test script" {
                self.run.tests[t].passed_evidence |= self.run.tests[t].failures.is_empty();
            }
            return;
        }
        if machine.is_none()
            && let Some(secs) = c::early_close(msg)
        {
            let seq = self.push_driver(t, display, plain, has_sgr, k::STEP_END);
            self.early_close(t, secs, seq);
            return;
        }

        // Step starts shown in colour.
        if msg_display.starts_with(NESTED_START) {
            self.states[t].coloured = true;
            if msg == "timeout reached; test terminating..." {
                self.global_timeout(t, line);
            } else if machine.is_none()
                && msg == "cleanup"
                && self.run.tests[t].script_secs.is_none()
                && !self.states[t].open.is_empty()
            {
                self.cleanup_with_open_steps(t, line);
            }
            let seq = self.push_driver(t, display, plain, has_sgr, k::STEP_HEAD);
            let parent = self.states[t].container();
            let id = self.new_step(
                t,
                msg,
                machine_name.clone(),
                parent,
                seq,
                StepState::Running,
            );
            self.states[t].open.push(id);
            self.run.tests[t].open_activity(seq, machine_name.clone(), msg);
            if let Some(d) = self.run.tests[t].driver.get_mut(seq) {
                d.tag = id;
            }
            self.after_message(t, machine, msg, line);
            return;
        }

        let mut kind = k::PLAIN;
        if machine.is_none() {
            if self.script_check(t, msg, line) {
                kind = k::ERROR;
            } else if msg == "timeout reached; test terminating..." {
                self.global_timeout(t, line);
            } else if msg.starts_with("Traceback (most recent call last):")
                || (msg.starts_with("  File \"") && self.states[t].pending.is_none())
            {
                // A traceback, or one whose head the excerpt lost.
                let f = match self.states[t].continued_by_traceback.take() {
                    Some(f) => {
                        // The report has come: its exception says what failed.
                        let failure = &mut self.run.tests[t].failures[f];
                        if failure.message.ends_with(failures::IMPLIED)
                            || failure.message == failures::NO_MESSAGE
                        {
                            failure.message.clear();
                        }
                        f
                    }
                    None => self.add_failure(t, FailureKind::Exception, None, String::new(), line),
                };
                self.states[t].pending = Some(f);
                self.states[t].exception_seen = false;
                self.run.tests[t].failures[f]
                    .traceback
                    .push(msg.to_string());
                self.states[t].mode = Mode::Traceback;
                kind = k::TRACEBACK;
            } else if c::is_chained_exception(msg) {
                // Python's chained exceptions are one failure: the next traceback goes on.
                if let Some(f) = self.run.tests[t].failures.len().checked_sub(1)
                    && self.run.tests[t].failures[f].exception.is_some()
                {
                    self.run.tests[t].failures[f]
                        .traceback
                        .push(msg.to_string());
                    self.states[t].continued_by_traceback = Some(f);
                }
                kind = k::TRACEBACK;
            } else if msg.starts_with("Test \"") && msg.contains("\" failed with error: ") {
                // The driver's subtest failure without its `!!! ` (hidden colours, logs
                // that lost them).
                self.bang(t, msg);
                kind = k::ERROR;
            } else if msg.starts_with("action timed out after ") {
                let dup = self.run.tests[t]
                    .failures
                    .last()
                    .is_some_and(|f| f.message == msg || f.message.ends_with(msg));
                if !dup {
                    let f = self.add_failure(t, FailureKind::Timeout, None, msg.to_string(), line);
                    self.timeout_machine(t, f);
                }
                kind = k::ERROR;
            } else if msg.trim_end() == "error:" {
                // The early driver's `error: {e}` for an exception without text; the
                // traceback after it (from mid-2020 on) says which.
                let message = failures::NO_MESSAGE.to_string();
                let f = self.add_failure(t, FailureKind::DriverError, None, message, line);
                self.states[t].continued_by_traceback = Some(f);
                kind = k::ERROR;
            } else if let Some(err) = msg.strip_prefix("error: ") {
                let kind_f = FailureKind::DriverError;
                let message = err.to_string();
                let dup = self.run.tests[t]
                    .failures
                    .last()
                    .is_some_and(|f| f.message == message);
                if !dup {
                    let f = self.add_failure(t, kind_f, None, message, line);
                    if err.contains("timed out") {
                        self.run.tests[t].failures[f].kind = FailureKind::Timeout;
                        self.timeout_machine(t, f);
                    }
                }
                kind = k::ERROR;
            } else if let Some(f) = self.run.tests[t].failures.last()
                && f.kind == FailureKind::DriverError
                && f.message == msg
            {
                // The Perl driver repeats its error without `error: `.
                kind = k::ERROR;
            }
        }
        if machine.is_none() && kind == k::PLAIN && c::is_perl_die(msg) {
            self.states[t].perl_die = Some((line, msg.to_string()));
            kind = k::ERROR;
        }
        if machine.is_none()
            && (msg == "cleanup" || msg == "cleaning up")
            && self.run.tests[t].script_secs.is_none()
        {
            if let Some((at, text)) = self.states[t].perl_die.take()
                && !self.run.tests[t]
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
            if c::is_known_nested(msg) && !matches!(msg, "cleanup" | "cleaning up") {
                let who = machine.map(|m| self.run.tests[t].machines[m].name.clone());
                self.run.tests[t].open_activity(seq, who, msg);
            }
        }
        self.after_message(t, machine, msg, line);
    }

    /// What a message says about the run beyond the step tree.
    fn after_message(&mut self, t: usize, machine: Option<usize>, msg: &str, line: u64) {
        if let Some(m) = machine {
            if msg.starts_with("starting vm")
                || msg.starts_with("QEMU running (pid ")
                || msg.starts_with("systemd-nspawn running (pid ")
            {
                self.states[t].script_started = true;
            }
            let event = if msg.starts_with("starting vm") {
                Some(MachineEvent::Starting { time: self.stamp() })
            } else if msg.starts_with("QEMU running (pid ")
                || msg.starts_with("systemd-nspawn running (pid ")
            {
                Some(MachineEvent::Running {
                    pid: c::pid_in(msg),
                })
            } else if msg.starts_with("connected to guest root shell") {
                Some(MachineEvent::Connected)
            } else if msg.starts_with("exit status ") {
                // The Perl driver ran a command.
                Some(MachineEvent::CommandRan)
            } else if msg.starts_with("forced crash") {
                Some(MachineEvent::Crashed)
            } else if msg.starts_with("output:") {
                // A failed command's output: it ran.
                self.states[t].mode = Mode::Output;
                Some(MachineEvent::CommandRan)
            } else {
                None
            };
            if let Some(event) = event {
                self.run.tests[t].machines[m].apply(event);
            }
            return;
        }
        if let Some(name) = msg
            .strip_prefix("killing ")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.split_once(" (pid "))
            .map(|(n, _)| n)
            .filter(|n| c::is_name(n))
        {
            // The early drivers name the machine they kill.
            self.ensure_machine(t, name, false);
        }
        let arrived = self.arrival_ms();
        let test = &mut self.run.tests[t];
        if msg.starts_with("kill") && msg.contains("(pid ") {
            let pid = c::pid_in(msg);
            let by_name = msg
                .strip_prefix("killing ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| test.machine(n));
            // `kill machine (pid N)` names no machine in the drivers that print the word
            // itself: the pid tells, or QEMU's answer on a console (below), or at last the
            // only machine there is.
            let target = by_name
                .or_else(|| pid.and_then(|p| test.machines.iter().position(|m| m.pid == Some(p))));
            if let Some(old) = self.states[t].pending_kill.take() {
                resolve_kill(test, old);
            }
            match target {
                Some(m) => test.machines[m].apply(MachineEvent::Killed { pid }),
                // The machine's QEMU says next that it was terminated.
                None if !msg.starts_with("kill vlan") => self.states[t].pending_kill = pid,
                None => {}
            }
        } else if let Some(rest) = msg.strip_prefix("test script finished in ") {
            // The first one is the driver's; a guest can print more.
            test.script_secs = test
                .script_secs
                .or_else(|| rest.strip_suffix('s').and_then(c::seconds));
            if test
                .failures
                .iter()
                .all(|f| f.kind == FailureKind::KernelPanic)
            {
                test.passed_evidence = true;
            }
        } else if let Some(rest) = msg.strip_prefix("Test will time out and terminate in ") {
            if test.global_timeout_secs.is_none() {
                test.global_timeout_secs = rest.strip_suffix(" seconds").and_then(c::seconds);
                test.global_timeout_at_ms = arrived;
            }
        } else if msg == "additionally exposed symbols:" {
            self.states[t].mode = Mode::Symbols(0);
        } else if msg == "SSH backdoor enabled, the machines can be accessed like this:"
            && !self.states[t].script_started
        {
            self.states[t].mode = Mode::Ssh;
        } else if let Some(addr) = c::remote_pdb_address(msg) {
            test.pdb = Some(addr);
        } else if let Some((ok, all)) = tests_succeeded(msg) {
            if ok == all {
                test.passed_evidence = true;
            } else {
                let message = format!("{ok} out of {all} tests succeeded");
                self.add_failure(t, FailureKind::Subtest, None, message, line);
            }
        } else if let Some(rest) = msg.strip_prefix(" - Test \"") {
            if let Some((name, err)) = rest.split_once("\" failed with error: ") {
                let err = err.trim_matches('"').to_string();
                let test = &mut self.run.tests[t];
                subtest_failed(test, name, &err);
                match test
                    .failures
                    .iter_mut()
                    .rev()
                    .find(|f| f.kind == FailureKind::Subtest && f.subtest.is_none())
                {
                    Some(f) => {
                        f.subtest = Some(name.to_string());
                        f.message = err;
                    }
                    None => {
                        let f = self.add_failure(t, FailureKind::Subtest, Some(name), err, line);
                        self.run.tests[t].failures[f].subtest = Some(name.to_string());
                    }
                }
            }
        } else if msg.starts_with("/nix/store/")
            && !msg.contains(' ')
            && let Some(name) = c::test_name_in_path(msg)
        {
            // nix-build prints the output path when the build succeeded.
            if test.failures.is_empty() {
                test.passed_evidence = true;
            }
            if test.name.is_none() {
                test.name = Some(name.to_string());
            }
        }
    }

    /// A timeout no open step names a machine for was waiting on the last one spoken of.
    fn timeout_machine(&mut self, t: usize, f: usize) {
        let name = self.states[t]
            .last_machine
            .and_then(|m| self.run.tests[t].machines.get(m))
            .map(|m| m.name.clone());
        let failure = &mut self.run.tests[t].failures[f];
        if failure.machine.is_none() {
            failure.machine = name;
        }
    }

    fn push_driver(
        &mut self,
        t: usize,
        display: &str,
        plain: &str,
        has_sgr: bool,
        kind: u8,
    ) -> u64 {
        let tag = self.states[t].container();
        let time = self.stamp();
        self.last_dest = Some(Dest::Driver(t, kind));
        if let Some(sink) = &mut self.sink {
            sink(t, None, plain);
        }
        self.run.tests[t]
            .driver
            .push(display, has_sgr.then_some(plain), time, kind, tag)
    }
}

/// `N out of M tests succeeded` (Perl and early Python summaries).
fn tests_succeeded(msg: &str) -> Option<(u32, u32)> {
    let rest = msg.strip_suffix(" tests succeeded")?;
    let (ok, all) = rest.split_once(" out of ")?;
    Some((ok.parse().ok()?, all.parse().ok()?))
}

/// A line with nothing but resets on it.
fn is_blank(display: &str) -> bool {
    let mut rest = display;
    while let Some(r) = rest.strip_prefix("\x1b[0m") {
        rest = r;
    }
    rest.is_empty()
}
