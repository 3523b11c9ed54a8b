//! `inspect --junit`: JUnit XML in the shape the driver's own reporter writes (nixpkgs'
//! `junit_xml_output.xml` golden file): tab-indented, one `<testcase>` per subtest with its
//! time, `<failure message="test case failed"/>` and the error in `<system-err>` when it
//! failed, the subtest's lines in `<system-out>`; a single `main` case when the test has no
//! subtests.

pub mod report;

use std::fmt::Write as _;

use super::model::{StepKind, StepState, Test, TestRun};
use super::{Outcome, model::line_kind};

/// Lines of a case's `<system-out>` at most.
const MAX_OUT_LINES: usize = 2000;

struct Case {
    name: String,
    secs: f64,
    failed: bool,
    out: String,
    err: String,
}

fn cases(t: &Test, live: bool) -> Vec<Case> {
    let mut out: Vec<Case> = t
        .subtests
        .iter()
        .map(|s| {
            // The subtest's step holds its lines: the newest step of that name.
            let step = t
                .steps
                .iter()
                .filter(|st| st.kind == StepKind::Subtest)
                .filter(|st| st.title.strip_prefix("subtest: ") == Some(s.name.as_str()))
                .last();
            let lines = step.map(|st| {
                let end = st.end.unwrap_or(t.driver.end_seq());
                (st.head..end)
                    .filter_map(|seq| t.driver.get(seq))
                    .filter(|l| l.kind != line_kind::STEP_END)
                    .take(MAX_OUT_LINES)
                    .map(|l| l.plain().into_owned())
                    .collect::<Vec<_>>()
            });
            let failed = s.state == StepState::Failed;
            Case {
                name: s.name.clone(),
                secs: s.secs.unwrap_or(0.0),
                failed,
                out: lines.map(|l| l.join("\n") + "\n").unwrap_or_default(),
                err: if failed {
                    s.error.clone().map(|e| e + "\n").unwrap_or_default()
                } else {
                    String::new()
                },
            }
        })
        .collect();
    if out.is_empty() {
        let failed = matches!(t.outcome(live), Outcome::Failed | Outcome::TimedOut);
        out.push(Case {
            name: "main".into(),
            secs: t.script_secs.unwrap_or(0.0),
            failed,
            out: String::new(),
            err: if failed {
                t.main_failure()
                    .map(|f| f.message.clone() + "\n")
                    .unwrap_or_default()
            } else {
                String::new()
            },
        });
    }
    out
}

/// Text for XML: markup escaped, and what XML 1.0 cannot hold (control characters but
/// tab and newline) left out.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn secs(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:.2}")
    }
}

/// The run as JUnit XML.
pub fn xml(run: &TestRun) -> String {
    let tests: Vec<(&Test, Vec<Case>)> = run
        .visible_tests()
        .map(|(_, t)| (t, cases(t, run.live)))
        .collect();
    let count: usize = tests.iter().map(|(_, c)| c.len()).sum();
    let failures: usize = tests
        .iter()
        .map(|(_, c)| c.iter().filter(|x| x.failed).count())
        .sum();
    let total: f64 = tests.iter().flat_map(|(_, c)| c).map(|c| c.secs).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites tests=\"{count}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{}\">",
        secs(total)
    );
    let many = tests.len() > 1;
    for (t, cases) in &tests {
        let name = match (&t.name, many) {
            (Some(n), true) => n.clone(),
            _ => "NixOS integration test".to_string(),
        };
        let failed = cases.iter().filter(|c| c.failed).count();
        let time: f64 = cases.iter().map(|c| c.secs).sum();
        let _ = writeln!(
            x,
            "\t<testsuite name=\"{}\" tests=\"{}\" errors=\"0\" failures=\"{failed}\" skipped=\"0\" time=\"{}\">",
            esc(&name),
            cases.len(),
            secs(time)
        );
        for c in cases {
            let head = format!(
                "\t\t<testcase name=\"{}\" time=\"{}\"",
                esc(&c.name),
                secs(c.secs)
            );
            if !c.failed && c.out.is_empty() {
                let _ = writeln!(x, "{head}/>");
                continue;
            }
            let _ = writeln!(x, "{head}>");
            if c.failed {
                let _ = writeln!(x, "\t\t\t<failure message=\"test case failed\"/>");
            }
            if !c.out.is_empty() {
                let _ = writeln!(x, "\t\t\t<system-out>{}</system-out>", esc(&c.out));
            }
            if !c.err.is_empty() {
                let _ = writeln!(x, "\t\t\t<system-err>{}</system-err>", esc(&c.err));
            }
            let _ = writeln!(x, "\t\t</testcase>");
        }
        let _ = writeln!(x, "\t</testsuite>");
    }
    x.push_str("</testsuites>\n");
    x
}
