//! Plain output for CI, where stdout is no terminal (or with `--plain`): a line per step as
//! it finishes, with its duration and outcome, each failure in full with the failing
//! machine's last console lines, and a closing summary. What is printed never changes once
//! printed, so it can be written as a live run goes and read as a log. With `serial`, each
//! machine's console lines come too, prefixed with its name, in the order they were read.
//!
//! Every line printed starts with text of vmscope's own (a mark, an indent, a machine's
//! name): no guest line can pass for a CI runner's command, such as GitHub's `::error::`.

pub mod live;

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
    /// Print the machines' console lines too.
    pub serial: bool,
    /// Steps printed, per test.
    steps: HashSet<(usize, StepId)>,
    /// Failures printed, per test (their count).
    failures: Vec<usize>,
    /// Console lines printed, per test and machine (the next sequence number).
    consoles: Vec<Vec<u64>>,
    /// Each test's revision when its steps were last looked at: console lines alone leave
    /// it as it was, and the step tree need not be walked again.
    seen: Vec<u64>,
}

/// What `update` prints, in the order it was read.
enum Item {
    Step(StepId, usize),
    Failure(usize),
    Serial(usize, u64),
}

impl Plain {
    /// A printer; `serial`: the machines' console lines too.
    pub fn new(serial: bool) -> Self {
        Self {
            serial,
            ..Default::default()
        }
    }

