//! A pane's lines, capped by count and by bytes.
//!
//! Lines are numbered from the start of the run (`seq`); when the caps are reached the oldest
//! lines are evicted and counted, so a pane can say how much it no longer holds.

use std::collections::VecDeque;

/// Default caps: 16 machines plus the driver stay well under 200 MB.
pub const DEFAULT_MAX_LINES: usize = 100_000;
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Steps a test keeps by default: real tests have hundreds; at about 200 bytes a step this
/// is 4 MiB at most.
pub const DEFAULT_MAX_STEPS: usize = 20_000;

/// What a line costs beyond its text: its record.
const LINE_OVERHEAD: usize = 40;

/// Sentinel for "no time known".
pub const NO_TIME: u32 = u32::MAX;

/// A time with this bit set is an estimate: a saved log has no arrival times, so its lines
/// are timed by the driver's step durations added up along the run (`model::Clock`).
pub const EST_FLAG: u32 = 1 << 31;

/// Where a line stands on the run's one axis: its position in the input stream, and its
/// time where one is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The input line (1-based) shifted left by 4, plus the part of that line it is (a
    /// line written by two threads at once is stored as two): every stored line of a run
    /// is ordered by it exactly as the input was, across panes.
    pub at: u64,
    /// Milliseconds since the start (`EST_FLAG` set when estimated), or `NO_TIME`.
    pub ms: u32,
}

impl Default for Stamp {
    fn default() -> Self {
        Self::NONE
    }
}

impl Stamp {
    /// Before the first line, at no known time.
    pub const NONE: Self = Self { at: 0, ms: NO_TIME };

    /// The parts of one input line a position can tell apart.
    pub const PARTS: u64 = 16;

    pub fn new(input_line: u64, part: u64, ms: u32) -> Self {
        Self {
            at: input_line * Self::PARTS + part.min(Self::PARTS - 1),
            ms,
        }
    }

    /// The input line (1-based) the position is in.
    pub fn input_line(&self) -> u64 {
        self.at / Self::PARTS
    }

    /// The position of the first part of input line `n`.
    pub fn line_start(n: u64) -> u64 {
        n * Self::PARTS
    }

    /// The position of the last part of input line `n`: after all it printed.
    pub fn line_end(n: u64) -> u64 {
        Self::line_start(n + 1) - 1
    }

    /// The time it arrived (live runs, recordings).
    pub fn time(&self) -> Option<u32> {
        (self.ms & EST_FLAG == 0).then_some(self.ms)
    }

    /// The time it arrived, or else the time estimated from the driver's step durations.
    pub fn time_or_estimate(&self) -> Option<u32> {
        (self.ms != NO_TIME).then_some(self.ms & !EST_FLAG)
    }

    pub fn estimated(&self) -> bool {
        self.ms != NO_TIME && self.ms & EST_FLAG != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Caps {
    pub max_lines: usize,
    pub max_bytes: usize,
    /// Steps each test keeps in its tree (the oldest finished ones leave first).
    pub max_steps: usize,
    /// Machines keep their consoles' text; `false` where none is shown (`inspect` counts
    /// serial lines and prints no console text): each keeps its last few lines only.
    pub keep_serial: bool,
}

impl Caps {
    /// What a machine's console store keeps.
    pub fn serial(self) -> Self {
        if self.keep_serial {
            return self;
        }
        Self {
            max_lines: self.max_lines.min(64),
            max_bytes: self.max_bytes.min(64 << 10),
            ..self
        }
    }
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            max_lines: DEFAULT_MAX_LINES,
            max_bytes: DEFAULT_MAX_BYTES,
            max_steps: DEFAULT_MAX_STEPS,
            keep_serial: true,
        }
    }
}

/// What a pane keeps of a line besides its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineMeta {
    /// Milliseconds since the start of the input, or `NO_TIME`.
    pub time_ms: u32,
    /// Owner-defined data (the driver log keeps the innermost step here).
    pub tag: u32,
    /// Owner-defined kind.
    pub kind: u8,
    /// The display form holds SGR sequences (kept here, where the record has room).
    styled: bool,
    /// The part of its input line it is (`Stamp::at`'s low bits).
    part: u8,
}

