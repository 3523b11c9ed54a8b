//! Replay of a recording (`vmscope log DIR --replay`): the run is read whole, then shown as
//! it was at a moment that moves at 1x, 10x, 100x or as fast as it goes: every pane ends at
//! that moment, steps and machines are in the state they were in then, the failure comes
//! when its moment comes, and the driver's terminal shows what it showed. A seek (the
//! timeline, the failure key) moves the moment at once: nothing is read again from the
//! beginning.

use std::time::Instant;

use super::action::Action;
use super::effect::Effect;
use crate::vm::model::Test;

/// The speeds, in order; 0 is as fast as frames come.
pub const SPEEDS: [u32; 4] = [1, 10, 100, 0];
/// What "as fast as it goes" moves per second of the screen: a day of the run.
const MAX_RATE: u64 = 86_400_000;
/// Terminal output kept for the replay at most: past it, the terminal shows the end.
const TERMINAL_CAP: usize = 32 << 20;

#[derive(Debug)]
pub struct Replay {
    pub playing: bool,
    /// An index into `SPEEDS`.
    pub speed: usize,
    /// The moment shown, in milliseconds since the start of the recording.
    pub at_ms: u32,
    /// When the moment last moved with the wall clock.
    last: Option<Instant>,
    /// The driver's terminal output with the times it came.
    terminal: Vec<(u32, Vec<u8>)>,
    terminal_bytes: usize,
    /// Terminal records fed into the shown terminal so far.
    pub fed: usize,
    /// The recording has been read whole: the replay can start.
    pub loaded: bool,
    /// The run read again around the moment, when memory no longer holds its lines.
    pub window: Option<crate::vm::window::Window>,
}

impl Default for Replay {
    fn default() -> Self {
        Self {
            playing: true,
            speed: 0,
            at_ms: 0,
            last: None,
            terminal: Vec::new(),
            terminal_bytes: 0,
            fed: 0,
            loaded: false,
            window: None,
        }
    }
}

impl Replay {
    /// A replay at `SPEEDS[speed]`, playing from the start once the recording is read.
    pub fn new(speed: usize, playing: bool) -> Self {
        Self {
            speed: speed.min(SPEEDS.len() - 1),
            playing,
            ..Self::default()
        }
    }

    /// Keeps what the driver's terminal got at `ms`.
    pub fn keep_terminal(&mut self, ms: u32, bytes: &[u8]) {
        if self.terminal_bytes + bytes.len() <= TERMINAL_CAP {
            self.terminal_bytes += bytes.len();
            self.terminal.push((ms, bytes.to_vec()));
        }
    }

    /// The test shown: test `i` of the window read again around the moment, when there is
    /// one, else `real`.
    pub fn shown<'a>(&'a self, real: &'a Test, i: usize) -> &'a Test {
        match &self.window {
            Some(w) => &w.run.tests[i.min(w.run.tests.len() - 1)],
            None => real,
        }
    }

    /// The point of `t` the moment is at: the last line that had come by then.
    pub fn cut(&self, t: &Test) -> u64 {
        match t.at_time(self.at_ms.saturating_add(1)) {
            Some(s) => s.at.saturating_sub(1),
            None => t.last.at,
        }
    }

    /// The end of the run, in milliseconds.
    pub fn end_ms(t: &Test) -> u32 {
        t.last.time().unwrap_or(0)
    }

    pub fn at_end(&self, t: &Test) -> bool {
        self.at_ms >= Self::end_ms(t)
    }

    /// Moves the moment with the wall clock; whether it moved.
    pub fn tick(&mut self, t: &Test, now: Instant) -> bool {
        if !self.loaded || !self.playing {
            self.last = None;
            return false;
        }
        let Some(last) = self.last.replace(now) else {
            return false;
        };
        let elapsed = now.duration_since(last).as_millis() as u64;
        let rate = match SPEEDS[self.speed] {
            0 => MAX_RATE,
            n => u64::from(n) * 1000,
        };
        let step = elapsed * rate / 1000;
        let end = Self::end_ms(t);
        let before = self.at_ms;
        self.at_ms = (u64::from(self.at_ms) + step).min(u64::from(end)) as u32;
        if self.at_ms >= end {
            self.playing = false;
            self.last = None;
        }
        self.at_ms != before
    }

    /// Goes to `ms` (paused there when it was a seek by hand).
    pub fn seek(&mut self, ms: u32) {
        self.at_ms = ms;
        self.last = None;
    }

    /// Goes to point `at` of the run: the time its line came.
    pub fn seek_to(&mut self, t: &Test, at: u64) {
        if let Some(s) = t.time_at(at).and_then(|s| s.time()) {
            self.seek(s);
        }
        self.playing = false;
    }

    /// The terminal records to feed to show the moment: from the start (`true`: the
    /// terminal is cleared first) or those since the last feed.
    pub fn terminal_to_feed(&mut self) -> (bool, Vec<&[u8]>) {
        let upto = self.terminal.partition_point(|(ms, _)| *ms <= self.at_ms);
        let restart = upto < self.fed;
        let from = if restart { 0 } else { self.fed };
        self.fed = upto;
        let out = self.terminal[from..upto]
            .iter()
            .map(|(_, b)| b.as_slice())
            .collect();
        (restart, out)
    }

    /// The replay's keys: play or pause, faster, slower; the failure key seeks to it too
    /// (and is left to the panes: `None`).
    pub fn act(&mut self, t: &Test, action: Action) -> Option<Vec<Effect>> {
        match action {
            Action::JumpToFailure => {
                if let Some(f) = t.failure_freeze() {
                    self.seek_to(t, crate::vm::store::Stamp::line_end(f.line + 1));
                }
                return None;
            }
            Action::PlayPause => {
                if self.at_end(t) && !self.playing {
                    self.seek(0);
                }
                self.playing = !self.playing;
                self.last = None;
            }
            Action::Faster => self.speed = (self.speed + 1).min(SPEEDS.len() - 1),
            Action::Slower => self.speed = self.speed.saturating_sub(1),
            _ => return None,
        }
        Some(vec![Effect::say(self.label())])
    }

