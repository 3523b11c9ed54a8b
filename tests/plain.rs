//! Plain mode: `vmscope log` with stdout a pipe prints what CI reads, and exits with the
//! outcome. The lines expected were read off the captures.

mod common;

fn plain(file: &str, extra: &[&str]) -> (String, Option<i32>) {
    let path = common::fixtures().join("real-driver").join(file);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .arg("log")
        .args(extra)
        .arg(&path)
        .output()
        .unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.code())
}

/// The index of the first line of `text` that is `line` exactly.
fn at(text: &str, line: &str) -> usize {
    text.lines()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line:?} not in:\n{text}"))
}

#[test]
fn a_failing_log_prints_its_steps_the_failure_in_full_and_a_summary() {
    let (text, code) = plain("fail.stderr", &[]);
    assert_eq!(code, Some(1));
    assert!(
        !text.contains('\x1b'),
        "no escape sequence in plain output:\n{text}"
    );
    // Steps as they ended, nested by indentation, with their durations.
    let things = at(&text, "  ✓ subtest: things that work (1.52 s)");
    let false_ = at(&text, "    ✗ machine2: must succeed: false");
    let fails = at(&text, "  ✗ subtest: this one fails");
    // The failure where it was reported: after the steps it ended, before cleanup.
    let failed = at(
        &text,
        "FAILED RequestedAssertionFailed: command `false` failed (exit code 1) (line 187)",
    );
    let cleanup = at(&text, "✓ cleanup (0.00 s)");
    assert!(things < fails && fails < false_ && false_ < failed && failed < cleanup);
    for line in [
        "  machine: machine2",
        "  subtest: this one fails",
        "  command: false",
        "    File \"<string>\", line 14, in <module>",
        "      machine2.succeed(\"false\")",
        "  machine2's last console lines:",
    ] {
        at(&text, line);
    }
    // machine2's console before the failure ended with `Starting Network Setup...` (line 177).
    let last = at(&text, "  machine2's last console lines:") + 12;
    assert_eq!(
        text.lines().nth(last),
        Some("             Starting Network Setup...")
    );
    assert_eq!(
        text.lines().last(),
        Some("test: FAILED · 2 machines · 10 steps passed, 3 failed · 1 failure")
    );
}

#[test]
fn a_passing_log_exits_0_and_a_timed_out_one_1() {
    let (text, code) = plain("pass.stderr", &[]);
    assert_eq!(code, Some(0));
    for sub in [
        "all machines reach multi-user.target (1.51 s)",
        "run commands on every machine (0.01 s)",
        "wait until a file appears (2.02 s)",
        "services (0.03 s)",
        "shut down machine3 (0.17 s)",
    ] {
        at(&text, &format!("  ✓ subtest: {sub}"));
    }
    assert!(text.ends_with("test: PASSED · 3 machines · 24 steps passed, 0 failed · 2 warnings\n"));
    let (text, code) = plain("timeout.stderr", &[]);
    assert_eq!(code, Some(1));
    at(
        &text,
        "FAILED the global timeout of 15 seconds was reached (line 108)",
    );
    at(&text, "    machine1 login:");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("test: TIMED OUT · 1 machine")
    );
}

#[test]
fn plain_is_asked_for_even_on_a_terminal() {
    let path = common::fixtures().join("real-driver/pass.stderr");
    let mut t = common::pty::Term::spawn(&["log", "--plain", path.to_str().unwrap()], 120, 40);
    assert_eq!(t.wait_exit(10), 0);
    let raw = String::from_utf8_lossy(&t.raw.lock().unwrap()).into_owned();
    assert!(raw.contains("test: PASSED · 3 machines"), "{raw}");
    assert!(!raw.contains("\x1b[?1049h"), "no full screen");
}

#[test]
fn on_github_actions_failures_and_warnings_are_annotated_and_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let run = |file: &str, flag: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"));
        cmd.arg("log");
        if flag {
            cmd.arg("--github");
        } else {
            cmd.env("GITHUB_ACTIONS", "true");
        }
        let out = cmd
            .arg(common::fixtures().join("real-driver").join(file))
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap();
        (String::from_utf8(out.stdout).unwrap(), out.status.code())
    };
    let (text, code) = run("fail.stderr", true);
    assert_eq!(code, Some(1));
    at(
        &text,
        "::error title=NixOS test failed on machine2::RequestedAssertionFailed: command `false` failed (exit code 1) (line 187)",
    );
    // The passing run's two bare-number timeouts are warnings, each once with its count.
    let (text, code) = run("pass.stderr", false);
    assert_eq!(code, Some(0));
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("::warning "))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        warnings
            .iter()
            .all(|w| w.contains("passing a bare int/float as a duration"))
    );
    // Both runs appended their summaries.
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### ❌ ` NixOS test ` — FAILED"), "{md}");
    assert!(md.contains("### ✅ ` NixOS test ` — PASSED"), "{md}");
    assert!(
        md.contains("```text\nFAILED RequestedAssertionFailed"),
        "{md}"
    );
    assert!(md.contains("| 2 | 10 | 3 | 1 | 0 |"), "{md}");
}

fn junit(path: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect", "--junit"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// The document without the text of `<system-out>` and `<system-err>`: its shape.
fn skeleton(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<system-") {
        out.push_str(&rest[..i]);
        let tag_end = rest[i..].find('>').unwrap() + i + 1;
        let tag = &rest[i + 1..tag_end - 1];
        let close = format!("</{tag}>");
        let j = rest[tag_end..].find(&close).unwrap() + tag_end;
        out.push_str(&format!("<{tag}>…{close}"));
        rest = &rest[j + close.len()..];
    }
    out.push_str(rest);
    out
}

#[test]
fn junit_has_the_drivers_reporter_shape() {
    // The shape of nixpkgs' golden junit_xml_output.xml (tab-indented, a case per subtest,
    // `failure message="test case failed"` and the error in system-err), with the subtests
    // of fail.stderr: `things that work` passed in 1.52 s, `this one fails` failed.
    let xml = junit(&common::fixtures().join("real-driver/fail.stderr"));
    let want = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
<testsuites tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"1.52\">\n\
\t<testsuite name=\"NixOS integration test\" tests=\"2\" errors=\"0\" failures=\"1\" skipped=\"0\" time=\"1.52\">\n\
\t\t<testcase name=\"things that work\" time=\"1.52\">\n\
\t\t\t<system-out>…</system-out>\n\
\t\t</testcase>\n\
\t\t<testcase name=\"this one fails\" time=\"0\">\n\
\t\t\t<failure message=\"test case failed\"/>\n\
\t\t\t<system-out>…</system-out>\n\
\t\t\t<system-err>…</system-err>\n\
\t\t</testcase>\n\
\t</testsuite>\n\
</testsuites>\n";
    assert_eq!(skeleton(&xml), want, "{xml}");
    assert!(xml.contains("<system-err>command `false` failed (exit code 1)\n</system-err>"));
    assert!(xml.contains("machine1: must succeed: echo everything is fine"));
    // Well-formed, as a JUnit reader takes it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.xml");
    std::fs::write(&file, &xml).unwrap();
    let ok = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(ok.success(), "python's XML parser takes it");
    // Without subtests: one `main` case, passed in the script's 16.87 s.
    let xml = junit(&common::fixtures().join("logs/05-prefixed-nix-alien-ping-pass-tail.log"));
    assert!(
        xml.contains("\t\t<testcase name=\"main\" time=\"16.87\"/>\n"),
        "{xml}"
    );
}
