//! Every fixture drawn at many sizes and after every action: the screen never panics, and
//! what it shows comes from the model.

mod common;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vmscope::app::action::Action;
use vmscope::app::keymap::Keymap;
use vmscope::app::state::App;
use vmscope::vm::Caps;
use vmscope::vm::source::SourceEvent;

fn app_for(bytes: Vec<u8>) -> App {
    let mut app = App::new(Caps::default(), Keymap::defaults(), "fixture".into(), false);
    app.ingest(SourceEvent::Data(bytes, u32::MAX));
    app.ingest(SourceEvent::End);
    app
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let mut drawn = Default::default();
    term.draw(|f| drawn = vmscope::panes::draw(f, app))
        .expect("draw");
    app.laid_out(drawn);
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_fixture_draws_at_every_size_after_every_action() {
    let inputs: Vec<Vec<u8>> = common::all_inputs()
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let actions = [
        Action::FocusNext,
        Action::Zoom,
        Action::ScrollUp,
        Action::PageUp,
        Action::Top,
        Action::ScrollRight,
        Action::Wrap,
        Action::Times,
        Action::FocusDriver,
        Action::CollapseAll,
        Action::ToggleStep,
        Action::ExpandAll,
        Action::JumpToFailure,
        Action::SearchOlder,
        Action::Help,
        Action::PageDown,
        Action::Close,
        Action::NextTest,
        Action::Bottom,
        Action::FailureView,
        Action::Freeze,
        Action::Live,
        Action::Attach,
        Action::Pdb,
        Action::SshMachine(1),
        Action::PdbContinue,
        Action::PrevTab,
        Action::FailureView,
    ];
    for input in inputs {
        let mut app = app_for(input);
        app.views.search = vmscope::app::view::Matcher::new("a");
        for (w, h) in [(40, 8), (80, 24), (200, 50), (39, 7), (133, 41)] {
            draw(&mut app, w, h);
            for a in actions {
                app.update(a);
                let cached = draw(&mut app, w, h);
                assert_eq!(cached, drawn_anew(&mut app, w, h), "after {a:?} at {w}x{h}");
            }
        }
    }
}

/// The screen with no pane kept from the frame before.
fn drawn_anew(app: &mut App, w: u16, h: u16) -> String {
    app.screen.cache = Default::default();
    draw(app, w, h)
}

#[test]
fn panes_kept_from_the_last_frame_are_what_drawing_them_anew_gives_while_lines_stream_in() {
    let (_, bytes) = common::log_fixture("08-");
    let mut app = App::new(Caps::default(), Keymap::defaults(), "live".into(), false);
    let (mut frames, mut restored) = (0, 0);
    for (i, chunk) in bytes.chunks(100).enumerate() {
        app.ingest(SourceEvent::Data(chunk.to_vec(), i as u32 * 10));
        // Now and then the user moves: focus, scroll, search, times.
        match i % 9 {
            2 => drop(app.update(Action::FocusNext)),
            4 => drop(app.update(Action::ScrollUp)),
            6 => app.views.search = vmscope::app::view::Matcher::new("e"),
            8 => drop(app.update(Action::Times)),
            _ => {}
        }
        let cached = draw(&mut app, 160, 48);
        restored += app.screen.cache.restored();
        assert_eq!(cached, drawn_anew(&mut app, 160, 48), "chunk {i}");
        frames += 1;
    }
    assert!(frames > 10, "{frames}");
    // A pane whose machine printed nothing in a chunk came from the last frame.
    assert!(restored > 0);
    assert!(app.current_test().machines.len() >= 2);
}

#[test]
fn machine_titles_and_outcome_come_from_the_model() {
    let mut app = app_for(common::real_driver("timeout.stderr"));
    assert!(draw(&mut app, 120, 30).contains("GLOBAL TIMEOUT"));
    app.update(Action::FailureView);
    let screen = draw(&mut app, 120, 30);
    assert!(
        screen.contains("1 machine1 ● killed · 90 lines"),
        "{screen}"
    );
    assert!(screen.contains("TIMED OUT"), "{screen}");
    assert!(screen.contains("✗ subtest: wait for something"), "{screen}");
}

#[test]
fn a_finished_log_says_a_silent_console_printed_nothing_and_counts_boots() {
    let log = b"\
silent: starting vm
machine: starting vm
machine # [    0.000000] Linux version 6.12
machine: starting vm
machine # [    0.000000] Linux version 6.12
"
    .to_vec();
    let mut app = app_for(log);
    let screen = draw(&mut app, 160, 40);
    assert!(
        screen.contains("(no console output in this log)"),
        "{screen}"
    );
    assert!(!screen.contains("(no serial output yet)"), "{screen}");
    assert!(screen.contains("── boot 2 ──"), "{screen}");
    assert!(screen.contains("· boot 2"), "{screen}");
    // The separator is drawn apart from console text: bold yellow.
    let mut term = Terminal::new(TestBackend::new(160, 40)).expect("terminal");
    term.draw(|f| {
        vmscope::panes::draw(f, &app);
    })
    .expect("draw");
    let buf = term.backend().buffer().clone();
    let (y, row) = screen
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("── boot 2 ──"))
        .expect("the separator's row");
    let x = row[..row.find("boot 2 ──").unwrap()].chars().count();
    let (x, y) = (x as u16, y as u16);
    let cell = &buf[(x, y)];
    assert_eq!(cell.fg, ratatui::style::Color::Yellow, "{cell:?}");
    assert!(
        cell.modifier.contains(ratatui::style::Modifier::BOLD),
        "{cell:?}"
    );
}

