//! `App`: the router. It owns the parser and the parts (the log views, the overlay, the
//! failure view, the sessions), turns input into `Action`s through the keymap of the
//! current `Scope`, hands each action to the part it belongs to, and returns the effects
//! for the runner. Nothing here does I/O.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::action::Action;
use super::effect::{Effect, Message};
use super::failure::{FailureView, Trigger};
use super::keymap::{Context, Keymap};
use super::logviews::{LogViews, Shown};
use super::overlay::{Done, Overlay, PromptKind};
use super::palette;
use super::scope::Scope;
use super::sessions::connect::Ctx;
use super::sessions::driver::ChildEvent;
use super::sessions::{Sessions, TabKind, Target};
use super::trust::Checks;
use super::view::{Pane, PaneLines};
use crate::vm::model::{Test, TriggerKind};
use crate::vm::source::SourceEvent;
use crate::vm::{Caps, Parser, TestRun};

/// Someone who typed into a terminal this recently is still typing: the failure view does
/// not take the keyboard from them.
const TYPING_PAUSE: Duration = Duration::from_secs(3);

/// Where things were drawn, for the mouse, paging and the terminals' sizes.
#[derive(Debug, Clone, Default)]
pub struct Drawn {
    pub panes: Vec<(Pane, Rect)>,
    pub machine_list: Option<Rect>,
    /// The tab labels of the top bar (`None`: the panes).
    pub tabs: Vec<(Option<usize>, Rect)>,
    /// The inner size a tab's terminal has (or would have).
    pub tab_size: Option<(u16, u16)>,
    /// The border between the grid and the driver column, for dragging.
    pub divider: Option<u16>,
}

pub struct App {
    pub parser: Parser,
    pub keymap: Keymap,
    pub views: LogViews,
    pub overlay: Overlay,
    pub failure: FailureView,
    pub sessions: Sessions,
    /// What the host confirms: how the run came, the driver's process and configuration.
    pub checks: Checks,
    /// What the input is, for titles and the "whole log is in …" note.
    pub origin: String,
    /// Where the whole input is kept when it is not `origin` (a live run's recording).
    pub archive: Option<String>,
    pub start: Instant,
    /// Input ended after this long (live inputs).
    pub ended: Option<Duration>,
    pub live: bool,
    /// The live run's exit status, once it ended.
    pub exit_code: Option<i32>,
    pub dirty: bool,
    /// What changed answers the user (a key, the terminal's echo): draw it at once.
    pub urgent: bool,
    pub quit: bool,
    /// Quit was asked once while something runs.
    confirm_quit: bool,
    /// Mouse reporting is on.
    pub mouse: bool,
    /// The driver column's width as the user set it (columns), if they did.
    pub driver_width: Option<u16>,
    pub drawn: Drawn,
}

impl App {
    pub fn new(caps: Caps, keymap: Keymap, origin: String, live: bool) -> Self {
        let mut parser = Parser::new(caps, Parser::env_options());
        parser.run.live = live;
        parser.run.origin = Some(origin.clone());
        Self {
            parser,
            keymap,
            views: LogViews::default(),
            overlay: Overlay::default(),
            failure: FailureView::default(),
            sessions: Sessions::new(),
            checks: Checks::default(),
            origin,
            archive: None,
            start: Instant::now(),
            ended: None,
            live,
            exit_code: None,
            dirty: true,
            urgent: true,
            quit: false,
            confirm_quit: false,
            mouse: true,
            driver_width: None,
            drawn: Drawn::default(),
        }
    }

    pub fn run(&self) -> &TestRun {
        &self.parser.run
    }

    pub fn current_test(&self) -> &Test {
        let tests = &self.parser.run.tests;
        &tests[self.views.test.min(tests.len() - 1)]
    }

