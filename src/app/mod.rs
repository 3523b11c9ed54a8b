//! The application: state with one owner, actions, keymap, layout and the event loop.

#[macro_use]
mod borrow;

pub mod action;
pub mod commands;
pub mod config;
pub mod demo;
pub mod diffview;
pub mod effect;
pub mod failure;
pub mod input;
pub mod keymap;
pub mod layout;
pub mod logviews;
pub mod overlay;
pub mod palette;
pub mod proctree;
pub mod replay;
pub mod runner;
pub mod scope;
pub mod sessions;
pub mod shots;
pub mod state;
pub mod timeline;
pub mod triageview;
pub mod trust;
pub mod view;

use std::time::Instant;

use crate::vm::Caps;
use crate::vm::recording;
use crate::vm::source::{Input, ReadMode, pump};
use state::App;

/// What a log is read with besides itself.
#[derive(Default)]
pub struct LogExtras {
    /// The driver's JUnit report of the same run.
    pub junit: Option<crate::vm::junit::report::Report>,
    /// Where its screenshots may be.
    pub shots: Vec<std::path::PathBuf>,
}

/// `vmscope log`: a saved log (or stdin, or a growing file) on the screen.
pub fn run_log(
    input: Input,
    follow: bool,
    replay: Option<usize>,
    extras: LogExtras,
    caps: Caps,
    config: config::Config,
) -> anyhow::Result<i32> {
    let live = follow || input.is_stdin();
    let mut app = App::new(caps, config.keymap, input.describe(), live);
    app.input.junit = extras.junit;
    app.shots.add_dirs(extras.shots);
    app.screen.theme = config.theme;
    if let Some(speed) = replay {
        app.replay = Some(replay::Replay::new(speed, true));
        // Nothing has happened yet: what went wrong comes when the replay gets there.
        app.failure.until = Some(0);
    }
    if let Input::Recording(dir) = &input {
        // The driver's terminal as it was, read-only.
        let mut pane = sessions::TermPane::new("recorded terminal".into(), 200, 50);
        let exit = recording::recorded_exit(dir);
        pane.exit = Some(exit.unwrap_or(-1));
        app.sessions.command = Some(pane);
        app.input.session_dir = Some(dir.clone());
        if let Some(cut) = recording::recorded_cut(dir) {
            app.input.recording_cut = Some(cut.clone());
            app.overlay.warn(cut);
        }
        if let Some(code) = exit {
            // The recorded run is over: nothing it shows waits any more.
            app.input.parser.set_exit_code(code);
            app.input.exit_code = Some(code);
        }
    }
    let size = match &input {
        Input::File(_, f) if !follow => f.metadata().ok().map(|m| m.len()),
        Input::Recording(dir) => std::fs::metadata(dir.join(recording::RECORD_FILE))
            .ok()
            .map(|m| m.len()),
        _ => None,
    };
    app.input.total = size.filter(|&n| n > 0);
    let start = app.input.start;
    let mode = ReadMode {
        follow,
        timed: live,
    };
    runner::run(
        app,
        runner::Feed::Source(Box::new(move |send| pump(input, mode, start, send))),
    )
}

/// The fake driver and what it reads, built into the binary.
const FAKE_DRIVER: &str = include_str!("../../assets/demo/fake-driver.py");
const BOOT_LOG: &str = include_str!("../../assets/demo/boot.txt");

