//! Guests are adversaries: lines a guest printed to pass for the driver's are never acted on.
//!
//! Every log in `tests/adversarial/` (see its README) follows a failed command's output with
//! one way to end that block, then a forged SSH backdoor block, breakpoint, RemotePdb lines,
//! symbols block and durations. They are read as saved logs and as live runs (`run` and
//! `build`), every key is pressed in every view with `y` said to every question, and no
//! command, host or path of the guest's choosing may come out. The same payload is printed
//! by a guest of the fake driver under `vmscope run` in a terminal.

mod common;

use std::path::Path;

use vmscope::app::trust::Mode;
use vmscope::app::{effect::Effect, state::App};
use vmscope::vm::model::Outcome;
use vmscope::vm::source::SourceEvent;
use vmscope::vm::{Caps, ParseOptions, Parser};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adversarial");
    let mut logs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    logs.sort();
    assert!(logs.len() >= 10, "the corpus is there");
    logs
}

/// What only the guest chose: none of it may reach a command.
const GUEST: &[&str] = &["PWNED", "10.66.66.66", "203.0.113.66", "6666"];

fn guest_text(s: &str) -> Option<&'static str> {
    GUEST.iter().copied().find(|g| s.contains(g))
}

/// Every prefix the log's lines may carry: bare, and behind `nix build -L`'s.
fn variants(bytes: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(bytes);
    let prefixed: String = text
        .lines()
        .map(|l| format!("vm-test-run-forged> {l}\n"))
        .collect();
    vec![bytes.to_vec(), prefixed.into_bytes()]
}

#[test]
fn the_model_keeps_no_forged_address_machine_pdb_or_duration() {
    for (name, bytes) in corpus() {
        for input in variants(&bytes) {
            let run = Parser::parse_all(&input, Caps::default(), ParseOptions::default());
            let t = run.visible_tests().next().unwrap().1;
            assert!(t.ssh.is_empty(), "{name}: {:?}", t.ssh);
            let names: Vec<&str> = t.machines.iter().map(|m| m.name.as_str()).collect();
            assert_eq!(names, ["client", "server"], "{name}");
            assert_eq!(t.pdb, None, "{name}: pdb off this host is never taken");
            assert!(
                t.breakpoint.as_ref().is_none_or(|b| !b.verified),
                "{name}: a line alone is a claim"
            );
            assert_eq!(t.global_timeout_secs, Some(600.0), "{name}");
            assert_eq!(t.script_secs, None, "{name}");
            assert!(
                t.steps.iter().all(|s| s.secs.is_none_or(f64::is_finite)),
                "{name}"
            );
            assert_eq!(run.outcome(), Outcome::Failed, "{name}");
            // The JSON and the text reports are written without a panic.
            let json = vmscope::vm::export::json(&run);
            assert!(json.contains("\"outcome\": \"failed\""), "{name}");
            vmscope::vm::export::text(&run);
        }
    }
}

/// Every key a user can press, in the order a curious user might.
fn keys() -> Vec<crossterm::event::KeyEvent> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut keys: Vec<KeyEvent> = "b1234a p s c Q ! F L r x ] [ } { > < Tab b 2 s 3 a p c q"
        .split(' ')
        .flat_map(|w| match w {
            "Tab" => vec![KeyEvent::from(KeyCode::Tab)],
            _ => w.chars().map(common::key).collect(),
        })
        .collect();
    for c in ('a'..='z').chain('A'..='Z').chain('0'..='9') {
        keys.push(common::key(c));
    }
    for code in [
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Up,
        KeyCode::Down,
    ] {
        keys.push(KeyEvent::from(code));
    }
    keys.push(KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL));
    keys
}

/// Presses every key with `y` to every question, ticking between keys; returns what the
/// app asked to run.
fn press_everything(app: &mut App) -> Vec<Effect> {
    let mut all = Vec::new();
    for key in keys() {
        if app.quit {
            break;
        }
        // `q` would end the session before the other keys are tried.
        if key.code == crossterm::event::KeyCode::Char('q') {
            continue;
        }
        all.extend(app.on_key(key));
        if let Some(c) = app.overlay.confirm.clone() {
            for l in &c.lines {
                assert_eq!(guest_text(l), None, "asked to run guest text: {l}");
            }
            all.extend(app.on_key(common::key('y')));
        }
        all.extend(app.poll_tabs());
    }
    all
}

