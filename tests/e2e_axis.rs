//! The time axis in a real terminal: panes that follow one another, the timeline, marks
//! kept with a recording, a replay, and `vmscope diff` on two runs.

mod common;

use std::time::{Duration, Instant};

use common::pty::{Term, find};

fn fixture(path: &str) -> String {
    common::fixtures().join(path).display().to_string()
}

/// The text of row `row` of the screen, and whether any of its cells is underlined.
fn underlined_rows(t: &Term) -> Vec<String> {
    let s = t.screen();
    let (rows, cols) = s.size();
    (0..rows.get())
        .filter(|&r| (0..cols.get()).any(|c| s.cell(r, c).is_some_and(|x| x.underline())))
        .map(|r| s.contents_between(r, 0, r, cols.get()))
        .collect()
}

#[test]
fn with_sync_on_the_other_panes_follow_the_one_scrolled() {
    let log = fixture("real-driver/fail.stderr");
    let mut t = Term::spawn(&["log", &log], 200, 60);
    t.wait_text("TEST FAILED", 10);
    t.esc();
    t.wait_text("0 driver", 5);
    // The failure opened with sync on; machine1 goes to its first line, then two down: its
    // `BIOS-provided physical RAM map` (line 19), where machine2 had printed its kernel's
    // command line (line 18).
    t.keys("1g");
    t.wait_text("◷ L10 ", 5);
    t.keys("jj");
    t.wait_text("◷ L19 ", 5);
    t.wait_for("machine2's cursor at its line 18", 5, |_| {
        underlined_rows(&t)
            .iter()
            .any(|r| r.contains("Command line: console=ttyS0"))
    });
    // Sync off: machine2 stays where it is while machine1 moves on.
    t.keys("=");
    t.wait_text("sync off", 5);
    t.keys("jjjj");
    t.wait_for("machine1 moved", 5, |s| !s.contents().contains("◷ L"));
    assert!(
        underlined_rows(&t).is_empty() || !t.text().contains("◷ L19 "),
        "{}",
        t.text()
    );
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn the_timeline_shows_steps_as_bars_and_enter_goes_there() {
    let log = fixture("real-driver/fail.stderr");
    let mut t = Term::spawn(&["log", &log], 200, 50);
    t.wait_text("TEST FAILED", 10);
    t.keys("T");
    t.wait_text("timeline", 5);
    let s = t.screen();
    let row = |needle: &str| {
        let (r, _) = find(&s, needle).unwrap_or_else(|| panic!("{needle}:\n{}", s.contents()));
        s.contents_between(r, 0, r, 200)
    };
    assert!(row("subtest: things that work").contains('█'));
    assert!(row("subtest: this one fails").contains('✗'));
    // To the start, then Enter: every pane at the run's first moment.
    t.keys("g");
    t.keys("\r");
    t.wait_text("every pane at line", 5);
    t.wait_for("the panes again", 5, |s| {
        !s.contents().contains("timeline ·")
    });
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn marks_are_kept_with_a_recording_and_come_back() {
    let rec = common::recording("fail.stderr", 4, 1);
    let dir = rec.path().display().to_string();
    let mut t = Term::spawn(&["log", &dir], 200, 60);
    t.wait_text("TEST FAILED", 10);
    t.esc();
    t.wait_text("0 driver", 5);
    // machine1's first line, marked.
    t.keys("1g");
    t.wait_text("◷ L10 ", 5);
    t.keys("m");
    t.wait_text("marked (1 mark)", 5);
    assert!(
        t.text().contains('▌'),
        "the mark in the gutter:\n{}",
        t.text()
    );
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
    let saved = std::fs::read_to_string(rec.path().join("marks.json")).expect("marks.json");
    assert!(
        saved.contains("\"pane\": \"machine1\"") && saved.contains("\"line\": 10"),
        "{saved}"
    );

    // Opened again: the mark is there, and ' goes to it.
    let mut t = Term::spawn(&["log", &dir], 200, 60);
    t.wait_text("1 mark kept with the recording", 10);
    t.esc();
    t.keys("0G'");
    t.wait_text("mark 1 of 1", 5);
    t.wait_text("◷ L10 ", 5);
    assert!(t.text().contains('▌'));
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn a_replay_at_ten_times_reaches_the_failure_in_a_tenth_of_the_time() {
    // The failure's report (line 187 of 198) comes about 7.6 s into an 8 s recording: at
    // 10x, well under a second after the replay starts; at 1x it would take 7.6 s.
    let rec = common::recording("fail.stderr", 8, 1);
    let dir = rec.path().display().to_string();
    let mut t = Term::spawn(&["log", &dir, "--replay", "10"], 200, 50);
    t.wait_text("▶ replay 10x", 10);
    let started = Instant::now();
    assert!(
        t.text().contains("RUNNING"),
        "the replay starts before the failure:\n{}",
        t.text()
    );
    t.wait_text("TEST FAILED", 10);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(3800),
        "10x took {took:?}, half of 1x's 7.6 s or more"
    );
    // Paused, then back to the start with the timeline: the failure has not happened yet.
    t.keys("P");
    t.wait_text("paused", 5);
    t.keys("Tg\r");
    t.wait_for("running again at the start", 5, |s| {
        s.contents().contains("RUNNING") && !s.contents().contains("TEST FAILED")
    });
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn diff_names_the_first_step_that_differs_between_two_runs() {
    // A passing and a failing run of the same test (nix-alien's, fixtures 05 and 04): the
    // ping that passed in 2.08 s fails.
    let good = common::fixtures().join("logs/05-prefixed-nix-alien-ping-pass-tail.log");
    let bad = common::fixtures().join("logs/04-prefixed-nix-alien-ping-fail-traceback.log");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["diff", "--text"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("machine: must succeed: ping -c 3 8.8.8.8: passed in good (line 1), failed in bad (line 1)"),
        "{text}"
    );
    // A run against itself: nothing differs.
    let same = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["diff", "--text"])
        .arg(&bad)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout).contains("no step differs"));

    // On a terminal: the two side by side, the first difference selected.
    let mut t = Term::spawn(
        &[
            "diff",
            &good.display().to_string(),
            &bad.display().to_string(),
        ],
        160,
        30,
    );
    t.wait_text("vmscope diff", 10);
    t.wait_text("first difference: row", 5);
    let s = t.screen();
    let (row, _) = find(&s, "must succeed: ping").expect("the ping step's row");
    let line = s.contents_between(row, 0, row, 160);
    assert!(line.matches("must succeed: ping").count() == 2, "{line}");
    assert!(s.cell(row, 2).is_some_and(|c| c.inverse()), "selected");
    t.keys("q");
    assert_eq!(t.wait_exit(10), 1);
}

