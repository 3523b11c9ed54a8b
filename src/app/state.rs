//! `App`: the router. It owns the parser and the parts (the log views, the overlay, the
//! failure view, the sessions), turns input into `Action`s through the keymap of the
//! current `Scope`, hands each action to the part it belongs to, and returns the effects
//! for the runner. Nothing here does I/O.

use std::time::{Duration, Instant};

use crossterm::event::{KeyEvent, MouseEvent};

use super::action::Action;
use super::commands::{self, Facts};
use super::effect::Effect;
use super::failure::{Cx, FailureView};
use super::input::Input;
use super::keymap::{Context, Keymap};
pub use super::layout::Drawn;
use super::layout::Mouse;
use super::logviews::{LogViews, Shown};
use super::overlay::{Done, Overlay, PromptKind};
use super::palette::{self, Run};
use super::scope::Scope;
use super::sessions::connect::Ctx;
use super::sessions::driver::ChildEvent;
use super::sessions::{Sessions, Target};
use super::trust::Checks;
use super::view::{Pane, PaneLines};
use crate::vm::model::Test;
use crate::vm::source::SourceEvent;
use crate::vm::{Caps, Parser, TestRun};

/// Someone who typed into a terminal this recently is still typing: the failure view does
/// not take the keyboard from them.
const TYPING_PAUSE: Duration = Duration::from_secs(3);

pub struct App {
    pub input: Input,
    pub keymap: Keymap,
    pub views: LogViews,
    pub overlay: Overlay,
    pub failure: FailureView,
    pub sessions: Sessions,
    /// What the host confirms: how the run came, the driver's process and configuration.
    pub checks: Checks,
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
    /// The driver column's border is being dragged.
    dragging: bool,
    pub drawn: Drawn,
}

impl App {
    pub fn new(caps: Caps, keymap: Keymap, origin: String, live: bool) -> Self {
        Self {
            input: Input::new(caps, origin, live),
            keymap,
            views: LogViews::default(),
            overlay: Overlay::default(),
            failure: FailureView::default(),
            sessions: Sessions::new(),
            checks: Checks::default(),
            dirty: true,
            urgent: true,
            quit: false,
            confirm_quit: false,
            mouse: true,
            driver_width: None,
            dragging: false,
            drawn: Drawn::default(),
        }
    }

    pub fn run(&self) -> &TestRun {
        &self.input.parser.run
    }

    pub fn current_test(&self) -> &Test {
        let tests = &self.input.parser.run.tests;
        &tests[self.views.test.min(tests.len() - 1)]
    }

