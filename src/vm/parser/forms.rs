//! The driver's messages, one entry per form: the drivers that print it, an example, and
//! the `Form` it is read as. What a form means for the model is its arm in `messages`
//! (`Parser::message`, `Parser::after_message`), which says it as `RunEvent`s.
//!
//! A new form is one entry here (its test is its example: `every_entry_reads_its_example`)
//! and one arm. Entries are tried in order; a message is read as the first that matches.
//! Serial lines, command output, the symbols and backdoor blocks and the checkers' lines
//! never get here: they are told apart before (`Parser::classify`, `checks`).

use super::super::classify as c;

/// What a driver message is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Form<'a> {
    /// `(finished: TITLE, in N seconds)`.
    Finished {
        title: &'a str,
        secs: f64,
    },
    /// `(N seconds)`: closes the newest plain start.
    EarlyClose(f64),
    GlobalTimeout,
    TracebackHead,
    /// A traceback frame with no head before it (an excerpt that lost it).
    TracebackFrame,
    /// `During handling of the above exception…`: the next traceback goes on.
    ChainedException,
    SubtestReport {
        name: &'a str,
        error: &'a str,
    },
    ActionTimedOut,
    EmptyError,
    DriverError(&'a str),
    /// Perl's `die` in the driver's own code.
    PerlDie,
    Cleanup,
    Kill {
        pid: Option<u32>,
    },
    ScriptFinished(Option<f64>),
    TimeoutArmed(Option<f64>),
    SymbolsHead,
    SshHead,
    RemotePdb(String, u16),
    SubtestsSucceeded {
        ok: u32,
        all: u32,
    },
    SubtestSummary {
        name: &'a str,
        error: &'a str,
    },
    /// nix-build printed the test's output path.
    OutPath(&'a str),
    // About a machine (after `NAME: `).
    StartingVm,
    Running(Option<u32>),
    Connected,
    ExitStatus,
    ForcedCrash,
    Output,
    /// A message of no form the driver's meaning depends on.
    Plain,
}

/// Whether a form is read from a message with a machine's `NAME: ` before it, without, or
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Driver,
    Machine,
    Both,
}

struct Entry {
    /// The drivers that print it, and an example: documentation the table's test reads.
    #[cfg_attr(not(test), allow(dead_code))]
    era: &'static str,
    scope: Scope,
    #[cfg_attr(not(test), allow(dead_code))]
    example: &'static str,
    read: for<'a> fn(&'a str) -> Option<Form<'a>>,
}