    /// The test shown, at the freeze the panes show.
    pub fn shown(&self) -> Shown<'_> {
        shown(&self.parser, self.views.test, &self.failure)
    }

    pub fn pane_lines(&self, pane: Pane) -> PaneLines<'_> {
        self.views.lines(&self.shown(), pane)
    }

    /// Milliseconds since the start, for line times.
    pub fn now_ms(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_millis()).unwrap_or(u32::MAX - 2)
    }

    pub fn paused(&self) -> bool {
        self.failure.paused(
            self.current_test(),
            self.views.test,
            self.exit_code.is_some(),
        )
    }

    /// The test is paused in a build sandbox: pdb and the machines are reached from inside.
    pub fn sandboxed(&self) -> bool {
        let t = self.current_test();
        t.in_build && t.breakpoint.is_some()
    }

    /// The machines can be reached: the run is live, or paused where vmscope can attach.
    pub fn ssh_reachable(&self) -> bool {
        self.live || self.paused()
    }

    /// Whether `action` can do anything now: keys that cannot are left out of the hints.
    pub fn offers(&self, action: Action) -> bool {
        let t = self.current_test();
        let frozen = self.failure.frozen(t).is_some();
        match action {
            Action::Attach => t.breakpoint.is_some() && self.paused(),
            Action::Pdb | Action::PdbContinue | Action::PdbQuit => self.paused(),
            Action::SshMachine(_) | Action::SshOpen => {
                !t.machines.is_empty() && self.ssh_reachable()
            }
            Action::FailureView => t.freeze.is_some() || t.breakpoint.is_some(),
            Action::Live => frozen,
            Action::Freeze => !frozen,
            Action::Interrupt => self.sessions.command_running() || self.sessions.active.is_some(),
            Action::NextTab | Action::PrevTab => !self.sessions.tabs.is_empty(),
            Action::CloseTab | Action::Reconnect | Action::SyncTyping => {
                self.sessions.active.is_some()
            }
            Action::FocusCommand => self.sessions.command.is_some(),
            Action::NextTest | Action::PrevTest => self.test_indices().len() > 1,
            _ => true,
        }
    }

    /// Where the keyboard is.
    pub fn scope(&self) -> Scope {
        let o = &self.overlay;
        if o.confirm.is_some() {
            return Scope::Confirm;
        }
        if let Some(p) = &o.prompt {
            return Scope::Prompt(p.kind);
        }
        if o.help.is_some() {
            return Scope::Help;
        }
        let command = self.views.focus == Pane::Command && !self.failure.open;
        if let Some(target) = self.sessions.focused(command) {
            let typing = self.sessions.typing(command).is_some();
            return Scope::Terminal { target, typing };
        }
        match (self.failure.open, self.views.focus) {
            (true, _) => Scope::FailureView,
            (false, Pane::Driver) => Scope::Driver,
            _ => Scope::Log,
        }
    }

    pub fn context(&self) -> Context {
        self.scope().context()
    }

    /// The key of `action` where the user is, as it is typed (for messages).
    pub fn key(&self, action: Action) -> String {
        let ctx = self.context();
        self.keymap
            .key(ctx, action)
            .or_else(|| self.keymap.key(Context::Global, action))
            .map_or_else(|| format!(":{}", palette::name(action)), |k| k.to_string())
    }

    /// The terminal that has the keyboard, if one does.
    pub fn typing(&self) -> bool {
        self.scope().typing()
    }

    pub fn test_indices(&self) -> Vec<usize> {
        self.parser.run.visible_tests().map(|(i, _)| i).collect()
    }

    /// Elapsed time of the run: live inputs count from the start, files tell their own.
    pub fn elapsed(&self) -> Option<Duration> {
        if self.live {
            return Some(self.ended.unwrap_or_else(|| self.start.elapsed()));
        }
        let t = self.current_test();
        t.script_secs
            .or_else(|| {
                t.steps
                    .iter()
                    .find(|s| {
                        matches!(
                            s.title.as_str(),
                            "run the VM test script" | "running the VM test script"
                        )
                    })
                    .and_then(|s| s.secs)
            })
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    }

    /// Panes in focus order: the machines, then the driver, then its terminal.
    pub fn pane_order(&self) -> Vec<Pane> {
        let mut v: Vec<Pane> = (0..self.current_test().machines.len())
            .map(Pane::Machine)
            .collect();
        v.push(Pane::Driver);
        if self.sessions.command.is_some() {
            v.push(Pane::Command);
        }
        v
    }

    /// Focus goes to `pane` (for reading: a terminal reached this way does not type).
    pub fn set_focus(&mut self, pane: Pane) {
        self.views.focus = pane;
        self.sessions.command_typing = false;
        if let Pane::Machine(m) = pane {
            let t = &self.parser.run.tests[self.views.test.min(self.parser.run.tests.len() - 1)];
            self.views.mark_seen(t, m);
        }
    }

    /// Takes effects meant for the screen (messages, questions) and passes the rest on.
    fn finish(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        effects
            .into_iter()
            .filter_map(|e| match e {
                Effect::Say(m) => {
                    self.overlay.message = Some(m);
                    None
                }
                Effect::Ask(c) => {
                    self.overlay.confirm = Some(c);
                    self.urgent = true;
                    None
                }
                e => Some(e),
            })
            .collect()
    }

    // ----- input -----

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let scope = self.scope();
        let action = self.keymap.lookup_event(scope.context(), &key);
        match (scope, action) {
            // A key typed into the terminal changes nothing on screen until its echo comes
            // back: drawing now would only delay drawing the echo.
            (Scope::Terminal { typing: true, .. }, None) => self.update(Action::SendKey(key)),
            (Scope::Prompt(_), None) => {
                self.dirty = true;
                self.overlay.edit(&key);
                Vec::new()
            }
            (_, Some(a)) => self.update(a),
            (_, None) => Vec::new(),
        }
    }

    pub fn on_mouse(&mut self, ev: MouseEvent) -> Vec<Effect> {
        if self.overlay.confirm.is_some() {
            return Vec::new();
        }
        let at = Position::new(ev.column, ev.row);
        let hit = self
            .drawn
            .panes
            .iter()
            .find(|(_, r)| r.contains(at))
            .map(|(p, _)| *p);
        self.dirty = true;
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(&(tab, _)) = self.drawn.tabs.iter().find(|(_, r)| r.contains(at)) {
                    self.sessions.show_tab(tab);
                } else if self.drawn.divider == Some(ev.column) {
                    self.driver_width = Some(self.driver_width.unwrap_or(0));
                } else if let Some(p) = hit {
                    self.set_focus(p);
                    // A click in a terminal is coming to type in it.
                    self.sessions.command_typing = p == Pane::Command;
                } else if let Some(list) = self.drawn.machine_list.filter(|l| l.contains(at)) {
                    let row = ev.row.saturating_sub(list.y + 1) as usize;
                    if row < self.current_test().machines.len() {
                        self.set_focus(Pane::Machine(row));
                    }
                }
            }
            MouseEventKind::Drag(MouseButton::Left) if self.driver_width.is_some() => {
                let right = self
                    .drawn
                    .panes
                    .iter()
                    .map(|(_, r)| r.right())
                    .max()
                    .unwrap_or(0);
                self.driver_width = Some(right.saturating_sub(ev.column));
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let n = if ev.kind == MouseEventKind::ScrollUp {
                    -3
                } else {
                    3
                };
                match (hit, self.sessions.active) {
                    (_, Some(i)) => self.sessions.scroll(Target::Tab(i), -n),
                    (Some(Pane::Command), None) => self.sessions.scroll(Target::Command, -n),
                    (Some(p), None) => {
                        let s = shown(&self.parser, self.views.test, &self.failure);
                        self.views.scroll(&s, p, n);
                    }
                    (None, None) => {}
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// A paste from the outer terminal: for the terminal typing, or the prompt's line.
    pub fn on_paste(&mut self, text: &str) -> Vec<Effect> {
        self.dirty = true;
        match self.scope() {
            Scope::Terminal {
                target,
                typing: true,
            } => self.sessions.paste(target, text),
            Scope::Prompt(_) => {
                self.overlay.paste(text);
                Vec::new()
            }
            // A paste is no answer to a question, nor a list of keys.
            _ => Vec::new(),
        }
    }

    pub fn ingest(&mut self, ev: SourceEvent) {
        match ev {
            SourceEvent::Data(bytes, t) => {
                let ends = |p: &Parser, i: usize| -> Vec<u64> {
                    p.run.tests.get(i).map_or(Vec::new(), |t| {
                        t.machines.iter().map(|m| m.serial.end_seq()).collect()
                    })
                };
                let before = ends(&self.parser, self.views.test);
                self.parser.feed(&bytes, t);
                let after = ends(&self.parser, self.views.test);
                self.views.count_unread(
                    after
                        .iter()
                        .enumerate()
                        .map(|(m, n)| (m, n - before.get(m).copied().unwrap_or(0))),
                );
            }
            SourceEvent::Terminal(bytes) => {
                self.parser.feed_terminal(&bytes);
                self.sessions.command_output(&bytes);
            }
            SourceEvent::End => {
                self.parser.finish();
                self.ended = Some(self.start.elapsed());
                self.parser.run.live = false;
                if self.live {
                    let outcome = self.parser.run.outcome();
                    self.overlay
                        .say(format!("input ended: {}", outcome.label()));
                }
            }
            SourceEvent::Error(e) => {
                self.parser.finish();
                self.ended = Some(self.start.elapsed());
                self.overlay.warn(e);
            }
        }
        self.check_triggers();
        self.dirty = true;
    }

    /// What the driver's process did.
    pub fn on_child(&mut self, ev: ChildEvent) -> Vec<Effect> {
        self.dirty = true;
        match ev {
            ChildEvent::Pty(bytes) => {
                self.parser.feed_terminal(&bytes);
                self.sessions.command_output(&bytes)
            }
            ChildEvent::Stderr(bytes) => {
                let t = self.now_ms();
                self.ingest(SourceEvent::Data(bytes, t));
                Vec::new()
            }
            ChildEvent::Exited(code) => {
                self.sessions.command_exited(code);
                if code != 0 {
                    let line = self.parser.run.lines.saturating_sub(1);
                    let (ms, i) = (
                        self.now_ms(),
                        self.views.test.min(self.parser.run.tests.len() - 1),
                    );
                    self.parser.run.tests[i].freeze_now(TriggerKind::Exit, line, Some(ms));
                }
                self.exit_code = Some(code);
                self.parser.set_exit_code(code);
                self.ingest(SourceEvent::End);
                let text = format!(
                    "the driver exited with status {code}: {} ({} quits)",
                    self.run().outcome().label(),
                    self.key(Action::Quit)
                );
                self.overlay.message = Some(Message {
                    text,
                    error: code != 0,
                });
                Vec::new()
            }
        }
    }

    /// What a tab's session did.
    pub fn on_tab(&mut self, id: u32, ev: ChildEvent) -> Vec<Effect> {
        self.dirty = true;
        let effects = self.sessions.on_tab(id, ev, self.ended.is_some());
        self.finish(effects)
    }

    /// A tab's pdb connection is up: queued commands go once pdb prompts.
    pub fn tab_connected(&mut self, id: u32) -> Vec<Effect> {
        self.dirty = true;
        match self.sessions.position(id) {
            Some(i) => self.sessions.type_queued(i, Instant::now()),
            None => Vec::new(),
        }
    }

    pub fn tab_failed(&mut self, id: u32, text: &str) {
        self.sessions.tab_failed(id, text);
        self.overlay.warn(text);
        self.dirty = true;
    }

    /// Every tick: what the host confirms, and tabs that wait for their machine.
    pub fn poll_tabs(&mut self) -> Vec<Effect> {
        if let Some(config) = self.checks.look_for_config(self.start) {
            self.parser.known_machines(&config.machines());
            self.dirty = true;
        }
        let found = self
            .checks
            .confirmed_breakpoints(&self.parser.run.tests, self.ended.is_some());
        for i in &found {
            if let Some(b) = &mut self.parser.run.tests[*i].breakpoint {
                b.verified = true;
            }
        }
        if !found.is_empty() {
            self.dirty = true;
            self.check_triggers();
        }
        let now = Instant::now();
        let asking = self.overlay.confirm.as_ref().map(|c| c.tab);
        let mut effects = Vec::new();
        for i in self.sessions.due(now) {
            // A tab whose question is open waits for the answer.
            if Some(self.sessions.tabs[i].id) != asking {
                effects.extend(
                    self.sessions
                        .connect(i, &ctx(&self.parser, self.views.test, &self.checks)),
                );
            }
        }
        for i in 0..self.sessions.tabs.len() {
            effects.extend(self.sessions.type_queued(i, now));
        }
        if !effects.is_empty() {
            self.dirty = true;
        }
        self.finish(effects)
    }

    /// The runner laid the screen out: the mouse, paging and the tabs' size follow it.
    pub fn laid_out(&mut self, drawn: Drawn) {
        if let Some(size) = drawn.tab_size {
            self.sessions.tab_size = size;
        }
        self.views.rects = drawn.panes.clone();
        // What a following pane shows has been seen.
        for (pane, _) in &drawn.panes {
            if let Pane::Machine(m) = pane
                && self.views.view(*pane).following()
            {
                let t =
                    &self.parser.run.tests[self.views.test.min(self.parser.run.tests.len() - 1)];
                self.views.mark_seen(t, *m);
            }
        }
        self.drawn = drawn;
    }

    /// The runner reports how saving went.
    pub fn saved(&mut self, path: &std::path::Path, result: std::io::Result<usize>) {
        let evicted = self.pane_lines(self.views.focus).store.evicted();
        self.overlay.message = Some(match result {
            Ok(n) if evicted > 0 => Message::info(format!(
                "saved {n} lines to {} ({evicted} older lines were evicted from memory; the \
                 whole log is in {})",
                path.display(),
                self.archive.as_deref().unwrap_or(&self.origin)
            )),
            Ok(n) => Message::info(format!("saved {n} lines to {}", path.display())),
            Err(e) => Message::error(format!("could not save to {}: {e}", path.display())),
        });
        self.dirty = true;
    }

    // ----- actions -----

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if let Action::SendKey(key) = action {
            return match self.scope() {
                Scope::Terminal {
                    target,
                    typing: true,
                } => self.sessions.send_key(target, &key),
                _ => Vec::new(),
            };
        }
        self.dirty = true;
        self.urgent = true;
        if !matches!(action, Action::Close | Action::Cancel) {
            self.overlay.message = None;
        }
        if action != Action::Quit {
            self.confirm_quit = false;
        }
        let effects = self.route(action);
        self.finish(effects)
    }

    fn route(&mut self, action: Action) -> Vec<Effect> {
        let scope = self.scope();
        if let Some(effects) = self.terminal_action(scope, action) {
            return effects;
        }
        if let Some(effects) = self.overlay_action(scope, action) {
            return effects;
        }
        if let Some(effects) = self.failure_action(action) {
            return effects;
        }
        // Going to a pane leaves the failure view for the panes.
        if matches!(
            action,
            Action::FocusNext
                | Action::FocusPrev
                | Action::FocusDriver
                | Action::FocusMachine(_)
                | Action::FocusCommand
                | Action::Zoom
                | Action::JumpToFailure
        ) {
            self.failure.open = false;
        }
        let shown = shown(&self.parser, self.views.test, &self.failure);
        if let Some(effects) = self.views.act(&shown, action) {
            return effects;
        }
        match action {
            Action::Quit => return self.quit(),
            // Esc backs out of one thing at a time: the message, then the panes' search,
            // filter and zoom.
            Action::Close if self.overlay.back_out() => {}
            Action::Close => return self.views.back_out().unwrap_or_default(),
            Action::NextTab | Action::PrevTab if self.sessions.tabs.is_empty() => {
                let s = self.key(Action::SshOpen);
                return vec![Effect::say(format!(
                    "no ssh tabs: {s} opens one into the focused machine"
                ))];
            }
            Action::NextTab | Action::PrevTab => {
                self.sessions.switch_tab(action == Action::NextTab);
            }
            Action::FocusNext | Action::FocusPrev => {
                let order = self.pane_order();
                let i = order
                    .iter()
                    .position(|p| *p == self.views.focus)
                    .unwrap_or(0);
                let n = order.len();
                let next = if action == Action::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.set_focus(order[next]);
            }
            Action::FocusDriver => self.set_focus(Pane::Driver),
            Action::FocusCommand if self.sessions.command.is_some() => {
                self.set_focus(Pane::Command);
                self.sessions.command_typing = true;
            }
            Action::FocusCommand => {
                return vec![Effect::say(
                    "no driver runs here: `vmscope run -- DRIVER` has a terminal to type in",
                )];
            }
            Action::FocusMachine(n) if n >= 1 && n <= self.current_test().machines.len() => {
                self.set_focus(Pane::Machine(n - 1));
            }
            Action::Search => self.overlay.open_prompt(PromptKind::Search, String::new()),
            Action::Filter => {
                let current = self.views.view(self.views.focus).filter.map(|f| f.pattern);
                self.overlay
                    .open_prompt(PromptKind::Filter, current.unwrap_or_default());
            }
            Action::Save => {
                let path = self.default_save_path();
                self.overlay.open_prompt(PromptKind::Save, path);
            }
            Action::Palette => self.overlay.open_prompt(PromptKind::Palette, String::new()),
            Action::Yank | Action::YankPane => return self.yank(action == Action::YankPane),
            Action::MouseCapture => {
                self.mouse = !self.mouse;
                let text = if self.mouse {
                    "mouse on: clicks and the wheel go to vmscope".to_string()
                } else {
                    format!(
                        "mouse off: the terminal selects text ({} turns it back on)",
                        self.key(Action::MouseCapture)
                    )
                };
                return vec![Effect::Mouse(self.mouse), Effect::say(text)];
            }
            Action::DriverWider | Action::DriverNarrower => {
                let now = self
                    .drawn
                    .panes
                    .iter()
                    .find(|(p, _)| *p == Pane::Driver)
                    .map_or(60, |(_, r)| r.width);
                let step: i32 = if action == Action::DriverWider { 8 } else { -8 };
                self.driver_width = Some((i32::from(now) + step).clamp(20, 400) as u16);
            }
            Action::NextTest | Action::PrevTest => {
                return self.switch_test(action == Action::NextTest);
            }
            Action::SshOpen => {
                let m = match self.views.focus {
                    Pane::Machine(m) => m + 1,
                    _ => 1,
                };
                return self.ssh_machine(m, false);
            }
            Action::SshMachine(n) => return self.ssh_machine(n, self.sandboxed()),
            _ => {}
        }
        Vec::new()
    }

    /// `q`: quits, or first says what quitting ends.
    fn quit(&mut self) -> Vec<Effect> {
        let running = self.sessions.command_running();
        let sessions = self.sessions.running_tabs();
        if (running || sessions > 0) && !self.confirm_quit {
            self.confirm_quit = true;
            let q = self.key(Action::Quit);
            let text = match (running, sessions) {
                (true, 0) => format!(
                    "the driver is still running: {q} again stops it (and its VMs) and quits"
                ),
                (true, n) => format!(
                    "the driver is still running, with {n} ssh session(s): {q} again stops them all and quits"
                ),
                (false, n) => format!("{n} ssh session(s) open: {q} again ends them and quits"),
            };
            return vec![Effect::warn(text)];
        }
        self.quit = true;
        Vec::new()
    }
}

