//! The breakpoint view's keys on `App`, with the screen drawn to a test backend: what each
//! key starts, and when a line is typed into a session (never into a password prompt).

mod common;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vmscope::app::action::Action;
use vmscope::app::keymap::Keymap;
use vmscope::app::sessions::driver::ChildEvent;
use vmscope::app::trust::Mode;
use vmscope::app::view::Pane;
use vmscope::app::{effect::Effect, state::App};
use vmscope::vm::Caps;
use vmscope::vm::source::SourceEvent;

fn screen(app: &mut App, term: &mut Terminal<TestBackend>) -> String {
    common::screen(app, term)
}

fn live(bytes: &[u8]) -> App {
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    app.ingest(SourceEvent::Data(bytes.to_vec(), 0));
    app
}

/// `vmscope run` of a driver that is this test process: the processes it starts are the
/// driver's.
fn run_of_this_process(bytes: &[u8]) -> App {
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    app.checks.mode = Mode::Run;
    app.checks.driver_pid = Some(std::process::id() as i32);
    app.ingest(SourceEvent::Data(bytes.to_vec(), 0));
    app.poll_tabs();
    app
}

/// Fixture 12 as `vmscope build` reads it: a build paused at the debug hook's breakpoint,
/// in its sandbox, with the hook's `sleep ID` marker running on this host and its attach
/// program in a store-shaped directory.
struct Paused {
    app: App,
    attach: String,
    _store: common::AttachStore,
    _marker: common::Marker,
}

fn paused_in_sandbox() -> Paused {
    let (_, bytes) = common::log_fixture("12");
    let store = common::attach_store();
    let text = String::from_utf8_lossy(&bytes).replace(
        &format!("/nix/store/{}-attach/bin/attach", common::ATTACH_HASH),
        &store.attach,
    );
    let marker = common::Marker::start("3766386");
    let mut app = common::app_with_store(&store, Mode::Build);
    app.ingest(SourceEvent::Data(text.into_bytes(), 0));
    app.poll_tabs();
    Paused {
        app,
        attach: store.attach.clone(),
        _store: store,
        _marker: marker,
    }
}

/// `y` to the question shown, which must name every line of `want`.
fn say_yes(app: &mut App, want: &[&str]) -> Vec<Effect> {
    let c = app.overlay.confirm.clone().expect("a question is shown");
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    assert_eq!(c.lines, want);
    app.on_key(common::key('y'))
}

