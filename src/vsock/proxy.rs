//! `vmscope proxy HOST [PORT]`: an ssh `ProxyCommand` for the driver's backdoor on hosts
//! without `systemd-ssh-proxy`.
//!
//! `vsock-mux/PATH` is vhost-device-vsock's UNIX socket, spoken to in the hybrid-vsock way
//! (`CONNECT <port>\n`, answered by `OK <n>\n`), then bytes are relayed both ways until
//! either side closes. `vsock/CID` is the kernel's vhost-vsock, reached with AF_VSOCK.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::Address;

/// Why the proxy could not connect, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "{0}: no such socket: the test is not running, or its SSH backdoor is off (sshBackdoor.enable)"
    )]
    NoSocket(String),
    #[error(
        "{0}: nothing accepts connections there (is the test's vhost-device-vsock still running?)"
    )]
    Refused(String),
    #[error("{0}: {1}")]
    Connect(String, io::Error),
    #[error("the backdoor refused port {port}: it answered {answer:?} instead of \"OK <n>\"")]
    Handshake { port: u16, answer: String },
    #[error(
        "the backdoor closed the connection during the handshake (no machine listens on port {0}?)"
    )]
    ClosedEarly(u16),
    #[error("{0:?} is no backdoor address: give vsock-mux/PATH or vsock/CID")]
    Host(String),
    #[error("vsock/{cid}: {err}")]
    Vsock { cid: u32, err: io::Error },
}

/// Connects to `host`'s `port` and relays standard input and output over it.
pub fn run(host: &str, port: u16) -> Result<(), ProxyError> {
    match Address::from_host(host) {
        Some(Address::VsockMux { path }) => {
            let stream = connect_mux(Path::new(&path), port)?;
            relay(stream).map_err(|e| ProxyError::Connect(path, e))
        }
        Some(Address::Vsock { cid }) => {
            let fd = connect_vsock(cid, port).map_err(|err| ProxyError::Vsock { cid, err })?;
            // A connected stream socket: the UnixStream wrapper only reads and writes it.
            relay(UnixStream::from(fd)).map_err(|err| ProxyError::Vsock { cid, err })
        }
        _ => Err(ProxyError::Host(host.to_string())),
    }
}

/// Opens a hybrid-vsock connection to `port` through the multiplexer at `path`.
pub fn connect_mux(path: &Path, port: u16) -> Result<UnixStream, ProxyError> {
    let shown = path.display().to_string();
    let mut stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ProxyError::NoSocket(shown.clone()),
        io::ErrorKind::ConnectionRefused => ProxyError::Refused(shown.clone()),
        _ => ProxyError::Connect(shown.clone(), e),
    })?;
    stream
        .write_all(format!("CONNECT {port}\n").as_bytes())
        .map_err(|e| ProxyError::Connect(shown.clone(), e))?;
    // The answer is one line; read it byte by byte so nothing after it is taken.
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return Err(ProxyError::ClosedEarly(port)),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => {
                answer.push(byte[0]);
                if answer.len() > 256 {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(ProxyError::ClosedEarly(port));
            }
            Err(e) => return Err(ProxyError::Connect(shown, e)),
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let ok = answer
        .strip_prefix("OK ")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(ProxyError::Handshake { port, answer });
    }
    Ok(stream)
}

/// Standard input to the stream, the stream to standard output; an end of standard input
/// is passed on as a half-close, and the relay ends when the stream ends.
fn relay(stream: UnixStream) -> io::Result<()> {
    let mut to_remote = stream.try_clone()?;
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let _ = io::copy(&mut stdin, &mut to_remote);
        let _ = to_remote.shutdown(Shutdown::Write);
    });
    let mut from_remote = BufReader::new(stream);
    let mut stdout = io::stdout().lock();
    loop {
        let buf = from_remote.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        stdout.write_all(buf)?;
        stdout.flush()?;
        from_remote.consume(n);
    }
    Ok(())
}

/// `struct sockaddr_vm` (linux/vm_sockets.h).
#[repr(C)]
struct SockaddrVm {
    family: libc::sa_family_t,
    reserved1: u16,
    port: u32,
    cid: u32,
    zero: [u8; 4],
}

/// A connected AF_VSOCK stream socket to `cid`:`port`.
fn connect_vsock(cid: u32, port: u16) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let addr = SockaddrVm {
        family: libc::AF_VSOCK as libc::sa_family_t,
        reserved1: 0,
        port: u32::from(port),
        cid,
        zero: [0; 4],
    };
    // SAFETY: addr is a valid sockaddr_vm of the size given.
    let r = unsafe {
        libc::connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&addr as *const SockaddrVm).cast(),
            std::mem::size_of::<SockaddrVm>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_are_no_backdoor_are_refused_before_any_socket() {
        assert!(matches!(run("example.com", 22), Err(ProxyError::Host(_))));
        assert!(matches!(run("vsock/abc", 22), Err(ProxyError::Host(_))));
        assert!(matches!(
            run("vsock-mux/relative/path", 22),
            Err(ProxyError::Host(_))
        ));
    }

    #[test]
    fn the_vsock_address_layout_is_the_kernels() {
        assert_eq!(std::mem::size_of::<SockaddrVm>(), 16);
        let e = ProxyError::Vsock {
            cid: 3,
            err: io::Error::from_raw_os_error(libc::ENODEV),
        };
        assert_eq!(e.to_string(), "vsock/3: No such device (os error 19)");
    }
}
