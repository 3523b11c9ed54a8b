//! How a tab's session is started: the command is built here from the narrow forms (an
//! address vmscope parsed, the debug hook's attach program, pdb's loopback address), and
//! it runs at once only when nothing is in doubt or the user said yes to exactly it.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use super::{Ready, Sessions, TabKind};
use crate::app::effect::{Confirm, Effect};
use crate::app::trust::{self, Checks, Mode};
use crate::vm::model::{Source, Test};
use crate::vsock::Address;
use crate::vsock::address::{check_socket, is_machine_name, user_in};
use crate::vsock::ssh::{self, Route};

/// Where pdb listens when the driver did not say (`Debug.breakpoint`'s defaults).
pub const DEFAULT_PDB: (&str, u16) = ("127.0.0.1", 4444);

/// How long a pdb console waits for the driver to say where pdb listens, after the
/// breakpoint line, before it tries the default address.
const PDB_ADDRESS_WAIT: Duration = Duration::from_millis(1500);

/// What a session's command is built from: the test shown and what the host confirmed.
pub struct Ctx<'a> {
    pub test: &'a Test,
    pub checks: &'a Checks,
}

impl Ctx<'_> {
    /// Why the current breakpoint is not taken for a real pause.
    fn breakpoint_doubt(&self) -> Option<String> {
        match &self.test.breakpoint {
            Some(b) if b.verified => None,
            Some(b) => Some(match self.checks.mode {
                Mode::Log => format!(
                    "the breakpoint is only what a saved log says (no `sleep {}` process \
                     confirms it here)",
                    b.line.id
                ),
                _ => format!(
                    "the breakpoint is only claimed: no `sleep {}` marker process is running \
                     where the debug hook forks it, and a guest can print the line",
                    b.line.id
                ),
            }),
            None => Some("no breakpoint line confirms that the test waits in pdb".into()),
        }
    }

    /// Why `address`, read from `source`, is not taken as it is.
    fn address_doubt(&self, address: &Address, source: Source) -> Option<String> {
        let Address::VsockMux { path } = address else {
            // A CID and a container's name are all a command is built from.
            return None;
        };
        if self.checks.mode == Mode::Run && source == Source::Terminal {
            let under = trust::driver_tmp_dir();
            return check_socket(path, &under)
                .err()
                .map(|d| format!("{d}: it may not be the driver's"));
        }
        Some(
            match self.checks.mode {
                Mode::Log => "the address comes from a saved log, which anyone could have written",
                _ => "the address comes from the log stream, into which a guest can print",
            }
            .into(),
        )
    }

    /// Where pdb listens: what the driver said, or its default once it had time to say.
    fn pdb_address(&self, asked: Instant) -> Option<(String, u16)> {
        match &self.test.pdb {
            Some(a) => Some(a.clone()),
            None if asked.elapsed() < PDB_ADDRESS_WAIT => None,
            None => Some((DEFAULT_PDB.0.to_string(), DEFAULT_PDB.1)),
        }
    }
}

impl Sessions {
    /// Starts tab `i`'s session, or leaves it waiting for what it needs.
    pub fn connect(&mut self, i: usize, ctx: &Ctx<'_>) -> Vec<Effect> {
        let Some(tab) = self.tabs.get(i) else {
            return Vec::new();
        };
        match tab.kind {
            TabKind::Ssh => self.connect_ssh(i, ctx),
            TabKind::Attach => self.connect_attach(i, ctx),
            TabKind::Pdb => self.connect_pdb(i, ctx),
        }
    }

    /// The user's answer to the question about tab `c.tab`'s command: yes runs exactly
    /// that command, no drops the tab.
    pub fn answer(&mut self, c: Confirm, yes: bool, ctx: &Ctx<'_>) -> Vec<Effect> {
        if c.tab == super::as_root::AS_ROOT {
            return self.as_root.answer(yes);
        }
        if !yes {
            self.drop_tab(c.tab);
            return vec![Effect::say("not run")];
        }
        let Some(i) = self.position(c.tab) else {
            return Vec::new();
        };
        self.tabs[i].approved = Some(c.lines);
        self.connect(i, ctx)
    }

    /// A new tab of `kind`, shown with the keyboard, and its session started.
    pub fn open_tab(
        &mut self,
        kind: TabKind,
        machine: String,
        line: Option<String>,
        ctx: &Ctx<'_>,
    ) -> Vec<Effect> {
        let i = self.add_tab(kind, machine, line);
        let mut effects = self.connect(i, ctx);
        effects.extend(self.type_queued(i, Instant::now()));
        effects
    }

    /// Whether tab `i` may start `lines` now: yes when nothing is in doubt or the user said
    /// yes to exactly these lines; otherwise the question is put and the tab waits.
    fn cleared(&mut self, i: usize, lines: &[String], doubt: Option<String>) -> Result<(), Effect> {
        let Some(why) = doubt else {
            return Ok(());
        };
        let Some(tab) = self.tabs.get_mut(i) else {
            return Err(Effect::warn("the tab is gone"));
        };
        if tab.approved.as_deref() == Some(lines) {
            return Ok(());
        }
        tab.waiting = Some("waiting for your answer to the question".into());
        Err(Effect::Ask(Confirm {
            tab: tab.id,
            lines: lines.to_vec(),
            why,
        }))
    }