/// Where a line's text is. Only its display form is kept: the plain form of a styled line
/// is made again when it is read (a search, a filter, a copy), which costs less than
/// storing every coloured line twice.
#[derive(Debug, Clone, Copy)]
struct Rec {
    /// The block's absolute index, wrapped: a store holds far fewer than 2^32 blocks.
    block: u32,
    start: u32,
    display: u32,
    /// The input line (`Stamp::input_line`), saturated at 2^32 - 1: 28 bytes a record.
    line: u32,
    meta: LineMeta,
}

impl Rec {
    fn at(&self) -> u64 {
        u64::from(self.line) * Stamp::PARTS + u64::from(self.meta.part)
    }

    fn stamp(&self) -> Stamp {
        Stamp {
            at: self.at(),
            ms: self.meta.time_ms,
        }
    }
}

/// One stored line as the store hands it out.
#[derive(Debug, Clone, Copy)]
pub struct StoredLine<'a> {
    display: &'a str,
    styled: bool,
    /// Its position in the input stream (`Stamp::at`).
    pub at: u64,
    pub time_ms: u32,
    pub tag: u32,
    pub kind: u8,
}

impl<'a> StoredLine<'a> {
    pub fn display(&self) -> &'a str {
        self.display
    }

    /// The text without its SGR sequences.
    pub fn plain(&self) -> std::borrow::Cow<'a, str> {
        if self.styled {
            std::borrow::Cow::Owned(super::sanitize::strip_sgr(self.display))
        } else {
            std::borrow::Cow::Borrowed(self.display)
        }
    }

    pub fn has_style(&self) -> bool {
        self.styled
    }

    pub fn stamp(&self) -> Stamp {
        Stamp {
            at: self.at,
            ms: self.time_ms,
        }
    }

    /// Milliseconds since the start, for live input and recordings.
    pub fn time(&self) -> Option<u32> {
        self.stamp().time()
    }

    /// Line number in the input.
    pub fn input_line(&self) -> u64 {
        self.stamp().input_line()
    }
}

/// Lines are packed into blocks of text, so storing and evicting a line costs no
/// allocation of its own; a block is freed once no line uses it.
#[derive(Debug, Clone)]
pub struct LineStore {
    blocks: VecDeque<String>,
    /// A freed block kept for the next one: no allocator round trip (or mmap) per block.
    spare: Option<String>,
    /// Absolute index of `blocks[0]`.
    first_block: u64,
    recs: VecDeque<Rec>,
    first_seq: u64,
    bytes: usize,
    caps: Caps,
    block_size: usize,
    evicted_bytes: u64,
}

impl LineStore {
    pub fn new(caps: Caps) -> Self {
        let caps = Caps {
            max_lines: caps.max_lines.max(1),
            max_bytes: caps.max_bytes.max(1),
            ..caps
        };
        Self {
            blocks: VecDeque::new(),
            spare: None,
            first_block: 0,
            recs: VecDeque::new(),
            first_seq: 0,
            bytes: 0,
            // Small enough that a half-used block is a small part of the cap.
            block_size: (caps.max_bytes / 16).clamp(4096, 256 * 1024),
            caps,
            evicted_bytes: 0,
        }
    }

    /// Appends a line; `display` may hold SGR sequences, `plain` is its text without them
    /// (pass `None` when they are the same; only whether they differ is kept). Returns the
    /// line's sequence number.
    pub fn push(
        &mut self,
        display: &str,
        plain: Option<&str>,
        stamp: Stamp,
        kind: u8,
        tag: u32,
    ) -> u64 {
        let styled = plain.is_some_and(|p| p.len() != display.len());
        debug_assert!(
            plain.is_none_or(|p| p == super::sanitize::strip_sgr(display)),
            "{display:?} {plain:?}"
        );
        let need = display.len();
        let fits = self
            .blocks
            .back()
            .is_some_and(|b| b.capacity() - b.len() >= need);
        if !fits {
            let block = match self.spare.take() {
                Some(b) if need <= b.capacity() => b,
                _ => String::with_capacity(need.max(self.block_size)),
            };
            self.blocks.push_back(block);
        }
        let block_index = self.first_block + self.blocks.len() as u64 - 1;
        let Some(block) = self.blocks.back_mut() else {
            unreachable!("a block was just pushed");
        };
        let start = block.len() as u32;
        block.push_str(display);
        self.grow_index();
        self.recs.push_back(Rec {
            block: block_index as u32,
            start,
            display: display.len() as u32,
            line: u32::try_from(stamp.input_line()).unwrap_or(u32::MAX),
            meta: LineMeta {
                time_ms: stamp.ms,
                tag,
                kind,
                styled,
                part: (stamp.at % Stamp::PARTS) as u8,
            },
        });
        self.bytes += need + LINE_OVERHEAD;
        while self.recs.len() > 1
            && (self.recs.len() > self.caps.max_lines || self.bytes > self.caps.max_bytes)
        {
            if let Some(old) = self.recs.pop_front() {
                self.bytes -= old.display as usize + LINE_OVERHEAD;
                self.evicted_bytes += old.display as u64;
                self.first_seq += 1;
            }
        }
        // Blocks before the oldest line's are no one's any more.
        let keep_from = self.recs.front().map_or(block_index, |r| self.block_at(r));
        while self.first_block < keep_from {
            if let Some(mut b) = self.blocks.pop_front()
                && b.capacity() == self.block_size
            {
                b.clear();
                self.spare = Some(b);
            }
            self.first_block += 1;
        }
        self.end_seq() - 1
    }

