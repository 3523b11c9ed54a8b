//! The model without a screen: `inspect` (text and JSON) and `split`.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::axis::{Silence, StateChange};
use super::model::{
    Failure, MachineState, Outcome, Source, StepId, StepKind, StepState, Subtest, Test, TestRun,
    TriggerKind,
};
use super::store::Stamp;
use crate::vsock::Address;

/// The JSON document of `vmscope inspect --json`: the parser's contract (see README).
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub outcome: Outcome,
    pub input: InputReport,
    pub tests: Vec<TestReport<'a>>,
}

#[derive(Debug, Serialize)]
pub struct InputReport {
    pub lines: u64,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct TestReport<'a> {
    pub name: Option<&'a str>,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub script_seconds: Option<f64>,
    pub global_timeout_seconds: Option<f64>,
    pub machines: Vec<MachineReport<'a>>,
    pub steps: Vec<StepReport<'a>>,
    /// Steps that left memory (the step cap): `steps` holds the newest.
    pub steps_evicted: u64,
    pub subtests: &'a [Subtest],
    /// What the driver's JUnit report, read beside the log, added or told differently.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub junit: Option<&'a crate::vm::junit::report::Reconciled>,
    pub failures: Vec<FailureReport<'a>>,
    pub ssh: Vec<SshReport<'a>>,
    pub breakpoint: Option<BreakpointReport<'a>>,
    pub pdb: Option<PdbReport<'a>>,
    /// What stopped the run (the first failure, the breakpoint, the global timeout, a
    /// non-zero exit), with its 1-based input line.
    pub trigger: Option<TriggerReport>,
    /// The driver's warnings, one per text, kept out of the failures.
    pub warnings: Vec<WarningReport<'a>>,
    /// `machine.screenshot(NAME)`: each screenshot the driver took.
    pub screenshots: Vec<ShotReport>,
    /// `wait_for_text(RE)`: each OCR wait, with what its last attempt read when it failed.
    pub ocr: Vec<OcrReport>,
    pub driver_lines: u64,
}

#[derive(Debug, Serialize)]
pub struct ShotReport {
    pub machine: String,
    /// The file's name (its directory is the driver's output directory).
    pub name: String,
    pub state: StepState,
    pub start: Point,
}

#[derive(Debug, Serialize)]
pub struct OcrReport {
    pub machine: String,
    pub pattern: String,
    pub state: StepState,
    pub read: Vec<String>,
    pub start: Point,
}

#[derive(Debug, Serialize)]
pub struct WarningReport<'a> {
    pub text: &'a str,
    pub count: u64,
    /// 1-based input line of the first one.
    pub first_line: u64,
}

#[derive(Debug, Serialize)]
pub struct TriggerReport {
    pub kind: TriggerKind,
    pub line: u64,
}

#[derive(Debug, Serialize)]
pub struct MachineReport<'a> {
    pub name: &'a str,
    pub state: MachineState,
    pub pid: Option<u32>,
    pub serial_lines: u64,
    pub first_seen_line: u64,
    /// Boots of the machine in the input (a reboot or a second start makes two).
    pub boots: u32,
    /// Input lines where a boot began (the first `starting vm` or console line of each).
    pub boot_lines: Vec<u64>,
    /// Its state changes in order, each with its input line and time.
    pub states: &'a [StateChange],
    /// Its longest silences (no console line), longest first: where a test hung waiting.
    pub silences: Vec<Silence>,
}

