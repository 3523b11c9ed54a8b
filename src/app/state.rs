//! `App`: all state of the screen, with one owner. Input becomes `Action`s, `update` applies
//! them and returns effects for the runner; nothing here does I/O.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::action::Action;
use super::keymap::{Context, Keymap};
use super::view::{Matcher, Pane, PaneLines, View};
use crate::vm::model::{StepId, StepState, Test, line_kind};
use crate::vm::source::SourceEvent;
use crate::vm::{Caps, Parser, TestRun};

/// What `update` asks the runner to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write `text` to `path`; the outcome is reported with `App::saved`.
    Save { path: PathBuf, text: String },
    /// Write to the live run's terminal (keys, answers to its queries).
    WritePty(Vec<u8>),
    /// Start `PROGRAM ARGS` (ssh, or sudo for the sandbox) for tab `id` in its own terminal.
    OpenTab {
        id: u32,
        program: std::ffi::OsString,
        args: Vec<std::ffi::OsString>,
        /// ssh's own messages are kept apart to tell why it ended; a shell draws its prompt
        /// on stderr and wants it on its terminal.
        stderr: super::child::StderrTo,
    },
    /// Connect tab `id` to pdb over TCP.
    OpenPdb { id: u32, host: String, port: u16 },
    /// Write to tab `id`'s terminal.
    WriteTab(u32, Vec<u8>),
    /// End tab `id`'s ssh.
    CloseTab(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Search,
    Filter,
    Save,
    HelpSearch,
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: Input,
}

#[derive(Debug, Clone, Default)]
pub struct Help {
    pub scroll: usize,
    pub filter: Option<Matcher>,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// Where things were drawn, for the mouse and for paging.
#[derive(Debug, Clone, Default)]
pub struct Drawn {
    pub panes: Vec<(Pane, Rect)>,
    pub machine_list: Option<Rect>,
    /// The tab labels of the top bar (`None`: the panes).
    pub tabs: Vec<(Option<usize>, Rect)>,
}

pub struct App {
    pub parser: Parser,
    pub keymap: Keymap,
    /// Index of the test shown (builds can run several).
    pub test: usize,
    pub focus: Pane,
    pub views: HashMap<(usize, Pane), View>,
    pub collapsed: HashMap<usize, HashSet<StepId>>,
    pub zoom: bool,
    pub wrap: bool,
    pub times: bool,
    pub help: Option<Help>,
    pub prompt: Option<Prompt>,
    pub search: Option<Matcher>,
    pub message: Option<Message>,
    /// What the input is, for titles and the "whole log is in …" note.
    pub origin: String,
    pub start: Instant,
    /// Input ended after this long (live inputs).
    pub ended: Option<Duration>,
    pub live: bool,
    pub dirty: bool,
    /// What changed answers the user (a key, the terminal's echo): draw it at once.
    pub urgent: bool,
    pub quit: bool,
    pub drawn: Drawn,
    /// Lines each machine had when it was last focused, for unread counts.
    seen: HashMap<(usize, usize), u64>,
    /// The driver's terminal in a live run.
    pub command: Option<super::live::CommandPane>,
    /// Keys go to the command pane's program (it is focused and not left with `leave`).
    pub term_input: bool,
    /// The chord that leaves a terminal pane.
    pub leave: super::keymap::Chord,
    /// The live run's exit status, once it ended.
    pub exit_code: Option<i32>,
    /// Where the whole input is kept when it is not `origin` (a live run's recording).
    pub archive: Option<String>,
    /// Quit was asked once while the driver runs.
    confirm_quit: bool,
    /// ssh sessions into the machines, one per tab.
    pub tabs: Vec<super::tabs::Tab>,
    /// The tab shown over the panes, if any.
    pub active_tab: Option<usize>,
    /// Keys go to the tab shown (not left with `leave`).
    pub tab_input: bool,
    pub next_tab_id: u32,
    /// The inner size of a tab's terminal as last drawn.
    pub tab_size: (u16, u16),
    /// What is typed goes to every running tab.
    pub sync_typing: bool,
    /// ssh reaches `vsock/N` through the system's ProxyCommand rather than `vmscope proxy`.
    pub ssh_system_proxy: bool,
    /// Options put before ssh's own (`-o ...`), from the configuration.
    pub ssh_options: Vec<String>,
    /// The breakpoint view is shown (what went wrong, and the keys into the paused test).
    pub failure_view: bool,
    /// The panes follow the live run although something failed (`L`).
    pub live_panes: bool,
    /// Triggers (test, input line, is a breakpoint) whose view was opened once.
    pub announced: HashSet<(usize, u64, bool)>,
    /// When a key was last typed into a terminal.
    pub last_typed: Option<Instant>,
    /// Per test, the pause (breakpoint line) that pdb was told to leave.
    pub resumed: HashMap<usize, u64>,
    /// What the host confirms: how the run came, the driver's process and configuration.
    pub checks: super::trust::Checks,
    /// A command shown for the user's yes before it runs.
    pub confirm: Option<super::trust::Confirm>,
}

/// Lines below the first one on the first screen: one row less when the top row says what
/// was evicted.
fn top_rows(lines: &PaneLines<'_>, height: i64) -> i64 {
    let notice = i64::from(lines.store.evicted() > 0 && lines.filter.is_none());
    (height - 1 - notice).max(0)
}

impl App {
    pub fn new(caps: Caps, keymap: Keymap, origin: String, live: bool) -> Self {
        let mut parser = Parser::new(caps, Parser::env_options());
        parser.run.live = live;
        parser.run.origin = Some(origin.clone());
        Self {
            parser,
            keymap,
            test: 0,
            focus: Pane::Driver,
            views: HashMap::new(),
            collapsed: HashMap::new(),
            zoom: false,
            wrap: false,
            times: false,
            help: None,
            prompt: None,
            search: None,
            message: None,
            origin,
            start: Instant::now(),
            ended: None,
            live,
            dirty: true,
            urgent: true,
            quit: false,
            drawn: Drawn::default(),
            seen: HashMap::new(),
            command: None,
            term_input: false,
            leave: super::keymap::Chord::parse(super::live::DEFAULT_LEAVE)
                .unwrap_or_else(|| unreachable!()),
            exit_code: None,
            archive: None,
            confirm_quit: false,
            tabs: Vec::new(),
            active_tab: None,
            tab_input: false,
            next_tab_id: 0,
            tab_size: (80, 24),
            sync_typing: false,
            ssh_system_proxy: false,
            ssh_options: Vec::new(),
            failure_view: false,
            live_panes: false,
            announced: HashSet::new(),
            last_typed: None,
            resumed: HashMap::new(),
            checks: super::trust::Checks::default(),
            confirm: None,
        }
    }

