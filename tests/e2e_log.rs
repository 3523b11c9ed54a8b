//! `vmscope log` in a real pseudo-terminal, read back through vt100.

mod common;

use common::pty::{Term, find};

fn fixture(path: &str) -> String {
    common::fixtures().join(path).display().to_string()
}

#[test]
fn machine_panes_are_titled_and_q_restores_the_terminal() {
    let log = fixture("real-driver/pass.stderr");
    let mut t = Term::spawn(&["log", &log], 160, 48);
    t.wait_text("machine3", 10);
    let s = t.screen();
    for m in ["1 machine1", "2 machine2", "3 machine3", "0 driver"] {
        assert!(find(&s, m).is_some(), "pane title {m:?}:\n{}", s.contents());
    }
    assert!(s.contents().contains("PASSED"));
    assert!(
        s.alternate_screen(),
        "the screen is drawn on the alternate screen"
    );
    assert!(s.hide_cursor());
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
    let s = t.screen();
    assert!(!s.alternate_screen(), "alternate screen left");
    assert!(!s.hide_cursor(), "cursor shown again");
    assert_eq!(
        s.mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "mouse capture off"
    );
}

#[test]
fn search_finds_and_highlights_a_known_line() {
    let log = fixture("logs/08-prefixed-serveur-client-boot-interleaved.log");
    let mut t = Term::spawn(&["log", &log], 160, 48);
    t.wait_text("serveur", 10);
    // Focus client's pane (machine 1) and search for a line that only it printed.
    t.keys("1");
    t.keys("/Update Boot Loader");
    t.wait_text("/Update Boot Loader", 5);
    t.keys("\r");
    t.wait_text("match 1 of 1", 5);
    let s = t.screen();
    let (row, col) = find(&s, "Update Boot Loader Random Seed skipped").expect("the line is shown");
    let cell = s.cell(row, col).expect("cell");
    assert_eq!(
        cell.bgcolor(),
        vt100::Color::Idx(3),
        "the match is highlighted in yellow"
    );
    let after = s.cell(row, col + 25).expect("cell after the match");
    assert_ne!(
        after.bgcolor(),
        vt100::Color::Idx(3),
        "only the match is highlighted"
    );
    // A search with no match says so.
    t.keys("/no such text\r");
    t.wait_text("no match in this pane", 5);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn zoom_and_focus_change_what_is_shown() {
    let log = fixture("real-driver/fail.stderr");
    let mut t = Term::spawn(&["log", &log], 160, 48);
    past_the_view(&mut t);
    t.wait_text("2 machine2", 10);
    assert!(t.text().contains("1 machine1"));
    // Focus machine 1, zoom: only its pane remains.
    t.keys("1");
    t.keys("z");
    t.wait_for("machine1 alone", 5, |s| {
        find(s, "1 machine1").is_some()
            && find(s, "2 machine2").is_none()
            && find(s, "0 driver").is_none()
    });
    // Tab moves the focus, and the zoomed pane with it.
    t.keys("\t");
    t.wait_for("machine2 alone", 5, |s| {
        find(s, "2 machine2").is_some() && find(s, "1 machine1").is_none()
    });
    t.keys("\t");
    t.wait_for("the driver alone", 5, |s| {
        find(s, "0 driver").is_some() && find(s, "2 machine2").is_none()
    });
    assert!(t.text().contains("RequestedAssertionFailed"));
    // Zoom again: the grid is back.
    t.keys("z");
    t.wait_for("the grid", 5, |s| {
        find(s, "1 machine1").is_some() && find(s, "2 machine2").is_some()
    });
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

/// A failing log opens on the breakpoint view; Esc shows the panes, frozen at the failure.
fn past_the_view(t: &mut Term) {
    t.wait_text("TEST FAILED", 10);
    t.keys("\x1b");
    t.wait_text("0 driver", 5);
}

#[test]
fn help_lists_the_keys_of_the_focused_context() {
    let log = fixture("real-driver/fail.stderr");
    let mut t = Term::spawn(&["log", &log], 140, 45);
    // The failure opens the breakpoint view; `0` goes to the driver pane from there.
    t.wait_text("TEST FAILED", 10);
    t.keys("0?");
    t.wait_text("keys: driver pane", 5);
    let text = t.text();
    assert!(text.contains("collapse/expand the step"), "{text}");
    assert!(text.contains("search the focused pane"));
    t.keys("\x1b");
    t.wait_for("help closed", 5, |s| {
        !s.contents().contains("keys: driver pane")
    });
    t.keys("1?");
    t.wait_text("keys: log panes", 5);
    assert!(
        !t.text().contains("collapse/expand the step"),
        "driver keys are not shown for a machine pane"
    );
    t.keys("q");
    t.wait_for("help closed", 5, |s| {
        !s.contents().contains("keys: log panes")
    });
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn folding_a_step_hides_its_lines() {
    let log = fixture("real-driver/fail.stderr");
    let mut t = Term::spawn(&["log", &log], 160, 60);
    past_the_view(&mut t);
    t.wait_text("subtest: things that work", 10);
    assert!(t.text().contains("must succeed: echo every"));
    t.keys("0");
    t.keys("E");
    // Collapse everything: only top-level steps remain.
    t.keys("C");
    t.wait_for("folded tree", 5, |s| {
        !s.contents().contains("must succeed: echo every")
    });
    assert!(t.text().contains("run the VM test script"));
    t.keys("E");
    t.wait_text("must succeed: echo every", 5);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn a_tiny_terminal_is_told_not_broken() {
    let log = fixture("real-driver/pass.stderr");
    let mut t = Term::spawn(&["log", &log], 30, 6);
    t.wait_text("too small", 10);
    t.resize(120, 40);
    t.wait_text("1 machine1", 10);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn a_log_piped_on_stdin_is_shown_live() {
    let log = fixture("real-driver/timeout.stderr");
    let bin = env!("CARGO_BIN_EXE_vmscope");
    let script = format!("cat '{log}' | '{bin}' log -");
    let mut t = Term::spawn_program("sh", &["-c", &script], 140, 40);
    t.wait_text("TIMED OUT", 10);
    assert!(t.text().contains("1 machine1"));
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn a_terminal_on_stdin_is_refused() {
    let mut t = Term::spawn(&["log", "-"], 120, 40);
    assert_eq!(t.wait_exit(10), 2);
    assert!(
        t.text().contains("standard input is a terminal"),
        "{}",
        t.text()
    );
}

#[test]
fn the_screen_never_asks_the_terminal_where_its_cursor_is() {
    // A cursor-position query costs a round trip, and a timeout on terminals that never answer.
    let log = fixture("real-driver/pass.stderr");
    let mut t = Term::spawn(&["log", &log], 120, 40);
    t.wait_text("1 machine1", 10);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
    let raw = t.raw.lock().unwrap().clone();
    let at = raw.windows(4).position(|w| w == b"\x1b[6n");
    assert_eq!(
        at,
        None,
        "query at byte {at:?}: {:?}",
        String::from_utf8_lossy(&raw[..(at.unwrap_or(0) + 60).min(raw.len())])
    );
}

#[test]
fn guest_escape_sequences_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("storm.log");
    let mut text = Vec::new();
    text.extend_from_slice(
        b"\x1b[2mvictim # before \x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07after\x1b[0m\n",
    );
    text.extend_from_slice(b"\x1b[2mvictim # title\x1b]0;pwned-title\x07 set\x1b[0m\n");
    text.extend_from_slice(b"\x1b[2mvictim # query\x1b[6n\x1b[c\x1b[>c and moves\x1b[2J\x1b[10;10H\x1b[?1049l done\x1b[0m\n");
    text.extend_from_slice(b"\x1b[2mvictim # \x1bP+q544e\x1b\\dcs \x9b6n c1\x1b[0m\n");
    text.extend_from_slice(b"\x1b[2mvictim # [\x1b[0;32m  OK  \x1b[0m] colours stay\x1b[0m\n");
    std::fs::write(&log, &text).unwrap();
    let mut t = Term::spawn(&["log", log.to_str().unwrap()], 120, 30);
    t.wait_text("colours stay", 10);
    let s = t.screen();
    assert!(s.contents().contains("before after"), "{}", s.contents());
    assert!(s.contents().contains("title set"));
    assert!(s.contents().contains("query and moves done"));
    let (row, col) = find(&s, "OK").unwrap();
    assert_eq!(
        s.cell(row, col).unwrap().fgcolor(),
        vt100::Color::Idx(2),
        "SGR colours are drawn"
    );
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
    let raw = t.raw.lock().unwrap().clone();
    // vmscope's own question at start (which pictures the terminal draws) is no guest's.
    let raw = String::from_utf8_lossy(&raw).replacen(
        "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\\x1b[c\x1b[16t\x1b[5n",
        "",
        1,
    );
    for bad in [
        "]52;",
        "pwned-title",
        "\x1b[6n",
        "\x1b[c",
        "\x1b[>c",
        "\x1bP",
        "\x1b[10;10H",
    ] {
        assert!(!raw.contains(bad), "{bad:?} reached the terminal");
    }
}

#[test]
fn nothing_is_drawn_while_nothing_changes() {
    let log = fixture("real-driver/pass.stderr");
    let mut t = Term::spawn(&["log", &log], 120, 40);
    t.wait_text("1 machine1", 10);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = t.raw.lock().unwrap().len();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let after = t.raw.lock().unwrap().len();
    assert_eq!(before, after, "no bytes written while idle");
    // A key that changes nothing visible still costs at most one small frame.
    t.keys("j");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let moved = t.raw.lock().unwrap().len();
    assert!(moved - after < 4096, "one key, {} bytes", moved - after);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn save_writes_the_pane_and_says_where() {
    let log = fixture("real-driver/fail.stderr");
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet is made.
    let out = dir.path().join("saved/panes/machine2.txt");
    let mut t = Term::spawn(&["log", &log], 140, 40);
    past_the_view(&mut t);
    t.keys("2S");
    t.wait_text("save to:", 5);
    // Replace the proposed name with ours.
    t.send(&[0x15]); // Ctrl-U clears the input
    t.keys(out.to_str().unwrap());
    t.keys("\r");
    t.wait_text("saved 77 lines", 5);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 77);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("Linux version 6.12.10")
    );
    assert!(!text.contains('\x1b'), "saved as plain text");
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn evicted_lines_are_announced_with_the_whole_log() {
    let log = fixture("real-driver/pass.stderr");
    let mut t = Term::spawn(&["log", "--max-lines", "20", &log], 140, 60);
    t.wait_text("1 machine1", 10);
    t.keys("1g");
    t.wait_text("earlier lines not in memory; the whole log is in", 5);
    assert!(t.text().contains("pass.stderr"));
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn follow_shows_lines_appended_to_a_growing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.log");
    std::fs::write(&path, "\x1b[2mnode # first line\x1b[0m\n").unwrap();
    let mut t = Term::spawn(&["log", "--follow", path.to_str().unwrap()], 120, 30);
    t.wait_text("first line", 10);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    use std::io::Write as _;
    f.write_all(
        b"\x1b[2mnode # second line\x1b[0m\nnode: \x1b[1m\x1b[32mwaiting for unit x\x1b[0m\n",
    )
    .unwrap();
    f.flush().unwrap();
    t.wait_text("second line", 10);
    t.wait_text("RUNNING", 5);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn the_demo_runs_to_its_failure_and_opens_the_repl() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Term::spawn_in(dir.path(), &["demo", "--speed", "5"], 160, 48);
    t.wait_text("RUNNING", 20);
    // The failure opens the breakpoint view.
    t.wait_text("TEST FAILED", 30);
    t.wait_text("RequestedAssertionFailed", 5);
    // After the failing subtest, the REPL is there to play with: `c` goes to it.
    t.keys("c");
    t.wait_text("In [1]:", 30);
    let s = t.text();
    for m in [
        "1 client",
        "2 database",
        "3 server",
        "fake-driver.py",
        "[frozen",
    ] {
        assert!(s.contains(m), "{m}: {s}");
    }
    t.keys("client.succeed('echo hi from the demo')\r");
    t.wait_text("hi from the demo", 10);
    t.keys("\x1dqq");
    assert_eq!(t.wait_exit(15), 143, "the driver was stopped");
}

#[test]
fn many_machines_get_a_list_and_the_mouse_focuses() {
    let mut log = String::new();
    for i in 1..=12 {
        log.push_str(&format!("\x1b[2mvm{i:02} # hello from vm{i:02}\x1b[0m\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.log");
    std::fs::write(&path, log).unwrap();
    let mut t = Term::spawn(&["log", path.to_str().unwrap()], 100, 30);
    // Waited for whole: a frame can be read half written.
    t.wait_for("every machine in the list", 10, |s| {
        find(s, "machines (12)").is_some() && find(s, "vm12").is_some()
    });
    let s = t.screen();
    // Click vm12 in the list: its pane appears, focused.
    let (row, col) = find(&s, "vm12").unwrap();
    let click = format!(
        "\x1b[<0;{};{}M\x1b[<0;{};{}m",
        col + 1,
        row + 1,
        col + 1,
        row + 1
    );
    t.keys(&click);
    t.wait_text("hello from vm12", 5);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn t_shows_input_line_numbers_for_files() {
    let log = fixture("logs/08-prefixed-serveur-client-boot-interleaved.log");
    let mut t = Term::spawn(&["log", &log], 160, 40);
    t.wait_text("serveur", 10);
    t.keys("t");
    // serveur's first serial line is line 3 of the file, its last line 14.
    t.wait_for("line numbers", 5, |s| {
        let text = s.contents();
        text.contains("     3 [   68.528118] systemd[1]: Starting Update is Completed...")
            && text.contains("    13 [   73.540622]")
    });
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn sigterm_sighup_and_sigint_restore_the_terminal() {
    let log = fixture("real-driver/pass.stderr");
    for (sig, status) in [
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
        (libc::SIGINT, 130),
    ] {
        let mut t = Term::spawn(&["log", &log], 120, 40);
        t.wait_text("1 machine1", 10);
        t.signal(sig);
        assert_eq!(t.wait_exit(10), status);
        let s = t.screen();
        assert!(
            !s.alternate_screen(),
            "alternate screen left after signal {sig}"
        );
        assert!(!s.hide_cursor());
        assert_eq!(s.mouse_protocol_mode(), vt100::MouseProtocolMode::None);
    }
}

#[test]
fn without_python_the_demo_replays_its_recording() {
    // A PATH where no python3 is found.
    let mut t = Term::spawn_env(
        &["demo", "--speed", "20"],
        160,
        48,
        &[("PATH", "/nonexistent")],
    );
    t.wait_text("python3 is not installed", 10);
    t.wait_text("FAILED", 30);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

/// The demo with its temporary directory under `tmp` (and more of the environment).
fn demo_in(tmp: &std::path::Path, env: &[(&str, &str)]) -> Term {
    let tmp = tmp.to_str().unwrap();
    let mut env = env.to_vec();
    env.push(("TMPDIR", tmp));
    Term::spawn_env(&["demo", "--speed", "20"], 160, 48, &env)
}

/// How the guardian's restore begins (vmscope's own puts the same codes in another order).
const GUARDIAN_WORDS: &[u8] = b"\x1b[?1049l\x1b[?25h\x1b[?1000l";

#[test]
fn a_signal_to_the_demo_leaves_no_temporary_directory() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let tmp = tempfile::tempdir().unwrap();
        let mut t = demo_in(tmp.path(), &[]);
        t.wait_text("database", 20);
        let made = std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(made, 1, "the demo's directory is there while it runs");
        t.signal(sig);
        assert_eq!(t.wait_exit(15), 128 + sig as u32);
        assert!(!t.screen().alternate_screen(), "signal {sig}");
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left after signal {sig}: {left:?}");
    }
}

#[test]
fn sigkill_to_the_demo_leaves_the_terminal_usable_and_no_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut t = demo_in(
        tmp.path(),
        &[("VMSCOPE_TEST_CWD", cwd.path().to_str().unwrap())],
    );
    t.wait_text("database", 20);
    t.wait_for("the demo's REPL", 20, |s| s.contents().contains("In ["));
    assert!(t.screen().alternate_screen());
    let _shell = t.hold_terminal();
    t.signal(libc::SIGKILL);
    t.wait_exit(10);
    // vmscope could not say it: its guardian did.
    t.wait_for("the terminal put back", 15, |s| {
        !s.alternate_screen()
            && !s.hide_cursor()
            && s.mouse_protocol_mode() == vt100::MouseProtocolMode::None
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::fs::read_dir(tmp.path()).unwrap().next().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo's directory is left"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let raw = t.raw.lock().unwrap().clone();
    assert!(
        raw.windows(GUARDIAN_WORDS.len())
            .any(|w| w == GUARDIAN_WORDS),
        "the guardian's words"
    );
    // The REPL kept its history in the demo's directory, not where the demo ran.
    assert!(!cwd.path().join(".nixos-test-history").exists());
}

#[test]
fn a_demo_that_ends_normally_leaves_its_guardian_nothing_to_say() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = demo_in(tmp.path(), &[]);
    t.wait_text("TEST FAILED", 30);
    t.keys("c");
    t.wait_text("In [1]:", 30);
    let _shell = t.hold_terminal();
    t.keys("exit()\r");
    t.wait_text("exited 0", 20);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
    // Past the guardian's grace period: it wrote nothing after vmscope put the screen back.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let raw = t.raw.lock().unwrap().clone();
    assert!(
        !raw.windows(GUARDIAN_WORDS.len())
            .any(|w| w == GUARDIAN_WORDS),
        "the guardian spoke after a normal exit"
    );
    assert!(!t.screen().alternate_screen());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn the_harness_finds_frame_marks_across_reads() {
    let mut m = common::pty::FrameMarks::default();
    assert_eq!(m.scan(b"ab\x1b[?20"), vec![]);
    assert!(!m.inside);
    assert_eq!(m.scan(b"26hxyz\x1b[?2026"), vec![(3, false)]);
    assert!(m.inside);
    assert_eq!(m.scan(b"l\x1b\x1b[?2026h"), vec![(1, true), (10, false)]);
    assert!(m.inside);
}
