//! `vmscope run` in a real pseudo-terminal with a small driver: stderr lines reach their
//! panes, the command pane is a terminal, the exit status comes through, and no process of
//! the run outlives vmscope, whatever way vmscope ends.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::pty::{Term, scaled};

/// A driver in shell: logger lines on stderr as the real one colours them, a prompt on its
/// terminal, a background process in its group, and the exit status it is told.
fn driver(dir: &Path) -> PathBuf {
    let path = dir.join("driver.sh");
    let script = r#"#!/bin/sh
printf '\033[1m\033[32mstart all VMs\033[0m\n' >&2
printf 'vm1: starting vm\n' >&2
printf '\033[2mvm1 # [    0.10] booting vm1\033[0m\n' >&2
printf '\033[2mvm2 # [    0.12] booting vm2\033[0m\n' >&2
sleep 1000 &
echo "pid $!" > "$(dirname "$0")/bg.pid"
printf 'type something: '
read x
echo "got: $x"
printf '(finished: start all VMs, in 0.50 seconds)\n' >&2
printf 'exit with: '
read code
exit "$code"
"#;
    std::fs::write(&path, script).unwrap();
    let mut perm = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&path, perm).unwrap();
    path
}

fn background_pid(dir: &Path) -> i32 {
    let deadline = Instant::now() + scaled(Duration::from_secs(10));
    loop {
        if let Ok(s) = std::fs::read_to_string(dir.join("bg.pid"))
            && let Some(pid) = s.trim().strip_prefix("pid ").and_then(|p| p.parse().ok())
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "the driver did not start its background process"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .is_some_and(|i| !stat[i + 1..].trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn wait_gone(pid: i32, secs: u64) {
    let deadline = Instant::now() + scaled(Duration::from_secs(secs));
    while running(pid) {
        assert!(
            Instant::now() < deadline,
            "process {pid} of the run is still alive"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn stderr_fills_the_panes_and_the_command_pane_is_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let drv = driver(dir.path());
    let mut t = Term::spawn(&["run", "--", drv.to_str().unwrap()], 140, 40);
    t.wait_text("type something:", 10);
    let s = t.text();
    assert!(s.contains("1 vm1"), "{s}");
    assert!(s.contains("booting vm2"));
    assert!(s.contains("start all VMs"));
    assert!(s.contains("RUNNING"));
    // Focus the command pane and type into the driver's terminal.
    t.keys("c");
    t.wait_text("typing", 5);
    t.keys("hello there\r");
    t.wait_text("got: hello there", 5);
    // The step closed on stderr while we typed.
    t.wait_text("start all VMs 0.50s", 5);
    // The driver exits on its own: the screen stays and tells how.
    t.keys("3\r");
    t.wait_text("exited 3", 10);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 3, "vmscope exits with the driver's status");
    wait_gone(background_pid(dir.path()), 10);
}

#[test]
fn quitting_asks_first_then_ends_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let drv = driver(dir.path());
    let mut t = Term::spawn(&["run", "--", drv.to_str().unwrap()], 140, 40);
    t.wait_text("type something:", 10);
    let bg = background_pid(dir.path());
    assert!(running(bg));
    t.keys("q");
    t.wait_text("still running", 5);
    assert!(running(bg), "one q does not stop the run");
    t.keys("q");
    assert_eq!(t.wait_exit(15), 143, "the driver ended by SIGTERM");
    wait_gone(bg, 10);
    assert!(!t.screen().alternate_screen());
}

#[test]
fn the_leave_chord_returns_to_navigation_and_enter_to_typing() {
    let dir = tempfile::tempdir().unwrap();
    let drv = driver(dir.path());
    let mut t = Term::spawn(&["run", "--", drv.to_str().unwrap()], 140, 40);
    t.wait_text("type something:", 10);
    t.keys("c");
    t.wait_text("typing", 5);
    // Ctrl-C goes to the driver's terminal, not to vmscope.
    t.keys("\x1d");
    t.wait_text("navigation", 5);
    // In navigation, z zooms instead of being typed.
    t.keys("z");
    t.wait_for("the command pane alone", 5, |s| {
        !s.contents().contains("1 vm1")
    });
    t.keys("z\r");
    t.wait_text("typing", 5);
    t.keys("abc\r");
    t.wait_text("got: abc", 5);
    t.keys("\x1dqq");
    assert_eq!(t.wait_exit(15), 143);
}

#[test]
fn ctrl_c_in_the_command_pane_reaches_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    let drv = driver(dir.path());
    let mut t = Term::spawn(&["run", "--", drv.to_str().unwrap()], 140, 40);
    t.wait_text("type something:", 10);
    let bg = background_pid(dir.path());
    t.keys("c");
    t.wait_text("typing", 5);
    // The shell's `read` is interrupted: the driver dies of SIGINT, vmscope stays.
    t.keys("\x03");
    t.wait_text("exited 130", 10);
    assert!(t.text().contains("vmscope"), "vmscope is still on screen");
    t.keys("q");
    assert_eq!(t.wait_exit(10), 130);
    // What the driver left behind is ended with vmscope.
    wait_gone(bg, 10);
}

#[test]
fn sigterm_sighup_sigint_and_sigkill_to_vmscope_leave_nothing_behind() {
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGKILL] {
        let dir = tempfile::tempdir().unwrap();
        let drv = driver(dir.path());
        let mut t = Term::spawn(&["run", "--", drv.to_str().unwrap()], 140, 40);
        t.wait_text("type something:", 10);
        let bg = background_pid(dir.path());
        t.signal(sig);
        let status = t.wait_exit(15);
        if sig != libc::SIGKILL {
            assert_eq!(status, 128 + sig as u32);
            assert!(
                !t.screen().alternate_screen(),
                "terminal restored after signal {sig}"
            );
        }
        wait_gone(bg, 10);
    }
}

#[test]
fn a_driver_that_cannot_start_is_a_clear_error() {
    let state = tempfile::tempdir().unwrap();
    let mut t = Term::spawn_env(
        &["run", "--", "/nonexistent/nixos-test-driver"],
        100,
        30,
        &[("XDG_STATE_HOME", state.path().to_str().unwrap())],
    );
    assert_eq!(t.wait_exit(10), 2);
    // The session directory made for the recording does not stay behind, empty.
    let sessions = state.path().join("vmscope/sessions");
    let left: Vec<_> = std::fs::read_dir(&sessions)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert!(
        t.text()
            .contains("cannot start /nonexistent/nixos-test-driver"),
        "{}",
        t.text()
    );
    assert!(!t.screen().alternate_screen());
}

#[test]
fn a_recording_reopens_with_the_same_lines_and_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let drv = driver(dir.path());
    let rec = dir.path().join("session");
    let mut t = Term::spawn(
        &[
            "run",
            "--record",
            rec.to_str().unwrap(),
            "--",
            drv.to_str().unwrap(),
        ],
        140,
        40,
    );
    t.wait_text("type something:", 10);
    t.keys("crecorded line\r");
    t.wait_text("got: recorded line", 5);
    t.keys("0\r");
    t.wait_text("exited 0", 10);
    t.keys("q");
    let status = t.wait_exit(10);
    assert_eq!(status, 0, "{}", t.text());
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&rec).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "recordings are private");

    // The same model from the recording as from the live run.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect", "--json", rec.to_str().unwrap()])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let machines: Vec<(String, u64)> = doc["tests"][0]["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["serial_lines"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(machines, [("vm1".to_string(), 1), ("vm2".to_string(), 1)]);
    assert_eq!(doc["tests"][0]["steps"][0]["title"], "start all VMs");
    // The recording's exit record is the run's status: a session left with status 0.
    assert_eq!(doc["tests"][0]["exit_code"], 0, "{doc}");
    assert_eq!(doc["outcome"], "ended", "{doc}");

    // On the screen: panes, arrival times, and the terminal as it was.
    let mut t = Term::spawn(&["log", rec.to_str().unwrap()], 140, 40);
    t.wait_text("booting vm2", 10);
    t.wait_text("got: recorded line", 10);
    t.keys("2t");
    t.wait_for("an arrival time", 5, |s| {
        s.contents()
            .lines()
            .any(|l| l.contains("0:00.") && l.contains("booting vm2"))
    });
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn a_full_disk_stops_the_recording_not_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let drv = driver(dir.path());
    let rec = dir.path().join("session");
    std::fs::create_dir(&rec).unwrap();
    std::os::unix::fs::symlink("/dev/full", rec.join("session.rec")).unwrap();
    let mut t = Term::spawn(
        &[
            "run",
            "--record",
            rec.to_str().unwrap(),
            "--",
            drv.to_str().unwrap(),
        ],
        140,
        40,
    );
    t.wait_text("session recording stopped", 10);
    assert!(t.text().contains("No space left on device"));
    t.keys("cstill here\r");
    t.wait_text("got: still here", 10);
    t.keys("\x1dqq");
    assert_eq!(t.wait_exit(15), 143);
}