    pub fn run(&self) -> &TestRun {
        &self.parser.run
    }

    pub fn current_test(&self) -> &Test {
        let tests = &self.parser.run.tests;
        &tests[self.test.min(tests.len() - 1)]
    }

    /// Tests worth showing, in order.
    pub fn test_indices(&self) -> Vec<usize> {
        self.parser.run.visible_tests().map(|(i, _)| i).collect()
    }

    pub fn view(&self, pane: Pane) -> View {
        self.views
            .get(&(self.test, pane))
            .cloned()
            .unwrap_or_default()
    }

    pub fn view_mut(&mut self, pane: Pane) -> &mut View {
        self.views.entry((self.test, pane)).or_default()
    }

    pub fn collapsed(&self) -> &HashSet<StepId> {
        static EMPTY: std::sync::OnceLock<HashSet<StepId>> = std::sync::OnceLock::new();
        self.collapsed
            .get(&self.test)
            .unwrap_or_else(|| EMPTY.get_or_init(HashSet::new))
    }

    /// The lines of a pane of the current test, as shown.
    pub fn pane_lines(&self, pane: Pane) -> PaneLines<'_> {
        let filter = self
            .views
            .get(&(self.test, pane))
            .and_then(|v| v.filter.as_ref());
        PaneLines::new(self.current_test(), pane, self.collapsed(), filter)
            .until(self.frozen_end(pane))
    }

    pub fn context(&self) -> Context {
        if self.help.is_some() {
            Context::Help
        } else {
            self.view_context()
        }
    }

