//! Session recordings: every live run's raw streams with their arrival times, written as they
//! come; a disk that cannot keep up or fills cuts the recording, never the run. `vmscope log DIR` reads one back.
//!
//! `session.rec` holds records of `[stream u8][ms u32 LE][len u32 LE][bytes]`; stream 0 is
//! the driver's stderr, 1 its terminal. `meta.json` says what ran, when, how it ended, and where and why the recording was cut
//! (`cut`: `at_ms`, `bytes`, `why`) when it was.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub const RECORD_FILE: &str = "session.rec";
pub const META_FILE: &str = "meta.json";
/// The marks the user set on the recording (`vmscope log DIR` reads them back).
pub const MARKS_FILE: &str = "marks.json";
/// Bytes before each record's own: stream, time, length.
pub const RECORD_HEAD: usize = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stderr = 0,
    Terminal = 1,
}

enum Job {
    Chunk(Stream, u32, Vec<u8>),
    Exit(i32),
    /// The queue overflowed at this time: what is queued is written, then nothing more.
    Cut(u32),
}

/// What the queue to the disk may hold: past it the disk is not keeping up, and the
/// recording is cut rather than memory growing or the screen waiting.
pub const QUEUE_LIMIT: usize = 4 << 20;
/// The directory of a recording where the screenshots of its run are copied.
pub const SHOTS_DIR: &str = "screenshots";

/// How long quitting waits for the queue to reach the disk.
pub const QUIT_GRACE: Duration = Duration::from_secs(2);
/// `meta.json` is written this long at least, in place: a later update (the exit status, a
/// cut) needs no new block of a disk that may be full by then.
const META_ROOM: usize = 2048;
const NO_EXIT: i64 = i64::MIN;

/// What the writer thread and the one that quits share.
struct Shared {
    /// Bytes queued and not yet written.
    queued: AtomicUsize,
    /// The recording stops taking chunks (cut, or a write failed).
    cut: AtomicBool,
    /// Quitting gave up waiting: the writer writes nothing more, `meta.json` included.
    abandoned: AtomicBool,
    /// Held while `meta.json` is written.
    meta: Mutex<()>,
    /// The exit status recorded (`NO_EXIT`: none yet), for a quit that gives the writer up.
    exit: AtomicI64,
    meta_path: PathBuf,
}

/// Writes a session on a thread of its own: a slow or full disk never holds up the screen,
/// and never costs more memory than `QUEUE_LIMIT`.
pub struct Recorder {
    tx: Option<mpsc::Sender<Job>>,
    pub dir: PathBuf,
    writer: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
    done: mpsc::Receiver<()>,
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
        let file = File::create(dir.join(RECORD_FILE))?;
        // Test-only: a disk this slow for every write, to see the recording cut.
        let delay = std::env::var("VMSCOPE_TEST_RECORD_DELAY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis);
        match delay {
            Some(d) => Self::start_with(dir, command, SlowDisk(file, d), warn),
            None => Self::start_with(dir, command, file, warn),
        }
    }

    /// Records into `sink` (the session file, or a slow one in tests).
    pub fn start_with(
        dir: &Path,
        command: &[String],
        sink: impl Write + Send + 'static,
        warn: impl Fn(String) + Send + 'static,
    ) -> io::Result<Self> {
        let meta = serde_json::json!({
            "command": command,
            "started_unix": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            "exit": null,
            "cut": null,
        });
        let meta_path = dir.join(META_FILE);
        write_meta(&meta_path, &meta)?;
        let shared = Arc::new(Shared {
            queued: AtomicUsize::new(0),
            cut: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            meta: Mutex::new(()),
            exit: AtomicI64::new(NO_EXIT),
            meta_path,
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        let sh = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                write_jobs(&sh, rx, sink, warn);
                let _ = done_tx.send(());
            })?;
        Ok(Self {
            tx: Some(tx),
            dir: dir.to_path_buf(),
            writer: Some(writer),
            shared,
            done,
        })
    }

    /// Queues a chunk. Returns what to tell the user the first time the disk could not keep
    /// up: the recording is cut there, the run goes on.
    pub fn record(&self, stream: Stream, ms: u32, bytes: &[u8]) -> Option<String> {
        let tx = self.tx.as_ref()?;
        if self.shared.cut.load(Ordering::Relaxed) {
            return None;
        }
        let queued = self.shared.queued.load(Ordering::Relaxed);
        if queued + bytes.len() > QUEUE_LIMIT {
            self.shared.cut.store(true, Ordering::Relaxed);
            let _ = tx.send(Job::Cut(ms));
            return Some(format!(
                "the session recording is cut at {}: the disk did not keep up ({} MiB waiting); \
                 the run goes on",
                clock_ms(ms),
                QUEUE_LIMIT >> 20
            ));
        }
        self.shared.queued.fetch_add(bytes.len(), Ordering::Relaxed);
        let _ = tx.send(Job::Chunk(stream, ms, bytes.to_vec()));
        None
    }

