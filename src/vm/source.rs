//! Where bytes come from: a file, standard input, a growing file, the demo scenario.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::parser::Parser;
use super::store::NO_TIME;

const CHUNK: usize = 1 << 20;
/// What a reader thread sends at a time: parsing one takes about a millisecond, so a key
/// pressed while a big log loads waits no longer than that.
pub const SLICE: usize = 256 << 10;

/// An input the user named.
pub enum Input {
    Stdin,
    File(PathBuf, File),
    /// A session directory written by a live run.
    Recording(PathBuf),
}

/// Opening an input failed, in words the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}: no such file")]
    Missing(String),
    #[error("{0}: permission denied")]
    Denied(String),
    #[error("{0}: is a directory (give a log file, or a session recording)")]
    Directory(String),
    #[error("standard input is a terminal: pipe a log into `vmscope log -`, or name a file")]
    TerminalStdin,
    #[error("{0}: {1}")]
    Other(String, io::Error),
}

impl Input {
    pub fn open(path: &str) -> Result<Self, InputError> {
        if path == "-" {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Err(InputError::TerminalStdin);
            }
            return Ok(Self::Stdin);
        }
        let p = Path::new(path);
        if p.is_dir() {
            if super::recording::is_recording(p) {
                return Ok(Self::Recording(p.to_path_buf()));
            }
            return Err(InputError::Directory(path.to_string()));
        }
        match File::open(p) {
            Ok(f) => Ok(Self::File(p.to_path_buf(), f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(InputError::Missing(path.to_string()))
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                Err(InputError::Denied(path.to_string()))
            }
            Err(e) => Err(InputError::Other(path.to_string(), e)),
        }
    }

    /// A name for messages and the "whole log is in …" note.
    pub fn describe(&self) -> String {
        match self {
            Self::Stdin => "standard input".to_string(),
            Self::File(p, _) | Self::Recording(p) => p.display().to_string(),
        }
    }

    pub fn is_stdin(&self) -> bool {
        matches!(self, Self::Stdin)
    }
}

/// Reads a whole input into a parser.
pub fn read_all(input: Input, parser: &mut Parser) -> io::Result<()> {
    let _span = tracing::info_span!("read_all", input = %input.describe()).entered();
    let started = std::time::Instant::now();
    let r = read_whole(input, parser);
    tracing::info!(
        bytes = parser.run.bytes,
        lines = parser.run.lines,
        ms = started.elapsed().as_millis() as u64,
        ok = r.is_ok(),
        "read"
    );
    r
}

fn read_whole(input: Input, parser: &mut Parser) -> io::Result<()> {
    let mut reader: Box<dyn Read> = match input {
        Input::Stdin => Box::new(io::stdin().lock()),
        Input::File(_, f) => Box::new(f),
        Input::Recording(dir) => {
            super::recording::read_records(&dir, |r| {
                match r.stream {
                    super::recording::Stream::Stderr => parser.feed(&r.bytes, r.ms),
                    super::recording::Stream::Terminal => parser.feed_terminal(&r.bytes),
                }
                true
            })?;
            parser.finish();
            if let Some(code) = super::recording::recorded_exit(&dir) {
                parser.set_exit_code(code);
            }
            return Ok(());
        }
    };
    let mut buf = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => parser.feed(&buf[..n], NO_TIME),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    parser.finish();
    Ok(())
}

/// How far apart the points a replay can read a recording again from are.
pub const SEEK_STEP: u64 = 1 << 20;

/// What a reader thread reports.
#[derive(Debug)]
pub enum SourceEvent {
    /// Bytes, and when they arrived (ms since start) for live inputs.
    Data(Vec<u8>, u32),
    /// What the driver wrote on its terminal (a recording's other stream), and when.
    Terminal(Vec<u8>, u32),
    /// How many bytes of its file a reader has read so far, where that is not the bytes it
    /// sends (a recording's records).
    Read(u64),
    /// The next record of a recording starts at this byte of `session.rec` (said every
    /// `SEEK_STEP` bytes): where a replay can read the run again from.
    Offset(u64),
    /// The input ended (not sent while following a file).
    End,
    /// Reading failed; the message says why.
    Error(String),
}