/// `vmscope demo`: the fake driver run live (a failing subtest, then its REPL to play
/// with); without `python3`, the recorded scenario replayed in real time.
pub fn run_demo(speed: f64, caps: Caps, config: config::Config) -> anyhow::Result<i32> {
    if let Some(python) = find_in_path("python3") {
        let dir = tempfile::Builder::new().prefix("vmscope-demo-").tempdir()?;
        std::fs::write(dir.path().join("fake-driver.py"), FAKE_DRIVER)?;
        std::fs::write(dir.path().join("boot.txt"), BOOT_LOG)?;
        let args: Vec<std::ffi::OsString> = vec![
            dir.path().join("fake-driver.py").into(),
            "-I".into(),
            "--then-repl".into(),
            "--scenario".into(),
            "fail".into(),
            "--speed".into(),
            format!("{speed}").into(),
            "--ssh-dir".into(),
            dir.path().into(),
            // Not into the directory the user ran the demo from.
            "--history".into(),
            dir.path().join(".nixos-test-history").into(),
        ];
        let launch = Launch {
            stderr_pipe: false,
            interactive: true,
            mode: trust::Mode::Run,
            scratch: Some(dir.path().to_path_buf()),
        };
        let program = python.into_os_string();
        let status = run_live(program, args, Record::Off, launch, caps, config);
        drop(dir);
        return status;
    }
    let mut app = App::new(caps, config.keymap, "demo".into(), true);
    app.screen.theme = config.theme;
    app.overlay
        .say("python3 is not installed: replaying a recorded run (no REPL)");
    let start: Instant = app.input.start;
    runner::run(
        app,
        runner::Feed::Source(Box::new(move |send| demo::replay(speed, start, send))),
    )
}

/// A program on `$PATH`.
fn find_in_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// `vmscope run -- DRIVER ARGS…`: the driver live, its REPL in the command pane.
pub fn run_driver(
    program: std::ffi::OsString,
    args: Vec<std::ffi::OsString>,
    record: Record,
    caps: Caps,
    config: config::Config,
) -> anyhow::Result<i32> {
    let interactive = args.iter().any(|a| a == "-I" || a == "--interactive");
    // Without the REPL, stderr can be a pipe: faster than a terminal under a flood.
    let launch = Launch {
        stderr_pipe: !interactive,
        interactive,
        mode: trust::Mode::Run,
        scratch: None,
    };
    run_live(program, args, record, launch, caps, config)
}

/// How a live run is started.
#[derive(Clone)]
struct Launch {
    /// stderr is a pipe (no REPL needs a terminal there).
    stderr_pipe: bool,
    /// The user came to type: the command pane has the keyboard.
    interactive: bool,
    mode: trust::Mode,
    /// A directory made for the run (the demo's): removed even if vmscope is killed.
    scratch: Option<std::path::PathBuf>,
}

/// A live run of `program`: a driver, or `nix build` whose stderr is a pipe. When the user
/// agrees to start the driver again as root (its containers need it), it runs again so.
fn run_live(
    mut program: std::ffi::OsString,
    mut args: Vec<std::ffi::OsString>,
    record: Record,
    mut launch: Launch,
    caps: Caps,
    config: config::Config,
) -> anyhow::Result<i32> {
    loop {
        let app = live_app(&program, &args, &record, &launch, caps, &config);
        let spec = runner::LiveSpec {
            program,
            args,
            record: app.1,
            stderr_pipe: launch.stderr_pipe,
            scratch: launch.scratch.clone(),
        };
        let (status, restart) = runner::run_until(app.0, runner::Feed::Child(spec))?;
        match restart {
            Some((p, a)) => {
                tracing::info!(program = %p.to_string_lossy(), "the driver starts again");
                (program, args) = (p, a);
                // sudo asks for the password in the command pane: it has the keyboard.
                launch.interactive = true;
            }
            None => return Ok(status),
        }
    }
}

