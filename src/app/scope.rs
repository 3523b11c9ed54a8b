//! Where the keyboard is: one value for what has the keys now, which names the keymap's
//! context.

use crossterm::event::KeyEvent;

use super::action::Action;
use super::keymap::{Context, Keymap};
use super::overlay::{Overlay, PromptKind};
use super::sessions::{Sessions, Target};
use super::view::Pane;

/// What the screen shows under the overlay.
#[derive(Debug, Clone, Copy)]
pub struct Under {
    pub failure_open: bool,
    pub timeline: bool,
    pub focus: Pane,
}

impl Under {
    pub fn new(failure_open: bool, timeline: bool, focus: Pane) -> Self {
        Self {
            failure_open,
            timeline,
            focus,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A question about a command waits for its answer.
    Confirm,
    /// A prompt's line (search, filter, save, the palette).
    Prompt(PromptKind),
    Help,
    /// A terminal on screen with the focus: typing into it, or reading it.
    Terminal {
        target: Target,
        typing: bool,
    },
    /// What went wrong, and the keys into the paused test.
    FailureView,
    /// The timeline.
    Timeline,
    /// The driver pane.
    Driver,
    /// A machine pane.
    Log,
}

impl Scope {
    /// Where the keyboard is: a question, a prompt, the help (over everything), else the
    /// terminal shown with the focus, else the failure view or the focused log pane.
    pub fn of(overlay: &Overlay, sessions: &Sessions, under: Under) -> Self {
        if overlay.confirm.is_some() {
            return Self::Confirm;
        }
        if let Some(p) = &overlay.prompt {
            return Self::Prompt(p.kind);
        }
        if overlay.help.is_some() {
            return Self::Help;
        }
        Self::beneath(sessions, under)
    }

    /// Where the keyboard is under the overlay.
    pub fn beneath(sessions: &Sessions, under: Under) -> Self {
        let Under {
            failure_open,
            timeline,
            focus,
        } = under;
        if timeline && sessions.active.is_none() {
            return Self::Timeline;
        }
        // The failure view keeps the driver's terminal below it: it types there when told
        // to, and the view's keys are back once it is left.
        let command = focus == Pane::Command;
        if let Some(target) = sessions.focused(command) {
            let typing = sessions.typing(command).is_some();
            if typing || !failure_open || target != Target::Command {
                return Self::Terminal { target, typing };
            }
        }
        match (failure_open, focus) {
            (true, _) => Self::FailureView,
            (false, Pane::Driver) => Self::Driver,
            _ => Self::Log,
        }
    }

    pub fn context(self) -> Context {
        match self {
            Self::Confirm => Context::Confirm,
            Self::Prompt(_) => Context::Prompt,
            Self::Help => Context::Help,
            Self::Terminal { typing: true, .. } => Context::Terminal,
            Self::Terminal { typing: false, .. } => Context::Command,
            Self::FailureView => Context::Breakpoint,
            Self::Timeline => Context::Timeline,
            Self::Driver => Context::Driver,
            Self::Log => Context::Log,
        }
    }

    /// The action of `key` here: its binding, else what unbound keys do (a terminal that
    /// types gets them, a prompt's line is edited with them).
    pub fn resolve(self, keymap: &Keymap, key: KeyEvent) -> Option<Action> {
        keymap.lookup_event(self.context(), &key).or(match self {
            Self::Terminal { typing: true, .. } => Some(Action::SendKey(key)),
            Self::Prompt(_) => Some(Action::EditPrompt(key)),
            _ => None,
        })
    }

    pub fn typing(self) -> bool {
        matches!(self, Self::Terminal { typing: true, .. })
    }
}