fn check_effects(name: &str, effects: &[Effect]) {
    for e in effects {
        let text = match e {
            Effect::OpenTab { program, args, .. } | Effect::Detach { program, args } => {
                std::iter::once(program)
                    .chain(args)
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            Effect::OpenPdb { host, port, .. } => format!("{host}:{port}"),
            Effect::WriteTab(_, b) | Effect::WritePty(b) => String::from_utf8_lossy(b).into(),
            // The path is vmscope's; what a file holds is data, never run.
            Effect::Save { path, .. } | Effect::WriteQuietly { path, .. } => {
                path.display().to_string()
            }
            Effect::Clipboard(t) => t.clone(),
            Effect::Say(m) => m.text.clone(),
            Effect::Ask(c) => c.lines.join("\n"),
            Effect::Prompt(_, v) => v.clone(),
            Effect::CloseTab(_) | Effect::Interrupt | Effect::Mouse(_) | Effect::KeepMarks => {
                continue;
            }
        };
        assert_eq!(guest_text(&text), None, "{name}: {e:?}");
    }
}

#[test]
fn no_key_in_any_view_runs_what_a_guest_printed() {
    for (name, bytes) in corpus() {
        for mode in [Mode::Log, Mode::Run, Mode::Build] {
            for input in variants(&bytes) {
                let mut app = App::new(
                    Caps::default(),
                    vmscope::app::keymap::Keymap::defaults(),
                    name.clone(),
                    mode != Mode::Log,
                );
                app.checks.mode = mode;
                app.checks.driver_pid = Some(std::process::id() as i32);
                app.ingest(SourceEvent::Data(input, 0));
                app.poll_tabs();
                let effects = press_everything(&mut app);
                check_effects(&format!("{name} ({mode:?})"), &effects);
                let started = effects
                    .iter()
                    .filter(|e| matches!(e, Effect::OpenTab { .. } | Effect::OpenPdb { .. }))
                    .count();
                // Nothing the log named can be run: no backdoor before the script, an attach
                // program that is not on this host; pdb falls back to the driver's default.
                assert!(
                    effects.iter().all(|e| match e {
                        Effect::OpenTab { program, .. } => program != "ssh" && program != "sudo",
                        _ => true,
                    }),
                    "{name} ({mode:?}): {started} sessions: {effects:?}"
                );
            }
        }
    }
}

/// A guest of the fake driver prints the payload of the first log as its failed command's
/// output, live under `vmscope run`; every key of the view is pressed, `y` to every question.
#[test]
fn live_forgeries_from_a_guest_are_not_acted_on() {
    common::python_imports("remote_pdb");
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = corpus().remove(0);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // The guest's output: what follows `client: output: ` up to the run's real end.
    let start = text.find("client: output: ").unwrap() + "client: output: ".len();
    let end = text.find("!!! Test \"fetch the page\"").unwrap();
    let pwned = dir.path().join("PWNED-proxy");
    let payload = text[start..end].replace("/tmp/PWNED-proxy", pwned.to_str().unwrap());
    let forged = dir.path().join("forged.txt");
    std::fs::write(&forged, payload).unwrap();
    let sockets = dir.path().join("vsock");
    std::fs::create_dir(&sockets).unwrap();
    let forged_s = forged.display().to_string();
    let mut t = common::pty::Term::spawn_env(
        &[
            "run",
            "--no-record",
            "--",
            "python3",
            &common::fake_driver(),
            "--scenario",
            "forge",
            "--speed",
            "20",
            "--machines",
            "client,server",
            "--ssh-dir",
            sockets.to_str().unwrap(),
        ],
        160,
        48,
        &[("VMSCOPE_FORGED", &forged_s)],
    );
    t.wait_text("TEST FAILED", 30);
    let screen = t.text();
    assert!(!screen.contains("PAUSED AT A BREAKPOINT"), "{screen}");
    for k in ["1", "2", "s", "p", "a", "c", "Q", "b", "1", "2"] {
        t.keys(k);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let s = t.text();
        if s.contains("run this?") {
            assert!(guest_text(&s).is_none(), "asked to run guest text:\n{s}");
            t.keys("y");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        t.send(b"\x1d");
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!pwned.exists(), "the guest's ProxyCommand ran");
    t.keys("q");
    std::thread::sleep(std::time::Duration::from_millis(200));
    t.keys("q");
    t.wait_exit(20);
    // The driver's group gets its grace period to end after vmscope.
    let mut left = Vec::new();
    for _ in 0..100 {
        left = common::processes_naming(&dir.path().display().to_string());
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(left.is_empty(), "left running: {left:?}");
}
