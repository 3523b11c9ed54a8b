//! What stops a run to be looked at (the breakpoint view's triggers), on every transcript and
//! on lines that only pretend to be the driver's.
//!
//! The expected trigger of each fixture was found by reading it: the first line where the
//! driver (or Nix, for the build) says that something failed. Passing runs, excerpts that
//! show no failure and interactive sessions have none.

mod common;

use vmscope::vm::model::{TestRun, TriggerKind};
use vmscope::vm::{Caps, ParseOptions, Parser};

fn parse(bytes: &[u8]) -> TestRun {
    Parser::parse_all(bytes, Caps::default(), ParseOptions::default())
}

/// Per test of the input: the trigger's kind and a piece of its (1-based) input line.
type Want = &'static [Option<(TriggerKind, u64, &'static str)>];

fn check(label: &str, bytes: &[u8], want: Want) {
    let run = parse(bytes);
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let tests: Vec<_> = run.visible_tests().map(|(_, t)| t).collect();
    assert_eq!(tests.len(), want.len(), "{label}: tests");
    for (t, w) in tests.iter().zip(want) {
        let got = t.freeze.as_ref().map(|f| (f.kind, f.line + 1));
        assert_eq!(
            got,
            w.map(|(k, l, _)| (k, l)),
            "{label} / {:?}: trigger",
            t.name
        );
        if let (Some(f), Some((_, _, piece))) = (&t.freeze, w) {
            let line = lines[f.line as usize];
            assert!(
                line.contains(piece),
                "{label}: line {} is {line:?}",
                f.line + 1
            );
        }
    }
}

const FAIL: TriggerKind = TriggerKind::Failure;

#[test]
fn every_fixture_has_its_trigger() {
    let table: &[(&str, Want)] = &[
        ("01", &[None]),
        ("02", &[None]),
        ("03", &[None]),
        // Cleanup starts while `must succeed: ping` is open: an exception left it (its
        // plain traceback comes after the cleanup and completes the same failure).
        ("04", &[Some((FAIL, 8, "cleanup"))]),
        ("05", &[None]),
        ("06", &[None]),
        ("07", &[None]),
        ("08", &[None]),
        ("09", &[None]),
        ("10", &[None]),
        ("11", &[None]),
        // The `!!!` traceback comes before the breakpoint: the failure is the moment.
        ("12", &[Some((FAIL, 9, "!!! Traceback"))]),
        ("13", &[None]),
        ("14", &[Some((FAIL, 16, "error: [Errno 32] Broken pipe"))]),
        // Perl-era driver errors.
        ("15", &[Some((FAIL, 3, "error: unit"))]),
        (
            "17",
            &[Some((FAIL, 4, "error: the VM quit before connecting"))],
        ),
        ("18", &[None]),
        ("20", &[None]),
        (
            "22",
            &[Some((FAIL, 8, "Traceback (most recent call last):"))],
        ),
        // Two tests of one build: a traceback tail, and the global timeout (exit 143) that
        // only Nix reports: its moment is after the tail it shows (the input's last line).
        (
            "24",
            &[
                Some((FAIL, 1, "File \"/nix/store/")),
                Some((TriggerKind::GlobalTimeout, 20, "Test will time out")),
            ],
        ),
        ("25", &[None]),
        // The guest shell hangs; the excerpt ends before the driver gives up.
        ("27", &[None]),
        ("29", &[Some((FAIL, 9, "!!! Traceback"))]),
        ("30", &[None]),
        // Early Python's subtest summary.
        ("32", &[Some((FAIL, 1, "1 out of 2 tests succeeded"))]),
        ("34", &[None]),
        ("36", &[None]),
        ("38", &[None]),
    ];
    let all = common::all_log_fixtures();
    for (prefix, want) in table {
        let (name, bytes) = common::log_fixture(prefix);
        check(&name, &bytes, want);
    }
    let listed: Vec<&str> = table.iter().map(|(p, _)| *p).collect();
    for f in all {
        assert!(listed.contains(&&f[..2]), "{f} has no expectation here");
    }
}