/// The shown test, borrowed apart from the parts.
fn shown<'a>(parser: &'a Parser, test: usize, failure: &FailureView) -> Shown<'a> {
    let test = &parser.run.tests[test.min(parser.run.tests.len() - 1)];
    Shown {
        test,
        freeze: failure.frozen(test),
    }
}

/// What a session's command is built from, borrowed apart from the sessions.
pub(super) fn ctx<'a>(parser: &'a Parser, test: usize, checks: &'a Checks) -> Ctx<'a> {
    Ctx {
        test: &parser.run.tests[test.min(parser.run.tests.len() - 1)],
        checks,
    }
}

/// A breakpoint line nobody confirms: said once.
pub(super) fn claimed_message() -> Effect {
    Effect::warn(
        "a line says the test reached a breakpoint, but no `sleep ID` marker process \
         confirms it yet: its keys ask before they run anything",
    )
}

impl App {
    /// Opens the failure view for triggers and breakpoints not yet shown.
    pub fn check_triggers(&mut self) {
        match self
            .failure
            .triggers(&self.parser.run.tests, self.checks.mode)
        {
            Trigger::Open { test, paused } => self.open_failure_view(test, paused),
            Trigger::Claimed(_) => {
                let e = self.finish(vec![claimed_message()]);
                debug_assert!(e.is_empty());
            }
            Trigger::Nothing => {}
        }
    }

