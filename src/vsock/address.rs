//! SSH backdoor addresses as the driver prints them (reference §4), in the narrow forms
//! vmscope turns into commands itself.
//!
//! The printed command is text from a stream a guest can write into, so nothing of it is
//! passed on as it is: a CID is digits, a `vsock-mux` path is a plain absolute path of safe
//! characters (it ends up in ssh's ProxyCommand line), and an nspawn container is its name,
//! from which the ProxyCommand is built here, never taken from the text.

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Address {
    /// `vsock-mux/PATH`: a vhost-device-vsock UNIX socket speaking hybrid vsock.
    VsockMux { path: String },
    /// `vsock/CID`: the kernel's vhost-vsock.
    Vsock { cid: u32 },
    /// An nspawn container, reached through its exported ssh socket.
    Nspawn { machine: String },
}

/// Longest `sun_path` of a UNIX socket, its terminating NUL included.
const SUN_PATH: usize = 108;

/// Where systemd-nspawn exports a container's ssh socket (`unix-export`).
pub const NSPAWN_EXPORT: &str = "/run/systemd/nspawn/unix-export";

impl Address {
    /// Parses the command the driver prints for a machine
    /// (`ssh -o User=root vsock-mux//tmp/x/m_host.socket`, `… vsock/3`,
    /// `… -o ProxyCommand="socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/NAME/ssh" bash`).
    /// Any other ProxyCommand is refused: it would run on this host.
    pub fn from_command(command: &str) -> Option<Self> {
        let rest = command.trim().strip_prefix("ssh ")?;
        if let Some((_, tail)) = rest.split_once("ProxyCommand=\"") {
            let (proxy, after) = tail.split_once('"')?;
            let socket = proxy.strip_prefix("socat - UNIX-CLIENT:")?;
            let machine = socket
                .strip_prefix(NSPAWN_EXPORT)?
                .strip_prefix('/')?
                .strip_suffix("/ssh")?;
            return (is_machine_name(machine) && after.trim() == "bash").then(|| Self::Nspawn {
                machine: machine.to_string(),
            });
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (host, options) = words.split_last()?;
        // The driver prints `-o User=root` and nothing else before the host.
        if options.len() % 2 != 0
            || options
                .chunks(2)
                .any(|o| o[0] != "-o" || !o[1].strip_prefix("User=").is_some_and(is_machine_name))
        {
            return None;
        }
        Self::from_host(host)
    }

    /// Parses an ssh host name of the backdoor forms.
    pub fn from_host(host: &str) -> Option<Self> {
        if let Some(path) = host.strip_prefix("vsock-mux/") {
            return is_socket_path(path).then(|| Self::VsockMux {
                path: path.to_string(),
            });
        }
        if let Some(cid) = host.strip_prefix("vsock/") {
            // 0–2 are the hypervisor, loopback and host; u32::MAX is "any".
            return (!cid.is_empty() && cid.len() <= 10 && cid.bytes().all(|b| b.is_ascii_digit()))
                .then(|| cid.parse().ok())
                .flatten()
                .filter(|&cid| (3..u32::MAX).contains(&cid))
                .map(|cid| Self::Vsock { cid });
        }
        None
    }

    /// The ssh host this address is reached as (`vsock-mux//…`, `vsock/N`, or the
    /// placeholder `bash` of an nspawn ProxyCommand).
    pub fn host(&self) -> String {
        match self {
            Self::VsockMux { path } => format!("vsock-mux/{path}"),
            Self::Vsock { cid } => format!("vsock/{cid}"),
            Self::Nspawn { .. } => "bash".to_string(),
        }
    }

    /// The ProxyCommand of an nspawn container, built from its validated name.
    pub fn nspawn_proxy(machine: &str) -> String {
        format!("socat - UNIX-CLIENT:{NSPAWN_EXPORT}/{machine}/ssh")
    }
}

/// The user of a printed backdoor command (`-o User=root`), if it is a plain name.
pub fn user_in(command: &str) -> Option<&str> {
    command
        .split_whitespace()
        .find_map(|w| w.strip_prefix("User="))
        .filter(|u| is_machine_name(u))
}

/// A machine name as it may appear in a command line: the driver's names, starting with a
/// letter, digit or `_`.
pub fn is_machine_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// An absolute path of plain characters, short enough for a UNIX socket, with no `.` or `..`
/// part: what Python's tempfile and the driver make (`/tmp/tmpg1rp9nti/machine_host.socket`).
/// It is put into ssh's ProxyCommand line, so no character a shell would read is allowed.
pub fn is_socket_path(path: &str) -> bool {
    path.len() > 1
        && path.len() < SUN_PATH
        && path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-' | b'+'))
        && path
            .split('/')
            .skip(1)
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Why a `vsock-mux` socket cannot be taken on trust here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketDoubt {
    #[error("{0} does not exist on this host")]
    Missing(String),
    #[error("{0} is not a UNIX socket")]
    NotSocket(String),
    #[error("{0} belongs to another user")]
    NotOurs(String),
    #[error("{0} is not under the driver's temporary directory {1}")]
    Elsewhere(String, String),
}

/// Checks that `path` is a UNIX socket of this user (not a link to one) under `under`, the
/// driver's temporary directory.
pub fn check_socket(path: &str, under: &Path) -> Result<(), SocketDoubt> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let p = Path::new(path);
    let meta = std::fs::symlink_metadata(p).map_err(|_| SocketDoubt::Missing(path.into()))?;
    if !meta.file_type().is_socket() {
        return Err(SocketDoubt::NotSocket(path.into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(SocketDoubt::NotOurs(path.into()));
    }
    let base = std::fs::canonicalize(under).unwrap_or_else(|_| under.to_path_buf());
    let parent = p
        .parent()
        .and_then(|d| std::fs::canonicalize(d).ok())
        .unwrap_or_default();
    if !parent.starts_with(&base) {
        return Err(SocketDoubt::Elsewhere(
            path.into(),
            base.display().to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printed_form() {
        assert_eq!(
            Address::from_command(
                "ssh -o User=root vsock-mux//build/tmpjaxpbq5p/machine1_host.socket"
            ),
            Some(Address::VsockMux {
                path: "/build/tmpjaxpbq5p/machine1_host.socket".into()
            })
        );
        assert_eq!(
            Address::from_command("ssh -o User=root vsock/3"),
            Some(Address::Vsock { cid: 3 })
        );
        assert_eq!(
            Address::from_command(
                "ssh -o User=root -o ProxyCommand=\"socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/c1/ssh\" bash"
            ),
            Some(Address::Nspawn {
                machine: "c1".into()
            })
        );
    }

    #[test]
    fn forged_forms_are_refused() {
        for bad in [
            "ssh -o User=root vsock/x",
            "ssh -o User=root vsock/0",
            "ssh -o User=root vsock/2",
            "ssh -o User=root vsock/4294967295",
            "ssh -o User=root vsock/99999999999",
            "ssh -o User=root vsock-mux/relative",
            "ssh -o User=root vsock-mux//tmp/../etc/x.socket",
            "ssh -o User=root vsock-mux//tmp/a;touch${IFS}x/m_host.socket",
            "ssh -o User=root vsock-mux//tmp/$(id)/m_host.socket",
            "ssh -o User=root vsock-mux//tmp/a`id`/m_host.socket",
            // Any ProxyCommand but the nspawn export is code for this host.
            "ssh -o User=root -o ProxyCommand=\"sh -c 'touch /tmp/pwned'\" bash",
            "ssh -o User=root -o ProxyCommand=\"socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/c1/ssh; touch /tmp/pwned\" bash",
            "ssh -o User=root -o ProxyCommand=\"socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/../../../tmp/x/ssh\" bash",
            "ssh -o User=root -o ProxyCommand=\"socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/c1/ssh\" -oProxyCommand=x bash",
            "ssh -o ProxyCommand=touch%20x vsock/3",
            "ssh -o proxyjump=evil vsock/3",
            "ssh -F /tmp/evil vsock/3",
            "machinectl shell foo",
        ] {
            assert_eq!(Address::from_command(bad), None, "{bad}");
        }
    }

    #[test]
    fn socket_paths() {
        assert!(is_socket_path("/tmp/tmpg1rp9nti/machine_host.socket"));
        assert!(is_socket_path("/run/user/1000/tmpab_c/vm-1.x_host.socket"));
        assert!(!is_socket_path("/"));
        assert!(!is_socket_path("//tmp/x"));
        assert!(!is_socket_path("/tmp/./x"));
        assert!(!is_socket_path("/tmp/a b"));
        assert!(!is_socket_path(&format!("/{}", "a".repeat(120))));
    }

    #[test]
    fn sockets_are_checked_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("m_host.socket");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let path = sock.to_str().unwrap();
        assert_eq!(check_socket(path, dir.path()), Ok(()));
        let other = tempfile::tempdir().unwrap();
        assert!(matches!(
            check_socket(path, other.path()),
            Err(SocketDoubt::Elsewhere(..))
        ));
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            check_socket(file.to_str().unwrap(), dir.path()),
            Err(SocketDoubt::NotSocket(_))
        ));
        let link = dir.path().join("link.socket");
        std::os::unix::fs::symlink(&sock, &link).unwrap();
        assert!(matches!(
            check_socket(link.to_str().unwrap(), dir.path()),
            Err(SocketDoubt::NotSocket(_))
        ));
        assert!(matches!(
            check_socket("/nonexistent/x.socket", dir.path()),
            Err(SocketDoubt::Missing(_))
        ));
    }
}
