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
use super::layout::{Mouse, Screen};
use super::logviews::{LogViews, Shown};
use super::overlay::{Overlay, PromptKind};
use super::palette::{self, Run};
use super::replay::{self, Replay};
use super::scope::{Scope, Under};
use super::sessions::driver::ChildEvent;
use super::sessions::{Sessions, Target};
use super::timeline::Timeline;
use super::trust::Checks;
use super::view::Pane;
use crate::vm::model::Test;
use crate::vm::source::SourceEvent;
use crate::vm::{Caps, TestRun};

/// Someone who typed into a terminal this recently is still typing: the failure view does
/// not take the keyboard from them.
const TYPING_PAUSE: Duration = Duration::from_secs(3);

pub struct App {
    pub input: Input,
    pub keymap: Keymap,
    pub views: LogViews,
    pub overlay: Overlay,
    pub failure: FailureView,
    pub timeline: Timeline,
    pub shots: super::shots::Shots,
    /// A recording replayed (`--replay`).
    pub replay: Option<Replay>,
    pub sessions: Sessions,
    /// What the host confirms: how the run came, the driver's process and configuration.
    pub checks: Checks,
    pub dirty: bool,
    /// What changed answers the user (a key, the terminal's echo): draw it at once.
    pub urgent: bool,
    pub quit: bool,
    /// Quit was asked once while something runs.
    confirm_quit: bool,
    pub screen: Screen,
}

impl App {
    pub fn new(caps: Caps, keymap: Keymap, origin: String, live: bool) -> Self {
        Self {
            input: Input::new(caps, origin, live),
            keymap,
            views: LogViews::default(),
            overlay: Overlay::default(),
            failure: FailureView::default(),
            timeline: Timeline::default(),
            shots: Default::default(),
            replay: None,
            sessions: Sessions::new(),
            checks: Checks::default(),
            dirty: true,
            urgent: true,
            quit: false,
            confirm_quit: false,
            screen: Screen::default(),
        }
    }

    pub fn run(&self) -> &TestRun {
        &self.input.parser.run
    }

    pub fn current_test(&self) -> &Test {
        shown_test!(self)
    }

