//! A pane's text: its lines as plain text, the line under the cursor, what `y` copies,
//! where `S` saves, and the commands of the palette and prompts on them.

use std::path::PathBuf;

use std::fmt::Write as _;

use super::{LogViews, Shown, origin_name};
use crate::app::action::Action;
use crate::app::effect::Effect;
use crate::app::palette::Run;
use crate::app::view::Pane;
use crate::vm::model::{Test, line_kind};
use crate::vm::store::Stamp;

/// The width of the merged view's pane tags: the longest machine name, `driver` at least.
pub fn tag_width(t: &Test) -> usize {
    t.machines
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 16)
}

impl LogViews {
    /// Plain text of everything a pane holds (the merged view's lines tagged with their
    /// pane, as shown).
    pub fn text(&self, s: &Shown<'_>, pane: Pane) -> String {
        let lines = self.lines(s, pane);
        let width = tag_width(s.test);
        let mut out = String::new();
        for (seq, l) in lines.store.iter() {
            if lines.only.is_some() && !lines.visible(seq, &l) {
                continue;
            }
            if let Some(o) = lines.store.origin(seq) {
                let _ = write!(out, "{:<width$} │ ", origin_name(s.test, o));
            } else if lines.driver && l.kind == line_kind::STEP_END {
                continue;
            }
            out.push_str(&l.plain());
            out.push('\n');
        }
        out
    }

    /// `:export`: the marks, then every line held in input order, marked lines flagged.
    pub fn export_text(&self, s: &Shown<'_>) -> String {
        let t = s.test;
        let width = tag_width(t);
        let mut out = String::new();
        let name = t.name.as_deref().unwrap_or("(unnamed test)");
        let _ = writeln!(out, "# vmscope export: {name}");
        let marks: Vec<_> = self.marks.iter().filter(|m| m.test == self.test).collect();
        let _ = writeln!(out, "\n## marks ({})\n", marks.len());
        let saved = self.saved_marks(std::slice::from_ref(t));
        for (i, m) in marks.iter().enumerate() {
            let text = saved
                .iter()
                .find(|x| x.pane == origin_name(t, m.origin) && x.line == m.at / Stamp::PARTS)
                .map_or("", |x| x.text.as_str());
            let _ = writeln!(
                out,
                "{:>3}. {:<width$} line {:>6}  {text}",
                i + 1,
                origin_name(t, m.origin),
                m.at / Stamp::PARTS
            );
        }
        let _ = writeln!(out, "\n## every line held, in input order (» marked)\n");
        let lines = crate::app::view::PaneLines::new(t, Pane::All, self.collapsed(), None);
        for (seq, l) in lines.store.iter() {
            let Some(o) = lines.store.origin(seq) else {
                continue;
            };
            let mark = if self.is_marked(o, l.at) { "»" } else { " " };
            let _ = writeln!(
                out,
                "{mark} {:>6} {:<width$} │ {}",
                l.input_line(),
                origin_name(t, o),
                l.plain()
            );
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
            Pane::All => "all".to_string(),
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
            Run::JumpTo(origin, at) => {
                self.go_to(s, origin, at);
                Vec::new()
            }
            Run::Only(names) => self.only(s.test, &names),
            Run::Unit(unit) => {
                let v = self.view_mut(self.focus);
                v.filter = crate::app::view::Matcher::unit(&unit);
                v.anchor = None;
                v.cursor = None;
                let said = match &v.filter {
                    Some(_) => format!("only the unit {}'s journal entries", unit.trim()),
                    None => "every journal entry".to_string(),
                };
                vec![Effect::say(said)]
            }
            Run::Export(p) => {
                let path = p.filter(|p| !p.trim().is_empty()).unwrap_or_else(|| {
                    self.save_path(s.test).trim_end_matches(".log").to_string() + "-export.txt"
                });
                vec![Effect::Save {
                    path: PathBuf::from(path.trim()),
                    text: self.export_text(s),
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