    /// Prints what finished since the last call: steps that ended, failures reported.
    pub fn update(&mut self, run: &TestRun, out: &mut impl Write) -> io::Result<()> {
        let many = run.visible_tests().count() > 1;
        for (ti, t) in run.visible_tests() {
            if self.failures.len() <= ti {
                self.failures.resize(ti + 1, 0);
                self.seen.resize(ti + 1, u64::MAX);
            }
            let changed = std::mem::replace(&mut self.seen[ti], t.revision) != t.revision;
            let test = if many {
                format!("[{}] ", t.name.as_deref().unwrap_or("test"))
            } else {
                String::new()
            };
            // Steps in the order they ended; a step still open waits.
            let walked = if changed {
                crate::vm::export::walk(t)
            } else {
                Vec::new()
            };
            let mut items: Vec<(u64, Item)> = walked
                .into_iter()
                .filter_map(|(id, depth)| {
                    let s = t.step(id)?;
                    let done = matches!(s.state, StepState::Passed | StepState::Failed);
                    (done && !s.title.is_empty() && !self.steps.contains(&(ti, id)))
                        .then(|| (s.ended.map_or(u64::MAX, |e| e.at), Item::Step(id, depth)))
                })
                .collect();
            // Failures come where they were reported among the steps that ended.
            let failures = (self.failures[ti]..t.failures.len()).map(|i| {
                let at = crate::vm::store::Stamp::line_end(t.failures[i].line + 1);
                (at, Item::Failure(i))
            });
            items.extend(failures);
            if self.serial {
                if self.consoles.len() <= ti {
                    self.consoles.resize(ti + 1, Vec::new());
                }
                let printed = &mut self.consoles[ti];
                printed.resize(t.machines.len(), 0);
                for (mi, m) in t.machines.iter().enumerate() {
                    // Lines evicted before they could be printed are gone from memory.
                    let from = printed[mi].max(m.serial.first_seq());
                    items.extend(
                        m.serial
                            .iter_from(from)
                            .map(|(seq, l)| (l.stamp().at, Item::Serial(mi, seq))),
                    );
                    printed[mi] = m.serial.end_seq();
                }
            }
            // A stable sort: what shares a position keeps the order it was gathered in.
            items.sort_by_key(|(at, _)| *at);
            for (_, item) in items {
                match item {
                    Item::Failure(i) => failure(t, &t.failures[i], &test, out)?,
                    Item::Serial(mi, seq) => {
                        let m = &t.machines[mi];
                        if let Some(l) = m.serial.get(seq) {
                            let text = l.plain();
                            let sep = if text.is_empty() { "" } else { " " };
                            writeln!(out, "{test}{} |{sep}{text}", m.name)?;
                        }
                    }
                    Item::Step(id, depth) => {
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
                }
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
            if let Some(j) = &t.junit {
                writeln!(out, "{}", crate::vm::junit::report::said(j))?;
                for d in &j.disagree {
                    writeln!(out, "  ! {d}")?;
                }
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

/// GitHub Actions' workflow commands: an `::error` per failure and a `::warning` per
/// warning text, what they say escaped so that no text (a guest's, in a failing command's
/// output) can end the command and start another.
pub fn github(run: &TestRun, out: &mut impl Write) -> io::Result<()> {
    for (_, t) in run.visible_tests() {
        let name = t.name.as_deref().unwrap_or("NixOS test");
        for f in &t.failures {
            let what = match &f.exception {
                Some(e) => format!("{e}: {}", f.message),
                None => f.message.clone(),
            };
            let mut title = format!("{name} failed");
            if let Some(m) = &f.machine {
                title.push_str(&format!(" on {m}"));
            }
            writeln!(
                out,
                "::error title={}::{} (line {})",
                escape_property(&title),
                escape_data(&what),
                f.line + 1
            )?;
        }
        for w in &t.warnings {
            writeln!(
                out,
                "::warning title={}::{} ({}x, first on line {})",
                escape_property(&format!("{name}: a driver warning")),
                escape_data(&w.text),
                w.count,
                w.first_line + 1
            )?;
        }
    }
    out.flush()
}

/// A workflow command's message: `%`, CR and LF escaped.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property: also `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Appends the job summary to `$GITHUB_STEP_SUMMARY`, where GitHub Actions sets it.
pub fn summarize(run: &crate::vm::TestRun) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("GITHUB_STEP_SUMMARY {}: {e}", path.to_string_lossy()))?;
    f.write_all(github_summary(run).as_bytes())?;
    Ok(())
}

/// Whether GitHub Actions' annotations are wanted: asked for, or running there.
pub fn github_on(asked: bool) -> bool {
    asked || std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// The job summary (Markdown, for `$GITHUB_STEP_SUMMARY`): each test's outcome, its steps
/// that failed, its failures with the failing machine's last lines. What the run printed is
/// set in code blocks whose fence is longer than any backtick run in it, so it stays text.
pub fn github_summary(run: &TestRun) -> String {
    let mut md = String::new();
    for (_, t) in run.visible_tests() {
        let name = t.name.as_deref().unwrap_or("NixOS test");
        let outcome = t.outcome(run.live);
        let mark = match outcome {
            Outcome::Passed => "✅",
            Outcome::Failed | Outcome::TimedOut => "❌",
            _ => "⚪",
        };
        md.push_str(&format!(
            "### {mark} {} — {}\n\n",
            code(name),
            outcome.label()
        ));
        md.push_str("| machines | steps passed | steps failed | failures | warnings |\n");
        md.push_str("|---:|---:|---:|---:|---:|\n");
        let passed = t
            .steps
            .iter()
            .filter(|s| s.state == StepState::Passed)
            .count();
        let failed = t
            .steps
            .iter()
            .filter(|s| s.state == StepState::Failed)
            .count();
        let warnings: u64 = t.warnings.iter().map(|w| w.count).sum();
        md.push_str(&format!(
            "| {} | {passed} | {failed} | {} | {warnings} |\n\n",
            t.machines.len(),
            t.failures.len()
        ));
        for f in &t.failures {
            let mut text = Vec::new();
            let _ = failure(t, f, "", &mut text);
            md.push_str(&fenced(&String::from_utf8_lossy(&text)));
        }
    }
    md
}

/// Text as inline code, its backticks outnumbered by the fence.
fn code(s: &str) -> String {
    let fence = "`".repeat(longest_run(s, '`') + 1);
    format!("{fence} {s} {fence}")
}

fn fenced(s: &str) -> String {
    let fence = "`".repeat((longest_run(s, '`') + 1).max(3));
    format!("{fence}text\n{}\n{fence}\n\n", s.trim_end())
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_text_ends_a_workflow_command_or_a_code_block() {
        assert_eq!(
            escape_data("a\n::set-env name=X::y\r100%"),
            "a%0A::set-env name=X::y%0D100%25"
        );
        assert_eq!(escape_property("x: a, b"), "x%3A a%2C b");
        let block = fenced("```\n# not a heading\n````");
        assert!(block.starts_with("`````text\n"), "{block}");
        assert!(block.ends_with("\n`````\n\n"));
    }
}