    /// The context of what is shown, under the help.
    pub fn view_context(&self) -> Context {
        if self.failure_view && self.active_tab.is_none() {
            Context::Breakpoint
        } else if self.focus == Pane::Driver {
            Context::Driver
        } else {
            Context::Log
        }
    }

    /// Elapsed time of the run: live inputs count from the start, files tell their own.
    pub fn elapsed(&self) -> Option<Duration> {
        if self.live {
            return Some(self.ended.unwrap_or_else(|| self.start.elapsed()));
        }
        // A file tells how long its test script ran, if it got that far.
        let t = self.current_test();
        t.script_secs
            .or_else(|| {
                t.steps
                    .iter()
                    .find(|s| {
                        s.title == "run the VM test script"
                            || s.title == "running the VM test script"
                    })
                    .and_then(|s| s.secs)
            })
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    }

    /// Panes in focus order: the machines, then the driver.
    pub fn pane_order(&self) -> Vec<Pane> {
        let mut v: Vec<Pane> = (0..self.current_test().machines.len())
            .map(Pane::Machine)
            .collect();
        v.push(Pane::Driver);
        if self.command.is_some() {
            v.push(Pane::Command);
        }
        v
    }

    pub fn unread(&self, m: usize) -> u64 {
        let t = self.current_test();
        let total = t.machines.get(m).map_or(0, |x| x.serial_lines);
        total.saturating_sub(self.seen.get(&(self.test, m)).copied().unwrap_or(0))
    }

    /// Lines of machine `m` up to now have been on screen.
    pub fn mark_seen(&mut self, m: usize) {
        let total = self
            .current_test()
            .machines
            .get(m)
            .map_or(0, |x| x.serial_lines);
        self.seen.insert((self.test, m), total);
    }

    // ----- input -----

    pub fn ingest(&mut self, ev: SourceEvent) {
        match ev {
            SourceEvent::Data(bytes, t) => {
                let before: Vec<u64> = self
                    .current_test()
                    .machines
                    .iter()
                    .map(|m| m.serial.end_seq())
                    .collect();
                self.parser.feed(&bytes, t);
                // Views that do not follow count what arrived below them.
                let test = self.test;
                let after: Vec<u64> = self
                    .current_test()
                    .machines
                    .iter()
                    .map(|m| m.serial.end_seq())
                    .collect();
                for (m, n) in after.iter().enumerate() {
                    let new = n - before.get(m).copied().unwrap_or(0);
                    if let Some(v) = self.views.get_mut(&(test, Pane::Machine(m)))
                        && !v.following()
                    {
                        v.unread += new;
                    }
                }
            }
            SourceEvent::Terminal(bytes) => {
                self.parser.feed_terminal(&bytes);
                if let Some(cmd) = &mut self.command {
                    cmd.emu.process(&bytes);
                }
            }
            SourceEvent::End => {
                self.parser.finish();
                self.ended = Some(self.start.elapsed());
                self.parser.run.live = false;
                self.live_done();
            }
            SourceEvent::Error(e) => {
                self.parser.finish();
                self.ended = Some(self.start.elapsed());
                self.message = Some(Message {
                    text: e,
                    error: true,
                });
            }
        }
        self.check_triggers();
        self.dirty = true;
    }

    fn live_done(&mut self) {
        if self.live {
            let outcome = self.parser.run.outcome();
            self.message = Some(Message {
                text: format!("input ended: {}", outcome.label()),
                error: false,
            });
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        // A question waits for its answer before anything else.
        if self.confirm.is_some() {
            return self.confirm_key(&key);
        }
        // A key typed into the terminal changes nothing on screen until its echo comes back:
        // drawing now would only delay drawing the echo.
        if self.typing() && self.help.is_none() && self.prompt.is_none() {
            return self.terminal_key(key);
        }
        self.dirty = true;
        if self.prompt.is_some() {
            return self.prompt_key(key);
        }
        if self.help.is_none()
            && let Some(effects) = self.tab_nav_key(&key)
        {
            return effects;
        }
        if self.help.is_none()
            && self.active_tab.is_none()
            && let Some(effects) = self.command_nav_key(&key)
        {
            return effects;
        }
        let ctx = self.context();
        if ctx == Context::Help
            && let Some(help) = &mut self.help
            && help.filter.is_some()
            && key.code == KeyCode::Esc
        {
            help.filter = None;
            return Vec::new();
        }
        match self.keymap.lookup_event(ctx, &key) {
            Some(a) => self.update(a),
            None => {
                if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
                    return self.update(Action::Quit);
                }
                Vec::new()
            }
        }
    }