#[test]
fn a_panic_in_the_ui_restores_the_terminal_and_ends_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let drv = driver(dir.path());
    let mut t = Term::spawn_env(
        &["run", "--no-record", "--", drv.to_str().unwrap()],
        140,
        40,
        &[("VMSCOPE_TEST_PANIC_AFTER_MS", "1500")],
    );
    t.wait_text("type something:", 10);
    let bg = background_pid(dir.path());
    let status = t.wait_exit(15);
    assert_eq!(status, 101, "a panic's exit status");
    let s = t.screen();
    assert!(!s.alternate_screen(), "terminal restored after the panic");
    assert!(!s.hide_cursor());
    let raw = String::from_utf8_lossy(&t.raw.lock().unwrap()).into_owned();
    let restored = raw
        .find("\x1b[?1049l")
        .expect("the alternate screen was left");
    let message = raw
        .find("a panic on purpose")
        .expect("the panic message is printed");
    assert!(
        message > restored,
        "the message comes after the terminal is restored, where it stays readable"
    );
    wait_gone(bg, 10);
}

#[test]
fn a_disk_too_slow_for_the_recording_cuts_it_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("session");
    let drv = common::fake_driver();
    let mut t = Term::spawn_env(
        &[
            "run",
            "--record",
            rec.to_str().unwrap(),
            "--",
            "python3",
            &drv,
            "--flood",
            "40",
            "--machines",
            "alpha,beta",
        ],
        140,
        40,
        &[("VMSCOPE_TEST_RECORD_DELAY_MS", "20")],
    );
    t.wait_text("RECORDING CUT", 60);
    t.wait_text("flood: 40 MB", 60);
    t.wait_text("exited 0", 30);
    // The run went on to its end; quitting does not wait for the disk beyond its grace.
    let asked = std::time::Instant::now();
    t.keys("q");
    assert_eq!(t.wait_exit(15), 0);
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(8),
        "quitting took {:?}",
        asked.elapsed()
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rec.join("meta.json")).unwrap()).unwrap();
    assert!(meta["cut"]["why"].is_string(), "{meta}");
    assert_eq!(meta["exit"], 0, "{meta}");

    // Read back, the recording says it was cut.
    let mut t = Term::spawn(&["log", rec.to_str().unwrap()], 140, 40);
    t.wait_text("RECORDING CUT", 10);
    assert!(t.text().contains("cut short"), "{}", t.text());
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}
