//! Every terminal vmscope shows: the driver's command pane and the tabs (ssh, the sandbox's
//! shell, pdb). This part owns their emulators, who has the keyboard among them, the keys'
//! encoding and what their processes reported; it asks the runner for I/O with effects.

pub mod as_root;
pub mod connect;
pub mod driver;
pub mod emulator;
pub mod keys;
pub mod pdb;
pub mod procs;
pub mod tab;
mod tabs;
pub mod terminal;

use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;

use super::action::Action;
use super::effect::Effect;
use super::keymap::{Context, Keymap};
use connect::Ctx;
pub use tab::{Ready, Tab, TabKind};
pub use terminal::TermPane;

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
    /// When the user last pressed any key.
    pub last_key: Option<Instant>,
    /// The driver's REPL prompt was seen (once is enough to take the keyboard).
    prompt_seen: bool,
    /// The command pane asks for the focus (its REPL's first prompt came up).
    take_focus: bool,
    /// The cursor of the driver's terminal is at a REPL prompt.
    at_prompt: bool,
    /// The REPL prompt came back since this was last read: a statement ended.
    prompt_back: bool,
    /// The offer to start the driver again as root, for containers.
    pub as_root: as_root::AsRoot,
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

    /// Whether the REPL prompt came back since the last call.
    pub fn take_prompt_back(&mut self) -> bool {
        std::mem::take(&mut self.prompt_back)
    }

    /// Where the focus goes: to the command pane once its REPL asked for it.
    pub fn wants_focus(&mut self, focus: super::view::Pane) -> super::view::Pane {
        if std::mem::take(&mut self.take_focus) {
            super::view::Pane::Command
        } else {
            focus
        }
    }

    /// The user pressed no key for `pause` and no tab is shown.
    pub fn idle(&self, pause: Duration) -> bool {
        self.active.is_none() && self.last_key.is_none_or(|t| t.elapsed() >= pause)
    }

    /// Whether the driver's REPL waits at its prompt: `None` without a driver's terminal.
    pub fn repl_ready(&self) -> Option<bool> {
        self.command_running().then_some(self.at_prompt)
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

    /// What the driver's terminal printed; its answers to queries go back to it. The
    /// first REPL prompt (`>>> `, `In [1]: `) takes the keyboard when the user is `idle`.
    pub fn command_output(&mut self, bytes: &[u8], idle: bool) -> Vec<Effect> {
        let Some(cmd) = &mut self.command else {
            return Vec::new();
        };
        let replies = cmd.emu.process(bytes);
        let at_prompt = cmd.running() && is_repl_prompt(&cmd.emu.before_cursor());
        self.prompt_back |= at_prompt && !self.at_prompt && self.prompt_seen;
        self.at_prompt = at_prompt;
        if !self.prompt_seen && at_prompt {
            self.prompt_seen = true;
            if idle && self.active.is_none() {
                self.command_typing = true;
                self.take_focus = true;
            }
        }
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

    /// Whether a tab waits for something a later look may bring: an address, a machine
    /// that is not up yet, pdb's prompt, a quiet shell for a queued line.
    pub fn pending(&self) -> bool {
        self.as_root.watching
            || self
                .tabs
                .iter()
                .any(|t| t.waiting.is_some() || (t.running && !t.queued.is_empty()))
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
}

/// Whether the text before the cursor is a Python REPL's prompt: `>>> `, or IPython's
/// `In [N]: `.
fn is_repl_prompt(before: &str) -> bool {
    let at = before.trim_end();
    if at.ends_with(">>>") {
        return true;
    }
    let Some(rest) = at.strip_suffix("]:") else {
        return false;
    };
    rest.rsplit_once("In [")
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repl_prompts_are_known() {
        assert!(is_repl_prompt(">>> "));
        assert!(is_repl_prompt("In [1]: "));
        assert!(is_repl_prompt("In [12]:"));
        assert!(!is_repl_prompt("In []: "));
        assert!(!is_repl_prompt("$ "));
        assert!(!is_repl_prompt("type something:"));
    }
}
