//! The keyboard as a user meets it, end to end in a PTY: who gets the keys (the REPL's first
//! prompt, Tab while reading and while typing), Esc backing out one thing at a time, copying
//! with OSC 52, room to type at 80x24, and Ctrl-C that interrupts a statement but spares the
//! machines (the real ptpython/IPython REPL of the fake driver).

mod common;

use std::time::{Duration, Instant};

use common::fake_driver;
use common::pty::{Term, find, scaled};

fn python_has_the_repl() {
    common::python_imports("ptpython.ipython, IPython");
}

/// The fake driver with its REPL (`-I`) under `vmscope run`, machines `names`.
fn repl(names: &str, cols: u16, rows: u16) -> (tempfile::TempDir, Term) {
    python_has_the_repl();
    let dir = tempfile::tempdir().unwrap();
    let drv = fake_driver();
    let history = dir.path().join("history");
    let t = Term::spawn_in(
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
            "--machines",
            names,
            "--history",
            history.to_str().unwrap(),
        ],
        cols,
        rows,
    );
    t.wait_text("In [1]:", 30);
    (dir, t)
}

/// The bottom row of the screen.
fn bottom(t: &Term) -> String {
    t.text().lines().last().unwrap_or("").to_string()
}

#[test]
fn the_demos_repl_gets_the_first_typed_key() {
    python_has_the_repl();
    let dir = tempfile::tempdir().unwrap();
    let mut t = Term::spawn_in(dir.path(), &["demo", "--speed", "20"], 160, 48);
    // The test fails first (the failure view opens), then the REPL comes up below it.
    t.wait_text("In [1]:", 60);
    t.wait_for("the REPL has the keyboard", 10, |s| {
        s.contents()
            .lines()
            .last()
            .is_some_and(|l| l.contains("TYPING"))
    });
    t.keys("6*7\r");
    t.wait_text("Out[1]: 42", 10);
    t.keys("\x1dqq");
    t.wait_exit(20);
}

#[test]
fn tab_moves_past_the_terminal_and_tab_while_typing_goes_to_the_program() {
    let (_dir, mut t) = repl("vm1", 140, 40);
    assert!(bottom(&t).contains("TYPING"), "-I types from the start");
    // Typing: Tab is the program's (the REPL completes the word).
    t.keys("ImportErr");
    t.wait_text("In [1]: ImportErr", 10);
    t.keys("\t");
    t.wait_text("ImportError", 10);
    t.keys("\x15");
    t.wait_for("the line cleared", 10, |s| {
        find(s, "In [1]: ImportErr").is_none()
    });
    // Reading: Tab moves the focus on, and a terminal reached by Tab is read, not typed in.
    t.keys("\x1d");
    t.wait_text("[navigation", 10);
    t.keys("\t");
    t.wait_for("vm1 focused", 10, |s| find(s, "[navigation").is_none());
    assert!(!bottom(&t).contains("TYPING"), "{}", t.text());
    t.keys("\t\t");
    t.wait_text("[navigation", 10);
    // `z` on the terminal read zooms it: it is not typed.
    t.keys("z");
    t.wait_for("the terminal alone", 10, |s| find(s, "1 vm1").is_none());
    assert!(find(&t.screen(), "In [1]: z").is_none(), "{}", t.text());
    t.keys("z");
    // Enter (or i) types again.
    t.keys("i");
    t.wait_text("[typing", 10);
    t.keys("1+1\r");
    t.wait_text("Out[1]: 2", 10);
    t.keys("\x1dqq");
    t.wait_exit(20);
}

