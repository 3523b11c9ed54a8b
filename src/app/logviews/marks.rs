//! Marks: lines the user set apart (`m`), shown in the gutter and on the timeline, visited
//! in turn (`'`) or picked from a list. A mark names its pane and its point of the run's
//! axis, which a recording read again gives the same: marks are kept with the recording.

use serde::{Deserialize, Serialize};

use super::{LogViews, Shown, origin_name, origin_of};
use crate::app::effect::{Effect, Message};
use crate::app::view::{Pane, store_of};
use crate::vm::model::{Origin, Test};
use crate::vm::store::Stamp;

/// Marks a run keeps at most.
pub const MAX_MARKS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub test: usize,
    pub origin: Origin,
    pub at: u64,
}

/// A mark as `marks.json` keeps it: the pane by name, so the file reads on its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedMark {
    pub test: usize,
    /// `driver`, or a machine's name.
    pub pane: String,
    /// The input line (1-based) and the part of it.
    pub line: u64,
    pub part: u64,
    /// The line's text when it was marked, for reading the file (not used to find it).
    #[serde(default)]
    pub text: String,
}

impl LogViews {
    /// `m`: marks the line the focused pane points at, or unmarks it.
    pub fn toggle_mark(&mut self, s: &Shown<'_>) -> Vec<Effect> {
        let pane = match self.focus {
            Pane::Command => return vec![Effect::say("marks are set on log lines")],
            p => p,
        };
        let lines = self.lines(s, pane);
        let Some(seq) = self.pointed(s, pane) else {
            return vec![Effect::say("no line here to mark")];
        };
        let (Some(line), Some(origin)) = (lines.get(seq), origin_of(&lines, pane, seq)) else {
            return vec![Effect::say("no line here to mark")];
        };
        let mark = Mark {
            test: self.test,
            origin,
            at: line.at,
        };
        if let Some(i) = self.marks.iter().position(|m| *m == mark) {
            self.marks.remove(i);
            return vec![Effect::say("mark removed"), Effect::KeepMarks];
        }
        if self.marks.len() >= MAX_MARKS {
            return vec![Effect::warn(format!("{MAX_MARKS} marks at most"))];
        }
        let i = self
            .marks
            .partition_point(|m| (m.test, m.at) <= (mark.test, mark.at));
        self.marks.insert(i, mark);
        let n = self.marks.len();
        vec![
            Effect::say(format!(
                "marked ({n} mark{})",
                if n == 1 { "" } else { "s" }
            )),
            Effect::KeepMarks,
        ]
    }

    /// `'`: the next mark after the current point (after the last, the first).
    pub fn next_mark(&mut self, s: &Shown<'_>) -> Vec<Effect> {
        let here = self
            .moment
            .or_else(|| self.position(s, self.focus))
            .unwrap_or(0);
        let test = self.test;
        let ours: Vec<Mark> = self
            .marks
            .iter()
            .filter(|m| m.test == test)
            .copied()
            .collect();
        let Some(m) = ours
            .iter()
            .find(|m| m.at > here)
            .or_else(|| ours.first())
            .copied()
        else {
            return vec![Effect::say("no marks yet: m marks a line")];
        };
        self.go_to(s, m.origin, m.at);
        let i = ours.iter().position(|x| *x == m).map_or(0, |i| i + 1);
        vec![Effect::say(format!("mark {i} of {}", ours.len()))]
    }

    /// Whether line `at` of `origin` is marked.
    pub fn is_marked(&self, origin: Origin, at: u64) -> bool {
        self.marks
            .iter()
            .any(|m| m.test == self.test && m.origin == origin && m.at == at)
    }

    /// The marks as saved, with their lines' text where memory still holds them.
    pub fn saved_marks(&self, run: &[Test]) -> Vec<SavedMark> {
        self.marks
            .iter()
            .filter_map(|m| {
                let t = run.get(m.test)?;
                let stamp = Stamp { at: m.at, ms: 0 };
                let text = store_of(t, m.origin)
                    .and_then(|st| {
                        let seq = st.end_at(m.at).checked_sub(1)?;
                        st.get(seq).filter(|l| l.at == m.at)
                    })
                    .map(|l| l.plain().into_owned())
                    .unwrap_or_default();
                Some(SavedMark {
                    test: m.test,
                    pane: origin_name(t, m.origin).to_string(),
                    line: stamp.input_line(),
                    part: m.at % Stamp::PARTS,
                    text,
                })
            })
            .collect()
    }

    /// The marks as `marks.json` in `dir` (the recording's directory).
    pub fn marks_file(&self, run: &[Test], dir: &std::path::Path) -> Option<Effect> {
        let text = serde_json::to_string_pretty(&self.saved_marks(run)).ok()?;
        Some(Effect::WriteQuietly {
            path: dir.join(crate::vm::recording::MARKS_FILE),
            text,
        })
    }

    /// Marks kept in `dir`'s `marks.json`, taken back; what is said of them (`next` names
    /// the key to the next mark).
    pub fn restore_from(
        &mut self,
        run: &[Test],
        dir: &std::path::Path,
        next: &str,
    ) -> Option<Message> {
        let text = std::fs::read_to_string(dir.join(crate::vm::recording::MARKS_FILE)).ok()?;
        match serde_json::from_str::<Vec<SavedMark>>(&text) {
            Ok(saved) => {
                let n = self.restore_marks(run, &saved);
                (n > 0).then(|| {
                    Message::info(format!(
                        "{n} mark{} kept with the recording ({next} goes to the next)",
                        if n == 1 { "" } else { "s" }
                    ))
                })
            }
            Err(e) => Some(Message::error(format!("marks.json of the recording: {e}"))),
        }
    }

    /// Takes marks read back from a recording; those naming no pane of the run are left.
    pub fn restore_marks(&mut self, run: &[Test], saved: &[SavedMark]) -> usize {
        for sm in saved {
            let Some(t) = run.get(sm.test) else {
                continue;
            };
            let origin = if sm.pane == "driver" {
                Origin::Driver
            } else if let Some(m) = t.machine(&sm.pane) {
                Origin::Machine(m)
            } else {
                continue;
            };
            let mark = Mark {
                test: sm.test,
                origin,
                at: Stamp::line_start(sm.line) + sm.part.min(Stamp::PARTS - 1),
            };
            if !self.marks.contains(&mark) && self.marks.len() < MAX_MARKS {
                self.marks.push(mark);
            }
        }
        self.marks.sort_by_key(|m| (m.test, m.at));
        self.marks.len()
    }
}
