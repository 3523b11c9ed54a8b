//! The line parser: bytes in, `TestRun` out.
//!
//! One classifier for every driver generation and every wrapping. Lines are routed to their
//! test (by `vm-test-run-NAME> ` prefix, or Nix's tail header), then classified: serial
//! line, driver message about a machine, step start or end, error, warning, block of the
//! SSH backdoor or of the exposed symbols, command output, print. Guest text can never be
//! taken for the driver's: serial lines and command output are classified before anything
//! else looks at their content.
//!
//! What a line means for the model is said as a `RunEvent` (`super::event`) that the model
//! applies; the parser only reads tests (`Parser::test`) and emits (`Parser::emit`).
//!
//! `forms` is the table of the driver's message forms, one entry each, and `messages` what
//! each form means. By concern: `glue` takes apart lines two writers made together, `nix`
//! reads Nix's own lines and failure reports, `blocks` the symbols and backdoor blocks,
//! `lifecycle` the machines, `steps` the step tree, `failures` the driver's errors and
//! tracebacks, `checks` what stops a test before its script runs. This file routes lines to
//! them and keeps the per-test reading state.

mod blocks;
mod checks;
mod failures;
mod forms;
mod glue;
mod lifecycle;
mod messages;
mod nix;
mod steps;

use blocks::ssh_entry;
use glue::glued_serial;

use std::collections::HashMap;

