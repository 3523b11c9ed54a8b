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
