//! Where the keyboard is: one value for what has the keys now, which names the keymap's
//! context.

use super::keymap::Context;
use super::overlay::PromptKind;
use super::sessions::Target;

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
    /// The driver pane.
    Driver,
    /// A machine pane.
    Log,
}

impl Scope {
    pub fn context(self) -> Context {
        match self {
            Self::Confirm => Context::Confirm,
            Self::Prompt(_) => Context::Prompt,
            Self::Help => Context::Help,
            Self::Terminal { typing: true, .. } => Context::Terminal,
            Self::Terminal { typing: false, .. } => Context::Command,
            Self::FailureView => Context::Breakpoint,
            Self::Driver => Context::Driver,
            Self::Log => Context::Log,
        }
    }

    pub fn typing(self) -> bool {
        matches!(self, Self::Terminal { typing: true, .. })
    }
}
