//! `log` and `inspect` take in the driver's own JUnit report of the same run: what a log cut
//! short does not show (the failing subtest of fail.stderr, which starts on its line 182)
//! comes from the report, and where the two disagree it is said.

mod common;

use std::path::Path;
use std::process::Command;

/// A report in the shape of the driver's (nixpkgs' golden `junit_xml_output.xml`): the
/// capture's two subtests, the second failed or not.
fn report(second_failed: bool) -> String {
    let failure = if second_failed {
        "\t\t\t<failure message=\"test case failed\"/>\n\t\t\t<system-err>Traceback (most recent call last):\n  File \"&lt;string&gt;\", line 14, in &lt;module&gt;\nRequestedAssertionFailed: command `false` failed (exit code 1)</system-err>\n"
    } else {
        ""
    };
    format!(
        "<?xml version='1.0' encoding='utf-8'?>\n<testsuites>\n\t<testsuite name=\"NixOS integration test\" tests=\"2\" failures=\"{}\">\n\t\t<testcase name=\"things that work\" time=\"1.52\"/>\n\t\t<testcase name=\"this one fails\" time=\"0.02\">\n{failure}\t\t</testcase>\n\t</testsuite>\n</testsuites>\n",
        u8::from(second_failed)
    )
}

/// fail.stderr's first `lines` lines into `dir/name`.
fn cut_log(dir: &Path, name: &str, lines: usize) -> std::path::PathBuf {
    let full = common::real_driver("fail.stderr");
    let text = String::from_utf8_lossy(&full);
    let cut: String = text.split_inclusive('\n').take(lines).collect();
    let path = dir.join(name);
    std::fs::write(&path, cut).unwrap();
    path
}

fn vmscope(args: &[&std::ffi::OsStr]) -> (String, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

/// `vmscope ARGS LOG --junit-xml XML`.
fn with_report(args: &[&str], log: &Path, xml: &Path) -> (String, String, Option<i32>) {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.extend([log.as_os_str(), "--junit-xml".as_ref(), xml.as_os_str()]);
    vmscope(&all)
}

#[test]
fn a_log_cut_before_its_failure_fails_by_the_report() {
    let dir = tempfile::tempdir().unwrap();
    // Up to the end of the first subtest: the log alone does not say how the run ended.
    let log = cut_log(dir.path(), "cut.log", 181);
    let (alone, _, code) = vmscope(&["log".as_ref(), log.as_os_str()]);
    assert_eq!(code, Some(0), "{alone}");
    assert!(!alone.contains("FAILED "), "{alone}");

    let xml = dir.path().join("results.xml");
    std::fs::write(&xml, report(true)).unwrap();
    let (text, _, code) = with_report(&["log"], &log, &xml);
    assert_eq!(code, Some(1), "{text}");
    let failed = text
        .lines()
        .find(|l| l.starts_with("FAILED "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        failed.starts_with("FAILED RequestedAssertionFailed: command `false` failed (exit code 1)"),
        "{failed}"
    );
    assert!(text.contains("  subtest: this one fails\n"), "{text}");
    assert!(
        text.contains("  hint: the log does not show this failure"),
        "{text}"
    );
    assert!(
        text.contains(": 2 cases, 1 failed; 1 subtest only in the report"),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().starts_with("test: FAILED"),
        "{text}"
    );

    // inspect --json carries the same, with the subtest the report added.
    let (json, _, code) = with_report(&["inspect", "--json"], &log, &xml);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let t = &v["tests"][0];
    assert_eq!(t["junit"]["added"], serde_json::json!(["this one fails"]));
    let subtests: Vec<(&str, &str)> = t["subtests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        subtests,
        [("things that work", "passed"), ("this one fails", "failed")]
    );
}

#[test]
fn a_builds_report_beside_the_log_is_read_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let log = cut_log(dir.path(), "build.log", 181);
    let beside = dir.path().join("result-junitXmlReport");
    std::fs::create_dir(&beside).unwrap();
    std::fs::write(beside.join("results.xml"), report(true)).unwrap();
    let (text, _, code) = vmscope(&["log".as_ref(), log.as_os_str()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("result-junitXmlReport/results.xml: 2 cases"),
        "{text}"
    );

    // One that cannot be read is said and passed over.
    std::fs::write(beside.join("results.xml"), "<html>").unwrap();
    let (text, err, code) = vmscope(&["log".as_ref(), log.as_os_str()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(err.contains("results.xml: not XML"), "{err}");
}

#[test]
fn where_the_log_and_the_report_disagree_it_is_said_and_the_log_stands() {
    let dir = tempfile::tempdir().unwrap();
    let log = cut_log(dir.path(), "full.log", usize::MAX);
    let xml = dir.path().join("results.xml");
    std::fs::write(&xml, report(false)).unwrap();
    let (text, _, code) = with_report(&["log"], &log, &xml);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("  ! subtest \"this one fails\" failed in the log, passed in the report"),
        "{text}"
    );
    // The log's own failure, once: the report added none.
    assert_eq!(text.lines().filter(|l| l.starts_with("FAILED ")).count(), 1);
}

#[test]
fn a_report_given_that_cannot_be_read_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = cut_log(dir.path(), "x.log", 20);
    for (content, says) in [
        (None, "No such file"),
        (Some("not xml at all"), "not XML"),
        (Some("<html/>"), "<html> where JUnit has <testsuites>"),
    ] {
        let xml = dir.path().join("r.xml");
        let _ = std::fs::remove_file(&xml);
        if let Some(c) = content {
            std::fs::write(&xml, c).unwrap();
        }
        let (_, err, code) = with_report(&["log"], &log, &xml);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("JUnit report") && err.contains(says), "{err}");
    }
}

#[test]
fn on_the_screen_the_reports_failure_opens_the_failure_view() {
    let dir = tempfile::tempdir().unwrap();
    let log = cut_log(dir.path(), "cut.log", 181);
    let xml = dir.path().join("results.xml");
    std::fs::write(&xml, report(true)).unwrap();
    let (log, xml) = (log.display().to_string(), xml.display().to_string());
    let mut t = common::pty::Term::spawn(&["log", &log, "--junit-xml", &xml], 160, 48);
    t.wait_text("TEST FAILED", 10);
    t.wait_text("the log does not show this failure", 5);
    t.wait_text("this one fails", 5);
    t.wait_text("1 subtest only in the report", 5);
    t.keys("q");
    t.wait_exit(10);
}
