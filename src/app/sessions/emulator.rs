//! The terminal emulator of a PTY session (the driver's REPL): vt100 keeps the screen, and
//! the queries programs send to their terminal get the answers a terminal would give.
//!
//! tui-term is not used: its 0.3 release is tied to vt100 0.16, whose parser has no
//! callbacks, and the callbacks of 0.18 are what lets this answer cursor-position and
//! device-attribute queries from parsed sequences (prompt_toolkit waits for them).

use vt100::{Callbacks, Parser, Screen};

/// Rows of history kept above the screen.
pub const SCROLLBACK: usize = 10_000;

#[derive(Debug, Default)]
pub struct Replies {
    /// Bytes to write back to the program.
    pub out: Vec<u8>,
    /// The program rang the bell.
    pub bell: bool,
}

impl Callbacks for Replies {
    fn audible_bell(&mut self, _: &mut Screen) {
        self.bell = true;
    }

    fn unhandled_csi(
        &mut self,
        screen: &mut Screen,
        i1: Option<u8>,
        _i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let first = params.first().and_then(|p| p.first()).copied().unwrap_or(0);
        match (i1, c, first) {
            // Cursor position report.
            (None, 'n', 6) => {
                let (row, col) = screen.cursor_position();
                self.out
                    .extend_from_slice(format!("\x1b[{};{}R", row + 1, col + 1).as_bytes());
            }
            // Status report: all is well.
            (None, 'n', 5) => self.out.extend_from_slice(b"\x1b[0n"),
            // Primary device attributes: a VT220 with ANSI colours.
            (None, 'c', 0) => self.out.extend_from_slice(b"\x1b[?62;22c"),
            // Secondary device attributes.
            (Some(b'>'), 'c', 0) => self.out.extend_from_slice(b"\x1b[>1;10;0c"),
            _ => {}
        }
    }
}

pub struct Emulator {
    parser: Parser<Replies>,
}

impl Emulator {
    pub fn new(cols: u16, rows: u16) -> Self {
        Self {
            parser: Parser::new_with_callbacks(nz(rows), nz(cols), SCROLLBACK, Replies::default()),
        }
    }

    /// Feeds the program's output; returns what must be written back to it.
    pub fn process(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.parser.process(bytes);
        std::mem::take(&mut self.parser.callbacks_mut().out)
    }

    pub fn screen(&self) -> &Screen {
        self.parser.screen()
    }

    pub fn size(&self) -> (u16, u16) {
        let (rows, cols) = self.parser.screen().size();
        (cols.get(), rows.get())
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.parser.set_size(nz(rows), nz(cols));
    }

    /// Rows scrolled back into the history (0: the live screen).
    pub fn scrollback(&self) -> usize {
        self.parser.screen().scrollback()
    }

    pub fn scroll_by(&mut self, rows: i64) {
        let now = self.scrollback() as i64;
        let target = (now + rows).max(0) as usize;
        self.parser.screen_mut().set_scrollback(target);
    }

    /// What the row of the cursor holds before it: a shell's or pdb's prompt.
    pub fn before_cursor(&self) -> String {
        let screen = self.parser.screen();
        let (row, col) = screen.cursor_position();
        screen.contents_between(row, 0, row, col)
    }

    pub fn scroll_to_live(&mut self) {
        self.parser.screen_mut().set_scrollback(0);
    }
}

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n.max(1)).unwrap_or(std::num::NonZeroU16::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_cursor_and_attribute_queries() {
        let mut e = Emulator::new(80, 24);
        assert_eq!(e.process(b"ab\r\ncd\x1b[6n"), b"\x1b[2;3R");
        assert_eq!(e.process(b"\x1b[c"), b"\x1b[?62;22c");
        assert_eq!(e.process(b"\x1b[>c"), b"\x1b[>1;10;0c");
        assert_eq!(e.process(b"\x1b[5n"), b"\x1b[0n");
        assert!(e.process(b"plain text").is_empty());
    }

    #[test]
    fn a_query_split_across_reads_is_answered_once() {
        let mut e = Emulator::new(80, 24);
        assert!(e.process(b"\x1b[").is_empty());
        assert_eq!(e.process(b"6n"), b"\x1b[1;1R");
    }

    #[test]
    fn history_can_be_paged() {
        let mut e = Emulator::new(20, 3);
        for i in 0..10 {
            e.process(format!("line {i}\r\n").as_bytes());
        }
        assert!(e.screen().contents().contains("line 9"));
        e.scroll_by(5);
        assert!(e.screen().contents().contains("line 3"));
        e.scroll_to_live();
        assert_eq!(e.scrollback(), 0);
    }
}
