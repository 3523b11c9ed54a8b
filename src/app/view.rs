//! What a pane shows of its lines: which lines are visible (filter, folded steps), where the
//! view is, and the matches of a search.

use std::collections::HashSet;

use crate::vm::model::{Merged, Origin, ROOT, StepId, Test, line_kind};
use crate::vm::store::{LineStore, StoredLine};

/// A pane of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Pane {
    #[default]
    Driver,
    Machine(usize),
    /// The driver's terminal (its REPL) in a live run.
    Command,
    /// Every machine and the driver in the order of the input.
    All,
}

/// Where a pane's view is.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The line at the bottom of the view; `None` follows the newest line.
    pub anchor: Option<u64>,
    /// Columns scrolled to the right (lines not wrapped).
    pub hscroll: usize,
    /// Show only lines that match.
    pub filter: Option<Matcher>,
    /// Selected line (the driver pane's cursor).
    pub cursor: Option<u64>,
    /// Lines that arrived while the view did not follow.
    pub unread: u64,
    /// The merged view shows these machines only (`None`: every one, and the driver).
    pub only: Option<Vec<Origin>>,
}

impl View {
    pub fn following(&self) -> bool {
        self.anchor.is_none()
    }
}

/// A search or filter pattern: plain text, case-insensitive unless it has a capital.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub pattern: String,
    lower: Option<String>,
    /// A container's journal entries of this unit, rather than a text (`:unit nginx`).
    unit: Option<String>,
}

impl Matcher {
    pub fn new(pattern: &str) -> Option<Self> {
        if pattern.is_empty() {
            return None;
        }
        let smart = pattern.chars().any(char::is_uppercase);
        Some(Self {
            pattern: pattern.to_string(),
            lower: (!smart).then(|| pattern.to_lowercase()),
            unit: None,
        })
    }

