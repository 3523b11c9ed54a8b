//! What vmscope takes on trust before it runs something, and what it asks about first.
//!
//! Everything a guest prints reaches vmscope inside the driver's stream, and a guest can
//! forge any line there. So a session's command is always built here from a narrow form
//! (a CID, a socket path of plain characters, a machine name, a loopback address, a store
//! path), and it runs without a question only when something a guest cannot write backs
//! it: the driver's configuration file, its process tree (the debug hook's `sleep ID`
//! marker), a socket of this user under the driver's temporary directory. Otherwise the
//! user sees the exact command and says yes or no.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::procs;
use super::state::{App, Effect, Message};
use crate::vm::config::{DriverConfig, config_argument};

/// How the run reached vmscope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A saved log, a recording, standard input: nothing in it can be checked on this host.
    #[default]
    Log,
    /// `vmscope run`/`interactive`: the driver is vmscope's child.
    Run,
    /// `vmscope build`: the driver runs in Nix's sandbox, maybe on a remote builder.
    Build,
}

/// A command waiting for the user's yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The tab whose session it starts.
    pub tab: u32,
    /// What will run (and be typed), exactly.
    pub lines: Vec<String>,
    /// Why it is asked.
    pub why: String,
}

/// How long vmscope looks for the driver's configuration after it started.
const CONFIG_LOOK: Duration = Duration::from_secs(10);

/// How often the process table is read while something waits to be confirmed.
const SCAN_EVERY: Duration = Duration::from_millis(500);

/// The driver's temporary directory (`get_tmp_dir`): `XDG_RUNTIME_DIR`, else what Python's
/// `tempfile.gettempdir()` takes (`TMPDIR`, `TEMP`, `TMP`, `/tmp`). The driver inherits
/// vmscope's environment, so this is where it puts its vsock sockets.
pub fn driver_tmp_dir() -> PathBuf {
    ["XDG_RUNTIME_DIR", "TMPDIR", "TEMP", "TMP"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .find(|p| p.is_absolute() && p.is_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// The configuration file named by the driver's command line, or by one of its
/// descendants' (the `nixos-test-driver` wrapper execs Python with `--config`).
pub fn find_driver_config(driver: libc::pid_t) -> Option<DriverConfig> {
    let procs = procs::all();
    let parents = procs::parents(&procs);
    let mut tree: Vec<libc::pid_t> = procs
        .iter()
        .filter(|p| procs::descends_from(&parents, p.pid, driver))
        .map(|p| p.pid)
        .collect();
    tree.sort();
    tree.into_iter().find_map(|pid| {
        let path = config_argument(&procs::cmdline(pid)?)?;
        DriverConfig::parse(&std::fs::read_to_string(path).ok()?)
    })
}

/// State of the checks against the host.
#[derive(Debug, Default)]
pub struct Checks {
    pub mode: Mode,
    /// The driver's process (`run`) or `nix`'s (`build`).
    pub driver_pid: Option<libc::pid_t>,
    /// The driver's configuration, once read.
    pub config: Option<DriverConfig>,
    config_done: bool,
    last_scan: Option<Instant>,
    /// Breakpoint lines (input line) already said to be unconfirmed.
    pub noted: std::collections::HashSet<u64>,
}

impl Checks {
    /// The test's machines come from the configuration, when the run has one.
    fn look_for_config(&mut self, started: Instant) -> Option<DriverConfig> {
        if self.config_done || self.mode != Mode::Run {
            return None;
        }
        let pid = self.driver_pid?;
        if started.elapsed() > CONFIG_LOOK {
            self.config_done = true;
            return None;
        }
        let found = find_driver_config(pid)?;
        self.config_done = true;
        self.config = Some(found.clone());
        Some(found)
    }
}

impl App {
    /// Every tick: what the host can confirm (the driver's configuration, breakpoint
    /// markers).
    pub fn poll_checks(&mut self) {
        if let Some(config) = self.checks.look_for_config(self.start) {
            self.parser.known_machines(&config.machines());
            self.dirty = true;
        }
        self.verify_breakpoints();
    }

    /// Breakpoints in a live run are confirmed by the debug hook's marker, `sleep ID`: in the
    /// driver's own processes for `run`, anywhere on this host for a build in its sandbox.
    fn verify_breakpoints(&mut self) {
        if self.checks.mode == Mode::Log || self.ended.is_some() {
            return;
        }
        let waiting: Vec<(usize, String)> = self
            .parser
            .run
            .tests
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                t.breakpoint
                    .as_ref()
                    .filter(|b| !b.verified)
                    .map(|b| (i, b.line.id.clone()))
            })
            .collect();
        if waiting.is_empty()
            || self
                .checks
                .last_scan
                .is_some_and(|t| t.elapsed() < SCAN_EVERY)
        {
            return;
        }
        self.checks.last_scan = Some(Instant::now());
        let tree = match self.checks.mode {
            Mode::Run => self.checks.driver_pid,
            _ => None,
        };
        let mut found = false;
        for (i, id) in waiting {
            if !procs::running(&["sleep", &id], tree).is_empty()
                && let Some(b) = &mut self.parser.run.tests[i].breakpoint
            {
                b.verified = true;
                found = true;
            }
        }
        if found {
            self.dirty = true;
            self.check_triggers();
        }
    }

    /// Asks about tab `tab`'s session before it starts.
    pub(super) fn ask(&mut self, tab: u32, lines: Vec<String>, why: String) {
        self.confirm = Some(Confirm { tab, lines, why });
        self.dirty = true;
        self.urgent = true;
    }

    /// A key while a question is shown: `y` or Enter runs the command, `n` or Esc does not.
    pub fn confirm_key(&mut self, key: &crossterm::event::KeyEvent) -> Vec<Effect> {
        use crossterm::event::KeyCode;
        self.dirty = true;
        self.urgent = true;
        let Some(c) = self.confirm.clone() else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                self.confirm = None;
                let Some(i) = self.tabs.iter().position(|t| t.id == c.tab) else {
                    return Vec::new();
                };
                self.tabs[i].approved = Some(c.lines);
                self.connect(i)
            }
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {
                self.confirm = None;
                if let Some(i) = self.tabs.iter().position(|t| t.id == c.tab) {
                    self.tabs.remove(i);
                    self.active_tab = None;
                    self.tab_input = false;
                }
                self.message = Some(Message {
                    text: "not run".into(),
                    error: false,
                });
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