    /// Past a few thousand lines, the index grows eightfold at a time up to the line cap:
    /// a full store's index is copied twice while it fills instead of six times, and its
    /// pages are touched once.
    fn grow_index(&mut self) {
        let len = self.recs.len();
        if len == self.recs.capacity() && len >= 4096 && len < self.caps.max_lines {
            let want = self.caps.max_lines.min(len.saturating_mul(8));
            self.recs.reserve_exact(want - len);
        }
    }

    /// The absolute index of a line's block.
    fn block_at(&self, rec: &Rec) -> u64 {
        self.first_block + u64::from(rec.block.wrapping_sub(self.first_block as u32))
    }

    fn line(&self, rec: &Rec) -> StoredLine<'_> {
        let block = &self.blocks[rec.block.wrapping_sub(self.first_block as u32) as usize];
        let start = rec.start as usize;
        StoredLine {
            display: &block[start..start + rec.display as usize],
            styled: rec.meta.styled,
            at: rec.at(),
            time_ms: rec.meta.time_ms,
            tag: rec.meta.tag,
            kind: rec.meta.kind,
        }
    }

    /// Sequence number of the oldest line still held.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// One past the newest line's sequence number (= lines ever pushed).
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.recs.len() as u64
    }

    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Lines evicted so far.
    pub fn evicted(&self) -> u64 {
        self.first_seq
    }

    pub fn evicted_bytes(&self) -> u64 {
        self.evicted_bytes
    }

    /// Bytes the lines held take (text and records).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes of text blocks allocated (at most a block or two above `bytes`).
    pub fn allocated(&self) -> usize {
        self.blocks.iter().map(String::capacity).sum::<usize>()
            + self.recs.len() * std::mem::size_of::<Rec>()
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    fn index(&self, seq: u64) -> Option<usize> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        (i < self.recs.len()).then_some(i)
    }

    /// One past the newest line held at or before position `at` (`first_seq` when none
    /// is): lines are stored in the order of the input, so their positions only grow.
    pub fn end_at(&self, at: u64) -> u64 {
        self.first_seq + self.recs.partition_point(|r| r.at() <= at) as u64
    }

    /// The first line held whose time (or estimate) is at or after `ms`: times only grow
    /// along a store (arrival times, and an estimate that never goes back).
    pub fn from_time(&self, ms: u32) -> Option<Stamp> {
        let time = |r: &Rec| {
            Stamp {
                at: r.at(),
                ms: r.meta.time_ms,
            }
            .time_or_estimate()
        };
        let i = self
            .recs
            .partition_point(|r| time(r).is_none_or(|t| t < ms));
        self.recs.get(i).map(|r| Stamp {
            at: r.at(),
            ms: r.meta.time_ms,
        })
    }

    /// The newest line held at or before position `at`.
    pub fn stamp_at(&self, at: u64) -> Option<Stamp> {
        let i = self.recs.partition_point(|r| r.at() <= at).checked_sub(1)?;
        self.recs.get(i).map(Rec::stamp)
    }

    /// The position of the oldest line held.
    pub fn first_at(&self) -> Option<u64> {
        self.recs.front().map(Rec::at)
    }

    pub fn get(&self, seq: u64) -> Option<StoredLine<'_>> {
        self.index(seq).map(|i| self.line(&self.recs[i]))
    }

    /// The line's kind, tag and time, to change.
    pub fn get_mut(&mut self, seq: u64) -> Option<&mut LineMeta> {
        let i = self.index(seq)?;
        Some(&mut self.recs[i].meta)
    }

    pub fn last(&self) -> Option<StoredLine<'_>> {
        self.recs.back().map(|r| self.line(r))
    }

    /// Lines held, oldest first, with their sequence numbers.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, StoredLine<'_>)> + '_ {
        let first = self.first_seq;
        self.recs
            .iter()
            .enumerate()
            .map(move |(i, r)| (first + i as u64, self.line(r)))
    }

    /// Lines from `seq` (clamped to what is held) to the end.
    pub fn iter_from(&self, seq: u64) -> impl Iterator<Item = (u64, StoredLine<'_>)> + '_ {
        let skip = (seq.saturating_sub(self.first_seq) as usize).min(self.recs.len());
        let first = self.first_seq + skip as u64;
        self.recs
            .range(skip..)
            .enumerate()
            .map(move |(i, r)| (first + i as u64, self.line(r)))
    }

    /// Kinds and tags of the lines from `seq` to the end, to change.
    pub fn iter_mut_from(&mut self, seq: u64) -> impl Iterator<Item = (u64, &mut LineMeta)> + '_ {
        let skip = (seq.saturating_sub(self.first_seq) as usize).min(self.recs.len());
        let first = self.first_seq + skip as u64;
        self.recs
            .range_mut(skip..)
            .enumerate()
            .map(move |(i, r)| (first + i as u64, &mut r.meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_display_and_plain() {
        let mut s = LineStore::new(Caps::default());
        let a = s.push(
            "\x1b[1mbold\x1b[0m",
            Some("bold"),
            Stamp { at: 16, ms: 5 },
            0,
            0,
        );
        let b = s.push("plain", None, Stamp::default(), 0, 0);
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
            ..Caps::default()
        });
        for i in 0..10 {
            s.push(&format!("line {i}"), None, Stamp::default(), 0, 0);
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
            ..Caps::default()
        });
        for _ in 0..10 {
            s.push(&"x".repeat(50), None, Stamp::default(), 0, 0);
        }
        assert!(s.bytes() <= 200);
        assert_eq!(s.len(), 2);
        s.push(&"y".repeat(5000), None, Stamp::default(), 0, 0);
        assert_eq!(s.len(), 1);
        assert_eq!(s.get(10).unwrap().plain().len(), 5000);
    }

    #[test]
    fn blocks_are_freed_with_their_lines() {
        let mut s = LineStore::new(Caps {
            max_lines: 100,
            max_bytes: usize::MAX,
            ..Caps::default()
        });
        for i in 0..100_000 {
            s.push(
                &format!("line number {i} with some text"),
                None,
                Stamp::default(),
                0,
                0,
            );
        }
        assert_eq!(s.len(), 100);
        assert!(
            s.allocated() < 2 * 256 * 1024 + 100 * 64,
            "{}",
            s.allocated()
        );
        assert_eq!(
            s.get(99_999).unwrap().plain(),
            "line number 99999 with some text"
        );
        let tags: Vec<u64> = s.iter_from(99_990).map(|(q, _)| q).collect();
        assert_eq!(tags.len(), 10);
    }

    #[test]
    fn block_numbers_past_2_pow_32_still_find_their_lines() {
        let mut s = LineStore::new(Caps {
            max_lines: 50,
            max_bytes: usize::MAX,
            ..Caps::default()
        });
        s.first_block = u64::from(u32::MAX) - 1;
        for i in 0..20_000 {
            s.push(&format!("{i:0>300}"), None, Stamp::default(), 0, 0);
        }
        assert!(s.first_block > u64::from(u32::MAX), "{}", s.first_block);
        assert_eq!(s.len(), 50);
        assert!(
            s.blocks.len() <= 2,
            "old blocks are freed: {}",
            s.blocks.len()
        );
        let newest: Vec<String> = s.iter().map(|(_, l)| l.plain().into_owned()).collect();
        assert_eq!(newest[0], format!("{:0>300}", 19_950));
        assert_eq!(newest[49], format!("{:0>300}", 19_999));
    }
}
