//! The run's one axis over real captures: every pane brought to one moment, the merged
//! order, the timeline's silences, and what `inspect --json` says of them. The expected
//! lines were read off the captures (line numbers as `cat -n` shows them).

mod common;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vmscope::app::action::Action;
use vmscope::app::keymap::Keymap;
use vmscope::app::state::App;
use vmscope::app::view::Pane;
use vmscope::vm::source::SourceEvent;
use vmscope::vm::{Caps, ParseOptions, Parser};

fn app(file: &str) -> (App, Terminal<TestBackend>) {
    let mut app = App::new(Caps::default(), Keymap::defaults(), file.into(), false);
    app.ingest(SourceEvent::Data(common::real_driver(file), u32::MAX));
    app.ingest(SourceEvent::End);
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    common::screen(&mut app, &mut term);
    (app, term)
}

/// A palette command typed and run, as `:goto 185` Enter.
fn command(app: &mut App, line: &str) {
    app.update(Action::Palette);
    for c in line.chars() {
        app.update(Action::EditPrompt(KeyEvent::from(KeyCode::Char(c))));
    }
    app.update(Action::Submit);
}

/// The input line and text of the line under `pane`'s cursor.
fn cursor_line(app: &App, pane: Pane) -> Option<(u64, String)> {
    let seq = app.views.view(pane).cursor?;
    let lines = app.views.lines(&app.shown(), pane);
    let l = lines.get(seq)?;
    Some((l.input_line(), l.plain().trim().to_string()))
}

#[test]
fn selecting_a_step_brings_each_machine_to_what_it_printed_then() {
    let (mut app, mut term) = app("fail.stderr");
    // What went wrong opened by itself, with sync on; its panes come next.
    assert!(app.failure.open);
    assert!(app.views.sync, "sync is on once something failed");
    app.update(Action::FocusDriver);
    common::screen(&mut app, &mut term);

    // The failing step, `machine2: must succeed: false` (line 185): both machines had last
    // printed `Starting Network Setup...` (machine1 on line 176, machine2 on line 177).
    command(&mut app, "goto 185");
    let (line, text) = cursor_line(&app, Pane::Driver).unwrap();
    assert_eq!(line, 185);
    assert!(text.contains("must succeed: false"), "{text}");
    assert_eq!(
        cursor_line(&app, Pane::Machine(0)),
        Some((176, "Starting Network Setup...".into()))
    );
    assert_eq!(
        cursor_line(&app, Pane::Machine(1)),
        Some((177, "Starting Network Setup...".into()))
    );
    let s = common::screen(&mut app, &mut term);
    assert!(s.contains("◷ L185 "), "the top bar says the moment:\n{s}");

    // `subtest: things that work` (line 14): each kernel had printed its version only
    // (machine1 line 10, machine2 line 11).
    command(&mut app, "goto 14");
    let m1 = cursor_line(&app, Pane::Machine(0)).unwrap();
    let m2 = cursor_line(&app, Pane::Machine(1)).unwrap();
    assert_eq!(m1.0, 10);
    assert!(m1.1.contains("Linux version 6.12.10"), "{m1:?}");
    assert_eq!(m2.0, 11);
    assert!(m2.1.contains("Linux version 6.12.10"), "{m2:?}");

    // `machine2: waiting for unit multi-user.target` (line 170): both had just reached
    // `Basic System` (lines 167 and 168). The lines they printed while it ran (176, 177)
    // are the step's; those before are not.
    command(&mut app, "goto 170");
    assert_eq!(
        cursor_line(&app, Pane::Machine(0)),
        Some((167, "[  OK  ] Reached target Basic System.".into()))
    );
    assert_eq!(
        cursor_line(&app, Pane::Machine(1)),
        Some((168, "[  OK  ] Reached target Basic System.".into()))
    );
    let span = app
        .views
        .selected_span(&app.shown())
        .expect("a step selected");
    let during = |m: usize, line: u64| {
        let t = app.current_test();
        t.machines[m]
            .serial
            .iter()
            .find(|(_, l)| l.input_line() == line)
            .is_some_and(|(_, l)| vmscope::app::logviews::within(&l, Some(span)))
    };
    assert!(during(0, 176) && during(1, 177));
    assert!(!during(0, 167) && !during(1, 168));
}

