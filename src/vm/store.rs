//! A pane's lines, capped by count and by bytes.
//!
//! Lines are numbered from the start of the run (`seq`); when the caps are reached the oldest
//! lines are evicted and counted, so a pane can say how much it no longer holds.

use std::collections::VecDeque;

/// Default caps: 16 machines plus the driver stay well under 200 MB.
pub const DEFAULT_MAX_LINES: usize = 100_000;
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;

/// What a line costs beyond its text: the record and the allocator's bookkeeping.
const LINE_OVERHEAD: usize = 48;

/// Sentinel for "no time known".
pub const NO_TIME: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Caps {
    pub max_lines: usize,
    pub max_bytes: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            max_lines: DEFAULT_MAX_LINES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// One stored line: its display form (SGR kept) and its plain form in one allocation.
#[derive(Debug, Clone)]
pub struct StoredLine {
    buf: Box<str>,
    /// Start of the plain form in `buf`; equal to `u32::MAX` when plain == display.
    split: u32,
    /// Milliseconds since the start of the input, or `NO_TIME`.
    pub time_ms: u32,
    /// Owner-defined data (the driver log keeps the innermost step here).
    pub tag: u32,
    /// Owner-defined kind.
    pub kind: u8,
}

impl StoredLine {
    pub fn display(&self) -> &str {
        if self.split == u32::MAX {
            &self.buf
        } else {
            &self.buf[..self.split as usize]
        }
    }

    pub fn plain(&self) -> &str {
        if self.split == u32::MAX {
            &self.buf
        } else {
            &self.buf[self.split as usize..]
        }
    }

    pub fn has_style(&self) -> bool {
        self.split != u32::MAX
    }

    fn cost(&self) -> usize {
        self.buf.len() + LINE_OVERHEAD
    }
}

#[derive(Debug, Clone)]
pub struct LineStore {
    lines: VecDeque<StoredLine>,
    first_seq: u64,
    bytes: usize,
    caps: Caps,
    evicted_bytes: u64,
}

impl LineStore {
    pub fn new(caps: Caps) -> Self {
        Self {
            lines: VecDeque::new(),
            first_seq: 0,
            bytes: 0,
            caps: Caps {
                max_lines: caps.max_lines.max(1),
                max_bytes: caps.max_bytes.max(1),
            },
            evicted_bytes: 0,
        }
    }

    /// Appends a line; `display` may hold SGR sequences, `plain` is its text without them
    /// (pass `None` when they are the same). Returns the line's sequence number.
    pub fn push(
        &mut self,
        display: &str,
        plain: Option<&str>,
        time_ms: u32,
        kind: u8,
        tag: u32,
    ) -> u64 {
        let (buf, split) = match plain {
            Some(p) if p != display => {
                let mut s = String::with_capacity(display.len() + p.len());
                s.push_str(display);
                s.push_str(p);
                (s.into_boxed_str(), display.len() as u32)
            }
            _ => (Box::from(display), u32::MAX),
        };
        let line = StoredLine {
            buf,
            split,
            time_ms,
            tag,
            kind,
        };
        self.bytes += line.cost();
        self.lines.push_back(line);
        while self.lines.len() > 1
            && (self.lines.len() > self.caps.max_lines || self.bytes > self.caps.max_bytes)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.cost();
                self.evicted_bytes += old.buf.len() as u64;
                self.first_seq += 1;
            }
        }
        self.end_seq() - 1
    }

    /// Sequence number of the oldest line still held.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// One past the newest line's sequence number (= lines ever pushed).
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.lines.len() as u64
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines evicted so far.
    pub fn evicted(&self) -> u64 {
        self.first_seq
    }

    pub fn evicted_bytes(&self) -> u64 {
        self.evicted_bytes
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    pub fn get(&self, seq: u64) -> Option<&StoredLine> {
        let i = seq.checked_sub(self.first_seq)?;
        self.lines.get(usize::try_from(i).ok()?)
    }

    pub fn get_mut(&mut self, seq: u64) -> Option<&mut StoredLine> {
        let i = seq.checked_sub(self.first_seq)?;
        self.lines.get_mut(usize::try_from(i).ok()?)
    }

    pub fn last(&self) -> Option<&StoredLine> {
        self.lines.back()
    }

    /// Lines held, oldest first, with their sequence numbers.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &StoredLine)> + '_ {
        let first = self.first_seq;
        self.lines
            .iter()
            .enumerate()
            .map(move |(i, l)| (first + i as u64, l))
    }

    /// Lines from `seq` (clamped to what is held) to the end.
    pub fn iter_from(&self, seq: u64) -> impl Iterator<Item = (u64, &StoredLine)> + '_ {
        let skip = (seq.saturating_sub(self.first_seq) as usize).min(self.lines.len());
        let first = self.first_seq + skip as u64;
        self.lines
            .range(skip..)
            .enumerate()
            .map(move |(i, l)| (first + i as u64, l))
    }

    pub fn iter_mut_from(&mut self, seq: u64) -> impl Iterator<Item = (u64, &mut StoredLine)> + '_ {
        let skip = (seq.saturating_sub(self.first_seq) as usize).min(self.lines.len());
        let first = self.first_seq + skip as u64;
        self.lines
            .range_mut(skip..)
            .enumerate()
            .map(move |(i, l)| (first + i as u64, l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_display_and_plain() {
        let mut s = LineStore::new(Caps::default());
        let a = s.push("\x1b[1mbold\x1b[0m", Some("bold"), 5, 0, 0);
        let b = s.push("plain", None, NO_TIME, 0, 0);
        assert_eq!(s.get(a).unwrap().display(), "\x1b[1mbold\x1b[0m");
        assert_eq!(s.get(a).unwrap().plain(), "bold");
        assert_eq!(s.get(b).unwrap().plain(), "plain");
        assert_eq!(s.get(a).unwrap().time_ms, 5);
    }

    #[test]
    fn evicts_by_count() {
        let mut s = LineStore::new(Caps {
            max_lines: 3,
            max_bytes: usize::MAX,
        });
        for i in 0..10 {
            s.push(&format!("line {i}"), None, NO_TIME, 0, 0);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.evicted(), 7);
        assert!(s.get(6).is_none());
        assert_eq!(s.get(7).unwrap().plain(), "line 7");
        assert_eq!(s.end_seq(), 10);
    }

    #[test]
    fn evicts_by_bytes_but_keeps_the_newest_line() {
        let mut s = LineStore::new(Caps {
            max_lines: 1000,
            max_bytes: 200,
        });
        for _ in 0..10 {
            s.push(&"x".repeat(50), None, NO_TIME, 0, 0);
        }
        assert!(s.bytes() <= 200);
        assert_eq!(s.len(), 2);
        s.push(&"y".repeat(5000), None, NO_TIME, 0, 0);
        assert_eq!(s.len(), 1);
        assert_eq!(s.get(10).unwrap().plain().len(), 5000);
    }
}
