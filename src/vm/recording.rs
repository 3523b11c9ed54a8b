//! Session recordings: every live run's raw streams with their arrival times, written as they
//! come, bounded only by the disk. `vmscope log DIR` reads one back.
//!
//! `session.rec` holds records of `[stream u8][ms u32 LE][len u32 LE][bytes]`; stream 0 is
//! the driver's stderr, 1 its terminal. `meta.json` says what ran, when, and how it ended.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

pub const RECORD_FILE: &str = "session.rec";
pub const META_FILE: &str = "meta.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stderr = 0,
    Terminal = 1,
}

enum Job {
    Chunk(Stream, u32, Vec<u8>),
    Exit(i32),
}

/// Writes a session on a thread of its own: a slow or full disk never holds up the screen.
pub struct Recorder {
    tx: Option<mpsc::Sender<Job>>,
    pub dir: PathBuf,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// `$XDG_STATE_HOME/vmscope`, or `~/.local/state/vmscope`.
pub fn state_dir() -> Option<PathBuf> {
    dirs::state_dir().map(|d| d.join("vmscope"))
}

/// `$XDG_STATE_HOME/vmscope/sessions`, or `~/.local/state/vmscope/sessions`.
pub fn sessions_dir() -> Option<PathBuf> {
    state_dir().map(|d| d.join("sessions"))
}

/// Where a pane saved with `S` goes unless the user says otherwise.
pub fn saved_dir() -> Option<PathBuf> {
    state_dir().map(|d| d.join("saved"))
}

/// A new session directory for `name` under the sessions directory, private to the user.
pub fn new_session_dir(name: &str) -> io::Result<PathBuf> {
    let base =
        sessions_dir().ok_or_else(|| io::Error::other("neither XDG_STATE_HOME nor HOME is set"))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&base)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stem = crate::vm::export::file_stem(name);
    let dir = base.join(format!("{secs}-{stem}-{}", std::process::id()));
    fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

impl Recorder {
    /// Starts recording into `dir` (created private if missing). `warn` is called once, from
    /// the writer thread, if writing fails (a full disk): recording stops, the run goes on.
    pub fn start(
        dir: &Path,
        command: &[String],
        warn: impl Fn(String) + Send + 'static,
    ) -> io::Result<Self> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        let meta = serde_json::json!({
            "command": command,
            "started_unix": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            "exit": null,
        });
        fs::write(
            dir.join(META_FILE),
            serde_json::to_vec_pretty(&meta).unwrap_or_default(),
        )?;
        let file = File::create(dir.join(RECORD_FILE))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let meta_path = dir.join(META_FILE);
        let writer = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                // Written as read, chunk by chunk: what was seen is on disk even if vmscope is killed.
                let mut out = file;
                let mut failed = false;
                while let Ok(job) = rx.recv() {
                    match job {
                        Job::Chunk(stream, ms, bytes) if !failed => {
                            let mut head = [0u8; 9];
                            head[0] = stream as u8;
                            head[1..5].copy_from_slice(&ms.to_le_bytes());
                            head[5..9].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
                            let r = out.write_all(&head).and_then(|_| out.write_all(&bytes));
                            if let Err(e) = r {
                                failed = true;
                                warn(format!(
                                    "the session recording stopped: {e}; the run goes on"
                                ));
                            }
                        }
                        Job::Chunk(..) => {}
                        Job::Exit(code) => {
                            let _ = out.flush();
                            if let Ok(text) = fs::read(&meta_path)
                                && let Ok(mut meta) =
                                    serde_json::from_slice::<serde_json::Value>(&text)
                            {
                                meta["exit"] = code.into();
                                let _ = fs::write(
                                    &meta_path,
                                    serde_json::to_vec_pretty(&meta).unwrap_or_default(),
                                );
                            }
                        }
                    }
                }
                let _ = out.flush();
            })?;
        Ok(Self {
            tx: Some(tx),
            dir: dir.to_path_buf(),
            writer: Some(writer),
        })
    }

    pub fn record(&self, stream: Stream, ms: u32, bytes: &[u8]) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Chunk(stream, ms, bytes.to_vec()));
        }
    }

    pub fn exit(&self, code: i32) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Exit(code));
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Whether `dir` holds a session recording.
pub fn is_recording(dir: &Path) -> bool {
    dir.join(RECORD_FILE).is_file()
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub stream: Stream,
    pub ms: u32,
    pub bytes: Vec<u8>,
}

/// Reads the records of a session one by one; a record cut short (the run was killed while
/// writing) ends the reading.
pub fn read_records(dir: &Path, mut each: impl FnMut(Record) -> bool) -> io::Result<()> {
    let mut f = io::BufReader::new(File::open(dir.join(RECORD_FILE))?);
    loop {
        let mut head = [0u8; 9];
        match f.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let stream = if head[0] == 1 {
            Stream::Terminal
        } else {
            Stream::Stderr
        };
        let ms = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        let len = u32::from_le_bytes([head[5], head[6], head[7], head[8]]) as usize;
        let mut bytes = vec![0u8; len];
        match f.read_exact(&mut bytes) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        if !each(Record { stream, ms, bytes }) {
            return Ok(());
        }
    }
}

/// The exit status a recording says its run ended with.
pub fn recorded_exit(dir: &Path) -> Option<i32> {
    let text = fs::read(dir.join(META_FILE)).ok()?;
    let meta: serde_json::Value = serde_json::from_slice(&text).ok()?;
    meta["exit"].as_i64().and_then(|c| i32::try_from(c).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("s");
        {
            let r = Recorder::start(&d, &["driver".into()], |_| {}).unwrap();
            r.record(Stream::Stderr, 5, b"vm # one\n");
            r.record(Stream::Terminal, 7, b"In [1]: ");
            r.record(Stream::Stderr, 900, b"vm # two\n");
            r.exit(3);
        }
        let mut got = Vec::new();
        read_records(&d, |r| {
            got.push(r);
            true
        })
        .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[1],
            Record {
                stream: Stream::Terminal,
                ms: 7,
                bytes: b"In [1]: ".to_vec()
            }
        );
        assert_eq!(got[2].ms, 900);
        assert_eq!(recorded_exit(&d), Some(3));
        let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "recordings are private");
    }

    #[test]
    fn a_full_disk_warns_once_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("s");
        fs::create_dir(&d).unwrap();
        std::os::unix::fs::symlink("/dev/full", d.join(RECORD_FILE)).unwrap();
        let (tx, rx) = mpsc::channel();
        {
            let r = Recorder::start(&d, &[], move |m| tx.send(m).unwrap()).unwrap();
            for _ in 0..3 {
                r.record(Stream::Stderr, 0, &[b'x'; 1 << 20]);
            }
        }
        let warnings: Vec<String> = rx.try_iter().collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("No space left on device"));
    }
}
