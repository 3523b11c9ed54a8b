//! What is drawn over the panes: the help, a prompt (search, filter, save, the command
//! palette), a question about a command, and the bottom bar's message.

use crossterm::event::{Event, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::action::Action;
use super::effect::{Confirm, Effect, Message, Prompting};
use super::palette::{self, Run};
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

#[derive(Debug, Default)]
pub struct Overlay {
    pub help: Option<Help>,
    pub prompt: Option<Prompt>,
    pub confirm: Option<Confirm>,
    pub message: Option<Message>,
}

impl Overlay {
    /// Takes the effects that are for the screen (messages, questions, prompts) and
    /// returns the others.
    pub fn take(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        effects
            .into_iter()
            .filter_map(|e| match e {
                Effect::Say(m) => {
                    self.message = Some(m);
                    None
                }
                Effect::Ask(c) => {
                    self.confirm = Some(c);
                    None
                }
                Effect::Prompt(kind, value) => {
                    self.open_for(kind, value);
                    None
                }
                e => Some(e),
            })
            .collect()
    }

    /// Nothing is over the panes (a message aside).
    pub fn is_empty(&self) -> bool {
        self.help.is_none() && self.prompt.is_none() && self.confirm.is_none()
    }

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

    /// The prompt a part asked for, holding `value`.
    pub fn open_for(&mut self, kind: Prompting, value: String) {
        let kind = match kind {
            Prompting::Search => PromptKind::Search,
            Prompting::Filter => PromptKind::Filter,
            Prompting::Save => PromptKind::Save,
            Prompting::Palette => PromptKind::Palette,
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

    /// Text pasted into the prompt's line, without its control characters (nothing to do
    /// for the runner).
    pub fn paste(&mut self, text: &str) -> Vec<Effect> {
        if let Some(p) = &mut self.prompt {
            let value = format!(
                "{}{}",
                p.input.value(),
                text.chars().filter(|c| !c.is_control()).collect::<String>()
            );
            p.input = std::mem::take(&mut p.input).with_value(value);
        }
        Vec::new()
    }

    /// What the overlay's keys do: `None` for actions of other parts; else the command a
    /// submitted line runs (`entries`: the palette's), or why it cannot.
    pub fn act(
        &mut self,
        action: Action,
        entries: &[palette::Entry],
    ) -> Option<Result<Option<Run>, String>> {
        let palette_len =
            (self.prompt.as_ref()).map_or(0, |p| palette::matches(entries, p.input.value()).len());
        if self.prompt.is_some() {
            if let Action::EditPrompt(key) = action {
                self.edit(&key);
                return Some(Ok(None));
            }
            let prompt = self.prompt.as_mut()?;
            match action {
                Action::Submit => {
                    let p = self.prompt.take()?;
                    let value = p.input.value().to_string();
                    return Some(Ok(Some(match p.kind {
                        PromptKind::Search => Run::Search(value),
                        PromptKind::Filter => Run::Filter(value),
                        PromptKind::Save => Run::Save(Some(value.trim().to_string())),
                        PromptKind::Palette => {
                            return Some(palette::pick(entries, &value, p.selected).map(Some));
                        }
                        PromptKind::HelpSearch => {
                            if let Some(h) = &mut self.help {
                                h.filter = Matcher::new(&value);
                            }
                            return Some(Ok(None));
                        }
                    })));
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
            return Some(Ok(None));
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
                Action::Palette => self.open_prompt(PromptKind::Palette, String::new()),
                _ => return None,
            }
            return Some(Ok(None));
        }
        match action {
            Action::Help => self.toggle_help(),
            Action::Palette => self.open_prompt(PromptKind::Palette, String::new()),
            _ => return None,
        }
        Some(Ok(None))
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