use super::classify::{self as c, NESTED_START, Wrap};
use super::event::{Applied, FailureChange, RunEvent};
use super::model::{ROOT, Source, StepId, Test, TestRun, TriggerKind, line_kind as k};
use super::sanitize;
use super::spans::SgrSpans;
use super::splitter::{LineSplitter, Piece};
use super::store::{Caps, EST_FLAG, NO_TIME, Stamp};

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
    /// A plain traceback's head line (its input line): the first frame says whose it is.
    TracebackHead(u64),
    /// A traceback of a statement typed at the REPL: shown, not a failure of the test.
    ReplTraceback,
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
    /// Where the SGR sequences of the line being parsed are.
    spans: SgrSpans,
    plain_buf: String,
    time_ms: u32,
    /// Lines stored so far from the input line being read: the next one's part.
    part: u64,
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
            spans: SgrSpans::default(),
            plain_buf: String::new(),
            time_ms: super::store::NO_TIME,
            part: 0,
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

    /// The input stopped in the middle of a line.
    pub fn mid_line(&self) -> bool {
        self.splitter.mid_line()
    }

    /// Input read from the middle of a stream: its first line is line `n + 1`, and these
    /// machines are known from the start, in this order (a window of a recording).
    pub fn start_at(&mut self, n: u64, machines: &[String]) {
        self.run.lines = n;
        for name in machines {
            let _ = self.ensure_machine(0, name, false);
        }
    }

    /// Test `t` as read so far: the parser looks, the model changes.
    fn test(&self, t: usize) -> &Test {
        &self.run.tests[t]
    }

    fn tests(&self) -> &[Test] {
        &self.run.tests
    }

    /// A test of its own for the lines named `name`.
    fn add_test(&mut self, name: &str) -> usize {
        self.run
            .tests
            .push(Test::new(Some(name.to_string()), self.run.caps));
        self.states.push(TestState::new());
        self.run.tests.len() - 1
    }

    /// Says what a line means for test `t`; the model applies it.
    #[inline(always)]
    fn emit(&mut self, t: usize, event: RunEvent<'_>) -> Applied {
        self.run.tests[t].apply(event)
    }

    /// When the line being read arrived (ms since the start), for live input.
    fn arrival_ms(&self) -> Option<u32> {
        (self.time_ms != super::store::NO_TIME).then_some(self.time_ms)
    }

    /// Marks test `t` to be frozen at the line being read (the first trigger wins).
    pub(super) fn trigger(&mut self, t: usize, kind: TriggerKind) {
        self.trigger_at(t, kind, self.run.lines.saturating_sub(1));
    }

    /// A trigger whose moment is input line `line` (a traceback known to be the test's
    /// only at its first frame began at its head line).
    pub(super) fn trigger_at(&mut self, t: usize, kind: TriggerKind, line: u64) {
        if self.test(t).may_freeze(kind) && self.trigger.is_none() {
            let failure = (kind != TriggerKind::Breakpoint).then_some(self.test(t).failures.len());
            self.trigger = Some((t, kind, line, failure));
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
    /// Where the line being read stands, for what it says about test `t`: its position,
    /// and its arrival time (or, in a saved log, the time `t`'s clock estimates).
    fn here(&self, t: usize) -> Stamp {
        let ms = if self.time_ms == NO_TIME {
            EST_FLAG | self.test(t).clock.now_ms()
        } else {
            self.time_ms
        };
        Stamp::new(self.run.lines, self.part, ms)
    }

    /// The stamp of the next line stored from the line being read.
    fn stamp(&mut self, t: usize) -> Stamp {
        let s = self.here(t);
        self.part += 1;
        s
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

    /// The driver's REPL prompt came back (a live run's terminal): a statement typed there
    /// has ended, and one that raised left its steps open: an exception left them. A REPL
    /// error is the user's, not the test's: no failure is counted.
    pub fn repl_prompt(&mut self) {
        let t = self.current;
        if !self.states[t].open.is_empty() {
            self.fail_open_steps(t);
        }
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
        self.emit(self.current, RunEvent::ExitStatus(code));
    }

    /// The input has ended: flush the last line and settle open steps.
    pub fn finish(&mut self) {
        let mut splitter = std::mem::take(&mut self.splitter);
        splitter.finish(&mut |piece| self.piece(piece));
        self.splitter = splitter;
        for t in 0..self.states.len() {
            // The input ended right after a traceback's head: the test's, as ever.
            if let Mode::TracebackHead(head) = self.states[t].mode {
                self.traceback_starts(t, head);
            }
        }
        self.settle_nix_report();
        self.apply_trigger();
        for t in 0..self.states.len() {
            if let Some(pid) = self.states[t].pending_kill.take() {
                self.emit(t, RunEvent::KillUnanswered { pid });
            }
            // A report whose traceback the input cut off keeps what was known before it.
            let cut: Vec<(usize, String)> = self
                .test(t)
                .failures
                .iter()
                .enumerate()
                .filter(|(_, f)| !f.traceback.is_empty() && failures::is_placeholder(&f.message))
                .map(|(i, f)| (i, failures::cut_report(&f.message)))
                .collect();
            for (f, message) in &cut {
                self.change_failure(t, *f, FailureChange::Message(message));
            }
            let open = std::mem::take(&mut self.states[t].open);
            self.emit(t, RunEvent::InputEnded { open: &open });
        }
    }

    fn piece(&mut self, piece: Piece<'_>) {
        // The pieces of a long line are one input line.
        if piece.continued {
            self.run.split_lines += 1;
        } else {
            self.run.lines += 1;
            self.part = 0;
        }
        // A line that is already safe is used where it lies; others are cleaned in a buffer.
        let mut buf = std::mem::take(&mut self.display);
        // The pass that checks the line notes where its SGR sequences are, for the rest.
        let (display, has_sgr): (&str, bool) =
            match sanitize::clean_with(piece.bytes, &mut self.spans) {
                Some((s, sgr)) => (s, sgr),
                None => {
                    let sgr = sanitize::sanitize_into(piece.bytes, &mut buf);
                    self.spans.scan(&buf);
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
        self.spans.forget();
        self.display = buf;
        if !self.apply_trigger()
            && let Some(Dest::Driver(t, k::ERROR | k::TRACEBACK)) = self.last_dest
        {
            // The rest of the failure's report joins the frozen driver pane.
            if let Some(failure) = self.states[t].pending {
                self.emit(t, RunEvent::ReportGoesOn { failure });
            }
        }
    }

    /// Freezes the test a trigger was set for, once its line is stored.
    fn apply_trigger(&mut self) -> bool {
        let Some((t, kind, line, failure)) = self.trigger.take() else {
            return false;
        };
        let ms = self.arrival_ms();
        self.emit(
            t,
            RunEvent::Frozen {
                kind,
                line,
                ms,
                failure,
            },
        );
        true
    }

    /// Appends `part` of the current line without its SGR sequences.
    fn strip_into(&self, part: &str, out: &mut String) {
        match self.spans.part(part) {
            Some(spans) => spans.strip_into(part, out),
            None => sanitize::strip_sgr_into(part, out),
        }
    }

    fn continue_line(&mut self, dest: Dest, display: &str, has_sgr: bool) {
        let plain = has_sgr.then(|| {
            let mut p = String::with_capacity(display.len());
            self.strip_into(display, &mut p);
            p
        });
        let t = match dest {
            Dest::Driver(t, _) | Dest::Serial(t, _) => t,
        };
        let time = self.stamp(t);
        match dest {
            Dest::Driver(t, kind) => {
                let tag = self.states[t].container();
                let line = RunEvent::DriverLine {
                    display,
                    plain: plain.as_deref(),
                    time,
                    kind,
                    tag,
                };
                self.emit(t, line);
                if let Some(sink) = &mut self.sink {
                    sink(t, None, plain.as_deref().unwrap_or(display));
                }
            }
            Dest::Serial(t, m) => {
                let line = RunEvent::SerialLine {
                    machine: m,
                    display,
                    plain: plain.as_deref(),
                    time,
                    continued: true,
                };
                self.emit(t, line);
                self.sink_serial(t, m, plain.as_deref().unwrap_or(display));
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
            self.emit(t, RunEvent::ThroughBuild);
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
            // Whatever the driver or Nix prints after a failure report's tail ends the report;
            // a console line does not (a guest cannot decide when a report is over).
            if self.nix_report.is_some() && c::serial(&sanitize::strip_sgr(inner)).is_none() {
                self.settle_nix_report();
            }
        }
        self.current = t;
        self.inner(t, inner, has_sgr, 0);
    }

    fn test_named(&mut self, name: &str) -> usize {
        if let Some(i) = self.named(name) {
            return i;
        }
        // An unnamed test that only saw stray lines (a `$ nix build` line, an elision, a
        // console line) is the prefixed test's own beginning.
        if let Some(i) = self
            .tests()
            .iter()
            .position(|t| t.name.is_none() && t.steps.is_empty() && t.failures.is_empty())
        {
            self.emit(i, RunEvent::Named(name));
            return i;
        }
        self.add_test(name)
    }

    /// The test named `name`.
    fn named(&self, name: &str) -> Option<usize> {
        self.tests()
            .iter()
            .position(|t| t.name.as_deref() == Some(name))
    }

    /// One line of one test, without its Nix wrapping.
    fn inner(&mut self, t: usize, display: &str, has_sgr: bool, depth: u8) {
        let mut display = display;
        while let Some(rest) = display.strip_prefix("\x1b[0m") {
            display = rest;
        }
        // The line's SGR sequences as noted by its check, found once for the uses below.
        let spans = self.spans.part(display);
        // Lines written by two threads at once: split where a serial line starts.
        if has_sgr
            && depth < 8
            && let Some(at) = glued_serial(display, spans)
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
            match spans {
                Some(spans) => spans.strip_into(display, &mut buf),
                None => sanitize::strip_sgr_into(display, &mut buf),
            }
            &buf
        } else {
            display
        };
        let serial = c::serial(plain);
        if depth < 8 {
            let test = self.test(t);
            let is_machine = |n: &str| test.machine(n).is_some();
            let at = match serial {
                Some((_, off)) => {
                    glue::message_after_serial(display, plain, off, has_sgr, spans, &is_machine)
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
            && matches!(
                self.states[t].mode,
                Mode::Traceback | Mode::Warning | Mode::TracebackHead(_) | Mode::ReplTraceback
            )
        {
            self.serial(t, name, display, plain, off, has_sgr);
            return;
        }
        // Blocks whose lines are recognised by what came before them.
        match self.states[t].mode {
            Mode::Symbols(n) => {
                if let Some(list) = plain.strip_prefix("    ") {
                    if n == 0 && !self.states[t].script_started && !c::is_driver_symbols(list) {
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
            Mode::TracebackHead(head) => {
                if !plain.starts_with(' ') {
                    // No frame: the test's, as a traceback always was.
                    self.traceback_starts(t, head);
                    return self.classify(t, display, plain, has_sgr, serial);
                }
                if self.traceback_frame(t, plain, head) {
                    self.traceback_line(t, plain);
                }
                self.push_driver(t, display, plain, has_sgr, k::TRACEBACK);
                return;
            }
            Mode::ReplTraceback => {
                if plain.starts_with(' ') {
                    self.push_driver(t, display, plain, has_sgr, k::TRACEBACK);
                    return;
                }
                self.states[t].mode = Mode::Normal;
                if c::exception_line(plain).is_some() || c::is_exception_name(plain) {
                    self.push_driver(t, display, plain, has_sgr, k::ERROR);
                    return;
                }
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
                        && self.test(t).machine(name).is_some()
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
            let text = text.trim_end();
            self.emit(t, RunEvent::Warning { text, line });
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
            return self.test(t).machine(name).is_some();
        }
        false
    }

    pub(super) fn change_failure(&mut self, t: usize, failure: usize, change: FailureChange<'_>) {
        self.emit(t, RunEvent::FailureChanged { failure, change });
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
        let time = self.stamp(t);
        self.last_dest = Some(Dest::Driver(t, kind));
        if let Some(sink) = &mut self.sink {
            sink(t, None, plain);
        }
        let line = RunEvent::DriverLine {
            display,
            plain: has_sgr.then_some(plain),
            time,
            kind,
            tag,
        };
        self.emit(t, line).line()
    }

    /// Hands a stored console line to the sink, with its machine's name.
    fn sink_serial(&mut self, t: usize, m: usize, text: &str) {
        if let Some(mut sink) = self.sink.take() {
            sink(t, Some(&self.test(t).machines[m].name), text);
            self.sink = Some(sink);
        }
    }
}

/// A line with nothing but resets on it.
fn is_blank(display: &str) -> bool {
    let mut rest = display;
    while let Some(r) = rest.strip_prefix("\x1b[0m") {
        rest = r;
    }
    rest.is_empty()
}