    /// The journal entries of `unit` (its program's, and systemd's about it).
    pub fn unit(unit: &str) -> Option<Self> {
        let unit = unit.trim();
        (!unit.is_empty()).then(|| Self {
            pattern: format!("unit {unit}"),
            lower: None,
            unit: Some(unit.to_string()),
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.find(text, 0).is_some()
    }

    /// Byte range of the first match at or after `from`.
    pub fn find(&self, text: &str, from: usize) -> Option<(usize, usize)> {
        if let Some(unit) = &self.unit {
            // An entry of the unit matches at its program's name.
            let e = crate::vm::journal::parse(text)?;
            return (from <= e.ident.0 && crate::vm::journal::of_unit(text, unit))
                .then_some(e.ident);
        }
        let hay = text.get(from..)?;
        match &self.lower {
            None => hay
                .find(&self.pattern)
                .map(|i| (from + i, from + i + self.pattern.len())),
            Some(lower) if lower.is_ascii() => {
                find_ascii_ci(hay, lower).map(|i| (from + i, from + i + lower.len()))
            }
            Some(lower) => {
                // Non-ASCII patterns: compare lower-cased characters one start at a time.
                for (i, _) in hay.char_indices() {
                    let mut a = hay[i..].chars().flat_map(char::to_lowercase);
                    let mut len = 0;
                    let mut ok = true;
                    for want in lower.chars() {
                        match a.next() {
                            Some(c) if c == want => {}
                            _ => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if ok {
                        let mut chars = hay[i..].char_indices();
                        for _ in 0..lower.chars().count() {
                            if let Some((j, c)) = chars.next() {
                                len = j + c.len_utf8();
                            }
                        }
                        return Some((from + i, from + i + len));
                    }
                }
                None
            }
        }
    }

    /// Every match in `text`, as byte ranges.
    pub fn ranges(&self, text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some((s, e)) = self.find(text, from) {
            out.push((s, e));
            from = if e > s { e } else { s + 1 };
            while from < text.len() && !text.is_char_boundary(from) {
                from += 1;
            }
            if from >= text.len() {
                break;
            }
        }
        out
    }
}

fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || n.len() > h.len() {
        return None;
    }
    let first = n[0];
    let (a, b) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut i = 0;
    while i + n.len() <= h.len() {
        let rest = &h[i..=h.len() - n.len()];
        let j = memchr::memchr2(a, b, rest)?;
        let at = i + j;
        if h[at..at + n.len()].eq_ignore_ascii_case(n) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Where a pane's lines are: one store, or the merged order of a test's stores.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Store(&'a LineStore),
    Merged(&'a Merged, &'a Test),
}

impl<'a> Source<'a> {
    pub fn first_seq(&self) -> u64 {
        match self {
            Self::Store(s) => s.first_seq(),
            Self::Merged(m, _) => m.first_seq(),
        }
    }

    pub fn end_seq(&self) -> u64 {
        match self {
            Self::Store(s) => s.end_seq(),
            Self::Merged(m, _) => m.end_seq(),
        }
    }

    /// Lines no longer held: the store's evicted, or the merged order's dropped entries.
    pub fn evicted(&self) -> u64 {
        self.first_seq()
    }

    pub fn get(&self, seq: u64) -> Option<StoredLine<'a>> {
        match *self {
            Self::Store(s) => s.get(seq),
            Self::Merged(m, t) => {
                let (origin, n) = m.get(seq)?;
                store_of(t, origin)?.get(n)
            }
        }
    }

    /// Which pane line `seq` of the merged order belongs to.
    pub fn origin(&self, seq: u64) -> Option<Origin> {
        match self {
            Self::Store(_) => None,
            Self::Merged(m, _) => m.get(seq).map(|(o, _)| o),
        }
    }

    /// Lines held, oldest first, with their numbers (lines the merged order names but
    /// their stores evicted are left out).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (u64, StoredLine<'a>)> + 'a> {
        match *self {
            Self::Store(s) => Box::new(s.iter()),
            Self::Merged(..) => {
                let this = *self;
                Box::new(
                    (self.first_seq()..self.end_seq())
                        .filter_map(move |n| this.get(n).map(|l| (n, l))),
                )
            }
        }
    }

    /// The first line held at or after position `at` (`end_seq` when none is).
    pub fn seq_from(&self, at: u64) -> u64 {
        self.end_at(at.saturating_sub(1)).max(self.first_seq())
    }

    /// One past the newest line held at or before position `at`.
    pub fn end_at(&self, at: u64) -> u64 {
        match self {
            Self::Store(s) => s.end_at(at),
            Self::Merged(..) => {
                // Entries are in input order: their lines' positions only grow.
                let (mut lo, mut hi) = (self.first_seq(), self.end_seq());
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    match self.get(mid) {
                        Some(l) if l.at > at => hi = mid,
                        Some(_) => lo = mid + 1,
                        // An evicted line: look at its neighbours' side of `at`.
                        None => match ((mid + 1)..hi).find_map(|n| self.get(n)) {
                            Some(l) if l.at > at => hi = mid,
                            Some(_) => lo = mid + 1,
                            None => hi = mid,
                        },
                    }
                }
                lo
            }
        }
    }
}

/// The store of a pane of `t`.
pub fn store_of(t: &Test, origin: Origin) -> Option<&LineStore> {
    match origin {
        Origin::Driver => Some(&t.driver),
        Origin::Machine(m) => t.machines.get(m).map(|x| &x.serial),
    }
}

/// The lines of one pane as the user sees them.
pub struct PaneLines<'a> {
    pub pane: Pane,
    pub store: Source<'a>,
    pub test: &'a Test,
    pub driver: bool,
    pub collapsed: &'a HashSet<StepId>,
    pub filter: Option<&'a Matcher>,
    /// Lines from this sequence number on are not shown (a frozen view).
    pub end: u64,
    /// The merged view's machines (`None`: all).
    pub only: Option<&'a [Origin]>,
}

impl<'a> PaneLines<'a> {
    pub fn new(
        test: &'a Test,
        pane: Pane,
        collapsed: &'a HashSet<StepId>,
        filter: Option<&'a Matcher>,
    ) -> Self {
        let (store, driver) = match pane {
            Pane::Driver | Pane::Command => (Source::Store(&test.driver), true),
            Pane::All => (Source::Merged(&test.merged, test), false),
            Pane::Machine(m) => (
                Source::Store(test.machines.get(m).map_or(&test.driver, |x| &x.serial)),
                test.machines.get(m).is_none(),
            ),
        };
        Self {
            pane,
            store,
            test,
            driver,
            collapsed,
            filter,
            end: store.end_seq(),
            only: None,
        }
    }

    /// The merged view shows these panes' lines only.
    pub fn only(mut self, only: Option<&'a [Origin]>) -> Self {
        self.only = only;
        self
    }

    /// Whether line `seq` is the driver's (in the merged view, by where it went).
    pub fn is_driver(&self, seq: u64) -> bool {
        match self.store.origin(seq) {
            Some(o) => o == Origin::Driver,
            None => self.driver,
        }
    }

    /// Shows the lines before `end` only (the run as it was at a freeze).
    pub fn until(mut self, end: Option<u64>) -> Self {
        if let Some(e) = end {
            self.end = self.end.min(e);
        }
        self
    }

    /// What the top row says memory no longer holds, when it holds less than the input:
    /// earlier lines, and in the driver's pane earlier steps.
    pub fn evicted_note(&self) -> Option<String> {
        let lines = self.store.evicted();
        let steps = if self.driver {
            self.test.steps.evicted()
        } else {
            0
        };
        if self.filter.is_some() || (lines == 0 && steps == 0) {
            return None;
        }
        let plural =
            |n: u64, one: &str| format!("{n} earlier {one}{}", if n == 1 { "" } else { "s" });
        Some(match (lines, steps) {
            (l, 0) => plural(l, "line"),
            (0, s) => plural(s, "step"),
            (l, s) => format!(
                "{} and {s} step{}",
                plural(l, "line"),
                if s == 1 { "" } else { "s" }
            ),
        })
    }

