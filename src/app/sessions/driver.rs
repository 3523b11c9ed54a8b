//! The driver as a child: stdin and stdout on a pseudo-terminal vmscope owns (the REPL, the
//! test script's prints), stderr on a second, raw one read apart (every logger line), in a
//! session and process group of its own so that the whole group can be ended on every way
//! out.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the exit waits for the driver's last stderr lines to be read.
const STDERR_DRAIN: Duration = Duration::from_millis(500);

/// How long the group gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);

/// What the child's reader threads report.
#[derive(Debug)]
pub enum ChildEvent {
    /// Bytes the child wrote on its terminal.
    Pty(Vec<u8>),
    /// Bytes the child wrote on stderr.
    Stderr(Vec<u8>),
    /// The child ended: its exit status (128 + signal when killed).
    Exited(i32),
}

/// A running driver.
pub struct Child {
    pid: libc::pid_t,
    master: File,
    /// Ends the group if vmscope dies without doing it (SIGKILL): see `spawn_guardian`.
    guardian_pipe: Option<OwnedFd>,
    exited: bool,
}

fn winsize(cols: u16, rows: u16) -> libc::winsize {
    libc::winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Where a child's stderr goes. (The tabs run on portable-pty; the driver needs what it
/// does not give: stderr on a second terminal or a pipe, a guardian, its own group.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StderrTo {
    /// A pipe, read apart (the driver's log, ssh's own messages, `nix build`).
    Pipe,
    /// A second terminal in raw mode, read apart (the driver with its REPL).
    OwnTerminal,
    /// The child's terminal itself (a shell, which draws its prompt there).
    Terminal,
}

