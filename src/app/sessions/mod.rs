//! Every terminal vmscope shows: the driver's command pane and the tabs (ssh, the sandbox's
//! shell, pdb). This part owns their emulators, who has the keyboard among them, the keys'
//! encoding and what their processes reported; it asks the runner for I/O with effects.

pub mod connect;
pub mod driver;
pub mod emulator;
pub mod keys;
pub mod pdb;
pub mod procs;
pub mod tab;
pub mod terminal;

use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;

use super::action::Action;
use super::effect::Effect;
use super::keymap::{Context, Keymap};
use connect::Ctx;
use driver::ChildEvent;
pub use tab::{Ready, Tab, TabKind};
pub use terminal::TermPane;

/// How long a tab waits before trying an unreachable backdoor again.
const RETRY: Duration = Duration::from_secs(2);

/// How much of ssh's stderr a tab keeps to tell why it ended.
const STDERR_TAIL: usize = 4096;

/// Which terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The driver's terminal (its REPL).
    Command,
    /// Tab `i` (by position).
    Tab(usize),
}

#[derive(Default)]
pub struct Sessions {
    /// The driver's terminal in a live run (or a recording's, read-only).
    pub command: Option<TermPane>,
    /// Keys go to the command pane's program while it is focused.
    pub command_typing: bool,
    pub tabs: Vec<Tab>,
    /// The tab shown over the panes, if any.
    pub active: Option<usize>,
    /// Keys go to the tab shown.
    pub tab_typing: bool,
    pub next_id: u32,
    /// The inner size of a tab's terminal as last drawn.
    pub tab_size: (u16, u16),
    /// What is typed goes to every running tab.
    pub sync_typing: bool,
    /// ssh reaches `vsock/N` through the system's ProxyCommand rather than `vmscope proxy`.
    pub ssh_system_proxy: bool,
    /// Options put before ssh's own (`-o ...`), from the configuration.
    pub ssh_options: Vec<String>,
    /// When a key was last typed into a terminal.
    pub last_typed: Option<Instant>,
}

impl Sessions {
    pub fn new() -> Self {
        Self {
            tab_size: (80, 24),
            ..Self::default()
        }
    }

    pub fn active(&self) -> Option<&Tab> {
        self.active.and_then(|i| self.tabs.get(i))
    }

    pub fn active_mut(&mut self) -> Option<&mut Tab> {
        self.active.and_then(|i| self.tabs.get_mut(i))
    }

    /// The driver's terminal's screen, when `focus` is its pane.
    pub fn command_screen(&self, focus: super::view::Pane) -> Option<String> {
        let cmd = self
            .command
            .as_ref()
            .filter(|_| focus == super::view::Pane::Command)?;
        Some(cmd.emu.screen().contents())
    }

    pub fn command_running(&self) -> bool {
        self.command.as_ref().is_some_and(TermPane::running)
    }

    /// The terminal that takes keys now, if one does: the tab shown when it runs and was not
    /// left, else the command pane when it is focused, runs and was not left.
    pub fn typing(&self, command_focused: bool) -> Option<Target> {
        if let Some(tab) = self.active() {
            return (self.tab_typing && tab.running).then(|| Target::Tab(self.active.unwrap_or(0)));
        }
        (command_focused && self.command_typing && self.command_running())
            .then_some(Target::Command)
    }

    /// The terminal shown with the focus, typing or not.
    pub fn focused(&self, command_focused: bool) -> Option<Target> {
        match self.active {
            Some(i) => Some(Target::Tab(i)),
            None if command_focused && self.command.is_some() => Some(Target::Command),
            None => None,
        }
    }

    pub fn pane(&self, target: Target) -> Option<&TermPane> {
        match target {
            Target::Command => self.command.as_ref(),
            Target::Tab(i) => self.tabs.get(i).map(|t| &t.pane),
        }
    }