#[test]
fn real_driver_captures() {
    // A failing subtest: the `!!! Test "…" failed` line comes first.
    check(
        "fail.stderr",
        &common::real_driver("fail.stderr"),
        &[Some((FAIL, 187, "Test \"this one fails\" failed"))],
    );
    check(
        "timeout.stderr",
        &common::real_driver("timeout.stderr"),
        &[Some((
            TriggerKind::GlobalTimeout,
            108,
            "timeout reached; test terminating...",
        ))],
    );
    check("pass.stderr", &common::real_driver("pass.stderr"), &[None]);
}

const BREAKPOINT: &str = "Breakpoint reached, run 'sudo /nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 3766386'";

fn preamble() -> String {
    "start all VLans\nmachine: starting vm\nmachine # [    0.000000] Linux version 6.12\n\
     Test will time out and terminate in 3600.0 seconds\n"
        .to_string()
}

#[test]
fn debug_breakpoint_alone_stops_the_run() {
    // `debug.breakpoint()` in a test script: no failure before it.
    let text = format!("{}!!! {BREAKPOINT}\nmachine # [   9.1] later\n", preamble());
    let run = parse(text.as_bytes());
    let t = &run.tests[0];
    let f = t.freeze.as_ref().expect("a trigger");
    assert_eq!((f.kind, f.line + 1), (TriggerKind::Breakpoint, 5));
    assert_eq!(t.breakpoint.as_ref().unwrap().line.id, "3766386");
    // The serial line after the breakpoint is not in the frozen view.
    assert_eq!(t.machines[0].serial_lines, 2);
    assert_eq!(
        f.serial_end(0),
        1,
        "machine lines at the moment of the breakpoint"
    );
    assert_eq!(t.global_timeout_secs, Some(3600.0));
}

#[test]
fn the_freeze_holds_the_failing_line_and_not_what_came_after() {
    let text = format!(
        "{}machine: must succeed: false\n!!! Traceback (most recent call last):\n\
         !!!   File \"<string>\", line 2, in <module>\n!!!     machine.succeed(\"false\")\n\
         !!! \n!!! RequestedAssertionFailed: command `false` failed (exit code 1)\n\
         machine # [   9.2] after one\nmachine # [   9.3] after two\ncleanup\n",
        preamble()
    );
    let run = parse(text.as_bytes());
    let t = &run.tests[0];
    let f = t.freeze.as_ref().unwrap();
    assert_eq!((f.kind, f.line + 1), (FAIL, 6));
    // The frozen driver pane holds the whole report, up to its exception, and no more.
    let last = t.driver.get(f.driver_end - 1).unwrap();
    assert_eq!(
        last.plain(),
        "!!! RequestedAssertionFailed: command `false` failed (exit code 1)"
    );
    assert_eq!(t.driver.get(f.driver_end).unwrap().plain(), "cleanup");
    assert_eq!(f.serial_end(0), 1);
    assert_eq!(t.machines[0].serial_lines, 3);
    let failure = t.main_failure().unwrap();
    assert_eq!(failure.command.as_deref(), Some("false"));
    assert_eq!(failure.machine.as_deref(), Some("machine"));
}

#[test]
fn a_kernel_panic_alone_does_not_stop_the_run_but_the_driver_failing_after_it_does() {
    let panic = format!(
        "{}machine # [    3.1] Kernel panic - not syncing: Attempted to kill init!\n",
        preamble()
    );
    let run = parse(panic.as_bytes());
    assert!(run.tests[0].freeze.is_none(), "the guest's word alone");
    let then_fails = format!(
        "{panic}!!! Traceback (most recent call last):\n!!! RuntimeError: Shell disconnected\n"
    );
    let run = parse(then_fails.as_bytes());
    let f = run.tests[0].freeze.as_ref().unwrap();
    assert_eq!((f.kind, f.line + 1), (FAIL, 6));
}

