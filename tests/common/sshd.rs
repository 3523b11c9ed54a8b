//! A real OpenSSH `sshd` on loopback and the hybrid-vsock host sockets the driver's machines
//! serve, relaying to it: what ssh tabs and the sandbox's ssh reach in the tests.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::pty::{Term, scaled};

pub fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed (scripts/test installs openssh-server): {e}")
        });
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// OpenSSH's server: `$VMSCOPE_TEST_SSHD`, else `sshd` on `PATH` (as a Nix build's
/// check inputs give it), else Debian's `/usr/sbin/sshd`.
fn sshd_program() -> String {
    if let Some(p) = std::env::var_os("VMSCOPE_TEST_SSHD") {
        return p.to_string_lossy().into_owned();
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("sshd"))
            .find(|p| p.is_file())
    });
    match on_path {
        Some(p) => p.display().to_string(),
        None if Path::new("/usr/sbin/sshd").exists() => "/usr/sbin/sshd".to_string(),
        None => panic!(
            "OpenSSH's sshd is needed: put it on PATH, set VMSCOPE_TEST_SSHD, or run \
             scripts/test (it installs openssh-server)"
        ),
    }
}

/// A real sshd on 127.0.0.1 that lets this user in with a key made here; ended on drop.
pub struct Sshd {
    child: std::process::Child,
    pub port: u16,
    pub key: PathBuf,
}

impl Sshd {
    pub fn start(dir: &Path) -> Self {
        let host_key = dir.join("host_key");
        let key = dir.join("user_key");
        for k in [&host_key, &key] {
            run(
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-f", k.to_str().unwrap()],
            );
        }
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).unwrap();
        if unsafe { libc::geteuid() } == 0 {
            // sshd started by root wants its privilege-separation directory.
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n",
                host_key.display(),
                dir.join("authorized_keys").display(),
                dir.join("sshd.pid").display(),
            ),
        )
        .unwrap();
        let child = Command::new(sshd_program())
            .args(["-D", "-e", "-f", config.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + scaled(Duration::from_secs(10));
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port, key }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A machine's host socket as the driver's vhost-device-vsock serves it: each connection
/// says `CONNECT <port>`, is answered `OK`, and is relayed to sshd. Stops on drop.
pub struct MuxServer {
    stop: Arc<AtomicBool>,
    handshakes: mpsc::Receiver<String>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MuxServer {
    pub fn start(path: &Path, sshd_port: u16) -> Self {
        let l = UnixListener::bind(path).unwrap();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, handshakes) = mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let tx = tx.clone();
                        std::thread::spawn(move || relay(s, sshd_port, &tx));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self {
            stop,
            handshakes,
            thread: Some(thread),
        }
    }
}

impl Drop for MuxServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn relay(s: std::os::unix::net::UnixStream, sshd_port: u16, tx: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let _ = tx.send(line.trim_end().to_string());
    let mut s = s;
    if s.write_all(b"OK 1073741824\n").is_err() {
        return;
    }
    let Ok(tcp) = TcpStream::connect(("127.0.0.1", sshd_port)) else {
        return;
    };
    let mut tcp_r = tcp.try_clone().unwrap();
    let mut back_to = s.try_clone().unwrap();
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut tcp_r, &mut back_to);
        let _ = back_to.shutdown(Shutdown::Write);
    });
    let mut tcp_w = tcp;
    let _ = std::io::copy(&mut reader, &mut tcp_w);
    let _ = tcp_w.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// What the next connection to `server` asked for: the backdoor's port.
pub fn handshake(server: &MuxServer, t: &Term) {
    match server
        .handshakes
        .recv_timeout(scaled(Duration::from_secs(20)))
    {
        Ok(line) => assert_eq!(line, "CONNECT 22", "vmscope proxy asks for sshd's port"),
        Err(e) => panic!("no connection to the backdoor socket ({e}):\n{}", t.text()),
    }
}

pub fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
