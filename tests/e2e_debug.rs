//! The debug hook under `vmscope run`: the fake driver fails with `--debug-hook-attach`,
//! prints the breakpoint line and waits in a real remote-pdb (installed by scripts/test) on
//! a free loopback port; vmscope reads both from the driver's stderr as they come, opens the
//! breakpoint view, `p` is a pdb console over TCP, and `c` lets the driver finish.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::pty::{Term, scaled};

const ATTACH: &str = "/nix/store/0c8a4k3xw5s1q2mhz9n7r6dyb1l0vfpj-attach/bin/attach";

fn inspect(rec: &Path) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect", "--json", rec.to_str().unwrap()])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

#[test]
fn a_failure_pauses_in_remote_pdb_and_continue_ends_the_run() {
    common::python_imports("remote_pdb");
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("session");
    let drv = common::fake_driver();
    let mut t = Term::spawn(
        &[
            "run",
            "--record",
            rec.to_str().unwrap(),
            "--",
            "python3",
            &drv,
            "--scenario",
            "fail",
            "--speed",
            "20",
            // argparse takes the abbreviation, as run.nix passes it.
            &format!("--debug-hook={ATTACH}"),
            "--pdb-port",
            "0",
        ],
        160,
        50,
    );
    // The breakpoint view opens by itself, with what went wrong.
    t.wait_text("PAUSED AT A BREAKPOINT", 30);
    let view = t.text();
    for want in [
        "RequestedAssertionFailed: command `echo 'psql: error: connection refused' >&2; exit 2` \
         failed (exit code 2)",
        "command   echo 'psql: error: connection refused' >&2; exit 2",
        "machine   database",
        "subtest   the database accepts connections",
        "File \"<string>\", line 11, in <module>",
        "database.succeed(\"echo 'psql: error: connection refused' >&2; exit 2\")",
        "database ● connected (failed here) · last console lines before the failure",
        "outside a sandbox",
        "left of 10:00",
    ] {
        assert!(view.contains(want), "{want:?} not in the view:\n{view}");
    }
    // The failing machine's console comes first, and ends with the failing command's stderr.
    let db = view.find("2 database ● connected (failed here)").unwrap();
    let client = view.find("1 client ●").unwrap();
    assert!(db < client, "{view}");
    assert!(
        view[db..client].contains("psql: error: connection refused"),
        "{view}"
    );

    // The run's model has the breakpoint and pdb's address while the driver waits.
    let deadline = Instant::now() + scaled(Duration::from_secs(20));
    let doc = loop {
        let doc = inspect(&rec);
        if doc["tests"][0]["pdb"]["port"].is_u64() {
            break doc;
        }
        assert!(
            Instant::now() < deadline,
            "no pdb address in the recording: {doc}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let test = &doc["tests"][0];
    assert_eq!(test["breakpoint"]["attach"], ATTACH);
    let id = test["breakpoint"]["id"].as_str().unwrap();
    assert!(
        (6..=7).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(test["pdb"]["host"], "127.0.0.1");
    assert_eq!(test["failures"][0]["machine"], "database", "{test}");
    assert_eq!(
        test["exit_code"],
        serde_json::Value::Null,
        "paused, not over"
    );
    let port = u16::try_from(test["pdb"]["port"].as_u64().unwrap()).unwrap();
    t.wait_text(&format!("pdb       127.0.0.1:{port}  "), 10);

    // The driver's marker process for attach runs while it waits.
    let marker = format!("sleep {id}");
    let has_marker = || {
        common::processes_naming(&marker)
            .iter()
            .any(|p| p.ends_with(&format!(": {marker}")))
    };
    assert!(has_marker(), "no `{marker}` process for attach to find");

    // `p`: a console tab connected to that pdb, with its line editor and history.
    t.keys("p");
    t.wait_text("[pdb]", 10);
    t.wait_for("the (Pdb) prompt in the console", 20, |s| {
        s.contents()
            .lines()
            .any(|l| l.trim_start_matches(['│', '┃']).starts_with("(Pdb)"))
    });
    t.keys("p 6*7\r");
    let answered = |n: &'static str| {
        move |s: &vt100::Screen| {
            let text = s.contents();
            let rows: Vec<&str> = text
                .lines()
                .map(|l| l.trim_matches(['│', '┃', ' ']))
                .collect();
            rows.windows(2).any(|w| w[0] == n && w[1] == "(Pdb)")
        }
    };
    t.wait_for("pdb's answer and its next prompt", 20, answered("42"));
    // ↑ brings the line back to be edited: 6*7 becomes 6*8.
    t.send(b"\x1b[A");
    t.wait_text("(Pdb) p 6*7", 10);
    t.send(b"\x7f8\r");
    t.wait_for("the edited line's answer", 20, answered("48"));
    // pdb stops in the frame that ran the script: its namespace holds the machines.
    t.keys("p symbols['database'].name\r");
    t.wait_for("the machine's name", 20, answered("'database'"));

    // Back in the view, `c` continues: the driver ends with the failure.
    t.send(b"\x1d");
    t.keys("b");
    t.wait_text("PAUSED AT A BREAKPOINT", 10);
    t.keys("c");
    t.wait_text("the driver exited with status 1", 30);
    assert!(t.text().contains("FAILED"), "{}", t.text());
    assert!(!has_marker(), "the marker ends with the driver");
    t.keys("q");
    assert_eq!(t.wait_exit(10), 1);
    let doc = inspect(&rec);
    assert_eq!(doc["tests"][0]["outcome"], "failed", "{doc}");
}

#[test]
fn debug_breakpoint_typed_in_the_repl_opens_the_view_and_pdb_gives_the_repl_back() {
    common::python_imports("remote_pdb, IPython, ptpython");
    let dir = tempfile::tempdir().unwrap();
    let drv = common::fake_driver();
    let mut t = Term::spawn_in(
        dir.path(),
        &[
            "run",
            "--no-record",
            "--",
            "python3",
            &drv,
            "-I",
            "--machines",
            "alpha",
            &format!("--debug-hook-attach={ATTACH}"),
            "--pdb-port",
            "0",
        ],
        160,
        50,
    );
    t.wait_text("In [1]:", 30);
    t.keys("debug.breakpoint()\r");
    // The breakpoint takes the screen although keys were just typed into the REPL.
    t.wait_text("PAUSED AT A BREAKPOINT", 20);
    t.wait_text("debug.breakpoint() paused the test script", 5);
    t.wait_for("pdb's own port in the view", 20, |s| {
        s.contents()
            .lines()
            .any(|l| l.contains("pdb       127.0.0.1:") && !l.contains('?'))
    });
    t.keys("p");
    t.wait_text("[pdb]", 10);
    t.wait_text("(Pdb)", 20);
    t.keys("p 2**10\r");
    t.wait_text("1024", 20);
    // `c` from the view: pdb lets go, the REPL takes the next line.
    t.send(b"\x1d");
    t.keys("b");
    t.wait_text("PAUSED AT A BREAKPOINT", 10);
    t.keys("c");
    t.wait_text("In [2]:", 20);
    t.wait_text("LEFT THE BREAKPOINT", 10);
    // Nothing waits in pdb now: `c` is the driver's terminal again.
    t.keys("c");
    t.keys("print(6*7)\r");
    t.wait_text("42", 20);
    t.send(b"\x1d");
    t.keys("qq");
    assert_eq!(t.wait_exit(15), 143);
}
