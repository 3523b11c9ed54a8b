//! The line parser: bytes in, `TestRun` out.
//!
//! One classifier for every driver generation and every wrapping. Lines are routed to their
//! test (by `vm-test-run-NAME> ` prefix, or Nix's tail header), then classified: serial
//! line, driver message about a machine, step start or end, error, warning, block of the
//! SSH backdoor or of the exposed symbols, command output, print. Guest text can never be
//! taken for the driver's: serial lines and command output are classified before anything
//! else looks at their content.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::classify::{self as c, NESTED_START, Wrap};
use super::model::{
    Breakpoint, Failure, FailureKind, Machine, MachineState, ROOT, SshEntry, Step, StepId,
    StepKind, StepState, Subtest, Test, TestRun, line_kind as k,
};
use super::sanitize;
use super::splitter::{LineSplitter, Piece};
use super::store::{Caps, LineStore};

/// How far back an early-driver `(N seconds)` close looks for its start.
const EARLY_CLOSE_LOOKBACK: usize = 4000;

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
}

fn hash_msg(msg: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    msg.hash(&mut h);
    h.finish()
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
        }
    }

    /// Parses a whole input at once (files, tests).
    pub fn parse_all(bytes: &[u8], caps: Caps, opts: ParseOptions) -> TestRun {
        let mut p = Self::new(caps, opts);
        p.feed(bytes, super::store::NO_TIME);
        p.finish();
        p.run
    }

    /// Feeds bytes that arrived at `time_ms` (milliseconds since start, or `NO_TIME`).
    pub fn feed(&mut self, bytes: &[u8], time_ms: u32) {
        self.time_ms = time_ms;
        self.run.bytes += bytes.len() as u64;
        let mut splitter = std::mem::take(&mut self.splitter);
        splitter.feed(bytes, &mut |piece| self.piece(piece));
        self.splitter = splitter;
    }

    /// The input has ended: flush the last line and settle open steps.
    pub fn finish(&mut self) {
        let mut splitter = std::mem::take(&mut self.splitter);
        splitter.finish(&mut |piece| self.piece(piece));
        self.splitter = splitter;
        for (t, st) in self.run.tests.iter_mut().zip(&mut self.states) {
            t.finished = true;
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
        self.run.lines += 1;
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
    }

    fn continue_line(&mut self, dest: Dest, display: &str, has_sgr: bool) {
        let plain = has_sgr.then(|| sanitize::strip_sgr(display));
        let time = self.time_ms;
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
        let t = match wrap {
            Wrap::Prefixed { test, .. } => self.test_named(test),
            Wrap::Tail => self.tail_test.unwrap_or(self.current),
            Wrap::Bare => self.current,
        };
        if !matches!(wrap, Wrap::Tail) && self.nix_line(inner, has_sgr) {
            return;
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
        // An unnamed test that only saw stray lines (a `$ nix build` line, an elision) is
        // the prefixed test's own beginning.
        if let Some(i) = self.run.tests.iter().position(|t| {
            t.name.is_none() && t.machines.is_empty() && t.steps.is_empty() && t.failures.is_empty()
        }) {
            self.run.tests[i].name = Some(name.to_string());
            return i;
        }
        self.run
            .tests
            .push(Test::new(Some(name.to_string()), self.run.caps));
        self.states.push(TestState::new());
        self.run.tests.len() - 1
    }

    /// Nix's own lines (not the builder's): they name the test they are about.
    fn nix_line(&mut self, display: &str, has_sgr: bool) -> bool {
        // Most lines can be told apart by their first character.
        let first = display.trim_start_matches(' ').as_bytes().first().copied();
        if !matches!(first, Some(b'e' | b'b' | b'F' | b'l' | b't' | b'/' | 0x1b))
            || display.starts_with("\x1b[2m")
        {
            return false;
        }
        let plain_owned;
        let plain = if has_sgr {
            plain_owned = sanitize::strip_sgr(display);
            plain_owned.as_str()
        } else {
            display
        };
        let trimmed = plain.trim_start();
        let is_builder = trimmed.starts_with("error: builder for '")
            || trimmed.starts_with("builder for '")
            || trimmed.starts_with("error: build of '");
        let is_full_logs = trimmed.starts_with("For full logs, run '");
        let is_tail_head = trimmed.starts_with("last ") && trimmed.ends_with(" log lines:");
        let is_other = trimmed.starts_with("these ")
            && (trimmed.ends_with("will be built:") || trimmed.ends_with("will be fetched:"))
            || trimmed.starts_with("building '")
            || (plain.starts_with("  /nix/store/") && plain.ends_with(".drv"));
        if !(is_builder || is_full_logs || is_tail_head || is_other) {
            return false;
        }
        let named = c::test_name_in_path(trimmed).map(str::to_string);
        let mut t = self.current;
        if let Some(name) = &named {
            if is_full_logs {
                // The tail just read belongs to this test.
                let tail = self.tail_test.unwrap_or(self.current);
                if self.run.tests[tail].name.is_none()
                    && !self
                        .run
                        .tests
                        .iter()
                        .any(|x| x.name.as_deref() == Some(name))
                {
                    self.run.tests[tail].name = Some(name.clone());
                }
                t = self.test_named(name);
                self.tail_test = None;
            } else if self.run.tests[self.current].name.is_none()
                && !self
                    .run
                    .tests
                    .iter()
                    .any(|x| x.name.as_deref() == Some(name))
            {
                // A bare log names its test only in Nix's lines.
                self.run.tests[self.current].name = Some(name.clone());
                t = self.current;
            } else {
                t = self.test_named(name);
            }
        }
        if is_builder && trimmed.contains("failed with exit code") {
            let code = c::builder_exit_code(trimmed);
            self.tail_test = Some(t);
            let test = &mut self.run.tests[t];
            if test.exit_code.is_none() {
                test.exit_code = code;
            }
            if code == Some(143) {
                test.timed_out = true;
            }
            self.push_driver(t, display, plain, has_sgr, k::NIX);
            let line = self.run.lines.saturating_sub(1);
            let kind = if code == Some(143) {
                FailureKind::GlobalTimeout
            } else {
                FailureKind::BuildFailed
            };
            let already = self.run.tests[t]
                .failures
                .iter()
                .any(|f| f.kind != FailureKind::KernelPanic);
            if !already || code == Some(143) {
                let message = match code {
                    Some(143) => {
                        "the driver was terminated by SIGTERM (exit code 143): the global timeout"
                            .to_string()
                    }
                    _ => trimmed
                        .trim_start_matches("error: ")
                        .trim_end_matches(';')
                        .to_string(),
                };
                self.add_failure(t, kind, None, message, line);
            }
        } else {
            self.push_driver(t, display, plain, has_sgr, k::NIX);
        }
        self.current = t;
        true
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
                self.inner(t, left, true, depth + 1);
            }
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
        if depth < 8
            && let Some(at) = glued_plain(plain)
        {
            let dat = c::display_offset(display, at);
            self.plain_buf = buf;
            self.inner(t, &display[..dat], has_sgr, depth + 1);
            self.inner(t, &display[dat..], has_sgr, depth + 1);
            return;
        }
        let has_sgr = has_sgr && plain.len() != display.len();
        self.classify(t, display, plain, has_sgr);
        self.plain_buf = buf;
    }

    /// What a line is, once its wrapping and glued neighbours are gone.
    fn classify(&mut self, t: usize, display: &str, plain: &str, has_sgr: bool) {
        // Blocks whose lines are recognised by what came before them.
        match self.states[t].mode {
            Mode::Symbols(n) => {
                if let Some(list) = plain.strip_prefix("    ") {
                    if n == 0 {
                        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                            if c::is_name(name) {
                                self.ensure_machine(t, name, true);
                            }
                        }
                    }
                    self.states[t].mode = if n >= 2 {
                        Mode::Normal
                    } else {
                        Mode::Symbols(n + 1)
                    };
                    self.push_driver(t, display, plain, has_sgr, k::PLAIN);
                    return;
                }
                self.states[t].mode = Mode::Normal;
            }
            Mode::Ssh => {
                if plain.starts_with("Note:") {
                    self.push_driver(t, display, plain, has_sgr, k::PLAIN);
                    return;
                }
                if let Some((name, command)) = ssh_entry(plain) {
                    self.ensure_machine(t, name, false);
                    let test = &mut self.run.tests[t];
                    test.ssh.retain(|e| e.machine != name);
                    test.ssh.push(SshEntry {
                        machine: name.to_string(),
                        command: command.to_string(),
                    });
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
                if let Some((name, msg)) = c::exception_line(plain) {
                    self.exception(t, name, msg);
                    self.push_driver(t, display, plain, has_sgr, k::ERROR);
                    return;
                }
            }
            Mode::Output => {
                if !self.ends_output(t, display, plain) {
                    if let Some((name, off)) = c::serial(plain)
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

        if let Some((name, off)) = c::serial(plain) {
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
        if plain.starts_with("??? ") {
            self.states[t].mode = Mode::Warning;
            self.push_driver(t, display, plain, has_sgr, k::WARNING);
            return;
        }
        if c::repl_prompt(plain).is_some() {
            self.push_driver(t, display, plain, has_sgr, k::PROMPT);
            return;
        }
        self.message(t, display, plain, has_sgr);
    }

    fn ends_output(&self, t: usize, display: &str, plain: &str) -> bool {
        if plain.starts_with("!!! Test \"")
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

    fn serial(
        &mut self,
        t: usize,
        name: &str,
        display: &str,
        plain: &str,
        off: usize,
        has_sgr: bool,
    ) {
        let m = self.ensure_machine(t, name, false);
        let time = self.time_ms;
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
        machine
            .serial
            .push(text, styled.then_some(text_plain), time, 0, 0);
        machine.serial_lines += 1;
        if let Some(sink) = &mut self.sink {
            sink(t, Some(&machine.name), text_plain);
        }
        if machine.state == MachineState::NotStarted {
            machine.state = MachineState::Booting;
        }
        self.last_dest = Some(Dest::Serial(t, m));
        if c::is_kernel_panic(text_plain) {
            let machine = &mut self.run.tests[t].machines[m];
            machine.state = MachineState::Crashed;
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
                });
            }
        }
    }

    /// A line behind `!!! `: the 2025+ driver's errors.
    fn bang(&mut self, t: usize, text: &str) {
        let line = self.run.lines.saturating_sub(1);
        if text.starts_with("Breakpoint reached") {
            let extra = self.opts.extra_attach_store.as_deref();
            if let Some(bp) = c::breakpoint(text, extra) {
                self.run.tests[t].breakpoint = Some(Breakpoint {
                    line: bp,
                    at_line: line,
                });
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

    fn traceback_line(&mut self, t: usize, text: &str) {
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

    fn exception(&mut self, t: usize, name: &str, msg: &str) {
        let Some(f) = self.states[t].pending else {
            return;
        };
        self.states[t].exception_seen = true;
        let failure = &mut self.run.tests[t].failures[f];
        failure.exception = Some(name.to_string());
        if !msg.is_empty() || failure.message.is_empty() {
            failure.message = msg.to_string();
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
                machine = Some(known.unwrap_or_else(|| self.ensure_machine(t, name, false)));
                msg = m;
            }
        }
        let msg_display = if has_sgr {
            &display[c::display_offset(display, plain.len() - msg.len())..]
        } else {
            msg
        };
        let machine_name = machine.map(|m| self.run.tests[t].machines[m].name.clone());
        let line = self.run.lines.saturating_sub(1);

        // Step ends.
        if let Some((title, secs)) = c::finished(msg) {
            let seq = self.push_driver(t, display, plain, has_sgr, k::STEP_END);
            self.close_step(t, title, machine_name.as_deref(), Some(secs), seq);
            if title == "waiting for the VM to power off"
                && let Some(m) = machine
            {
                self.run.tests[t].machines[m].state = MachineState::ShutDown;
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
            if let Some(d) = self.run.tests[t].driver.get_mut(seq) {
                d.tag = id;
            }
            self.after_message(t, machine, msg, line);
            return;
        }

        let mut kind = k::PLAIN;
        if machine.is_none() {
            if msg == "timeout reached; test terminating..." {
                self.global_timeout(t, line);
            } else if msg.starts_with("Traceback (most recent call last):")
                || (msg.starts_with("  File \"") && self.states[t].pending.is_none())
            {
                // A traceback, or one whose head the excerpt lost.
                let f = self.add_failure(t, FailureKind::Exception, None, String::new(), line);
                self.states[t].pending = Some(f);
                self.states[t].exception_seen = false;
                self.run.tests[t].failures[f]
                    .traceback
                    .push(msg.to_string());
                self.states[t].mode = Mode::Traceback;
                kind = k::TRACEBACK;
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
        if machine.is_none()
            && (msg == "cleanup" || msg == "cleaning up")
            && !self.states[t].coloured
            && self.run.tests[t].script_secs.is_none()
        {
            // Cleanup before `test script finished`: an exception left the open steps.
            let chain = self.fail_open_steps(t);
            self.states[t].failed_chain = chain;
        }
        let seq = self.push_driver(t, display, plain, has_sgr, kind);
        if kind == k::PLAIN && !self.states[t].coloured && !c::is_log_only(msg) {
            self.states[t]
                .candidates
                .entry(hash_msg(msg))
                .or_default()
                .push(seq);
        }
        self.after_message(t, machine, msg, line);
    }

    /// What a message says about the run beyond the step tree.
    fn after_message(&mut self, t: usize, machine: Option<usize>, msg: &str, line: u64) {
        if let Some(m) = machine {
            let mach = &mut self.run.tests[t].machines[m];
            if msg.starts_with("starting vm") {
                mach.state = MachineState::Booting;
            } else if msg.starts_with("QEMU running (pid ")
                || msg.starts_with("systemd-nspawn running (pid ")
            {
                mach.pid = c::pid_in(msg);
                if matches!(
                    mach.state,
                    MachineState::NotStarted | MachineState::ShutDown | MachineState::Killed
                ) {
                    mach.state = MachineState::Booting;
                }
            } else if msg.starts_with("connected to guest root shell") {
                mach.state = MachineState::Connected;
            } else if msg.starts_with("exit status ") {
                // The Perl driver ran a command: the machine is up.
                if matches!(mach.state, MachineState::NotStarted | MachineState::Booting) {
                    mach.state = MachineState::Connected;
                }
            } else if msg.starts_with("forced crash") {
                mach.state = MachineState::Crashed;
            } else if msg.starts_with("output:") {
                self.states[t].mode = Mode::Output;
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
        let test = &mut self.run.tests[t];
        if msg.starts_with("kill") && msg.contains("(pid ") {
            let pid = c::pid_in(msg);
            let by_name = msg
                .strip_prefix("killing ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| test.machine(n));
            let target = by_name
                .or_else(|| pid.and_then(|p| test.machines.iter().position(|m| m.pid == Some(p))));
            if let Some(m) = target {
                let mach = &mut test.machines[m];
                if !matches!(mach.state, MachineState::ShutDown | MachineState::Crashed) {
                    mach.state = MachineState::Killed;
                }
                mach.pid = mach.pid.or(pid);
            }
        } else if let Some(rest) = msg.strip_prefix("test script finished in ") {
            test.script_secs = rest.trim_end_matches('s').parse().ok();
            if test
                .failures
                .iter()
                .all(|f| f.kind == FailureKind::KernelPanic)
            {
                test.passed_evidence = true;
            }
        } else if let Some(rest) = msg.strip_prefix("Test will time out and terminate in ") {
            test.global_timeout_secs = rest.trim_end_matches(" seconds").parse().ok();
        } else if msg == "additionally exposed symbols:" {
            self.states[t].mode = Mode::Symbols(0);
        } else if msg == "SSH backdoor enabled, the machines can be accessed like this:" {
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

    fn global_timeout(&mut self, t: usize, line: u64) {
        self.run.tests[t].timed_out = true;
        let secs = self.run.tests[t].global_timeout_secs;
        let message = match secs {
            Some(s) => format!("the global timeout of {s} seconds was reached"),
            None => "the global timeout was reached".to_string(),
        };
        self.add_failure(t, FailureKind::GlobalTimeout, None, message, line);
    }

    fn ensure_machine(&mut self, t: usize, name: &str, from_symbols: bool) -> usize {
        let test = &mut self.run.tests[t];
        if let Some(i) = test.machine(name) {
            return i;
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
            return i;
        }
        if from_symbols
            && let Some(i) = test
                .machines
                .iter()
                .position(|m| c::pythonize(&m.name) == name)
        {
            return i;
        }
        test.add_machine(Machine {
            name: name.to_string(),
            state: MachineState::NotStarted,
            pid: None,
            first_seen_line: self.run.lines.saturating_sub(1),
            first_seen_ms: (self.time_ms != super::store::NO_TIME).then_some(self.time_ms),
            serial: LineStore::new(self.run.caps),
            serial_lines: 0,
            errors: 0,
        })
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
        let time = self.time_ms;
        self.last_dest = Some(Dest::Driver(t, kind));
        if let Some(sink) = &mut self.sink {
            sink(t, None, plain);
        }
        self.run.tests[t]
            .driver
            .push(display, has_sgr.then_some(plain), time, kind, tag)
    }

    fn new_step(
        &mut self,
        t: usize,
        title: &str,
        machine: Option<String>,
        parent: StepId,
        head: u64,
        state: StepState,
    ) -> StepId {
        let test = &mut self.run.tests[t];
        let id = test.steps.len() as StepId;
        let kind = if title.starts_with("subtest: ") {
            StepKind::Subtest
        } else {
            StepKind::Step
        };
        test.steps.push(Step {
            title: title.to_string(),
            machine,
            kind,
            state,
            secs: None,
            parent,
            children: Vec::new(),
            head,
            end: None,
        });
        insert_child(test, parent, id);
        if let Some(name) = title.strip_prefix("subtest: ")
            && !test
                .subtests
                .iter()
                .any(|s| s.name == name && s.state == StepState::Running)
        {
            test.subtests.push(Subtest {
                name: name.to_string(),
                state,
                secs: None,
                error: None,
            });
        }
        id
    }

    /// `(finished: TITLE, in SECS seconds)` arrived as driver line `seq`.
    fn close_step(
        &mut self,
        t: usize,
        title: &str,
        machine: Option<&str>,
        secs: Option<f64>,
        seq: u64,
    ) {
        let st = &mut self.states[t];
        let test = &mut self.run.tests[t];
        let found = st.open.iter().rposition(|&id| {
            let s = &test.steps[id as usize];
            s.title == title
                && (machine.is_none() || s.machine.is_none() || s.machine.as_deref() == machine)
        });
        let id = if let Some(pos) = found {
            let id = st.open.remove(pos);
            Some(id)
        } else {
            self.take_candidate(t, title)
                .map(|head| self.promote(t, head, title, StepState::Passed, seq))
        };
        let test = &mut self.run.tests[t];
        let id = match id {
            Some(id) => id,
            None => {
                // The start is not in the input (an excerpt): the end line stands for it.
                let parent = self.states[t].container();
                if let Some(d) = test.driver.get_mut(seq) {
                    d.kind = k::STEP_HEAD;
                }
                let id = self.new_step(
                    t,
                    title,
                    machine.map(str::to_string),
                    parent,
                    seq,
                    StepState::Passed,
                );
                self.run.tests[t].steps[id as usize].secs = secs;
                self.finish_subtest(t, title, StepState::Passed, secs);
                if let Some(d) = self.run.tests[t].driver.get_mut(seq) {
                    d.tag = id;
                }
                return;
            }
        };
        let test = &mut self.run.tests[t];
        let step = &mut test.steps[id as usize];
        step.state = StepState::Passed;
        step.secs = secs;
        step.end = Some(seq);
        if step.machine.is_none() {
            step.machine = machine.map(str::to_string);
        }
        if let Some(d) = test.driver.get_mut(seq) {
            d.tag = id;
        }
        self.finish_subtest(t, title, StepState::Passed, secs);
    }

    fn finish_subtest(&mut self, t: usize, title: &str, state: StepState, secs: Option<f64>) {
        if let Some(name) = title.strip_prefix("subtest: ") {
            let test = &mut self.run.tests[t];
            match test.subtests.iter_mut().rev().find(|s| s.name == name) {
                Some(s) if s.state != StepState::Failed => {
                    s.state = state;
                    s.secs = secs;
                }
                Some(_) => {}
                None => test.subtests.push(Subtest {
                    name: name.to_string(),
                    state,
                    secs,
                    error: None,
                }),
            }
        }
    }

    /// The newest plain line whose message is `title` and that can still open a step.
    fn take_candidate(&mut self, t: usize, title: &str) -> Option<u64> {
        let st = &mut self.states[t];
        let list = st.candidates.get_mut(&hash_msg(title))?;
        let test = &self.run.tests[t];
        while let Some(seq) = list.pop() {
            let Some(line) = test.driver.get(seq) else {
                continue;
            };
            if line.kind != k::PLAIN {
                continue;
            }
            let p = line.plain();
            let matches = p == title
                || (p.ends_with(title)
                    && p[..p.len() - title.len()]
                        .strip_suffix(": ")
                        .is_some_and(|n| test.machine(n).is_some()));
            let container_open = line.tag == ROOT
                || test
                    .step(line.tag)
                    .is_some_and(|s| s.state == StepState::Running || s.state == StepState::Failed);
            if matches && container_open {
                if list.is_empty() {
                    st.candidates.remove(&hash_msg(title));
                }
                return Some(seq);
            }
        }
        st.candidates.remove(&hash_msg(title));
        None
    }

    /// Turns plain line `head` into the start of a step that contains every later line of
    /// its container up to `end`.
    fn promote(&mut self, t: usize, head: u64, title: &str, state: StepState, end: u64) -> StepId {
        let (parent, machine) = {
            let test = &self.run.tests[t];
            let line = test.driver.get(head);
            let parent = line.map_or(ROOT, |l| l.tag);
            let machine = line
                .and_then(|l| c::machine_prefix(l.plain()))
                .and_then(|(n, _)| test.machine(n).map(|_| n.to_string()));
            (parent, machine)
        };
        let id = self.new_step(t, title, machine, parent, head, state);
        let test = &mut self.run.tests[t];
        // Later siblings move into the new step.
        let siblings = match parent {
            ROOT => &mut test.roots,
            p => &mut test.steps[p as usize].children,
        };
        // The new step was inserted by head order, near the end.
        let pos = siblings
            .iter()
            .rposition(|&s| s == id)
            .unwrap_or(siblings.len());
        let moved: Vec<StepId> = siblings.drain(pos + 1..).collect();
        for &m in &moved {
            test.steps[m as usize].parent = id;
        }
        test.steps[id as usize].children = moved;
        if let Some(line) = test.driver.get_mut(head) {
            line.kind = k::STEP_HEAD;
            line.tag = id;
        }
        for (_, line) in test.driver.iter_mut_from(head + 1) {
            if line.tag == parent {
                line.tag = id;
            }
        }
        if state == StepState::Passed {
            test.steps[id as usize].end = Some(end);
        }
        id
    }

    /// The early driver's `(N seconds)`: it closes the newest plain start of its container;
    /// a print block (lines after a blank line) is skipped back to the previous close.
    fn early_close(&mut self, t: usize, secs: f64, seq: u64) {
        let container = self.states[t].container();
        let test = &self.run.tests[t];
        let mut skipping = false;
        let mut found = None;
        for (s, line) in test.driver.iter().rev().skip(1).take(EARLY_CLOSE_LOOKBACK) {
            let p = line.plain();
            if p.trim().is_empty() {
                skipping = true;
                continue;
            }
            if skipping {
                if line.kind == k::STEP_END {
                    skipping = false;
                }
                continue;
            }
            if line.kind != k::PLAIN || line.tag != container {
                continue;
            }
            let msg = c::machine_prefix(p)
                .filter(|(n, _)| test.machine(n).is_some())
                .map_or(p, |(_, m)| m);
            if msg
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
                && !c::is_log_only(msg)
            {
                found = Some((s, msg.to_string()));
                break;
            }
        }
        if let Some((head, title)) = found {
            if let Some(list) = self.states[t].candidates.get_mut(&hash_msg(&title)) {
                list.retain(|&x| x != head);
            }
            let id = self.promote(t, head, &title, StepState::Passed, seq);
            let test = &mut self.run.tests[t];
            test.steps[id as usize].secs = Some(secs);
            if let Some(d) = test.driver.get_mut(seq) {
                d.tag = id;
            }
        }
    }

    fn add_failure(
        &mut self,
        t: usize,
        kind: FailureKind,
        subtest: Option<&str>,
        message: String,
        line: u64,
    ) -> usize {
        let chain = self.fail_open_steps(t);
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
        });
        test.failures.len() - 1
    }

    /// Every step still open fails with the exception that left it. Returns the chain of
    /// steps this failure left (outermost first), or the previous failure's chain.
    fn fail_open_steps(&mut self, t: usize) -> Vec<StepId> {
        let mut chain: Vec<StepId> = std::mem::take(&mut self.states[t].open);
        // Plain input: unclosed starts that every generation nests are the open steps.
        let mut heads: Vec<(u64, String)> = Vec::new();
        {
            let st = &self.states[t];
            let test = &self.run.tests[t];
            for list in st.candidates.values() {
                for &seq in list {
                    let Some(line) = test.driver.get(seq) else {
                        continue;
                    };
                    if line.kind != k::PLAIN {
                        continue;
                    }
                    let p = line.plain();
                    let msg = c::machine_prefix(p)
                        .filter(|(n, _)| test.machine(n).is_some())
                        .map_or(p, |(_, m)| m);
                    let open_container = line.tag == ROOT
                        || test.step(line.tag).is_some_and(|s| {
                            matches!(s.state, StepState::Running | StepState::Failed)
                        });
                    if c::is_known_nested(msg)
                        && open_container
                        && msg != "cleanup"
                        && msg != "cleaning up"
                    {
                        heads.push((seq, msg.to_string()));
                    }
                }
            }
        }
        heads.sort_by_key(|(s, _)| *s);
        let end = self.run.tests[t].driver.end_seq().saturating_sub(1);
        for (seq, title) in heads {
            if let Some(list) = self.states[t].candidates.get_mut(&hash_msg(&title)) {
                list.retain(|&x| x != seq);
            }
            let id = self.promote(t, seq, &title, StepState::Failed, end);
            chain.push(id);
        }
        chain.sort_by_key(|&id| self.run.tests[t].steps[id as usize].head);
        let test = &mut self.run.tests[t];
        for &id in &chain {
            let s = &mut test.steps[id as usize];
            s.state = StepState::Failed;
            if let Some(name) = s.title.strip_prefix("subtest: ") {
                let name = name.to_string();
                if let Some(sub) = test.subtests.iter_mut().rev().find(|x| x.name == name) {
                    sub.state = StepState::Failed;
                }
            }
        }
        if chain.is_empty() {
            self.states[t].failed_chain.clone()
        } else {
            self.states[t].failed_chain = chain.clone();
            chain
        }
    }
}

fn insert_child(test: &mut Test, parent: StepId, id: StepId) {
    let head = test.steps[id as usize].head;
    let in_steps = parent != ROOT && (parent as usize) < test.steps.len();
    let list = if in_steps {
        &test.steps[parent as usize].children
    } else {
        &test.roots
    };
    // Promoted steps may start before siblings created earlier: keep head order.
    let pos = list
        .iter()
        .rposition(|&s| test.steps.get(s as usize).is_some_and(|x| x.head <= head))
        .map_or(0, |p| p + 1);
    let list = if in_steps {
        &mut test.steps[parent as usize].children
    } else {
        &mut test.roots
    };
    list.insert(pos, id);
}

fn subtest_failed(test: &mut Test, name: &str, err: &str) {
    match test.subtests.iter_mut().rev().find(|s| s.name == name) {
        Some(s) => {
            s.state = StepState::Failed;
            s.error = Some(err.to_string());
        }
        None => test.subtests.push(Subtest {
            name: name.to_string(),
            state: StepState::Failed,
            secs: None,
            error: Some(err.to_string()),
        }),
    }
}

/// `N out of M tests succeeded` (Perl and early Python summaries).
fn tests_succeeded(msg: &str) -> Option<(u32, u32)> {
    let rest = msg.strip_suffix(" tests succeeded")?;
    let (ok, all) = rest.split_once(" out of ")?;
    Some((ok.parse().ok()?, all.parse().ok()?))
}

/// `    NAME:  ssh -o User=root …` of the SSH backdoor block.
fn ssh_entry(plain: &str) -> Option<(&str, &str)> {
    let rest = plain.strip_prefix("    ")?;
    let (name, cmd) = rest.split_once(':')?;
    let cmd = cmd.trim();
    (c::is_name(name) && cmd.starts_with("ssh ")).then_some((name, cmd))
}

/// Where a dim serial line starts in the middle of a display line.
fn glued_serial(display: &str) -> Option<usize> {
    let mut from = 1;
    let bytes = display.as_bytes();
    while let Some(i) = memchr::memchr(0x1b, bytes.get(from..)?) {
        let at = from + i;
        if !bytes[at..].starts_with(b"\x1b[2m") {
            from = at + 1;
            continue;
        }
        let rest = &display[at + 4..];
        let head = &rest.as_bytes()[..rest.len().min(66)];
        if let Some(hash) = head.windows(2).position(|w| w == b" #") {
            let name = &rest[..hash];
            let after = &rest[hash + 2..];
            if c::is_name(name)
                && (after.is_empty() || after.starts_with(' ') || after.starts_with('\x1b'))
            {
                return Some(at);
            }
        }
        from = at + 4;
    }
    None
}

/// Plain lines two threads wrote at once: `m1: starting vmm2: starting vm`,
/// `m3: QEMU running (pid 5)m3 # [ 0.00] Linux …`.
fn glued_plain(plain: &str) -> Option<usize> {
    let (name, msg) = c::machine_prefix(plain)?;
    let base = plain.len() - msg.len();
    let fixed_end = if msg.starts_with("starting vm") {
        Some("starting vm".len())
    } else if msg.starts_with("connected to guest root shell") {
        Some("connected to guest root shell".len())
    } else if msg.starts_with("QEMU running (pid ") {
        msg.find(')').map(|i| i + 1)
    } else {
        None
    }?;
    let rest = &msg[fixed_end..];
    if rest.is_empty() {
        return None;
    }
    let _ = name;
    let glued = c::serial(rest).is_some()
        || c::machine_prefix(rest).is_some_and(|(_, m)| c::is_machine_message(m));
    glued.then_some(base + fixed_end)
}
