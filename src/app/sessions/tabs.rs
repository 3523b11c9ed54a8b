//! The tabs' lifecycle: added, shown, switched, closed; what their processes report (and
//! why a session ended: an unreachable backdoor tries again, sudo's refusal is said); the
//! lines typed once a session is ready; the retries of tabs that wait.

use std::time::{Duration, Instant};

use super::connect::Ctx;
use super::driver::ChildEvent;
use super::{Ready, Sessions, Tab, TabKind};
use crate::app::effect::Effect;

/// How long a tab waits before trying an unreachable backdoor again.
const RETRY: Duration = Duration::from_secs(2);

/// How much of ssh's stderr a tab keeps to tell why it ended.
const STDERR_TAIL: usize = 4096;

impl Sessions {
    /// Shows tab `i`, or the panes; a running tab gets the keyboard.
    pub fn show_tab(&mut self, i: Option<usize>) {
        self.active = i.filter(|&i| i < self.tabs.len());
        self.tab_typing = self.active().is_some_and(|t| t.running);
    }

    /// The panes again, with no tab taking keys.
    pub fn hide_tabs(&mut self) {
        self.active = None;
        self.tab_typing = false;
    }

    /// `>` / `<`: the next or previous tab (after the last: the panes). `s` names the key
    /// that opens one, for when there is none.
    pub fn switch_tab(&mut self, forward: bool, s: &str) -> Vec<Effect> {
        if self.tabs.is_empty() {
            return vec![Effect::say(format!(
                "no ssh tabs: {s} opens one into the focused machine"
            ))];
        }
        let n = self.tabs.len() + 1;
        let at = self.active.map_or(0, |i| i + 1);
        let next = if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        };
        self.show_tab(next.checked_sub(1));
        Vec::new()
    }

    /// A new tab of `kind`, shown with the keyboard; its position.
    pub fn add_tab(&mut self, kind: TabKind, machine: String, line: Option<String>) -> usize {
        self.next_id += 1;
        let mut tab = Tab::new(self.next_id, kind, machine, self.tab_size);
        if let Some(line) = line {
            tab.queued.push_back((line, Ready::Shell));
        }
        self.tabs.push(tab);
        self.active = Some(self.tabs.len() - 1);
        self.tab_typing = true;
        self.tabs.len() - 1
    }

    /// `x`: closes the tab shown (its session ends with it).
    pub fn close_tab(&mut self) -> Vec<Effect> {
        let Some(i) = self.active else {
            return Vec::new();
        };
        let tab = self.tabs.remove(i);
        self.active = if self.tabs.is_empty() {
            None
        } else {
            Some(i.min(self.tabs.len() - 1))
        };
        self.tab_typing = false;
        vec![Effect::CloseTab(tab.id)]
    }

    /// Drops tab `id` (a question about it was answered no).
    pub fn drop_tab(&mut self, id: u32) {
        if let Some(i) = self.tabs.iter().position(|t| t.id == id) {
            self.tabs.remove(i);
            self.hide_tabs();
        }
    }

    pub fn position(&self, id: u32) -> Option<usize> {
        self.tabs.iter().position(|t| t.id == id)
    }

    /// What tab `id`'s session did. `run_over`: the driver ended (pdb will not come back).
    pub fn on_tab(&mut self, id: u32, ev: ChildEvent, run_over: bool) -> Vec<Effect> {
        let Some(i) = self.position(id) else {
            return Vec::new();
        };
        let tab = &mut self.tabs[i];
        match ev {
            ChildEvent::Pty(bytes) => {
                tab.last_output = Some(Instant::now());
                let replies = tab.pane.emu.process(&bytes);
                let mut effects = if replies.is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::WriteTab(id, replies)]
                };
                effects.extend(self.type_queued(i, Instant::now()));
                effects
            }
            ChildEvent::Stderr(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                tab.last_error
                    .push_str(&crate::vm::sanitize::strip_sgr(&text));
                if tab.last_error.len() > STDERR_TAIL {
                    let cut = tab.last_error.len() - STDERR_TAIL;
                    let cut = (cut..tab.last_error.len())
                        .find(|&i| tab.last_error.is_char_boundary(i))
                        .unwrap_or(0);
                    tab.last_error.drain(..cut);
                }
                // ssh's own messages belong on the tab's screen, as in a terminal.
                tab.pane.emu.process(text.replace('\n', "\r\n").as_bytes());
                Vec::new()
            }
            ChildEvent::Exited(code) => {
                tab.running = false;
                tab.pane.exit = Some(code);
                if self.active == Some(i) {
                    self.tab_typing = false;
                }
                let tab = &mut self.tabs[i];
                // The backdoor is not there (yet): try again when the machine may be up.
                if code == 255
                    && !(run_over && tab.kind == TabKind::Pdb)
                    && let Some(why) = unreachable(&tab.last_error)
                        .or_else(|| unreachable(&last_lines(&tab.pane.emu.screen().contents(), 3)))
                {
                    tab.waiting = Some(format!(
                        "{} is not reachable yet, trying again: {why}",
                        tab.machine
                    ));
                    tab.retry_at = Some(Instant::now() + RETRY);
                    return Vec::new();
                }
                // sudo refused (no password on a terminal it can ask on, a wrong one, not
                // allowed): the sandbox was never reached, whatever the status says.
                if tab.kind == TabKind::Attach
                    && code != 0
                    && let Some(why) = sudo_refusal(&tab.pane.emu.screen().contents())
                {
                    tab.failed = Some(why.clone());
                    return vec![Effect::warn(format!("{}: {why}", tab.label()))];
                }
                Vec::new()
            }
        }
    }

    /// A tab whose session could not be started or written to.
    pub fn tab_failed(&mut self, id: u32, text: &str) {
        if let Some(tab) = self.tabs.iter_mut().find(|t| t.id == id) {
            tab.running = false;
            tab.last_error = text.to_string();
            tab.failed = Some(text.to_string());
        }
    }

    /// Types tab `i`'s first queued line if the session is ready for it. The line is typed
    /// as a user would, so the shell or pdb echoes it where the user sees it.
    pub fn type_queued(&mut self, i: usize, now: Instant) -> Vec<Effect> {
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        let Some(line) = tab.ready_line(now).map(str::to_string) else {
            return Vec::new();
        };
        tab.queued.pop_front();
        // What is typed next waits for the answer to this one.
        tab.last_output = Some(now);
        match tab.kind {
            TabKind::Pdb => self.pdb_send(i, &line),
            _ => vec![Effect::WriteTab(tab.id, format!("{line}\r").into_bytes())],
        }
    }

    /// Sends a line to tab `i`'s pdb, shown after its prompt as a terminal would echo it.
    pub fn pdb_send(&mut self, i: usize, line: &str) -> Vec<Effect> {
        let Some(tab) = self.tabs.get_mut(i) else {
            return Vec::new();
        };
        tab.pane.emu.scroll_to_live();
        tab.pane.emu.process(format!("{line}\r\n").as_bytes());
        vec![Effect::WriteTab(tab.id, format!("{line}\n").into_bytes())]
    }

    /// The tab that talks to pdb, if one runs.
    pub fn pdb_tab(&self) -> Option<usize> {
        self.tabs.iter().position(|t| {
            (t.running || t.waiting.is_some())
                && (t.kind == TabKind::Pdb || (t.kind == TabKind::Attach && t.machine == "pdb"))
        })
    }

    /// Tabs that wait for their machine and may try again now.
    pub fn due(&self, now: Instant) -> Vec<usize> {
        (0..self.tabs.len())
            .filter(|&i| {
                let t = &self.tabs[i];
                t.waiting.is_some() && !t.running && t.retry_at.is_none_or(|at| now >= at)
            })
            .collect()
    }

    /// Every tick: tabs that wait for their machine try again (not the one whose question
    /// is open), and queued lines are typed where the session is ready.
    pub fn poll(&mut self, asking: Option<u32>, ctx: &Ctx<'_>) -> Vec<Effect> {
        let now = Instant::now();
        let mut effects = Vec::new();
        for i in self.due(now) {
            if Some(self.tabs[i].id) != asking {
                effects.extend(self.connect(i, ctx));
            }
        }
        for i in 0..self.tabs.len() {
            effects.extend(self.type_queued(i, now));
        }
        effects.extend(self.as_root.offer(ctx));
        effects
    }

    pub fn running_tabs(&self) -> usize {
        self.tabs.iter().filter(|t| t.running).count()
    }

    /// Tab `id`'s pdb connection is up: queued commands go once pdb prompts.
    pub fn connected(&mut self, id: u32) -> Vec<Effect> {
        match self.position(id) {
            Some(i) => self.type_queued(i, Instant::now()),
            None => Vec::new(),
        }
    }
}

