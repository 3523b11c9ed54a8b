//! A live run's command pane: the driver's terminal, keys sent to it, its output read into
//! the emulator, its stderr into the parser, and how it ended.

use crossterm::event::{KeyCode, KeyEvent};

use super::child::ChildEvent;
use super::keymap::Chord;
use super::keys;
use super::state::{App, Effect, Message};
use super::tabs::TabKind;
use super::terminal::Emulator;
use super::view::Pane;
use crate::vm::model::TriggerKind;
use crate::vm::source::SourceEvent;

/// The chord that leaves a terminal pane, unless the configuration names another.
pub const DEFAULT_LEAVE: &str = "ctrl-]";

pub struct CommandPane {
    pub emu: Emulator,
    /// What runs there, for the title.
    pub title: String,
    /// Its exit status once it ended.
    pub exit: Option<i32>,
}

impl CommandPane {
    pub fn new(title: String, cols: u16, rows: u16) -> Self {
        Self {
            emu: Emulator::new(cols, rows),
            title,
            exit: None,
        }
    }
}

impl App {
    /// Milliseconds since the start, for line times.
    pub fn now_ms(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_millis()).unwrap_or(u32::MAX - 2)
    }

    pub fn on_child(&mut self, ev: ChildEvent) -> Vec<Effect> {
        self.dirty = true;
        match ev {
            ChildEvent::Pty(bytes) => {
                self.parser.feed_terminal(&bytes);
                let Some(cmd) = &mut self.command else {
                    return Vec::new();
                };
                let replies = cmd.emu.process(&bytes);
                if replies.is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::WritePty(replies)]
                }
            }
            ChildEvent::Stderr(bytes) => {
                let t = self.now_ms();
                self.ingest(SourceEvent::Data(bytes, t));
                Vec::new()
            }
            ChildEvent::Exited(code) => {
                if let Some(cmd) = &mut self.command {
                    cmd.exit = Some(code);
                }
                if code != 0 {
                    let line = self.parser.run.lines.saturating_sub(1);
                    let ms = self.now_ms();
                    let i = self.test.min(self.parser.run.tests.len() - 1);
                    self.parser.run.tests[i].freeze_now(TriggerKind::Exit, line, Some(ms));
                }
                self.exit_code = Some(code);
                self.parser.set_exit_code(code);
                self.ingest(SourceEvent::End);
                self.term_input = false;
                self.message = Some(Message {
                    text: format!(
                        "the driver exited with status {code}: {} (q quits)",
                        self.run().outcome().label()
                    ),
                    error: code != 0,
                });
                Vec::new()
            }
        }
    }

    /// Whether keys go to the terminal pane now.
    pub fn typing(&self) -> bool {
        if let Some(tab) = self.active() {
            return self.tab_input && tab.running;
        }
        self.focus == Pane::Command
            && self.term_input
            && self.command.as_ref().is_some_and(|c| c.exit.is_none())
    }

    /// A key while the terminal pane has the keyboard: everything goes to the program but
    /// the chord that leaves.
    pub fn terminal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.last_typed = Some(std::time::Instant::now());
        if Chord::from_event(&key) == Some(self.leave) {
            self.dirty = true;
            self.urgent = true;
            if self.active_tab.is_some() {
                self.tab_input = false;
            } else {
                self.term_input = false;
            }
            self.message = Some(Message {
                text: format!(
                    "navigation: {} again sends it to the terminal, Enter returns to it",
                    self.leave
                ),
                error: false,
            });
            return Vec::new();
        }
        if self.active().is_some_and(|t| t.kind == TabKind::Pdb) {
            return self.pdb_key(&key);
        }
        if let Some(tab) = self.active() {
            let bytes = keys::encode(&key, tab.pane.emu.screen().application_cursor());
            return if bytes.is_empty() {
                Vec::new()
            } else {
                self.type_into_tabs(bytes)
            };
        }
        let app_cursor = self
            .command
            .as_ref()
            .is_some_and(|c| c.emu.screen().application_cursor());
        if let Some(cmd) = &mut self.command {
            cmd.emu.scroll_to_live();
        }
        let bytes = keys::encode(&key, app_cursor);
        if bytes.is_empty() {
            Vec::new()
        } else {
            vec![Effect::WritePty(bytes)]
        }
    }

    /// Keys of the command pane in navigation: Enter (or `i`) types again, the leave chord
    /// goes through to the program.
    pub fn command_nav_key(&mut self, key: &KeyEvent) -> Option<Vec<Effect>> {
        if self.focus != Pane::Command || self.command.as_ref().is_none_or(|c| c.exit.is_some()) {
            return None;
        }
        if Chord::from_event(key) == Some(self.leave) {
            self.term_input = true;
            return Some(vec![Effect::WritePty(keys::encode(key, false))]);
        }
        if matches!(key.code, KeyCode::Enter | KeyCode::Char('i')) && key.modifiers.is_empty() {
            self.term_input = true;
            self.message = None;
            return Some(Vec::new());
        }
        None
    }

    /// A paste from the outer terminal.
    pub fn on_paste(&mut self, text: &str) -> Vec<Effect> {
        self.dirty = true;
        // A paste is no answer to a question.
        if self.confirm.is_some() {
            return Vec::new();
        }
        if self.typing() && self.active().is_some_and(|t| t.kind == TabKind::Pdb) {
            return self.pdb_paste(text);
        }
        if self.typing()
            && let Some(tab) = self.active()
        {
            let bytes = keys::paste(text, tab.pane.emu.screen().bracketed_paste());
            return self.type_into_tabs(bytes);
        }
        if self.typing() {
            let bracketed = self
                .command
                .as_ref()
                .is_some_and(|c| c.emu.screen().bracketed_paste());
            return vec![Effect::WritePty(keys::paste(text, bracketed))];
        }
        if let Some(p) = &mut self.prompt {
            for c in text.chars().filter(|c| !c.is_control()) {
                p.input =
                    std::mem::take(&mut p.input).with_value(format!("{}{c}", p.input.value()));
            }
        }
        Vec::new()
    }

    /// Scrolls the terminal's history (navigation mode).
    pub fn scroll_command(&mut self, rows: i64) {
        if let Some(cmd) = &mut self.command {
            cmd.emu.scroll_by(-rows);
        }
    }
}
