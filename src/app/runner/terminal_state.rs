//! The terminal vmscope draws on: set up, and put back on every way out.

use std::io::{self, Write};

use crossterm::event::{DisableBracketedPaste, DisableMouseCapture};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};

/// Why `program` could not start; the session directory made for it stays empty, so it
/// goes too.
pub fn cannot_start(
    program: &std::ffi::OsStr,
    record: Option<&std::path::Path>,
    e: std::io::Error,
) -> anyhow::Error {
    if let Some(dir) = record {
        let _ = std::fs::remove_dir(dir);
    }
    anyhow::anyhow!("cannot start {}: {e}", program.to_string_lossy())
}

/// Puts the terminal back as it was. Safe to call more than once.
pub fn restore_terminal() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

/// Puts the terminal back when dropped, whatever way the screen ends.
pub struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// A screen of keys only (no mouse, no paste), for `diff` and `triage`: raw mode, the
/// alternate screen, the cursor hidden; put back when the guard drops.
pub fn key_screen() -> anyhow::Result<(
    ratatui::Terminal<ratatui::backend::CrosstermBackend<io::Stdout>>,
    TerminalGuard,
)> {
    install_panic_hook();
    terminal::enable_raw_mode()?;
    let guard = TerminalGuard;
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        cursor::Hide,
        terminal::Clear(terminal::ClearType::All)
    )?;
    Ok((
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(out))?,
        guard,
    ))
}

pub(crate) fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}