#[test]
fn esc_backs_out_one_thing_at_a_time() {
    let log = common::fixtures().join("real-driver/pass.stderr");
    let mut t = Term::spawn(&["log", log.to_str().unwrap()], 140, 40);
    t.wait_text("0 driver", 10);
    // Zoom a machine pane, filter it, search in it, open the help: four things on top of
    // one another.
    t.keys("1z");
    t.keys("&Started\r");
    t.wait_text("filter", 10);
    t.keys("/Reached\r");
    t.wait_text("match", 10);
    t.keys("?");
    t.wait_text("keys: log panes", 10);
    // The palette over it all closes first.
    t.keys(":");
    t.wait_text("commands (", 10);
    t.esc();
    t.wait_for("the palette closed", 10, |s| {
        find(s, "commands (").is_none()
    });
    assert!(
        t.text().contains("keys: log panes"),
        "the help is still open"
    );
    t.keys("\x1b");
    t.wait_for("the help closed", 10, |s| {
        find(s, "keys: log panes").is_none()
    });
    // The search's highlights go next: n has nothing to find then.
    t.esc();
    t.keys("n");
    t.wait_text("no search yet", 10);
    // Then the message, the filter, the zoom.
    t.esc();
    t.esc();
    t.wait_text("filter off: every line shown", 10);
    assert!(find(&t.screen(), "0 driver").is_none(), "still zoomed");
    t.esc();
    t.esc();
    t.wait_text("0 driver", 10);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

/// The text of the last OSC 52 sequence in `raw`.
fn clipboard(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let start = text.rfind("\x1b]52;c;")? + "\x1b]52;c;".len();
    let end = start + text[start..].find('\x07')?;
    let b64 = &text[start..end];
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in b64.chars().filter(|c| *c != '=') {
        bits = (bits << 6) | alphabet.find(c)? as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).ok()
}

#[test]
fn yank_puts_the_line_on_the_clipboard_with_osc52() {
    let log = common::fixtures().join("real-driver/pass.stderr");
    let mut t = Term::spawn(&["log", log.to_str().unwrap()], 140, 40);
    t.wait_text("0 driver", 10);
    // The driver pane's cursor line, then the whole pane.
    t.keys("0k");
    t.keys("y");
    t.wait_text("copied the line", 10);
    let line = clipboard(&t.raw.lock().unwrap()).expect("an OSC 52 sequence");
    assert!(!line.is_empty() && !line.contains('\n'), "{line:?}");
    assert!(
        t.text().contains(line.trim()),
        "the line is on screen: {line:?}"
    );
    t.keys("Y");
    t.wait_text("lines to the clipboard", 10);
    let all = clipboard(&t.raw.lock().unwrap()).unwrap();
    assert!(
        all.lines().count() > 5 && all.contains(line.trim()),
        "{all}"
    );
    // The mouse can be left to the terminal, to select with it.
    t.keys("M");
    t.wait_text("mouse off", 10);
    assert!(String::from_utf8_lossy(&t.raw.lock().unwrap()).contains("\x1b[?1000l"));
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn the_repl_has_room_to_type_at_80x24() {
    let (_dir, mut t) = repl("vm1,vm2", 80, 24);
    // What a statement prints and the next prompt fit together in the typing terminal, and
    // ptpython does not say its window is too small.
    t.keys("print('\\n'.join(f'row-{i}' for i in range(9)))\r");
    t.wait_text("In [2]:", 10);
    // The REPL draws its toolbar once it has drawn the prompt.
    t.wait_text("[F4]", 10);
    let s = t.text();
    assert!(!s.to_lowercase().contains("too small"), "{s}");
    assert!(
        s.contains("row-8") && s.contains("[F4]"),
        "the REPL draws its toolbar: {s}"
    );
    // The typing terminal (thick frame) has at least 12 rows inside.
    let inside = s.lines().filter(|l| l.starts_with('┃')).count();
    assert!(inside >= 12, "{inside} rows:\n{s}");
    // Both machines and the driver keep a pane.
    assert!(
        s.contains("vm1") && s.contains("vm2") && s.contains("driver"),
        "{s}"
    );
    t.keys("\x1dqq");
    t.wait_exit(20);
}

/// The pids of the fake machines' "QEMU" processes (`sleep 100000`) under `dir`'s driver.
fn qemus() -> Vec<u32> {
    common::processes_naming("sleep 100000")
        .iter()
        .filter_map(|p| p.split(':').next()?.trim().parse().ok())
        .collect()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn ctrl_c_interrupts_the_statement_and_spares_the_machines() {
    let (_dir, mut t) = repl("vm1", 160, 48);
    let before = qemus();
    t.keys("vm1.start()\r");
    t.wait_text("QEMU running", 20);
    let deadline = Instant::now() + scaled(Duration::from_secs(10));
    let qemu = loop {
        let new: Vec<u32> = qemus()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        if let Some(&p) = new.first() {
            break p;
        }
        assert!(Instant::now() < deadline, "no QEMU process");
        std::thread::sleep(Duration::from_millis(50));
    };
    t.wait_text("In [2]:", 20);
    t.keys("vm1.succeed('sleep 30')\r");
    t.wait_text("must succeed: sleep 30", 20);
    std::thread::sleep(Duration::from_millis(500));
    t.keys("\x03");
    t.wait_text("KeyboardInterrupt", 10);
    t.wait_text("In [3]:", 10);
    assert!(
        alive(qemu),
        "the machine's QEMU survived Ctrl-C:\n{}",
        t.text()
    );
    // And the machine still answers.
    t.keys("vm1.succeed('echo still-$((6*7))')\r");
    t.wait_text("Out[3]: 'still-42", 20);
    assert!(alive(qemu));
    t.keys("\x1dqq");
    t.wait_exit(20);
}
