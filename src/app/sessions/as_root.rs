//! Containers need root: systemd-nspawn refuses to run otherwise, and the driver stops at
//! once with `systemd-nspawn requires root to work. You are UID`. When that happens in a
//! test with containers, vmscope offers to start the driver again as the manual says,
//! `sudo --preserve-env=DISPLAY,XAUTHORITY DRIVER ARGS…`, in the command pane, where sudo
//! asks for the password. The command is the one the user started, never text of the log.

use std::ffi::OsString;

use super::connect::Ctx;
use crate::app::effect::{Confirm, Effect};
use crate::vm::model::FailureKind;

/// The question's id where a tab's would be: it starts no tab.
pub const AS_ROOT: u32 = u32::MAX;

/// What sudo keeps of the user's environment: the display, for the containers' viewers.
const PRESERVE: &str = "--preserve-env=DISPLAY,XAUTHORITY";

#[derive(Debug, Default)]
pub struct AsRoot {
    /// The driver as vmscope started it.
    pub driver: Option<(OsString, Vec<OsString>)>,
    /// Containers named by the configuration on the driver's own command line.
    pub containers: Vec<String>,
    offered: bool,
    /// A test with containers runs: its failures are looked at until it ends or the
    /// question is put (a traceback's last line may come after the view opened).
    pub watching: bool,
    /// The user said yes: the run ends and this one starts.
    pub restart: Option<(OsString, Vec<OsString>)>,
}

impl AsRoot {
    /// Remembers the driver started, and the containers its configuration lists.
    pub fn started(&mut self, program: &OsString, args: &[OsString]) {
        self.driver = Some((program.clone(), args.to_vec()));
        self.containers = crate::vm::config::config_argument(args)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|json| crate::vm::config::DriverConfig::parse(&json))
            .map(|c| c.containers)
            .unwrap_or_default();
        self.watching = !self.containers.is_empty() && self.command().is_some();
    }

    /// The command that starts the driver as root.
    pub fn command(&self) -> Option<(OsString, Vec<OsString>)> {
        let (program, args) = self.driver.as_ref()?;
        if std::path::Path::new(program).file_name() == Some("sudo".as_ref()) {
            return None;
        }
        let mut all: Vec<OsString> = vec![PRESERVE.into(), program.clone()];
        all.extend(args.iter().cloned());
        Some(("sudo".into(), all))
    }

    /// The question, once: the driver stopped for want of root in a test with containers.
    pub fn offer(&mut self, ctx: &Ctx<'_>) -> Option<Effect> {
        if self.offered {
            return None;
        }
        let refused = ctx.test.failures.iter().any(|f| {
            f.kind == FailureKind::Environment
                && f.message.contains("systemd-nspawn requires root to work")
        });
        let containers = !self.containers.is_empty()
            || ctx
                .checks
                .config
                .as_ref()
                .is_some_and(|c| !c.containers.is_empty());
        // Before any machine started, the line is the driver's own (no guest spoke yet).
        if !refused || !(containers || ctx.test.machines.is_empty()) {
            // Nothing more will come once the driver has ended.
            self.watching &= ctx.test.exit_code.is_none();
            return None;
        }
        let (program, args) = self.command()?;
        self.offered = true;
        self.watching = false;
        let line = crate::vsock::ssh::shell_line(&program.to_string_lossy(), &args);
        Some(Effect::Ask(Confirm {
            tab: AS_ROOT,
            lines: vec![line],
            why: "systemd-nspawn needs root and the driver stopped without it: this starts \
                  it again under sudo, in the command pane, where sudo asks for the password"
                .into(),
        }))
    }

    /// The user's answer.
    pub fn answer(&mut self, yes: bool) -> Vec<Effect> {
        if !yes {
            return vec![Effect::say("not run: the test's containers cannot start")];
        }
        self.restart = self.command();
        vec![Effect::say("starting the driver again under sudo")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_the_drivers_own_under_sudo() {
        let mut a = AsRoot::default();
        a.started(
            &"./result/bin/nixos-test-driver".into(),
            &["-I".into(), "--keep-vm-state".into()],
        );
        let (p, args) = a.command().unwrap();
        assert_eq!(p, "sudo");
        assert_eq!(
            args,
            [
                "--preserve-env=DISPLAY,XAUTHORITY",
                "./result/bin/nixos-test-driver",
                "-I",
                "--keep-vm-state"
            ]
            .map(OsString::from)
        );
        // Already under sudo: nothing more to offer.
        a.started(&"sudo".into(), &args);
        assert_eq!(a.command(), None);
        let quote = |w: &str| crate::vsock::ssh::shell_line(w, &[] as &[&str]);
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("--x=y"), "--x=y");
    }
}
