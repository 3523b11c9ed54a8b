//! The breakpoint view's behaviour: opening on a trigger, the frozen panes, and one key each
//! into the paused sandbox, its pdb and its machines.

use std::time::{Duration, Instant};

use super::state::{App, Effect, Message};
use super::tabs::{Ready, TabKind};
use super::trust::Mode;
use super::view::Pane;
use crate::vm::model::{Freeze, StepState, TriggerKind};
use crate::vsock::Address;

/// Where pdb listens when the driver did not say (`Debug.breakpoint`'s defaults).
pub const DEFAULT_PDB: (&str, u16) = ("127.0.0.1", 4444);

/// How long a pdb console waits for the driver to say where pdb listens, after the
/// breakpoint line, before it tries the default address.
const PDB_ADDRESS_WAIT: Duration = Duration::from_millis(1500);

/// Someone who typed into a terminal this recently is still typing: the view does not take
/// the keyboard from them.
const TYPING_PAUSE: Duration = Duration::from_secs(3);

impl App {
    /// The freeze the panes show now, if they are frozen.
    pub fn frozen(&self) -> Option<&Freeze> {
        if self.live_panes {
            return None;
        }
        self.current_test().freeze.as_ref()
    }

    /// Where `pane`'s lines end in the frozen view.
    pub fn frozen_end(&self, pane: Pane) -> Option<u64> {
        let f = self.frozen()?;
        match pane {
            Pane::Driver => Some(f.driver_end),
            Pane::Machine(m) => Some(f.serial_end(m)),
            Pane::Command => None,
        }
    }

    /// The head line of the innermost step that failed at the freeze.
    pub fn failed_head(&self) -> Option<u64> {
        let f = self.frozen()?;
        let t = self.current_test();
        t.steps
            .iter()
            .filter(|s| s.state == StepState::Failed && s.head < f.driver_end)
            .map(|s| s.head)
            .max()
    }

    /// Whether `action` can do anything now: keys that cannot are left out of the hints.
    pub fn offers(&self, action: super::action::Action) -> bool {
        use super::action::Action as A;
        let t = self.current_test();
        match action {
            A::Attach => t.breakpoint.is_some() && self.paused(),
            A::Pdb | A::PdbContinue | A::PdbQuit => self.paused(),
            A::SshMachine(_) | A::SshOpen => !t.machines.is_empty() && self.ssh_reachable(),
            A::FailureView => t.freeze.is_some() || t.breakpoint.is_some(),
            A::Live => self.frozen().is_some(),
            A::Freeze => self.frozen().is_none(),
            _ => true,
        }
    }

    /// The machines can be reached: the run is live, or paused where vmscope can attach. A
    /// saved log only tells of machines that are gone.
    pub fn ssh_reachable(&self) -> bool {
        self.live || self.paused()
    }

    /// What `s` says when no machine can be reached.
    pub(super) fn ssh_unreachable(&mut self) -> Vec<Effect> {
        self.message = Some(Message {
            text: "ssh needs the running test: this log was saved after it ended \
                   (`vmscope run`, or a test paused at a breakpoint, offers it)"
                .into(),
            error: true,
        });
        Vec::new()
    }

    /// The test is paused in a build sandbox (a breakpoint under `nix build`): pdb and the
    /// machines are reached from inside it.
    pub fn sandboxed(&self) -> bool {
        let t = self.current_test();
        t.in_build && t.breakpoint.is_some()
    }

    /// What marks the current pause: the breakpoint's line, or remote-pdb's listening line.
    fn pause_mark(&self) -> Option<u64> {
        let t = self.current_test();
        t.breakpoint
            .as_ref()
            .map(|b| b.at_line)
            .or(t.pdb.as_ref().map(|_| u64::MAX))
    }

    /// The test waits in pdb: it reached a breakpoint that was not continued or quit from
    /// here, and its driver did not end.
    pub fn paused(&self) -> bool {
        self.exit_code.is_none()
            && self
                .pause_mark()
                .is_some_and(|m| self.resumed.get(&self.test) != Some(&m))
    }

    /// A pdb command that lets the test go on was sent.
    pub(super) fn note_resumed(&mut self, line: &str) {
        if matches!(
            line.trim(),
            "c" | "cont" | "continue" | "q" | "quit" | "exit"
        ) && let Some(m) = self.pause_mark()
        {
            self.resumed.insert(self.test, m);
        }
    }