    /// Opens the view on test `test`. A breakpoint always takes the screen: the driver waits
    /// in pdb, and its terminal takes no keys until it goes on.
    fn open_failure_view(&mut self, test: usize, paused: bool) {
        self.dirty = true;
        self.urgent = true;
        let what = FailureView::what(&self.parser.run.tests[test]);
        // Keys being typed into a terminal must not land in the view.
        let busy = self.typing()
            && self
                .sessions
                .last_typed
                .is_some_and(|t| t.elapsed() < TYPING_PAUSE);
        if !paused && busy {
            let b = self.key(Action::FailureView);
            self.overlay
                .warn(format!("{what}: {b} shows what went wrong"));
            return;
        }
        self.views.test = test;
        self.failure.live_panes = false;
        self.failure.open = true;
        self.sessions.hide_tabs();
        self.sessions.command_typing = false;
        self.show_failed_step();
    }

    fn show_failed_step(&mut self) {
        let shown = shown(&self.parser, self.views.test, &self.failure);
        if let Some(head) = self.failure.failed_head(shown.test) {
            self.views.show_failed_step(&shown, head);
        }
    }
}

impl App {
    /// Actions of the terminal shown with the focus.
    fn terminal_action(&mut self, scope: Scope, action: Action) -> Option<Vec<Effect>> {
        let Scope::Terminal { target, typing } = scope else {
            return None;
        };
        let leave = self
            .keymap
            .key(Context::Terminal, Action::Leave)
            .and_then(|c| c.event());
        let ctx = ctx(&self.parser, self.views.test, &self.checks);
        self.sessions
            .act(target, typing, action, leave.as_ref(), &ctx)
    }