/// How a reader thread reads.
#[derive(Debug, Clone, Copy)]
pub struct ReadMode {
    /// Keep reading as the file grows.
    pub follow: bool,
    /// Stamp bytes with arrival times.
    pub timed: bool,
}

/// Reads `input` on the calling thread, sending what it reads; returns when the input ends
/// or the receiver is gone. Never panics.
pub fn pump(
    input: Input,
    mode: ReadMode,
    start: Instant,
    mut send: impl FnMut(SourceEvent) -> bool,
) {
    let stamp = |timed: bool| -> u32 {
        if timed {
            u32::try_from(start.elapsed().as_millis()).unwrap_or(NO_TIME - 1)
        } else {
            NO_TIME
        }
    };
    let mut buf = vec![0u8; SLICE];
    tracing::info!(input = %input.describe(), follow = mode.follow, "reading");
    match input {
        Input::Recording(dir) => {
            // How far into the session file, said every slice, for the progress of loading.
            let (mut read, mut said, mut pointed) = (0u64, 0u64, 0u64);
            let r = super::recording::read_records(&dir, |r| {
                if read == 0 || read - pointed >= SEEK_STEP {
                    pointed = read;
                    if !send(SourceEvent::Offset(read)) {
                        return false;
                    }
                }
                read += super::recording::RECORD_HEAD as u64 + r.bytes.len() as u64;
                if read - said >= SLICE as u64 {
                    said = read;
                    if !send(SourceEvent::Read(read)) {
                        return false;
                    }
                }
                match r.stream {
                    super::recording::Stream::Stderr => send(SourceEvent::Data(r.bytes, r.ms)),
                    super::recording::Stream::Terminal => {
                        send(SourceEvent::Terminal(r.bytes, r.ms))
                    }
                }
            });
            let _ = match r {
                Ok(()) => send(SourceEvent::End),
                Err(e) => send(SourceEvent::Error(format!("{}: {e}", dir.display()))),
            };
        }
        Input::Stdin => {
            let mut r = io::stdin().lock();
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if !send(SourceEvent::Data(buf[..n].to_vec(), stamp(true))) {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = send(SourceEvent::Error(format!("standard input: {e}")));
                        return;
                    }
                }
            }
            let _ = send(SourceEvent::End);
        }
        Input::File(path, mut f) => {
            let mut pos: u64 = 0;
            let mut caught_up = false;
            loop {
                match f.read(&mut buf) {
                    Ok(0) => {
                        if !mode.follow {
                            let _ = send(SourceEvent::End);
                            return;
                        }
                        caught_up = true;
                        std::thread::sleep(Duration::from_millis(100));
                        // A file truncated under us (log rotation) is read again from its start.
                        if let Ok(meta) = std::fs::metadata(&path)
                            && meta.len() < pos
                        {
                            pos = 0;
                            let _ = f.seek(SeekFrom::Start(0));
                        }
                    }
                    Ok(n) => {
                        pos += n as u64;
                        let t = stamp(mode.timed || caught_up);
                        if !send(SourceEvent::Data(buf[..n].to_vec(), t)) {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = send(SourceEvent::Error(format!("{}: {e}", path.display())));
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::recording::{RECORD_FILE, Recorder, Stream};

    #[test]
    fn a_recording_says_how_far_it_has_been_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recorder::start(dir.path(), &[], |_| {}).unwrap();
        for i in 0..48 {
            r.record(Stream::Stderr, i, &[b'x'; 64 << 10]);
        }
        assert!(r.finish(Duration::from_secs(10)));
        let size = std::fs::metadata(dir.path().join(RECORD_FILE))
            .unwrap()
            .len();
        let input = Input::open(dir.path().to_str().unwrap()).unwrap();
        let mode = ReadMode {
            follow: false,
            timed: false,
        };
        let mut read = Vec::new();
        let mut data = 0;
        pump(input, mode, Instant::now(), |ev| {
            match ev {
                SourceEvent::Read(n) => read.push(n),
                SourceEvent::Data(b, _) => data += b.len(),
                _ => {}
            }
            true
        });
        assert_eq!(data, 48 << 16);
        // About every 256 KiB of the 3 MiB file, growing, never past its size.
        assert!((10..=13).contains(&read.len()), "{read:?}");
        assert!(read.windows(2).all(|w| w[0] < w[1]), "{read:?}");
        assert!(*read.last().unwrap() <= size);
    }
}
