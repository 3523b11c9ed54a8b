//! Panes drawn in an earlier frame, kept to be copied into the next one.
//!
//! With 16 machines most panes are unchanged from one frame to the next (one machine
//! prints, the others wait): copying a pane's cells costs a small part of rendering its
//! lines again (each line's SGR parsed, cropped, styled). A pane is keyed by everything it is
//! drawn from; any change there draws it anew.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::app::view::Pane;

#[derive(Debug, Clone, Default)]
pub struct PaneCache {
    kept: RefCell<HashMap<Pane, (u64, Buffer)>>,
    /// Panes copied from the frame before in the last frame drawn.
    restored: std::cell::Cell<usize>,
}

/// What a pane's drawing depends on, reduced to a number.
pub struct Key(foldhash::quality::FoldHasher<'static>);

impl Key {
    pub fn new(area: Rect) -> Self {
        let mut k = Self(foldhash::quality::FixedState::default().build_hasher());
        k.add(area);
        k
    }

    pub fn add(&mut self, part: impl Hash) -> &mut Self {
        part.hash(&mut self.0);
        self
    }

    fn value(&self) -> u64 {
        self.0.finish()
    }
}

impl PaneCache {
    /// Copies `pane` as it was last drawn into `buf`, when it was drawn at `area` from
    /// what `key` says; false when it must be drawn.
    pub fn restore(&self, buf: &mut Buffer, pane: Pane, area: Rect, key: &Key) -> bool {
        let kept = self.kept.borrow();
        let Some((k, cells)) = kept.get(&pane) else {
            return false;
        };
        if *k != key.value() || cells.area != area || !buf.area.contains(area.as_position()) {
            return false;
        }
        let area = area.intersection(buf.area);
        let w = area.width as usize;
        for y in 0..area.height {
            let from = y as usize * cells.area.width as usize;
            let to = buf.index_of(area.x, area.y + y);
            buf.content[to..to + w].clone_from_slice(&cells.content[from..from + w]);
        }
        self.restored.set(self.restored.get() + 1);
        true
    }

    /// Keeps what was just drawn at `area` for the next frame.
    pub fn keep(&self, buf: &Buffer, pane: Pane, area: Rect, key: &Key) {
        let area = area.intersection(buf.area);
        let mut kept = self.kept.borrow_mut();
        let entry = kept.entry(pane).or_insert_with(|| (0, Buffer::empty(area)));
        if entry.1.area != area {
            entry.1 = Buffer::empty(area);
        }
        let w = area.width as usize;
        for y in 0..area.height {
            let from = buf.index_of(area.x, area.y + y);
            let to = y as usize * w;
            entry.1.content[to..to + w].clone_from_slice(&buf.content[from..from + w]);
        }
        entry.0 = key.value();
    }

    /// How many panes the last frame copied instead of drawing.
    pub fn restored(&self) -> usize {
        self.restored.get()
    }

    /// A frame starts: forgets the panes not in `shown` (a machine that left the screen).
    pub fn retain(&self, shown: &[(Pane, Rect)]) {
        self.restored.set(0);
        self.kept
            .borrow_mut()
            .retain(|p, _| shown.iter().any(|(s, _)| s == p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    #[test]
    fn a_pane_comes_back_only_for_the_same_key_and_place() {
        let whole = Rect::new(0, 0, 20, 6);
        let area = Rect::new(5, 1, 10, 3);
        let mut buf = Buffer::empty(whole);
        buf.set_string(5, 2, "console", Style::new());
        let cache = PaneCache::default();
        let pane = Pane::Machine(3);
        cache.keep(&buf, pane, area, Key::new(area).add(7u64));

        let mut next = Buffer::empty(whole);
        assert!(!cache.restore(&mut next, pane, area, Key::new(area).add(8u64)));
        assert!(!cache.restore(&mut next, Pane::Machine(2), area, Key::new(area).add(7u64)));
        let moved = Rect::new(4, 1, 10, 3);
        assert!(!cache.restore(&mut next, pane, moved, Key::new(moved).add(7u64)));
        assert_eq!(next, Buffer::empty(whole));

        assert!(cache.restore(&mut next, pane, area, Key::new(area).add(7u64)));
        assert_eq!(next, buf);
        cache.retain(&[(Pane::Driver, area)]);
        assert!(!cache.restore(&mut next, pane, area, Key::new(area).add(7u64)));
    }
}