/// The screen of a live run, and where it is recorded.
fn live_app(
    program: &std::ffi::OsString,
    args: &[std::ffi::OsString],
    record: &Record,
    launch: &Launch,
    caps: Caps,
    config: &config::Config,
) -> (App, Option<std::path::PathBuf>) {
    // An interpreter running a script is called by the script; sudo by what it runs.
    let words: Vec<&std::ffi::OsString> = std::iter::once(program)
        .chain(args)
        .filter(|w| !w.to_string_lossy().starts_with('-'))
        .collect();
    let launcher = |w: &&std::ffi::OsString| {
        std::path::Path::new(w)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("python") || n == "sudo")
    };
    let shown = words
        .iter()
        .find(|w| !launcher(w))
        .copied()
        .unwrap_or(program);
    let name = std::path::Path::new(shown).file_name().map_or_else(
        || shown.to_string_lossy().into_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut app = App::new(caps, config.keymap.clone(), name, true);
    app.screen.theme = config.theme;
    app.sessions.ssh_options = config.ssh_options.clone();
    app.sessions.ssh_system_proxy = config.ssh_system_proxy;
    app.checks.mode = launch.mode;
    if launch.interactive {
        // The user came to type.
        app.views.focus = view::Pane::Command;
        app.sessions.command_typing = true;
    }
    let dir = match record {
        Record::Off => None,
        Record::Into(dir) => Some(dir.clone()),
        Record::Default => match recording::new_session_dir(&app.input.origin) {
            Ok(dir) => Some(dir),
            Err(e) => {
                app.overlay.warn(format!("not recording this run: {e}"));
                None
            }
        },
    };
    (app, dir)
}

/// Where a live run is recorded.
#[derive(Debug, Clone)]
pub enum Record {
    /// A new directory under `$XDG_STATE_HOME/vmscope/sessions`.
    Default,
    Into(std::path::PathBuf),
    Off,
}

/// The directory a run without a screen is recorded into (`program` names a new one); a
/// default one that cannot be made is said on stderr, and the run goes on unrecorded.
pub fn record_dir(
    record: Record,
    program: &std::ffi::OsStr,
) -> anyhow::Result<Option<std::path::PathBuf>> {
    Ok(match record {
        Record::Off => None,
        Record::Into(dir) => Some(dir),
        Record::Default => {
            let name = std::path::Path::new(program)
                .file_name()
                .unwrap_or(program)
                .to_string_lossy()
                .into_owned();
            match recording::new_session_dir(&name) {
                Ok(dir) => Some(dir),
                Err(e) => {
                    eprintln!("vmscope: not recording this run: {e}");
                    None
                }
            }
        }
    })
}

/// `vmscope interactive INSTALLABLE [-- NIX ARGS]`: builds the interactive driver (its
/// output shown as it builds), then runs it live.
pub fn run_interactive(
    installable: &str,
    nix_args: Vec<std::ffi::OsString>,
    record: Record,
    caps: Caps,
    config: config::Config,
) -> anyhow::Result<i32> {
    let dir = tempfile::Builder::new()
        .prefix("vmscope-interactive-")
        .tempdir()?;
    let link = dir.path().join("result");
    let status = std::process::Command::new("nix")
        .arg("build")
        .arg(format!("{installable}.driverInteractive"))
        .arg("--out-link")
        .arg(&link)
        .args(&nix_args)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run nix: {e}"))?;
    if !status.success() {
        eprintln!("vmscope: nix build of {installable}.driverInteractive failed");
        return Ok(status.code().unwrap_or(1));
    }
    let driver = link.join("bin/nixos-test-driver");
    let launch = Launch {
        stderr_pipe: false,
        interactive: true,
        mode: trust::Mode::Run,
        scratch: None,
    };
    let code = run_live(
        driver.into_os_string(),
        Vec::new(),
        record,
        launch,
        caps,
        config,
    );
    drop(dir);
    code
}

/// `vmscope build INSTALLABLE [-- NIX ARGS]` (or `--nix-build FILE -A ATTR`): the test's
/// derivation built with its log parsed live, each `vm-test-run-NAME` its own test.
pub fn run_build(
    program: &str,
    args: Vec<std::ffi::OsString>,
    record: Record,
    caps: Caps,
    config: config::Config,
) -> anyhow::Result<i32> {
    let launch = Launch {
        stderr_pipe: true,
        interactive: false,
        mode: trust::Mode::Build,
        scratch: None,
    };
    run_live(program.into(), args, record, launch, caps, config)
}
