//! ssh tabs end to end: the fake driver announces an SSH backdoor on vsock-mux sockets, a
//! hybrid-vsock test server behind each socket relays to a real OpenSSH `sshd` on loopback,
//! and `s` in vmscope opens a real `ssh` (through `vmscope proxy`) into a shell there.
//! No AF_VSOCK socket is ever opened.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::pty::{Term, find, scaled};

fn run(program: &str, args: &[&str]) {
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

fn sshd_program() -> &'static str {
    if Path::new("/usr/sbin/sshd").exists() {
        "/usr/sbin/sshd"
    } else {
        panic!("/usr/sbin/sshd is needed (scripts/test installs openssh-server)")
    }
}

/// A real sshd on 127.0.0.1 that lets this user in with a key made here; ended on drop.
struct Sshd {
    child: std::process::Child,
    port: u16,
    key: PathBuf,
}

impl Sshd {
    fn start(dir: &Path) -> Self {
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
struct MuxServer {
    stop: Arc<AtomicBool>,
    handshakes: mpsc::Receiver<String>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MuxServer {
    fn start(path: &Path, sshd_port: u16) -> Self {
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
fn handshake(server: &MuxServer, t: &Term) {
    match server
        .handshakes
        .recv_timeout(scaled(Duration::from_secs(20)))
    {
        Ok(line) => assert_eq!(line, "CONNECT 22", "vmscope proxy asks for sshd's port"),
        Err(e) => panic!("no connection to the backdoor socket ({e}):\n{}", t.text()),
    }
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn ssh_tabs_reach_a_real_sshd_through_the_backdoor_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(dir.path());
    let sockets = dir.path().join("vsock");
    std::fs::create_dir(&sockets).unwrap();
    let alpha = MuxServer::start(&sockets.join("alpha_host.socket"), sshd.port);
    let beta = MuxServer::start(&sockets.join("beta_host.socket"), sshd.port);

    let config = dir.path().join("config");
    std::fs::create_dir_all(config.join("vmscope")).unwrap();
    // The user's options come first, and ssh keeps the first value of each: this user, not
    // root, and the key made here.
    std::fs::write(
        config.join("vmscope/config.toml"),
        format!(
            "[ssh]\noptions = [\"-F\", \"/dev/null\", \"-o\", \"User={}\", \"-i\", \"{}\", \
             \"-o\", \"IdentitiesOnly=yes\", \"-o\", \"BatchMode=yes\"]\n",
            user(),
            sshd.key.display()
        ),
    )
    .unwrap();
    let drv = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/fake-driver.py");
    let config_s = config.display().to_string();
    let state_s = dir.path().join("state").display().to_string();
    let mut t = Term::spawn_env(
        &[
            "run",
            "--",
            "python3",
            drv.to_str().unwrap(),
            "-I",
            "--machines",
            "alpha,beta",
            "--ssh-dir",
            sockets.to_str().unwrap(),
        ],
        140,
        40,
        &[
            ("XDG_CONFIG_HOME", &config_s),
            ("XDG_STATE_HOME", &state_s),
            ("HOME", dir.path().to_str().unwrap()),
        ],
    );
    t.wait_text("SSH backdoor enabled", 30);
    t.wait_text("In [1]:", 30);

    // Leave the REPL, open a tab into the first machine and use its shell.
    t.keys("\x1d");
    t.keys("s");
    t.wait_text("ssh alpha", 10);
    handshake(&alpha, &t);
    // The shell is up once it answers.
    t.wait_for("the remote shell", 30, |s| {
        let text = s.contents();
        text.contains('$') || text.contains('#')
    });
    t.keys("echo tab-$((6*7))\r");
    t.wait_text("tab-42", 20);
    assert!(
        t.text().contains("[typing"),
        "the tab has the keyboard:\n{}",
        t.text()
    );

    // The tab's terminal is the body's size inside its frame, and follows a resize.
    t.keys("echo cols=$(tput cols)\r");
    t.wait_text("cols=138", 20);
    t.resize(120, 36);
    // ssh passes the new size on in its own time: ask until the shell sees it.
    let deadline = Instant::now() + scaled(Duration::from_secs(20));
    loop {
        t.keys("clear; echo cols=$(tput cols) lines=$(tput lines)\r");
        std::thread::sleep(Duration::from_millis(300));
        if t.text().contains("cols=118 lines=32") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the remote terminal did not follow the resize:\n{}",
            t.text()
        );
    }

    // A full-screen program draws from the tab's first row, and gives the prompt back.
    t.keys("top -d 5\r");
    t.wait_for("top on the whole tab", 20, |s| {
        find(s, "top - ").is_some_and(|(row, col)| row == 2 && col == 1) && find(s, "PID").is_some()
    });
    t.keys("q");
    t.wait_for("the shell again", 20, |s| find(s, "top - ").is_none());

    // The mouse: the panes' label shows them, a tab's label the tab.
    let click = |t: &mut Term, label: &str| {
        let (row, col) = find(&t.screen(), label).unwrap();
        t.send(
            format!(
                "\x1b[<0;{};{}M\x1b[<0;{};{}m",
                col + 2,
                row + 1,
                col + 2,
                row + 1
            )
            .as_bytes(),
        );
    };
    click(&mut t, "[panes]");
    t.wait_text("0 driver", 10);
    click(&mut t, "[ssh alpha]");
    t.wait_for("the tab again", 10, |s| find(s, "0 driver").is_none());

    // The session ends: the tab says so and can connect again.
    t.keys("exit\r");
    t.wait_text("ssh ended with status 0", 20);
    t.keys("r");
    handshake(&alpha, &t);
    t.keys("echo again-$((7*7))\r");
    t.wait_text("again-49", 30);

    // A second tab into the second machine; `<` and `>` go between the tabs and the panes.
    t.keys("\x1d");
    t.keys("2s");
    t.wait_text("ssh beta", 10);
    handshake(&beta, &t);
    t.keys("echo beta-$((8*8))\r");
    t.wait_text("beta-64", 30);
    t.keys("\x1d>");
    t.wait_for("the panes again", 10, |s| {
        let text = s.contents();
        text.contains("[panes]") && text.contains("driver")
    });
    t.keys(">");
    t.wait_text("again-49", 10);

    // Closing a tab ends its ssh; quitting ends the rest, and the driver.
    t.keys("\x1dx");
    t.wait_for("the tab closed", 10, |s| {
        !s.contents().contains("[ssh alpha]")
    });
    t.keys("q");
    t.keys("q");
    assert_eq!(t.wait_exit(30), 143, "the driver was stopped");
    let needle = dir.path().display().to_string();
    let deadline = Instant::now() + scaled(Duration::from_secs(10));
    loop {
        let left: Vec<String> = common::processes_naming(&needle)
            .into_iter()
            .filter(|p| !p.contains("sshd"))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes of the run outlived vmscope: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop((alpha, beta));
}
