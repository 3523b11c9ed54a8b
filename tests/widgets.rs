//! Each pane drawn alone into a buffer, its text and its styles asserted: what a user reads
//! in it and how it is marked (focus, failure, typing, selection).

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use vmscope::app::action::Action;
use vmscope::app::effect::Confirm;
use vmscope::app::keymap::Keymap;
use vmscope::app::sessions::TermPane;
use vmscope::app::state::App;
use vmscope::app::view::Pane;
use vmscope::panes;
use vmscope::vm::Caps;
use vmscope::vm::source::SourceEvent;

fn saved(name: &str) -> App {
    let bytes = std::fs::read(common::fixtures().join("real-driver").join(name)).unwrap();
    let mut app = App::new(Caps::default(), Keymap::defaults(), name.into(), false);
    app.ingest(SourceEvent::Data(bytes, u32::MAX));
    app.ingest(SourceEvent::End);
    app
}

/// What `draw` puts into a `w`x`h` buffer.
fn alone(w: u16, h: u16, draw: impl FnOnce(&mut ratatui::Frame<'_>, Rect)) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        let area = f.area();
        draw(f, area);
    })
    .unwrap();
    term.backend().buffer().clone()
}

fn row(b: &Buffer, y: u16) -> String {
    (0..b.area.width).map(|x| b[(x, y)].symbol()).collect()
}

/// Where `needle` starts in the buffer.
fn at(b: &Buffer, needle: &str) -> Option<(u16, u16)> {
    (0..b.area.height).find_map(|y| {
        let r = row(b, y);
        let i = r.find(needle)?;
        Some((r[..i].chars().count() as u16, y))
    })
}

fn text(b: &Buffer) -> String {
    (0..b.area.height).map(|y| row(b, y) + "\n").collect()
}

#[test]
fn a_log_pane_marks_its_focus_and_a_failed_step() {
    let mut app = saved("fail.stderr");
    app.update(Action::FailureView);
    assert!(!app.failure.open, "the panes again");
    app.update(Action::FocusDriver);
    let b = alone(100, 30, |f, r| {
        panes::log_pane::draw(f, r, &app, Pane::Driver)
    });
    let s = text(&b);
    assert!(
        s.starts_with('┏'),
        "the focused pane has a thick frame:\n{s}"
    );
    let (x, y) = at(&b, "✗").expect("a failed step");
    assert_eq!(b[(x, y)].fg, Color::Red, "{s}");
    // A machine pane, not focused: a rounded frame, its name and state in the title.
    let b = alone(60, 12, |f, r| {
        panes::log_pane::draw(f, r, &app, Pane::Machine(1))
    });
    let s = text(&b);
    assert!(s.starts_with('╭'), "{s}");
    assert!(row(&b, 0).contains("2 machine2"), "{s}");
    assert!(row(&b, 0).contains("killed"), "{s}");
}

#[test]
fn the_machine_list_names_each_machine_with_its_number() {
    let app = saved("pass.stderr");
    let b = alone(26, 6, |f, r| panes::machine_list::draw(f, r, &app));
    let s = text(&b);
    for (i, name) in ["machine1", "machine2", "machine3"].iter().enumerate() {
        let (_, y) = at(&b, name).unwrap_or_else(|| panic!("{name}:\n{s}"));
        assert!(row(&b, y).contains(&(i + 1).to_string()), "{s}");
    }
}

#[test]
fn a_terminal_pane_says_whether_it_types() {
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    let mut cmd = TermPane::new("driver -I".into(), 60, 6);
    cmd.emu.process(b">>> 1+1\r\n2\r\n>>> ");
    app.sessions.command = Some(cmd);
    app.update(Action::FocusCommand);
    let draw = |app: &App| {
        alone(62, 8, |f, r| {
            panes::terminal_pane::draw(f, r, app, app.sessions.command.as_ref().unwrap())
        })
    };
    let b = draw(&app);
    let (x, y) = at(&b, "[typing · Ctrl-] leaves]").unwrap_or_else(|| panic!("{}", text(&b)));
    assert_eq!((b[(x, y)].bg, b[(x, y)].fg), (Color::Cyan, Color::Black));
    assert!(text(&b).contains(">>> 1+1"));
    // Left: reading, and the keys that type again are named from the keymap.
    app.update(Action::Leave);
    let b = draw(&app);
    assert!(
        at(&b, "[navigation · Enter/i types]").is_some(),
        "{}",
        text(&b)
    );
    assert!(at(&b, "[typing").is_none());
}

