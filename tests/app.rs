//! `App` driven by actions, as a user would, with the screen drawn to a test backend.

mod common;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vmscope::app::action::Action;
use vmscope::app::keymap::Keymap;
use vmscope::app::overlay::PromptKind;
use vmscope::app::sessions::TermPane;
use vmscope::app::state::App;
use vmscope::app::view::{Matcher, Pane};
use vmscope::vm::Caps;
use vmscope::vm::source::SourceEvent;

fn app(file: &str) -> (App, Terminal<TestBackend>) {
    let mut app = App::new(Caps::default(), Keymap::defaults(), file.into(), false);
    app.ingest(SourceEvent::Data(common::real_driver(file), u32::MAX));
    app.ingest(SourceEvent::End);
    let mut term = Terminal::new(TestBackend::new(220, 50)).unwrap();
    let mut drawn = Default::default();
    term.draw(|f| drawn = vmscope::panes::draw(f, &app))
        .unwrap();
    app.laid_out(drawn);
    (app, term)
}

fn screen(app: &mut App, term: &mut Terminal<TestBackend>) -> String {
    common::screen(app, term)
}

#[test]
fn a_search_finds_lines_inside_folded_steps_and_unfolds_them() {
    let (mut app, mut term) = app("fail.stderr");
    app.update(Action::FocusDriver);
    app.update(Action::CollapseAll);
    let s = screen(&mut app, &mut term);
    assert!(!s.contains("connecting took 1.49"), "folded:\n{s}");
    app.views.search = Matcher::new("connecting took 1.49");
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
    assert!(app.views.view(Pane::Machine(0)).following());
    app.update(Action::PageUp);
    assert!(!app.views.view(Pane::Machine(0)).following());
    assert!(screen(&mut app, &mut term).contains("[paused]"));
    app.update(Action::PageDown);
    app.update(Action::PageDown);
    assert!(
        app.views.view(Pane::Machine(0)).following(),
        "back at the end, following again"
    );
    app.update(Action::Top);
    assert!(screen(&mut app, &mut term).contains("Linux version 6.12.10"));
    app.update(Action::Bottom);
    assert!(app.views.view(Pane::Machine(0)).following());
}

#[test]
fn a_filter_keeps_matching_lines_and_shows_in_the_title() {
    let (mut app, mut term) = app("pass.stderr");
    app.update(Action::FocusMachine(2));
    app.update(Action::Filter);
    assert_eq!(
        app.overlay.prompt.as_ref().map(|p| p.kind),
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
    assert_eq!(app.views.focus, Pane::Driver);
    let s = screen(&mut app, &mut term);
    assert!(s.contains("!!! Test \"this one fails\" failed"), "{s}");
}

#[test]
fn the_leave_chord_pressed_twice_goes_to_the_program() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use vmscope::app::effect::Effect;
    use vmscope::app::sessions::TermPane;
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    app.sessions.command = Some(TermPane::new("driver".into(), 80, 24));
    app.update(Action::FocusCommand);
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
    // Ctrl-C while typing interrupts the driver (the runner sees whether a statement runs,
    // and sends SIGINT to the driver alone, or the key itself at a prompt).
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.on_key(ctrl_c), vec![Effect::Interrupt]);
    assert!(!app.quit);
}