#[test]
fn sync_off_leaves_the_other_panes_where_they_are() {
    let (mut app, _term) = app("fail.stderr");
    app.update(Action::FocusDriver);
    app.update(Action::Sync);
    assert!(!app.views.sync);
    let before = app.views.view(Pane::Machine(0)).cursor;
    command(&mut app, "goto 14");
    assert_eq!(app.views.view(Pane::Machine(0)).cursor, before);
}

/// Lines of an input as the parser cuts them (a lone CR ends one too), SGR removed.
fn input_lines(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut splitter = vmscope::vm::splitter::LineSplitter::default();
    let mut push = |p: vmscope::vm::splitter::Piece<'_>| {
        let mut s = String::new();
        vmscope::vm::sanitize::sanitize_into(p.bytes, &mut s);
        let plain = vmscope::vm::sanitize::strip_sgr(&s);
        if p.continued {
            if let Some(last) = out.last_mut() {
                let last: &mut String = last;
                last.push_str(&plain);
            }
        } else {
            out.push(plain);
        }
    };
    splitter.feed(bytes, &mut push);
    splitter.finish(&mut push);
    out
}

#[test]
fn the_merged_view_is_the_input_in_its_order_every_line_once() {
    for path in common::all_inputs() {
        let name = path.display().to_string();
        if name.ends_with(".raw") || name.ends_with(".txt") || name.ends_with(".stdout") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let mut run = Parser::parse_all(&bytes, Caps::default(), ParseOptions::default());
        run.tests
            .iter_mut()
            .for_each(vmscope::vm::model::Test::merge);
        let lines = input_lines(&bytes);
        let mut seen = vec![0usize; lines.len() + 1];
        let mut last = 0;
        let mut stored = 0u64;
        for t in &run.tests {
            let m = &t.merged;
            assert_eq!(m.first_seq(), 0, "{name}: nothing dropped from the order");
            for n in m.first_seq()..m.end_seq() {
                let (origin, seq) = m.get(n).unwrap();
                let store = vmscope::app::view::store_of(t, origin).unwrap();
                let l = store.get(seq).unwrap();
                let line = l.input_line();
                // Tests of a build interleave: within a test the order holds.
                assert!(
                    line >= last || run.tests.len() > 1,
                    "{name}: {line} after {last}"
                );
                last = line;
                stored += 1;
                if line as usize >= seen.len() {
                    // A boot's separator stands at the line that began the boot.
                    continue;
                }
                seen[line as usize] += 1;
                let text = l.plain();
                let input = &lines[line as usize - 1];
                assert!(
                    text.starts_with("── boot ") || input.contains(text.trim_end()),
                    "{name}: line {line} {text:?} is not in {input:?}"
                );
            }
            last = 0;
        }
        let missing: Vec<usize> = (1..=lines.len()).filter(|&i| seen[i] == 0).collect();
        assert_eq!(
            missing.len() as u64,
            run.glue_blanks,
            "{name}: lines not stored are the blank ends of glued lines: {missing:?}"
        );
        for i in missing {
            assert!(lines[i - 1].trim().is_empty(), "{name}: line {i} left out");
        }
        assert!(stored >= run.lines - run.glue_blanks, "{name}");
    }
}

