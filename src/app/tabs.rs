//! ssh tabs: a real `ssh` into a machine's backdoor per tab, each its own terminal.

use std::ffi::OsString;

use super::child::{ChildEvent, StderrTo};
use super::live::CommandPane;
use super::state::{App, Effect, Message};
use super::trust::Mode;
use super::view::Pane;
use crate::vm::model::Source;
use crate::vsock::address::{Address, check_socket, is_machine_name};
use crate::vsock::ssh::{self, Route};

/// How long a tab waits before trying an unreachable backdoor again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// How much of ssh's stderr a tab keeps to tell why it ended.
const STDERR_TAIL: usize = 4096;

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

/// How long a shell must be quiet, when no prompt is recognised, before a line is typed.
const QUIET: std::time::Duration = std::time::Duration::from_millis(1200);

/// One session: ssh into a machine, the sandbox, or pdb.
pub struct Tab {
    /// Session id (the runner's key for its process).
    pub id: u32,
    pub kind: TabKind,
    /// The machine (ssh), or what the session is for (attach, pdb).
    pub machine: String,
    pub pane: CommandPane,
    /// Lines to type once the session is ready for each.
    pub queued: std::collections::VecDeque<(String, Ready)>,
    /// When the session last wrote something.
    pub last_output: Option<std::time::Instant>,
    pub opened: std::time::Instant,
    /// The line editor (pdb consoles).
    pub console: super::pdb_console::PdbConsole,
    /// Why it is not connected yet (no backdoor address, the machine not up).
    pub waiting: Option<String>,
    /// The end of what ssh (and its ProxyCommand) wrote on stderr: how it ended.
    pub last_error: String,
    /// A process runs for it.
    pub running: bool,
    /// When a tab whose backdoor was not reachable tries again.
    pub retry_at: Option<std::time::Instant>,
    /// What the user said yes to for this tab: the exact lines of its session.
    pub approved: Option<Vec<String>>,
}

impl Tab {
    pub fn new(id: u32, kind: TabKind, machine: String, size: (u16, u16)) -> Self {
        Self {
            id,
            kind,
            machine,
            pane: CommandPane::new(String::new(), size.0, size.1),
            queued: std::collections::VecDeque::new(),
            last_output: None,
            opened: std::time::Instant::now(),
            console: Default::default(),
            waiting: None,
            last_error: String::new(),
            running: false,
            retry_at: None,
            approved: None,
        }
    }

    /// The session starts: a fresh terminal titled `title`, with `note` dimmed on its first
    /// line (what runs there, for the user to see first).
    pub fn start(&mut self, title: String, size: (u16, u16), note: Option<&str>) {
        self.waiting = None;
        self.running = true;
        self.last_error.clear();
        self.pane = CommandPane::new(title, size.0, size.1);
        if let Some(note) = note {
            self.pane
                .emu
                .process(format!("\x1b[2m{note}\x1b[0m\r\n").as_bytes());
        }
    }

    /// The label of the top bar.
    pub fn label(&self) -> String {
        match self.kind {
            TabKind::Ssh => format!("ssh {}", self.machine),
            TabKind::Attach if self.machine.is_empty() => "sandbox".to_string(),
            TabKind::Attach => format!("sandbox: {}", self.machine),
            TabKind::Pdb => "pdb".to_string(),
        }
    }