#[test]
fn the_command_panes_history_pages_in_navigation() {
    use vmscope::app::sessions::TermPane;
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    let mut pane = TermPane::new("driver".into(), 40, 5);
    for i in 0..50 {
        pane.emu.process(format!("line {i}\r\n").as_bytes());
    }
    app.sessions.command = Some(pane);
    app.set_focus(Pane::Command);
    let leave = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(']'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    app.on_key(leave);
    let contents = |app: &App| {
        app.sessions
            .command
            .as_ref()
            .unwrap()
            .emu
            .screen()
            .contents()
    };
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

/// A live run whose driver's configuration names machines `alpha` and `beta`, not yet
/// started, and whose backdoor has not been printed yet.
fn live_with_machines() -> App {
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    app.checks.mode = vmscope::app::trust::Mode::Run;
    app.input
        .parser
        .known_machines(&["alpha".to_string(), "beta".to_string()]);
    app
}

/// The driver's temporary directory with vhost-device-vsock's host sockets in it (real
/// listening sockets), named with capitals as Python's tempfile may name them.
struct Sockets {
    dir: tempfile::TempDir,
    _listeners: Vec<std::os::unix::net::UnixListener>,
}

fn sockets() -> Sockets {
    let dir = tempfile::Builder::new()
        .prefix("tmpAb")
        .tempdir_in(vmscope::app::trust::driver_tmp_dir())
        .unwrap();
    let listeners = ["alpha", "beta"]
        .iter()
        .map(|m| {
            std::os::unix::net::UnixListener::bind(dir.path().join(format!("{m}_host.socket")))
                .unwrap()
        })
        .collect();
    Sockets {
        dir,
        _listeners: listeners,
    }
}

/// The backdoor block as the driver prints it on its terminal, for sockets in `dir`.
fn backdoor(dir: &std::path::Path) -> Vec<u8> {
    let d = dir.display();
    format!(
        "SSH backdoor enabled, the machines can be accessed like this:\r\n\
         \x1b[1mNote:\x1b[0m this requires \x1b[1msystemd-ssh-proxy(1)\x1b[0m to be enabled (default on NixOS 25.05 and newer).\r\n\
         \x20   alpha:  \x1b[1mssh -o User=root vsock-mux/{d}/alpha_host.socket\x1b[0m\r\n\
         \x20   beta:   \x1b[1mssh -o User=root vsock-mux/{d}/beta_host.socket\x1b[0m\r\n"
    )
    .into_bytes()
}

fn opened(effects: &[vmscope::app::effect::Effect]) -> Vec<String> {
    use vmscope::app::effect::Effect;
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::OpenTab { args, .. } => Some(
                args.iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        })
        .collect()
}

#[test]
fn an_ssh_tab_waits_for_the_backdoor_then_connects() {
    use vmscope::app::sessions::driver::ChildEvent;
    let mut app = live_with_machines();
    let socks = sockets();
    let dir = socks.dir.path();
    let mut term = Terminal::new(TestBackend::new(140, 40)).unwrap();
    app.update(Action::FocusMachine(2));
    assert!(
        opened(&app.update(Action::SshOpen)).is_empty(),
        "no address yet"
    );
    let s = screen(&mut app, &mut term);
    assert!(s.contains("waiting for beta's SSH backdoor address"), "{s}");
    assert!(s.contains("[ssh beta]"), "{s}");
    assert!(opened(&app.poll_tabs()).is_empty());

    app.on_child(ChildEvent::Pty(backdoor(dir)));
    // A copy printed later (by `dump_machine_ssh()`, or by anyone) changes nothing.
    app.on_child(ChildEvent::Pty(backdoor(std::path::Path::new(
        "/tmp/elsewhere",
    ))));
    assert_eq!(app.current_test().ssh.len(), 2);
    let args = opened(&app.poll_tabs());
    assert_eq!(args.len(), 1, "{args:?}");
    assert!(
        app.overlay.confirm.is_none(),
        "the driver's own socket needs no question"
    );
    assert!(
        args[0].ends_with(&format!(" vsock-mux/{}/beta_host.socket", dir.display())),
        "the machine's own socket, its capitals kept: {}",
        args[0]
    );
    assert!(args[0].contains("proxy %n %p"), "{}", args[0]);
    assert!(args[0].contains("-o User=root"), "{}", args[0]);

    // The proxy finds no socket: the tab waits and tries again, not at once.
    let id = app.sessions.tabs[0].id;
    // ssh and its ProxyCommand write on the tab's terminal.
    app.on_tab(
        id,
        ChildEvent::Pty(
            b"vmscope proxy: /tmp/tmpAb12/beta_host.socket: no such socket: the test is not running\r\n\
              kex_exchange_identification: Connection closed by remote host\r\n"
                .to_vec(),
        ),
    );
    app.on_tab(id, ChildEvent::Exited(255));
    let s = screen(&mut app, &mut term);
    assert!(s.contains("beta is not reachable yet, trying again"), "{s}");
    assert!(
        opened(&app.poll_tabs()).is_empty(),
        "a pause before trying again"
    );

    // Any other end is shown with ssh's last word, and waits for the user. (The next try
    // starts on a fresh terminal.)
    app.sessions.tabs[0].start("beta".into(), (80, 24), None);
    app.on_tab(
        id,
        ChildEvent::Pty(b"root@vsock-mux: Permission denied (publickey).\r\n".to_vec()),
    );
    app.on_tab(id, ChildEvent::Exited(255));
    let s = screen(&mut app, &mut term);
    assert!(
        s.contains("ssh ended with status 255 (root@vsock-mux: Permission denied (publickey).)"),
        "{s}"
    );
    assert!(
        opened(&app.poll_tabs()).is_empty(),
        "no retry: r reconnects"
    );
}

#[test]
fn typing_goes_to_the_tab_shown_or_to_every_tab() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use vmscope::app::effect::Effect;
    use vmscope::app::sessions::driver::ChildEvent;
    let mut app = live_with_machines();
    let socks = sockets();
    app.on_child(ChildEvent::Pty(backdoor(socks.dir.path())));
    assert_eq!(opened(&app.update(Action::SshOpen)).len(), 1);
    app.update(Action::FocusMachine(2));
    // The tab has the keyboard: leave it first, as a user would.
    let leave = KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL);
    app.on_key(leave);
    assert!(!app.typing());
    app.update(Action::FocusMachine(2));
    assert_eq!(opened(&app.update(Action::SshOpen)).len(), 1);
    let (a, b) = (app.sessions.tabs[0].id, app.sessions.tabs[1].id);
    assert_eq!(app.sessions.tabs[1].machine, "beta");
    let key = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    assert_eq!(app.on_key(key), vec![Effect::WriteTab(b, b"q".to_vec())]);
    assert!(!app.quit, "q is typed into the tab");
    app.on_key(leave);
    app.update(Action::SyncTyping);
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(
        app.on_key(key),
        vec![
            Effect::WriteTab(a, b"q".to_vec()),
            Effect::WriteTab(b, b"q".to_vec())
        ]
    );
    // A tab whose ssh ended takes no keys: the keymap has them.
    app.on_tab(a, ChildEvent::Exited(0));
    assert_eq!(app.on_key(key), vec![Effect::WriteTab(b, b"q".to_vec())]);
    app.on_key(leave);
    assert_eq!(app.update(Action::CloseTab), vec![Effect::CloseTab(b)]);
    assert_eq!(app.sessions.active().map(|t| t.id), Some(a));
    app.update(Action::PrevTab);
    assert!(
        app.sessions.active().is_none(),
        "before the first tab: the panes"
    );
}

