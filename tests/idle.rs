//! Nothing wakes when nothing changes: a static screen writes nothing to the terminal, an
//! idle live run writes at most once a second (its clock), and its threads wake about as
//! often.

mod common;
#[path = "../benches/support/wakeups.rs"]
mod wakeups;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::pty::Term;
use wakeups::wakeups;

fn writes_over(t: &Term, secs: u64) -> (usize, usize) {
    let (r0, b0) = (t.reads.load(Ordering::Relaxed), t.raw.lock().unwrap().len());
    std::thread::sleep(Duration::from_secs(secs));
    (
        t.reads.load(Ordering::Relaxed) - r0,
        t.raw.lock().unwrap().len() - b0,
    )
}

#[test]
fn a_static_screen_writes_nothing() {
    let log = common::fixtures().join("real-driver/pass.stderr");
    let mut t = Term::spawn(&["log", log.to_str().unwrap()], 140, 40);
    t.wait_text("0 driver", 10);
    std::thread::sleep(Duration::from_millis(500));
    let (reads, bytes) = writes_over(&t, 3);
    assert_eq!(
        (reads, bytes),
        (0, 0),
        "a screen with nothing new was written to"
    );
    // A key still answers at once.
    t.keys("1");
    t.wait_for("machine1 focused", 5, |s| {
        s.contents().contains("┏ 1 machine1")
    });
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

/// A live run whose driver prints one line and then nothing, once that line is shown.
fn quiet_live_run(dir: &std::path::Path) -> Term {
    let args = [
        "run",
        "--no-record",
        "--",
        "sh",
        "-c",
        "echo quiet; sleep 60",
    ];
    let t = Term::spawn_in(dir, &args, 120, 30);
    t.wait_text("quiet", 10);
    t
}

#[test]
fn an_idle_live_run_writes_once_a_second_at_most() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = quiet_live_run(dir.path());
    std::thread::sleep(Duration::from_millis(1500));
    let (reads, bytes) = writes_over(&t, 4);
    // The clock moves: at least two of the four seconds are drawn, and nothing else is.
    assert!(
        (2..=5).contains(&reads),
        "{reads} writes in 4 s ({bytes} bytes)"
    );
    assert!(bytes < 400, "{bytes} bytes for a clock");
    t.keys("qq");
    t.wait_exit(15);
}

#[test]
fn an_idle_live_run_wakes_about_once_a_second_while_it_looks_for_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = quiet_live_run(dir.path());
    // The first 12 s hold every look for the driver's configuration (the last at 10 s).
    let before = wakeups(t.pid());
    std::thread::sleep(Duration::from_secs(12));
    let woke = wakeups(t.pid()) - before;
    // The clock's 12 and a few looks; a look that kept coming due woke a thousand times.
    assert!(woke < 150, "{woke} wake-ups in 12 s of an idle live run");
    t.keys("qq");
    t.wait_exit(15);
}