    /// The first queued line, if the session is ready for it.
    fn ready_line(&self, now: std::time::Instant) -> Option<&str> {
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

impl App {
    /// The tab on screen, if any.
    pub fn active(&self) -> Option<&Tab> {
        self.active_tab.and_then(|i| self.tabs.get(i))
    }

    fn active_mut(&mut self) -> Option<&mut Tab> {
        self.active_tab.and_then(|i| self.tabs.get_mut(i))
    }

    /// `s`: a new ssh tab into the focused machine (or the first one).
    pub fn open_ssh(&mut self) -> Vec<Effect> {
        if !self.ssh_reachable() {
            return self.ssh_unreachable();
        }
        let test = self.current_test();
        let machine = match self.focus {
            Pane::Machine(m) => test.machines.get(m),
            _ => test.machines.first(),
        };
        let Some(machine) = machine.map(|m| m.name.clone()) else {
            self.message = Some(Message {
                text: "no machine to ssh into yet".into(),
                error: true,
            });
            return Vec::new();
        };
        self.open_tab(TabKind::Ssh, machine)
    }

    /// A new tab of `kind`, shown, with the keyboard.
    pub fn open_tab(&mut self, kind: TabKind, machine: String) -> Vec<Effect> {
        self.open_tab_typing(kind, machine, None)
    }

    /// A new tab whose shell gets `line` typed once it is ready.
    pub fn open_tab_typing(
        &mut self,
        kind: TabKind,
        machine: String,
        line: Option<String>,
    ) -> Vec<Effect> {
        self.next_tab_id += 1;
        let id = self.next_tab_id;
        let mut tab = Tab::new(id, kind, machine, self.tab_size);
        if let Some(line) = line {
            tab.queued.push_back((line, Ready::Shell));
        }
        self.tabs.push(tab);
        self.active_tab = Some(self.tabs.len() - 1);
        self.tab_input = true;
        self.connect(self.tabs.len() - 1)
    }

    /// Starts tab `i`'s session, or leaves it waiting for what it needs.
    pub(super) fn connect(&mut self, i: usize) -> Vec<Effect> {
        let Some(tab) = self.tabs.get(i) else {
            return Vec::new();
        };
        match tab.kind {
            TabKind::Ssh => self.connect_ssh(i),
            TabKind::Attach => self.connect_attach(i),
            TabKind::Pdb => self.connect_pdb(i),
        }
    }

    /// Whether tab `i` may start `lines` now: yes when nothing is in doubt or the user said
    /// yes to exactly these lines; otherwise the question is put and the tab waits.
    pub(super) fn cleared(&mut self, i: usize, lines: &[String], doubt: Option<String>) -> bool {
        let Some(why) = doubt else {
            return true;
        };
        let Some(tab) = self.tabs.get_mut(i) else {
            return false;
        };
        if tab.approved.as_deref() == Some(lines) {
            return true;
        }
        tab.waiting = Some("waiting for your answer: y runs it, n does not".into());
        let id = tab.id;
        self.ask(id, lines.to_vec(), why);
        false
    }

    /// Why `address`, read from `source`, is not taken as it is.
    fn address_doubt(&self, address: &Address, source: Source) -> Option<String> {
        let Address::VsockMux { path } = address else {
            // A CID and a container's name are all a command is built from.
            return None;
        };
        if self.checks.mode == Mode::Run && source == Source::Terminal {
            let under = super::trust::driver_tmp_dir();
            return check_socket(path, &under)
                .err()
                .map(|d| format!("{d}: it may not be the driver's"));
        }
        Some(
            match self.checks.mode {
                Mode::Log => "the address comes from a saved log, which anyone could have written",
                _ => "the address comes from the log stream, into which a guest can print",
            }
            .into(),
        )
    }

    /// Starts ssh for tab `i` if its machine has an address; else the tab waits for one.
    fn connect_ssh(&mut self, i: usize) -> Vec<Effect> {
        let Some(tab) = self.tabs.get(i) else {
            return Vec::new();
        };
        let machine = tab.machine.clone();
        let config = self.checks.config.as_ref();
        let entry = self
            .current_test()
            .ssh
            .iter()
            .find(|e| e.machine == machine);
        let found = if config.is_some_and(|c| c.is_container(&machine)) && is_machine_name(&machine)
        {
            // The driver's configuration says it is a container: its socket is known.
            Ok((
                Address::Nspawn {
                    machine: machine.clone(),
                },
                None,
            ))
        } else {
            match entry {
                Some(e) => match &e.address {
                    Some(a) => Ok((a.clone(), self.address_doubt(a, e.source))),
                    None => Err(format!(
                        "{machine}'s backdoor command is of no form vmscope runs: {}",
                        e.command
                    )),
                },
                None if config.is_some_and(|c| !c.ssh_backdoor) => Err(
                    "the SSH backdoor is off in this test's configuration (sshBackdoor.enable)"
                        .to_string(),
                ),
                None => Err(format!(
                    "waiting for {machine}'s SSH backdoor address (is sshBackdoor.enable on?)"
                )),
            }
        };
        let (address, doubt) = match found {
            Ok(f) => f,
            Err(why) => {
                if let Some(tab) = self.tabs.get_mut(i) {
                    tab.waiting = Some(why);
                }
                return Vec::new();
            }
        };
        let route = if self.ssh_system_proxy {
            Route::System
        } else {
            Route::Proxy(
                std::env::current_exe()
                    .map(OsString::from)
                    .unwrap_or_else(|_| "vmscope".into()),
            )
        };
        let mut args: Vec<OsString> = self.ssh_options.iter().map(OsString::from).collect();
        args.extend(ssh::command(&address, &route));
        if !self.cleared(i, &[ssh::shell_line("ssh", &args)], doubt) {
            return Vec::new();
        }
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        tab.start(address.host(), self.tab_size, None);
        vec![Effect::OpenTab {
            id: tab.id,
            program: "ssh".into(),
            args,
            stderr: StderrTo::Pipe,
        }]
    }

    /// Every tick: tabs that wait for their machine try again.
    pub fn poll_tabs(&mut self) -> Vec<Effect> {
        let now = std::time::Instant::now();
        let waiting: Vec<usize> = (0..self.tabs.len())
            .filter(|&i| {
                let t = &self.tabs[i];
                t.waiting.is_some() && !t.running && t.retry_at.is_none_or(|at| now >= at)
            })
            .collect();
        self.poll_checks();
        let mut effects = Vec::new();
        for i in waiting {
            // A tab whose question is open waits for the answer.
            if self
                .confirm
                .as_ref()
                .is_some_and(|c| c.tab == self.tabs[i].id)
            {
                continue;
            }
            effects.extend(self.connect(i));
        }
        for i in 0..self.tabs.len() {
            effects.extend(self.type_queued(i, now));
        }
        if !effects.is_empty() {
            self.dirty = true;
        }
        effects
    }

    pub fn on_tab(&mut self, id: u32, ev: ChildEvent) -> Vec<Effect> {
        self.dirty = true;
        // pdb is not coming back once the driver ended.
        let run_over = self.ended.is_some();
        let Some(tab) = self.tabs.iter_mut().find(|t| t.id == id) else {
            return Vec::new();
        };
        match ev {
            ChildEvent::Pty(bytes) => {
                tab.last_output = Some(std::time::Instant::now());
                let replies = tab.pane.emu.process(&bytes);
                let mut effects = if replies.is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::WriteTab(id, replies)]
                };
                if let Some(i) = self.tabs.iter().position(|t| t.id == id) {
                    effects.extend(self.type_queued(i, std::time::Instant::now()));
                }
                effects
            }
            ChildEvent::Stderr(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                tab.last_error
                    .push_str(&crate::vm::sanitize::strip_sgr(&text));
                if tab.last_error.len() > STDERR_TAIL {
                    let cut = tab.last_error.len() - STDERR_TAIL;
                    let cut = (cut..tab.last_error.len())
                        .find(|&i| tab.last_error.is_char_boundary(i))
                        .unwrap_or(0);
                    tab.last_error.drain(..cut);
                }
                // ssh's own messages belong on the tab's screen, as in a terminal.
                tab.pane.emu.process(text.replace('\n', "\r\n").as_bytes());
                Vec::new()
            }
            ChildEvent::Exited(code) => {
                tab.running = false;
                tab.pane.exit = Some(code);
                // The backdoor is not there (yet): try again when the machine may be up.
                if code == 255
                    && !(run_over && tab.kind == TabKind::Pdb)
                    && let Some(why) = tab.last_error.lines().find_map(|l| {
                        let l = l.trim();
                        l.strip_prefix("vmscope proxy: ")
                            .or_else(|| l.strip_prefix("vmscope pdb: "))
                    })
                {
                    tab.waiting = Some(format!(
                        "{} is not reachable yet, trying again: {why}",
                        tab.machine
                    ));
                    tab.retry_at = Some(std::time::Instant::now() + RETRY);
                }
                Vec::new()
            }
        }
    }