#[test]
fn quitting_with_open_ssh_sessions_asks_first() {
    use vmscope::app::sessions::driver::ChildEvent;
    let mut app = live_with_machines();
    let socks = sockets();
    app.on_child(ChildEvent::Pty(backdoor(socks.dir.path())));
    assert_eq!(opened(&app.update(Action::SshOpen)).len(), 1);
    app.update(Action::Quit);
    assert!(!app.quit, "an open session is not ended by one q");
    let text = app
        .overlay
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(text.contains("1 ssh session(s) open"), "{text}");
    app.update(Action::Quit);
    assert!(app.quit);

    // Once the session ended, q quits at once.
    let mut app = live_with_machines();
    let socks = sockets();
    app.on_child(ChildEvent::Pty(backdoor(socks.dir.path())));
    app.update(Action::SshOpen);
    let id = app.sessions.tabs[0].id;
    app.on_tab(id, ChildEvent::Exited(0));
    app.update(Action::Quit);
    assert!(app.quit);
}

#[test]
fn n_goes_down_and_capital_n_up_and_a_wrap_is_said() {
    let (mut app, mut term) = app("pass.stderr");
    app.update(Action::FocusMachine(1));
    // The keymap's `n` and `N`.
    let km = vmscope::app::keymap::Keymap::defaults();
    let key = |c: char| {
        crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            if c.is_uppercase() {
                crossterm::event::KeyModifiers::SHIFT
            } else {
                crossterm::event::KeyModifiers::NONE
            },
        )
    };
    let ctx = vmscope::app::keymap::Context::Log;
    let n = km.lookup_event(ctx, &key('n'));
    let big_n = km.lookup_event(ctx, &key('N'));
    assert_eq!(n, Some(Action::SearchNewer), "n goes down");
    assert_eq!(big_n, Some(Action::SearchOlder), "N goes up");
    app.views.search = Matcher::new("Started");
    // From the end, the first match upwards is the newest one; downwards from there wraps.
    app.update(Action::SearchOlder);
    let first = app.views.view(Pane::Machine(0)).cursor;
    let s = screen(&mut app, &mut term);
    assert!(!s.contains("wrapped"), "{s}");
    app.update(Action::SearchNewer);
    let s = screen(&mut app, &mut term);
    assert!(s.contains("wrapped to the top"), "{s}");
    let wrapped_to = app.views.view(Pane::Machine(0)).cursor;
    assert!(first.is_some() && wrapped_to.is_some());
    assert!(wrapped_to < first, "{wrapped_to:?} above {first:?}");
    app.update(Action::SearchOlder);
    let s = screen(&mut app, &mut term);
    assert!(s.contains("wrapped to the bottom"), "{s}");
    assert_eq!(app.views.view(Pane::Machine(0)).cursor, first);
}