    /// `▶ 10x`, `⏸`, as the top bar and messages say it.
    pub fn label(&self) -> String {
        let speed = match SPEEDS[self.speed] {
            0 => "max".to_string(),
            n => format!("{n}x"),
        };
        if self.playing {
            format!("▶ replay {speed}")
        } else {
            format!("⏸ replay {speed} (paused)")
        }
    }

    /// The speed given on the command line (`1`, `10`, `100`, `max`).
    pub fn speed_of(text: &str) -> Option<usize> {
        if text == "max" {
            return Some(SPEEDS.len() - 1);
        }
        let n: u32 = text.trim_end_matches('x').parse().ok()?;
        SPEEDS.iter().position(|&s| s == n)
    }
}

/// What a source event is for a replay: the driver's terminal is kept to be shown as the
/// moment comes (without a replay, it is shown at once), and the end of the input starts
/// the replay.
pub fn take(
    ev: &crate::vm::source::SourceEvent,
    replay: &mut Option<Replay>,
    sessions: &mut super::sessions::Sessions,
) {
    use crate::vm::source::SourceEvent as E;
    match (ev, replay) {
        (E::Terminal(bytes, ms), Some(r)) => r.keep_terminal(*ms, bytes),
        (E::Terminal(bytes, _), None) => drop(sessions.command_output(bytes, false)),
        (E::End, Some(r)) => r.loaded = true,
        _ => {}
    }
}

/// Moves the replay with the wall clock (or to where a seek put it) and brings what shows
/// it along: the run read again around the moment where memory no longer holds it, the
/// driver's terminal, and the failure view's triggers. Whether anything moved.
pub fn advance(
    replay: &mut Replay,
    input: &super::input::Input,
    test: usize,
    sessions: &mut super::sessions::Sessions,
    failure: &mut super::failure::FailureView,
    now: Option<Instant>,
) -> bool {
    if !replay.loaded {
        return false;
    }
    let real = input.test(test);
    let moved = now.is_none_or(|now| replay.tick(real, now));
    follow_window(replay, input, real);
    let cut = replay.cut(replay.shown(real, test));
    failure.replay_at(cut);
    let (restart, chunks) = replay.terminal_to_feed();
    if let Some(cmd) = &mut sessions.command {
        if restart {
            let (cols, rows) = cmd.emu.size();
            cmd.emu = super::sessions::emulator::Emulator::new(cols, rows);
        }
        for c in chunks {
            // A recording's terminal is read only: its queries go unanswered.
            let _ = cmd.emu.process(c);
        }
    }
    moved
}

/// The earliest time from which every pane of `t` still holds its lines.
fn held_from(t: &Test) -> Option<u32> {
    t.stores()
        .filter(|s| s.evicted() > 0)
        .filter_map(|s| s.first_at().and_then(|at| s.stamp_at(at)?.time()))
        .max()
}

/// Reads the run again around the moment when memory no longer holds it there (and
/// forgets the window once the moment is back where memory holds everything).
fn follow_window(replay: &mut Replay, input: &super::input::Input, real: &Test) {
    let evicted = held_from(real).is_some_and(|from| replay.at_ms < from);
    let (Some(dir), true) = (&input.session_dir, evicted) else {
        replay.window = None;
        return;
    };
    let line = crate::vm::window::line_at(&input.seek_index, replay.at_ms);
    if replay.window.as_ref().is_some_and(|w| w.covers(line)) {
        return;
    }
    let names: Vec<String> = real.machines.iter().map(|m| m.name.clone()).collect();
    replay.window = crate::vm::window::read(dir, &input.seek_index, line, &names, real.caps).ok();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::store::Stamp;
    use std::time::Duration;

    #[test]
    fn the_moment_moves_with_the_clock_at_the_speed_and_stops_at_the_end() {
        let run = crate::vm::Parser::parse_all(b"", crate::vm::Caps::default(), Default::default());
        let mut t = run.tests[0].clone();
        t.last = Stamp::new(10, 0, 20_000);
        let mut r = Replay {
            loaded: true,
            speed: 1,
            ..Replay::default()
        };
        let t0 = Instant::now();
        assert!(!r.tick(&t, t0), "the first tick only starts the clock");
        assert!(r.tick(&t, t0 + Duration::from_millis(500)));
        assert_eq!(r.at_ms, 5_000, "10x for half a second");
        r.act(&t, Action::Faster);
        r.tick(&t, t0 + Duration::from_millis(600));
        assert_eq!(r.at_ms, 15_000, "100x for a tenth of a second");
        r.tick(&t, t0 + Duration::from_millis(700));
        assert_eq!(r.at_ms, 20_000);
        assert!(!r.playing, "the end pauses it");
        assert!(r.terminal_to_feed().1.is_empty());
    }

    #[test]
    fn the_terminal_is_fed_what_came_by_the_moment_and_again_after_a_seek_back() {
        let mut r = Replay::default();
        r.keep_terminal(10, b"a");
        r.keep_terminal(20, b"b");
        r.keep_terminal(30, b"c");
        r.seek(25);
        assert_eq!(r.terminal_to_feed(), (false, vec![&b"a"[..], b"b"]));
        r.seek(30);
        assert_eq!(r.terminal_to_feed(), (false, vec![&b"c"[..]]));
        r.seek(15);
        assert_eq!(r.terminal_to_feed(), (true, vec![&b"a"[..]]));
    }
}