    fn pane_mut(&mut self, target: Target) -> Option<&mut TermPane> {
        match target {
            Target::Command => self.command.as_mut(),
            Target::Tab(i) => self.tabs.get_mut(i).map(|t| &mut t.pane),
        }
    }

    /// Typing starts (or stops) in `target`.
    pub fn set_typing(&mut self, target: Target, on: bool) {
        match target {
            Target::Command => self.command_typing = on,
            Target::Tab(_) => self.tab_typing = on,
        }
    }

    /// A key for the program in `target`: encoded as its terminal expects, or edited into a
    /// pdb console's line.
    pub fn send_key(&mut self, target: Target, key: &KeyEvent) -> Vec<Effect> {
        self.last_typed = Some(Instant::now());
        if let Target::Tab(i) = target
            && self.tabs.get(i).is_some_and(|t| t.kind == TabKind::Pdb)
        {
            return match self.tabs[i].console.key(key) {
                Some(line) => self.pdb_send(i, &line),
                None => Vec::new(),
            };
        }
        let Some(pane) = self.pane_mut(target) else {
            return Vec::new();
        };
        pane.emu.scroll_to_live();
        let bytes = keys::encode(key, pane.emu.screen().application_cursor());
        if bytes.is_empty() {
            return Vec::new();
        }
        self.write_to(target, bytes)
    }

    /// Bytes for `target`'s program; typed into every running tab when typing is
    /// synchronised.
    fn write_to(&mut self, target: Target, bytes: Vec<u8>) -> Vec<Effect> {
        match target {
            Target::Command => vec![Effect::WritePty(bytes)],
            Target::Tab(i) if self.sync_typing => {
                if let Some(t) = self.tabs.get_mut(i) {
                    t.pane.emu.scroll_to_live();
                }
                self.tabs
                    .iter()
                    .filter(|t| t.running)
                    .map(|t| Effect::WriteTab(t.id, bytes.clone()))
                    .collect()
            }
            Target::Tab(i) => self
                .tabs
                .get(i)
                .map(|t| vec![Effect::WriteTab(t.id, bytes)])
                .unwrap_or_default(),
        }
    }

    /// A paste for `target`'s program (bracketed when it asked for that).
    pub fn paste(&mut self, target: Target, text: &str) -> Vec<Effect> {
        if let Target::Tab(i) = target
            && self.tabs.get(i).is_some_and(|t| t.kind == TabKind::Pdb)
        {
            let lines = self.tabs[i].console.paste(text);
            return lines.iter().flat_map(|l| self.pdb_send(i, l)).collect();
        }
        let Some(pane) = self.pane_mut(target) else {
            return Vec::new();
        };
        pane.emu.scroll_to_live();
        let bytes = keys::paste(text, pane.emu.screen().bracketed_paste());
        self.write_to(target, bytes)
    }

    /// Scrolls `target`'s history by `rows` (positive: back in time).
    pub fn scroll(&mut self, target: Target, rows: i64) {
        if let Some(pane) = self.pane_mut(target) {
            pane.emu.scroll_by(rows);
        }
    }

    pub fn scroll_to_live(&mut self, target: Target) {
        if let Some(pane) = self.pane_mut(target) {
            pane.emu.scroll_to_live();
        }
    }

    /// What the driver's terminal printed; its answers to queries go back to it.
    pub fn command_output(&mut self, bytes: &[u8]) -> Vec<Effect> {
        let Some(cmd) = &mut self.command else {
            return Vec::new();
        };
        let replies = cmd.emu.process(bytes);
        if replies.is_empty() {
            Vec::new()
        } else {
            vec![Effect::WritePty(replies)]
        }
    }

    pub fn command_exited(&mut self, code: i32) {
        if let Some(cmd) = &mut self.command {
            cmd.exit = Some(code);
        }
        self.command_typing = false;
    }

