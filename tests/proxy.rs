//! `vmscope proxy` against a hybrid-vsock test server on a UNIX socket (as vhost-device-vsock
//! speaks it: `CONNECT <port>\n`, `OK <n>\n`, then a byte stream), which relays to a TCP
//! echo server on loopback. No AF_VSOCK socket is ever opened here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How the test server answers the handshake.
#[derive(Clone, Copy)]
enum Answer {
    Ok,
    Refuse,
    CloseEarly,
}

/// An echo server on 127.0.0.1: what it reads it writes back, until its peer half-closes.
fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let _ = s.write_all(&buf[..n]);
                    }
                }
            }
            let _ = s.shutdown(Shutdown::Write);
        }
    });
    port
}

/// The hybrid-vsock server: one connection, the handshake, then a relay to `tcp_port`.
/// Returns the socket path and what it read as the handshake line.
fn mux_server(
    dir: &Path,
    answer: Answer,
    tcp_port: u16,
) -> (PathBuf, std::sync::mpsc::Receiver<String>) {
    let path = dir.join("machine_host.socket");
    let l = UnixListener::bind(&path).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((s, _)) = l.accept() else { return };
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let _ = tx.send(line);
        let mut s = s;
        match answer {
            Answer::CloseEarly => return,
            Answer::Refuse => {
                let _ = s.write_all(b"ERR connection refused\n");
                return;
            }
            Answer::Ok => s.write_all(b"OK 1073741824\n").unwrap(),
        }
        let tcp = TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
        let mut tcp_r = tcp.try_clone().unwrap();
        let mut to_proxy = s.try_clone().unwrap();
        let back = std::thread::spawn(move || {
            let _ = std::io::copy(&mut tcp_r, &mut to_proxy);
            let _ = to_proxy.shutdown(Shutdown::Write);
        });
        let mut tcp_w = tcp;
        let _ = std::io::copy(&mut reader, &mut tcp_w);
        let _ = tcp_w.shutdown(Shutdown::Write);
        let _ = back.join();
    });
    (path, rx)
}

fn proxy(host: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["proxy", host, "22"])
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("vmscope-proxy-test-config"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: std::process::Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bytes_go_both_ways_and_a_half_close_ends_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, handshake) = mux_server(dir.path(), Answer::Ok, echo_server());
    let mut child = proxy(&format!("vsock-mux/{}", sock.display()));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin.write_all(b"SSH-2.0-test hello\n").unwrap();
    stdin.flush().unwrap();
    let mut got = [0u8; 19];
    stdout.read_exact(&mut got).unwrap();
    assert_eq!(
        &got, b"SSH-2.0-test hello\n",
        "the echo came back through the proxy"
    );
    assert_eq!(
        handshake.recv_timeout(Duration::from_secs(5)).unwrap(),
        "CONNECT 22\n"
    );
    // A large write, then the end of our side: everything comes back, then the end.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&big).unwrap();
        drop(stdin);
        big
    });
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let big = writer.join().unwrap();
    assert_eq!(rest.len(), big.len());
    assert!(rest == big);
    let (code, _, err) = finish(child);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_refused_handshake_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, _) = mux_server(dir.path(), Answer::Refuse, 0);
    let (code, out, err) = finish(proxy(&format!("vsock-mux/{}", sock.display())));
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("refused port 22") && err.contains("ERR connection refused"),
        "{err}"
    );
}

#[test]
fn a_server_closing_early_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, _) = mux_server(dir.path(), Answer::CloseEarly, 0);
    let (code, _, err) = finish(proxy(&format!("vsock-mux/{}", sock.display())));
    assert_eq!(code, 1);
    assert!(
        err.contains("closed the connection during the handshake"),
        "{err}"
    );
}

#[test]
fn a_missing_socket_says_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone_host.socket");
    let (code, _, err) = finish(proxy(&format!("vsock-mux/{}", path.display())));
    assert_eq!(code, 1);
    assert!(
        err.contains("no such socket") && err.contains("the test is not running"),
        "{err}"
    );
    // A socket file nobody listens on.
    let stale = dir.path().join("stale_host.socket");
    drop(UnixListener::bind(&stale).unwrap());
    let (code, _, err) = finish(proxy(&format!("vsock-mux/{}", stale.display())));
    assert_eq!(code, 1);
    assert!(err.contains("nothing accepts connections"), "{err}");
    // Not a backdoor address at all.
    let (code, _, err) = finish(proxy("example.org"));
    assert_eq!(code, 1);
    assert!(err.contains("no backdoor address"), "{err}");
}

#[test]
fn a_short_exchange_ends_with_its_sender() {
    // The proxy is a plain filter between its stdio and the backdoor: what goes in before
    // the end of input all comes back, then the proxy ends.
    let dir = tempfile::tempdir().unwrap();
    let (sock, _) = mux_server(dir.path(), Answer::Ok, echo_server());
    let mut child = proxy(&format!("vsock-mux/{}", sock.display()));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"ping\n").unwrap();
    drop(stdin);
    let (code, out, err) = finish(child);
    assert_eq!((code, out.as_str()), (0, "ping\n"), "{err}");
}