#[test]
fn esc_backs_out_one_thing_at_a_time() {
    let (mut app, mut term) = app("pass.stderr");
    app.update(Action::FocusMachine(1));
    app.update(Action::Zoom);
    app.views.view_mut(Pane::Machine(0)).filter = Matcher::new("Started");
    app.views.search = Matcher::new("Reached");
    app.update(Action::SearchOlder);
    assert!(app.overlay.message.is_some());
    // The message, the search, the filter, the zoom: one Esc each.
    app.update(Action::Close);
    assert!(app.overlay.message.is_none() && app.views.search.is_some());
    app.update(Action::Close);
    assert!(app.views.search.is_none());
    assert!(app.views.view(Pane::Machine(0)).filter.is_some());
    app.update(Action::Close);
    assert!(app.views.view(Pane::Machine(0)).filter.is_none());
    assert!(screen(&mut app, &mut term).contains("filter off"));
    app.update(Action::Close);
    assert!(app.views.zoom, "the filter's note goes first");
    app.update(Action::Close);
    assert!(!app.views.zoom);
}

#[test]
fn a_saved_log_does_not_offer_ssh_and_says_why() {
    let (_, bytes) = common::log_fixture("13-");
    let mut app = App::new(Caps::default(), Keymap::defaults(), "13".into(), false);
    app.ingest(SourceEvent::Data(bytes, u32::MAX));
    app.ingest(SourceEvent::End);
    let mut term = Terminal::new(TestBackend::new(220, 50)).unwrap();
    assert!(
        !app.current_test().ssh.is_empty(),
        "the log names backdoor addresses"
    );
    let s = screen(&mut app, &mut term);
    assert!(!s.contains(" s ssh"), "no ssh hint in a saved log:\n{s}");
    let effects = app.update(Action::SshOpen);
    assert!(effects.is_empty(), "{effects:?}");
    assert!(app.sessions.tabs.is_empty());
    let s = screen(&mut app, &mut term);
    assert!(s.contains("ssh needs the running test"), "{s}");
    let effects = app.update(Action::SshMachine(1));
    assert!(effects.is_empty() && app.sessions.tabs.is_empty());
}

#[test]
fn live_is_said_only_of_live_input() {
    let (mut app, mut term) = app("fail.stderr");
    assert!(screen(&mut app, &mut term).contains("FROZEN"));
    app.update(Action::Live);
    let s = screen(&mut app, &mut term);
    assert!(!s.contains("LIVE"), "a saved log is not live:\n{s}");
    assert!(s.contains("WHOLE LOG (F freezes)"), "{s}");
}

#[test]
fn save_proposes_a_path_under_the_users_state_and_writes_there() {
    let (mut app, _term) = app("pass.stderr");
    app.update(Action::FocusMachine(1));
    app.update(Action::Save);
    let proposed = app
        .overlay
        .prompt
        .as_ref()
        .map(|p| p.input.value().to_string())
        .unwrap();
    let state = vmscope::vm::recording::saved_dir().expect("a state directory");
    assert!(
        std::path::Path::new(&proposed).starts_with(&state),
        "{proposed} under {}",
        state.display()
    );
    assert!(
        proposed.ends_with(".log") && proposed.contains("machine1"),
        "{proposed}"
    );
    // Where the user points it, missing directories are made; the message says where.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new/dir/pane.log");
    app.update(Action::Close);
    app.overlay.prompt = None;
    app.update(Action::Save);
    let p = app.overlay.prompt.as_mut().unwrap();
    p.input = tui_input::Input::new(target.display().to_string());
    let effects = app.on_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Enter,
    ));
    assert!(
        effects.iter().any(
            |e| matches!(e, vmscope::app::effect::Effect::Save { path, .. } if *path == target)
        ),
        "{effects:?}"
    );
}

