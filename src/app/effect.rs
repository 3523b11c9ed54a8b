//! What the parts of the application ask for, as values: the runner does the I/O, the router
//! puts messages and questions on the screen. A leaf: it names nothing else of `app`.

use std::ffi::OsString;
use std::path::PathBuf;

/// A line for the bottom bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

impl Message {
    pub fn info(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: true,
        }
    }
}

/// A command waiting for the user's yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The tab whose session it starts.
    pub tab: u32,
    /// What will run (and be typed), exactly.
    pub lines: Vec<String>,
    /// Why it is asked.
    pub why: String,
}

/// The prompts a part can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompting {
    Search,
    Filter,
    Save,
    /// The palette, its line started (`mark ` lists the marks).
    Palette,
}

/// What a part asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write `text` to `path`; the outcome is reported with `App::saved`.
    Save { path: PathBuf, text: String },
    /// Write to the live run's terminal (keys, answers to its queries).
    WritePty(Vec<u8>),
    /// Interrupt the statement the driver runs: SIGINT to the driver's process alone.
    Interrupt,
    /// Start `PROGRAM ARGS` (ssh, or sudo for the sandbox) for tab `id` in its own terminal.
    OpenTab {
        id: u32,
        program: OsString,
        args: Vec<OsString>,
    },
    /// Connect tab `id` to pdb over TCP.
    OpenPdb { id: u32, host: String, port: u16 },
    /// Write to tab `id`'s terminal.
    WriteTab(u32, Vec<u8>),
    /// End tab `id`'s session.
    CloseTab(u32),
    /// Put text on the clipboard of the terminal vmscope runs in (OSC 52).
    Clipboard(String),
    /// Mouse reporting on or off (off: the terminal's own selection works).
    Mouse(bool),
    /// Put a message on the bottom bar (taken by the router, never reaches the runner).
    Say(Message),
    /// Ask the user about a command before it runs (taken by the router).
    Ask(Confirm),
    /// Open a prompt of this kind holding this text (taken by the router).
    Prompt(Prompting, String),
    /// The marks changed: keep them with the recording (made a write by the router).
    KeepMarks,
    /// Write `text` to `path`, saying only what failed.
    WriteQuietly { path: PathBuf, text: String },
    /// Start a desktop program apart from vmscope's terminal (an image viewer), not waited
    /// for.
    Detach {
        program: OsString,
        args: Vec<OsString>,
    },
}

impl Effect {
    pub fn say(text: impl Into<String>) -> Self {
        Self::Say(Message::info(text))
    }

    pub fn warn(text: impl Into<String>) -> Self {
        Self::Say(Message::error(text))
    }
}