    pub fn on_mouse(&mut self, ev: MouseEvent) -> Vec<Effect> {
        if self.confirm.is_some() {
            return Vec::new();
        }
        let at = Position::new(ev.column, ev.row);
        let hit = self
            .drawn
            .panes
            .iter()
            .find(|(_, r)| r.contains(at))
            .map(|(p, _)| *p);
        if ev.kind == MouseEventKind::Down(MouseButton::Left)
            && let Some(&(tab, _)) = self.drawn.tabs.iter().find(|(_, r)| r.contains(at))
        {
            self.show_tab(tab);
            return Vec::new();
        }
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(p) = hit {
                    self.set_focus(p);
                } else if let Some(list) = self.drawn.machine_list
                    && list.contains(at)
                {
                    let row = ev.row.saturating_sub(list.y + 1) as usize;
                    if row < self.current_test().machines.len() {
                        self.set_focus(Pane::Machine(row));
                    }
                }
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                if let Some(p) = hit {
                    let n = if ev.kind == MouseEventKind::ScrollUp {
                        -3
                    } else {
                        3
                    };
                    self.scroll(p, n);
                }
            }
            _ => return Vec::new(),
        }
        self.dirty = true;
        Vec::new()
    }

    fn prompt_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(prompt) = &mut self.prompt else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Esc => {
                self.prompt = None;
            }
            KeyCode::Enter => {
                let kind = prompt.kind;
                let value = prompt.input.value().to_string();
                self.prompt = None;
                return self.submit(kind, &value);
            }
            _ => {
                prompt
                    .input
                    .handle_event(&crossterm::event::Event::Key(key));
                if prompt.kind == PromptKind::HelpSearch
                    && let Some(h) = &mut self.help
                {
                    h.filter = Matcher::new(prompt.input.value());
                    h.scroll = 0;
                }
            }
        }
        Vec::new()
    }

    fn submit(&mut self, kind: PromptKind, value: &str) -> Vec<Effect> {
        match kind {
            PromptKind::Search => {
                self.search = Matcher::new(value);
                if self.search.is_some() {
                    self.jump_to_match(self.focus, true, true);
                }
            }
            PromptKind::Filter => {
                let focus = self.focus;
                let m = Matcher::new(value);
                let v = self.view_mut(focus);
                v.filter = m;
                v.anchor = None;
                v.cursor = None;
            }
            PromptKind::Save => {
                if value.trim().is_empty() {
                    return Vec::new();
                }
                let text = match (&self.command, self.focus) {
                    (Some(cmd), Pane::Command) => cmd.emu.screen().contents(),
                    _ => self.pane_text(self.focus),
                };
                return vec![Effect::Save {
                    path: PathBuf::from(value.trim()),
                    text,
                }];
            }
            PromptKind::HelpSearch => {
                if let Some(h) = &mut self.help {
                    h.filter = Matcher::new(value);
                }
            }
        }
        Vec::new()
    }

    /// The runner reports how saving went.
    pub fn saved(&mut self, path: &std::path::Path, result: std::io::Result<usize>) {
        let pane = self.focus;
        let evicted = self.pane_lines(pane).store.evicted();
        self.message = Some(match result {
            Ok(n) => {
                let note = if evicted > 0 {
                    format!(
                        " ({evicted} older lines were evicted from memory; the whole log is in {})",
                        self.archive.as_deref().unwrap_or(&self.origin)
                    )
                } else {
                    String::new()
                };
                Message {
                    text: format!("saved {n} lines to {}{note}", path.display()),
                    error: false,
                }
            }
            Err(e) => Message {
                text: format!("could not save to {}: {e}", path.display()),
                error: true,
            },
        });
        self.dirty = true;
    }

    /// Plain text of everything a pane holds.
    pub fn pane_text(&self, pane: Pane) -> String {
        let lines = self.pane_lines(pane);
        let mut out = String::new();
        for (_, l) in lines.store.iter() {
            if !lines.driver || l.kind != line_kind::STEP_END {
                out.push_str(l.plain());
                out.push('\n');
            }
        }
        out
    }

    fn default_save_path(&self) -> String {
        let t = self.current_test();
        let test = t.name.clone().unwrap_or_else(|| "vmscope".to_string());
        let pane = match self.focus {
            Pane::Driver => "driver".to_string(),
            Pane::Command => "command".to_string(),
            Pane::Machine(m) => t
                .machines
                .get(m)
                .map_or("machine".to_string(), |x| x.name.clone()),
        };
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!(
            "{}-{}-{secs}.log",
            crate::vm::export::file_stem(&test),
            crate::vm::export::file_stem(&pane)
        );
        // Not the working directory, where a test's sources are: the user's state.
        match crate::vm::recording::saved_dir() {
            Some(dir) => dir.join(name).display().to_string(),
            None => name,
        }
    }

    // ----- actions -----

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        self.dirty = true;
        if !matches!(action, Action::Close) {
            self.message = None;
        }
        if action != Action::Quit {
            self.confirm_quit = false;
        }
        if self.help.is_none()
            && let Some(effects) = self.tab_action(action)
        {
            return effects;
        }
        // Going to a pane leaves the breakpoint view for the panes.
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
            self.failure_view = false;
        }
        let focus = self.focus;
        match action {
            Action::Quit => {
                let running = self.command.as_ref().is_some_and(|c| c.exit.is_none());
                let sessions = self.tabs.iter().filter(|t| t.running).count();
                if (running || sessions > 0) && !self.confirm_quit {
                    self.confirm_quit = true;
                    let text = match (running, sessions) {
                        (true, 0) => "the driver is still running: q again stops it (and its \
                                      VMs) and quits"
                            .to_string(),
                        (true, n) => format!(
                            "the driver is still running, with {n} ssh session(s): q again \
                             stops them all and quits"
                        ),
                        (false, n) => {
                            format!("{n} ssh session(s) open: q again ends them and quits")
                        }
                    };
                    self.message = Some(Message { text, error: true });
                    return Vec::new();
                }
                self.quit = true;
            }
            Action::Help => {
                self.help = match self.help {
                    Some(_) => None,
                    None => Some(Help::default()),
                }
            }
            Action::Close => {
                if self.help.is_some() {
                    self.help = None;
                } else if self.message.is_some() {
                    self.message = None;
                } else if self.search.is_some() {
                    self.search = None;
                } else if self.view(focus).filter.is_some() {
                    // Backs out of the filter, one thing at a time.
                    let v = self.view_mut(focus);
                    v.filter = None;
                    v.anchor = None;
                    v.cursor = None;
                    self.message = Some(Message {
                        text: "filter off: every line shown".into(),
                        error: false,
                    });
                } else if self.zoom {
                    self.zoom = false;
                }
            }
            Action::FocusNext | Action::FocusPrev => {
                let order = self.pane_order();
                let i = order.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = order.len();
                let next = if action == Action::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.set_focus(order[next]);
            }
            Action::FocusDriver => self.set_focus(Pane::Driver),
            Action::FocusCommand => {
                if self.command.is_some() {
                    self.set_focus(Pane::Command);
                } else {
                    self.message = Some(Message {
                        text:
                            "no driver runs here: `vmscope run -- DRIVER` has a terminal to type in"
                                .into(),
                        error: false,
                    });
                }
            }
            Action::FocusMachine(n) => {
                if n >= 1 && n <= self.current_test().machines.len() {
                    self.set_focus(Pane::Machine(n - 1));
                }
            }
            Action::Zoom => self.zoom = !self.zoom,
            Action::ScrollUp => {
                if self.help.is_some() {
                    self.help_scroll(-1);
                } else {
                    self.scroll(focus, -1);
                }
            }
            Action::ScrollDown => {
                if self.help.is_some() {
                    self.help_scroll(1);
                } else {
                    self.scroll(focus, 1);
                }
            }
            Action::PageUp | Action::PageDown | Action::HalfPageUp | Action::HalfPageDown => {
                let h = self.pane_height(focus).max(2) as i64;
                let n = match action {
                    Action::PageUp => -(h - 1),
                    Action::PageDown => h - 1,
                    Action::HalfPageUp => -(h / 2),
                    _ => h / 2,
                };
                if self.help.is_some() {
                    self.help_scroll(n);
                } else {
                    self.scroll(focus, n);
                }
            }
            Action::Top if focus == Pane::Command => {
                if let Some(cmd) = &mut self.command {
                    cmd.emu.scroll_by(i64::from(u16::MAX));
                }
            }
            Action::Bottom if focus == Pane::Command => {
                if let Some(cmd) = &mut self.command {
                    cmd.emu.scroll_to_live();
                }
            }
            Action::Top => self.top(focus),
            Action::Bottom => {
                let v = self.view_mut(focus);
                v.anchor = None;
                v.cursor = None;
                v.unread = 0;
            }
            Action::ScrollLeft => {
                let v = self.view_mut(focus);
                v.hscroll = v.hscroll.saturating_sub(8);
            }
            Action::ScrollRight => {
                if !self.wrap {
                    let v = self.view_mut(focus);
                    v.hscroll += 8;
                }
            }
            Action::Follow => {
                let last = self.pane_lines(focus).last();
                let v = self.view_mut(focus);
                if v.following() {
                    v.anchor = last;
                } else {
                    v.anchor = None;
                    v.cursor = None;
                    v.unread = 0;
                }
            }
            Action::Search => {
                let kind = if self.help.is_some() {
                    PromptKind::HelpSearch
                } else {
                    PromptKind::Search
                };
                self.prompt = Some(Prompt {
                    kind,
                    input: Input::default(),
                });
            }
            Action::SearchOlder => self.jump_to_match(focus, true, false),
            Action::SearchNewer => self.jump_to_match(focus, false, false),
            Action::Filter => {
                let current = self
                    .view(focus)
                    .filter
                    .map(|f| f.pattern)
                    .unwrap_or_default();
                self.prompt = Some(Prompt {
                    kind: PromptKind::Filter,
                    input: Input::new(current),
                });
            }
            Action::Wrap => {
                self.wrap = !self.wrap;
                for v in self.views.values_mut() {
                    v.hscroll = 0;
                }
            }
            Action::Times => self.times = !self.times,
            Action::Save => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Save,
                    input: Input::new(self.default_save_path()),
                });
            }
            Action::ToggleStep => self.toggle_step(),
            Action::CollapseAll => {
                let ids: HashSet<StepId> = self
                    .current_test()
                    .steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        !s.children.is_empty() || s.end.is_some_and(|e| e > s.head + 1)
                    })
                    .map(|(i, _)| i as StepId)
                    .collect();
                self.collapsed.insert(self.test, ids);
                let v = self.view_mut(Pane::Driver);
                v.anchor = None;
                v.cursor = None;
            }
            Action::ExpandAll => {
                self.collapsed.remove(&self.test);
            }
            Action::JumpToFailure => self.jump_to_failure(),
            Action::NextTest | Action::PrevTest => {
                let tests = self.test_indices();
                if let Some(i) = tests.iter().position(|&t| t == self.test) {
                    let n = tests.len();
                    let j = if action == Action::NextTest {
                        (i + 1) % n
                    } else {
                        (i + n - 1) % n
                    };
                    self.test = tests[j];
                    self.focus = Pane::Driver;
                    // A test with nothing to show there gets its panes, and its status said.
                    let t = self.current_test();
                    let nothing_failed = t.freeze.is_none() && t.breakpoint.is_none();
                    let name = t.name.clone().unwrap_or_else(|| format!("test {}", j + 1));
                    let outcome = t.outcome(self.live);
                    if nothing_failed {
                        self.failure_view = false;
                    }
                    self.message = Some(Message {
                        text: format!("{name}: {}", outcome.label()),
                        error: false,
                    });
                }
            }
            Action::SshOpen => return self.open_ssh(),
            Action::FailureView => self.toggle_failure_view(),
            Action::Freeze => self.freeze(),
            Action::Live => self.go_live(),
            Action::Attach => return self.attach(),
            Action::Pdb => return self.pdb(),
            Action::SshMachine(n) => return self.ssh_machine(n),
            Action::PdbContinue => return self.pdb_command("c"),
            Action::PdbQuit => return self.pdb_command("q"),
            Action::NextTab | Action::PrevTab => self.switch_tab(action == Action::NextTab),
            Action::CloseTab => return self.close_tab(),
            Action::Reconnect => return self.reconnect(),
            Action::SyncTyping => {
                self.sync_typing = !self.sync_typing;
                self.message = Some(Message {
                    text: if self.sync_typing {
                        "typing goes to every ssh tab".into()
                    } else {
                        "typing goes to the tab shown".into()
                    },
                    error: false,
                });
            }
            Action::None => {}
        }
        Vec::new()
    }

    pub fn set_focus(&mut self, pane: Pane) {
        self.focus = pane;
        // Focusing the terminal is coming to type in it.
        self.term_input = pane == Pane::Command;
        if let Pane::Machine(m) = pane {
            self.mark_seen(m);
        }
    }

    fn help_scroll(&mut self, n: i64) {
        if let Some(h) = &mut self.help {
            h.scroll = (h.scroll as i64 + n).max(0) as usize;
        }
    }

    pub fn pane_height(&self, pane: Pane) -> usize {
        self.drawn
            .panes
            .iter()
            .find(|(p, _)| *p == pane)
            .map_or(20, |(_, r)| r.height.saturating_sub(2) as usize)
    }

    /// Moves a pane's view by `n` lines (the driver pane moves its cursor).
    pub fn scroll(&mut self, pane: Pane, n: i64) {
        if pane == Pane::Command {
            self.scroll_command(n);
            return;
        }
        let (last, new_anchor, new_cursor) = {
            let lines = self.pane_lines(pane);
            let Some(last) = lines.last() else {
                return;
            };
            let view = self.view(pane);
            if pane == Pane::Driver {
                let cur = view.cursor.or(view.anchor).unwrap_or(last);
                let cursor = lines.step_by(cur, n);
                // Keep the cursor on screen.
                let h = self.pane_height(pane).max(1) as i64;
                let bottom = view.anchor.unwrap_or(last);
                let top = lines.step_by(bottom, -(h - 1));
                let anchor = if cursor > bottom {
                    cursor
                } else if cursor < top {
                    lines.step_by(cursor, h - 1)
                } else {
                    bottom
                };
                (last, anchor, Some(cursor))
            } else {
                let bottom = view.anchor.unwrap_or(last);
                let h = self.pane_height(pane).max(1) as i64;
                // The first screen ends where the top line is the first line.
                let first_bottom = lines
                    .first()
                    .map_or(last, |f| lines.step_by(f, top_rows(&lines, h)));
                let anchor = lines.step_by(bottom, n).max(first_bottom.min(last));
                (last, anchor, None)
            }
        };
        let v = self.view_mut(pane);
        if new_anchor >= last && new_cursor.is_none_or(|c| c >= last) {
            v.anchor = None;
            v.cursor = None;
            v.unread = 0;
        } else {
            v.anchor = Some(new_anchor);
            v.cursor = new_cursor;
        }
    }

    fn top(&mut self, pane: Pane) {
        let (anchor, cursor) = {
            let lines = self.pane_lines(pane);
            let Some(first) = lines.first() else {
                return;
            };
            let h = self.pane_height(pane).max(1) as i64;
            (lines.step_by(first, top_rows(&lines, h)), first)
        };
        let v = self.view_mut(pane);
        v.anchor = Some(anchor);
        if pane == Pane::Driver {
            v.cursor = Some(cursor);
        }
    }

    /// Puts line `seq` of `pane` in the middle of its view.
    pub fn reveal(&mut self, pane: Pane, seq: u64) {
        let anchor = {
            let lines = self.pane_lines(pane);
            let h = self.pane_height(pane).max(1) as i64;
            lines.step_by(seq, h / 2)
        };
        let v = self.view_mut(pane);
        v.anchor = Some(anchor);
        if pane == Pane::Driver {
            v.cursor = Some(seq);
        }
    }

    fn jump_to_match(&mut self, pane: Pane, older: bool, first: bool) {
        let Some(m) = self.search.clone() else {
            self.message = Some(Message {
                text: "no search yet: press / to search".into(),
                error: false,
            });
            return;
        };
        let unfolded = HashSet::new();
        let found = {
            // Search sees inside folded steps too; a match there unfolds them.
            let filter = self
                .views
                .get(&(self.test, pane))
                .and_then(|v| v.filter.as_ref());
            let lines = PaneLines::new(self.current_test(), pane, &unfolded, filter)
                .until(self.frozen_end(pane));
            let view = self.view(pane);
            let Some(last) = lines.last() else {
                return;
            };
            let from = if pane == Pane::Driver {
                view.cursor.or(view.anchor).unwrap_or(last)
            } else if first {
                view.anchor.unwrap_or(last)
            } else {
                // Continue from the current match, kept as the cursor.
                view.cursor.or(view.anchor).unwrap_or(last)
            };
            let start = if first { from + 1 } else { from };
            let found = lines.find(&m, start, older).map(|s| (s, false));
            found
                .or_else(|| {
                    // Wrap around.
                    let edge = if older {
                        lines.end
                    } else {
                        lines.store.first_seq().saturating_sub(1)
                    };
                    lines.find(&m, edge, older).map(|s| (s, true))
                })
                .map(|(s, wrapped)| (s, wrapped, lines.count_matches(&m, s)))
        };
        match found {
            Some((seq, wrapped, (total, upto))) => {
                if pane == Pane::Driver {
                    self.unfold_around(seq);
                }
                self.reveal(pane, seq);
                self.view_mut(pane).cursor = Some(seq);
                // A wrap is said, as less and vim do: the user would not know otherwise.
                let wrap = match (wrapped && !first, older) {
                    (false, _) => "",
                    (true, true) => " · wrapped to the bottom",
                    (true, false) => " · wrapped to the top",
                };
                self.message = Some(Message {
                    text: format!("/{}  match {upto} of {total}{wrap}", m.pattern),
                    error: false,
                });
            }
            None => {
                self.message = Some(Message {
                    text: format!("/{}: no match in this pane", m.pattern),
                    error: true,
                });
            }
        }
    }

    /// Unfolds every step that holds driver line `seq`.
    pub(crate) fn unfold_around(&mut self, seq: u64) {
        let mut chain = Vec::new();
        {
            let t = self.current_test();
            if let Some(line) = t.driver.get(seq) {
                let mut id = line.tag;
                while let Some(step) = t.step(id) {
                    chain.push(id);
                    id = step.parent;
                }
            }
        }
        if let Some(set) = self.collapsed.get_mut(&self.test) {
            for id in chain {
                set.remove(&id);
            }
        }
    }

    fn toggle_step(&mut self) {
        let target = {
            let lines = self.pane_lines(Pane::Driver);
            let view = self.view(Pane::Driver);
            let Some(cur) = view.cursor.or(view.anchor).or_else(|| lines.last()) else {
                return;
            };
            lines.get(cur).and_then(|l| {
                if l.kind == line_kind::STEP_HEAD {
                    Some((l.tag, cur))
                } else {
                    let id = l.tag;
                    self.current_test().step(id).map(|s| (id, s.head))
                }
            })
        };
        let Some((id, head)) = target else {
            return;
        };
        let set = self.collapsed.entry(self.test).or_default();
        if !set.remove(&id) {
            set.insert(id);
        }
        self.reveal(Pane::Driver, head);
    }

    fn jump_to_failure(&mut self) {
        let target = {
            let t = self.current_test();
            let failed = t
                .steps
                .iter()
                .enumerate()
                .filter(|(_, s)| s.state == StepState::Failed)
                .max_by_key(|(_, s)| s.head)
                .map(|(_, s)| s.head);
            let error_line = t
                .driver
                .iter()
                .find(|(_, l)| l.kind == line_kind::ERROR)
                .map(|(s, _)| s);
            error_line.or(failed)
        };
        match target {
            Some(seq) => {
                // Unfold the steps around it.
                if let Some(set) = self.collapsed.get_mut(&self.test) {
                    set.clear();
                }
                self.set_focus(Pane::Driver);
                self.reveal(Pane::Driver, seq);
            }
            None => {
                self.message = Some(Message {
                    text: "no failure in this test".into(),
                    error: false,
                });
            }
        }
    }
}