    /// Shows tab `i`, or the panes; a running tab gets the keyboard.
    pub fn show_tab(&mut self, i: Option<usize>) {
        self.active = i.filter(|&i| i < self.tabs.len());
        self.tab_typing = self.active().is_some_and(|t| t.running);
    }

    /// The panes again, with no tab taking keys.
    pub fn hide_tabs(&mut self) {
        self.active = None;
        self.tab_typing = false;
    }

    /// `>` / `<`: the next or previous tab (after the last: the panes). `s` names the key
    /// that opens one, for when there is none.
    pub fn switch_tab(&mut self, forward: bool, s: &str) -> Vec<Effect> {
        if self.tabs.is_empty() {
            return vec![Effect::say(format!(
                "no ssh tabs: {s} opens one into the focused machine"
            ))];
        }
        let n = self.tabs.len() + 1;
        let at = self.active.map_or(0, |i| i + 1);
        let next = if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        };
        self.show_tab(next.checked_sub(1));
        Vec::new()
    }

    /// A new tab of `kind`, shown with the keyboard; its position.
    pub fn add_tab(&mut self, kind: TabKind, machine: String, line: Option<String>) -> usize {
        self.next_id += 1;
        let mut tab = Tab::new(self.next_id, kind, machine, self.tab_size);
        if let Some(line) = line {
            tab.queued.push_back((line, Ready::Shell));
        }
        self.tabs.push(tab);
        self.active = Some(self.tabs.len() - 1);
        self.tab_typing = true;
        self.tabs.len() - 1
    }

    /// `x`: closes the tab shown (its session ends with it).
    pub fn close_tab(&mut self) -> Vec<Effect> {
        let Some(i) = self.active else {
            return Vec::new();
        };
        let tab = self.tabs.remove(i);
        self.active = if self.tabs.is_empty() {
            None
        } else {
            Some(i.min(self.tabs.len() - 1))
        };
        self.tab_typing = false;
        vec![Effect::CloseTab(tab.id)]
    }

    /// Drops tab `id` (a question about it was answered no).
    pub fn drop_tab(&mut self, id: u32) {
        if let Some(i) = self.tabs.iter().position(|t| t.id == id) {
            self.tabs.remove(i);
            self.hide_tabs();
        }
    }

    pub fn position(&self, id: u32) -> Option<usize> {
        self.tabs.iter().position(|t| t.id == id)
    }

    /// What tab `id`'s session did. `run_over`: the driver ended (pdb will not come back).
    pub fn on_tab(&mut self, id: u32, ev: ChildEvent, run_over: bool) -> Vec<Effect> {
        let Some(i) = self.position(id) else {
            return Vec::new();
        };
        let tab = &mut self.tabs[i];
        match ev {
            ChildEvent::Pty(bytes) => {
                tab.last_output = Some(Instant::now());
                let replies = tab.pane.emu.process(&bytes);
                let mut effects = if replies.is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::WriteTab(id, replies)]
                };
                effects.extend(self.type_queued(i, Instant::now()));
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
                if self.active == Some(i) {
                    self.tab_typing = false;
                }
                let tab = &mut self.tabs[i];
                // The backdoor is not there (yet): try again when the machine may be up.
                if code == 255
                    && !(run_over && tab.kind == TabKind::Pdb)
                    && let Some(why) = unreachable(&tab.last_error)
                        .or_else(|| unreachable(&last_lines(&tab.pane.emu.screen().contents(), 3)))
                {
                    tab.waiting = Some(format!(
                        "{} is not reachable yet, trying again: {why}",
                        tab.machine
                    ));
                    tab.retry_at = Some(Instant::now() + RETRY);
                    return Vec::new();
                }
                // sudo refused (no password on a terminal it can ask on, a wrong one, not
                // allowed): the sandbox was never reached, whatever the status says.
                if tab.kind == TabKind::Attach
                    && code != 0
                    && let Some(why) = sudo_refusal(&tab.pane.emu.screen().contents())
                {
                    tab.failed = Some(why.clone());
                    return vec![Effect::warn(format!("{}: {why}", tab.label()))];
                }
                Vec::new()
            }
        }
    }

    /// A tab whose session could not be started or written to.
    pub fn tab_failed(&mut self, id: u32, text: &str) {
        if let Some(tab) = self.tabs.iter_mut().find(|t| t.id == id) {
            tab.running = false;
            tab.last_error = text.to_string();
            tab.failed = Some(text.to_string());
        }
    }

    /// Types tab `i`'s first queued line if the session is ready for it. The line is typed
    /// as a user would, so the shell or pdb echoes it where the user sees it.
    pub fn type_queued(&mut self, i: usize, now: Instant) -> Vec<Effect> {
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        let Some(line) = tab.ready_line(now).map(str::to_string) else {
            return Vec::new();
        };
        tab.queued.pop_front();
        // What is typed next waits for the answer to this one.
        tab.last_output = Some(now);
        match tab.kind {
            TabKind::Pdb => self.pdb_send(i, &line),
            _ => vec![Effect::WriteTab(tab.id, format!("{line}\r").into_bytes())],
        }
    }

    /// Sends a line to tab `i`'s pdb, shown after its prompt as a terminal would echo it.
    pub fn pdb_send(&mut self, i: usize, line: &str) -> Vec<Effect> {
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        tab.pane.emu.scroll_to_live();
        tab.pane.emu.process(format!("{line}\r\n").as_bytes());
        vec![Effect::WriteTab(tab.id, format!("{line}\n").into_bytes())]
    }

    /// The tab that talks to pdb, if one runs.
    pub fn pdb_tab(&self) -> Option<usize> {
        self.tabs.iter().position(|t| {
            (t.running || t.waiting.is_some())
                && (t.kind == TabKind::Pdb || (t.kind == TabKind::Attach && t.machine == "pdb"))
        })
    }

    /// Tabs that wait for their machine and may try again now.
    pub fn due(&self, now: Instant) -> Vec<usize> {
        (0..self.tabs.len())
            .filter(|&i| {
                let t = &self.tabs[i];
                t.waiting.is_some() && !t.running && t.retry_at.is_none_or(|at| now >= at)
            })
            .collect()
    }

    /// What the keys of a terminal shown do: `None` for actions that are not about it.
    /// `leave` is the chord that leaves a terminal, sent to the program when it is read.
    pub fn act(
        &mut self,
        target: Target,
        typing: bool,
        action: Action,
        keymap: &Keymap,
        ctx: &Ctx<'_>,
    ) -> Option<Vec<Effect>> {
        let leave = keymap
            .key(Context::Terminal, Action::Leave)
            .and_then(|c| c.event());
        let rows = i64::from(self.pane(target)?.emu.size().1.max(2));
        match action {
            Action::Leave if typing => {
                self.set_typing(target, false);
                return Some(Vec::new());
            }
            Action::Leave => {
                // Pressed while reading: the program gets the chord, and the keyboard.
                self.set_typing(target, true);
                let bytes = leave.map(|k| keys::encode(&k, false)).unwrap_or_default();
                return Some(self.write_to(target, bytes));
            }
            Action::TypeHere => {
                if let Target::Tab(i) = target
                    && !self.tabs[i].running
                {
                    return Some(vec![Effect::say(format!(
                        "{}: {}",
                        self.tabs[i].label(),
                        self.tabs[i].state()
                    ))]);
                }
                if target == Target::Command && !self.command_running() {
                    return Some(vec![Effect::say(
                        "the driver has ended: its terminal takes no keys",
                    )]);
                }
                self.set_typing(target, true);
            }
            Action::Interrupt => {
                self.last_typed = Some(Instant::now());
                return Some(match target {
                    // Whether the driver alone gets SIGINT is for the runner, which sees
                    // the terminal's mode and foreground group.
                    Target::Command => vec![Effect::Interrupt],
                    Target::Tab(_) => self.write_to(target, vec![0x03]),
                });
            }
            Action::ScrollUp => self.scroll(target, 1),
            Action::ScrollDown => self.scroll(target, -1),
            Action::PageUp => self.scroll(target, rows - 1),
            Action::PageDown => self.scroll(target, -(rows - 1)),
            Action::HalfPageUp => self.scroll(target, rows / 2),
            Action::HalfPageDown => self.scroll(target, -(rows / 2)),
            Action::Top => self.scroll(target, i64::from(u16::MAX)),
            Action::Bottom | Action::Follow => self.scroll_to_live(target),
            Action::CloseTab if self.active.is_some() => return Some(self.close_tab()),
            Action::Reconnect => match self.active {
                Some(i) if !self.tabs[i].running => {
                    self.tab_typing = true;
                    return Some(self.connect(i, ctx));
                }
                _ => {}
            },
            Action::SyncTyping if self.active.is_some() => {
                self.sync_typing = !self.sync_typing;
                return Some(vec![Effect::say(if self.sync_typing {
                    "typing goes to every ssh tab"
                } else {
                    "typing goes to the tab shown"
                })]);
            }
            _ => return None,
        }
        Some(Vec::new())
    }

    /// Every tick: tabs that wait for their machine try again (not the one whose question
    /// is open), and queued lines are typed where the session is ready.
    pub fn poll(&mut self, asking: Option<u32>, ctx: &Ctx<'_>) -> Vec<Effect> {
        let now = Instant::now();
        let mut effects = Vec::new();
        for i in self.due(now) {
            if Some(self.tabs[i].id) != asking {
                effects.extend(self.connect(i, ctx));
            }
        }
        for i in 0..self.tabs.len() {
            effects.extend(self.type_queued(i, now));
        }
        effects
    }

    /// What quitting would end, said with `q` (the quit key), if anything runs.
    pub fn still_running(&self, q: &str) -> Option<String> {
        let running = self.command_running();
        Some(match (running, self.running_tabs()) {
            (false, 0) => return None,
            (true, 0) => {
                format!("the driver is still running: {q} again stops it (and its VMs) and quits")
            }
            (true, n) => format!(
                "the driver is still running, with {n} ssh session(s): {q} again stops them \
                 all and quits"
            ),
            (false, n) => format!("{n} ssh session(s) open: {q} again ends them and quits"),
        })
    }

    pub fn running_tabs(&self) -> usize {
        self.tabs.iter().filter(|t| t.running).count()
    }
}