    /// Actions of the overlay (prompt, help, question), and what a submitted line does.
    fn overlay_action(&mut self, scope: Scope, action: Action) -> Option<Vec<Effect>> {
        if scope == Scope::Confirm {
            let c = self.overlay.confirm.take()?;
            if action != Action::Yes {
                self.sessions.drop_tab(c.tab);
                return Some(vec![Effect::say("not run")]);
            }
            let i = self.sessions.position(c.tab)?;
            self.sessions.tabs[i].approved = Some(c.lines);
            return Some(
                self.sessions
                    .connect(i, &ctx(&self.parser, self.views.test, &self.checks)),
            );
        }
        let query = self
            .overlay
            .prompt
            .as_ref()
            .map(|p| p.input.value().to_string());
        let entries = self.palette();
        let n = query.map_or(0, |q| palette::matches(&entries, &q).len());
        let (kind, value, selected) = match self.overlay.act(action, n)? {
            Done::Nothing => return Some(Vec::new()),
            Done::Submit(kind, value, selected) => (kind, value, selected),
        };
        Some(match kind {
            PromptKind::Search => self.search(&value),
            PromptKind::Filter => {
                self.views.set_filter(&value);
                Vec::new()
            }
            PromptKind::Save => self.save(value.trim()),
            PromptKind::HelpSearch => {
                if let Some(h) = &mut self.overlay.help {
                    h.filter = super::view::Matcher::new(&value);
                }
                Vec::new()
            }
            PromptKind::Palette => self.run_palette(&value, selected),
        })
    }