/// Reads `reader` until it ends (EOF, or EIO once every process closed a terminal) or
/// `send` refuses what was read. With `gather`, a small read is followed by a short pause,
/// so that a busy writer's pieces come in fewer, larger sends.
pub fn pump(mut reader: impl Read, buf_size: usize, gather: bool, send: impl Fn(Vec<u8>) -> bool) {
    let mut buf = vec![0u8; buf_size];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if !send(buf[..n].to_vec()) {
                    return;
                }
                if gather && n < 16 * 1024 {
                    std::thread::sleep(std::time::Duration::from_micros(300));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// What the guardian does for vmscope when vmscope dies without saying it is done
/// (SIGKILL): puts the user's terminal back as far as bytes and termios can, and removes a
/// directory vmscope made for the run.
#[derive(Debug, Clone, Default)]
pub struct LastWords {
    /// vmscope draws on the terminal on its stdout. The guardian keeps that descriptor
    /// rather than a path: a terminal's name is given to the next one once it closes.
    pub terminal: bool,
    /// A directory of vmscope's own (the demo's).
    pub remove: Option<std::path::PathBuf>,
}

impl LastWords {
    /// Whether vmscope's stdout is a terminal.
    pub fn stdout_is_terminal() -> bool {
        rustix::termios::isatty(std::io::stdout())
    }
}

/// What undoes the screen vmscope sets up: bracketed paste, mouse reporting, the alternate
/// screen, the hidden cursor.
const RESTORE_SCREEN: &[u8] =
    b"\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l";

/// The byte vmscope writes to its guardian when it has ended the group and will put the
/// terminal back itself.
const DONE: u8 = b'.';

impl Child {
    /// Starts `program args` on a new terminal of `cols`x`rows`; `send` receives what it
    /// writes and when it ends. The reader threads stop when `send` returns false. The
    /// guardian (see `spawn_guardian`) says `last_words` if vmscope dies first.
    pub fn spawn(
        program: &OsString,
        args: &[OsString],
        cols: u16,
        rows: u16,
        stderr_to: StderrTo,
        send: impl Fn(ChildEvent) -> bool + Send + Sync + Clone + 'static,
        last_words: Option<&LastWords>,
    ) -> io::Result<Self> {
        let (mut master_fd, mut slave_fd) = (0, 0);
        let ws = winsize(cols, rows);
        // SAFETY: openpty writes two descriptors; the name and termios pointers may be null.
        cvt(unsafe {
            libc::openpty(
                &mut master_fd,
                &mut slave_fd,
                std::ptr::null_mut(),
                std::ptr::null(),
                &ws,
            )
        })?;
        // SAFETY: openpty returned two fresh descriptors that nothing else owns.
        let (master, slave) = unsafe {
            (
                OwnedFd::from_raw_fd(master_fd),
                OwnedFd::from_raw_fd(slave_fd),
            )
        };
        set_cloexec(&master)?;
        // stderr gets a terminal of its own, in raw mode so that its bytes pass unchanged:
        // IPython falls back to a bare `input()` prompt (written to stderr, no line editing)
        // unless stdin, stdout and stderr are all terminals.
        // `nix build` is the exception: on a terminal it draws a progress bar, on a pipe it
        // prints plain lines.
        let (err_master, err_stdio) = match stderr_to {
            StderrTo::Pipe => (None, Stdio::piped()),
            StderrTo::OwnTerminal => {
                let (m, s) = raw_pty(cols, rows)?;
                (Some(m), Stdio::from(s))
            }
            StderrTo::Terminal => (None, Stdio::from(slave.try_clone()?)),
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(err_stdio)
            .env("PYTHONUNBUFFERED", "1")
            .env("TERM", "xterm-256color");
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // A session of its own, with the new terminal as its controlling terminal:
                // Ctrl-C typed there interrupts the driver's REPL, not vmscope.
                cvt(libc::setsid())?;
                cvt(libc::ioctl(0, libc::TIOCSCTTY as _, 0))?;
                // If vmscope dies, the driver hears of it at once.
                cvt(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM))?;
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        // Only the child holds the slaves now: their reads end when it is gone.
        drop(slave);
        drop(cmd);
        let pid = child.id() as libc::pid_t;
        let stderr: Option<Box<dyn Read + Send>> = match (err_master, child.stderr.take()) {
            (Some(m), _) => Some(Box::new(File::from(m))),
            (None, Some(pipe)) => Some(Box::new(pipe)),
            // On the terminal: read with the rest of its output.
            (None, None) => None,
        };
        // The process is reaped by our own waitpid below, not by std.
        std::mem::forget(child);
        let guardian_pipe = spawn_guardian(pid, last_words).ok();

        let master_file = File::from(master);
        let pty_reader = master_file.try_clone()?;
        let s1 = send.clone();
        std::thread::Builder::new()
            .name("pty".into())
            .spawn(move || pump(pty_reader, 64 * 1024, false, |b| s1(ChildEvent::Pty(b))))?;
        // The stderr reader says when it has read everything: the exit is reported after the
        // driver's last lines, or the moment of its failure would be taken for its exit.
        let (drained_tx, drained) = std::sync::mpsc::channel::<()>();
        if let Some(stderr) = stderr {
            let s2 = send.clone();
            // A busy logger sends many small pieces: gathered, the screen wakes once per
            // batch, not per line.
            std::thread::Builder::new()
                .name("stderr".into())
                .spawn(move || {
                    pump(stderr, 256 * 1024, true, |b| s2(ChildEvent::Stderr(b)));
                    let _ = drained_tx.send(());
                })?;
        } else {
            drop(drained_tx);
        }
        std::thread::Builder::new()
            .name("wait".into())
            .spawn(move || {
                use rustix::process::{Pid, WaitOptions, waitpid};
                let code = loop {
                    match waitpid(Pid::from_raw(pid), WaitOptions::empty()) {
                        Ok(Some((_, status))) => {
                            break match status.terminating_signal() {
                                Some(sig) => 128 + sig,
                                None => status.exit_status().unwrap_or(0),
                            };
                        }
                        Err(e) if e == rustix::io::Errno::INTR => continue,
                        _ => break 0,
                    }
                };
                // A process the driver left behind (a QEMU) may hold stderr open: wait for
                // the reader only a moment.
                let _ = drained.recv_timeout(STDERR_DRAIN);
                tracing::info!(pid, code, "the driver exited");
                send(ChildEvent::Exited(code));
            })?;
        tracing::info!(pid, program = %program.to_string_lossy(), args = args.len(), "the driver started");
        Ok(Self {
            pid,
            master: master_file,
            guardian_pipe,
            exited: false,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Writes to the child's terminal (keys, pastes, answers to its queries).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.master.write_all(bytes)
    }

    /// Tells the child its terminal changed size (it gets SIGWINCH).
    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        let ws = rustix::termios::Winsize {
            ws_row: rows.max(1),
            ws_col: cols.max(1),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        Ok(rustix::termios::tcsetwinsize(&self.master, ws)?)
    }

    /// Ctrl-C typed for the driver. While a statement runs, the terminal is cooked (ISIG
    /// set) and a Ctrl-C there would signal the whole foreground group: the driver and
    /// every QEMU it started. So when the driver's own group is in the foreground, SIGINT
    /// goes to the driver process alone: the statement stops and the machines stay up. At a
    /// prompt (raw mode), or with another program in the foreground (`shell_interact`'s
    /// socat), the key goes to the terminal as typed.
    pub fn interrupt(&mut self) -> io::Result<()> {
        use rustix::termios::{LocalModes, tcgetattr, tcgetpgrp};
        let cooked = tcgetattr(&self.master)?
            .local_modes
            .contains(LocalModes::ISIG);
        let driver = rustix::process::Pid::from_raw(self.pid);
        let foreground = tcgetpgrp(&self.master).ok();
        match driver {
            Some(pid) if cooked && foreground == Some(pid) && !self.exited => Ok(
                rustix::process::kill_process(pid, rustix::process::Signal::INT)?,
            ),
            _ => self.write(&[0x03]),
        }
    }

    pub fn mark_exited(&mut self) {
        self.exited = true;
    }

    pub fn exited(&self) -> bool {
        self.exited
    }

    /// Ends the child's whole process group: SIGTERM, then SIGKILL after `grace` for what
    /// is left. Returns once the group is gone or the SIGKILL was sent.
    pub fn end_group(&mut self, grace: Duration) {
        signal_group(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && group_alive(self.pid) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if group_alive(self.pid) {
            signal_group(self.pid, libc::SIGKILL);
        }
        self.say_done();
    }

    /// Tells the guardian that vmscope is alive, has ended the group and puts its terminal
    /// back itself: the guardian has nothing left to do.
    fn say_done(&mut self) {
        if let Some(pipe) = self.guardian_pipe.take() {
            let _ = File::from(pipe).write_all(&[DONE]);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if group_alive(self.pid) {
            self.end_group(GRACE);
        }
        self.say_done();
    }
}

/// Puts the terminal on `fd` back to a usable state: the screen as vmscope found it, and
/// cooked input with echo (the shell's own settings are not known here).
///
/// # Safety
/// Only async-signal-safe calls are made: fit for a forked child.
unsafe fn restore_terminal(fd: libc::c_int) {
    // SAFETY: termios is plain data; the calls only read and write through valid pointers.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) == 0 {
            t.c_iflag |= libc::ICRNL | libc::IXON;
            t.c_oflag |= libc::OPOST | libc::ONLCR;
            t.c_lflag |=
                libc::ICANON | libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ISIG | libc::IEXTEN;
            libc::tcsetattr(fd, libc::TCSANOW, &t);
        }
        libc::write(fd, RESTORE_SCREEN.as_ptr().cast(), RESTORE_SCREEN.len());
    }
}

pub fn signal_group(pgid: libc::pid_t, sig: libc::c_int) {
    let signal = match sig {
        libc::SIGKILL => rustix::process::Signal::KILL,
        libc::SIGINT => rustix::process::Signal::INT,
        libc::SIGHUP => rustix::process::Signal::HUP,
        _ => rustix::process::Signal::TERM,
    };
    if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// Whether any process of the group is still running. Zombies do not count: an orphan
/// is reaped by whatever init the system has, maybe late.
pub fn group_alive(pgid: libc::pid_t) -> bool {
    let there = rustix::process::Pid::from_raw(pgid)
        .is_some_and(|pid| rustix::process::test_kill_process_group(pid).is_ok());
    if !there {
        return false;
    }
    let procs = crate::app::proctree::all();
    // No process table to read: kill(2) said the group is there.
    procs.is_empty() || procs.iter().any(|p| p.pgrp == pgid && !p.zombie)
}

/// A pseudo-terminal pair whose slave passes bytes unchanged (no `\n` → `\r\n`, no echo).
fn raw_pty(cols: u16, rows: u16) -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut m, mut s) = (0, 0);
    let ws = winsize(cols, rows);
    // SAFETY: as in `Child::spawn`.
    cvt(unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) })?;
    // SAFETY: fresh descriptors owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    set_cloexec(&master)?;
    // SAFETY: termios of a live terminal descriptor.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        cvt(libc::tcgetattr(slave.as_raw_fd(), &mut t))?;
        libc::cfmakeraw(&mut t);
        cvt(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t))?;
    }
    Ok((master, slave))
}

fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a live descriptor.
    unsafe {
        let flags = cvt(libc::fcntl(fd.as_raw_fd(), libc::F_GETFD))?;
        cvt(libc::fcntl(
            fd.as_raw_fd(),
            libc::F_SETFD,
            flags | libc::FD_CLOEXEC,
        ))?;
    }
    Ok(())
}

/// A small process that outlives vmscope only to end the driver's group: it waits for the
/// pipe vmscope holds to close (vmscope exited, crashed or was SIGKILLed), then sends the
/// group SIGTERM and, after the grace period, SIGKILL. The parent-death signal covers the
/// driver itself; this covers QEMU and every other process of the group. When vmscope closed
/// the pipe without writing `DONE` first, it died without a word: the guardian also says its
/// `last_words` (the terminal put back, its directory removed).
fn spawn_guardian(pgid: libc::pid_t, last_words: Option<&LastWords>) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = |p: &std::path::Path| std::ffi::CString::new(p.as_os_str().as_bytes()).ok();
    // Everything the child needs is made before the fork: after it, no allocation.
    let tty = last_words
        .is_some_and(|w| w.terminal)
        .then_some(libc::STDOUT_FILENO);
    let remove = last_words
        .and_then(|w| w.remove.as_deref())
        .and_then(c_path);
    let rm_programs = [c"/bin/rm", c"/usr/bin/rm"];
    let rm_args = remove.as_ref().map(|dir| {
        [
            c"rm".as_ptr(),
            c"-rf".as_ptr(),
            c"--".as_ptr(),
            dir.as_ptr(),
            std::ptr::null(),
        ]
    });
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    // SAFETY: the child only calls async-signal-safe functions (signal, read, kill, nanosleep,
    // open, write, tcgetattr, tcsetattr, execve, _exit) and never returns into Rust code.
    let pid = cvt(unsafe { libc::fork() })?;
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            // Hold nothing of vmscope's but the terminal it may have to put back: not
            // another guardian's pipe, not the driver's terminals.
            let keep = read_end.as_raw_fd();
            for fd in 0..4096 {
                if fd != keep && Some(fd) != tty {
                    libc::close(fd);
                }
            }
            // When vmscope leads its terminal's session, its death hangs up the session's
            // foreground group, the guardian's too: it must outlive that.
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            let mut done = false;
            loop {
                let mut b = 0u8;
                match libc::read(keep, (&mut b as *mut u8).cast(), 1) {
                    1 => done |= b == DONE,
                    0 => break,
                    _ if *libc::__errno_location() == libc::EINTR => {}
                    _ => break,
                }
            }
            if libc::kill(-pgid, 0) == 0 {
                libc::kill(-pgid, libc::SIGTERM);
                let step = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 50_000_000,
                };
                let mut waited = 0;
                while waited < GRACE.as_millis() as i32 / 50 && libc::kill(-pgid, 0) == 0 {
                    libc::nanosleep(&step, std::ptr::null_mut());
                    waited += 1;
                }
                libc::kill(-pgid, libc::SIGKILL);
            }
            if !done {
                if let Some(fd) = tty {
                    restore_terminal(fd);
                }
                if let Some(args) = &rm_args {
                    for rm in rm_programs {
                        libc::execv(rm.as_ptr(), args.as_ptr());
                    }
                }
            }
            libc::_exit(0);
        }
    }
    drop(read_end);
    // The guardian is reaped by a thread so it never lingers as a zombie.
    std::thread::Builder::new()
        .name("guardian".into())
        .spawn(move || {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        })?;
    Ok(write_end)
}