#[test]
fn the_bottom_bar_never_cuts_a_hint() {
    for width in [40u16, 57, 63, 80, 101] {
        let mut app = App::new(Caps::default(), Keymap::defaults(), "t".into(), false);
        app.ingest(SourceEvent::Data(
            common::real_driver("pass.stderr"),
            u32::MAX,
        ));
        app.ingest(SourceEvent::End);
        app.update(Action::FocusMachine(1));
        let mut term = Terminal::new(TestBackend::new(width, 30)).unwrap();
        let s = screen(&mut app, &mut term);
        let bar = s.lines().last().unwrap().trim_end().to_string();
        let labels: Vec<String> = app
            .keymap
            .hints(app.scope().context())
            .into_iter()
            .map(|(_, _, label)| label.to_string())
            .collect();
        assert!(!bar.is_empty(), "width {width}: some hint fits");
        assert!(
            labels.iter().any(|l| bar.ends_with(l.as_str())),
            "width {width}: the bar ends inside a hint: {bar:?}"
        );
    }
}

#[test]
fn next_test_onto_a_passing_one_shows_its_panes_and_status() {
    let log = b"vm-test-run-a> machine: must succeed: false
vm-test-run-a> !!! Traceback (most recent call last):
vm-test-run-a> !!! RequestedAssertionFailed: command `false` failed (exit code 1)
vm-test-run-a> cleanup
vm-test-run-b> machine: must succeed: true
vm-test-run-b> machine: (finished: must succeed: true, in 0.10 seconds)
vm-test-run-b> test script finished in 1.00s
"
    .to_vec();
    let mut app = App::new(Caps::default(), Keymap::defaults(), "two".into(), false);
    app.ingest(SourceEvent::Data(log, u32::MAX));
    app.ingest(SourceEvent::End);
    let mut term = Terminal::new(TestBackend::new(140, 30)).unwrap();
    assert!(screen(&mut app, &mut term).contains("TEST FAILED"));
    app.update(Action::NextTest);
    let s = screen(&mut app, &mut term);
    assert!(
        !s.contains("TEST FAILED"),
        "the passing test is not shown as failed:\n{s}"
    );
    assert!(s.contains("b: PASSED"), "{s}");
    // Back on the failed one, its failure is there to see again.
    app.update(Action::PrevTest);
    app.update(Action::FailureView);
    assert!(screen(&mut app, &mut term).contains("TEST FAILED"));
}

#[test]
fn an_error_typed_at_the_repl_ends_its_step_and_is_no_failure_of_the_test() {
    use vmscope::app::sessions::driver::ChildEvent;
    use vmscope::vm::model::StepState;
    let mut app = App::new(Caps::default(), Keymap::defaults(), "driver".into(), true);
    app.sessions.command = Some(TermPane::new("driver".into(), 80, 24));
    app.on_child(ChildEvent::Pty(b"In [1]: ".to_vec()));
    // The statement typed runs a command that fails: its step opens and is never finished.
    app.on_child(ChildEvent::Pty(b"vm1.succeed('false')\r\n".to_vec()));
    app.on_child(ChildEvent::Stderr(
        b"vm1: starting vm\nvm1: \x1b[1m\x1b[32mmust succeed: false\x1b[0m\nvm1: output: \n"
            .to_vec(),
    ));
    let open = |app: &App| {
        let t = app.current_test();
        t.steps
            .iter()
            .find(|s| s.title.contains("must succeed: false"))
            .map(|s| s.state)
    };
    assert_eq!(open(&app), Some(StepState::Running));
    // IPython prints the traceback on the terminal and the prompt comes back.
    app.on_child(ChildEvent::Pty(
        b"RequestedAssertionFailed: command `false` failed\r\n\r\nIn [2]: ".to_vec(),
    ));
    assert_eq!(
        open(&app),
        Some(StepState::Failed),
        "an exception left the step"
    );
    assert!(
        app.current_test().failures.is_empty(),
        "the user's error, not the test's"
    );
    assert!(!app.failure.open);
}