    fn search(&mut self, pattern: &str) -> Vec<Effect> {
        let shown = shown(&self.parser, self.views.test, &self.failure);
        self.views.search(&shown, pattern)
    }

    fn save(&mut self, path: &str) -> Vec<Effect> {
        if path.is_empty() {
            return Vec::new();
        }
        let text = match (self.views.focus, &self.sessions.command) {
            (Pane::Command, Some(cmd)) => cmd.emu.screen().contents(),
            (pane, _) => self.views.text(&self.shown(), pane),
        };
        vec![Effect::Save {
            path: PathBuf::from(path),
            text,
        }]
    }

    /// The palette's entries where the user is.
    pub fn palette(&self) -> Vec<palette::Entry> {
        let names: Vec<String> = self
            .current_test()
            .machines
            .iter()
            .map(|m| m.name.clone())
            .collect();
        palette::entries(&self.keymap, self.views_context(), &names, |a| {
            self.offers(a)
        })
    }

    /// The context under the overlay, whose keys the palette shows.
    pub fn views_context(&self) -> Context {
        match self.scope() {
            Scope::Prompt(_) | Scope::Help | Scope::Confirm => {
                if self.failure.open {
                    Context::Breakpoint
                } else if self.views.focus == Pane::Driver {
                    Context::Driver
                } else {
                    Context::Log
                }
            }
            s => s.context(),
        }
    }