/// Why the proxy (or the pdb client) could not reach the machine, from what it wrote.
fn unreachable(text: &str) -> Option<String> {
    text.lines().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("vmscope proxy: ")
            .or_else(|| l.strip_prefix("vmscope pdb: "))
            .map(str::to_string)
    })
}

/// The last `n` lines of `text` that are not blank.
fn last_lines(text: &str, n: usize) -> String {
    let mut lines: Vec<&str> = text
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect();
    lines.reverse();
    lines.join("\n")
}

/// What sudo said when it refused, from a tab's screen.
fn sudo_refusal(screen: &str) -> Option<String> {
    screen
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            l.starts_with("sudo: ")
                || l.starts_with("Sorry, user ")
                || l.contains("is not in the sudoers file")
        })
        .map(|l| format!("sudo refused: {l}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_refusals_are_read_from_the_screen() {
        assert_eq!(
            sudo_refusal("$ sudo /nix/store/x/attach 12\nsudo: a password is required\n"),
            Some("sudo refused: sudo: a password is required".into())
        );
        assert_eq!(
            sudo_refusal("Sorry, user alice may not run sudo on builder.\n").as_deref(),
            Some("sudo refused: Sorry, user alice may not run sudo on builder.")
        );
        assert_eq!(sudo_refusal("[root@sandbox:/build]# exit\n"), None);
    }
}
