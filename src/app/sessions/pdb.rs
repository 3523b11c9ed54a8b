//! The line editor of a pdb console tab: pdb over TCP has no terminal of its own, so the
//! line is edited here (tui-input) and sent whole, with a history like readline's.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// Lines kept in a console's history.
const HISTORY: usize = 500;

#[derive(Debug, Default, Clone)]
pub struct PdbConsole {
    pub input: Input,
    pub history: Vec<String>,
    /// Where ↑/↓ are in the history (`None`: the line being written).
    at: Option<usize>,
    /// The line being written, kept while the history is browsed.
    draft: String,
}

impl PdbConsole {
    /// A key; returns the line to send when it is Enter.
    pub fn key(&mut self, key: &KeyEvent) -> Option<String> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => {
                let line = self.input.value().to_string();
                self.input.reset();
                self.at = None;
                self.draft.clear();
                // Like readline: an empty line or a repeat is not added.
                if !line.trim().is_empty() && self.history.last() != Some(&line) {
                    if self.history.len() >= HISTORY {
                        self.history.remove(0);
                    }
                    self.history.push(line.clone());
                }
                return Some(line);
            }
            KeyCode::Up => self.browse(true),
            KeyCode::Char('p') if ctrl => self.browse(true),
            KeyCode::Down => self.browse(false),
            KeyCode::Char('n') if ctrl => self.browse(false),
            KeyCode::Char('c') if ctrl => {
                // pdb cannot be interrupted over a socket: Ctrl-C drops the line.
                self.input.reset();
                self.at = None;
            }
            _ => {
                self.input.handle_event(&Event::Key(*key));
            }
        }
        None
    }

    fn browse(&mut self, older: bool) {
        if self.history.is_empty() {
            return;
        }
        let next = match (self.at, older) {
            (None, true) => {
                self.draft = self.input.value().to_string();
                Some(self.history.len() - 1)
            }
            (None, false) => None,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i + 1 < self.history.len() => Some(i + 1),
            (Some(_), false) => None,
        };
        self.at = next;
        let text = match next {
            Some(i) => self.history[i].clone(),
            None => self.draft.clone(),
        };
        self.input = Input::new(text);
    }

    /// Pasted text goes into the line; a newline sends what came before it.
    pub fn paste(&mut self, text: &str) -> Vec<String> {
        let mut sent = Vec::new();
        let mut parts = text.split('\n').peekable();
        while let Some(part) = parts.next() {
            let part = part.trim_end_matches('\r');
            let value = format!("{}{part}", self.input.value());
            self.input = Input::new(value);
            if parts.peek().is_some() {
                let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
                sent.extend(self.key(&enter));
            }
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: &mut PdbConsole, code: KeyCode) -> Option<String> {
        c.key(&KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typed(c: &mut PdbConsole, s: &str) -> Option<String> {
        for ch in s.chars() {
            press(c, KeyCode::Char(ch));
        }
        press(c, KeyCode::Enter)
    }

    #[test]
    fn lines_are_edited_and_remembered() {
        let mut c = PdbConsole::default();
        assert_eq!(typed(&mut c, "p x"), Some("p x".into()));
        assert_eq!(typed(&mut c, "where"), Some("where".into()));
        assert_eq!(typed(&mut c, ""), Some(String::new()));
        assert_eq!(c.history, ["p x", "where"]);
        // ↑ ↑ gives the older line, edited before it is sent.
        press(&mut c, KeyCode::Up);
        press(&mut c, KeyCode::Up);
        assert_eq!(c.input.value(), "p x");
        press(&mut c, KeyCode::Backspace);
        press(&mut c, KeyCode::Char('y'));
        assert_eq!(press(&mut c, KeyCode::Enter), Some("p y".into()));
        // ↓ past the newest returns the draft.
        typed(&mut c, "");
        for ch in "ll".chars() {
            press(&mut c, KeyCode::Char(ch));
        }
        press(&mut c, KeyCode::Up);
        assert_eq!(c.input.value(), "p y");
        press(&mut c, KeyCode::Down);
        assert_eq!(c.input.value(), "ll");
    }

    #[test]
    fn a_paste_sends_each_full_line() {
        let mut c = PdbConsole::default();
        assert_eq!(c.paste("p 1\r\np 2\np"), vec!["p 1", "p 2"]);
        assert_eq!(c.input.value(), "p");
    }
}
