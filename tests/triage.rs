//! `vmscope triage` over captures and variants made from them: runs that differ only in
//! what differs between any two runs (pids, store hashes, uptimes, durations) group as one;
//! another failing command is another group.

mod common;

fn variant(dir: &std::path::Path, name: &str, from: &str, edits: &[(&str, &str)]) -> String {
    let mut text = String::from_utf8(common::real_driver(from)).unwrap();
    for (a, b) in edits {
        assert!(text.contains(a), "{a:?} in {from}");
        text = text.replace(a, b);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_same_failure_in_many_runs_is_one_group_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let a = variant(dir.path(), "a.log", "fail.stderr", &[]);
    // Another run of the same test: other pids, uptimes, durations, a store hash.
    let b = variant(
        dir.path(),
        "b.log",
        "fail.stderr",
        &[
            ("26712", "41177"),
            ("26711", "41176"),
            ("[    1.055967]", "[    1.203311]"),
            ("in 1.52 seconds", "in 1.87 seconds"),
            (
                "8qvkz0cxm4d1zj9h0w8r1y3p5l2a6b7c",
                "0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p",
            ),
        ],
    );
    // The same test failing on another command: another group.
    let c = variant(
        dir.path(),
        "c.log",
        "fail.stderr",
        &[
            ("must succeed: false", "must succeed: test -e /ready"),
            ("command `false` failed", "command `test -e /ready` failed"),
        ],
    );
    let t1 = variant(dir.path(), "t1.log", "timeout.stderr", &[]);
    let t2 = variant(dir.path(), "t2.log", "timeout.stderr", &[("27127", "5521")]);
    let passed = variant(dir.path(), "p.log", "pass.stderr", &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["triage", "--json", &a, &b, &c, &t1, &t2, &passed])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["logs"], 6);
    assert_eq!(d["passed"], 1);
    let groups = d["groups"].as_array().unwrap();
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![2, 2, 1], "{groups:#?}");
    assert_eq!(groups[0]["logs"], serde_json::json!([a, b]));
    assert_eq!(groups[0]["signature"]["command"], "false");
    assert_eq!(groups[1]["logs"], serde_json::json!([t1, t2]));
    assert_eq!(groups[1]["signature"]["kind"], "global_timeout");
    assert_eq!(groups[2]["logs"], serde_json::json!([c]));
    assert_eq!(groups[2]["signature"]["command"], "test -e /ready");

    // The table, and a list on stdin.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["triage", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{a}\n{b}\n{passed}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("3 logs: 1 passed, 2 failures in 1 groups"),
        "{text}"
    );
    assert!(
        text.contains("   2x  #1  RequestedAssertionFailed: command `false` failed (exit code 1)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("first in {a}, last in {b} (2 logs)")),
        "{text}"
    );
}

#[test]
fn on_a_terminal_the_groups_open_their_logs_in_the_usual_view_and_come_back() {
    let dir = tempfile::tempdir().unwrap();
    variant(dir.path(), "a.log", "fail.stderr", &[]);
    variant(dir.path(), "b.log", "fail.stderr", &[("26712", "41177")]);
    variant(dir.path(), "t.log", "timeout.stderr", &[]);
    let d = dir.path().display().to_string();
    let mut t = common::pty::Term::spawn(&["triage", &d], 120, 32);
    t.wait_text(
        "vmscope triage  3 logs · 0 passed · 3 failures in 2 groups",
        10,
    );
    t.wait_text(
        "2x  #1   this one fails · RequestedAssertionFailed: command `false` failed",
        5,
    );
    // The second group, then its log, then the log's own screen.
    t.keys("j");
    t.wait_text("the global timeout of 15 seconds was reached", 5);
    t.keys("k");
    t.keys("\r");
    t.wait_text("Enter open the log in the usual view", 5);
    t.keys("j");
    t.keys("\r");
    t.wait_text("b.log │ ●machine1 ●machine2", 10);
    t.wait_text("TEST FAILED", 5);
    t.keys("q");
    // Back where it was: the group's logs, the second selected.
    t.wait_text("Enter open the log in the usual view", 10);
    let s = t.screen();
    let (row, col) = common::pty::find(&s, &format!("{d}/b.log")).expect("b.log listed");
    assert!(
        s.cell(row, col).unwrap().inverse(),
        "b.log is still selected:\n{}",
        t.text()
    );
    t.esc();
    t.wait_text("Enter its logs", 5);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 1, "failures were found");
}