    /// Opens the view for triggers and breakpoints not yet shown.
    pub fn check_triggers(&mut self) {
        let mut open = None;
        let mut paused = false;
        let mut claimed = None;
        // In a live run a breakpoint line counts once its marker process is found: a guest
        // can print the line, not start a process on this host.
        let live = self.checks.mode != Mode::Log;
        for (i, t) in self.parser.run.tests.iter().enumerate() {
            let unconfirmed = t.breakpoint.as_ref().is_some_and(|b| live && !b.verified);
            if let Some(f) = &t.freeze
                && f.kind != TriggerKind::Manual
                && !(f.kind == TriggerKind::Breakpoint && unconfirmed)
                && self.announced.insert((i, f.line, false))
            {
                open = open.or(Some(i));
            }
            if let Some(b) = &t.breakpoint {
                if unconfirmed {
                    claimed = claimed.or(Some(b.at_line));
                } else if self.announced.insert((i, b.at_line, true)) {
                    open = Some(i);
                    paused = true;
                }
            }
        }
        if let Some(i) = open {
            self.open_failure_view(i, paused);
        }
        if open.is_none()
            && let Some(line) = claimed
            && self.checks.noted.insert(line)
        {
            self.message = Some(Message {
                text: "a line says the test reached a breakpoint, but no `sleep ID` marker \
                       process confirms it yet: its keys ask before they run anything"
                    .into(),
                error: true,
            });
        }
    }

    /// Opens the view on test `test`. A breakpoint always takes the screen: the driver waits
    /// in pdb, and its terminal (`debug.breakpoint()` typed in the REPL) takes no keys until
    /// it goes on.
    fn open_failure_view(&mut self, test: usize, paused: bool) {
        self.dirty = true;
        self.urgent = true;
        let what = {
            let t = &self.parser.run.tests[test];
            if t.breakpoint.is_some() {
                "the test is paused at a breakpoint"
            } else {
                match t.freeze.as_ref().map(|f| f.kind) {
                    Some(TriggerKind::GlobalTimeout) => "the global timeout was reached",
                    Some(TriggerKind::Exit) => "the driver exited with an error",
                    _ => "the test failed",
                }
            }
        };
        // Keys being typed into a terminal must not land in the view.
        if !paused && self.typing() && self.last_typed.is_some_and(|t| t.elapsed() < TYPING_PAUSE) {
            self.message = Some(Message {
                text: format!("{what}: b shows what went wrong"),
                error: true,
            });
            return;
        }
        self.test = test;
        self.live_panes = false;
        self.failure_view = true;
        self.active_tab = None;
        self.tab_input = false;
        self.term_input = false;
        self.show_failed_step();
    }

    /// The failed step open, under the driver pane's cursor. The view stays at the end of
    /// the frozen lines (where the failure's report is) when the step fits on screen.
    fn show_failed_step(&mut self) {
        let Some(head) = self.failed_head() else {
            return;
        };
        self.unfold_around(head);
        let near_end = {
            let lines = self.pane_lines(Pane::Driver);
            let h = self.pane_height(Pane::Driver).max(2) as i64;
            lines
                .last()
                .is_some_and(|last| lines.step_by(last, -(h - 2)) <= head)
        };
        if near_end {
            let v = self.views.entry((self.test, Pane::Driver)).or_default();
            v.anchor = None;
            v.cursor = Some(head);
        } else {
            self.reveal(Pane::Driver, head);
        }
    }

    /// `b`: the view, or the panes again.
    pub fn toggle_failure_view(&mut self) {
        let t = self.current_test();
        if !self.failure_view && t.freeze.is_none() && t.breakpoint.is_none() {
            self.message = Some(Message {
                text: "nothing failed in this test: F freezes the panes now".into(),
                error: false,
            });
            return;
        }
        // From a tab, `b` shows the view; on the view, the panes.
        self.failure_view = self.active_tab.is_some() || !self.failure_view;
        self.active_tab = None;
        self.tab_input = false;
    }

    /// `F`: panes back at the failure, or frozen now when nothing failed.
    pub fn freeze(&mut self) {
        self.live_panes = false;
        let now = self.now_ms();
        let line = self.parser.run.lines.saturating_sub(1);
        let i = self.test.min(self.parser.run.tests.len() - 1);
        let t = &mut self.parser.run.tests[i];
        let text = match t.failure_freeze() {
            Some(f) => format!("panes frozen at the {} (L: live)", f.kind.label()),
            None => {
                t.freeze_now(TriggerKind::Manual, line, self.live.then_some(now));
                "panes frozen now (L: live again)".to_string()
            }
        };
        self.show_failed_step();
        self.message = Some(Message { text, error: false });
    }

    /// `L`: panes follow the live run.
    pub fn go_live(&mut self) {
        self.live_panes = true;
        self.failure_view = false;
        let v = self.views.entry((self.test, Pane::Driver)).or_default();
        v.anchor = None;
        v.cursor = None;
        self.message = Some(Message {
            text: if self.current_test().freeze.is_some() {
                "panes follow the run (F: back to the moment of failure)".into()
            } else {
                "panes follow the run".into()
            },
            error: false,
        });
    }

