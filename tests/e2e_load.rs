//! A big log is answered while it loads: keys, search and quit do not wait for the parser.

mod common;

#[path = "../benches/support/synth.rs"]
mod synth;

use std::io::Write;
use std::time::{Duration, Instant};

use common::pty::Term;

/// Megabytes of generated log: enough that loading takes seconds on any machine.
fn size_mb() -> usize {
    std::env::var("VMSCOPE_TEST_LOAD_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn big_log(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("big.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    // Written in parts so the test does not hold the whole log in memory.
    let part = synth::log(16, 16 << 20);
    let mut written = 0;
    while written < size_mb() << 20 {
        f.write_all(&part).unwrap();
        written += part.len();
    }
    f.flush().unwrap();
    path
}

fn loading(s: &vt100::Screen) -> bool {
    s.contents()
        .lines()
        .next()
        .is_some_and(|top| top.contains("reading "))
}

#[test]
fn keys_search_and_quit_answer_while_a_big_log_loads() {
    let dir = tempfile::tempdir().unwrap();
    let log = big_log(dir.path());
    let mut t = Term::spawn(&["log", log.to_str().unwrap()], 160, 48);
    t.wait_for("the progress of loading in the top bar", 20, loading);
    let top = t.text().lines().next().unwrap().to_string();
    let len = std::fs::metadata(&log).unwrap().len() as f64;
    let whole = if len >= 1e9 {
        format!(" of {:.1} GB", len / 1e9)
    } else {
        format!(" of {:.0} MB", len / 1e6)
    };
    assert!(top.contains(&whole), "the top bar says{whole}: {top}");

    // `j` moves the focus's cursor: the driver pane is focused and its cursor leaves the end.
    t.keys("2");
    t.wait_for("node-01's pane focused", 5, |s| {
        s.contents().contains("┏ 2 node-01")
    });
    assert!(
        loading(&t.screen()),
        "still loading when the key was answered"
    );

    // `/` opens the search line at once and a search runs over what is loaded.
    t.keys("/");
    t.wait_for("the search line", 5, |s| {
        s.contents()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with('/'))
    });
    t.keys("Journal Service\r");
    t.wait_for("a match of what is loaded", 5, |s| {
        s.contents()
            .lines()
            .last()
            .is_some_and(|l| l.contains("match"))
    });
    assert!(
        loading(&t.screen()),
        "still loading when the search answered"
    );

    // `q` quits at once, with most of the log unread.
    let asked = Instant::now();
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "quitting took {:?}",
        asked.elapsed()
    );
}