/// Why the proxy (or the pdb client) could not reach the machine, from what it wrote.
fn unreachable(text: &str) -> Option<String> {
    text.lines().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("vmscope proxy: ")
            .or_else(|| l.strip_prefix("vmscope pdb: "))
            .map(str::to_string)
    })
}

/// The last `n` lines of `text` that are not blank.
fn last_lines(text: &str, n: usize) -> String {
    let mut lines: Vec<&str> = text
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect();
    lines.reverse();
    lines.join("\n")
}

/// What sudo said when it refused, from a tab's screen.
fn sudo_refusal(screen: &str) -> Option<String> {
    screen
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            l.starts_with("sudo: ")
                || l.starts_with("Sorry, user ")
                || l.contains("is not in the sudoers file")
        })
        .map(|l| format!("sudo refused: {l}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_refusals_are_read_from_the_screen() {
        assert_eq!(
            sudo_refusal("$ sudo /nix/store/x/attach 12\nsudo: a password is required\n"),
            Some("sudo refused: sudo: a password is required".into())
        );
        assert_eq!(
            sudo_refusal("Sorry, user alice may not run sudo on builder.\n").as_deref(),
            Some("sudo refused: Sorry, user alice may not run sudo on builder.")
        );
        assert_eq!(sudo_refusal("[root@sandbox:/build]# exit\n"), None);
    }
}
