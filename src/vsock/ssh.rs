//! The `ssh` command line that reaches a machine's backdoor.

use std::ffi::OsString;

use super::Address;

/// How ssh finds its way to the backdoor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Through `vmscope proxy` (this program): works on any host.
    Proxy(OsString),
    /// Through the host's own ssh configuration (`systemd-ssh-proxy`, systemd 256+).
    System,
}

/// Options every backdoor session gets: root, and no host-key bookkeeping for these
/// throwaway VMs, whose keys change with every run.
const COMMON: &[&str] = &[
    "-o",
    "User=root",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
];

/// The arguments of `ssh` (program name excluded) for `address`.
pub fn command(address: &Address, route: &Route) -> Vec<OsString> {
    let mut args: Vec<OsString> = COMMON.iter().map(OsString::from).collect();
    match address {
        Address::Nspawn { machine } => {
            // The container's exported ssh socket, in the form the driver uses, built here
            // from the validated name.
            args.push("-o".into());
            args.push(format!("ProxyCommand={}", Address::nspawn_proxy(machine)).into());
            args.push(address.host().into());
        }
        Address::VsockMux { path } => {
            if let Route::Proxy(me) = route {
                args.push("-o".into());
                args.push(proxy_option(me));
            }
            args.push(format!("vsock-mux/{path}").into());
        }
        Address::Vsock { cid } => {
            if let Route::Proxy(me) = route {
                args.push("-o".into());
                args.push(proxy_option(me));
            }
            args.push(format!("vsock/{cid}").into());
        }
    }
    args
}

/// `ProxyCommand=<this program> proxy %n %p`, the program's path quoted for ssh's shell.
/// `%n` is the host as typed: ssh lowercases `%h`, and a socket's path may have capitals.
fn proxy_option(program: &OsString) -> OsString {
    let p = program.to_string_lossy();
    format!("ProxyCommand={} proxy %n %p", quote_always(&p)).into()
}

fn quote_always(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `word` as a POSIX shell reads it back as one word: as it is when it holds only plain
/// characters, single-quoted otherwise.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.,:=+@%-".contains(&b));
    if plain {
        word.to_string()
    } else {
        quote_always(word)
    }
}

/// A command line as a shell would take it: what a confirmation shows, and what is typed
/// into a shell.
pub fn shell_line<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> String {
    std::iter::once(quote(program))
        .chain(args.iter().map(|a| quote(&a.as_ref().to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    const COMMON_TEXT: &str = "-o User=root -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR";

    #[test]
    fn vsock_mux_through_vmscope_proxy() {
        let a = Address::from_command(
            "ssh -o User=root vsock-mux//tmp/tmpg1rp9nti/machine_host.socket",
        )
        .unwrap();
        let args = command(&a, &Route::Proxy("/usr/bin/vmscope".into()));
        assert_eq!(
            text(&args),
            format!(
                "{COMMON_TEXT} -o ProxyCommand='/usr/bin/vmscope' proxy %n %p vsock-mux//tmp/tmpg1rp9nti/machine_host.socket"
            )
        );
    }

    #[test]
    fn vsock_mux_through_the_systems_proxy() {
        let a = Address::from_command(
            "ssh -o User=root vsock-mux//build/tmpjaxpbq5p/machine1_host.socket",
        )
        .unwrap();
        assert_eq!(
            text(&command(&a, &Route::System)),
            format!("{COMMON_TEXT} vsock-mux//build/tmpjaxpbq5p/machine1_host.socket")
        );
    }

    #[test]
    fn vsock_cid() {
        let a = Address::from_command("ssh -o User=root vsock/4").unwrap();
        assert_eq!(
            text(&command(
                &a,
                &Route::Proxy("/nix/store/x-vmscope/bin/vmscope".into())
            )),
            format!(
                "{COMMON_TEXT} -o ProxyCommand='/nix/store/x-vmscope/bin/vmscope' proxy %n %p vsock/4"
            )
        );
        assert_eq!(
            text(&command(&a, &Route::System)),
            format!("{COMMON_TEXT} vsock/4")
        );
    }

    #[test]
    fn nspawn_gets_the_proxy_command_built_here() {
        let a = Address::from_command(
            "ssh -o User=root -o ProxyCommand=\"socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/c1/ssh\" bash",
        )
        .unwrap();
        for route in [Route::System, Route::Proxy("/usr/bin/vmscope".into())] {
            assert_eq!(
                text(&command(&a, &route)),
                format!(
                    "{COMMON_TEXT} -o ProxyCommand=socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/c1/ssh bash"
                )
            );
        }
    }

    #[test]
    fn shell_lines_quote_what_a_shell_would_read() {
        assert_eq!(
            shell_line("ssh", &["-o", "User=root", "vsock/3"]),
            "ssh -o User=root vsock/3"
        );
        assert_eq!(
            shell_line(
                "ssh",
                &["-o", "ProxyCommand=socat - UNIX-CLIENT:/x/ssh", "bash"]
            ),
            "ssh -o 'ProxyCommand=socat - UNIX-CLIENT:/x/ssh' bash"
        );
        assert_eq!(quote("a'b"), r"'a'\''b'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(id)"), "'$(id)'");
    }

    #[test]
    fn a_program_path_with_quotes_stays_one_word() {
        assert_eq!(
            proxy_option(&"/home/o'brien/bin/vmscope".into()),
            OsString::from(r"ProxyCommand='/home/o'\''brien/bin/vmscope' proxy %n %p")
        );
    }

    #[test]
    fn every_address_in_the_fixtures_gets_a_command() {
        for cmd in [
            "ssh -o User=root vsock-mux//build/tmpjaxpbq5p/machine2_host.socket",
            "ssh -o User=root vsock/3",
            "ssh -o User=root vsock/5",
        ] {
            let a = Address::from_command(cmd).expect(cmd);
            let args = command(&a, &Route::System);
            assert_eq!(
                text(&args).rsplit(' ').next(),
                cmd.rsplit(' ').next(),
                "{cmd}"
            );
        }
    }
}