    /// `a`: a shell in the paused build sandbox.
    pub fn attach(&mut self) -> Vec<Effect> {
        if self.current_test().breakpoint.is_none() || !self.paused() {
            self.message = Some(Message {
                text: "no paused build to attach to: the test pauses at one with \
                       enableDebugHook = true (or --debug-hook-attach)"
                    .into(),
                error: true,
            });
            return Vec::new();
        }
        self.open_tab(TabKind::Attach, String::new())
    }

    /// Where pdb listens: what the driver said, or its default once it had time to say.
    fn pdb_address(&self, asked: Instant) -> Option<(String, u16)> {
        let t = self.current_test();
        match &t.pdb {
            Some(a) => Some(a.clone()),
            None if asked.elapsed() < PDB_ADDRESS_WAIT => None,
            None => Some((DEFAULT_PDB.0.to_string(), DEFAULT_PDB.1)),
        }
    }

    /// `p`: a pdb console (over TCP, or `telnet` typed into the sandbox).
    pub fn pdb(&mut self) -> Vec<Effect> {
        self.pdb_with(None)
    }

    fn pdb_with(&mut self, then: Option<&str>) -> Vec<Effect> {
        if !self.paused() {
            self.message = Some(Message {
                text: "nothing waits in pdb: the test pauses in pdb at a breakpoint \
                       (enableDebugHook = true, or --debug-hook-attach)"
                    .into(),
                error: true,
            });
            return Vec::new();
        }
        if let Some(i) = self.pdb_tab() {
            self.show_tab(Some(i));
            if let Some(cmd) = then {
                self.tabs[i].queued.push_back((cmd.to_string(), Ready::Pdb));
                return self.type_queued(i, Instant::now());
            }
            return Vec::new();
        }
        let effects = if self.sandboxed() {
            let (host, port) = self
                .current_test()
                .pdb
                .clone()
                .unwrap_or((DEFAULT_PDB.0.to_string(), DEFAULT_PDB.1));
            self.open_sandbox_shell("pdb", format!("telnet {host} {port}"))
        } else {
            self.open_tab(TabKind::Pdb, "pdb".into())
        };
        if let (Some(cmd), Some(tab)) = (then, self.tabs.last_mut()) {
            tab.queued.push_back((cmd.to_string(), Ready::Pdb));
        }
        effects
    }

    /// The tab that talks to pdb, if one runs.
    fn pdb_tab(&self) -> Option<usize> {
        self.tabs.iter().position(|t| {
            (t.running || t.waiting.is_some())
                && (t.kind == TabKind::Pdb || (t.kind == TabKind::Attach && t.machine == "pdb"))
        })
    }

    /// `c` / `Q`: a pdb command for the paused test.
    pub fn pdb_command(&mut self, cmd: &str) -> Vec<Effect> {
        if cmd == "c" && !self.paused() {
            // Nothing is paused: `c` keeps its meaning of everywhere else.
            return self.update(super::action::Action::FocusCommand);
        }
        // The command goes to pdb's tab in the background: the view stays, and the run's
        // answer (the REPL back, the driver's end) shows where it is.
        let (shown, input) = (self.active_tab, self.tab_input);
        let effects = self.pdb_with(Some(cmd));
        self.active_tab = shown;
        self.tab_input = input;
        self.note_resumed(cmd);
        if !effects.is_empty() || self.pdb_tab().is_some() {
            self.message = Some(Message {
                text: match cmd {
                    "c" => "continue: the test goes on from the breakpoint".into(),
                    _ => "quit: pdb stops the test".into(),
                },
                error: false,
            });
        }
        effects
    }

    /// `1`…`9`: a shell into machine N, from the host or from inside the sandbox.
    pub fn ssh_machine(&mut self, n: usize) -> Vec<Effect> {
        if !self.ssh_reachable() {
            return self.ssh_unreachable();
        }
        let t = self.current_test();
        let Some(machine) = n.checked_sub(1).and_then(|i| t.machines.get(i)) else {
            self.message = Some(Message {
                text: format!("there is no machine {n}"),
                error: true,
            });
            return Vec::new();
        };
        let name = machine.name.clone();
        if !self.sandboxed() {
            return self.open_tab(TabKind::Ssh, name);
        }
        let command = t.ssh.iter().find(|e| e.machine == name).and_then(|e| {
            let user = crate::vsock::address::user_in(&e.command).unwrap_or("root");
            sandbox_ssh(e.address.as_ref()?, user)
        });
        let Some(command) = command else {
            self.message = Some(Message {
                text: format!("the driver printed no SSH backdoor address for {name}"),
                error: true,
            });
            return Vec::new();
        };
        self.open_sandbox_shell(&name, command)
    }