#[test]
fn diff_of_a_flaky_run_of_the_fake_driver() {
    common::python_imports("sys");
    let dir = tempfile::tempdir().unwrap();
    let run = |flake: bool, file: &str| {
        let mut cmd = std::process::Command::new("python3");
        cmd.args([
            &common::fake_driver(),
            "--scenario",
            "flaky",
            "--speed",
            "20",
        ]);
        if flake {
            cmd.env("VMSCOPE_FLAKE", "1");
        } else {
            cmd.env_remove("VMSCOPE_FLAKE");
        }
        let out = cmd.output().unwrap();
        std::fs::write(dir.path().join(file), &out.stderr).unwrap();
        out.status.code()
    };
    assert_eq!(run(false, "good.log"), Some(0));
    assert_eq!(run(true, "bad.log"), Some(1));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["diff", "--json"])
        .arg(dir.path().join("good.log"))
        .arg(dir.path().join("bad.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The subtest failed because its one command did: that command differs first.
    let first = &d["rows"][d["first_difference"].as_u64().unwrap() as usize];
    assert_eq!(first["bad"]["machine"], "client");
    let title = first["bad"]["title"].as_str().unwrap();
    assert!(title.starts_with("must succeed: test -z"), "{first}");
    assert_eq!(first["good"]["state"], "passed");
    assert_eq!(first["bad"]["state"], "failed");
    let rows = d["rows"].as_array().unwrap();
    let subtest = rows
        .iter()
        .find(|r| r["bad"]["title"] == "subtest: the client fetches the page")
        .expect("the subtest's row");
    assert_eq!(subtest["good"]["state"], "passed");
    assert_eq!(subtest["bad"]["state"], "failed");
    assert_eq!(d["good"]["outcome"], "passed");
    assert_eq!(d["bad"]["outcome"], "failed");
    let errors = d["new_errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["machine"] == "client"
            && e["line"].as_str().unwrap().contains("Failed to connect")),
        "{errors:?}"
    );
}
