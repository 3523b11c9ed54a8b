//! The blocks that name machines and addresses: `additionally exposed symbols:` and the SSH
//! backdoor's, on the driver's terminal (stdout) and in the stream. They are read only
//! before the test script runs: after that, a guest may be writing.

use super::super::classify as c;
use super::super::event::RunEvent;
use super::super::model::{Source, SshEntry};
use super::super::sanitize;
use super::{MAX_MACHINES, Parser, TermBlock};

impl Parser {
    pub(super) fn terminal_line(&mut self, raw: &[u8]) {
        let t = self.current;
        if self.term_closed || self.states[t].script_started {
            self.term_closed = true;
            return;
        }
        let mut display = String::new();
        sanitize::sanitize_into(raw, &mut display);
        let plain = sanitize::strip_sgr(&display);
        let plain = plain.trim_end();
        self.term_block = match self.term_block {
            TermBlock::Symbols => {
                if let Some(list) = plain
                    .strip_prefix("    ")
                    .filter(|l| !c::is_driver_symbols(l))
                {
                    for name in list.split(',').map(str::trim).filter(|s| c::is_name(s)) {
                        self.ensure_machine(t, name, true);
                    }
                }
                // The REPL or the test script comes next.
                self.term_closed = true;
                TermBlock::None
            }
            TermBlock::Ssh if plain.starts_with("Note:") => TermBlock::Ssh,
            TermBlock::Ssh => match ssh_entry(plain) {
                Some((name, command)) => {
                    self.record_ssh(t, name, command, Source::Terminal);
                    TermBlock::Ssh
                }
                None => TermBlock::None,
            },
            TermBlock::None => TermBlock::None,
        };
        if plain == "additionally exposed symbols:" {
            self.term_block = TermBlock::Symbols;
        } else if plain == "SSH backdoor enabled, the machines can be accessed like this:" {
            self.term_block = TermBlock::Ssh;
        } else if c::repl_prompt(plain).is_some() {
            self.term_closed = true;
        }
    }

    /// A machine's backdoor command, read before the test script ran. One entry per
    /// machine, the first one kept: a later copy may come from anyone.
    pub(super) fn record_ssh(&mut self, t: usize, name: &str, command: &str, source: Source) {
        let ssh = &self.test(t).ssh;
        if ssh.len() >= MAX_MACHINES || ssh.iter().any(|e| e.machine == name) {
            return;
        }
        if self.ensure_machine(t, name, false).is_none() {
            return;
        }
        let address = crate::vsock::Address::from_command(command).filter(|a| match a {
            crate::vsock::Address::Nspawn { machine } => machine == name,
            _ => true,
        });
        let entry = SshEntry {
            machine: name.to_string(),
            command: command.to_string(),
            address,
            source,
        };
        self.emit(t, RunEvent::Ssh(&entry));
    }
}

/// `    NAME:  ssh -o User=root …` of the SSH backdoor block.
pub(super) fn ssh_entry(plain: &str) -> Option<(&str, &str)> {
    let rest = plain.strip_prefix("    ")?;
    let (name, cmd) = rest.split_once(':')?;
    let cmd = cmd.trim();
    (c::is_name(name) && cmd.starts_with("ssh ")).then_some((name, cmd))
}