const ENTRIES: &[Entry] = &[
    Entry {
        era: "Python 2021+",
        scope: Scope::Both,
        example: "(finished: waiting for unit multi-user.target, in 3.02 seconds)",
        read: |m| c::finished(m).map(|(title, secs)| Form::Finished { title, secs }),
    },
    Entry {
        era: "Perl, Python 2020-21",
        scope: Scope::Driver,
        example: "(0.05 seconds)",
        read: |m| c::early_close(m).map(Form::EarlyClose),
    },
    Entry {
        era: "Python 2021+",
        scope: Scope::Driver,
        example: "timeout reached; test terminating...",
        read: |m| (m == "timeout reached; test terminating...").then_some(Form::GlobalTimeout),
    },
    Entry {
        era: "Python",
        scope: Scope::Driver,
        example: "Traceback (most recent call last):",
        read: |m| {
            m.starts_with("Traceback (most recent call last):")
                .then_some(Form::TracebackHead)
        },
    },
    Entry {
        era: "Python",
        scope: Scope::Driver,
        example: "  File \"<string>\", line 3, in <module>",
        read: |m| m.starts_with("  File \"").then_some(Form::TracebackFrame),
    },
    Entry {
        era: "Python",
        scope: Scope::Driver,
        example: "During handling of the above exception, another exception occurred:",
        read: |m| c::is_chained_exception(m).then_some(Form::ChainedException),
    },
    Entry {
        era: "Python 2020+, without the 2025 driver's `!!! `",
        scope: Scope::Driver,
        example: "Test \"root fs is fsckd\" failed with error: \"command `x` failed\"",
        read: |m| {
            let (name, error) = m
                .strip_prefix("Test \"")?
                .split_once("\" failed with error: ")?;
            Some(Form::SubtestReport {
                name,
                error: error.trim_matches('"'),
            })
        },
    },
    Entry {
        era: "Python 2021+",
        scope: Scope::Driver,
        example: "action timed out after 900 seconds",
        read: |m| {
            m.starts_with("action timed out after ")
                .then_some(Form::ActionTimedOut)
        },
    },
    Entry {
        era: "Python 2020",
        scope: Scope::Driver,
        example: "error:",
        read: |m| (m.trim_end() == "error:").then_some(Form::EmptyError),
    },
    Entry {
        era: "Perl, Python 2020-21",
        scope: Scope::Driver,
        example: "error: unit ‘x.service’ reached state ‘failed’",
        read: |m| m.strip_prefix("error: ").map(Form::DriverError),
    },
    Entry {
        era: "Perl",
        scope: Scope::Driver,
        example: "Cannot open a pty at /nix/store/k73dbm2s3kz7f8hvkinqsary635rvxj6-nixos-test-driver/bin/.nixos-test-driver-wrapped line 32.",
        read: |m| c::is_perl_die(m).then_some(Form::PerlDie),
    },
    Entry {
        era: "Python 2021+ (`cleanup`), Perl and Python 2020-21 (`cleaning up`)",
        scope: Scope::Driver,
        example: "cleaning up",
        read: |m| matches!(m, "cleanup" | "cleaning up").then_some(Form::Cleanup),
    },
    Entry {
        era: "all (`killing NAME`, `kill machine`, `kill QemuMachine`, `kill NspawnMachine`, `kill vlan`)",
        scope: Scope::Driver,
        example: "kill machine (pid 11)",
        read: |m| {
            (m.starts_with("kill") && m.contains("(pid ")).then(|| Form::Kill { pid: c::pid_in(m) })
        },
    },
    Entry {
        era: "all",
        scope: Scope::Driver,
        example: "test script finished in 16.87s",
        read: |m| {
            let rest = m.strip_prefix("test script finished in ")?;
            Some(Form::ScriptFinished(
                rest.strip_suffix('s').and_then(c::seconds),
            ))
        },
    },
    Entry {
        era: "Python 2021+",
        scope: Scope::Driver,
        example: "Test will time out and terminate in 3600 seconds",
        read: |m| {
            let rest = m.strip_prefix("Test will time out and terminate in ")?;
            Some(Form::TimeoutArmed(
                rest.strip_suffix(" seconds").and_then(c::seconds),
            ))
        },
    },
    Entry {
        era: "Python 2021+",
        scope: Scope::Driver,
        example: "additionally exposed symbols:",
        read: |m| (m == "additionally exposed symbols:").then_some(Form::SymbolsHead),
    },
    Entry {
        era: "Python 2025+",
        scope: Scope::Driver,
        example: "SSH backdoor enabled, the machines can be accessed like this:",
        read: |m| {
            (m == "SSH backdoor enabled, the machines can be accessed like this:")
                .then_some(Form::SshHead)
        },
    },
    Entry {
        era: "Python 2025+ (debug hook)",
        scope: Scope::Driver,
        example: "RemotePdb session open at 127.0.0.1:4444, waiting for connection ...",
        read: |m| c::remote_pdb_address(m).map(|(host, port)| Form::RemotePdb(host, port)),
    },
    Entry {
        era: "Perl, Python 2020-21",
        scope: Scope::Driver,
        example: "3 out of 3 tests succeeded",
        read: |m| {
            let (ok, all) = m.strip_suffix(" tests succeeded")?.split_once(" out of ")?;
            Some(Form::SubtestsSucceeded {
                ok: ok.parse().ok()?,
                all: all.parse().ok()?,
            })
        },
    },
    Entry {
        era: "Python 2020",
        scope: Scope::Driver,
        example: " - Test \"root fs is fsckd\" failed with error: \"Failing\"",
        read: |m| {
            let rest = m.strip_prefix(" - Test \"")?;
            let (name, error) = rest.split_once("\" failed with error: ")?;
            Some(Form::SubtestSummary {
                name,
                error: error.trim_matches('"'),
            })
        },
    },
    Entry {
        era: "nix-build",
        scope: Scope::Driver,
        example: "/nix/store/3yppr81p7lxajxklpi9d7lg90zz2kxld-vm-test-run-netdata",
        read: |m| {
            if !m.starts_with("/nix/store/") || m.contains(' ') {
                return None;
            }
            c::test_name_in_path(m).map(Form::OutPath)
        },
    },
    Entry {
        era: "all",
        scope: Scope::Machine,
        example: "starting vm",
        read: |m| m.starts_with("starting vm").then_some(Form::StartingVm),
    },
    Entry {
        era: "all (QEMU), Python 2026 (systemd-nspawn)",
        scope: Scope::Machine,
        example: "QEMU running (pid 1234)",
        read: |m| {
            (m.starts_with("QEMU running (pid ") || m.starts_with("systemd-nspawn running (pid "))
                .then(|| Form::Running(c::pid_in(m)))
        },
    },
    Entry {
        era: "all",
        scope: Scope::Machine,
        example: "connected to guest root shell",
        read: |m| {
            m.starts_with("connected to guest root shell")
                .then_some(Form::Connected)
        },
    },
    Entry {
        era: "Perl",
        scope: Scope::Machine,
        example: "exit status 0",
        read: |m| m.starts_with("exit status ").then_some(Form::ExitStatus),
    },
    Entry {
        era: "all",
        scope: Scope::Machine,
        example: "forced crash",
        read: |m| m.starts_with("forced crash").then_some(Form::ForcedCrash),
    },
    Entry {
        era: "Python",
        scope: Scope::Machine,
        example: "output: curl: (7) Failed to connect",
        read: |m| m.starts_with("output:").then_some(Form::Output),
    },
];

