//! The driver's own JUnit report (`--junit-xml`, or the `junitXmlReport` output of a test's
//! derivation: `result-junitXmlReport/results.xml`), read beside a log: a second source of
//! the subtests' outcomes, written by the driver when it exits. It tells what a log cut
//! short or printed at `--log-level error` (no `!!!` lines) cannot.
//!
//! Both writers the driver has had are read: `junit_xml` (`<testsuites>` around one
//! `<testsuite>`) and junitparser's pretty-printed golden shape; a case failed when it holds
//! `<failure>` or `<error>`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::vm::model::{Failure, FailureKind, StepState, Subtest, Test, TestRun, TriggerKind};

/// Bytes of a report read at most: a report is small, a file this big is something else.
const MAX_BYTES: u64 = 64 << 20;

/// Where the test's derivation puts the report, beside the `result` link of a build.
pub const BESIDE: &str = "result-junitXmlReport/results.xml";

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub name: String,
    pub secs: Option<f64>,
    pub failed: bool,
    pub skipped: bool,
    /// The failure's `message` attribute and text, and the case's `<system-err>`.
    pub error: Option<String>,
}

/// A report as read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub path: PathBuf,
    pub cases: Vec<Case>,
}

/// What a report added to a test, and where it and the log disagree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reconciled {
    pub path: String,
    pub cases: usize,
    pub failed: usize,
    /// Subtests the log does not show, taken from the report.
    pub added: Vec<String>,
    /// Subtests whose outcome the log and the report tell differently, said in words.
    pub disagree: Vec<String>,
}

/// A line that says what a report told: `JUnit report PATH: 3 cases, 1 failed; 1 subtest
/// only in the report; 1 disagreement`.
pub fn said(r: &Reconciled) -> String {
    let mut s = format!(
        "JUnit report {}: {} case{}, {} failed",
        r.path,
        r.cases,
        if r.cases == 1 { "" } else { "s" },
        r.failed
    );
    if !r.added.is_empty() {
        s.push_str(&format!(
            "; {} subtest{} only in the report",
            r.added.len(),
            if r.added.len() == 1 { "" } else { "s" }
        ));
    }
    if !r.disagree.is_empty() {
        s.push_str(&format!(
            "; {} disagreement{} with the log",
            r.disagree.len(),
            if r.disagree.len() == 1 { "" } else { "s" }
        ));
    }
    s
}

/// Reads the report at `path`: a clear error when it is missing, too big or no JUnit.
pub fn read(path: &Path) -> Result<Report, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("JUnit report {shown}: {e}"))?;
    if meta.len() > MAX_BYTES {
        return Err(format!(
            "JUnit report {shown}: {} bytes is more than a report holds",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("JUnit report {shown}: {e}"))?;
    parse(&text)
        .map(|cases| Report {
            path: path.to_path_buf(),
            cases,
        })
        .map_err(|e| format!("JUnit report {shown}: {e}"))
}

/// The cases of a JUnit document, in its order.
pub fn parse(text: &str) -> Result<Vec<Case>, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("not XML: {e}"))?;
    let root = doc.root_element();
    if !matches!(root.tag_name().name(), "testsuites" | "testsuite") {
        return Err(format!(
            "<{}> where JUnit has <testsuites> or <testsuite>",
            root.tag_name().name()
        ));
    }
    let mut cases = Vec::new();
    for case in root.descendants().filter(|n| n.has_tag_name("testcase")) {
        let child = |tag: &str| case.children().find(|n| n.has_tag_name(tag));
        let problem = child("failure").or_else(|| child("error"));
        let mut error: Vec<String> = Vec::new();
        if let Some(p) = problem {
            error.extend(p.attribute("message").map(str::to_string));
            error.extend(
                p.text()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            );
        }
        if let Some(err) = child("system-err").and_then(|n| n.text()) {
            let err = err.trim();
            if !err.is_empty() {
                error.push(err.to_string());
            }
        }
        cases.push(Case {
            name: case.attribute("name").unwrap_or("").to_string(),
            secs: case.attribute("time").and_then(|t| t.parse().ok()),
            failed: problem.is_some(),
            skipped: child("skipped").is_some(),
            error: (!error.is_empty()).then(|| error.join("\n")),
        });
    }
    Ok(cases)
}