    /// A sandbox tab for `purpose`, with `line` typed in once its shell is ready.
    fn open_sandbox_shell(&mut self, purpose: &str, line: String) -> Vec<Effect> {
        let mut effects = self.open_tab_typing(TabKind::Attach, purpose.to_string(), Some(line));
        let i = self.tabs.len() - 1;
        effects.extend(self.type_queued(i, Instant::now()));
        effects
    }

    /// Why the current breakpoint is not taken for a real pause.
    fn breakpoint_doubt(&self) -> Option<String> {
        let t = self.current_test();
        match &t.breakpoint {
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

    /// Starts `sudo ATTACH ID` for tab `i` (through ssh on a remote builder), once the user
    /// said yes to the exact command and what will be typed into its shell.
    pub(super) fn connect_attach(&mut self, i: usize) -> Vec<Effect> {
        let Some(bp) = self.current_test().breakpoint.clone() else {
            if let Some(tab) = self.tabs.get_mut(i) {
                tab.waiting = Some("no breakpoint to attach to".into());
            }
            return Vec::new();
        };
        let builder = self.current_test().builder.clone();
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
        let command = crate::vsock::ssh::shell_line(program, &args);
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
        let why = match self.breakpoint_doubt() {
            Some(d) => format!("sudo runs it as root, and {d}"),
            None => "sudo runs the debug hook's attach program as root".into(),
        };
        if !self.cleared(i, &lines, Some(why)) {
            return Vec::new();
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
            stderr: super::child::StderrTo::Terminal,
        }]
    }

    /// Connects tab `i` to pdb once its address is known.
    pub(super) fn connect_pdb(&mut self, i: usize) -> Vec<Effect> {
        let Some(asked) = self.tabs.get(i).map(|t| t.opened) else {
            return Vec::new();
        };
        let address = self.pdb_address(asked);
        let Some((host, port)) = address else {
            if let Some(tab) = self.tabs.get_mut(i) {
                tab.waiting = Some("waiting for pdb to say where it listens".into());
            }
            return Vec::new();
        };
        let doubt = self.breakpoint_doubt();
        if !self.cleared(i, &[format!("connect to pdb at {host}:{port}")], doubt) {
            return Vec::new();
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

    /// Sends a line to tab `i`'s pdb, shown after its prompt as a terminal would echo it.
    pub(super) fn pdb_send(&mut self, i: usize, line: &str) -> Vec<Effect> {
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        tab.pane.emu.scroll_to_live();
        tab.pane.emu.process(format!("{line}\r\n").as_bytes());
        self.dirty = true;
        self.urgent = true;
        vec![Effect::WriteTab(tab.id, format!("{line}\n").into_bytes())]
    }

    /// A key for the pdb console shown.
    pub fn pdb_key(&mut self, key: &crossterm::event::KeyEvent) -> Vec<Effect> {
        self.dirty = true;
        self.urgent = true;
        let Some(i) = self.active_tab else {
            return Vec::new();
        };
        match self.tabs[i].console.key(key) {
            Some(line) => {
                self.note_resumed(&line);
                self.pdb_send(i, &line)
            }
            None => Vec::new(),
        }
    }

    /// Text pasted into the pdb console shown.
    pub fn pdb_paste(&mut self, text: &str) -> Vec<Effect> {
        let Some(i) = self.active_tab else {
            return Vec::new();
        };
        let lines = self.tabs[i].console.paste(text);
        let mut effects = Vec::new();
        for l in lines {
            self.note_resumed(&l);
            effects.extend(self.pdb_send(i, &l));
        }
        self.dirty = true;
        effects
    }

    /// How long the global timeout leaves, for a live run that is paused: its timer started
    /// when the driver printed `Test will time out …`.
    pub fn timeout_left(&self) -> Option<Duration> {
        let t = self.current_test();
        let total = Duration::try_from_secs_f64(t.global_timeout_secs?).ok()?;
        if !self.live || self.ended.is_some() {
            return None;
        }
        let since = self
            .start
            .elapsed()
            .saturating_sub(Duration::from_millis(u64::from(t.global_timeout_at_ms?)));
        Some(total.saturating_sub(since))
    }
}

/// The ssh command typed into the sandbox's shell for `address`, built here: `-F
/// ./ssh_config` for the vsock forms (that file routes them through systemd-ssh-proxy), the
/// container's ProxyCommand otherwise. Every word is of the narrow forms, so the line reads
/// back in the shell as these words.
pub fn sandbox_ssh(address: &Address, user: &str) -> Option<String> {
    if !crate::vsock::address::is_machine_name(user) {
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
    Some(crate::vsock::ssh::shell_line("ssh", &words))
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