#[test]
fn guest_text_never_stops_the_run() {
    let spoofs = [
        // A serial line.
        format!("{}machine # !!! {BREAKPOINT}\n", preamble()),
        format!(
            "{}machine # !!! Traceback (most recent call last):\nmachine # error: boom\n",
            preamble()
        ),
        // Command output after `NAME: output:`.
        format!(
            "{}machine: must succeed: cat /tmp/x\nmachine: output:\n!!! {BREAKPOINT}\n\
             !!! Traceback (most recent call last):\n(finished: must succeed: cat /tmp/x, in 0.01 seconds)\n",
            preamble()
        ),
        // An attach program outside the store.
        format!(
            "{}!!! Breakpoint reached, run 'sudo /tmp/evil-attach/bin/attach 3766386'\n",
            preamble()
        ),
        format!(
            "{}!!! Breakpoint reached, run 'sudo /nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 3766386; sh'\n",
            preamble()
        ),
    ];
    for text in &spoofs {
        let run = parse(text.as_bytes());
        let t = &run.tests[0];
        assert!(t.breakpoint.is_none(), "{text}");
        // The command-output case holds a `!!! Traceback` of the guest: it ends the output
        // block (see the README) and counts as the driver's; every other case is inert.
        if !text.contains("output:") {
            assert!(t.freeze.is_none(), "{text}");
        }
    }
}

#[test]
fn a_test_script_print_on_the_terminal_is_not_the_drivers_word() {
    // In a live run the test script's prints go to the driver's terminal (stdout), which is
    // read for the machine blocks only.
    let mut p = Parser::new(Caps::default(), ParseOptions::default());
    p.feed(preamble().as_bytes(), 0);
    p.feed_terminal(
        format!("!!! {BREAKPOINT}\r\nTraceback (most recent call last):\r\n").as_bytes(),
    );
    p.feed_terminal(format!("\x1b[31m!!! \x1b[0m{BREAKPOINT}\r\n").as_bytes());
    assert!(p.run.tests[0].breakpoint.is_none());
    assert!(p.run.tests[0].freeze.is_none());
}

#[test]
fn a_manual_freeze_gives_way_to_a_failure() {
    let mut p = Parser::new(Caps::default(), ParseOptions::default());
    p.feed(preamble().as_bytes(), 10);
    assert!(p.run.tests[0].freeze_now(TriggerKind::Manual, 3, Some(10)));
    p.feed(
        b"!!! Traceback (most recent call last):\n!!! RuntimeError: boom\n",
        20,
    );
    let f = p.run.tests[0].freeze.as_ref().unwrap();
    assert_eq!((f.kind, f.ms), (FAIL, Some(20)));
    // And a second failure does not move the moment.
    p.feed(b"error: again\n", 30);
    assert!(!p.run.tests[0].freeze_now(TriggerKind::Exit, 9, None));
    assert_eq!(p.run.tests[0].freeze.as_ref().unwrap().ms, Some(20));
}

#[test]
fn a_test_attach_store_is_taken_only_when_configured() {
    let store = "/tmp/vmscope-test/nix/store";
    let line = format!(
        "!!! Breakpoint reached, run 'sudo {store}/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 42'\n"
    );
    let run = parse(line.as_bytes());
    assert!(run.tests[0].breakpoint.is_none());
    let opts = ParseOptions {
        extra_attach_store: Some(store.into()),
        ..ParseOptions::default()
    };
    let run = Parser::parse_all(line.as_bytes(), Caps::default(), opts);
    assert_eq!(run.tests[0].breakpoint.as_ref().unwrap().line.id, "42");
    assert_eq!(
        run.tests[0].freeze.as_ref().map(|f| f.kind),
        Some(TriggerKind::Breakpoint)
    );
}

#[test]
fn prefixed_lines_say_the_run_is_in_a_build() {
    let (_, bytes) = common::log_fixture("12");
    assert!(parse(&bytes).tests[0].in_build);
    assert!(!parse(preamble().as_bytes()).tests[0].in_build);
}
