//! When a command is possible. With the keymap (its keys) and `Action::describe` (what it
//! does), this is the one list of commands the bottom bar, the help, the palette and the
//! messages read: a command that cannot do anything now is not offered.

use super::action::Action;
use crate::vm::model::Test;

/// What decides whether a command can run now.
pub struct Facts<'a> {
    pub test: &'a Test,
    /// The test waits in pdb at a breakpoint vmscope can reach.
    pub paused: bool,
    /// The machines can be reached (a live run, or a pause).
    pub reachable: bool,
    /// The panes show the frozen moment of failure.
    pub frozen: bool,
    pub tabs: usize,
    pub tab_shown: bool,
    /// A driver's terminal is there, and whether it still runs.
    pub command: Option<bool>,
    /// Tests worth showing.
    pub tests: usize,
    /// A recording is replayed.
    pub replay: bool,
}

impl<'a> Facts<'a> {
    /// The facts of test `t` (number `i`) as the parts know them.
    pub fn new(
        t: &'a Test,
        i: usize,
        input: &super::input::Input,
        failure: &super::failure::FailureView,
        sessions: &super::sessions::Sessions,
        replay: bool,
    ) -> Self {
        let paused = failure.paused(t, i, input.exit_code.is_some());
        let run = &input.parser.run;
        Self {
            test: t,
            paused,
            reachable: input.live || paused,
            frozen: failure.frozen(t).is_some(),
            tabs: sessions.tabs.len(),
            tab_shown: sessions.active.is_some(),
            command: sessions.command.as_ref().map(|c| c.running()),
            tests: run.visible_tests().count(),
            replay,
        }
    }

    /// The test is paused in a build sandbox: pdb and the machines are reached from inside.
    pub fn sandboxed(&self) -> bool {
        self.test.in_build && self.test.breakpoint.is_some()
    }
}

pub fn possible(f: &Facts<'_>, action: Action) -> bool {
    let t = f.test;
    match action {
        Action::Attach => t.breakpoint.is_some() && f.paused,
        Action::Pdb | Action::PdbContinue | Action::PdbQuit => f.paused,
        Action::SshMachine(_) | Action::SshOpen => !t.machines.is_empty() && f.reachable,
        Action::FailureView => t.freeze.is_some() || t.breakpoint.is_some(),
        Action::Live => f.frozen,
        Action::Freeze => !f.frozen,
        Action::Interrupt => f.command == Some(true) || f.tab_shown,
        Action::NextTab | Action::PrevTab => f.tabs > 0,
        Action::CloseTab | Action::Reconnect | Action::SyncTyping => f.tab_shown,
        Action::FocusCommand => f.command.is_some(),
        Action::NextTest | Action::PrevTest => f.tests > 1,
        Action::PlayPause | Action::Faster | Action::Slower => f.replay,
        _ => true,
    }
}