/// A point on the run's axis: the input line (1-based) and the time where one is known.
#[derive(Debug, Serialize)]
pub struct Point {
    pub line: u64,
    /// Milliseconds since the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u32>,
    /// The time is estimated from the driver's step durations (a saved log).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl From<Stamp> for Point {
    fn from(s: Stamp) -> Self {
        Self {
            line: s.input_line(),
            ms: s.time_or_estimate(),
            estimated: s.estimated(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct StepReport<'a> {
    pub title: &'a str,
    pub kind: StepKind,
    pub machine: Option<&'a str>,
    pub state: StepState,
    pub seconds: Option<f64>,
    /// Where it began and ended (`null`: never closed).
    pub start: Point,
    pub end: Option<Point>,
    pub children: Vec<StepReport<'a>>,
}

#[derive(Debug, Serialize)]
pub struct FailureReport<'a> {
    #[serde(flatten)]
    pub failure: &'a Failure,
    /// 1-based input line of the report, like every line number here.
    pub line: u64,
}

#[derive(Debug, Serialize)]
pub struct SshReport<'a> {
    pub machine: &'a str,
    pub command: &'a str,
    /// What vmscope would connect to (`null`: a command of no form it runs).
    pub address: Option<&'a Address>,
    pub source: Source,
}

#[derive(Debug, Serialize)]
pub struct BreakpointReport<'a> {
    pub attach: &'a str,
    pub id: &'a str,
    pub line: u64,
    /// A `sleep ID` marker process confirmed it (live runs only; a log is only a claim).
    pub verified: bool,
}

#[derive(Debug, Serialize)]
pub struct PdbReport<'a> {
    pub host: &'a str,
    pub port: u16,
}

pub fn report(run: &TestRun) -> Report<'_> {
    Report {
        outcome: run.outcome(),
        input: InputReport {
            lines: run.lines,
            bytes: run.bytes,
        },
        tests: run
            .visible_tests()
            .map(|(_, t)| test_report(t, run.live))
            .collect(),
    }
}

fn test_report(t: &Test, live: bool) -> TestReport<'_> {
    TestReport {
        name: t.name.as_deref(),
        outcome: t.outcome(live),
        exit_code: t.exit_code,
        script_seconds: t.script_secs,
        global_timeout_seconds: t.global_timeout_secs,
        machines: t
            .machines
            .iter()
            .map(|m| MachineReport {
                name: &m.name,
                state: m.state,
                pid: m.pid,
                serial_lines: m.serial_lines,
                first_seen_line: m.first_seen_line + 1,
                boots: m.boots,
                boot_lines: boot_lines(&m.axis.history),
                states: &m.axis.history,
                silences: m
                    .axis
                    .silences_until(t.last)
                    .into_iter()
                    .take(SILENCES_SHOWN)
                    .collect(),
            })
            .collect(),
        steps: step_reports(t),
        steps_evicted: t.steps.evicted(),
        subtests: &t.subtests,
        junit: t.junit.as_ref(),
        failures: t
            .failures
            .iter()
            .map(|f| FailureReport {
                failure: f,
                line: f.line + 1,
            })
            .collect(),
        ssh: t
            .ssh
            .iter()
            .map(|e| SshReport {
                machine: &e.machine,
                command: &e.command,
                address: e.address.as_ref(),
                source: e.source,
            })
            .collect(),
        breakpoint: t.breakpoint.as_ref().map(|b| BreakpointReport {
            attach: &b.line.attach,
            id: &b.line.id,
            line: b.at_line + 1,
            verified: b.verified,
        }),
        pdb: t
            .pdb
            .as_ref()
            .map(|(host, port)| PdbReport { host, port: *port }),
        trigger: t.freeze.as_ref().map(|f| TriggerReport {
            kind: f.kind,
            line: f.line + 1,
        }),
        warnings: t
            .warnings
            .iter()
            .map(|w| WarningReport {
                text: &w.text,
                count: w.count,
                first_line: w.first_line + 1,
            })
            .collect(),
        screenshots: super::shots::shots(t)
            .into_iter()
            .map(|x| ShotReport {
                machine: t.machines[x.machine].name.clone(),
                name: x.name,
                state: x.state,
                start: x.at.into(),
            })
            .collect(),
        ocr: super::shots::ocr(t)
            .into_iter()
            .map(|o| OcrReport {
                machine: t.machines[o.machine].name.clone(),
                pattern: o.pattern,
                state: o.state,
                read: o.read,
                start: o.at.into(),
            })
            .collect(),
        driver_lines: t.driver.end_seq(),
    }
}

/// Silences each machine reports.
const SILENCES_SHOWN: usize = 3;

/// The input lines where each boot began.
fn boot_lines(history: &[StateChange]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut boot = 0;
    for c in history {
        if c.boot > boot {
            boot = c.boot;
            out.push(c.line);
        }
    }
    out
}