    /// Keys of a tab in navigation: Enter types again; the leave chord goes through.
    pub fn tab_nav_key(&mut self, key: &crossterm::event::KeyEvent) -> Option<Vec<Effect>> {
        let tab = self.active()?;
        if !tab.running {
            return None;
        }
        let id = tab.id;
        if super::keymap::Chord::from_event(key) == Some(self.leave) {
            self.tab_input = true;
            return Some(vec![Effect::WriteTab(id, super::keys::encode(key, false))]);
        }
        if key.code == crossterm::event::KeyCode::Enter && key.modifiers.is_empty() {
            self.tab_input = true;
            return Some(Vec::new());
        }
        None
    }

    /// Bytes typed into the active tab, and into every running tab when typing is
    /// synchronized.
    pub fn type_into_tabs(&mut self, bytes: Vec<u8>) -> Vec<Effect> {
        if let Some(tab) = self.active_mut() {
            tab.pane.emu.scroll_to_live();
        }
        let Some(active) = self.active().map(|t| t.id) else {
            return Vec::new();
        };
        if self.sync_typing {
            self.tabs
                .iter()
                .filter(|t| t.running)
                .map(|t| Effect::WriteTab(t.id, bytes.clone()))
                .collect()
        } else {
            vec![Effect::WriteTab(active, bytes)]
        }
    }