#[test]
fn the_bars_show_the_outcome_the_mode_and_whole_hints() {
    let app = saved("fail.stderr");
    let b = alone(120, 1, |f, r| {
        panes::status_bar::draw_top(f, r, &app);
    });
    let (x, y) = at(&b, "● FAILED").unwrap_or_else(|| panic!("{}", text(&b)));
    assert_eq!(b[(x, y)].fg, Color::Red);
    assert!(b[(x, y)].modifier.contains(Modifier::BOLD));
    let b = alone(120, 1, |f, r| panes::status_bar::draw_bottom(f, r, &app));
    let hints = row(&b, 0);
    assert!(
        hints.contains("? help") && hints.contains("q quit"),
        "{hints}"
    );
    // Narrow: hints are left out whole, the first ones kept.
    let b = alone(30, 1, |f, r| panes::status_bar::draw_bottom(f, r, &app));
    let narrow = row(&b, 0);
    assert!(narrow.contains("? help"), "{narrow}");
    for word in narrow.split_whitespace() {
        assert!(
            hints.contains(word),
            "{word:?} is a whole hint word: {narrow}"
        );
    }
    // Typing: the bottom bar says so.
    let mut live = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    live.sessions.command = Some(TermPane::new("driver".into(), 40, 5));
    live.update(Action::FocusCommand);
    let b = alone(100, 1, |f, r| panes::status_bar::draw_bottom(f, r, &live));
    let (x, y) = at(&b, "TYPING").unwrap();
    assert_eq!(b[(x, y)].bg, Color::Cyan);
}

#[test]
fn the_failure_view_tells_what_failed_where() {
    let app = saved("fail.stderr");
    let b = alone(100, 30, |f, r| panes::breakpoint::draw(f, r, &app));
    let s = text(&b);
    let (x, y) = at(&b, "TEST FAILED").unwrap_or_else(|| panic!("{s}"));
    assert_eq!(
        (b[(x, y)].bg, b[(x, y)].fg),
        (Color::Red, Color::Black),
        "{s}"
    );
    assert_eq!(b[(0, 0)].fg, Color::Red, "the frame is red: {s}");
    assert!(s.contains("command `false` failed"), "{s}");
    assert!(s.contains("machine2"), "{s}");
}

#[test]
fn the_help_lists_the_keys_of_the_pane_and_filters_them() {
    let mut app = saved("pass.stderr");
    app.update(Action::FocusMachine(1));
    app.update(Action::Help);
    // Tall enough for the log panes' keys and then those of everywhere.
    let b = alone(100, 60, |f, r| panes::help::draw(f, r, &app));
    let s = text(&b);
    assert!(s.contains("keys: log panes"), "{s}");
    assert!(s.contains("scroll up a line") && s.contains("1…9"), "{s}");
    // `/` filters the rows as it is typed.
    app.update(Action::Search);
    for c in "wrap".chars() {
        app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let b = alone(100, 40, |f, r| panes::help::draw(f, r, &app));
    let s = text(&b);
    assert!(s.contains("wrap long lines"), "{s}");
    assert!(!s.contains("scroll up a line"), "{s}");
}

#[test]
fn a_question_shows_the_exact_command() {
    let c = Confirm {
        tab: 1,
        lines: vec!["sudo /nix/store/abc-attach 1234".into()],
        why: "sudo runs it as root".into(),
    };
    let b = alone(100, 20, |f, r| panes::confirm::draw(f, r, &c));
    let s = text(&b);
    assert!(s.contains("sudo /nix/store/abc-attach 1234"), "{s}");
    assert!(s.contains("sudo runs it as root"), "{s}");
}

#[test]
fn the_palette_marks_the_entry_enter_runs() {
    let mut app = saved("pass.stderr");
    app.update(Action::Palette);
    for c in "zo".chars() {
        app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let entries = app.palette();
    let b = alone(90, 20, |f, r| {
        let bottom = Rect::new(r.x, r.bottom() - 1, r.width, 1);
        panes::palette::draw(f, bottom, &app.keymap, &entries, "zo", 0)
    });
    let s = text(&b);
    let (x, y) = at(&b, "zoom").unwrap_or_else(|| panic!("{s}"));
    assert!(b[(x, y)].modifier.contains(Modifier::REVERSED), "{s}");
    assert!(row(&b, y).contains(" z "), "its key: {s}");
    // Enter runs it.
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.views.zoom);
}