    fn run_palette(&mut self, query: &str, selected: usize) -> Vec<Effect> {
        let entries = self.palette();
        let run = match palette::parse(query) {
            Some(run) => run,
            None => match palette::matches(&entries, query).get(selected) {
                Some(e) => e.run.clone(),
                None => return vec![Effect::warn(format!(":{query}: no such command"))],
            },
        };
        let machine = |name: &str| {
            self.current_test()
                .machines
                .iter()
                .position(|m| m.name == name)
        };
        match run {
            palette::Run::Action(a) => self.route(a),
            palette::Run::Focus(m) => {
                machine(&m).map_or_else(Vec::new, |i| self.route(Action::FocusMachine(i + 1)))
            }
            palette::Run::Ssh(m) => {
                machine(&m).map_or_else(Vec::new, |i| self.ssh_machine(i + 1, self.sandboxed()))
            }
            palette::Run::Filter(f) => {
                self.views.set_filter(&f);
                Vec::new()
            }
            palette::Run::Search(p) => self.search(&p),
            palette::Run::Save(p) => {
                let path = p.unwrap_or_else(|| self.default_save_path());
                self.save(&path)
            }
            palette::Run::Goto(to) => self.goto(&to),
        }
    }

    /// `:goto LINE` or `:goto MM:SS` in the focused log pane.
    fn goto(&mut self, to: &str) -> Vec<Effect> {
        let pane = match self.views.focus {
            Pane::Command => Pane::Driver,
            p => p,
        };
        let now = self.shown();
        let lines = self.views.lines(&now, pane);
        let seq = match (to.parse::<u64>(), palette::parse_time(to)) {
            (Ok(n), _) => lines
                .first()
                .map(|f| f + n.saturating_sub(1))
                .filter(|s| lines.get(*s).is_some()),
            (_, Some(ms)) => lines
                .store
                .iter()
                .find(|(_, l)| l.time().is_some_and(|t| t >= ms))
                .map(|(s, _)| s),
            _ => return vec![Effect::warn(format!("goto {to}: a line number or MM:SS"))],
        };
        let Some(seq) = seq else {
            return vec![Effect::warn(format!("goto {to}: not in this pane"))];
        };
        let shown = shown(&self.parser, self.views.test, &self.failure);
        self.views.focus = pane;
        self.views.reveal(&shown, pane, seq);
        self.views.view_mut(pane).cursor = Some(seq);
        Vec::new()
    }

