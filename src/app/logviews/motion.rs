//! Moving through a pane: scrolling, the first line, a line brought to the middle, the
//! search's matches (with their wrap said), and `goto`.

use std::collections::HashSet;

use super::{LogViews, Shown, top_rows};

/// The bottom line of a view of `h` rows with `seq` in its middle: near the first line, the
/// first screen (a full one, not a half empty).
pub(super) fn centred(lines: &PaneLines<'_>, seq: u64, h: i64) -> u64 {
    let mid = lines.step_by(seq, h / 2);
    match lines.first() {
        Some(first) => mid.max(lines.step_by(first, top_rows(lines, h))),
        None => mid,
    }
}
use crate::app::effect::{Effect, Message};
use crate::app::view::{Matcher, Pane, PaneLines};

impl LogViews {
    /// Whether `pane` moves a cursor line (the driver's tree, the merged view, and every
    /// pane with sync on, where the cursor is the moment) rather than its view alone.
    pub fn has_cursor(&self, pane: Pane) -> bool {
        matches!(pane, Pane::Driver | Pane::All) || self.sync
    }

    /// Moves a pane's view by `n` lines (a pane with a cursor moves its cursor).
    pub fn scroll(&mut self, s: &Shown<'_>, pane: Pane, n: i64) {
        let (last, new_anchor, new_cursor) = {
            let lines = self.lines(s, pane);
            let Some(last) = lines.last() else {
                return;
            };
            let view = self.view(pane);
            let h = self.height(pane).max(1) as i64;
            if self.has_cursor(pane) {
                let cur = view.cursor.or(view.anchor).unwrap_or(last);
                let cursor = lines.step_by(cur, n);
                // Keep the cursor on screen.
                let bottom = view.anchor.unwrap_or(last);
                let top = lines.step_by(bottom, -(h - 1));
                let anchor = if cursor > bottom {
                    cursor
                } else if cursor < top {
                    lines.step_by(cursor, h - 1)
                } else {
                    bottom
                };
                (last, anchor, Some(cursor))
            } else {
                let bottom = view.anchor.unwrap_or(last);
                // The first screen ends where the top line is the first line.
                let first_bottom = lines
                    .first()
                    .map_or(last, |f| lines.step_by(f, top_rows(&lines, h)));
                let anchor = lines.step_by(bottom, n).max(first_bottom.min(last));
                (last, anchor, None)
            }
        };
        let v = self.view_mut(pane);
        if new_anchor >= last && new_cursor.is_none_or(|c| c >= last) {
            v.anchor = None;
            v.cursor = None;
            v.unread = 0;
        } else {
            v.anchor = Some(new_anchor);
            v.cursor = new_cursor;
        }
    }

    pub(super) fn top(&mut self, s: &Shown<'_>, pane: Pane) {
        let (anchor, cursor) = {
            let lines = self.lines(s, pane);
            let Some(first) = lines.first() else {
                return;
            };
            let h = self.height(pane).max(1) as i64;
            (lines.step_by(first, top_rows(&lines, h)), first)
        };
        let cursor_moves = self.has_cursor(pane);
        let v = self.view_mut(pane);
        v.anchor = Some(anchor);
        if cursor_moves {
            v.cursor = Some(cursor);
        }
    }

    /// Puts line `seq` of `pane` in the middle of its view.
    pub fn reveal(&mut self, s: &Shown<'_>, pane: Pane, seq: u64) {
        let anchor = {
            let lines = self.lines(s, pane);
            let h = self.height(pane).max(1) as i64;
            centred(&lines, seq, h)
        };
        let cursor_moves = self.has_cursor(pane);
        let v = self.view_mut(pane);
        v.anchor = Some(anchor);
        if cursor_moves {
            v.cursor = Some(seq);
        }
    }

    pub(super) fn jump_to_match(
        &mut self,
        s: &Shown<'_>,
        pane: Pane,
        older: bool,
        first: bool,
    ) -> Vec<Effect> {
        let Some(m) = self.search.clone() else {
            return Vec::new();
        };
        let unfolded = HashSet::new();
        let found = {
            // Search sees inside folded steps too; a match there unfolds them.
            let filter = self
                .views
                .get(&(self.test, pane))
                .and_then(|v| v.filter.as_ref());
            let lines = PaneLines::new(s.test, pane, &unfolded, filter).until(s.end(pane));
            let view = self.view(pane);
            let Some(last) = lines.last() else {
                return Vec::new();
            };
            let from = if self.has_cursor(pane) || !first {
                // Continue from the current match, kept as the cursor.
                view.cursor.or(view.anchor).unwrap_or(last)
            } else {
                view.anchor.unwrap_or(last)
            };
            let start = if first { from + 1 } else { from };
            lines
                .find(&m, start, older)
                .map(|s| (s, false))
                .or_else(|| {
                    // Wrap around.
                    let edge = if older {
                        lines.end
                    } else {
                        lines.store.first_seq().saturating_sub(1)
                    };
                    lines.find(&m, edge, older).map(|s| (s, true))
                })
                .map(|(s, wrapped)| (s, wrapped, lines.count_matches(&m, s)))
        };
        let Some((seq, wrapped, (total, upto))) = found else {
            return vec![Effect::warn(format!(
                "/{}: no match in this pane",
                m.pattern
            ))];
        };
        if pane == Pane::Driver {
            self.unfold_around(s.test, seq);
        }
        self.reveal(s, pane, seq);
        self.view_mut(pane).cursor = Some(seq);
        // A wrap is said, as less and vim do: the user would not know otherwise.
        let wrap = match (wrapped && !first, older) {
            (false, _) => "",
            (true, true) => " · wrapped to the bottom",
            (true, false) => " · wrapped to the top",
        };
        vec![Effect::Say(Message::info(format!(
            "/{}  match {upto} of {total}{wrap}",
            m.pattern
        )))]
    }

    /// `:goto LINE` or `:goto MM:SS` in the focused log pane (the driver's, from its terminal).
    pub fn goto(&mut self, s: &Shown<'_>, to: &str) -> Vec<Effect> {
        let pane = match self.focus {
            Pane::Command => Pane::Driver,
            p => p,
        };
        let lines = self.lines(s, pane);
        let seq = match (to.parse::<u64>(), crate::app::palette::parse_time(to)) {
            // An input line: the last line of the pane at or before it.
            (Ok(n), _) => lines.prev(
                lines
                    .store
                    .end_at(crate::vm::store::Stamp::line_end(n))
                    .min(lines.end),
            ),
            // A time, real or estimated.
            (_, Some(ms)) => lines
                .store
                .iter()
                .find(|(_, l)| l.stamp().time_or_estimate().is_some_and(|t| t >= ms))
                .map(|(seq, _)| seq),
            _ => return vec![Effect::warn(format!("goto {to}: a line number or MM:SS"))],
        };
        let Some(seq) = seq else {
            return vec![Effect::warn(format!("goto {to}: not in this pane"))];
        };
        self.focus = pane;
        self.reveal(s, pane, seq);
        self.view_mut(pane).cursor = Some(seq);
        self.moved(s, pane);
        Vec::new()
    }

    /// A search submitted: the first match from where the view is.
    pub fn search(&mut self, s: &Shown<'_>, pattern: &str) -> Vec<Effect> {
        self.search = Matcher::new(pattern);
        if self.search.is_some() {
            self.jump_to_match(s, self.focus, true, true)
        } else {
            Vec::new()
        }
    }
}
