//! SSH backdoor addresses as the driver prints them (reference §4).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Address {
    /// `vsock-mux/PATH`: a vhost-device-vsock UNIX socket speaking hybrid vsock.
    VsockMux { path: String },
    /// `vsock/CID`: the kernel's vhost-vsock.
    Vsock { cid: u32 },
    /// An nspawn container reached through its own ProxyCommand.
    ProxyCommand { proxy_command: String },
}

impl Address {
    /// Parses the command the driver prints for a machine
    /// (`ssh -o User=root vsock-mux//tmp/x/m_host.socket`, `… vsock/3`,
    /// `… -o ProxyCommand="socat - UNIX-CLIENT:…" bash`).
    pub fn from_command(command: &str) -> Option<Self> {
        if let Some(start) = command.find("ProxyCommand=\"") {
            let rest = &command[start + "ProxyCommand=\"".len()..];
            let end = rest.find('"')?;
            return Some(Self::ProxyCommand {
                proxy_command: rest[..end].to_string(),
            });
        }
        let host = command.split_whitespace().last()?;
        Self::from_host(host)
    }

    /// Parses an ssh host name of the backdoor forms.
    pub fn from_host(host: &str) -> Option<Self> {
        if let Some(path) = host.strip_prefix("vsock-mux/") {
            return (path.starts_with('/') && path.len() > 1).then(|| Self::VsockMux {
                path: path.to_string(),
            });
        }
        if let Some(cid) = host.strip_prefix("vsock/") {
            return cid.parse().ok().map(|cid| Self::Vsock { cid });
        }
        None
    }
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
            Some(Address::ProxyCommand {
                proxy_command: "socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/c1/ssh".into()
            })
        );
        assert_eq!(Address::from_command("ssh -o User=root vsock/x"), None);
        assert_eq!(
            Address::from_command("ssh -o User=root vsock-mux/relative"),
            None
        );
    }
}