    /// The test shown, at the freeze the panes show.
    pub fn shown(&self) -> Shown<'_> {
        shown!(self)
    }

    /// What decides which commands can run now.
    pub fn facts(&self) -> Facts<'_> {
        let (t, i, replay) = (self.current_test(), self.views.test, self.replay.is_some());
        Facts::new(t, i, &self.input, &self.failure, &self.sessions, replay)
    }

    /// Whether `action` can do anything now: keys that cannot are left out of the hints.
    pub fn offers(&self, action: Action) -> bool {
        commands::possible(&self.facts(), action)
    }

    /// Where the keyboard is.
    pub fn scope(&self) -> Scope {
        let under = Under::new(self.failure.open, self.timeline.open, self.views.focus);
        Scope::of(&self.overlay, &self.sessions, under)
    }

    /// The key of `action` where the user is, as it is typed (for messages).
    pub fn key(&self, action: Action) -> String {
        self.keymap.name(self.scope().context(), action)
    }

    /// The terminal that has the keyboard, if one does.
    pub fn typing(&self) -> bool {
        self.scope().typing()
    }

    /// Focus goes to `pane` (for reading: a terminal reached this way does not type).
    pub fn set_focus(&mut self, pane: Pane) {
        self.views.focus_on(self.input.test(self.views.test), pane);
        self.sessions.command_typing = false;
    }

    /// Takes effects meant for the screen (messages, questions, prompts), passes the rest;
    /// changed marks become a write of the recording's `marks.json`.
    fn finish(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        let effects = self.input.keep_marks(effects, &self.views);
        self.overlay.take(effects)
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match self.scope().resolve(&self.keymap, key) {
            Some(a) => self.update(a),
            None => Vec::new(),
        }
    }

    pub fn on_mouse(&mut self, ev: MouseEvent) -> Vec<Effect> {
        if self.overlay.confirm.is_some() {
            return Vec::new();
        }
        self.dirty = true;
        let machines = self.current_test().machines.len();
        match self.screen.mouse_event(&ev, machines) {
            Mouse::Tab(tab) => self.sessions.show_tab(tab),
            Mouse::Timeline { column, width, row } => {
                self.timeline.click(shown_test!(self), column, width, row);
            }
            Mouse::Focus(p) => {
                self.set_focus(p);
                // A click in a terminal is coming to type in it.
                self.sessions.command_typing = p == Pane::Command;
            }
            Mouse::Scroll(hit, n) => match (hit, self.sessions.active) {
                (_, Some(i)) => self.sessions.scroll(Target::Tab(i), -n),
                (Some(Pane::Command), None) => self.sessions.scroll(Target::Command, -n),
                (Some(p), None) => self.views.scroll_moved(&shown!(self), p, n),
                (None, None) => {}
            },
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
            Scope::Prompt(_) => self.overlay.paste(text),
            // A paste is no answer to a question, nor a list of keys.
            _ => Vec::new(),
        }
    }

    pub fn ingest(&mut self, ev: SourceEvent) {
        replay::take(&ev, &mut self.replay, &mut self.sessions);
        let (arrived, said) = self.input.ingest(ev, self.views.test);
        self.views.count_unread(arrived.into_iter());
        let _ = self.finish(said);
        self.check_triggers();
        self.dirty = true;
    }

    /// The replay's moment moves: with the clock (`now`), or where a seek put it.
    pub fn step_replay(&mut self, now: Option<Instant>) {
        let (input, test) = (&self.input, self.views.test);
        let Some(r) = &mut self.replay else { return };
        if replay::advance(r, input, test, &mut self.sessions, &mut self.failure, now)
            || now.is_none()
        {
            self.dirty = true;
            self.check_triggers();
        }
    }

    /// What the driver's process did.
    pub fn on_child(&mut self, ev: ChildEvent) -> Vec<Effect> {
        self.dirty = true;
        match ev {
            ChildEvent::Pty(bytes) => {
                self.input.parser.feed_terminal(&bytes);
                // The REPL's first prompt takes the keyboard, unless the user is busy.
                let idle = self.overlay.is_empty() && self.sessions.idle(TYPING_PAUSE);
                let effects = self.sessions.command_output(&bytes, idle);
                self.views.focus = self.sessions.wants_focus(self.views.focus);
                if self.sessions.take_prompt_back() {
                    self.input.parser.repl_prompt();
                }
                effects
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
        self.sessions.connected(id)
    }

    /// Every tick: what the host confirms, and tabs that wait for their machine.
    pub fn poll_tabs(&mut self) -> Vec<Effect> {
        if self.input.confirm_with(&mut self.checks) {
            self.dirty = true;
            self.check_triggers();
        }
        let asking = self.overlay.confirm.as_ref().map(|c| c.tab);
        let ctx = ctx!(self);
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
        if let Some(p) = drawn.timeline {
            self.timeline.width = p.width;
        }
        self.views
            .laid_out(self.input.test(self.views.test), &drawn.panes);
        self.screen.drawn = drawn;
    }

    /// The runner reports how saving went.
    pub fn saved(&mut self, path: &std::path::Path, result: std::io::Result<usize>) {
        let lines = self.views.lines(&shown!(self), self.views.focus);
        self.overlay.message = Some(self.input.saved(path, result, lines.store.evicted()));
        self.dirty = true;
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        self.sessions.last_key = Some(Instant::now());
        // A key typed into the terminal changes nothing on screen until its echo comes
        // back: drawing now would only delay drawing the echo.
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
        self.input
            .merge(self.views.merged || action == Action::AllMachines);
        let scope = self.scope();
        if let Some(effects) = self.terminal_action(scope, action) {
            return effects;
        }
        if let Some(effects) = self.overlay_action(scope, action) {
            return effects;
        }
        let on = scope == Scope::Timeline;
        let s = shown!(self);
        if let Some(said) = self
            .timeline
            .route(on, action, &mut self.views, &s, &self.keymap)
        {
            // Enter there shows the panes at its moment, not what went wrong.
            self.failure.open &= action != Action::JumpHere;
            if let (Some(r), Some(at)) = (&mut self.replay, self.views.moment) {
                r.seek_to(self.input.test(self.views.test), at);
                self.step_replay(None);
            }
            return said;
        }
        // Nothing is paused: `c` keeps its meaning of everywhere else.
        let action = match action {
            Action::PdbContinue if !self.facts().paused => Action::FocusCommand,
            a => a,
        };
        let (failure, mut cx) = self.failure_cx();
        if let Some(effects) = failure.act(action, &mut cx) {
            return effects;
        }
        if action.goes_to_a_pane() {
            self.failure.open = false;
            self.sessions.command_typing = action == Action::FocusCommand;
        }
        let t = self.input.test(self.views.test);
        match self.replay.as_mut().map(|r| r.act(t, action)) {
            Some(Some(said)) => return said,
            Some(None) if action == Action::JumpToFailure => self.step_replay(None),
            _ => {}
        }
        let shown = shown!(self);
        let repl = self.sessions.repl_ready();
        if let Some(effects) = self.shots.act(action, &shown, &mut self.views, repl) {
            return effects;
        }
        if let Some(effects) = self.views.act(&shown, action, &self.keymap) {
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
            Action::Yank | Action::YankPane => {
                let all = action == Action::YankPane;
                return self.run_command(Run::Copy(all));
            }
            Action::MouseCapture | Action::DriverWider | Action::DriverNarrower => {
                return self.screen.act(action, &self.key(action));
            }
            Action::NextTest | Action::PrevTest => {
                let (run, live) = (&self.input.parser.run, self.input.live);
                let (said, nothing_failed) =
                    self.views
                        .switch_test(run, action == Action::NextTest, live);
                // A test with nothing to show in the failure view gets its panes.
                self.failure.open &= !nothing_failed;
                return vec![said];
            }
            Action::SshOpen => return self.ssh_machine(self.views.machine_or_first() + 1, false),
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

    /// The failure view's part, with what its keys reach.
    fn failure_cx(&mut self) -> (&mut FailureView, Cx<'_>) {
        let now_ms = self.input.now_ms();
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
        let ctx = ctx!(self);
        self.sessions
            .act(target, typing, action, &self.keymap, &ctx)
    }

    /// Actions of the overlay (prompt, help, question), and what a submitted line does.
    fn overlay_action(&mut self, scope: Scope, action: Action) -> Option<Vec<Effect>> {
        if scope == Scope::Confirm {
            let c = self.overlay.confirm.take()?;
            let ctx = ctx!(self);
            return Some(self.sessions.answer(c, action == Action::Yes, &ctx));
        }
        // The palette's entries only where its line is open, not for every key.
        let entries = match scope {
            Scope::Prompt(PromptKind::Palette) => self.palette(),
            _ => Vec::new(),
        };
        let run = match self.overlay.act(action, &entries)? {
            Ok(Some(run)) => run,
            Ok(None) => return Some(Vec::new()),
            Err(e) => return Some(vec![Effect::warn(e)]),
        };
        Some(self.run_command(run))
    }

    /// A command of the palette or a prompt.
    fn run_command(&mut self, run: Run) -> Vec<Effect> {
        let Run::Action(action) = run else {
            self.input
                .merge(self.views.merged || matches!(run, Run::Only(_) | Run::Export(_)));
            let shown = shown!(self);
            let terminal = self.sessions.command_screen(self.views.focus);
            return self.views.command(&shown, run, terminal);
        };
        self.route(action)
    }

    /// The palette's entries where the user is.
    pub fn palette(&self) -> Vec<palette::Entry> {
        let (ctx, f) = (self.views_context(), self.facts());
        palette::entries(&self.keymap, ctx, self.current_test(), |a| {
            commands::possible(&f, a)
        })
    }

    /// The context under the overlay, whose keys the palette shows.
    pub fn views_context(&self) -> Context {
        let under = Under::new(self.failure.open, self.timeline.open, self.views.focus);
        Scope::beneath(&self.sessions, under).context()
    }

    /// `s`, `1`…`9`: a shell into machine `n` (1-based), from the host or inside the sandbox.
    fn ssh_machine(&mut self, n: usize, sandboxed: bool) -> Vec<Effect> {
        let reachable = self.facts().reachable;
        let ctx = ctx!(self);
        self.sessions.ssh_machine(n, sandboxed, reachable, &ctx)
    }
}
