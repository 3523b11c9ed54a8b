//! What the user can ask for. Keys, the help view, the README's key list and tests all
//! speak in these values.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Quit vmscope.
    Quit,
    /// Show the keys of the focused context.
    Help,
    /// Focus the next pane.
    FocusNext,
    /// Focus the previous pane.
    FocusPrev,
    /// Focus the driver pane.
    FocusDriver,
    /// Focus machine pane N (1-based, in screen order).
    FocusMachine(usize),
    /// Focus the driver's terminal (a live run's command pane) and type in it.
    FocusCommand,
    /// Show the focused pane alone, or the whole grid again.
    Zoom,
    /// Scroll one line up.
    ScrollUp,
    /// Scroll one line down.
    ScrollDown,
    /// Scroll one page up.
    PageUp,
    /// Scroll one page down.
    PageDown,
    /// Half a page up.
    HalfPageUp,
    /// Half a page down.
    HalfPageDown,
    /// Go to the first line held.
    Top,
    /// Go to the last line and follow new ones.
    Bottom,
    /// Scroll left (lines not wrapped).
    ScrollLeft,
    /// Scroll right (lines not wrapped).
    ScrollRight,
    /// Follow new lines, or stop following.
    Follow,
    /// Search the focused pane.
    Search,
    /// Go to the previous (older) match.
    SearchOlder,
    /// Go to the next (newer) match.
    SearchNewer,
    /// Show only the lines that match, or clear the filter.
    Filter,
    /// Wrap long lines, or cut them at the pane's edge.
    Wrap,
    /// Show line times (live input) or line numbers (files).
    Times,
    /// Save the focused pane's whole content to a file.
    Save,
    /// Collapse or expand the step under the cursor.
    ToggleStep,
    /// Collapse every step.
    CollapseAll,
    /// Expand every step.
    ExpandAll,
    /// Jump to the first failure.
    JumpToFailure,
    /// Show the next test of a build with several.
    NextTest,
    /// Show the previous test of a build with several.
    PrevTest,
    /// Open an ssh tab into the focused machine (its SSH backdoor).
    SshOpen,
    /// Show the next ssh tab (after the last: the panes again).
    NextTab,
    /// Show the previous ssh tab.
    PrevTab,
    /// Close the ssh tab shown, ending its session.
    CloseTab,
    /// Connect the ssh tab shown again after its session ended.
    Reconnect,
    /// Send what is typed to every ssh tab at once, or to the one shown.
    SyncTyping,
    /// Show what went wrong (the breakpoint view), or the panes again.
    FailureView,
    /// Freeze the panes at the failure (or now, when nothing failed yet).
    Freeze,
    /// Let the panes follow the live run again.
    Live,
    /// Attach to the paused build sandbox (`sudo ATTACH ID`) in a tab.
    Attach,
    /// Open a pdb console into the paused test.
    Pdb,
    /// A shell into machine N (1-based): an ssh tab, or ssh typed into the sandbox.
    SshMachine(usize),
    /// Let the paused test go on (`c` in pdb).
    PdbContinue,
    /// Stop the paused test (`q` in pdb).
    PdbQuit,
    /// Close the help, the prompt or the message.
    Close,
    /// Open the command palette: every command and machine by name.
    Palette,
    /// Copy the line under the cursor to the clipboard (OSC 52).
    Yank,
    /// Copy the focused pane's whole content to the clipboard (OSC 52).
    YankPane,
    /// Mouse capture off (the terminal's own selection works) or on again.
    MouseCapture,
    /// Make the driver pane wider.
    DriverWider,
    /// Make the driver pane narrower.
    DriverNarrower,
    /// Start typing into the terminal shown.
    TypeHere,
    /// Typing: leave the terminal for the panes' keys. Reading: send the chord to the
    /// program and type again.
    Leave,
    /// Interrupt what the driver runs (SIGINT to the driver alone while a statement runs),
    /// or send Ctrl-C to the program.
    Interrupt,
    /// Every pane to the focused pane's moment, and follow it as it moves (on/off).
    Sync,
    /// Every machine and the driver in one pane, in the order of the input (on/off).
    AllMachines,
    /// The run along time: steps as bars, each machine's output, states and errors.
    Timeline,
    /// Mark the line under the cursor, or unmark it.
    Mark,
    /// Go to the next mark (after the last: the first).
    NextMark,
    /// The marks, to pick one.
    Marks,
    /// Show the machine's screenshot at the cursor beside its pane (again: hide it).
    Screenshot,
    /// The screenshot shown on the whole screen (again: back beside the pane).
    ScreenshotFull,
    /// The machine's next screenshot.
    NextScreenshot,
    /// The machine's previous screenshot.
    PrevScreenshot,
    /// Hand the screenshot shown to the desktop's image viewer (xdg-open).
    OpenScreenshot,
    /// A live run: take the machine's screenshot now, through the driver's REPL.
    ScreenshotNow,
    /// Go to the next error or failure.
    NextError,
    /// Go to the previous error or failure.
    PrevError,
    /// Go to the next warning.
    NextWarning,
    /// Go to the previous warning.
    PrevWarning,
    /// Go to the next step's start or end.
    NextStepEdge,
    /// Go to the previous step's start or end.
    PrevStepEdge,
    /// Timeline: back along the run by a tenth of it.
    TimeBack,
    /// Timeline: on along the run by a tenth of it.
    TimeOn,
    /// Timeline: show every pane at the moment under its cursor.
    JumpHere,
    /// Timeline: the selected machine's next longest silence (where a test hung waiting).
    NextSilence,
    /// Replay: play or pause.
    PlayPause,
    /// Replay: faster (1x, 10x, 100x, as fast as it reads).
    Faster,
    /// Replay: slower.
    Slower,
    /// Run what the prompt holds.
    Submit,
    /// Close the prompt, or answer no.
    Cancel,
    /// The palette's next entry.
    SelectNext,
    /// The palette's previous entry.
    SelectPrev,
    /// Answer yes to the question shown.
    Yes,
    /// Answer no to the question shown.
    No,
    /// A key for the program in the terminal that has the keyboard (what unbound keys do
    /// there; not bindable).
    #[serde(skip)]
    SendKey(crossterm::event::KeyEvent),
    /// A key that edits a prompt's line (what unbound keys do there; not bindable).
    #[serde(skip)]
    EditPrompt(crossterm::event::KeyEvent),
    /// Do nothing (unbinds a key in a user keymap).
    None,
}

