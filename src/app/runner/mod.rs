//! The event loop: one task owns `App`; readers run on their own threads and send messages.
//! The terminal is restored on every way out: normal quit, error, panic, SIGTERM, SIGHUP,
//! SIGINT.

use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{self, EnableBracketedPaste, EnableMouseCapture, Event, KeyEventKind};
use crossterm::terminal::{self, EnterAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

pub mod cast;
mod frame_out;
mod graphics;
mod keep_shots;
mod perform;
mod terminal_state;

pub(crate) use terminal_state::install_panic_hook;
pub use terminal_state::{TerminalGuard, cannot_start, key_screen, restore_terminal};

use super::sessions::TermPane;
use super::sessions::driver::{Child, ChildEvent, GRACE, LastWords, StderrTo};
use super::sessions::procs::{TabEvent, TabProcs};
use super::state::App;
use super::view::Pane;
use crate::vm::recording::{Recorder, Stream};
use crate::vm::source::SourceEvent;
use frame_out::FrameOut;
use perform::perform;

/// How long the input thread waits for a key before it looks whether its screen still runs.
const INPUT_LOOK: Duration = Duration::from_secs(1);
/// Redraws are coalesced to at most this rate.
const FRAME: Duration = Duration::from_millis(16);
/// How much input is parsed before the screen gets a chance to redraw.
const INGEST_BUDGET: Duration = Duration::from_millis(30);
/// Chunks read ahead of the parser (each at most `source::CHUNK`).
const DATA_AHEAD: usize = 4;

enum Msg {
    Term(Event),
    Child(ChildEvent),
    /// What a tab's session did.
    Tab(TabEvent),
    /// The session recording stopped short (a write failed); the run goes on.
    RecordingCut(String),
    TermGone(String),
}

/// A reader run on its own thread (file, stdin, demo); it returns when sending fails.
pub type Reader = Box<dyn FnOnce(&dyn Fn(SourceEvent) -> bool) + Send>;

/// Where a screen's lines come from.
pub enum Feed {
    Source(Reader),
    /// A driver (or `nix build`) to run live.
    Child(LiveSpec),
}

/// What a live run runs.
pub struct LiveSpec {
    pub program: std::ffi::OsString,
    pub args: Vec<std::ffi::OsString>,
    /// The session directory to record into.
    pub record: Option<std::path::PathBuf>,
    /// stderr on a pipe rather than a raw terminal (`nix build`, which draws a progress bar
    /// on terminals).
    pub stderr_pipe: bool,
    /// A directory made for the run, removed even if vmscope is killed (the demo's).
    pub scratch: Option<std::path::PathBuf>,
}

/// Runs the screen until the user quits. Returns vmscope's exit status: the driver's for a
/// live run, 128 + the signal when vmscope was told to stop.
pub fn run(app: App, feed: Feed) -> anyhow::Result<i32> {
    run_until(app, feed).map(|(status, _)| status)
}

/// A driver to start in place of the one that ran (the user agreed to run it as root).
pub type Restart = Option<(std::ffi::OsString, Vec<std::ffi::OsString>)>;

/// `run`, and the driver the user asked to start next.
pub fn run_until(mut app: App, feed: Feed) -> anyhow::Result<(i32, Restart)> {
    let _span = tracing::info_span!("screen", origin = %app.input.origin).entered();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    install_panic_hook();
    terminal::enable_raw_mode()?;
    let _guard = TerminalGuard;
    // Asked before the input thread reads the terminal: its answers are not keys.
    app.shots.picker = graphics::picker();
    let mut stdout = io::stdout();
    // Cleared here rather than by ratatui, whose clear asks the terminal where the cursor is.
    execute!(
        stdout,
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste,
        cursor::Hide,
        terminal::Clear(terminal::ClearType::All)
    )?;
    let mut term = Terminal::new(CrosstermBackend::new(FrameOut::new(stdout)))?;

    let (tx, mut rx) = mpsc::channel::<Msg>(64);
    // What the user does has a path of its own, looked at before anything read: a key never
    // waits behind megabytes of a log being loaded.
    let (user_tx, mut user_rx) = mpsc::unbounded_channel::<Msg>();
    // Data read ahead of the parser is bounded by this channel: a few chunks.
    let (data_tx, mut data_rx) = mpsc::channel::<SourceEvent>(DATA_AHEAD);
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            // Input is only read while this screen runs: once it has ended (the driver
            // starts again as root, the triage screen comes back), the next key is the
            // next screen's, not taken here and lost.
            loop {
                let ready = event::poll(INPUT_LOOK);
                if user_tx.is_closed() {
                    return;
                }
                let ev = match ready {
                    Ok(false) => continue,
                    Ok(true) => event::read(),
                    Err(e) => Err(e),
                };
                match ev {
                    Ok(ev) => {
                        if user_tx.send(Msg::Term(ev)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = user_tx.send(Msg::TermGone(e.to_string()));
                        return;
                    }
                }
            }
        })?;
    let mut child: Option<Child> = None;
    let tab_tx = tx.clone();
    let mut tabs = TabProcs::new(move |ev| tab_tx.blocking_send(Msg::Tab(ev)).is_ok());
    let mut recorder: Option<Recorder> = None;
    match feed {
        Feed::Source(source) => {
            std::thread::Builder::new()
                .name("source".into())
                .spawn(move || {
                    let send = |ev: SourceEvent| data_tx.blocking_send(ev).is_ok();
                    source(&send);
                })?;
        }
        Feed::Child(LiveSpec {
            program,
            args,
            record,
            stderr_pipe,
            scratch,
        }) => {
            // The terminal's size is the command pane's: draw once to know it.
            let title = std::iter::once(&program)
                .chain(&args)
                .map(|a| {
                    // Paths by their last part: the title is short enough to read.
                    let a = a.to_string_lossy();
                    match a.rsplit_once('/') {
                        Some((_, last)) if !last.is_empty() && !a.starts_with('-') => {
                            last.to_string()
                        }
                        _ => a.into_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            app.sessions.command = Some(TermPane::new(title, 80, 24));
            let mut drawn = Default::default();
            term.draw(|f| drawn = crate::panes::draw(f, &app))?;
            app.laid_out(drawn);
            let (cols, rows) = command_size(&app).unwrap_or((80, 24));
            if let Some(cmd) = &mut app.sessions.command {
                cmd.emu.resize(cols, rows);
            }
            let child_tx = tx.clone();
            let send = move |ev: ChildEvent| child_tx.blocking_send(Msg::Child(ev)).is_ok();
            let stderr_to = if stderr_pipe {
                StderrTo::Pipe
            } else {
                StderrTo::OwnTerminal
            };
            let last_words = LastWords {
                terminal: LastWords::stdout_is_terminal(),
                remove: scratch,
            };
            let spawned = Child::spawn(
                &program,
                &args,
                cols,
                rows,
                stderr_to,
                send,
                Some(&last_words),
            )
            .map_err(|e| cannot_start(&program, record.as_deref(), e))?;
            app.checks.driver_pid = Some(spawned.pid());
            app.sessions.as_root.started(&program, &args);
            app.shots
                .add_dirs(crate::app::shots::driver_out_dirs(spawned.pid()));
            child = Some(spawned);
            if let Some(dir) = record {
                let command: Vec<String> = std::iter::once(&program)
                    .chain(&args)
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                let warn_tx = tx.clone();
                let warn = move |m: String| {
                    let _ = warn_tx.blocking_send(Msg::RecordingCut(m));
                };
                match Recorder::start(&dir, &command, warn) {
                    Ok(r) => {
                        app.input.archive = Some(dir.display().to_string());
                        app.input.session_dir = Some(dir.clone());
                        recorder = Some(r);
                    }
                    Err(e) => {
                        app.overlay
                            .warn(format!("not recording this run: {}: {e}", dir.display()));
                    }
                }
            }
        }
    }
    drop(tx);

    let mut kept_shots = keep_shots::KeptShots::default();
    let status = rt.block_on(async {
        let mut term_sig =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut hup_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        // The terminal is raw, so Ctrl-C is a key: SIGINT comes from `kill -INT` alone.
        let mut int_sig =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut last_draw = Instant::now() - FRAME;
        // The readers ended (a log read whole; no child or tab left to send).
        let mut data_gone = false;
        let mut children_gone = false;
        // The second the clock on screen shows.
        let mut clock_shown = 0;
        // Test-only: a panic in the UI loop, to check the terminal and the run are cleaned up.
        let panic_at = std::env::var("VMSCOPE_TEST_PANIC_AFTER_MS")
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        loop {
            if panic_at.is_some_and(|t| Instant::now() >= t) {
                panic!("VMSCOPE_TEST_PANIC_AFTER_MS: a panic on purpose");
            }
            // What the user did is drawn at up to 60 fps; a flood of output alone at 30, which
            // leaves the driver and the terminal more of the machine.
            let gap = if app.urgent { FRAME } else { FRAME * 2 };
            if app.dirty && last_draw.elapsed() >= gap {
                draw(&mut term, &mut app, child.as_mut(), &tabs)?;
                last_draw = Instant::now();
            }
            // Starting the driver again ends this run first.
            app.quit |= app.sessions.as_root.restart.is_some();
            if app.quit {
                break;
            }
            let wait =
                (if app.urgent { FRAME } else { FRAME * 2 }).saturating_sub(last_draw.elapsed());
            // Nothing wakes the loop but input, unless something changes by itself.
            let wake = next_wake(&app).into_iter().chain(panic_at).min();
            let asleep = wake.map_or(Duration::MAX, |w| {
                w.saturating_duration_since(Instant::now())
            });
            tokio::select! {
                biased;
                msg = user_rx.recv() => {
                    let Some(msg) = msg else { break };
                    let mut next = Some(msg);
                    while let Some(m) = next.take() {
                        let resized = matches!(m, Msg::Term(Event::Resize(..)));
                        handle(&mut app, child.as_mut(), recorder.as_ref(), &mut tabs, m)?;
                        if resized {
                            // Keys typed after a resize reach the programs after their
                            // terminals have the new size.
                            draw(&mut term, &mut app, child.as_mut(), &tabs)?;
                            last_draw = Instant::now();
                        }
                        if app.quit {
                            break;
                        }
                        next = user_rx.try_recv().ok();
                    }
                }
                msg = rx.recv(), if !children_gone => {
                    let Some(msg) = msg else {
                        children_gone = true;
                        continue;
                    };
                    let started = Instant::now();
                    let mut next = Some(msg);
                    // Take what is queued before drawing, within a budget; what the user
                    // did goes first.
                    while let Some(m) = next.take() {
                        handle(&mut app, child.as_mut(), recorder.as_ref(), &mut tabs, m)?;
                        if app.quit || started.elapsed() > INGEST_BUDGET || !user_rx.is_empty() {
                            break;
                        }
                        next = rx.try_recv().ok();
                    }
                }
                ev = data_rx.recv(), if !data_gone => {
                    let Some(ev) = ev else {
                        data_gone = true;
                        continue;
                    };
                    let started = Instant::now();
                    let mut next = Some(ev);
                    // A chunk at a time, each a bounded slice of work; a key, or a frame
                    // that is due, comes between two.
                    while let Some(ev) = next.take() {
                        let ended = matches!(ev, SourceEvent::End);
                        app.ingest(ev);
                        if ended {
                            // A recording read whole: the marks kept with it come back, a
                            // replay starts.
                            let key = app.key(crate::app::action::Action::NextMark);
                            if let Some(said) = app.input.restore_marks(&mut app.views, &key) {
                                app.overlay.message = Some(said);
                            }
                            app.step_replay(None);
                        }
                        let frame_due = app.dirty && app.urgent && last_draw.elapsed() >= FRAME;
                        if started.elapsed() > INGEST_BUDGET || !user_rx.is_empty() || frame_due {
                            break;
                        }
                        next = data_rx.try_recv().ok();
                    }
                }
                _ = tokio::time::sleep(wait), if app.dirty => {}
                _ = tokio::time::sleep(asleep), if wake.is_some() => {
                    let second = app.input.start.elapsed().as_secs();
                    if app.input.live && app.input.ended.is_none() && second != clock_shown {
                        // The clock shows its next second (only those cells are written).
                        clock_shown = second;
                        app.dirty = true;
                    }
                    let effects = app.poll_tabs();
                    perform(&mut app, child.as_mut(), &mut tabs, effects);
                    // Where the driver writes its screenshots, read again while it runs:
                    // a wrapper that execs it may not have shown its arguments at the start.
                    if let (Some(pid), Some(_)) =
                        (app.checks.driver_pid, child.as_ref().filter(|c| !c.exited()))
                    {
                        app.shots.add_dirs(crate::app::shots::driver_out_dirs(pid));
                    }
                    if let Some(r) = &recorder
                        && let Some(said) = kept_shots.keep(&app, &r.dir)
                    {
                        app.overlay.warn(said);
                    }
                    app.step_replay(Some(Instant::now()));
                }
                // Killed or its terminal closed: leave cleanly, with the shell's status for it.
                _ = term_sig.recv() => return anyhow::Ok(Some(128 + libc::SIGTERM)),
                _ = hup_sig.recv() => return anyhow::Ok(Some(128 + libc::SIGHUP)),
                _ = int_sig.recv() => return anyhow::Ok(Some(128 + libc::SIGINT)),
            }
        }
        anyhow::Ok(None)
    })?;
    // The screen is the user's again before anything is waited for.
    restore_terminal();
    tracing::debug!("the screen ended");
    // No driver, QEMU, ssh or helper outlives vmscope.
    tabs.close_all();
    let ran_a_driver = child.is_some();
    if let Some(mut c) = child.take()
        && !c.exited()
    {
        c.end_group(GRACE);
    }
    if let Some(r) = &recorder {
        let _ = kept_shots.keep(&app, &r.dir);
    }
    if let Some(mut r) = recorder.take()
        && !r.finish(crate::vm::recording::QUIT_GRACE)
    {
        eprintln!(
            "vmscope: the session recording in {} is cut short: the disk had not taken all of \
             it {} s after quitting",
            r.dir.display(),
            crate::vm::recording::QUIT_GRACE.as_secs()
        );
    }
    // A live run ends with the driver's status; one stopped here ended by SIGTERM.
    let ended = if ran_a_driver {
        app.input.exit_code.unwrap_or(128 + libc::SIGTERM)
    } else {
        0
    };
    Ok((status.unwrap_or(ended), app.sessions.as_root.restart.take()))
}

/// How soon something pending (a tab waiting for its machine, a breakpoint to confirm, the
/// driver's configuration) is looked at again.
const POLL: Duration = Duration::from_millis(250);

/// When the loop must wake with no input: to look again at what is pending, or when the
/// clock of a live run shows its next second. `None`: nothing changes by itself, and the
/// loop sleeps until input comes.
fn next_wake(app: &App) -> Option<Instant> {
    let now = Instant::now();
    let input = &app.input;
    let pending = app.sessions.pending()
        || app
            .checks
            .pending(&input.parser.run.tests, input.ended.is_some());
    let config = app
        .checks
        .config_wake(input.start, input.ended.is_some())
        .map(|at| at.max(now));
    let clock = (input.live && input.ended.is_none()).then(|| {
        let e = input.start.elapsed();
        now + (Duration::from_secs(e.as_secs() + 1).saturating_sub(e))
    });
    // A replay that plays moves a frame at a time.
    let replay = app
        .replay
        .as_ref()
        .filter(|r| r.loaded && r.playing)
        .map(|_| now + FRAME * 2);
    [pending.then_some(now + POLL), clock, config, replay]
        .into_iter()
        .flatten()
        .min()
}

/// Draws the screen, then gives the terminals inside it their drawn sizes.
fn draw(
    term: &mut Terminal<CrosstermBackend<FrameOut<io::Stdout>>>,
    app: &mut App,
    child: Option<&mut Child>,
    tabs: &TabProcs,
) -> io::Result<()> {
    let mut drawn = Default::default();
    term.draw(|f| drawn = crate::panes::draw(f, app))?;
    app.laid_out(drawn);
    app.dirty = false;
    app.urgent = false;
    follow_size(app, child);
    follow_tab_size(app, tabs);
    Ok(())
}

/// The inner size of the command pane as last drawn.
fn command_size(app: &App) -> Option<(u16, u16)> {
    app.screen
        .drawn
        .panes
        .iter()
        .find(|(p, _)| *p == Pane::Command)
        .map(|(_, r)| {
            (
                r.width.saturating_sub(2).max(1),
                r.height.saturating_sub(2).max(1),
            )
        })
}

/// Keeps each tab's terminal the size of the body.
fn follow_tab_size(app: &mut App, tabs: &TabProcs) {
    let size = app.sessions.tab_size;
    for tab in &mut app.sessions.tabs {
        if tab.pane.emu.size() != size {
            tab.pane.emu.resize(size.0, size.1);
            tabs.resize(tab.id, size);
            app.dirty = true;
        }
    }
}

/// Keeps the driver's terminal the size of its pane.
fn follow_size(app: &mut App, child: Option<&mut Child>) {
    let (Some(size), Some(child)) = (command_size(app), child) else {
        return;
    };
    let Some(cmd) = &mut app.sessions.command else {
        return;
    };
    if cmd.emu.size() != size {
        cmd.emu.resize(size.0, size.1);
        let _ = child.resize(size.0, size.1);
        app.dirty = true;
    }
}

/// The session recording stopped short: said now, and kept as a badge in the top bar.
fn recording_cut(app: &mut App, text: String) {
    app.input.recording_cut = Some(text.clone());
    app.overlay.warn(text);
    app.dirty = true;
}

fn handle(
    app: &mut App,
    child: Option<&mut Child>,
    recorder: Option<&Recorder>,
    tabs: &mut TabProcs,
    msg: Msg,
) -> anyhow::Result<()> {
    let effects = match msg {
        Msg::Term(Event::Key(k)) if k.kind != KeyEventKind::Release => {
            let typing = app.typing();
            let effects = app.on_key(k);
            app.urgent |= !typing;
            effects
        }
        Msg::Term(Event::Mouse(m)) => {
            app.urgent = true;
            app.on_mouse(m)
        }
        Msg::Term(Event::Paste(text)) => {
            app.urgent = true;
            app.on_paste(&text)
        }
        Msg::Term(Event::Resize(..)) => {
            app.dirty = true;
            app.urgent = true;
            Vec::new()
        }
        Msg::Term(_) => Vec::new(),
        Msg::RecordingCut(text) => {
            recording_cut(app, text);
            Vec::new()
        }
        Msg::Child(ev) => {
            // The terminal answers what is typed in it: its output is drawn without delay.
            if matches!(ev, ChildEvent::Pty(_)) {
                app.urgent = true;
            }
            if let Some(r) = recorder {
                let ms = app.input.now_ms();
                let cut = match &ev {
                    ChildEvent::Stderr(b) => r.record(Stream::Stderr, ms, b),
                    ChildEvent::Pty(b) => r.record(Stream::Terminal, ms, b),
                    ChildEvent::Exited(code) => {
                        r.exit(*code);
                        None
                    }
                };
                if let Some(text) = cut {
                    recording_cut(app, text);
                }
            }
            let exited = matches!(ev, ChildEvent::Exited(_));
            let effects = app.on_child(ev);
            if exited && let Some(c) = child {
                c.mark_exited();
                perform(app, Some(c), tabs, effects);
                return Ok(());
            }
            effects
        }
        Msg::Tab(TabEvent::Child(id, ev)) => {
            if matches!(ev, ChildEvent::Pty(_)) {
                app.urgent = true;
            }
            if matches!(ev, ChildEvent::Exited(_)) {
                tabs.exited(id);
            }
            app.on_tab(id, ev)
        }
        Msg::Tab(TabEvent::Connected(id, stream)) => {
            // A tab closed while connecting: the connection ends here.
            tabs.connected(id, stream, app.sessions.position(id).is_some());
            app.tab_connected(id)
        }
        Msg::TermGone(e) => anyhow::bail!("terminal input failed: {e}"),
    };
    perform(app, child, tabs, effects);
    Ok(())
}