    pub fn exit(&self, code: i32) {
        self.shared.exit.store(code.into(), Ordering::Relaxed);
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Exit(code));
        }
    }

    /// Lets the queue reach the disk for at most `grace`; then gives the rest up and marks
    /// the recording cut. Returns whether all of it was written.
    pub fn finish(&mut self, grace: Duration) -> bool {
        self.tx = None;
        if self.done.recv_timeout(grace).is_ok() {
            if let Some(w) = self.writer.take() {
                let _ = w.join();
            }
            return true;
        }
        let _guard = lock(&self.shared.meta);
        self.shared.abandoned.store(true, Ordering::Relaxed);
        let left = self.shared.queued.load(Ordering::Relaxed);
        let why = format!(
            "vmscope quit before the disk took the last {:.1} MiB",
            left as f64 / 1048576.0
        );
        let _ = update_meta(&self.shared.meta_path, |m| {
            let code = self.shared.exit.load(Ordering::Relaxed);
            if code != NO_EXIT {
                m["exit"] = code.into();
            }
            if m["cut"].is_null() {
                m["cut"] = serde_json::json!({ "why": why });
            }
        });
        // The writer may be stuck in a write: it is left to the end of the process.
        self.writer = None;
        false
    }
}

/// A file written through a slow disk (`VMSCOPE_TEST_RECORD_DELAY_MS`).
struct SlowDisk(File, Duration);

impl Write for SlowDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::thread::sleep(self.1);
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Takes a chunk's bytes off the queue's count when dropped.
struct Dequeue<'a>(&'a AtomicUsize, usize);

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The writer thread: chunks as they come, so what was seen is on disk even if vmscope is
/// killed; a failed write or an overflow cuts the recording and says where in `meta.json`.
fn write_jobs(sh: &Shared, rx: mpsc::Receiver<Job>, mut out: impl Write, warn: impl Fn(String)) {
    let mut written: u64 = 0;
    let mut last_ms = 0;
    let mut stopped = false;
    let cut = |at_ms: u32, written: u64, why: String| {
        let _guard = lock(&sh.meta);
        if sh.abandoned.load(Ordering::Relaxed) {
            return;
        }
        let _ = update_meta(&sh.meta_path, |m| {
            m["cut"] = serde_json::json!({ "at_ms": at_ms, "bytes": written, "why": why });
        });
    };
    while let Ok(job) = rx.recv() {
        if sh.abandoned.load(Ordering::Relaxed) {
            return;
        }
        match job {
            Job::Chunk(stream, ms, bytes) => {
                // Counted as queued until written: the bound is on memory, this chunk's too.
                let _queued = Dequeue(&sh.queued, bytes.len());
                if stopped {
                    continue;
                }
                let mut head = [0u8; 9];
                head[0] = stream as u8;
                head[1..5].copy_from_slice(&ms.to_le_bytes());
                head[5..9].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
                match out.write_all(&head).and_then(|_| out.write_all(&bytes)) {
                    Ok(()) => {
                        written += (head.len() + bytes.len()) as u64;
                        last_ms = ms;
                    }
                    Err(e) => {
                        stopped = true;
                        sh.cut.store(true, Ordering::Relaxed);
                        tracing::warn!(at_ms = last_ms, written, error = %e, "recording cut");
                        cut(last_ms, written, e.to_string());
                        warn(format!(
                            "the session recording stopped at {}: {e}; the run goes on",
                            clock_ms(last_ms)
                        ));
                    }
                }
            }
            Job::Cut(ms) => {
                if !stopped {
                    stopped = true;
                    let _ = out.flush();
                    cut(ms, written, "the disk did not keep up".into());
                }
            }
            Job::Exit(code) => {
                let _ = out.flush();
                let _guard = lock(&sh.meta);
                if !sh.abandoned.load(Ordering::Relaxed) {
                    let _ = update_meta(&sh.meta_path, |m| m["exit"] = code.into());
                }
            }
        }
    }
    let _ = out.flush();
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.finish(QUIT_GRACE);
        }
    }
}

/// Milliseconds since the start as a clock: `01:02:03.4` or `02:03.4`.
fn clock_ms(ms: u32) -> String {
    let s = ms / 1000;
    let tenth = (ms % 1000) / 100;
    if s >= 3600 {
        format!("{}:{:02}:{:02}.{tenth}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}.{tenth}", s / 60, s % 60)
    }
}

