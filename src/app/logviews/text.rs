//! A pane's text: its lines as plain text, the line under the cursor, what `y` copies,
//! where `S` saves, and the commands of the palette and prompts on them.

use std::path::PathBuf;

use super::{LogViews, Shown};
use crate::app::action::Action;
use crate::app::effect::Effect;
use crate::app::palette::Run;
use crate::app::view::Pane;
use crate::vm::model::{Test, line_kind};

impl LogViews {
    /// Plain text of everything a pane holds.
    pub fn text(&self, s: &Shown<'_>, pane: Pane) -> String {
        let lines = self.lines(s, pane);
        let mut out = String::new();
        for (_, l) in lines.store.iter() {
            if !lines.driver || l.kind != line_kind::STEP_END {
                out.push_str(&l.plain());
                out.push('\n');
            }
        }
        out
    }

    /// The line under the cursor (or at the bottom of the view) of `pane`.
    pub fn current_line(&self, s: &Shown<'_>, pane: Pane) -> Option<String> {
        let lines = self.lines(s, pane);
        let view = self.view(pane);
        let seq = view.cursor.or(view.anchor).or_else(|| lines.last())?;
        lines.get(seq).map(|l| l.plain().to_string())
    }

    /// Where `S` saves the focused pane: a file named after the test and the pane, under
    /// the user's state directory (not the working directory, where a test's sources are).
    pub fn save_path(&self, t: &Test) -> String {
        let test = t.name.clone().unwrap_or_else(|| "vmscope".to_string());
        let pane = match self.focus {
            Pane::Driver => "driver".to_string(),
            Pane::Command => "command".to_string(),
            Pane::Machine(m) => t
                .machines
                .get(m)
                .map_or("machine".to_string(), |x| x.name.clone()),
        };
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!(
            "{}-{}-{secs}.log",
            crate::vm::export::file_stem(&test),
            crate::vm::export::file_stem(&pane)
        );
        match crate::vm::recording::saved_dir() {
            Some(dir) => dir.join(name).display().to_string(),
            None => name,
        }
    }

    /// A command on the focused pane's lines (`Run::Action` is not one: `None`).
    /// `terminal`: the driver's terminal's screen when it is the focused pane.
    pub fn command(&mut self, s: &Shown<'_>, run: Run, terminal: Option<String>) -> Vec<Effect> {
        let focus = self.focus;
        match run {
            Run::Action(_) => Vec::new(),
            Run::Filter(f) => {
                self.set_filter(&f);
                Vec::new()
            }
            Run::Search(p) => self.search(s, &p),
            Run::Goto(to) => self.goto(s, &to),
            Run::Copy(all) => Self::clipboard(terminal.or_else(|| self.copy(s, focus, all))),
            Run::Save(p) => {
                let path = p
                    .filter(|p| !p.trim().is_empty())
                    .unwrap_or_else(|| self.save_path(s.test));
                let text = terminal.unwrap_or_else(|| self.text(s, focus));
                vec![Effect::Save {
                    path: PathBuf::from(path.trim()),
                    text,
                }]
            }
        }
    }

    /// What the prompt of `action` starts with: the filter in place, the save path.
    pub fn prompt_value(&self, action: Action, t: &Test) -> String {
        match action {
            Action::Filter => self
                .view(self.focus)
                .filter
                .map(|f| f.pattern)
                .unwrap_or_default(),
            Action::Save => self.save_path(t),
            _ => String::new(),
        }
    }

    /// What `y` copies: the line under the cursor, or with `all` the whole pane.
    pub fn copy(&self, s: &Shown<'_>, pane: Pane, all: bool) -> Option<String> {
        if all {
            Some(self.text(s, pane))
        } else {
            self.current_line(s, pane)
        }
    }

    /// The effects of copying `text` (OSC 52), said.
    pub fn clipboard(text: Option<String>) -> Vec<Effect> {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return vec![Effect::say("nothing to copy here")];
        };
        let n = text.lines().count();
        let what = if n > 1 {
            format!("{n} lines")
        } else {
            "the line".into()
        };
        vec![
            Effect::Clipboard(text),
            Effect::say(format!(
                "copied {what} to the clipboard (OSC 52: where the terminal allows it)"
            )),
        ]
    }
}
