//! The event loop: one task owns `App`; readers run on their own threads and send messages.
//! The terminal is restored on every way out: normal quit, error, panic, SIGTERM, SIGHUP.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use super::state::{App, Effect};
use crate::vm::source::SourceEvent;

/// Redraws are coalesced to at most this rate.
const FRAME: Duration = Duration::from_millis(16);
/// How much input is parsed before the screen gets a chance to redraw.
const INGEST_BUDGET: Duration = Duration::from_millis(30);

enum Msg {
    Term(Event),
    Source(SourceEvent),
    TermGone(String),
}

/// Puts the terminal back as it was. Safe to call more than once.
pub fn restore_terminal() {
    let mut out = io::stdout();
    let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}

/// Runs the screen until the user quits. `source` is started on its own thread and sends
/// what it reads; it must return when sending fails.
pub fn run(
    mut app: App,
    source: impl FnOnce(&dyn Fn(SourceEvent) -> bool) + Send + 'static,
) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    install_panic_hook();
    terminal::enable_raw_mode()?;
    let _guard = TerminalGuard;
    let mut stdout = io::stdout();
    // Cleared here rather than by ratatui, whose clear asks the terminal where the cursor is.
    execute!(
        stdout,
        EnterAlternateScreen,
        EnableMouseCapture,
        cursor::Hide,
        terminal::Clear(terminal::ClearType::All)
    )?;
    let mut term = Terminal::new(CrosstermBackend::new(stdout))?;

    let (tx, mut rx) = mpsc::channel::<Msg>(64);
    let input_tx = tx.clone();
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            loop {
                match event::read() {
                    Ok(ev) => {
                        if input_tx.blocking_send(Msg::Term(ev)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = input_tx.blocking_send(Msg::TermGone(e.to_string()));
                        return;
                    }
                }
            }
        })?;
    let source_tx = tx.clone();
    std::thread::Builder::new()
        .name("source".into())
        .spawn(move || {
            let send = |ev: SourceEvent| source_tx.blocking_send(Msg::Source(ev)).is_ok();
            source(&send);
        })?;
    drop(tx);

    rt.block_on(async move {
        let mut term_sig =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut hup_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let mut last_draw = Instant::now() - FRAME;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            if app.dirty && last_draw.elapsed() >= FRAME {
                term.draw(|f| crate::panes::draw(f, &mut app))?;
                app.dirty = false;
                last_draw = Instant::now();
            }
            if app.quit {
                break;
            }
            let wait = FRAME.saturating_sub(last_draw.elapsed());
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    let started = Instant::now();
                    let mut next = Some(msg);
                    // Take what is queued before drawing, within a budget.
                    while let Some(m) = next.take() {
                        handle(&mut app, m)?;
                        if app.quit || started.elapsed() > INGEST_BUDGET {
                            break;
                        }
                        next = rx.try_recv().ok();
                    }
                }
                _ = tokio::time::sleep(wait), if app.dirty => {}
                _ = tick.tick() => {
                    if app.live && app.ended.is_none() {
                        app.dirty = true;
                    }
                }
                // Killed or its terminal closed: leave cleanly, with the shell's status for it.
                _ = term_sig.recv() => return anyhow::Ok(128 + libc::SIGTERM),
                _ = hup_sig.recv() => return anyhow::Ok(128 + libc::SIGHUP),
            }
        }
        anyhow::Ok(0)
    })
}

fn handle(app: &mut App, msg: Msg) -> anyhow::Result<()> {
    match msg {
        Msg::Term(Event::Key(k)) if k.kind != KeyEventKind::Release => {
            let effects = app.on_key(k);
            perform(app, effects);
        }
        Msg::Term(Event::Mouse(m)) => {
            let effects = app.on_mouse(m);
            perform(app, effects);
        }
        Msg::Term(Event::Resize(..)) => app.dirty = true,
        Msg::Term(_) => {}
        Msg::Source(ev) => app.ingest(ev),
        Msg::TermGone(e) => anyhow::bail!("terminal input failed: {e}"),
    }
    Ok(())
}

fn perform(app: &mut App, effects: Vec<Effect>) {
    for e in effects {
        match e {
            Effect::Save { path, text } => {
                let n = text.lines().count();
                let result = std::fs::write(&path, text).map(|_| n);
                app.saved(&path, result);
            }
        }
    }
}