#[test]
fn the_failure_view_lists_the_other_failures_of_the_test() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/18-py2022-mosquitto-mypy-wrapped-errors.log");
    let mut app = app_for(std::fs::read(path).unwrap());
    let screen = draw(&mut app, 160, 40);
    assert!(
        screen.contains(
            "type check failed: \"wait_for_console_text\" of \"Machine\" does not return a value"
        ),
        "{screen}"
    );
    // The mypy run's second and third errors, at their input lines.
    let also: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("also  type check failed:"))
        .collect();
    assert_eq!(also.len(), 2, "{screen}");
    assert!(
        also[0].contains("(input line 5)") && also[1].contains("(input line 9)"),
        "{also:?}"
    );
}

#[test]
fn the_driver_pane_says_how_many_steps_left_memory() {
    let mut log = b"\x1b[1m\x1b[32mrun the VM test script\x1b[0m\n".to_vec();
    for i in 0..300 {
        log.extend_from_slice(
            format!(
                "machine: \x1b[1m\x1b[32mmust succeed: echo {i}\x1b[0m\n\
                 machine: (finished: must succeed: echo {i}, in 0.01 seconds)\n"
            )
            .as_bytes(),
        );
    }
    let caps = Caps {
        max_steps: 50,
        ..Caps::default()
    };
    let mut app = App::new(caps, Keymap::defaults(), "steps.log".into(), false);
    app.ingest(SourceEvent::Data(log, u32::MAX));
    app.ingest(SourceEvent::End);
    let gone = app.current_test().steps.evicted();
    assert!(gone >= 240, "{gone}");
    app.set_focus(vmscope::app::view::Pane::Driver);
    app.update(Action::Top);
    let screen = draw(&mut app, 120, 40);
    let want = format!("⋯ {gone} earlier steps not in memory");
    assert!(screen.contains(&want), "{want}\n{screen}");
    // Their lines are still there, dimmed, with no state or fold mark of their own.
    assert!(
        screen.contains("  · machine: must succeed: echo 0 "),
        "{screen}"
    );
    assert!(
        !screen.contains("? machine: must succeed: echo 0 "),
        "{screen}"
    );
    // The newest steps are still in the tree, with their marks.
    app.update(Action::Bottom);
    let screen = draw(&mut app, 250, 40);
    assert!(
        screen.contains("✓ machine: must succeed: echo 299"),
        "{screen}"
    );
}