    /// Shows tab `i`, or the panes; a running tab gets the keyboard.
    pub fn show_tab(&mut self, i: Option<usize>) {
        self.dirty = true;
        self.active_tab = i.filter(|&i| i < self.tabs.len());
        self.tab_input = self.active().is_some_and(|t| t.running);
    }

    pub fn switch_tab(&mut self, forward: bool) {
        if self.tabs.is_empty() {
            self.message = Some(Message {
                text: "no ssh tabs: s opens one into the focused machine".into(),
                error: false,
            });
            return;
        }
        // Positions: the overview (None), then each tab.
        let n = self.tabs.len() + 1;
        let at = self.active_tab.map_or(0, |i| i + 1);
        let next = if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        };
        self.show_tab(next.checked_sub(1));
    }

    /// A tab's pdb connection is up: queued commands go once pdb prompts.
    pub fn tab_connected(&mut self, id: u32) -> Vec<Effect> {
        self.dirty = true;
        match self.tabs.iter().position(|t| t.id == id) {
            Some(i) => self.type_queued(i, std::time::Instant::now()),
            None => Vec::new(),
        }
    }

    /// Types tab `i`'s first queued line if the session is ready for it. The line is typed
    /// as a user would, so the shell or pdb echoes it where the user sees it.
    pub fn type_queued(&mut self, i: usize, now: std::time::Instant) -> Vec<Effect> {
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        let Some(line) = tab.ready_line(now).map(str::to_string) else {
            return Vec::new();
        };
        tab.queued.pop_front();
        // What is typed next waits for the answer to this one.
        tab.last_output = Some(now);
        self.dirty = true;
        match tab.kind {
            TabKind::Pdb => self.pdb_send(i, &line),
            _ => vec![Effect::WriteTab(tab.id, format!("{line}\r").into_bytes())],
        }
    }

    /// `x`: closes the active tab (its ssh ends with it).
    pub fn close_tab(&mut self) -> Vec<Effect> {
        let Some(i) = self.active_tab else {
            return Vec::new();
        };
        let tab = self.tabs.remove(i);
        self.active_tab = if self.tabs.is_empty() {
            None
        } else {
            Some(i.min(self.tabs.len() - 1))
        };
        self.tab_input = false;
        vec![Effect::CloseTab(tab.id)]
    }

    /// A tab whose ssh could not be started or written to.
    pub fn tab_failed(&mut self, id: u32, text: &str) {
        if let Some(tab) = self.tabs.iter_mut().find(|t| t.id == id) {
            tab.running = false;
            tab.last_error = text.to_string();
        }
        self.message = Some(Message {
            text: text.to_string(),
            error: true,
        });
        self.dirty = true;
    }

    /// `r`: connects the active tab again once its ssh has ended.
    pub fn reconnect(&mut self) -> Vec<Effect> {
        match self.active_tab {
            Some(i) if !self.tabs[i].running => {
                self.tab_input = true;
                self.connect(i)
            }
            _ => Vec::new(),
        }
    }

    /// What scrolling and the like mean while a tab is shown: its terminal's history.
    pub fn tab_action(&mut self, action: super::action::Action) -> Option<Vec<Effect>> {
        use super::action::Action;
        let rows = i64::from(self.tab_size.1.max(2));
        let tab = self.active_tab.and_then(|i| self.tabs.get_mut(i))?;
        let emu = &mut tab.pane.emu;
        match action {
            Action::ScrollUp => emu.scroll_by(1),
            Action::ScrollDown => emu.scroll_by(-1),
            Action::PageUp => emu.scroll_by(rows - 1),
            Action::PageDown => emu.scroll_by(-(rows - 1)),
            Action::HalfPageUp => emu.scroll_by(rows / 2),
            Action::HalfPageDown => emu.scroll_by(-(rows / 2)),
            Action::Top => emu.scroll_by(i64::from(u16::MAX)),
            Action::Bottom | Action::Follow => emu.scroll_to_live(),
            _ => return None,
        }
        Some(Vec::new())
    }
}