/// What a driver message is; `about_machine` when a machine's `NAME: ` came before it.
pub(super) fn read(msg: &str, about_machine: bool) -> Form<'_> {
    let scope = if about_machine {
        Scope::Machine
    } else {
        Scope::Driver
    };
    ENTRIES
        .iter()
        .filter(|e| e.scope == scope || e.scope == Scope::Both)
        .find_map(|e| (e.read)(msg))
        .unwrap_or(Form::Plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entry a message is read by (its index), as `read` would choose.
    fn entry_of(msg: &str, about_machine: bool) -> Option<usize> {
        let scope = if about_machine {
            Scope::Machine
        } else {
            Scope::Driver
        };
        ENTRIES
            .iter()
            .position(|e| (e.scope == scope || e.scope == Scope::Both) && (e.read)(msg).is_some())
    }

    #[test]
    fn every_entry_reads_its_example() {
        for (i, e) in ENTRIES.iter().enumerate() {
            assert!(!e.era.is_empty());
            let about_machine = e.scope == Scope::Machine;
            assert_eq!(
                entry_of(e.example, about_machine),
                Some(i),
                "entry {i} ({}) is not the one that reads its example {:?}",
                e.era,
                e.example
            );
        }
    }

    #[test]
    fn forms_read_their_parts() {
        assert_eq!(
            read("(finished: cleanup, in 0.04 seconds)", false),
            Form::Finished {
                title: "cleanup",
                secs: 0.04
            }
        );
        assert_eq!(
            read("kill QemuMachine (pid 9)", false),
            Form::Kill { pid: Some(9) }
        );
        assert_eq!(
            read("test script finished in 1e20s", false),
            Form::ScriptFinished(None)
        );
        assert_eq!(
            read("systemd-nspawn running (pid 7)", true),
            Form::Running(Some(7))
        );
        // A machine's message is not read as the driver's, and the other way round.
        assert_eq!(read("error: x", true), Form::Plain);
        assert_eq!(read("starting vm", false), Form::Plain);
        assert_eq!(read("/nix/store/x-vm-test-run-a b", false), Form::Plain);
        assert_eq!(read("hello", false), Form::Plain);
    }
}
