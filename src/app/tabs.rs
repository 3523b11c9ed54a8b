//! ssh tabs: a real `ssh` into a machine's backdoor per tab, each its own terminal.

use std::ffi::OsString;

use super::child::ChildEvent;
use super::live::CommandPane;
use super::state::{App, Effect, Message};
use super::view::Pane;
use crate::vsock::Address;
use crate::vsock::ssh::{self, Route};

/// How long a tab waits before trying an unreachable backdoor again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// How much of ssh's stderr a tab keeps to tell why it ended.
const STDERR_TAIL: usize = 4096;

/// One ssh session into a machine.
pub struct Tab {
    /// Session id (the runner's key for its process).
    pub id: u32,
    pub machine: String,
    pub pane: CommandPane,
    /// Why it is not connected yet (no backdoor address, the machine not up).
    pub waiting: Option<String>,
    /// The end of what ssh (and its ProxyCommand) wrote on stderr: how it ended.
    pub last_error: String,
    /// A process runs for it.
    pub running: bool,
    /// When a tab whose backdoor was not reachable tries again.
    pub retry_at: Option<std::time::Instant>,
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
        self.next_tab_id += 1;
        let id = self.next_tab_id;
        let (cols, rows) = self.tab_size;
        self.tabs.push(Tab {
            id,
            machine: machine.clone(),
            pane: CommandPane::new(String::new(), cols, rows),
            waiting: None,
            last_error: String::new(),
            running: false,
            retry_at: None,
        });
        self.active_tab = Some(self.tabs.len() - 1);
        self.tab_input = true;
        self.connect(self.tabs.len() - 1)
    }

    /// Starts ssh for tab `i` if its machine has an address; else the tab waits for one.
    fn connect(&mut self, i: usize) -> Vec<Effect> {
        let Some(tab) = self.tabs.get(i) else {
            return Vec::new();
        };
        let machine = tab.machine.clone();
        let command = self
            .current_test()
            .ssh
            .iter()
            .find(|e| e.machine == machine)
            .map(|e| e.command.clone());
        let Some(address) = command.as_deref().and_then(Address::from_command) else {
            if let Some(tab) = self.tabs.get_mut(i) {
                tab.waiting = Some(format!(
                    "waiting for {machine}'s SSH backdoor address (is sshBackdoor.enable on?)"
                ));
            }
            return Vec::new();
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
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        tab.waiting = None;
        tab.running = true;
        tab.last_error.clear();
        let (cols, rows) = self.tab_size;
        let target = args.last().map(|a| a.to_string_lossy().into_owned());
        tab.pane = CommandPane::new(target.unwrap_or_default(), cols, rows);
        vec![Effect::OpenTab { id: tab.id, args }]
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
        let mut effects = Vec::new();
        for i in waiting {
            effects.extend(self.connect(i));
        }
        if !effects.is_empty() {
            self.dirty = true;
        }
        effects
    }

    pub fn on_tab(&mut self, id: u32, ev: ChildEvent) -> Vec<Effect> {
        self.dirty = true;
        let Some(tab) = self.tabs.iter_mut().find(|t| t.id == id) else {
            return Vec::new();
        };
        match ev {
            ChildEvent::Pty(bytes) => {
                let replies = tab.pane.emu.process(&bytes);
                if replies.is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::WriteTab(id, replies)]
                }
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
                    && let Some(why) = tab
                        .last_error
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("vmscope proxy: "))
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