    /// Starts ssh for tab `i` if its machine has an address; else the tab waits for one.
    fn connect_ssh(&mut self, i: usize, ctx: &Ctx<'_>) -> Vec<Effect> {
        let Some(tab) = self.tabs.get(i) else {
            return Vec::new();
        };
        let machine = tab.machine.clone();
        let config = ctx.checks.config.as_ref();
        let entry = ctx.test.ssh.iter().find(|e| e.machine == machine);
        let found = if config.is_some_and(|c| c.is_container(&machine)) && is_machine_name(&machine)
        {
            // The driver's configuration says it is a container: its socket is known.
            Ok((
                Address::Nspawn {
                    machine: machine.clone(),
                },
                None,
            ))
        } else {
            match entry {
                Some(e) => match &e.address {
                    Some(a) => Ok((a.clone(), ctx.address_doubt(a, e.source))),
                    None => Err(format!(
                        "{machine}'s backdoor command is of no form vmscope runs: {}",
                        e.command
                    )),
                },
                None if config.is_some_and(|c| !c.ssh_backdoor) => Err(
                    "the SSH backdoor is off in this test's configuration (sshBackdoor.enable)"
                        .to_string(),
                ),
                None => Err(format!(
                    "waiting for {machine}'s SSH backdoor address (is sshBackdoor.enable on?)"
                )),
            }
        };
        let (address, doubt) = match found {
            Ok(f) => f,
            Err(why) => {
                if let Some(tab) = self.tabs.get_mut(i) {
                    tab.waiting = Some(why);
                }
                return Vec::new();
            }
        };
        let route = if self.ssh_system_proxy {
            Route::System
        } else {
            Route::Proxy(
                std::env::current_exe()
                    .map(OsString::from)
                    .unwrap_or_else(|_| "vmscope".into()),
            )
        };
        let mut args: Vec<OsString> = self.ssh_options.iter().map(OsString::from).collect();
        args.extend(ssh::command(&address, &route));
        if let Err(ask) = self.cleared(i, &[ssh::shell_line("ssh", &args)], doubt) {
            return vec![ask];
        }
        let size = self.tab_size;
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        tab.start(address.host(), size, None);
        vec![Effect::OpenTab {
            id: tab.id,
            program: "ssh".into(),
            args,
        }]
    }

    /// Starts `sudo ATTACH ID` for tab `i` (through ssh on a remote builder), once the user
    /// said yes to the exact command and what will be typed into its shell.
    fn connect_attach(&mut self, i: usize, ctx: &Ctx<'_>) -> Vec<Effect> {
        let Some(bp) = ctx.test.breakpoint.clone() else {
            if let Some(tab) = self.tabs.get_mut(i) {
                tab.waiting = Some("no breakpoint to attach to".into());
            }
            return Vec::new();
        };
        let builder = ctx.test.builder.clone();
        let (program, args): (&str, Vec<String>) = match &builder {
            Some(host) => (
                "ssh",
                vec![
                    "-t".into(),
                    host.clone(),
                    "sudo".into(),
                    bp.line.attach.clone(),
                    bp.line.id.clone(),
                ],
            ),
            None => ("sudo", vec![bp.line.attach.clone(), bp.line.id.clone()]),
        };
        if builder.is_none() && !std::path::Path::new(&bp.line.attach).is_file() {
            if let Some(tab) = self.tabs.get_mut(i) {
                tab.waiting = Some(format!(
                    "{} does not exist on this host: attach where the build runs",
                    bp.line.attach
                ));
            }
            return Vec::new();
        }
        let command = ssh::shell_line(program, &args);
        let Some(tab) = self.tabs.get(i) else {
            return Vec::new();
        };
        let mut lines = vec![command.clone()];
        lines.extend(
            tab.queued
                .iter()
                .filter(|(_, r)| *r == Ready::Shell)
                .map(|(l, _)| l.clone()),
        );
        let why = match ctx.breakpoint_doubt() {
            Some(d) => format!("sudo runs it as root, and {d}"),
            None => "sudo runs the debug hook's attach program as root".into(),
        };
        if let Err(ask) = self.cleared(i, &lines, Some(why)) {
            return vec![ask];
        }
        let size = self.tab_size;
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        tab.start(command.clone(), size, Some(&format!("$ {command}")));
        vec![Effect::OpenTab {
            id: tab.id,
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }]
    }

    /// Connects tab `i` to pdb once its address is known.
    fn connect_pdb(&mut self, i: usize, ctx: &Ctx<'_>) -> Vec<Effect> {
        let Some(asked) = self.tabs.get(i).map(|t| t.opened) else {
            return Vec::new();
        };
        let Some((host, port)) = ctx.pdb_address(asked) else {
            if let Some(tab) = self.tabs.get_mut(i) {
                tab.waiting = Some("waiting for pdb to say where it listens".into());
            }
            return Vec::new();
        };
        let doubt = ctx.breakpoint_doubt();
        if let Err(ask) = self.cleared(i, &[format!("connect to pdb at {host}:{port}")], doubt) {
            return vec![ask];
        }
        let size = self.tab_size;
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        tab.start(
            format!("{host}:{port}"),
            size,
            Some(&format!(
                "pdb at {host}:{port} (c continues the test, q stops it)"
            )),
        );
        vec![Effect::OpenPdb {
            id: tab.id,
            host,
            port,
        }]
    }

