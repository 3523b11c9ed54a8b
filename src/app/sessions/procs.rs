//! The processes behind the tabs, by tab id: a program on a terminal of its own
//! (portable-pty: ssh, `sudo ATTACH ID`, a shell), or a TCP connection to pdb. Readers run
//! on threads of their own and report through `send`; ending a tab ends its whole process
//! group, off the UI thread.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

use super::driver::{ChildEvent, GRACE, group_alive, pump, signal_group};

/// How long connecting to pdb may take.
const PDB_CONNECT: Duration = Duration::from_secs(3);

/// What a tab's process did.
pub enum TabEvent {
    Child(u32, ChildEvent),
    /// A tab's pdb connection is up.
    Connected(u32, TcpStream),
}

type Send_ = Arc<dyn Fn(TabEvent) -> bool + Send + Sync>;

/// A program on a terminal of its own.
struct Pty {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    /// The session's leader: its process group is the session's.
    pid: libc::pid_t,
    exited: bool,
}

enum Session {
    Pty(Pty),
    /// A pdb connection (its reader thread holds a clone).
    Tcp(TcpStream),
}

pub struct TabProcs {
    procs: HashMap<u32, Session>,
    send: Send_,
}

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows: rows.max(1),
        cols: cols.max(1),
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl TabProcs {
    pub fn new(send: impl Fn(TabEvent) -> bool + Send + Sync + 'static) -> Self {
        Self {
            procs: HashMap::new(),
            send: Arc::new(send),
        }
    }

    pub fn has(&self, id: u32) -> bool {
        self.procs.contains_key(&id)
    }

    /// `program ARGS` for tab `id` on a terminal of `cols`x`rows`.
    pub fn open(
        &mut self,
        id: u32,
        program: &OsString,
        args: &[OsString],
        (cols, rows): (u16, u16),
    ) -> io::Result<()> {
        self.close(id);
        tracing::info!(id, program = %program.to_string_lossy(), "a tab starts");
        let pair = native_pty_system()
            .openpty(size(cols, rows))
            .map_err(other)?;
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        // portable-pty starts in the home directory unless told: the user's is where vmscope runs.
        if let Ok(dir) = std::env::current_dir() {
            cmd.cwd(dir);
        }
        let mut child = pair.slave.spawn_command(cmd).map_err(other)?;
        drop(pair.slave);
        let pid = child
            .process_id()
            .and_then(|p| libc::pid_t::try_from(p).ok())
            .ok_or_else(|| other("no process id"))?;
        let reader = pair.master.try_clone_reader().map_err(other)?;
        let writer = pair.master.take_writer().map_err(other)?;
        let send = self.send.clone();
        std::thread::Builder::new()
            .name(format!("tab-{id}"))
            .spawn(move || {
                pump(reader, 16 * 1024, true, |b| {
                    send(TabEvent::Child(id, ChildEvent::Pty(b)))
                });
                // The terminal closed: every process of the session let go of it.
                let code = match child.wait() {
                    Ok(s) if s.signal().is_some() => 128 + 15,
                    Ok(s) => i32::try_from(s.exit_code()).unwrap_or(255),
                    Err(_) => 255,
                };
                send(TabEvent::Child(id, ChildEvent::Exited(code)));
            })?;
        self.procs.insert(
            id,
            Session::Pty(Pty {
                master: pair.master,
                writer,
                pid,
                exited: false,
            }),
        );
        Ok(())
    }

    /// Connects to pdb off the UI thread; the stream comes back as `Connected`, what pdb
    /// says as the tab's output, and its end (or a failure to connect) as an exit.
    pub fn open_pdb(&mut self, id: u32, host: String, port: u16) -> io::Result<()> {
        self.close(id);
        let send = self.send.clone();
        std::thread::Builder::new()
            .name("pdb".into())
            .spawn(move || {
                let fail = |e: String| {
                    let text = format!("vmscope pdb: cannot connect to {host}:{port}: {e}\n");
                    send(TabEvent::Child(id, ChildEvent::Stderr(text.into_bytes())));
                    send(TabEvent::Child(id, ChildEvent::Exited(255)));
                };
                let addrs = match std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)) {
                    Ok(a) => a.collect::<Vec<_>>(),
                    Err(e) => return fail(e.to_string()),
                };
                let Some(stream) = addrs
                    .iter()
                    .find_map(|a| TcpStream::connect_timeout(a, PDB_CONNECT).ok())
                else {
                    return fail("connection refused (is pdb listening yet?)".into());
                };
                let reader = match stream.try_clone() {
                    Ok(r) => r,
                    Err(e) => return fail(e.to_string()),
                };
                if !send(TabEvent::Connected(id, stream)) {
                    return;
                }
                pump(reader, 16 * 1024, false, |b| {
                    send(TabEvent::Child(id, ChildEvent::Pty(b)))
                });
                send(TabEvent::Child(id, ChildEvent::Exited(0)));
            })?;
        Ok(())
    }

    /// The pdb connection of tab `id` is up (or the tab went while it connected).
    pub fn connected(&mut self, id: u32, stream: TcpStream, wanted: bool) {
        if wanted {
            self.procs.insert(id, Session::Tcp(stream));
        } else {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Tab `id`'s session ended on its own.
    pub fn exited(&mut self, id: u32) {
        match self.procs.get_mut(&id) {
            Some(Session::Pty(p)) => p.exited = true,
            Some(Session::Tcp(_)) => self.close(id),
            None => {}
        }
    }

    /// Writes to tab `id`'s session; a session that ended takes nothing (what it said stays
    /// on its screen).
    pub fn write(&mut self, id: u32, bytes: &[u8]) -> io::Result<()> {
        match self.procs.get_mut(&id) {
            Some(Session::Pty(p)) if !p.exited => {
                p.writer.write_all(bytes)?;
                p.writer.flush()
            }
            Some(Session::Tcp(s)) => s.write_all(bytes),
            _ => Ok(()),
        }
    }

    pub fn resize(&self, id: u32, (cols, rows): (u16, u16)) {
        if let Some(Session::Pty(p)) = self.procs.get(&id) {
            let _ = p.master.resize(size(cols, rows));
        }
    }

    /// Ends tab `id`'s session off the UI thread: what is left of its group (ssh and its
    /// proxy, sudo and the shell) gets SIGTERM, then SIGKILL after the grace period.
    pub fn close(&mut self, id: u32) {
        match self.procs.remove(&id) {
            Some(Session::Pty(p)) => {
                let _ = std::thread::Builder::new()
                    .name("tab-end".into())
                    .spawn(move || end(p));
            }
            Some(Session::Tcp(stream)) => {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
            None => {}
        }
    }

    /// Ends every session and waits for their groups (vmscope is leaving).
    pub fn close_all(&mut self) {
        let ends: Vec<_> = self
            .procs
            .drain()
            .filter_map(|(_, s)| match s {
                Session::Pty(p) => std::thread::Builder::new().spawn(move || end(p)).ok(),
                Session::Tcp(s) => {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                    None
                }
            })
            .collect();
        for e in ends {
            let _ = e.join();
        }
    }
}

fn end(p: Pty) {
    if !group_alive(p.pid) {
        return;
    }
    signal_group(p.pid, libc::SIGTERM);
    // Closing the terminal hangs up what is still on it.
    drop(p.writer);
    drop(p.master);
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && group_alive(p.pid) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if group_alive(p.pid) {
        signal_group(p.pid, libc::SIGKILL);
    }
}

impl Drop for TabProcs {
    fn drop(&mut self) {
        self.close_all();
    }
}
