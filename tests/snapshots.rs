//! Whole screens at three sizes (80x24, 120x40, 200x60) for the main states: a saved log,
//! a live run with its terminal, the failure view, the help and the command palette. The
//! snapshots (tests/snapshots/) were read when they were made; a change to what a screen
//! shows has to be looked at again (`cargo insta review`, or INSTA_UPDATE=always and a
//! read of the diff).

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vmscope::app::action::Action;
use vmscope::app::keymap::Keymap;
use vmscope::app::sessions::TermPane;
use vmscope::app::state::App;
use vmscope::vm::Caps;
use vmscope::vm::source::SourceEvent;

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

fn real(name: &str) -> Vec<u8> {
    std::fs::read(common::fixtures().join("real-driver").join(name)).unwrap()
}

fn saved(name: &str) -> App {
    let mut app = App::new(Caps::default(), Keymap::defaults(), name.into(), false);
    app.ingest(SourceEvent::Data(real(name), u32::MAX));
    app.ingest(SourceEvent::End);
    app
}

/// The screen's text; clocks (`00:03`) that depend on when the test runs are masked.
fn screen(app: &mut App, (w, h): (u16, u16)) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    // Twice: the second frame is laid out with what the first one measured, as on screen.
    for _ in 0..2 {
        let mut drawn = Default::default();
        term.draw(|f| drawn = vmscope::panes::draw(f, app)).unwrap();
        app.laid_out(drawn);
    }
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut row = String::new();
        for x in 0..w {
            row.push_str(buf[(x, y)].symbol());
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    if app.input.live {
        mask_clocks(&out)
    } else {
        out
    }
}

fn mask_clocks(s: &str) -> String {
    let b: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let clock = i + 5 <= b.len()
            && b[i].is_ascii_digit()
            && b[i + 1].is_ascii_digit()
            && b[i + 2] == ':'
            && b[i + 3].is_ascii_digit()
            && b[i + 4].is_ascii_digit();
        if clock {
            out.push_str("mm:ss");
            i += 5;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn snap(state: &str, mut make: impl FnMut() -> App) {
    for size in SIZES {
        let mut app = make();
        let text = screen(&mut app, size);
        insta::assert_snapshot!(format!("{state}_{}x{}", size.0, size.1), text);
    }
}

#[test]
fn a_saved_log() {
    snap("log", || saved("pass.stderr"));
}

#[test]
fn the_failure_view() {
    snap("failure", || {
        let app = saved("fail.stderr");
        assert!(app.failure.open, "a failed test opens the view");
        app
    });
}

#[test]
fn the_help() {
    snap("help", || {
        let mut app = saved("pass.stderr");
        app.update(Action::FocusMachine(1));
        app.update(Action::Help);
        app
    });
}

#[test]
fn the_palette() {
    snap("palette", || {
        let mut app = saved("pass.stderr");
        app.update(Action::Palette);
        for c in "foc".chars() {
            app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app
    });
}

#[test]
fn a_live_run_typing_in_its_terminal() {
    snap("live", || {
        let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
        let mut cmd = TermPane::new("nixos-test-driver -I".into(), 80, 12);
        cmd.emu.process(b"Python 3.13\r\n>>> start_all()\r\n>>> ");
        app.sessions.command = Some(cmd);
        let log = real("pass.stderr");
        let half = log.len() / 2;
        let cut = log[..half].iter().rposition(|b| *b == b'\n').unwrap_or(0) + 1;
        app.ingest(SourceEvent::Data(log[..cut].to_vec(), 1200));
        app.update(Action::FocusCommand);
        assert!(app.typing());
        app
    });
}