    /// Lines stored after the view's end.
    pub fn hidden(&self) -> u64 {
        self.store.end_seq() - self.end
    }

    pub fn visible(&self, seq: u64, line: &StoredLine<'_>) -> bool {
        if let Some(only) = self.only
            && !self.store.origin(seq).is_some_and(|o| only.contains(&o))
        {
            return false;
        }
        if self.driver {
            if line.kind == line_kind::STEP_END {
                return false;
            }
            if !self.collapsed.is_empty() {
                let mut id = self.own_container(line);
                while id != ROOT {
                    if self.collapsed.contains(&id) {
                        return false;
                    }
                    id = self.test.step(id).map_or(ROOT, |s| s.parent);
                }
            }
        }
        self.filter.is_none_or(|f| f.is_match(&line.plain()))
    }

    /// The innermost step that contains a line without being opened by it.
    fn own_container(&self, line: &StoredLine<'_>) -> StepId {
        if line.kind == line_kind::STEP_HEAD {
            self.test.step(line.tag).map_or(ROOT, |s| s.parent)
        } else {
            line.tag
        }
    }

    /// Depth of a driver line in the step tree.
    pub fn depth(&self, line: &StoredLine<'_>) -> usize {
        if !self.driver {
            return 0;
        }
        let d = self.test.depth(line.tag);
        if line.kind == line_kind::STEP_HEAD {
            d.saturating_sub(1)
        } else {
            d
        }
    }

    pub fn get(&self, seq: u64) -> Option<StoredLine<'a>> {
        if seq >= self.end {
            return None;
        }
        self.store.get(seq)
    }

    /// The newest visible line.
    pub fn last(&self) -> Option<u64> {
        self.prev(self.end)
    }

    pub fn first(&self) -> Option<u64> {
        let start = self.store.first_seq();
        if self.get(start).is_some_and(|l| self.visible(start, &l)) {
            Some(start)
        } else {
            self.next(start)
        }
    }

    /// The visible line before `seq`.
    pub fn prev(&self, seq: u64) -> Option<u64> {
        let first = self.store.first_seq();
        let mut s = seq;
        while s > first {
            s -= 1;
            if self.store.get(s).is_some_and(|l| self.visible(s, &l)) {
                return Some(s);
            }
        }
        None
    }

    /// The visible line after `seq`.
    pub fn next(&self, seq: u64) -> Option<u64> {
        let end = self.end;
        let mut s = seq.max(self.store.first_seq().saturating_sub(1));
        while s + 1 < end {
            s += 1;
            if self.store.get(s).is_some_and(|l| self.visible(s, &l)) {
                return Some(s);
            }
        }
        None
    }

    /// `n` visible lines before (negative) or after (positive) `seq`, stopping at the ends.
    pub fn step_by(&self, seq: u64, n: i64) -> u64 {
        let mut s = seq;
        if n < 0 {
            for _ in 0..n.unsigned_abs() {
                match self.prev(s) {
                    Some(p) => s = p,
                    None => break,
                }
            }
        } else {
            for _ in 0..n {
                match self.next(s) {
                    Some(p) => s = p,
                    None => break,
                }
            }
        }
        s
    }

    /// The newest line at or before `seq` (older when `older`) that matches.
    pub fn find(&self, m: &Matcher, from: u64, older: bool) -> Option<u64> {
        let mut s = from;
        loop {
            let next = if older { self.prev(s) } else { self.next(s) };
            s = next?;
            if let Some(l) = self.store.get(s)
                && m.is_match(&l.plain())
            {
                return Some(s);
            }
        }
    }

    /// How many visible lines match `m`, and how many of them come at or before `seq`.
    pub fn count_matches(&self, m: &Matcher, seq: u64) -> (usize, usize) {
        let mut total = 0;
        let mut upto = 0;
        for (s, l) in self.store.iter() {
            if s >= self.end {
                break;
            }
            if self.visible(s, &l) && m.is_match(&l.plain()) {
                total += 1;
                if s <= seq {
                    upto += 1;
                }
            }
        }
        (total, upto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_case() {
        let m = Matcher::new("ok").unwrap();
        assert!(m.is_match("[  OK  ] Started"));
        let m = Matcher::new("OK").unwrap();
        assert!(!m.is_match("ok"));
        assert!(m.is_match("[  OK  ]"));
    }

    #[test]
    fn ranges_find_every_match() {
        let m = Matcher::new("ab").unwrap();
        assert_eq!(m.ranges("xAbyab"), vec![(1, 3), (4, 6)]);
        let m = Matcher::new("é").unwrap();
        assert_eq!(m.ranges("cafÉ é"), vec![(3, 5), (6, 8)]);
    }
}