/// The report beside a log file, where a build leaves it, if there is one.
pub fn beside(log: &Path) -> Option<PathBuf> {
    let p = log.parent()?.join(BESIDE);
    p.is_file().then_some(p)
}

impl Report {
    /// Takes the report's outcomes into the run's test (the only one with machines or
    /// steps, or the first): subtests the log lacks are added, a failure the log does not
    /// show becomes one, and where the two disagree it is said.
    pub fn apply(&self, run: &mut TestRun) {
        let i = run.tests.iter().position(|t| !t.is_empty()).unwrap_or(0);
        if let Some(t) = run.tests.get_mut(i) {
            let r = self.apply_to(t, run.lines);
            t.junit = Some(r);
        }
    }

    fn apply_to(&self, t: &mut Test, end_line: u64) -> Reconciled {
        // What is drawn from the test's subtests and failures is drawn again.
        t.revision += 1;
        let mut r = Reconciled {
            path: self.path.display().to_string(),
            cases: self.cases.len(),
            failed: self.cases.iter().filter(|c| c.failed).count(),
            ..Default::default()
        };
        let had_failure = t
            .failures
            .iter()
            .any(|f| f.kind != FailureKind::KernelPanic);
        let mut failures = Vec::new();
        for c in &self.cases {
            // `main` is the whole script, written only when there are no subtests.
            if c.name == "main" && t.subtest_mut("main").is_none() {
                if c.failed && !had_failure {
                    failures.push(c);
                }
                continue;
            }
            let state = if c.failed {
                StepState::Failed
            } else {
                StepState::Passed
            };
            match t.subtest_mut(&c.name) {
                Some(s) => {
                    let logged = s.state;
                    if s.secs.is_none() {
                        s.secs = c.secs;
                    }
                    match (logged, c.failed) {
                        (StepState::Failed, false) => r.disagree.push(format!(
                            "subtest {:?} failed in the log, passed in the report",
                            c.name
                        )),
                        (StepState::Passed, true) => {
                            r.disagree.push(format!(
                                "subtest {:?} passed in the log, failed in the report",
                                c.name
                            ));
                            s.state = StepState::Failed;
                        }
                        (StepState::Failed | StepState::Passed, _) => {}
                        // The log stopped inside it: the report knows how it ended.
                        _ => s.state = state,
                    }
                    if c.failed && s.error.is_none() {
                        s.error = c.error.clone();
                    }
                }
                None => {
                    r.added.push(c.name.clone());
                    t.add_subtest(Subtest {
                        name: c.name.clone(),
                        state,
                        secs: c.secs,
                        error: c.error.clone(),
                    });
                }
            }
            if c.failed
                && !t
                    .failures
                    .iter()
                    .any(|f| f.subtest.as_deref() == Some(&c.name))
            {
                failures.push(c);
            }
        }
        for c in failures {
            let (exception, message, traceback) = what_failed(c.error.as_deref().unwrap_or(""));
            let subtest = (c.name != "main").then(|| c.name.clone());
            t.failures.push(Failure {
                kind: FailureKind::Subtest,
                exception,
                message,
                machine: None,
                subtest,
                command: None,
                traceback,
                line: end_line.saturating_sub(1),
                script_line: None,
                hint: Some(format!(
                    "the log does not show this failure: it is the driver's JUnit report's ({})",
                    self.path.display()
                )),
            });
            // The end of the log is the moment the failure view shows.
            let line = end_line.saturating_sub(1);
            if t.freeze_now(TriggerKind::Failure, line, None)
                && let Some(f) = &mut t.freeze
            {
                f.failure = Some(t.failures.len() - 1);
            }
        }
        // A report that every case passed is the driver's word that the script ended.
        if r.failed == 0 && r.cases > 0 && t.failures.is_empty() {
            t.passed_evidence = true;
        }
        r
    }
}

