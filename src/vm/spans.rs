//! Where one line's SGR sequences are, found by the pass that checked the line.
//!
//! A coloured line is read several times over: stripped into its plain form, searched for
//! the driver's resets where a glued message may start, searched for the dim head of a
//! glued console line. Each of those used to scan the line for `ESC` again; with the
//! sequences' places noted once, they read a short list instead.

/// The SGR sequences of the line being parsed, as byte ranges of that line.
#[derive(Debug, Default)]
pub struct SgrSpans {
    /// Address and length of the line the ranges belong to: a part of it (the line
    /// without its Nix prefix, one side of a glued line) is recognised by where it lies.
    base: usize,
    len: usize,
    ranges: Vec<(u32, u32)>,
}

/// The sequences inside one part of the line, as offsets in that part.
#[derive(Debug, Clone, Copy)]
pub struct InPart<'a> {
    ranges: &'a [(u32, u32)],
    off: u32,
}

impl SgrSpans {
    /// Starts a new line: no ranges known yet.
    pub fn start(&mut self, line: &[u8]) {
        self.base = line.as_ptr() as usize;
        self.len = line.len();
        self.ranges.clear();
    }

    /// Notes the sequence at `start..end` of the line; ranges come in order.
    pub fn push(&mut self, start: usize, end: usize) {
        self.ranges.push((start as u32, end as u32));
    }

    /// Finds the sequences of a line that was cleaned into a buffer (every escape left in
    /// it is a well-formed SGR sequence).
    pub fn scan(&mut self, line: &str) {
        self.start(line.as_bytes());
        let bytes = line.as_bytes();
        for i in memchr::memchr_iter(0x1b, bytes) {
            if let Some(end) = memchr::memchr(b'm', &bytes[i..]) {
                self.ranges.push((i as u32, (i + end + 1) as u32));
            }
        }
    }

    /// No line: `part` finds nothing until the next `start` or `scan`.
    pub fn forget(&mut self) {
        self.len = 0;
        self.base = 0;
        self.ranges.clear();
    }

    /// The sequences inside `part`, when `part` lies in the line and cuts no sequence in
    /// two; `None` tells the caller to scan `part` itself.
    pub fn part(&self, part: &str) -> Option<InPart<'_>> {
        let off = (part.as_ptr() as usize).checked_sub(self.base)?;
        let end = off.checked_add(part.len())?;
        if self.len == 0 || end > self.len {
            return None;
        }
        if off == 0 && end == self.len {
            return Some(InPart {
                ranges: &self.ranges,
                off: 0,
            });
        }
        let (off, end) = (off as u32, end as u32);
        let lo = self.ranges.partition_point(|&(s, _)| s < off);
        let hi = self.ranges.partition_point(|&(s, _)| s < end);
        let cut_before = lo > 0 && self.ranges[lo - 1].1 > off;
        let cut_after = hi > lo && self.ranges[hi - 1].1 > end;
        if cut_before || cut_after {
            return None;
        }
        Some(InPart {
            ranges: &self.ranges[lo..hi],
            off,
        })
    }
}

impl InPart<'_> {
    /// The sequences' ranges in the part.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let off = self.off;
        self.ranges
            .iter()
            .map(move |&(s, e)| ((s - off) as usize, (e - off) as usize))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Appends `part` (the text these ranges were taken for) without its sequences.
    pub fn strip_into(&self, part: &str, out: &mut String) {
        let mut at = 0;
        for (s, e) in self.iter() {
            out.push_str(&part[at..s]);
            at = e;
        }
        out.push_str(&part[at..]);
    }

    /// Where each sequence equal to `seq` starts.
    pub fn find<'s>(&'s self, part: &'s str, seq: &'s str) -> impl Iterator<Item = usize> + 's {
        let (part, seq) = (part.as_bytes(), seq.as_bytes());
        // Most sequences differ from `seq` in length: no byte comparison for them.
        self.iter()
            .filter(move |&(s, e)| e - s == seq.len() && part[s..e] == *seq)
            .map(|(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::sanitize;

    fn spans_of(line: &str) -> SgrSpans {
        let mut s = SgrSpans::default();
        s.scan(line);
        s
    }

    #[test]
    fn every_part_strips_as_the_scanning_strip_does() {
        let line = "\x1b[2mnode-01 # [\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mJournal\x1b[0m.";
        let spans = spans_of(line);
        let mut seen = 0;
        for a in 0..=line.len() {
            for b in a..=line.len() {
                let part = &line[a..b];
                let Some(p) = spans.part(part) else { continue };
                let mut out = String::new();
                p.strip_into(part, &mut out);
                assert_eq!(out, sanitize::strip_sgr(part), "{part:?}");
                seen += 1;
            }
        }
        // Parts that cut a sequence are refused, the others are all served.
        assert!(seen > line.len() * 10, "{seen}");
        assert!(spans.part(&line[1..]).is_none());
        assert!(spans.part(&line[..line.len() - 2]).is_none());
    }

    #[test]
    fn text_elsewhere_is_not_taken_for_part_of_the_line() {
        let line = String::from("\x1b[1mbold\x1b[0m");
        let spans = spans_of(&line);
        let other = line.clone();
        assert!(spans.part(&other).is_none());
        assert_eq!(spans.part(&line).map(|p| p.iter().count()), Some(2));
        let mut none = SgrSpans::default();
        none.scan(&line);
        none.forget();
        assert!(none.part(&line).is_none());
    }

    #[test]
    fn finds_a_sequence_by_its_text() {
        let line = "\x1b[2ma # x\x1b[0mb: \x1b[1mc\x1b[0m";
        let spans = spans_of(line);
        let p = spans.part(line).unwrap();
        let resets: Vec<usize> = p.find(line, "\x1b[0m").collect();
        assert_eq!(resets, vec![9, 21]);
        let tail = &line[13..];
        let p = spans.part(tail).unwrap();
        assert_eq!(p.find(tail, "\x1b[0m").collect::<Vec<_>>(), vec![8]);
    }
}