/// Nesting shown at most, in the JSON and the text: a log can open a million steps inside
/// each other, and output must stay linear in the input. Deeper steps are listed under
/// their ancestor at this depth, in order.
pub const MAX_SHOWN_DEPTH: usize = 16;

/// Steps in tree order (pre-order), each with its depth: an explicit stack, so no depth of
/// nesting can overflow the call stack.
pub fn walk(t: &Test) -> Vec<(StepId, usize)> {
    let mut out = Vec::with_capacity(t.steps.len());
    let mut stack: Vec<(StepId, usize)> = t.roots.iter().rev().map(|&id| (id, 0)).collect();
    while let Some((id, depth)) = stack.pop() {
        let Some(s) = t.step(id) else { continue };
        out.push((id, depth));
        stack.extend(s.children.iter().rev().map(|&c| (c, depth + 1)));
    }
    out
}

fn step_reports(t: &Test) -> Vec<StepReport<'_>> {
    let order = walk(t);
    // Where each step is shown: under the step before it at one depth less, deeper ones
    // under the ancestor at the last shown depth.
    let mut parent: Vec<Option<usize>> = Vec::with_capacity(order.len());
    let mut path: Vec<usize> = Vec::new();
    for (i, &(_, depth)) in order.iter().enumerate() {
        let shown = depth.min(MAX_SHOWN_DEPTH);
        path.truncate(shown);
        parent.push(path.last().copied());
        if shown < MAX_SHOWN_DEPTH {
            path.push(i);
        }
    }
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => kids[*p].push(i),
            None => roots.push(i),
        }
    }
    let mut built: Vec<Option<StepReport<'_>>> = (0..order.len()).map(|_| None).collect();
    // Children come after their parent in tree order: build from the end.
    for i in (0..order.len()).rev() {
        let s = &t.steps[order[i].0 as usize];
        let children = kids[i].iter().filter_map(|&k| built[k].take()).collect();
        built[i] = Some(StepReport {
            title: &s.title,
            kind: s.kind,
            machine: s.machine.as_deref(),
            state: s.state,
            seconds: s.secs,
            start: s.began.into(),
            end: s.ended.map(Point::from),
            children,
        });
    }
    roots.into_iter().filter_map(|i| built[i].take()).collect()
}

