//! The fake driver under `vmscope run`: its logger lines fill the panes live, and with `-I`
//! the command pane hosts the real ptpython/IPython REPL (installed by scripts/test).

mod common;

use common::fake_driver;
use common::pty::{Term, find};

fn python_has_the_repl() {
    common::python_imports("ptpython.ipython, IPython");
}

#[test]
fn ipython_in_the_command_pane() {
    python_has_the_repl();
    let dir = tempfile::tempdir().unwrap();
    let drv = fake_driver();
    let mut t = Term::spawn_in(
        dir.path(),
        &["run", "--", "python3", &drv, "-I", "--speed", "5"],
        160,
        48,
    );
    t.wait_text("In [1]:", 30);
    t.keys("1+1\r");
    t.wait_text("Out[1]: 2", 10);
    // Keys typed before the next prompt is up may go to the one that just ended.
    t.wait_text("In [2]:", 10);
    assert!(
        !t.text().contains("CPR"),
        "no warning about cursor position requests:\n{}",
        t.text()
    );
    // History: the up arrow brings the last line back.
    t.keys("\x1b[A");
    t.wait_text("In [2]: 1+1", 10);
    // Ctrl-C interrupts the statement, not the run.
    t.keys("\x15import time; time.sleep(30)\r");
    std::thread::sleep(std::time::Duration::from_millis(800));
    t.keys("\x03");
    t.wait_text("KeyboardInterrupt", 10);
    t.wait_text("In [3]:", 10);
    assert!(t.text().contains("RUNNING"), "the run goes on");
    // The REPL sees the command pane's size, and its changes.
    t.resize(120, 40);
    // ptpython redraws its toolbar at the new width once it has taken the resize; keys
    // typed before may be lost in its redraw.
    t.wait_for("ptpython's toolbar at the new size", 10, |s| {
        find(s, "In [3]:").is_some()
            && s.size().1.get() == 120
            && s.contents().lines().any(|l| {
                l.contains("[F2] Menu")
                    && l.chars().count() == 120
                    && l.trim_end()
                        .trim_end_matches('┃')
                        .trim_end()
                        .ends_with(|c: char| c.is_ascii_digit())
            })
    });
    t.keys("import shutil; shutil.get_terminal_size()");
    t.wait_text("In [3]: import shutil; shutil.get_terminal_size()", 10);
    t.keys("\r");
    t.wait_text("columns=118", 10);
    // Leaving the REPL ends the driver, which cleans up its machines.
    t.keys("exit()\r");
    t.wait_text("exited 0", 20);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
    assert!(
        dir.path().join(".nixos-test-history").exists(),
        "history in the working directory"
    );
}

#[test]
fn a_failing_run_of_the_fake_driver_fills_the_panes_live() {
    let drv = fake_driver();
    let mut t = Term::spawn(
        &[
            "run",
            "--",
            "python3",
            &drv,
            "--scenario",
            "fail",
            "--speed",
            "5",
        ],
        160,
        48,
    );
    t.wait_text("1 client", 20);
    t.wait_text("3 server", 20);
    t.wait_text("subtest: machines boot", 20);
    t.wait_text("exited 1", 30);
    let s = t.text();
    assert!(s.contains("FAILED"));
    assert!(s.contains("RequestedAssertionFailed"));
    assert!(
        s.contains("psql: error: connection refused"),
        "guest stderr on the serial console"
    );
    // The test script's print and the symbols block are on the terminal.
    assert!(s.contains("additionally exposed symbols:"));
    t.keys("q");
    assert_eq!(t.wait_exit(10), 1);
}

#[test]
fn the_fake_drivers_other_scenarios() {
    let drv = fake_driver();
    // Scenario, extra arguments, what the screen must show, the exit status.
    let cases: [(&str, &[&str], &[&str], u32); 3] = [
        // The global timeout: the driver kills itself with SIGTERM.
        ("timeout", &["--global-timeout", "3"], &["TIMED OUT"], 143),
        // A kernel panic: the machine is crashed and the next command fails.
        ("crash", &[], &["database ● crashed", "FAILED"], 1),
        ("pass", &[], &["PASSED"], 0),
    ];
    for (scenario, extra, shown, status) in cases {
        let mut args = vec![
            "run",
            "--no-record",
            "--",
            "python3",
            &drv,
            "--scenario",
            scenario,
            "--speed",
            "5",
        ];
        args.extend_from_slice(extra);
        let mut t = Term::spawn(&args, 160, 48);
        t.wait_text(&format!("exited {status}"), 30);
        let s = t.text();
        for want in shown {
            assert!(s.contains(want), "{scenario}: {want}:\n{s}");
        }
        t.keys("q");
        assert_eq!(t.wait_exit(10), status, "{scenario}");
    }
}

/// The fake VMs' "QEMU" processes, from the driver pane.
fn qemu_pids(screen: &str) -> Vec<i32> {
    screen
        .match_indices("QEMU running (pid ")
        .filter_map(|(i, m)| {
            let rest = &screen[i + m.len()..];
            rest[..rest.find(')')?].parse().ok()
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rfind(')')
            .is_some_and(|i| !s[i + 1..].trim_start().starts_with('Z'))
    })
}

#[test]
fn killing_vmscope_ends_the_fake_vms_too() {
    python_has_the_repl();
    for sig in [libc::SIGTERM, libc::SIGKILL] {
        let dir = tempfile::tempdir().unwrap();
        let drv = fake_driver();
        let mut t = Term::spawn_in(
            dir.path(),
            &[
                "run",
                "--no-record",
                "--",
                "python3",
                &drv,
                "-I",
                "--speed",
                "5",
            ],
            200,
            60,
        );
        t.wait_text("In [1]:", 30);
        t.keys("start_all()\r");
        t.wait_for("three QEMU pids", 20, |s| {
            qemu_pids(&s.contents()).len() == 3
        });
        let pids = qemu_pids(&t.text());
        assert!(pids.iter().all(|&p| alive(p)), "the fake VMs run: {pids:?}");
        t.signal(sig);
        t.wait_exit(15);
        let deadline =
            std::time::Instant::now() + common::pty::scaled(std::time::Duration::from_secs(10));
        while pids.iter().any(|&p| alive(p)) {
            assert!(
                std::time::Instant::now() < deadline,
                "signal {sig}: fake VMs left: {pids:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}