    /// `p`, `c`, `Q`: the pdb console (over TCP, or `telnet` typed into the sandbox), with
    /// `then` typed once pdb prompts.
    pub fn pdb(&mut self, then: Option<&str>, sandboxed: bool, ctx: &Ctx<'_>) -> Vec<Effect> {
        if let Some(i) = self.pdb_tab() {
            self.show_tab(Some(i));
            if let Some(cmd) = then {
                self.tabs[i].queued.push_back((cmd.to_string(), Ready::Pdb));
                return self.type_queued(i, Instant::now());
            }
            return Vec::new();
        }
        let effects = if sandboxed {
            let (host, port) = ctx
                .test
                .pdb
                .clone()
                .unwrap_or((DEFAULT_PDB.0.to_string(), DEFAULT_PDB.1));
            self.open_tab(
                TabKind::Attach,
                "pdb".into(),
                Some(format!("telnet {host} {port}")),
                ctx,
            )
        } else {
            self.open_tab(TabKind::Pdb, "pdb".into(), None, ctx)
        };
        if let (Some(cmd), Some(tab)) = (then, self.tabs.last_mut()) {
            tab.queued.push_back((cmd.to_string(), Ready::Pdb));
        }
        effects
    }

    /// `s`, `1`…`9`: a shell into machine `n` (1-based), from the host, or inside the
    /// sandbox when the test is paused in one. `reachable`: the machines run.
    pub fn ssh_machine(
        &mut self,
        n: usize,
        sandboxed: bool,
        reachable: bool,
        ctx: &Ctx<'_>,
    ) -> Vec<Effect> {
        if !reachable {
            return vec![Effect::warn(
                "ssh needs the running test: this log was saved after it ended \
                 (`vmscope run`, or a test paused at a breakpoint, offers it)",
            )];
        }
        let Some(name) = n
            .checked_sub(1)
            .and_then(|i| ctx.test.machines.get(i))
            .map(|m| m.name.clone())
        else {
            return vec![Effect::warn(if n == 1 {
                "no machine to ssh into yet".into()
            } else {
                format!("there is no machine {n}")
            })];
        };
        if sandboxed {
            return self
                .sandbox_ssh_tab(&name, ctx)
                .unwrap_or_else(|e| vec![Effect::warn(e)]);
        }
        self.open_tab(TabKind::Ssh, name, None, ctx)
    }

    /// `1`…`9` in a sandboxed pause: ssh typed into the sandbox's shell, built from the
    /// machine's address.
    pub fn sandbox_ssh_tab(&mut self, name: &str, ctx: &Ctx<'_>) -> Result<Vec<Effect>, String> {
        let command = ctx
            .test
            .ssh
            .iter()
            .find(|e| e.machine == name)
            .and_then(|e| {
                let user = user_in(&e.command).unwrap_or("root");
                sandbox_ssh(e.address.as_ref()?, user)
            })
            .ok_or_else(|| format!("the driver printed no SSH backdoor address for {name}"))?;
        Ok(self.open_tab(TabKind::Attach, name.to_string(), Some(command), ctx))
    }
}

/// The ssh command typed into the sandbox's shell for `address`, built here: `-F
/// ./ssh_config` for the vsock forms (that file routes them through systemd-ssh-proxy), the
/// container's ProxyCommand otherwise. Every word is of the narrow forms, so the line reads
/// back in the shell as these words.
pub fn sandbox_ssh(address: &Address, user: &str) -> Option<String> {
    if !is_machine_name(user) {
        return None;
    }
    let user = format!("User={user}");
    let words: Vec<String> = match address {
        Address::Nspawn { machine } => vec![
            "-o".into(),
            user,
            "-o".into(),
            format!("ProxyCommand={}", Address::nspawn_proxy(machine)),
            address.host(),
        ],
        _ => vec![
            "-F".into(),
            "./ssh_config".into(),
            "-o".into(),
            user,
            address.host(),
        ],
    };
    Some(ssh::shell_line("ssh", &words))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_ssh_is_built_from_the_address() {
        let a =
            Address::from_command("ssh -o User=root vsock-mux//build/tmpab/machine1_host.socket")
                .unwrap();
        assert_eq!(
            sandbox_ssh(&a, "root").as_deref(),
            Some("ssh -F ./ssh_config -o User=root vsock-mux//build/tmpab/machine1_host.socket")
        );
        let c = Address::Nspawn {
            machine: "c1".into(),
        };
        assert_eq!(
            sandbox_ssh(&c, "root").as_deref(),
            Some(
                "ssh -o User=root -o 'ProxyCommand=socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/c1/ssh' bash"
            )
        );
        assert_eq!(sandbox_ssh(&a, "root;id"), None);
    }
}