pub fn json(run: &TestRun) -> String {
    serde_json::to_string_pretty(&report(run)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The same document written out as it is made, not held whole in memory.
pub fn json_to(run: &TestRun, out: impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(out, &report(run)).map_err(std::io::Error::from)
}

/// Glyph of a step state, shared by `inspect` and the driver pane.
pub fn state_mark(state: StepState) -> &'static str {
    match state {
        StepState::Passed => "✓",
        StepState::Failed => "✗",
        StepState::Running => "…",
        StepState::Unclosed => "?",
    }
}

pub fn text(run: &TestRun) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "outcome: {}    input: {} lines, {} bytes",
        run.outcome().label(),
        run.lines,
        run.bytes
    );
    for (_, t) in run.visible_tests() {
        let _ = writeln!(out);
        let _ = write!(
            out,
            "test: {}    outcome: {}",
            t.name.as_deref().unwrap_or("(unnamed)"),
            t.outcome(run.live).label()
        );
        if let Some(c) = t.exit_code {
            let _ = write!(out, "    exit code: {c}");
        }
        if let Some(s) = t.script_secs {
            let _ = write!(out, "    script: {s:.2}s");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "machines ({}):", t.machines.len());
        let width = t.machines.iter().map(|m| m.name.len()).max().unwrap_or(0);
        for m in &t.machines {
            let pid = m.pid.map(|p| format!("pid {p}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:width$}  {:11}  {:10}  {} serial lines",
                m.name,
                m.state.label(),
                pid,
                m.serial_lines
            );
        }
        if !t.roots.is_empty() {
            let _ = writeln!(out, "steps:");
            let gone = t.steps.evicted();
            if gone > 0 {
                let _ = writeln!(
                    out,
                    "  ⋯ {gone} earlier steps left memory (--max-steps); the whole log has them"
                );
            }
            steps_text(&mut out, t);
        }
        if !t.subtests.is_empty() {
            let _ = writeln!(out, "subtests:");
            for s in &t.subtests {
                let secs = s.secs.map(|x| format!(" ({x:.2}s)")).unwrap_or_default();
                let err = s
                    .error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "  {} {}{secs}{err}", state_mark(s.state), s.name);
            }
        }
        let shots = super::shots::shots(t);
        if !shots.is_empty() {
            let _ = writeln!(out, "screenshots:");
            for x in &shots {
                let m = &t.machines[x.machine].name;
                let _ = writeln!(out, "  {} {m}: {}", state_mark(x.state), x.name);
            }
        }
        for o in super::shots::ocr(t).iter().filter(|o| !o.read.is_empty()) {
            let m = &t.machines[o.machine].name;
            let read = o
                .read
                .first()
                .map_or(String::new(), |r| r.replace('\n', " ⏎ "));
            let _ = writeln!(out, "OCR on {m} waited for {}, read: {read}", o.pattern);
        }
        if let Some(j) = &t.junit {
            let _ = writeln!(out, "{}", crate::vm::junit::report::said(j));
            for d in &j.disagree {
                let _ = writeln!(out, "  ! {d}");
            }
        }
        if !t.failures.is_empty() {
            let _ = writeln!(out, "failures:");
            if t.failures_dropped > 0 {
                let _ = writeln!(
                    out,
                    "  ⋯ {} more failures not kept: the last one shown is the newest",
                    t.failures_dropped
                );
            }
            for f in &t.failures {
                let kind = serde_json::to_string(&f.kind).unwrap_or_default();
                let exc = f
                    .exception
                    .as_deref()
                    .map(|e| format!("{e}: "))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  [{}] {exc}{}  (line {})",
                    kind.trim_matches('"'),
                    f.message,
                    f.line + 1
                );
                let mut ctx = Vec::new();
                if let Some(m) = &f.machine {
                    ctx.push(format!("machine: {m}"));
                }
                if let Some(s) = &f.subtest {
                    ctx.push(format!("subtest: {s}"));
                }
                if let Some(c) = &f.command {
                    ctx.push(format!("command: {c}"));
                }
                if let Some(n) = f.script_line {
                    ctx.push(format!("script line: {n}"));
                }
                if !ctx.is_empty() {
                    let _ = writeln!(out, "    {}", ctx.join("  "));
                }
                if let Some(h) = &f.hint {
                    let _ = writeln!(out, "    hint: {h}");
                }
                for l in &f.traceback {
                    let _ = writeln!(out, "    | {l}");
                }
            }
        }
        if !t.warnings.is_empty() {
            let _ = writeln!(out, "warnings:");
            for w in &t.warnings {
                let _ = writeln!(
                    out,
                    "  {}× {}  (first at line {})",
                    w.count,
                    w.text,
                    w.first_line + 1
                );
            }
        }
        if !t.ssh.is_empty() {
            let _ = writeln!(out, "ssh backdoor:");
            for e in &t.ssh {
                let _ = writeln!(out, "  {}: {}", e.machine, e.command);
            }
        }
        if let Some(b) = &t.breakpoint {
            let _ = writeln!(
                out,
                "breakpoint: sudo {} {}  (line {})",
                b.line.attach,
                b.line.id,
                b.at_line + 1
            );
        }
        if let Some((h, p)) = &t.pdb {
            let _ = writeln!(out, "pdb: {h}:{p}");
        }
        if let Some(f) = &t.freeze {
            let _ = writeln!(out, "stopped by: {} (line {})", f.kind.label(), f.line + 1);
        }
    }
    out
}

fn steps_text(out: &mut String, t: &Test) {
    for (id, depth) in walk(t) {
        let s = &t.steps[id as usize];
        let secs = s.secs.map(|x| format!(" ({x:.2}s)")).unwrap_or_default();
        let who = s
            .machine
            .as_deref()
            .map(|m| format!("{m}: "))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}{} {who}{}{secs}",
            "  ".repeat(1 + depth.min(MAX_SHOWN_DEPTH)),
            state_mark(s.state),
            s.title
        );
    }
}

/// A file name for a machine or test: only name characters, never `.` or `..` alone.
pub fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        format!("_{s}")
    } else {
        s
    }
}