    /// The test shown, at the freeze the panes show.
    pub fn shown(&self) -> Shown<'_> {
        shown(&self.input.parser, self.views.test, &self.failure)
    }

    pub fn pane_lines(&self, pane: Pane) -> PaneLines<'_> {
        self.views.lines(&self.shown(), pane)
    }

    pub fn now_ms(&self) -> u32 {
        self.input.now_ms()
    }

    /// What decides which commands can run now.
    pub fn facts(&self) -> Facts<'_> {
        let test = self.current_test();
        let exited = self.input.exit_code.is_some();
        let paused = self.failure.paused(test, self.views.test, exited);
        Facts {
            test,
            paused,
            reachable: self.input.live || paused,
            frozen: self.failure.frozen(test).is_some(),
            tabs: self.sessions.tabs.len(),
            tab_shown: self.sessions.active.is_some(),
            command: self.sessions.command.as_ref().map(|c| c.running()),
            tests: self.run().visible_tests().count(),
        }
    }

    pub fn paused(&self) -> bool {
        self.facts().paused
    }

    /// Whether `action` can do anything now: keys that cannot are left out of the hints.
    pub fn offers(&self, action: Action) -> bool {
        commands::possible(&self.facts(), action)
    }

    /// Where the keyboard is.
    pub fn scope(&self) -> Scope {
        Scope::of(
            &self.overlay,
            &self.sessions,
            self.failure.open,
            self.views.focus,
        )
    }

    pub fn context(&self) -> Context {
        self.scope().context()
    }

    /// The key of `action` where the user is, as it is typed (for messages).
    pub fn key(&self, action: Action) -> String {
        self.keymap.name(self.context(), action)
    }

    /// The terminal that has the keyboard, if one does.
    pub fn typing(&self) -> bool {
        self.scope().typing()
    }

    pub fn elapsed(&self) -> Option<Duration> {
        self.input.elapsed(self.current_test())
    }

    /// Focus goes to `pane` (for reading: a terminal reached this way does not type).
    pub fn set_focus(&mut self, pane: Pane) {
        self.views.focus_on(self.input.test(self.views.test), pane);
        self.sessions.command_typing = false;
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
        self.dirty = true;
        let machines = self.current_test().machines.len();
        match self.drawn.mouse(&ev, self.dragging, machines) {
            Mouse::Tab(tab) => self.sessions.show_tab(tab),
            Mouse::Grab => self.dragging = true,
            Mouse::Width(w) => self.driver_width = Some(w),
            Mouse::Release => self.dragging = false,
            Mouse::Focus(p) => {
                self.set_focus(p);
                // A click in a terminal is coming to type in it.
                self.sessions.command_typing = p == Pane::Command;
            }
            Mouse::Scroll(hit, n) => match (hit, self.sessions.active) {
                (_, Some(i)) => self.sessions.scroll(Target::Tab(i), -n),
                (Some(Pane::Command), None) => self.sessions.scroll(Target::Command, -n),
                (Some(p), None) => {
                    let s = shown(&self.input.parser, self.views.test, &self.failure);
                    self.views.scroll(&s, p, n);
                }
                (None, None) => {}
            },
            Mouse::Nothing => {}
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
        if let SourceEvent::Terminal(bytes) = &ev {
            self.sessions.command_output(bytes);
        }
        let (arrived, said) = self.input.ingest(ev, self.views.test);
        self.views.count_unread(arrived.into_iter());
        let _ = self.finish(said);
        self.check_triggers();
        self.dirty = true;
    }

    /// What the driver's process did.
    pub fn on_child(&mut self, ev: ChildEvent) -> Vec<Effect> {
        self.dirty = true;
        match ev {
            ChildEvent::Pty(bytes) => {
                self.input.parser.feed_terminal(&bytes);
                self.sessions.command_output(&bytes)
            }
            ChildEvent::Stderr(bytes) => {
                let t = self.input.now_ms();
                self.ingest(SourceEvent::Data(bytes, t));
                Vec::new()
            }
            ChildEvent::Exited(code) => {
                self.sessions.command_exited(code);
                let quit = self.key(Action::Quit);
                let said = self.input.driver_exited(code, self.views.test, &quit);
                self.check_triggers();
                self.finish(vec![said])
            }
        }
    }

    /// What a tab's session did.
    pub fn on_tab(&mut self, id: u32, ev: ChildEvent) -> Vec<Effect> {
        self.dirty = true;
        let effects = self.sessions.on_tab(id, ev, self.input.ended.is_some());
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
        if self.input.confirm_with(&mut self.checks) {
            self.dirty = true;
            self.check_triggers();
        }
        let asking = self.overlay.confirm.as_ref().map(|c| c.tab);
        let ctx = ctx(&self.input.parser, self.views.test, &self.checks);
        let effects = self.sessions.poll(asking, &ctx);
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
        self.views
            .laid_out(self.input.test(self.views.test), &drawn.panes);
        self.drawn = drawn;
    }

    /// The runner reports how saving went.
    pub fn saved(&mut self, path: &std::path::Path, result: std::io::Result<usize>) {
        let evicted = self.pane_lines(self.views.focus).store.evicted();
        let said = self.input.saved(path, result, evicted);
        self.overlay.message = Some(said);
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
        // Nothing is paused: `c` keeps its meaning of everywhere else.
        let action = match action {
            Action::PdbContinue if !self.paused() => Action::FocusCommand,
            a => a,
        };
        let (failure, mut cx) = self.failure_cx();
        if let Some(effects) = failure.act(action, &mut cx) {
            return effects;
        }
        self.failure.open &= !action.goes_to_a_pane();
        let shown = shown(&self.input.parser, self.views.test, &self.failure);
        if let Some(effects) = self.views.act(&shown, action) {
            return effects;
        }
        match action {
            Action::Quit => return self.quit(),
            // Esc backs out of one thing at a time: the message, then the panes' search,
            // filter and zoom.
            Action::Close if self.overlay.back_out() => {}
            Action::Close => return self.views.back_out().unwrap_or_default(),
            Action::NextTab | Action::PrevTab => {
                let s = self.key(Action::SshOpen);
                return self.sessions.switch_tab(action == Action::NextTab, &s);
            }
            Action::FocusNext
            | Action::FocusPrev
            | Action::FocusDriver
            | Action::FocusMachine(_) => {
                let order = LogViews::order(self.current_test(), self.sessions.command.is_some());
                if let Some(p) = self.views.focus_for(action, &order) {
                    self.set_focus(p);
                }
            }
            Action::FocusCommand if self.sessions.command.is_some() => {
                self.set_focus(Pane::Command);
                self.sessions.command_typing = true;
            }
            Action::FocusCommand => {
                return vec![Effect::say(
                    "no driver runs here: `vmscope run -- DRIVER` has a terminal to type in",
                )];
            }
            Action::Search | Action::Filter | Action::Save | Action::Palette => {
                let value = self.views.prompt_value(action, self.current_test());
                self.overlay.open_for(action, value);
            }
            Action::Yank | Action::YankPane => {
                let all = action == Action::YankPane;
                return self.run_command(Run::Copy(all));
            }
            Action::MouseCapture => {
                self.mouse = !self.mouse;
                return Overlay::mouse(self.mouse, &self.key(action));
            }
            Action::DriverWider | Action::DriverNarrower => {
                let step = if action == Action::DriverWider { 8 } else { -8 };
                self.driver_width = Some(self.drawn.driver_width_by(step));
            }
            Action::NextTest | Action::PrevTest => {
                let forward = action == Action::NextTest;
                let (said, nothing_failed) =
                    self.views
                        .switch_test(&self.input.parser.run, forward, self.input.live);
                // A test with nothing to show in the failure view gets its panes.
                self.failure.open &= !nothing_failed;
                return vec![said];
            }
            Action::SshOpen => {
                let m = match self.views.focus {
                    Pane::Machine(m) => m + 1,
                    _ => 1,
                };
                return self.ssh_machine(m, false);
            }
            Action::SshMachine(n) => return self.ssh_machine(n, self.facts().sandboxed()),
            _ => {}
        }
        Vec::new()
    }

    /// `q`: quits, or first says what quitting ends.
    fn quit(&mut self) -> Vec<Effect> {
        let q = self.key(Action::Quit);
        match self.sessions.still_running(&q) {
            Some(text) if !self.confirm_quit => {
                self.confirm_quit = true;
                vec![Effect::warn(text)]
            }
            _ => {
                self.quit = true;
                Vec::new()
            }
        }
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

impl App {
    /// The failure view's part, with what its keys reach.
    fn failure_cx(&mut self) -> (&mut FailureView, Cx<'_>) {
        let now_ms = self.now_ms();
        let exited = self.input.exit_code.is_some();
        (
            &mut self.failure,
            Cx {
                run: &mut self.input.parser.run,
                test: self.views.test,
                views: &mut self.views,
                sessions: &mut self.sessions,
                checks: &self.checks,
                keymap: &self.keymap,
                live: self.input.live,
                exited,
                now_ms,
            },
        )
    }

    /// Opens the failure view for triggers and breakpoints not yet shown. Keys being
    /// typed into a terminal must not land in the view.
    pub fn check_triggers(&mut self) {
        let busy =
            self.typing() && (self.sessions.last_typed).is_some_and(|t| t.elapsed() < TYPING_PAUSE);
        let mode = self.checks.mode;
        let (failure, mut cx) = self.failure_cx();
        if let Some(said) = failure.check(mode, busy, &mut cx) {
            self.dirty = true;
            self.urgent = true;
            let _ = self.finish(said);
        }
    }

    /// Actions of the terminal shown with the focus.
    fn terminal_action(&mut self, scope: Scope, action: Action) -> Option<Vec<Effect>> {
        let Scope::Terminal { target, typing } = scope else {
            return None;
        };
        let leave = self
            .keymap
            .key(Context::Terminal, Action::Leave)
            .and_then(|c| c.event());
        let ctx = ctx(&self.input.parser, self.views.test, &self.checks);
        self.sessions
            .act(target, typing, action, leave.as_ref(), &ctx)
    }

    /// Actions of the overlay (prompt, help, question), and what a submitted line does.
    fn overlay_action(&mut self, scope: Scope, action: Action) -> Option<Vec<Effect>> {
        if scope == Scope::Confirm {
            let c = self.overlay.confirm.take()?;
            let ctx = ctx(&self.input.parser, self.views.test, &self.checks);
            return Some(self.sessions.answer(c, action == Action::Yes, &ctx));
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
        let run = match kind {
            PromptKind::Search => Run::Search(value),
            PromptKind::Filter => Run::Filter(value),
            PromptKind::Save => Run::Save(Some(value.trim().to_string())),
            PromptKind::HelpSearch => {
                if let Some(h) = &mut self.overlay.help {
                    h.filter = super::view::Matcher::new(&value);
                }
                return Some(Vec::new());
            }
            PromptKind::Palette => match palette::pick(&entries, &value, selected) {
                Ok(run) => run,
                Err(e) => return Some(vec![Effect::warn(e)]),
            },
        };
        Some(self.run_command(run))
    }

    /// A command of the palette or a prompt.
    fn run_command(&mut self, run: Run) -> Vec<Effect> {
        let Run::Action(action) = run else {
            let shown = shown(&self.input.parser, self.views.test, &self.failure);
            let terminal = self.sessions.command_screen(self.views.focus);
            return self.views.command(&shown, run, terminal);
        };
        self.route(action)
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
        Scope::beneath(&self.sessions, self.failure.open, self.views.focus).context()
    }

    /// `s`, `1`…`9`: a shell into machine `n` (1-based), from the host or inside the sandbox.
    fn ssh_machine(&mut self, n: usize, sandboxed: bool) -> Vec<Effect> {
        let reachable = self.facts().reachable;
        let ctx = ctx(&self.input.parser, self.views.test, &self.checks);
        self.sessions.ssh_machine(n, sandboxed, reachable, &ctx)
    }
}