    /// `y` / `Y`: the line under the cursor, or the whole pane, to the clipboard.
    fn yank(&mut self, pane_too: bool) -> Vec<Effect> {
        let shown = self.shown();
        let focus = self.views.focus;
        let text = match (focus, &self.sessions.command) {
            (Pane::Command, Some(cmd)) => Some(cmd.emu.screen().contents()),
            (p, _) if pane_too => Some(self.views.text(&shown, p)),
            (p, _) => self.views.current_line(&shown, p),
        };
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return vec![Effect::say("nothing to copy here")];
        };
        let what = if text.lines().count() > 1 {
            format!("{} lines", text.lines().count())
        } else {
            "the line".into()
        };
        vec![
            Effect::Clipboard(text),
            Effect::say(format!(
                "copied {what} (OSC 52: the terminal must allow it)"
            )),
        ]
    }

    fn default_save_path(&self) -> String {
        self.views.save_path(self.current_test())
    }

    /// `]` / `[`: the next or previous test; one with nothing to show in the failure view
    /// gets its panes, and its status said.
    fn switch_test(&mut self, forward: bool) -> Vec<Effect> {
        let tests = self.test_indices();
        let Some(i) = tests.iter().position(|&t| t == self.views.test) else {
            return Vec::new();
        };
        let n = tests.len();
        let j = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        self.views.test = tests[j];
        self.views.focus = Pane::Driver;
        let t = self.current_test();
        let nothing_failed = t.freeze.is_none() && t.breakpoint.is_none();
        let name = t.name.clone().unwrap_or_else(|| format!("test {}", j + 1));
        let text = format!("{name}: {}", t.outcome(self.live).label());
        if nothing_failed {
            self.failure.open = false;
        }
        vec![Effect::say(text)]
    }

    /// `s`, `1`…`9`: a shell into machine `n` (1-based), from the host or inside the sandbox.
    fn ssh_machine(&mut self, n: usize, sandboxed: bool) -> Vec<Effect> {
        if !self.ssh_reachable() {
            return vec![Effect::warn(
                "ssh needs the running test: this log was saved after it ended \
                 (`vmscope run`, or a test paused at a breakpoint, offers it)",
            )];
        }
        let Some(name) = n
            .checked_sub(1)
            .and_then(|i| self.current_test().machines.get(i))
            .map(|m| m.name.clone())
        else {
            return vec![Effect::warn(if n == 1 {
                "no machine to ssh into yet".into()
            } else {
                format!("there is no machine {n}")
            })];
        };
        let ctx = ctx(&self.parser, self.views.test, &self.checks);
        if sandboxed {
            return self
                .sessions
                .sandbox_ssh_tab(&name, &ctx)
                .unwrap_or_else(|e| vec![Effect::warn(e)]);
        }
        self.sessions.open_tab(TabKind::Ssh, name, None, &ctx)
    }

    /// The failure view's actions and the keys into the paused test.
    fn failure_action(&mut self, action: Action) -> Option<Vec<Effect>> {
        let paused = self.paused();
        let not_paused = "nothing waits in pdb: the test pauses in pdb at a breakpoint \
                          (enableDebugHook = true, or --debug-hook-attach)";
        Some(match action {
            Action::FailureView => self.toggle_failure_view(),
            Action::Freeze => self.freeze(),
            Action::Live => {
                self.failure.live_panes = true;
                self.failure.open = false;
                let v = self.views.view_mut(Pane::Driver);
                v.anchor = None;
                v.cursor = None;
                let back = self.key(Action::Freeze);
                vec![Effect::say(match self.current_test().freeze {
                    Some(_) => {
                        format!("panes follow the run ({back}: back to the moment of failure)")
                    }
                    None => "panes follow the run".into(),
                })]
            }
            Action::Attach if self.current_test().breakpoint.is_none() || !paused => {
                vec![Effect::warn(
                    "no paused build to attach to: the test pauses at one with \
                 enableDebugHook = true (or --debug-hook-attach)",
                )]
            }
            Action::Attach => {
                let ctx = ctx(&self.parser, self.views.test, &self.checks);
                self.sessions
                    .open_tab(TabKind::Attach, String::new(), None, &ctx)
            }
            Action::Pdb | Action::PdbQuit if !paused => vec![Effect::warn(not_paused)],
            // Nothing is paused: `c` keeps its meaning of everywhere else.
            Action::PdbContinue if !paused => self.route(Action::FocusCommand),
            Action::Pdb => {
                let ctx = ctx(&self.parser, self.views.test, &self.checks);
                self.sessions.pdb(None, self.sandboxed(), &ctx)
            }
            Action::PdbContinue | Action::PdbQuit => {
                let cmd = if action == Action::PdbContinue {
                    "c"
                } else {
                    "q"
                };
                // The command goes to pdb's tab in the background: the view stays, and the
                // run's answer (the REPL back, the driver's end) shows where it is.
                let (shown, typing) = (self.sessions.active, self.sessions.tab_typing);
                let ctx = ctx(&self.parser, self.views.test, &self.checks);
                let mut effects = self.sessions.pdb(Some(cmd), self.sandboxed(), &ctx);
                (self.sessions.active, self.sessions.tab_typing) = (shown, typing);
                let t =
                    &self.parser.run.tests[self.views.test.min(self.parser.run.tests.len() - 1)];
                self.failure.note_resumed(t, self.views.test, cmd);
                effects.push(Effect::say(if cmd == "c" {
                    "continue: the test goes on from the breakpoint"
                } else {
                    "quit: pdb stops the test"
                }));
                effects
            }
            _ => return None,
        })
    }

    /// `b`: the view, or the panes again.
    fn toggle_failure_view(&mut self) -> Vec<Effect> {
        let t = self.current_test();
        if !self.failure.open && t.freeze.is_none() && t.breakpoint.is_none() {
            let f = self.key(Action::Freeze);
            return vec![Effect::say(format!(
                "nothing failed in this test: {f} freezes the panes now"
            ))];
        }
        // From a tab, `b` shows the view; on the view, the panes.
        self.failure.open = self.sessions.active.is_some() || !self.failure.open;
        self.sessions.hide_tabs();
        Vec::new()
    }

    /// `F`: panes back at the failure, or frozen now when nothing failed.
    fn freeze(&mut self) -> Vec<Effect> {
        self.failure.live_panes = false;
        let (now, line) = (self.now_ms(), self.parser.run.lines.saturating_sub(1));
        let live = self.key(Action::Live);
        let i = self.views.test.min(self.parser.run.tests.len() - 1);
        let t = &mut self.parser.run.tests[i];
        let text = match t.failure_freeze() {
            Some(f) => format!("panes frozen at the {} ({live}: live)", f.kind.label()),
            None => {
                t.freeze_now(TriggerKind::Manual, line, self.live.then_some(now));
                format!("panes frozen now ({live}: live again)")
            }
        };
        self.show_failed_step();
        vec![Effect::say(text)]
    }
}
