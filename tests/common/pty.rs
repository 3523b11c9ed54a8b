//! The real binary in a pseudo-terminal, its screen read back through a vt100 parser.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// Timeouts are multiplied by `$VMSCOPE_TEST_TIMEOUT_SCALE` on slow machines.
pub fn scaled(d: Duration) -> Duration {
    let scale: f64 = std::env::var("VMSCOPE_TEST_TIMEOUT_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    d.mul_f64(scale.max(1.0))
}

pub struct Term {
    pub parser: Arc<Mutex<vt100::Parser>>,
    /// The screen as of the last whole frame: what a terminal honouring synchronized updates
    /// shows. Reading the parser's own screen could catch a frame half applied.
    shown: Arc<Mutex<vt100::Screen>>,
    master: Box<dyn MasterPty + Send>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    child: Box<dyn Child + Send + Sync>,
    /// Every byte the program wrote, for escape-level checks.
    pub raw: Arc<Mutex<Vec<u8>>>,
    /// How many reads brought bytes: the program's writes, as the terminal saw them.
    #[allow(dead_code)]
    pub reads: Arc<std::sync::atomic::AtomicUsize>,
}

impl Term {
    pub fn spawn(args: &[&str], cols: u16, rows: u16) -> Self {
        Self::spawn_env(args, cols, rows, &[])
    }

    pub fn spawn_env(args: &[&str], cols: u16, rows: u16, env: &[(&str, &str)]) -> Self {
        Self::spawn_full(env!("CARGO_BIN_EXE_vmscope"), args, cols, rows, env)
    }

    pub fn spawn_program(program: &str, args: &[&str], cols: u16, rows: u16) -> Self {
        Self::spawn_full(program, args, cols, rows, &[])
    }

    /// vmscope started in `dir` (where the driver keeps its REPL history).
    pub fn spawn_in(dir: &std::path::Path, args: &[&str], cols: u16, rows: u16) -> Self {
        let dir = dir.display().to_string();
        Self::spawn_full(
            env!("CARGO_BIN_EXE_vmscope"),
            args,
            cols,
            rows,
            &[("VMSCOPE_TEST_CWD", &dir)],
        )
    }

    fn spawn_full(
        program: &str,
        args: &[&str],
        cols: u16,
        rows: u16,
        env: &[(&str, &str)],
    ) -> Self {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        // No user configuration leaks into tests.
        let cfg = std::env::temp_dir().join(format!("vmscope-test-config-{}", std::process::id()));
        cmd.env("XDG_CONFIG_HOME", cfg);
        // Session recordings of the tests' live runs stay out of the user's state.
        let state = std::env::temp_dir().join(format!("vmscope-test-state-{}", std::process::id()));
        cmd.env("XDG_STATE_HOME", state);
        cmd.cwd(std::env::temp_dir());
        // The terminal draws kitty's pictures when asked for: it says so to the query.
        let mut kitty = false;
        for (k, v) in env {
            if *k == "VMSCOPE_TEST_CWD" {
                cmd.cwd(v);
            } else if *k == "VMSCOPE_TEST_KITTY" {
                kitty = true;
            } else {
                cmd.env(k, v);
            }
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn vmscope");
        drop(pair.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(nz(rows), nz(cols), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let n_reads = Arc::clone(&reads);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = Arc::new(Mutex::new(pair.master.take_writer().expect("writer")));
        let p = Arc::clone(&parser);
        let r = Arc::clone(&raw);
        let w = Arc::clone(&writer);
        let shown = Arc::new(Mutex::new(parser.lock().unwrap().screen().clone()));
        let s = Arc::clone(&shown);
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            let mut frames = FrameMarks::default();
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        *s.lock().unwrap() = p.lock().unwrap().screen().clone();
                        return;
                    }
                    Ok(n) => {
                        n_reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let mut parser = p.lock().unwrap();
                        let mut from = 0;
                        for (end, whole) in frames.scan(&buf[..n]) {
                            parser.process(&buf[from..end]);
                            from = end;
                            if whole {
                                *s.lock().unwrap() = parser.screen().clone();
                            }
                        }
                        parser.process(&buf[from..n]);
                        if !frames.inside {
                            *s.lock().unwrap() = parser.screen().clone();
                        }
                        r.lock().unwrap().extend_from_slice(&buf[..n]);
                        // Answer cursor-position queries as a terminal does.
                        let queries = buf[..n].windows(4).filter(|x| x == b"\x1b[6n").count();
                        for _ in 0..queries {
                            let (row, col) = parser.screen().cursor_position();
                            let answer = format!("\x1b[{};{}R", row + 1, col + 1);
                            let mut w = w.lock().unwrap();
                            let _ = w.write_all(answer.as_bytes());
                            let _ = w.flush();
                        }
                        // The graphics query: kitty's (when this terminal draws pictures),
                        // the cell size, and the status report that ends the answers.
                        let has = |q: &[u8]| buf[..n].windows(q.len()).any(|x| x == q);
                        let mut answer: Vec<u8> = Vec::new();
                        if kitty && has(b"\x1b_Gi=31,") {
                            answer.extend_from_slice(b"\x1b_Gi=31;OK\x1b\\");
                        }
                        if has(b"\x1b[16t") {
                            answer.extend_from_slice(b"\x1b[6;20;10t");
                        }
                        if has(b"\x1b[5n") {
                            answer.extend_from_slice(b"\x1b[0n");
                        }
                        if !answer.is_empty() {
                            let mut w = w.lock().unwrap();
                            let _ = w.write_all(&answer);
                            let _ = w.flush();
                        }
                    }
                }
            }
        });
        Self {
            parser,
            shown,
            master: pair.master,
            writer,
            child,
            raw,
            reads,
        }
    }

    /// Opens the terminal's other side as a shell holding it would: what is written to the
    /// terminal after the program is gone still reaches the screen.
    #[allow(dead_code)]
    pub fn hold_terminal(&self) -> std::fs::File {
        let path = self.master.tty_name().expect("the terminal's name");
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .expect("open the terminal")
    }

    /// The program's process id.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.process_id().expect("pid")
    }

    /// Sends a signal to the program.
    pub fn signal(&self, sig: i32) {
        let pid = self.child.process_id().expect("pid") as i32;
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid, sig) };
    }

    /// The screen as of the last whole frame.
    pub fn screen(&self) -> vt100::Screen {
        self.shown.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        self.screen().contents()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(bytes).expect("write to pty");
        w.flush().expect("flush pty");
    }

    /// Esc, then a pause: an Esc sent together with the next key reads as Alt and that key,
    /// in vmscope as in any terminal program.
    #[allow(dead_code)]
    pub fn esc(&mut self) {
        self.keys("\x1b");
        std::thread::sleep(std::time::Duration::from_millis(150));
    }

    pub fn keys(&mut self, s: &str) {
        self.send(s.as_bytes());
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize");
        let mut parser = self.parser.lock().unwrap();
        parser.set_size(nz(rows), nz(cols));
        *self.shown.lock().unwrap() = parser.screen().clone();
    }

    /// Waits until `cond` holds for the screen; panics with the screen if it never does.
    pub fn wait_for(&self, what: &str, secs: u64, cond: impl Fn(&vt100::Screen) -> bool) {
        let deadline = Instant::now() + scaled(Duration::from_secs(secs));
        loop {
            let screen = self.screen();
            if cond(&screen) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; screen:\n{}",
                    screen.contents()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_text(&self, needle: &str, secs: u64) {
        self.wait_for(&format!("{needle:?} on screen"), secs, |s| {
            s.contents().contains(needle)
        });
    }

    /// Waits for the program to exit and returns its status code.
    pub fn wait_exit(&mut self, secs: u64) -> u32 {
        let deadline = Instant::now() + scaled(Duration::from_secs(secs));
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader take the last bytes.
                std::thread::sleep(Duration::from_millis(100));
                return status.exit_code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("vmscope did not exit; screen:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Row and column of the first occurrence of `needle` on the screen.
pub fn find(screen: &vt100::Screen, needle: &str) -> Option<(u16, u16)> {
    let (rows, cols) = screen.size();
    let (rows, cols) = (rows.get(), cols.get());
    for r in 0..rows {
        let row = screen.contents_between(r, 0, r, cols);
        if let Some(i) = row.find(needle) {
            let col = row[..i].chars().count() as u16;
            return Some((r, col));
        }
    }
    None
}

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n.max(1)).expect("non-zero")
}

/// Finds where synchronized updates (DEC private mode 2026) begin and end in the program's
/// output, across reads.
#[derive(Default)]
pub struct FrameMarks {
    /// How much of `ESC [ ? 2 0 2 6` the last bytes matched.
    matched: usize,
    /// Inside an update: the screen is not whole yet.
    pub inside: bool,
}

impl FrameMarks {
    const HEAD: &'static [u8] = b"\x1b[?2026";

    /// The offsets just past each mark in `bytes`, with whether the screen is whole there.
    pub fn scan(&mut self, bytes: &[u8]) -> Vec<(usize, bool)> {
        let mut marks = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            if self.matched == Self::HEAD.len() {
                self.matched = 0;
                match b {
                    b'h' => {
                        self.inside = true;
                        marks.push((i + 1, false));
                        continue;
                    }
                    b'l' => {
                        self.inside = false;
                        marks.push((i + 1, true));
                        continue;
                    }
                    _ => {}
                }
            }
            if b == Self::HEAD[self.matched] {
                self.matched += 1;
            } else {
                self.matched = usize::from(b == 0x1b);
            }
        }
        marks
    }
}
