//! What is drawn over the panes: the help, a prompt (search, filter, save, the command
//! palette), a question about a command, and the bottom bar's message.

use crossterm::event::{Event, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::action::Action;
use super::effect::{Confirm, Message};
use super::view::Matcher;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Search,
    Filter,
    Save,
    HelpSearch,
    /// The command palette (`:`).
    Palette,
}

impl PromptKind {
    /// What the prompt line starts with.
    pub fn sigil(self) -> &'static str {
        match self {
            Self::Search | Self::HelpSearch => "/",
            Self::Filter => "&",
            Self::Save => "save to: ",
            Self::Palette => ":",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: Input,
    /// The palette's highlighted entry.
    pub selected: usize,
}

impl Prompt {
    pub fn new(kind: PromptKind, value: String) -> Self {
        Self {
            kind,
            input: Input::new(value),
            selected: 0,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Help {
    pub scroll: usize,
    pub filter: Option<Matcher>,
}

/// What an overlay key did.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    Nothing,
    /// A prompt's line was submitted: its kind, its text, the palette's selected entry.
    Submit(PromptKind, String, usize),
}

#[derive(Debug, Default)]
pub struct Overlay {
    pub help: Option<Help>,
    pub prompt: Option<Prompt>,
    pub confirm: Option<Confirm>,
    pub message: Option<Message>,
}

impl Overlay {
    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message::info(text));
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.message = Some(Message::error(text));
    }

    pub fn toggle_help(&mut self) {
        self.help = match self.help {
            Some(_) => None,
            None => Some(Help::default()),
        }
    }

    pub fn help_scroll(&mut self, n: i64) {
        if let Some(h) = &mut self.help {
            h.scroll = (h.scroll as i64 + n).max(0) as usize;
        }
    }

    pub fn open_prompt(&mut self, kind: PromptKind, value: String) {
        self.prompt = Some(Prompt::new(kind, value));
    }

    /// Mouse reporting turned `on` or off, said with the key (`key`) that turns it back.
    pub fn mouse(on: bool, key: &str) -> Vec<super::effect::Effect> {
        use super::effect::Effect;
        let text = if on {
            "mouse on: clicks and the wheel go to vmscope".to_string()
        } else {
            format!("mouse off: the terminal selects text ({key} turns it back on)")
        };
        vec![Effect::Mouse(on), Effect::say(text)]
    }

    /// The prompt `action` opens (search, filter, save, the palette), holding `value`.
    pub fn open_for(&mut self, action: Action, value: String) {
        let kind = match action {
            Action::Filter => PromptKind::Filter,
            Action::Save => PromptKind::Save,
            Action::Palette => PromptKind::Palette,
            _ => PromptKind::Search,
        };
        self.open_prompt(kind, value);
    }

    /// A key edits the prompt's line; the help's search filters as it is typed.
    pub fn edit(&mut self, key: &KeyEvent) {
        let Some(prompt) = &mut self.prompt else {
            return;
        };
        prompt.input.handle_event(&Event::Key(*key));
        prompt.selected = 0;
        if prompt.kind == PromptKind::HelpSearch
            && let Some(h) = &mut self.help
        {
            h.filter = Matcher::new(prompt.input.value());
            h.scroll = 0;
        }
    }

    /// Text pasted into the prompt's line, without its control characters.
    pub fn paste(&mut self, text: &str) {
        if let Some(p) = &mut self.prompt {
            let value = format!(
                "{}{}",
                p.input.value(),
                text.chars().filter(|c| !c.is_control()).collect::<String>()
            );
            p.input = std::mem::take(&mut p.input).with_value(value);
        }
    }

    /// What the overlay's keys do; `None` for actions of other parts.
    pub fn act(&mut self, action: Action, palette_len: usize) -> Option<Done> {
        if self.prompt.is_some() {
            let prompt = self.prompt.as_mut()?;
            match action {
                Action::Submit => {
                    let p = self.prompt.take()?;
                    return Some(Done::Submit(
                        p.kind,
                        p.input.value().to_string(),
                        p.selected,
                    ));
                }
                Action::Cancel | Action::Close => self.prompt = None,
                Action::SelectNext => {
                    prompt.selected = (prompt.selected + 1) % palette_len.max(1);
                }
                Action::SelectPrev => {
                    let n = palette_len.max(1);
                    prompt.selected = (prompt.selected + n - 1) % n;
                }
                _ => return None,
            }
            return Some(Done::Nothing);
        }
        if self.help.is_some() {
            let page = 10;
            match action {
                Action::Help => self.help = None,
                Action::Close => {
                    self.back_out();
                }
                Action::ScrollUp => self.help_scroll(-1),
                Action::ScrollDown => self.help_scroll(1),
                Action::PageUp | Action::HalfPageUp => self.help_scroll(-page),
                Action::PageDown | Action::HalfPageDown => self.help_scroll(page),
                Action::Search => self.open_prompt(PromptKind::HelpSearch, String::new()),
                _ => return None,
            }
            return Some(Done::Nothing);
        }
        match action {
            Action::Help => self.toggle_help(),
            _ => return None,
        }
        Some(Done::Nothing)
    }

    /// Esc backs out of one thing at a time: the help's search, the help. Returns whether
    /// it closed something.
    pub fn back_out(&mut self) -> bool {
        if let Some(h) = &mut self.help {
            if h.filter.is_some() {
                h.filter = None;
            } else {
                self.help = None;
            }
            return true;
        }
        if self.message.is_some() {
            self.message = None;
            return true;
        }
        false
    }
}
