//! One tab: ssh into a machine's backdoor, a shell in the paused build sandbox, or a pdb
//! console, each with a terminal of its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::pdb::PdbConsole;
use super::terminal::TermPane;

/// How long a shell must be quiet, when no prompt is recognised, before a line is typed.
const QUIET: Duration = Duration::from_millis(1200);

/// What a tab runs.
#[derive(Debug, Clone, PartialEq)]
pub enum TabKind {
    /// `ssh` into `machine` from the host.
    Ssh,
    /// `sudo ATTACH ID`: a shell in the paused build sandbox (what is queued is typed in).
    Attach,
    /// A pdb console over TCP.
    Pdb,
}

/// When a queued line may be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// At a shell prompt, or after a quiet moment that is not a password prompt.
    Shell,
    /// At pdb's `(Pdb) ` prompt.
    Pdb,
}

/// One session: ssh into a machine, the sandbox, or pdb.
pub struct Tab {
    /// Session id (the runner's key for its process).
    pub id: u32,
    pub kind: TabKind,
    /// The machine (ssh), or what the session is for (attach, pdb).
    pub machine: String,
    pub pane: TermPane,
    /// Lines to type once the session is ready for each.
    pub queued: VecDeque<(String, Ready)>,
    /// When the session last wrote something.
    pub last_output: Option<Instant>,
    pub opened: Instant,
    /// The line editor (pdb consoles).
    pub console: PdbConsole,
    /// Why it is not connected yet (no backdoor address, the machine not up).
    pub waiting: Option<String>,
    /// The end of what ssh (and its ProxyCommand) wrote on stderr: how it ended.
    pub last_error: String,
    /// A process runs for it.
    pub running: bool,
    /// When a tab whose backdoor was not reachable tries again.
    pub retry_at: Option<Instant>,
    /// What the user said yes to for this tab: the exact lines of its session.
    pub approved: Option<Vec<String>>,
    /// The session never started: what it ran could not start or was refused (sudo's
    /// password, a missing program). Said on its screen and in its label.
    pub failed: Option<String>,
}

impl Tab {
    pub fn new(id: u32, kind: TabKind, machine: String, size: (u16, u16)) -> Self {
        Self {
            id,
            kind,
            machine,
            pane: TermPane::new(String::new(), size.0, size.1),
            queued: VecDeque::new(),
            last_output: None,
            opened: Instant::now(),
            console: PdbConsole::default(),
            waiting: None,
            last_error: String::new(),
            running: false,
            retry_at: None,
            approved: None,
            failed: None,
        }
    }

    /// The session starts: a fresh terminal titled `title`, with `note` dimmed on its first
    /// line (what runs there, for the user to see first).
    pub fn start(&mut self, title: String, size: (u16, u16), note: Option<&str>) {
        self.waiting = None;
        self.failed = None;
        self.running = true;
        self.last_error.clear();
        self.pane = TermPane::new(title, size.0, size.1);
        if let Some(note) = note {
            self.pane
                .emu
                .process(format!("\x1b[2m{note}\x1b[0m\r\n").as_bytes());
        }
    }

    /// The label of the top bar.
    pub fn label(&self) -> String {
        let what = match self.kind {
            TabKind::Ssh => format!("ssh {}", self.machine),
            TabKind::Attach if self.machine.is_empty() => "sandbox".to_string(),
            TabKind::Attach => format!("sandbox: {}", self.machine),
            TabKind::Pdb => "pdb".to_string(),
        };
        if self.failed.is_some() {
            format!("{what} (failed)")
        } else {
            what
        }
    }

    /// What the tab's state is, in a few words (the bottom bar, the tab's title).
    pub fn state(&self) -> String {
        if let Some(why) = &self.failed {
            return format!("failed: {why}");
        }
        if let Some(why) = &self.waiting {
            return why.clone();
        }
        match (self.running, self.pane.exit) {
            (true, _) => "running".into(),
            (false, Some(code)) => format!("ended with status {code}"),
            (false, None) => "not started".into(),
        }
    }

    /// The first queued line, if the session is ready for it.
    pub fn ready_line(&self, now: Instant) -> Option<&str> {
        let (text, ready) = self.queued.front()?;
        if !self.running {
            return None;
        }
        let before = self.pane.emu.before_cursor();
        let at = before.trim_end();
        let ok = match ready {
            Ready::Pdb => at.ends_with("(Pdb)"),
            Ready::Shell => {
                let prompt = at.ends_with(['$', '#', '>', '%']);
                let quiet = self
                    .last_output
                    .is_some_and(|t| now.duration_since(t) >= QUIET);
                // Never into a password prompt: what is typed there would be the password.
                !at.to_lowercase().contains("password") && (prompt || quiet)
            }
        };
        ok.then_some(text.as_str())
    }
}
