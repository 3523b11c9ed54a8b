//! Cutting a byte stream into lines.
//!
//! `\n`, `\r\n`, `\r\r\n` (a PTY's output) and a lone `\r` (CR-only files) all end a line.
//! A line longer than the limit is cut into pieces at a UTF-8 boundary, so a 50 MB line with
//! no newline never needs 50 MB of memory; the pieces carry `cut = true` after the first.

/// Default longest piece of a line, in bytes.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

/// One line handed out by the splitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece<'a> {
    pub bytes: &'a [u8],
    /// This piece continues the previous one (the line was longer than the limit).
    pub continued: bool,
}

#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// Carriage returns read and not yet known to end a line alone or with a `\n`.
    pending_cr: u32,
    continued: bool,
    max_line: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl LineSplitter {
    pub fn new(max_line: usize) -> Self {
        Self {
            partial: Vec::new(),
            pending_cr: 0,
            continued: false,
            max_line: max_line.max(16),
        }
    }

    /// Feeds bytes; `emit` receives every complete line (or piece of a long one).
    pub fn feed(&mut self, mut data: &[u8], emit: &mut impl FnMut(Piece<'_>)) {
        while !data.is_empty() {
            if self.pending_cr > 0 {
                match data[0] {
                    b'\r' => {
                        data = &data[1..];
                        self.pending_cr = self.pending_cr.saturating_add(1);
                        continue;
                    }
                    b'\n' => {
                        // `\r\n`, `\r\r\n` (a PTY's output): one line end.
                        data = &data[1..];
                        self.pending_cr = 0;
                        self.end_line(emit);
                        continue;
                    }
                    _ => {
                        // CR-only line ends: every CR ends a line, empty ones included.
                        self.end_crs(emit);
                    }
                }
            }
            match memchr::memchr2(b'\n', b'\r', data) {
                Some(i) => {
                    let line = &data[..i];
                    if data[i] == b'\r' {
                        self.push_partial(line, emit);
                        self.pending_cr = 1;
                    } else if self.partial.is_empty() && line.len() <= self.max_line {
                        emit(Piece {
                            bytes: line,
                            continued: std::mem::take(&mut self.continued),
                        });
                    } else {
                        self.push_partial(line, emit);
                        self.end_line(emit);
                    }
                    data = &data[i + 1..];
                }
                None => {
                    self.push_partial(data, emit);
                    data = &[];
                }
            }
        }
    }

    /// Emits what is left at the end of the input (a last line without newline).
    /// A line has begun and not ended.
    pub fn mid_line(&self) -> bool {
        !self.partial.is_empty() || self.pending_cr > 0
    }

    pub fn finish(&mut self, emit: &mut impl FnMut(Piece<'_>)) {
        if self.pending_cr > 0 {
            self.end_crs(emit);
        } else if !self.partial.is_empty() {
            self.end_line(emit);
        }
        self.continued = false;
    }

    /// Carriage returns that no `\n` followed: each ends a line.
    fn end_crs(&mut self, emit: &mut impl FnMut(Piece<'_>)) {
        self.end_line(emit);
        for _ in 1..std::mem::take(&mut self.pending_cr) {
            self.end_line(emit);
        }
    }

    /// Bytes of an unfinished line held back.
    pub fn pending(&self) -> &[u8] {
        &self.partial
    }

    fn end_line(&mut self, emit: &mut impl FnMut(Piece<'_>)) {
        emit(Piece {
            bytes: &self.partial,
            continued: std::mem::take(&mut self.continued),
        });
        self.partial.clear();
    }

    fn push_partial(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(Piece<'_>)) {
        loop {
            let room = self.max_line - self.partial.len();
            if bytes.len() <= room {
                self.partial.extend_from_slice(bytes);
                return;
            }
            let mut cut = room;
            while cut > 0 && room - cut < 3 && bytes[cut] & 0xC0 == 0x80 {
                cut -= 1;
            }
            self.partial.extend_from_slice(&bytes[..cut]);
            bytes = &bytes[cut..];
            // A character split across two feeds moves whole to the next piece.
            let keep = self.partial.len() - incomplete_tail(&self.partial);
            let tail = self.partial.split_off(keep);
            emit(Piece {
                bytes: &self.partial,
                continued: self.continued,
            });
            self.continued = true;
            self.partial.clear();
            self.partial.extend_from_slice(&tail);
        }
    }
}

/// Number of bytes at the end of `bytes` that start a UTF-8 character without finishing it.
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 != 0x80 {
            let need = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if back < need && back < bytes.len() {
                back
            } else {
                0
            };
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<(String, bool)> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        let mut emit = |p: Piece<'_>| {
            out.push((String::from_utf8_lossy(p.bytes).into_owned(), p.continued));
        };
        for c in chunks {
            s.feed(c, &mut emit);
        }
        s.finish(&mut emit);
        out
    }

    fn texts(v: Vec<(String, bool)>) -> Vec<String> {
        v.into_iter().map(|(s, _)| s).collect()
    }

    #[test]
    fn all_line_ends() {
        let got = texts(split(&[b"a\nb\r\nc\r\r\nd\re\r"], 1024));
        assert_eq!(got, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn cr_only_input_keeps_its_empty_lines() {
        assert_eq!(texts(split(&[b"a\r\rb\r"], 1024)), ["a", "", "b"]);
        assert_eq!(
            texts(split(&[b"a\r", b"\r", b"\rb"], 1024)),
            ["a", "", "", "b"]
        );
        assert_eq!(texts(split(&[b"a\r\r"], 1024)), ["a", ""]);
        assert_eq!(texts(split(&[b"a\r\r\nb"], 1024)), ["a", "b"]);
    }

    #[test]
    fn line_ends_across_chunks() {
        let got = texts(split(
            &[b"ab", b"c\r", b"\nd", b"\r", b"\r", b"\n", b"tail"],
            1024,
        ));
        assert_eq!(got, ["abc", "d", "tail"]);
    }

    #[test]
    fn empty_lines_are_kept() {
        assert_eq!(texts(split(&[b"a\n\n\nb\n"], 1024)), ["a", "", "", "b"]);
    }

    #[test]
    fn long_lines_are_cut_into_pieces() {
        let line = vec![b'x'; 100];
        let got = split(&[&line, b"\nnext\n"], 32);
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], ("x".repeat(32), false));
        assert_eq!(got[1], ("x".repeat(32), true));
        assert_eq!(got[3], ("x".repeat(4), true));
        assert_eq!(got[4], ("next".into(), false));
    }

    #[test]
    fn cuts_never_split_a_character() {
        let line = "é".repeat(40);
        let got = split(&[line.as_bytes(), b"\n"], 31);
        let joined: String = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(joined, line);
        assert!(got.iter().all(|(s, _)| !s.contains('\u{fffd}')));
    }

    #[test]
    fn long_line_fed_byte_by_byte() {
        let data = vec![b'y'; 1000];
        let chunks: Vec<&[u8]> = data.chunks(7).collect();
        let got = split(&chunks, 64);
        assert_eq!(got.iter().map(|(s, _)| s.len()).sum::<usize>(), 1000);
        assert!(got.iter().all(|(s, _)| s.len() <= 64));
    }
}