/// The exception, its message and the traceback a case's error text holds: a Python
/// traceback ends with `Name: message`; anything else is a message as it is.
fn what_failed(error: &str) -> (Option<String>, String, Vec<String>) {
    let lines: Vec<&str> = error
        .lines()
        .filter(|l| !l.trim().is_empty() && l.trim() != "test case failed")
        .collect();
    let Some(i) = lines.iter().position(|l| l.starts_with("Traceback")) else {
        let message = lines.first().map_or("test case failed", |l| l.trim());
        return (None, message.to_string(), Vec::new());
    };
    let frames = &lines[i..];
    let last = frames.last().map_or("", |l| l.trim());
    let named = last.split_once(": ").filter(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    });
    let traceback = frames.iter().map(|l| l.to_string()).collect();
    match named {
        Some((name, msg)) => (Some(name.to_string()), msg.to_string(), traceback),
        None => (None, last.to_string(), traceback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nixpkgs' golden file for the junitparser reporter, in its shape: tab-indented, a
    /// case per subtest, `<failure message="test case failed"/>`.
    const GOLDEN: &str = "<?xml version='1.0' encoding='utf-8'?>\n<testsuites tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"3.5\">\n\t<testsuite name=\"NixOS integration test\" tests=\"2\" errors=\"0\" failures=\"1\" skipped=\"0\" time=\"3.5\">\n\t\t<testcase name=\"my subtest\" time=\"1.25\">\n\t\t\t<system-out>machine: must succeed: true</system-out>\n\t\t</testcase>\n\t\t<testcase name=\"broken &amp; &lt;odd&gt;\" time=\"2.25\">\n\t\t\t<failure message=\"test case failed\"/>\n\t\t\t<system-err>Traceback (most recent call last):\nAssertionError: 1 != 2</system-err>\n\t\t</testcase>\n\t</testsuite>\n</testsuites>\n";

    #[test]
    fn the_golden_shape_is_read_with_its_failures() {
        let cases = parse(GOLDEN).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].name, "my subtest");
        assert_eq!(cases[0].secs, Some(1.25));
        assert!(!cases[0].failed && cases[0].error.is_none());
        assert_eq!(cases[1].name, "broken & <odd>");
        assert!(cases[1].failed);
        let err = cases[1].error.as_deref().unwrap();
        assert!(err.starts_with("test case failed\nTraceback"), "{err}");
        assert!(err.ends_with("AssertionError: 1 != 2"));
    }

    #[test]
    fn what_is_no_junit_is_a_clear_error() {
        assert!(parse("<html></html>").unwrap_err().contains("<html>"));
        assert!(parse("not xml").unwrap_err().starts_with("not XML"));
        // A bare <testsuite> (junit_xml with one suite) is JUnit too.
        let one = "<testsuite><testcase name=\"main\" time=\"1\"><error message=\"x\"/></testcase></testsuite>";
        let cases = parse(one).unwrap();
        assert!(cases[0].failed);
        assert_eq!(cases[0].error.as_deref(), Some("x"));
    }

    #[test]
    fn our_own_junit_output_reads_back_as_the_same_cases() {
        let text = include_bytes!("../../../tests/fixtures/real-driver/fail.stderr");
        let mut parser = crate::vm::Parser::new(
            crate::vm::Caps::default(),
            crate::vm::ParseOptions::default(),
        );
        parser.feed(text, crate::vm::store::NO_TIME);
        parser.finish();
        let xml = crate::vm::junit::xml(&parser.run);
        let cases = parse(&xml).unwrap();
        let t = &parser.run.tests[0];
        assert_eq!(cases.len(), t.subtests.len().max(1));
        for (c, s) in cases.iter().zip(&t.subtests) {
            assert_eq!(c.name, s.name);
            assert_eq!(c.failed, s.state == StepState::Failed);
        }
    }
}
