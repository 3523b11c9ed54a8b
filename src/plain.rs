//! Plain output for CI, where stdout is no terminal (or with `--plain`): a line per step as
//! it finishes, with its duration and outcome, each failure in full with the failing
//! machine's last console lines, and a closing summary. What is printed never changes once
//! printed, so it can be written as a live run goes and read as a log.

use std::collections::HashSet;
use std::io::{self, Write};

use crate::vm::export::state_mark;
use crate::vm::model::{Failure, StepId, StepState, Test};
use crate::vm::{Outcome, TestRun};

/// Console lines of the failing machine shown with a failure.
const LAST_LINES: usize = 12;

/// What has been printed of a run so far.
#[derive(Debug, Default)]
pub struct Plain {
    /// Steps printed, per test.
    steps: HashSet<(usize, StepId)>,
    /// Failures printed, per test (their count).
    failures: Vec<usize>,
}

impl Plain {
    /// Prints what finished since the last call: steps that ended, failures reported.
    pub fn update(&mut self, run: &TestRun, out: &mut impl Write) -> io::Result<()> {
        let many = run.visible_tests().count() > 1;
        for (ti, t) in run.visible_tests() {
            if self.failures.len() <= ti {
                self.failures.resize(ti + 1, 0);
            }
            let test = if many {
                format!("[{}] ", t.name.as_deref().unwrap_or("test"))
            } else {
                String::new()
            };
            // Steps in the order they ended; a step still open waits.
            let mut ended: Vec<(u64, StepId, usize)> = crate::vm::export::walk(t)
                .into_iter()
                .filter_map(|(id, depth)| {
                    let s = t.step(id)?;
                    let done = matches!(s.state, StepState::Passed | StepState::Failed);
                    (done && !s.title.is_empty() && !self.steps.contains(&(ti, id)))
                        .then(|| (s.ended.map_or(u64::MAX, |e| e.at), id, depth))
                })
                .collect();
            // Failures come where they were reported among the steps that ended.
            let failures = (self.failures[ti]..t.failures.len()).map(|i| {
                let at = crate::vm::store::Stamp::line_start(t.failures[i].line + 2) - 1;
                (at, u32::MAX, i)
            });
            ended.extend(failures);
            ended.sort();
            for (_, id, depth) in ended {
                if id == u32::MAX {
                    failure(t, &t.failures[depth], &test, out)?;
                    continue;
                }
                self.steps.insert((ti, id));
                let s = &t.steps[id as usize];
                let secs = s.secs.map(|x| format!(" ({x:.2} s)")).unwrap_or_default();
                let who = s
                    .machine
                    .as_deref()
                    .filter(|m| !s.title.starts_with(&format!("{m}: ")))
                    .map(|m| format!("{m}: "))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{test}{}{} {who}{}{secs}",
                    "  ".repeat(depth.min(8)),
                    state_mark(s.state),
                    s.title
                )?;
            }
            self.failures[ti] = t.failures.len();
        }
        out.flush()
    }

    /// The closing summary, after a last update; `exit`: the driver's status, when known.
    pub fn finish(&mut self, run: &TestRun, out: &mut impl Write) -> io::Result<()> {
        self.update(run, out)?;
        for (_, t) in run.visible_tests() {
            let steps = t.steps.iter().filter(|s| !s.title.is_empty());
            let (mut passed, mut failed, mut open) = (0, 0, 0);
            for s in steps {
                match s.state {
                    StepState::Passed => passed += 1,
                    StepState::Failed => failed += 1,
                    _ => open += 1,
                }
            }
            let name = t.name.as_deref().unwrap_or("test");
            let mut line = format!(
                "{name}: {} · {} machine{} · {passed} steps passed, {failed} failed",
                t.outcome(run.live).label(),
                t.machines.len(),
                if t.machines.len() == 1 { "" } else { "s" },
            );
            if open > 0 {
                line.push_str(&format!(", {open} never ended"));
            }
            if !t.failures.is_empty() {
                line.push_str(&format!(
                    " · {} failure{}",
                    t.failures.len(),
                    plural(t.failures.len())
                ));
            }
            if !t.warnings.is_empty() {
                let n: u64 = t.warnings.iter().map(|w| w.count).sum();
                line.push_str(&format!(" · {n} warning{}", plural(n as usize)));
            }
            if let Some(c) = t.exit_code {
                line.push_str(&format!(" · exit {c}"));
            }
            writeln!(out, "{line}")?;
        }
        out.flush()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A failure in full: what failed, where, its traceback, the failing machine's last lines.
fn failure(t: &Test, f: &Failure, test: &str, out: &mut impl Write) -> io::Result<()> {
    let what = match &f.exception {
        Some(e) => format!("{e}: {}", f.message),
        None => f.message.clone(),
    };
    writeln!(out, "{test}FAILED {what} (line {})", f.line + 1)?;
    if let Some(m) = &f.machine {
        writeln!(out, "  machine: {m}")?;
    }
    if let Some(s) = &f.subtest {
        writeln!(out, "  subtest: {s}")?;
    }
    if let Some(c) = &f.command {
        writeln!(out, "  command: {c}")?;
    }
    if let Some(h) = &f.hint {
        writeln!(out, "  hint: {h}")?;
    }
    let frames: Vec<&String> = f
        .traceback
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Traceback"))
        .collect();
    if !frames.is_empty() {
        writeln!(out, "  traceback:")?;
        for l in frames {
            writeln!(out, "  {}", l.trim_end())?;
        }
    }
    let machine = f.machine.as_deref().and_then(|m| t.machine(m));
    if let Some(m) = machine.and_then(|i| t.machines.get(i)) {
        let upto = t
            .freeze
            .as_ref()
            .filter(|fz| fz.failure.is_some())
            .map_or(m.serial.end_seq(), |fz| fz.serial_end(machine.unwrap_or(0)));
        let from = upto
            .saturating_sub(LAST_LINES as u64)
            .max(m.serial.first_seq());
        let lines: Vec<String> = (from..upto)
            .filter_map(|seq| m.serial.get(seq).map(|l| l.plain().into_owned()))
            .collect();
        if !lines.is_empty() {
            writeln!(out, "  {}'s last console lines:", m.name)?;
            for l in lines {
                writeln!(out, "    {l}")?;
            }
        }
    }
    Ok(())
}

/// The status `log` exits with in plain mode: 0 passed, 1 failed or timed out, 0 when the
/// log does not say.
pub fn status(o: Outcome) -> i32 {
    match o {
        Outcome::Failed | Outcome::TimedOut => 1,
        _ => 0,
    }
}
