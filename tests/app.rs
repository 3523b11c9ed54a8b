//! `App` driven by actions, as a user would, with the screen drawn to a test backend.

mod common;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vmscope::app::action::Action;
use vmscope::app::keymap::Keymap;
use vmscope::app::state::{App, PromptKind};
use vmscope::app::view::{Matcher, Pane};
use vmscope::vm::Caps;
use vmscope::vm::source::SourceEvent;

fn app(file: &str) -> (App, Terminal<TestBackend>) {
    let mut app = App::new(Caps::default(), Keymap::defaults(), file.into(), false);
    app.ingest(SourceEvent::Data(common::real_driver(file), u32::MAX));
    app.ingest(SourceEvent::End);
    let mut term = Terminal::new(TestBackend::new(220, 50)).unwrap();
    term.draw(|f| vmscope::panes::draw(f, &mut app)).unwrap();
    (app, term)
}

fn screen(app: &mut App, term: &mut Terminal<TestBackend>) -> String {
    term.draw(|f| vmscope::panes::draw(f, app)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn a_search_finds_lines_inside_folded_steps_and_unfolds_them() {
    let (mut app, mut term) = app("fail.stderr");
    app.update(Action::FocusDriver);
    app.update(Action::CollapseAll);
    let s = screen(&mut app, &mut term);
    assert!(!s.contains("connecting took 1.49"), "folded:\n{s}");
    app.search = Matcher::new("connecting took 1.49");
    app.update(Action::SearchOlder);
    let s = screen(&mut app, &mut term);
    assert!(
        s.contains("machine1: (connecting took 1.49 seconds)"),
        "unfolded:\n{s}"
    );
    assert!(s.contains("match 1 of 1"));
}

#[test]
fn scrolling_up_pauses_and_the_end_follows_again() {
    let (mut app, mut term) = app("pass.stderr");
    app.update(Action::FocusMachine(1));
    assert!(app.view(Pane::Machine(0)).following());
    app.update(Action::PageUp);
    assert!(!app.view(Pane::Machine(0)).following());
    assert!(screen(&mut app, &mut term).contains("[paused]"));
    app.update(Action::PageDown);
    app.update(Action::PageDown);
    assert!(
        app.view(Pane::Machine(0)).following(),
        "back at the end, following again"
    );
    app.update(Action::Top);
    assert!(screen(&mut app, &mut term).contains("Linux version 6.12.10"));
    app.update(Action::Bottom);
    assert!(app.view(Pane::Machine(0)).following());
}

#[test]
fn a_filter_keeps_matching_lines_and_shows_in_the_title() {
    let (mut app, mut term) = app("pass.stderr");
    app.update(Action::FocusMachine(2));
    app.update(Action::Filter);
    assert_eq!(
        app.prompt.as_ref().map(|p| p.kind),
        Some(PromptKind::Filter)
    );
    for c in "Reached target".chars() {
        app.on_key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(c),
        ));
    }
    app.on_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Enter,
    ));
    let s = screen(&mut app, &mut term);
    assert!(s.contains("[filter: Reached target]"), "{s}");
    let pane: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("┃[  OK  ] Reached target"))
        .collect();
    assert!(pane.len() >= 5, "{s}");
    assert!(
        !s.contains("Linux version"),
        "non-matching lines are hidden"
    );
    // An empty filter clears it.
    app.update(Action::Filter);
    app.on_key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('u'),
        crossterm::event::KeyModifiers::CONTROL,
    ));
    app.on_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Enter,
    ));
    assert!(!screen(&mut app, &mut term).contains("[filter:"));
}

#[test]
fn jump_to_the_failure_shows_the_error_lines() {
    let (mut app, mut term) = app("fail.stderr");
    app.update(Action::FocusMachine(1));
    app.update(Action::JumpToFailure);
    assert_eq!(app.focus, Pane::Driver);
    let s = screen(&mut app, &mut term);
    assert!(s.contains("!!! Test \"this one fails\" failed"), "{s}");
}

#[test]
fn the_leave_chord_pressed_twice_goes_to_the_program() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use vmscope::app::live::CommandPane;
    use vmscope::app::state::Effect;
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    app.command = Some(CommandPane::new("driver".into(), 80, 24));
    app.set_focus(Pane::Command);
    assert!(app.typing());
    let key = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    assert_eq!(
        app.on_key(key('q')),
        vec![Effect::WritePty(b"q".to_vec())],
        "q is typed, not quit"
    );
    assert!(!app.quit);
    let leave = KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL);
    assert!(app.on_key(leave).is_empty());
    assert!(!app.typing(), "first press: navigation");
    assert_eq!(
        app.on_key(leave),
        vec![Effect::WritePty(vec![0x1d])],
        "second press goes through"
    );
    assert!(app.typing());
    // Ctrl-C while typing is the program's.
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.on_key(ctrl_c), vec![Effect::WritePty(vec![0x03])]);
    assert!(!app.quit);
}

#[test]
fn the_command_panes_history_pages_in_navigation() {
    use vmscope::app::live::CommandPane;
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    let mut pane = CommandPane::new("driver".into(), 40, 5);
    for i in 0..50 {
        pane.emu.process(format!("line {i}\r\n").as_bytes());
    }
    app.command = Some(pane);
    app.set_focus(Pane::Command);
    let leave = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(']'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    app.on_key(leave);
    let contents = |app: &App| app.command.as_ref().unwrap().emu.screen().contents();
    assert!(contents(&app).contains("line 49"));
    app.update(Action::PageUp);
    assert!(
        !contents(&app).contains("line 49"),
        "paged back into the history"
    );
    app.update(Action::Top);
    assert!(contents(&app).contains("line 0"));
    app.update(Action::Bottom);
    assert!(contents(&app).contains("line 49"));
}