fn typed(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::WriteTab(_, b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

fn started(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::OpenTab { program, args, .. } => Some(
                std::iter::once(program)
                    .chain(args)
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Effect::OpenPdb { host, port, .. } => Some(format!("pdb {host}:{port}")),
            _ => None,
        })
        .collect()
}

#[test]
fn the_view_opens_on_the_breakpoint_and_frozen_panes_count_what_came_after() {
    let Paused {
        mut app,
        attach,
        _store,
        _marker,
    } = paused_in_sandbox();
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    assert!(app.failure.open, "opened once the marker confirmed it");
    assert!(app.facts().sandboxed());
    let s = screen(&mut app, &mut term);
    for want in [
        "PAUSED AT A BREAKPOINT",
        "RequestedAssertionFailed: command `false` unexpectedly failed",
        "in the build sandbox",
        &format!("sudo {attach} 3766386"),
        "machine.succeed(\"false\")",
    ] {
        assert!(s.contains(want), "{want}:\n{s}");
    }
    // Lines after the moment are kept, counted, and shown again with L.
    app.update(Action::FailureView);
    app.ingest(SourceEvent::Data(
        b"vm-test-run-test> machine # [  99.0] after the failure\n".to_vec(),
        5,
    ));
    app.update(Action::FocusMachine(1));
    let s = screen(&mut app, &mut term);
    assert!(s.contains("[frozen · +1 since]"), "{s}");
    assert!(!s.contains("after the failure"), "{s}");
    app.update(Action::Live);
    let s = screen(&mut app, &mut term);
    assert!(s.contains("after the failure"), "{s}");
    assert!(s.contains("LIVE (F freezes)"), "{s}");
    app.update(Action::Freeze);
    assert!(!screen(&mut app, &mut term).contains("after the failure"));
}

#[test]
fn attach_shows_the_command_asks_and_runs_it_in_a_terminal() {
    let Paused {
        mut app,
        attach,
        _store,
        _marker,
    } = paused_in_sandbox();
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    screen(&mut app, &mut term);
    let command = format!("sudo {attach} 3766386");
    assert!(
        app.update(Action::Attach).is_empty(),
        "sudo waits for a yes"
    );
    let s = screen(&mut app, &mut term);
    assert!(s.contains("run this?") && s.contains(&command), "{s}");
    let effects = say_yes(&mut app, &[&command]);
    assert_eq!(started(&effects), std::slice::from_ref(&command));
    let s = screen(&mut app, &mut term);
    assert!(s.contains(&format!("$ {command}")), "{s}");
    assert!(s.contains("[sandbox]"), "{s}");

    // No is no: nothing runs, and no tab is left behind.
    app.update(Action::FailureView);
    let tabs = app.sessions.tabs.len();
    app.update(Action::Attach);
    assert!(app.on_key(common::key('n')).is_empty());
    assert_eq!(app.sessions.tabs.len(), tabs);
    assert!(app.overlay.confirm.is_none());
}

#[test]
fn in_the_sandbox_pdb_is_telnet_typed_at_the_shell_prompt_never_at_a_password() {
    let Paused {
        mut app,
        attach,
        _store,
        _marker,
    } = paused_in_sandbox();
    assert!(app.update(Action::Pdb).is_empty());
    let command = format!("sudo {attach} 3766386");
    let effects = say_yes(&mut app, &[&command, "telnet 127.0.0.1 4444"]);
    assert_eq!(started(&effects), [command]);
    assert!(
        typed(&effects).is_empty(),
        "nothing typed before the shell is up"
    );
    let id = app.sessions.tabs[0].id;
    let fx = app.on_tab(id, ChildEvent::Pty(b"[sudo] password for me: ".to_vec()));
    assert!(typed(&fx).is_empty(), "{fx:?}");
    std::thread::sleep(std::time::Duration::from_millis(1400));
    assert!(
        typed(&app.poll_tabs()).is_empty(),
        "not even after a quiet moment"
    );
    let fx = app.on_tab(id, ChildEvent::Pty(b"\r\nbash# ".to_vec()));
    assert_eq!(typed(&fx), ["telnet 127.0.0.1 4444\r"]);
    // `c` goes to the same session, once pdb prompts.
    let fx = app.update(Action::PdbContinue);
    assert!(typed(&fx).is_empty(), "{fx:?}");
    let fx = app.on_tab(
        id,
        ChildEvent::Pty(b"telnet 127.0.0.1 4444\r\nConnected.\r\n(Pdb) ".to_vec()),
    );
    assert_eq!(typed(&fx), ["c\r"]);
}

#[test]
fn a_machine_key_types_its_ssh_into_the_sandbox_and_a_quiet_shell_gets_it_too() {
    let Paused {
        mut app,
        attach,
        _store,
        _marker,
    } = paused_in_sandbox();
    let name = app.current_test().machines[0].name.clone();
    let path = app
        .current_test()
        .ssh
        .iter()
        .find(|e| e.machine == name)
        .map(|e| e.command.rsplit(' ').next().unwrap().to_string())
        .expect("the machine has a backdoor address");
    let want = format!("ssh -F ./ssh_config -o User=root {path}");
    assert!(want.contains(" vsock-mux//build/"), "{want}");
    assert!(app.update(Action::SshMachine(1)).is_empty());
    let command = format!("sudo {attach} 3766386");
    let fx = say_yes(&mut app, &[&command, &want]);
    assert_eq!(started(&fx), [command]);
    let id = app.sessions.tabs[0].id;
    // No prompt that looks like one: a quiet moment is enough.
    app.on_tab(id, ChildEvent::Pty(b"welcome to the sandbox\r\n".to_vec()));
    assert!(typed(&app.poll_tabs()).is_empty());
    std::thread::sleep(std::time::Duration::from_millis(1400));
    let fx = app.poll_tabs();
    assert_eq!(typed(&fx), [format!("{want}\r")], "{name}");
    assert_eq!(app.sessions.tabs[0].label(), format!("sandbox: {name}"));
}

const BREAKPOINT_RUN: &str = "start all VLans\n\
    !!! Breakpoint reached, run 'sudo /nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 1234567'\n\
    RemotePdb session open at 127.0.0.1:40123, waiting for connection ...\n";

#[test]
fn outside_a_sandbox_pdb_is_a_tcp_console_at_the_address_the_driver_said() {
    // `vmscope run`: the marker is one of the driver's own processes (here this test's).
    let _marker = common::Marker::start("1234567");
    let mut app = run_of_this_process(BREAKPOINT_RUN.as_bytes());
    assert!(app.failure.open);
    assert!(!app.facts().sandboxed());
    let fx = app.update(Action::PdbContinue);
    assert!(
        app.overlay.confirm.is_none(),
        "a confirmed pause on loopback needs no question"
    );
    assert_eq!(started(&fx), ["pdb 127.0.0.1:40123"]);
    let id = app.sessions.tabs[0].id;
    assert!(
        typed(&app.tab_connected(id)).is_empty(),
        "pdb has not prompted"
    );
    let fx = app.on_tab(
        id,
        ChildEvent::Pty(b"> <string>(3)<module>()\r\n(Pdb) ".to_vec()),
    );
    assert_eq!(typed(&fx), ["c\n"]);
    // The console's own line editing: typed keys stay local until Enter.
    use crossterm::event::{KeyCode, KeyEvent};
    app.sessions.show_tab(Some(0));
    for c in "p 1+1".chars() {
        assert!(app.on_key(KeyEvent::from(KeyCode::Char(c))).is_empty());
    }
    let fx = app.on_key(KeyEvent::from(KeyCode::Enter));
    assert_eq!(typed(&fx), ["p 1+1\n"]);
}

#[test]
fn a_breakpoint_line_without_its_marker_is_only_a_claim() {
    // No `sleep 7654321` runs: a guest could have printed the line.
    let mut app = run_of_this_process(BREAKPOINT_RUN.replace("1234567", "7654321").as_bytes());
    assert!(!app.failure.open, "a claim does not take the screen");
    let text = app
        .overlay
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(text.contains("no `sleep ID` marker"), "{text}");
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    app.update(Action::FailureView);
    let s = screen(&mut app, &mut term);
    assert!(s.contains("BREAKPOINT (claimed, not confirmed)"), "{s}");
    // pdb is asked about first, with the exact address.
    assert!(app.update(Action::Pdb).is_empty());
    let c = app.overlay.confirm.clone().expect("asked");
    assert_eq!(c.lines, ["connect to pdb at 127.0.0.1:40123"]);
    assert!(c.why.contains("only claimed"), "{}", c.why);
    assert!(app.on_key(common::key('n')).is_empty());
    assert!(app.sessions.tabs.is_empty());
    // The attach program named by the line is not on this host: nothing to run.
    app.update(Action::Attach);
    assert!(app.overlay.confirm.is_none());
    let s = screen(&mut app, &mut term);
    assert!(s.contains("does not exist on this host"), "{s}");
}

#[test]
fn nothing_paused_means_no_pdb_and_c_types_in_the_driver() {
    let (_, bytes) = common::log_fixture("15");
    let mut app = live(&bytes);
    assert!(app.failure.open, "a Perl-era error opens the view too");
    assert!(app.update(Action::Pdb).is_empty());
    assert!(
        app.overlay
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("nothing waits in pdb")
    );
    assert!(app.update(Action::Attach).is_empty());
    assert!(app.sessions.tabs.is_empty());
    app.update(Action::PdbContinue);
    assert!(!app.failure.open);
    assert_eq!(
        app.views.focus,
        Pane::Driver,
        "no driver terminal here: focus stays"
    );
}

#[test]
fn a_user_typing_in_a_terminal_keeps_the_keyboard() {
    use vmscope::app::sessions::TermPane;
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    app.sessions.command = Some(TermPane::new("driver".into(), 80, 24));
    app.update(Action::FocusCommand);
    app.on_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('x'),
    ));
    app.ingest(SourceEvent::Data(
        b"!!! Traceback (most recent call last):\n!!! RuntimeError: boom\n".to_vec(),
        0,
    ));
    assert!(!app.failure.open);
    assert!(app.typing());
    assert!(
        app.overlay
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("b shows what went wrong")
    );
}