/// Writes `meta` in place, padded to `META_ROOM`, so a rewrite never needs a new block.
fn write_meta(path: &Path, meta: &serde_json::Value) -> io::Result<()> {
    let mut text = serde_json::to_vec_pretty(meta).unwrap_or_default();
    text.push(b'\n');
    if text.len() < META_ROOM {
        text.resize(META_ROOM, b' ');
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    f.write_all(&text)?;
    f.set_len(text.len() as u64)
}

fn update_meta(path: &Path, change: impl FnOnce(&mut serde_json::Value)) -> io::Result<()> {
    let text = fs::read(path)?;
    let mut meta: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    change(&mut meta);
    write_meta(path, &meta)
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
pub fn read_records(dir: &Path, each: impl FnMut(Record) -> bool) -> io::Result<()> {
    read_records_from(dir, 0, each)
}

/// The same from byte `offset` of `session.rec`, where a record starts.
pub fn read_records_from(
    dir: &Path,
    offset: u64,
    mut each: impl FnMut(Record) -> bool,
) -> io::Result<()> {
    use std::io::Seek;
    let mut file = File::open(dir.join(RECORD_FILE))?;
    file.seek(io::SeekFrom::Start(offset))?;
    let mut f = io::BufReader::new(file);
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

fn read_meta(dir: &Path) -> Option<serde_json::Value> {
    let text = fs::read(dir.join(META_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The exit status a recording says its run ended with.
pub fn recorded_exit(dir: &Path) -> Option<i32> {
    read_meta(dir)?["exit"]
        .as_i64()
        .and_then(|c| i32::try_from(c).ok())
}

/// Why and where a recording was cut short, in words, when it was.
pub fn recorded_cut(dir: &Path) -> Option<String> {
    let meta = read_meta(dir)?;
    let cut = meta.get("cut").filter(|c| c.is_object())?;
    let why = cut["why"].as_str().unwrap_or("unknown reason");
    let at = cut["at_ms"]
        .as_u64()
        .and_then(|ms| u32::try_from(ms).ok())
        .map(|ms| format!(" at {}", clock_ms(ms)))
        .unwrap_or_default();
    Some(format!(
        "this recording was cut short{at} ({why}): what followed is not in it"
    ))
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
        let cut = recorded_cut(&d).expect("marked cut");
        assert!(cut.contains("No space left on device"), "{cut}");
    }

    /// A sink that takes nothing until its gate is dropped.
    struct Gated(Option<mpsc::Receiver<()>>);

    impl Write for Gated {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(gate) = self.0.take() {
                let _ = gate.recv();
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_disk_that_cannot_keep_up_cuts_the_recording_not_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // The disk takes nothing until the chunks are sent.
        let (open, gate) = mpsc::channel::<()>();
        let sink = Gated(Some(gate));
        let mut r = Recorder::start_with(d, &[], sink, |_| {}).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        let said: Vec<(u32, String)> = (0..20u32)
            .filter_map(|i| r.record(Stream::Stderr, 1000 * i, &chunk).map(|m| (i, m)))
            .collect();
        // Said once, at the chunk that did not fit in the queue.
        assert_eq!(said.len(), 1, "{said:?}");
        let (at, text) = &said[0];
        assert_eq!(*at as usize, QUEUE_LIMIT >> 20, "{text}");
        assert!(text.contains("did not keep up"), "{text}");
        r.exit(1);
        drop(open);
        assert!(
            r.finish(Duration::from_secs(10)),
            "what was queued is written"
        );
        let meta: serde_json::Value =
            serde_json::from_slice(&fs::read(d.join(META_FILE)).unwrap()).unwrap();
        assert_eq!(meta["cut"]["at_ms"], 1000 * at);
        assert_eq!(meta["cut"]["bytes"], 4 * ((1 << 20) + 9));
        assert_eq!(meta["exit"], 1);
        assert!(recorded_cut(d).unwrap().contains("cut short at 00:04.0"));
    }

    #[test]
    fn quitting_waits_a_grace_period_then_marks_the_recording_cut() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let disk = SlowDisk(
            File::create(d.join(RECORD_FILE)).unwrap(),
            Duration::from_secs(3),
        );
        let mut r = Recorder::start_with(d, &[], disk, |_| {}).unwrap();
        for i in 0..3 {
            assert_eq!(r.record(Stream::Stderr, i, &[b'x'; 1000]), None);
        }
        r.exit(0);
        let started = std::time::Instant::now();
        assert!(!r.finish(Duration::from_millis(200)), "not all written");
        assert!(started.elapsed() < Duration::from_secs(2));
        let meta: serde_json::Value =
            serde_json::from_slice(&fs::read(d.join(META_FILE)).unwrap()).unwrap();
        assert!(
            meta["cut"]["why"].as_str().unwrap().contains("quit before"),
            "{meta}"
        );
        assert_eq!(recorded_exit(d), Some(0), "the exit status is kept");
    }

    #[test]
    fn a_whole_recording_is_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recorder::start(dir.path(), &[], |_| {}).unwrap();
        r.record(Stream::Stderr, 1, b"vm # line\n");
        assert!(r.finish(QUIT_GRACE));
        assert_eq!(recorded_cut(dir.path()), None);
    }
}