#[test]
fn the_longest_silence_of_a_hung_test_is_where_it_waited() {
    // timeout.stderr: `waiting for success: test -e this-file-is-never-created` began
    // about 1.6 s in (start all VMs 0.11 s, then waiting for multi-user.target 1.51 s);
    // machine1 printed its login prompt (line 107) and nothing more until QEMU was killed
    // (line 110), after the 15 s global timeout fired: about 13.4 s of silence.
    let run = Parser::parse_all(
        &common::real_driver("timeout.stderr"),
        Caps::default(),
        ParseOptions::default(),
    );
    let t = &run.tests[0];
    let silences = t.machines[0].axis.silences_until(t.last);
    let s = silences[0];
    assert_eq!((s.from_line, s.to_line), (107, Some(110)), "{silences:?}");
    assert!((13_300..=13_450).contains(&s.ms), "{}", s.ms);

    // The timeline finds it with one key on machine1's row.
    let (mut app, mut term) = app("timeout.stderr");
    app.update(Action::Timeline);
    let rows = vmscope::app::timeline::rows(app.current_test());
    let row = rows
        .iter()
        .position(|r| *r == vmscope::app::timeline::Row::Machine(0))
        .unwrap();
    for _ in 0..row {
        app.update(Action::ScrollDown);
    }
    app.update(Action::NextSilence);
    let screen = common::screen(&mut app, &mut term);
    assert!(
        screen.contains("machine1 silent ~13.4 s, from line 107 to line 110"),
        "{screen}"
    );
    // Enter shows every pane there: machine1 at its login prompt.
    app.update(Action::JumpHere);
    assert!(!app.timeline.open);
    assert_eq!(
        cursor_line(&app, Pane::Machine(0)),
        Some((107, "machine1 login:".into()))
    );
}

#[test]
fn the_timeline_draws_steps_as_bars_and_marks_the_failure() {
    let (mut app, mut term) = app("fail.stderr");
    app.update(Action::Timeline);
    let s = common::screen(&mut app, &mut term);
    let row = |needle: &str| {
        s.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in:\n{s}"))
            .to_string()
    };
    assert!(s.contains("timeline"), "{s}");
    // By the driver's clock the failing subtest took no time: its bar is its mark.
    assert!(row("subtest: this one fails").contains('✗'));
    assert!(row("subtest: things that work").contains('█'));
    assert!(row("events").contains('✗'));
    // Each machine: booted at the start, connected, killed at the end.
    for m in ["1 machine1", "2 machine2"] {
        let r = row(m);
        let (b, c, k) = (r.find('B'), r.find('●'), r.find('■'));
        assert!(b < c && c < k && b.is_some(), "{r}");
    }
}