#[test]
fn a_driver_exiting_non_zero_opens_the_view_and_f_freezes_by_hand() {
    let mut app = live(b"alpha: starting vm\nalpha # [    0.1] Linux version 6.12\n");
    let mut term = Terminal::new(TestBackend::new(120, 36)).unwrap();
    assert!(!app.failure.open, "nothing failed yet");
    // Freezing by hand: later lines are counted, not shown, and no view opens.
    app.update(Action::Freeze);
    app.ingest(SourceEvent::Data(b"alpha # [    0.2] later\n".to_vec(), 9));
    assert!(!app.failure.open);
    app.update(Action::FocusMachine(1));
    let s = screen(&mut app, &mut term);
    assert!(s.contains("[frozen · +1 since]"), "{s}");
    assert!(s.contains("FROZEN by hand"), "{s}");
    // The driver dies without a word: its status is the trigger, and replaces the manual one.
    app.on_child(ChildEvent::Exited(3));
    assert!(app.failure.open);
    let s = screen(&mut app, &mut term);
    assert!(s.contains("THE DRIVER FAILED"), "{s}");
    assert!(s.contains("the driver exited with status 3"), "{s}");
}

#[test]
fn a_recordings_breakpoint_was_a_pause_that_is_over() {
    let (_, bytes) = common::log_fixture("12");
    let mut app = App::new(
        Caps::default(),
        Keymap::defaults(),
        "recording".into(),
        false,
    );
    app.ingest(SourceEvent::Data(bytes, u32::MAX));
    app.ingest(SourceEvent::End);
    assert!(app.current_test().breakpoint.is_some());
    // What `vmscope log SESSION_DIR` does with the recorded exit status.
    app.input.exit_code = Some(0);
    app.input.parser.set_exit_code(0);
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let s = screen(&mut app, &mut term);
    assert!(s.contains("WAS PAUSED AT A BREAKPOINT"), "{s}");
    assert!(!s.contains("⏸ PAUSED AT"), "{s}");
    for a in [
        Action::Attach,
        Action::Pdb,
        Action::PdbContinue,
        Action::SshMachine(1),
    ] {
        assert!(
            !app.offers(a),
            "{a:?} is not offered for a pause that is over"
        );
    }
}
