//! A window of a recording, read again: the lines around a moment whose panes memory no
//! longer holds (the stores keep the newest lines), parsed anew from the nearest point the
//! first reading noted. A replay seeks anywhere in a recording of any size this way, in the
//! time it takes to parse a few megabytes.

use std::io;
use std::path::Path;

use super::model::TestRun;
use super::recording::{Stream, read_records_from};
use super::{Caps, Parser};

/// A point a recording can be read again from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeekPoint {
    /// The byte of `session.rec` where a record starts.
    pub offset: u64,
    /// Input lines read before it.
    pub lines: u64,
    /// The input was in the middle of a line there.
    pub mid_line: bool,
    /// The time of the last record before it.
    pub ms: u32,
}

/// Points read before the moment and after it: a few megabytes of context on each side.
const BEFORE: usize = 3;
const AFTER: usize = 3;
/// What each pane of a window keeps at least.
const WINDOW_LINES: usize = 200_000;
const WINDOW_BYTES: usize = 16 << 20;

/// The run as read again around input line `line`.
#[derive(Debug)]
pub struct Window {
    pub run: TestRun,
    /// The input lines it holds.
    pub from_line: u64,
    pub to_line: u64,
}

impl Window {
    /// Whether it shows input line `line` with its context before it.
    pub fn covers(&self, line: u64) -> bool {
        line >= self.from_line && line <= self.to_line
    }
}

/// The input line a recording had reached at time `ms`, as far as `index` tells.
pub fn line_at(index: &[SeekPoint], ms: u32) -> u64 {
    let i = index.partition_point(|p| p.ms <= ms);
    index.get(i.saturating_sub(1)).map_or(0, |p| p.lines + 1)
}

/// Reads the window of the recording in `dir` around input line `line`, from the points of
/// `index`; `machines`: the run's machines, in order (their panes keep their numbers).
pub fn read(
    dir: &Path,
    index: &[SeekPoint],
    line: u64,
    machines: &[String],
    caps: Caps,
) -> io::Result<Window> {
    let at = index.partition_point(|p| p.lines < line).saturating_sub(1);
    let start = index
        .get(at.saturating_sub(BEFORE))
        .copied()
        .unwrap_or(SeekPoint {
            offset: 0,
            lines: 0,
            mid_line: false,
            ms: 0,
        });
    let stop = index.get(at + AFTER + 1).map(|p| p.offset);
    // The window holds what it reads whatever the run's caps: it is a few MiB at most.
    let caps = Caps {
        max_lines: caps.max_lines.max(WINDOW_LINES),
        max_bytes: caps.max_bytes.max(WINDOW_BYTES),
        ..caps
    };
    let mut parser = Parser::new(caps, Parser::env_options());
    // A line cut by the point is skipped: it is counted as read.
    let mut skip = start.mid_line;
    parser.start_at(start.lines + u64::from(skip), machines);
    let mut offset = start.offset;
    read_records_from(dir, start.offset, |r| {
        if stop.is_some_and(|s| offset >= s) {
            return false;
        }
        offset += super::recording::RECORD_HEAD as u64 + r.bytes.len() as u64;
        if r.stream == Stream::Terminal {
            return true;
        }
        let mut bytes = &r.bytes[..];
        if skip {
            match memchr::memchr2(b'\n', b'\r', bytes) {
                Some(i) => {
                    bytes = &bytes[i + 1..];
                    skip = false;
                }
                None => return true,
            }
        }
        parser.feed(bytes, r.ms);
        true
    })?;
    parser.finish();
    // A window is shown as the run was, the merged view too.
    parser
        .run
        .tests
        .iter_mut()
        .for_each(super::model::Test::merge);
    let to_line = parser.run.lines;
    Ok(Window {
        run: parser.run,
        from_line: start.lines + 1,
        to_line,
    })
}