impl Action {
    /// The command name of the action: its keymap name with spaces (`focus next`), as the
    /// palette lists it and messages name an action that has no key.
    pub fn command_name(self) -> String {
        let raw = match toml::Value::try_from(self) {
            Ok(toml::Value::String(s)) => s,
            // Actions with a number (`focus_machine = 1`) are reached by the machines' names.
            Ok(toml::Value::Table(t)) => t.keys().next().cloned().unwrap_or_default(),
            _ => String::new(),
        };
        raw.replace('_', " ")
    }

    /// Going to a pane leaves the failure view for the panes.
    pub fn goes_to_a_pane(self) -> bool {
        matches!(
            self,
            Self::FocusNext
                | Self::FocusPrev
                | Self::FocusDriver
                | Self::FocusMachine(_)
                | Self::FocusCommand
                | Self::Zoom
                | Self::JumpToFailure
                | Self::AllMachines
                | Self::Timeline
                | Self::NextMark
                | Self::NextError
                | Self::PrevError
                | Self::NextWarning
                | Self::PrevWarning
                | Self::NextStepEdge
                | Self::PrevStepEdge
        )
    }

    /// One line for the help view.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Quit => "quit",
            Self::Help => "help: the keys of this context",
            Self::FocusNext => "focus the next pane",
            Self::FocusPrev => "focus the previous pane",
            Self::FocusDriver => "focus the driver pane",
            Self::FocusMachine(_) => "focus machine pane N",
            Self::FocusCommand => "type in the driver's terminal (live runs)",
            Self::Zoom => "zoom the focused pane (again: back to the grid)",
            Self::ScrollUp => "scroll up a line",
            Self::ScrollDown => "scroll down a line",
            Self::PageUp => "scroll up a page",
            Self::PageDown => "scroll down a page",
            Self::HalfPageUp => "scroll up half a page",
            Self::HalfPageDown => "scroll down half a page",
            Self::Top => "go to the first line",
            Self::Bottom => "go to the last line and follow",
            Self::ScrollLeft => "scroll left",
            Self::ScrollRight => "scroll right",
            Self::Follow => "follow new lines on/off",
            Self::Search => "search the focused pane",
            Self::SearchOlder => "previous match upwards (older)",
            Self::SearchNewer => "next match downwards (newer)",
            Self::Filter => "filter: show only matching lines",
            Self::Wrap => "wrap long lines on/off",
            Self::Times => "line times / numbers on/off",
            Self::Save => "save the pane's content to a file",
            Self::ToggleStep => "collapse/expand the step",
            Self::CollapseAll => "collapse every step",
            Self::ExpandAll => "expand every step",
            Self::JumpToFailure => "jump to the failure",
            Self::NextTest => "next test of the build",
            Self::PrevTest => "previous test of the build",
            Self::SshOpen => "ssh into the focused machine in a new tab",
            Self::NextTab => "next ssh tab (after the last: the panes)",
            Self::PrevTab => "previous ssh tab",
            Self::CloseTab => "close the ssh tab shown",
            Self::Reconnect => "reconnect the ssh tab shown",
            Self::SyncTyping => "type into every ssh tab at once on/off",
            Self::FailureView => "what went wrong: the breakpoint view (again: the panes)",
            Self::Freeze => "freeze the panes at the failure (nothing failed: freeze now)",
            Self::Live => "panes follow the live run again",
            Self::Attach => "attach to the paused build sandbox in a tab (sudo ATTACH ID)",
            Self::Pdb => "pdb console into the paused test, in a tab",
            Self::SshMachine(_) => "shell into machine N (in the sandbox when paused in one)",
            Self::PdbContinue => "continue the paused test (c in pdb)",
            Self::PdbQuit => "quit the paused test (q in pdb)",
            Self::Close => "close (one thing at a time)",
            Self::Palette => "command palette: every command and machine by name",
            Self::Yank => "copy the line to the clipboard",
            Self::YankPane => "copy the whole pane to the clipboard",
            Self::MouseCapture => "mouse capture off/on (off: the terminal selects text)",
            Self::DriverWider => "driver pane wider",
            Self::DriverNarrower => "driver pane narrower",
            Self::TypeHere => "type into this terminal",
            Self::Leave => "leave the terminal (reading: send the chord to it)",
            Self::Interrupt => "interrupt the running statement; the VMs stay up",
            Self::Sync => "sync: every pane at the same moment, following the cursor (on/off)",
            Self::AllMachines => "all machines and the driver in one pane, in input order (on/off)",
            Self::Timeline => "timeline: steps, machines' output, states and errors along the run",
            Self::Mark => "mark the line (again: unmark it)",
            Self::NextMark => "next mark",
            Self::Marks => "the marks, to pick one",
            Self::Screenshot => {
                "the machine's screenshot at the cursor, beside its pane (again: hide)"
            }
            Self::ScreenshotFull => "the screenshot on the whole screen (again: beside the pane)",
            Self::NextScreenshot => "the machine's next screenshot",
            Self::PrevScreenshot => "the machine's previous screenshot",
            Self::OpenScreenshot => "open the screenshot in the desktop's image viewer",
            Self::ScreenshotNow => "take the machine's screenshot now (a live run's REPL)",
            Self::NextError => "next error or failure",
            Self::PrevError => "previous error or failure",
            Self::NextWarning => "next warning",
            Self::PrevWarning => "previous warning",
            Self::NextStepEdge => "next step start or end",
            Self::PrevStepEdge => "previous step start or end",
            Self::TimeBack => "back along the run (a tenth of it)",
            Self::TimeOn => "on along the run (a tenth of it)",
            Self::JumpHere => "every pane to this moment",
            Self::NextSilence => "the machine's next longest silence",
            Self::PlayPause => "replay: play or pause",
            Self::Faster => "replay: faster (1x, 10x, 100x, max)",
            Self::Slower => "replay: slower",
            Self::Submit => "run it",
            Self::Cancel => "cancel",
            Self::SelectNext => "next entry",
            Self::SelectPrev => "previous entry",
            Self::Yes => "yes: run the command shown",
            Self::No => "no: do not run it",
            Self::SendKey(_) => "a key for the program",
            Self::EditPrompt(_) => "a key for the prompt's line",
            Self::None => "nothing",
        }
    }

    /// Short label for the status bar's key hints; `None` keeps an action out of them.
    pub fn hint(self) -> Option<&'static str> {
        Some(match self {
            Self::Help => "help",
            Self::FocusNext => "focus",
            Self::Zoom => "zoom",
            Self::Search => "search",
            Self::Filter => "filter",
            Self::Follow => "follow",
            Self::Wrap => "wrap",
            Self::ToggleStep => "fold",
            Self::JumpToFailure => "failure",
            Self::Quit => "quit",
            Self::SshOpen => "ssh",
            Self::NextTab => "tabs",
            Self::Close => "close",
            Self::FailureView => "why",
            Self::Attach => "attach",
            Self::Pdb => "pdb",
            Self::SshMachine(_) => "ssh",
            Self::PdbContinue => "continue",
            Self::Live => "live",
            Self::Freeze => "freeze",
            Self::SearchOlder => "older",
            Self::SearchNewer => "newer",
            Self::Palette => "commands",
            Self::TypeHere => "type",
            Self::Leave => "leave",
            Self::Interrupt => "interrupt",
            Self::Submit => "run",
            Self::Cancel => "cancel",
            Self::Yes => "yes",
            Self::No => "no",
            Self::Yank => "copy",
            Self::Sync => "sync",
            Self::AllMachines => "all",
            Self::Timeline => "timeline",
            Self::Mark => "mark",
            Self::Screenshot => "screenshot",
            Self::JumpHere => "go there",
            Self::NextSilence => "silence",
            Self::PlayPause => "play",
            _ => return None,
        })
    }
}
