//! Where frames go: each is gathered whole, then written at once between the marks of a
//! synchronized update (DEC private mode 2026).
//!
//! Standard output's own buffer passes a frame on in 1 KiB pieces, and a terminal may show
//! the screen between two of them, half old and half new. A frame sent in one write and
//! marked as one update is shown whole by terminals that know the mode (kitty, WezTerm,
//! foot, iTerm2, tmux 3.4 and newer), and the marks are ignored by those that do not.

use std::io::{self, Write};

const BEGIN: &[u8] = b"\x1b[?2026h";
const END: &[u8] = b"\x1b[?2026l";

pub struct FrameOut<W: Write> {
    inner: W,
    frame: Vec<u8>,
}

impl<W: Write> FrameOut<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            frame: Vec::with_capacity(64 * 1024),
        }
    }
}

impl<W: Write> Write for FrameOut<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.frame.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Sends what was gathered, if anything: a frame that changed nothing writes nothing.
    fn flush(&mut self) -> io::Result<()> {
        if !self.frame.is_empty() {
            let mut whole = Vec::with_capacity(BEGIN.len() + self.frame.len() + END.len());
            whole.extend_from_slice(BEGIN);
            whole.append(&mut self.frame);
            whole.extend_from_slice(END);
            let sent = self.inner.write_all(&whole);
            // A frame that could not be written is dropped rather than sent again later in
            // front of the next one.
            self.frame.clear();
            if self.frame.capacity() > 1 << 20 {
                self.frame.shrink_to(64 * 1024);
            }
            sent?;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_one_marked_write_and_an_empty_one_none() {
        let mut out = FrameOut::new(Vec::new());
        out.write_all(b"\x1b[1;1Hab").unwrap();
        out.write_all(b"cd").unwrap();
        assert!(out.inner.is_empty(), "nothing leaves before the flush");
        out.flush().unwrap();
        assert_eq!(out.inner, b"\x1b[?2026h\x1b[1;1Habcd\x1b[?2026l");
        out.flush().unwrap();
        assert_eq!(out.inner.len(), 8 + 10 + 8, "an empty frame adds nothing");
    }
}
