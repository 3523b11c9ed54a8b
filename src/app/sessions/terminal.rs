//! A terminal on the screen: its emulator, what runs there and how it ended. The driver's
//! command pane and every tab are one of these.

use super::emulator::Emulator;

pub struct TermPane {
    pub emu: Emulator,
    /// What runs there, for the title.
    pub title: String,
    /// Its exit status once it ended.
    pub exit: Option<i32>,
}

impl TermPane {
    pub fn new(title: String, cols: u16, rows: u16) -> Self {
        Self {
            emu: Emulator::new(cols, rows),
            title,
            exit: None,
        }
    }

    pub fn running(&self) -> bool {
        self.exit.is_none()
    }
}