#[test]
fn inspect_json_places_steps_and_machine_states_on_the_axis() {
    let run = Parser::parse_all(
        &common::real_driver("fail.stderr"),
        Caps::default(),
        ParseOptions::default(),
    );
    let json: serde_json::Value = serde_json::from_str(&vmscope::vm::export::json(&run)).unwrap();
    let t = &json["tests"][0];
    // `subtest: things that work` runs from line 14 to its end on line 181, 1.52 s later
    // by the driver's clock (the time is estimated: a file has no arrival times).
    let script = &t["steps"][1];
    assert_eq!(script["title"], "run the VM test script");
    let sub = script["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "subtest: things that work")
        .unwrap();
    assert_eq!(sub["start"]["line"], 14);
    assert_eq!(sub["end"]["line"], 181);
    assert_eq!(sub["start"]["estimated"], true);
    let secs = (sub["end"]["ms"].as_u64().unwrap() - sub["start"]["ms"].as_u64().unwrap()) as f64;
    assert!((secs - 1520.0).abs() < 1.0, "{secs}");
    // machine1: started on line 7, connected on line 164, killed at cleanup: line 194's
    // `kill QemuMachine (pid 26712)` names its QEMU (line 9 gave the pid).
    let m1 = &t["machines"][0];
    assert_eq!(m1["boot_lines"], serde_json::json!([7]));
    let states: Vec<(String, u64)> = m1["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["state"].as_str().unwrap().to_string(),
                s["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("booting".into(), 7),
            ("connected".into(), 164),
            ("killed".into(), 194)
        ]
    );
}

#[test]
fn a_replay_reads_a_moment_memory_no_longer_holds_again_from_the_recording() {
    use vmscope::app::replay::Replay;
    use vmscope::vm::source::{Input, ReadMode, pump};
    // 5000 console lines of one machine, line N at N ms; each pane keeps 100 lines.
    let dir = tempfile::tempdir().unwrap();
    let mut rec = vmscope::vm::recording::Recorder::start(dir.path(), &[], |_| {}).unwrap();
    rec.record(
        vmscope::vm::recording::Stream::Stderr,
        0,
        b"machine: starting vm\n",
    );
    for n in 1..=5000u32 {
        let line = format!("\x1b[2mmachine # line {n}\x1b[0m\n");
        rec.record(vmscope::vm::recording::Stream::Stderr, n, line.as_bytes());
    }
    assert!(rec.finish(std::time::Duration::from_secs(10)));
    let caps = Caps {
        max_lines: 100,
        ..Caps::default()
    };
    let mut app = App::new(caps, Keymap::defaults(), "rec".into(), false);
    app.input.session_dir = Some(dir.path().to_path_buf());
    app.replay = Some(Replay::new(0, false));
    app.failure.until = Some(0);
    let input = Input::open(dir.path().to_str().unwrap()).unwrap();
    let mode = ReadMode {
        follow: false,
        timed: false,
    };
    pump(input, mode, std::time::Instant::now(), |ev| {
        app.ingest(ev);
        true
    });
    app.step_replay(None);
    let real_first = app.input.test(0).machines[0].serial.first_at().unwrap();
    assert!(
        real_first > 4000 * 16,
        "memory holds the last 100 lines only"
    );
    // To 1.234 s: line 1234 of the machine (input line 1235) is the last one shown.
    app.replay.as_mut().unwrap().seek(1234);
    app.step_replay(None);
    let r = app.replay.as_ref().unwrap();
    let w = r.window.as_ref().expect("the moment is read again");
    assert!(w.covers(1235), "{}..{}", w.from_line, w.to_line);
    let shown = app.shown();
    let lines = app.views.lines(&shown, Pane::Machine(0));
    let last = lines.get(lines.last().unwrap()).unwrap();
    assert_eq!(last.plain(), "line 1234");
    assert_eq!(last.input_line(), 1235);
    // Back where memory holds the lines: the window goes.
    app.replay.as_mut().unwrap().seek(4990);
    app.step_replay(None);
    assert!(app.replay.as_ref().unwrap().window.is_none());
    let shown = app.shown();
    let lines = app.views.lines(&shown, Pane::Machine(0));
    assert_eq!(
        lines.get(lines.last().unwrap()).unwrap().plain(),
        "line 4990"
    );
}

#[test]
fn a_machine_silent_while_a_command_ran_in_a_transcript() {
    // 02 (mayastor, 2020): the initiator's kernel printed at 6.646 s (line 43) and next at
    // 22.396 s (line 97): the 15.74 s `fio` run of line 48 lies between, and the driver's
    // `(15.74 seconds)` on line 49 says as much.
    let (_, bytes) = common::log_fixture("02-");
    let run = Parser::parse_all(&bytes, Caps::default(), ParseOptions::default());
    let t = &run.tests[0];
    let m = t.machine("initiator").unwrap();
    let s = t.machines[m].axis.silences_until(t.last)[0];
    assert_eq!((s.from_line, s.to_line), (43, Some(97)), "{s:?}");
    assert!((15_700..=15_900).contains(&s.ms), "{}", s.ms);
}

#[test]
fn a_click_on_the_timeline_moves_its_cursor_and_picks_the_row() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let (mut app, mut term) = app("fail.stderr");
    app.update(Action::Timeline);
    common::screen(&mut app, &mut term);
    let plot = app.screen.drawn.timeline.expect("the plot as drawn");
    let click = |column, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // The plot's first column is the run's start; machine2's row is the last.
    let rows = vmscope::app::timeline::rows(app.current_test());
    app.on_mouse(click(plot.x, plot.y + rows.len() as u16 - 1));
    assert_eq!(app.timeline.cursor, 0);
    assert_eq!(
        rows[app.timeline.row],
        vmscope::app::timeline::Row::Machine(1)
    );
    // Its last column is the end; Enter goes there.
    app.on_mouse(click(plot.x + plot.width - 1, plot.y));
    let end = vmscope::app::timeline::Axis::of(app.current_test()).end();
    assert_eq!(app.timeline.cursor, end);
    app.update(Action::JumpHere);
    assert!(!app.timeline.open);
}
