//! Every stored line of a test in the order the input had them, across its panes: the
//! driver's stream is one stream, so this order is exact, not a guess from timestamps.
//!
//! The index holds where each line went (its pane and its number there), not the text: a
//! line read through it comes from its pane's store, and one its store has evicted is
//! skipped. The index is capped on its own, since one pane flooding would otherwise keep
//! every entry behind an old line of a quiet one.
//!
//! It is made when it is first asked for (from what the stores hold, in the order of their
//! lines' positions) and kept up as lines come from then on: a run nobody looks at this way
//! pays nothing for it.

use std::collections::VecDeque;

/// The pane a line went to: a machine's index, or the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Driver,
    Machine(usize),
}

/// An entry packs the origin above `SEQ_BITS` and the line's number in its store below.
const SEQ_BITS: u32 = 48;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
const DRIVER: u64 = (1 << (64 - SEQ_BITS)) - 1;

#[derive(Debug, Clone)]
pub struct Merged {
    entries: VecDeque<u64>,
    /// Entries dropped from the front (by the cap): the index of `entries[0]`.
    first: u64,
    cap: usize,
    /// Made and kept up (see `Test::merge`).
    pub on: bool,
}

impl Merged {
    /// An index that will keep `cap` entries at most, not made yet.
    pub fn new(cap: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            first: 0,
            cap,
            on: false,
        }
    }

    /// Makes the index from `held`: each store's lines as (position, origin, numbers held),
    /// merged by position (ties: in the order the stores are given).
    pub fn make(&mut self, held: Vec<(Origin, Vec<(u64, u64)>)>) {
        let total: usize = held.iter().map(|(_, v)| v.len()).sum();
        let mut heads: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize, usize)>> = held
            .iter()
            .enumerate()
            .filter(|(_, (_, v))| !v.is_empty())
            .map(|(i, (_, v))| std::cmp::Reverse((v[0].0, i, 0)))
            .collect();
        let skip = total.saturating_sub(self.cap);
        self.entries = VecDeque::with_capacity(total - skip);
        self.first = skip as u64;
        let mut n = 0;
        while let Some(std::cmp::Reverse((_, i, j))) = heads.pop() {
            let (origin, lines) = &held[i];
            if n >= skip {
                self.push_entry(*origin, lines[j].1);
            }
            n += 1;
            if let Some(&(at, _)) = lines.get(j + 1) {
                heads.push(std::cmp::Reverse((at, i, j + 1)));
            }
        }
        self.on = true;
    }

    pub fn push(&mut self, origin: Origin, seq: u64) {
        if !self.on {
            return;
        }
        self.push_entry(origin, seq);
    }

    fn push_entry(&mut self, origin: Origin, seq: u64) {
        if self.cap == 0 {
            self.first += 1;
            return;
        }
        let o = match origin {
            Origin::Driver => DRIVER,
            Origin::Machine(m) => (m as u64).min(DRIVER - 1),
        };
        if self.entries.len() == self.entries.capacity()
            && self.entries.len() >= 4096
            && self.entries.len() < self.cap
        {
            let want = self.cap.min(self.entries.len() * 8);
            self.entries.reserve_exact(want - self.entries.len());
        }
        self.entries.push_back(o << SEQ_BITS | (seq & SEQ_MASK));
        if self.entries.len() > self.cap {
            self.entries.pop_front();
            self.first += 1;
        }
    }

    /// The number of the oldest entry held.
    pub fn first_seq(&self) -> u64 {
        self.first
    }

    /// One past the newest entry's number (= entries ever pushed).
    pub fn end_seq(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// Where entry `n` went: its pane, and its line's number in that pane's store.
    pub fn get(&self, n: u64) -> Option<(Origin, u64)> {
        let i = usize::try_from(n.checked_sub(self.first)?).ok()?;
        let e = *self.entries.get(i)?;
        let origin = match e >> SEQ_BITS {
            DRIVER => Origin::Driver,
            m => Origin::Machine(m as usize),
        };
        Some((origin, e & SEQ_MASK))
    }

    pub fn cap(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_in_order_and_the_cap_drops_the_oldest() {
        let mut m = Merged::new(3);
        m.make(Vec::new());
        m.push(Origin::Driver, 0);
        m.push(Origin::Machine(2), 0);
        m.push(Origin::Machine(0), 7);
        m.push(Origin::Driver, 1);
        assert_eq!((m.first_seq(), m.end_seq()), (1, 4));
        assert_eq!(m.get(0), None);
        assert_eq!(m.get(1), Some((Origin::Machine(2), 0)));
        assert_eq!(m.get(2), Some((Origin::Machine(0), 7)));
        assert_eq!(m.get(3), Some((Origin::Driver, 1)));
        assert_eq!(m.get(4), None);
    }

    #[test]
    fn an_index_not_made_keeps_nothing_and_one_made_merges_by_position() {
        let mut m = Merged::new(10);
        m.push(Origin::Driver, 0);
        assert_eq!((m.first_seq(), m.end_seq()), (0, 0));
        m.make(vec![
            (Origin::Driver, vec![(16, 0), (48, 1)]),
            (Origin::Machine(0), vec![(32, 0), (64, 1)]),
        ]);
        let order: Vec<_> = (0..4).map(|n| m.get(n).unwrap()).collect();
        assert_eq!(
            order,
            vec![
                (Origin::Driver, 0),
                (Origin::Machine(0), 0),
                (Origin::Driver, 1),
                (Origin::Machine(0), 1)
            ]
        );
        m.push(Origin::Machine(0), 2);
        assert_eq!(m.get(4), Some((Origin::Machine(0), 2)));
    }

    #[test]
    fn an_index_without_room_only_counts() {
        let mut m = Merged::new(0);
        m.make(Vec::new());
        m.push(Origin::Driver, 0);
        assert_eq!((m.first_seq(), m.end_seq()), (1, 1));
        assert_eq!(m.get(0), None);
    }
}
