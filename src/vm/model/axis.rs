//! The run's one axis: where in the input stream each thing happened, and when.
//!
//! Every stored line has a `Stamp` (its position, and its time where one is known). What
//! the stores evict, the summaries here keep for the whole run in bounded space: each
//! machine's state changes, its output rate along the run, and its longest silences.

use serde::Serialize;

use super::MachineState;
use crate::vm::store::{EST_FLAG, NO_TIME, Stamp};

/// A saved log's clock. A file has no arrival times, but the driver says how long each
/// step took: a step that began at (estimated) time `t` and took `d` seconds ended at
/// `t + d`, and the clock never goes back. Steps run in parallel threads (`start_all`)
/// overlap, so the latest end wins. The global timeout fires its length after it was
/// armed.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    now: u32,
    /// When the global timeout fires, on this clock.
    fires: Option<u32>,
}

impl Clock {
    /// The estimate for what is read now, in milliseconds since the start.
    pub fn now_ms(&self) -> u32 {
        self.now
    }

    /// A step that began at `began` ended after `secs` seconds.
    pub fn step_ended(&mut self, began: Stamp, secs: Option<f64>) {
        if let (Some(start), Some(secs)) = (began.time_or_estimate(), secs) {
            self.advance_to(u64::from(start) + secs_to_ms(secs));
        }
    }

    /// The global timeout of `secs` seconds was armed now.
    pub fn armed(&mut self, secs: Option<f64>) {
        if let Some(secs) = secs {
            let at = (u64::from(self.now) + secs_to_ms(secs)).min(u64::from(EST_FLAG - 1));
            self.fires = self.fires.or(Some(at as u32));
        }
    }

    /// The global timeout fired.
    pub fn timed_out(&mut self) {
        if let Some(at) = self.fires {
            self.advance_to(u64::from(at));
        }
    }

    fn advance_to(&mut self, ms: u64) {
        self.now = self.now.max(ms.min(u64::from(EST_FLAG - 1)) as u32);
    }
}

fn secs_to_ms(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        (secs * 1000.0).round().min(f64::from(u32::MAX)) as u64
    } else {
        0
    }
}

/// A machine's state changed at a point of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StateChange {
    /// The input line where it changed (1-based).
    pub line: u64,
    #[serde(skip)]
    pub at: u64,
    /// Milliseconds since the start, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u32>,
    /// The time is estimated from the driver's step durations (a saved log).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    pub state: MachineState,
    /// The boot it is in (1 for the first; 0 before any).
    pub boot: u32,
}

/// State changes a machine keeps: the first ones and the newest (a machine rebooted in a
/// loop would otherwise grow without end).
pub const MAX_HISTORY: usize = 256;

/// How many lines arrived along the run, in at most `BUCKETS` buckets that double in
/// width when the run outgrows them.
#[derive(Debug, Clone)]
pub struct Rate {
    /// Each bucket is `1 << shift` wide: a line is counted with a shift, not a division.
    shift: u32,
    counts: Vec<u32>,
}

impl Rate {
    pub const BUCKETS: usize = 256;

    fn new(shift: u32) -> Self {
        Self {
            shift,
            counts: Vec::new(),
        }
    }

    fn width(&self) -> u64 {
        1 << self.shift
    }

    fn add(&mut self, x: u64) {
        let mut i = (x >> self.shift) as usize;
        if i >= Self::BUCKETS {
            while x >> self.shift >= Self::BUCKETS as u64 {
                let halves: Vec<u32> = self
                    .counts
                    .chunks(2)
                    .map(|c| c.iter().fold(0u32, |a, b| a.saturating_add(*b)))
                    .collect();
                self.counts = halves;
                self.shift += 1;
            }
            i = (x >> self.shift) as usize;
        }
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    /// Lines in `[from, to)`, counting buckets that straddle an edge by the share inside.
    pub fn between(&self, from: u64, to: u64) -> f64 {
        if to <= from {
            return 0.0;
        }
        let w = self.width() as f64;
        let first = (from >> self.shift) as usize;
        let last = (to.saturating_sub(1) >> self.shift) as usize;
        (first..(last + 1).min(self.counts.len()))
            .map(|i| {
                let (lo, hi) = (i as f64 * w, (i + 1) as f64 * w);
                let inside = (hi.min(to as f64) - lo.max(from as f64)).max(0.0);
                f64::from(self.counts[i]) * inside / w
            })
            .sum()
    }
}

/// A stretch of the run in which a machine printed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Silence {
    /// The last line before it, and the first after (`None`: still silent at the end).
    #[serde(skip)]
    pub from: Stamp,
    #[serde(skip)]
    pub to: Option<Stamp>,
    /// Input lines it spans (1-based, from its last line before to its first after).
    pub from_line: u64,
    pub to_line: Option<u64>,
    /// How long it lasted, where times are known (estimated in a saved log).
    pub ms: u32,
    /// Input lines of other writers in it.
    pub lines: u64,
}

impl Silence {
    fn between(from: Stamp, to: Stamp) -> Self {
        let ms = match (from.time_or_estimate(), to.time_or_estimate()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        };
        Self {
            from,
            to: Some(to),
            from_line: from.input_line(),
            to_line: Some(to.input_line()),
            ms,
            lines: to.input_line().saturating_sub(from.input_line() + 1),
        }
    }

    /// Longer first: by time where one is known, then by the lines of others in it.
    fn key(&self) -> (u32, u64) {
        (self.ms, self.lines)
    }
}

/// Silences a machine keeps: its longest.
pub const MAX_SILENCES: usize = 16;

/// What the axis keeps of one machine for the whole run.
#[derive(Debug, Clone)]
pub struct MachineAxis {
    pub history: Vec<StateChange>,
    /// Changes left out of `history` between its first entries and its newest.
    pub history_dropped: u64,
    /// Console lines along the input, by input line.
    pub by_line: Rate,
    /// Console lines along time (real, or estimated in a saved log), by millisecond.
    pub by_time: Rate,
    /// The longest silences between two console lines, longest first.
    pub silences: Vec<Silence>,
    /// The newest console line's stamp.
    pub last_line: Option<Stamp>,
    /// The kernel's (or the journal's) uptime on the newest line that had one, in ms.
    last_uptime: Option<u32>,
}

impl Default for MachineAxis {
    fn default() -> Self {
        Self {
            history: Vec::new(),
            history_dropped: 0,
            by_line: Rate::new(0),
            by_time: Rate::new(4),
            silences: Vec::new(),
            last_line: None,
            last_uptime: None,
        }
    }
}

impl MachineAxis {
    /// A console line arrived, with the machine's uptime when the line shows it (a saved
    /// log's silences are timed by the machine's own clock where the driver's says less).
    pub fn line(&mut self, at: Stamp, uptime: Option<u32>) {
        let line = at.input_line();
        self.by_line.add(line);
        let ms = at.time_or_estimate();
        if let Some(ms) = ms {
            self.by_time.add(u64::from(ms));
        }
        if let Some(prev) = self.last_line {
            // Most lines come right after the last: a silence is made only when it is one
            // of the longest.
            let mut gap_ms = match (prev.time_or_estimate(), ms) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => 0,
            };
            if let (true, Some(a), Some(b)) =
                (at.estimated() || ms.is_none(), self.last_uptime, uptime)
            {
                gap_ms = gap_ms.max(b.saturating_sub(a));
            }
            let gap_lines = line.saturating_sub(prev.input_line() + 1);
            let floor = if self.silences.len() == MAX_SILENCES {
                self.silences.last().map_or((0, 0), Silence::key)
            } else {
                (0, 0)
            };
            if (gap_ms, gap_lines) > floor {
                let mut gap = Silence::between(prev, at);
                gap.ms = gap.ms.max(gap_ms);
                self.note_silence(gap);
            }
        }
        self.last_line = Some(at);
        if uptime.is_some() {
            self.last_uptime = uptime;
        }
    }

    /// A new boot: the machine's uptime starts again.
    pub fn boot(&mut self) {
        self.last_uptime = None;
    }

    fn note_silence(&mut self, gap: Silence) {
        if self.silences.len() == MAX_SILENCES
            && self.silences.last().is_some_and(|s| s.key() >= gap.key())
        {
            return;
        }
        let i = self.silences.partition_point(|s| s.key() >= gap.key());
        self.silences.insert(i, gap);
        self.silences.truncate(MAX_SILENCES);
    }

    /// The machine's state is now `state`, at `at`.
    pub fn changed(&mut self, at: Stamp, state: MachineState, boot: u32) {
        if self
            .history
            .last()
            .is_some_and(|c| c.state == state && c.boot == boot)
        {
            return;
        }
        if self.history.len() >= MAX_HISTORY {
            // The first changes (its first boot) stay, the newest come in.
            self.history.remove(MAX_HISTORY / 2);
            self.history_dropped += 1;
        }
        self.history.push(StateChange {
            line: at.input_line(),
            at: at.at,
            ms: at.time_or_estimate(),
            estimated: at.estimated(),
            state,
            boot,
        });
    }

    /// The longest silences, with the one still going on at `end` (the run's newest
    /// stamp) among them.
    pub fn silences_until(&self, end: Stamp) -> Vec<Silence> {
        let mut all = self.silences.clone();
        if let Some(last) = self.last_line
            && end.at > last.at
        {
            let mut open = Silence::between(last, end);
            open.to = None;
            open.to_line = None;
            open.lines += 1;
            if open.key() > (0, 0) {
                let i = all.partition_point(|s| s.key() >= open.key());
                all.insert(i, open);
            }
        }
        all
    }
}

/// The uptime a console line starts with (`[   12.345678] …`, the kernel's and the
/// journal's short-monotonic form), in milliseconds.
pub fn uptime_ms(text: &str) -> Option<u32> {
    // Read by hand: it is asked of every console line of a saved log.
    let b = text.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut i = 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut secs: u32 = 0;
    let start = i;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        secs = secs.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
        i += 1;
    }
    if i == start || b.get(i) != Some(&b'.') {
        return None;
    }
    let mut ms: u32 = 0;
    let mut frac = 0;
    i += 1;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        if frac < 3 {
            ms = ms * 10 + u32::from(d - b'0');
        }
        frac += 1;
        i += 1;
    }
    if frac < 3 || b.get(i) != Some(&b']') || i > 24 {
        return None;
    }
    secs.checked_mul(1000)?.checked_add(ms)
}

/// `ms` as a stamp's time field says it: estimated or real, or none.
pub fn time_field(ms: Option<u32>, estimated: bool) -> u32 {
    match ms {
        None => NO_TIME,
        Some(ms) if estimated => EST_FLAG | ms.min(EST_FLAG - 1),
        Some(ms) => ms.min(EST_FLAG - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(line: u64, ms: u32) -> Stamp {
        Stamp::new(line, 0, EST_FLAG | ms)
    }

    #[test]
    fn the_clock_adds_up_step_durations_and_never_goes_back() {
        let mut c = Clock::default();
        c.step_ended(est(1, 0), Some(1.5));
        assert_eq!(c.now_ms(), 1500);
        // A step in a parallel thread that began earlier and ended sooner.
        c.step_ended(est(2, 100), Some(0.4));
        assert_eq!(c.now_ms(), 1500);
        c.armed(Some(15.0));
        c.step_ended(est(3, 1500), Some(0.25));
        assert_eq!(c.now_ms(), 1750);
        c.timed_out();
        assert_eq!(c.now_ms(), 16_500);
        c.step_ended(est(4, 0), Some(f64::NAN));
        c.step_ended(est(4, 0), None);
        assert_eq!(c.now_ms(), 16_500);
    }

    #[test]
    fn rates_keep_their_total_as_buckets_widen() {
        let mut r = Rate::new(0);
        for x in 0..10_000u64 {
            r.add(x);
        }
        assert!(r.counts.len() <= Rate::BUCKETS);
        assert!((r.between(0, u64::MAX / 2) - 10_000.0).abs() < 1e-6);
        let half = r.between(0, 5_000);
        assert!((half - 5_000.0).abs() < r.width() as f64, "{half}");
    }

    #[test]
    fn the_longest_silences_are_kept_longest_first() {
        let mut a = MachineAxis::default();
        for (line, ms) in [(1, 0), (2, 100), (3, 5_100), (10, 5_200), (11, 9_000)] {
            a.line(est(line, ms), None);
        }
        let ms: Vec<u32> = a.silences.iter().map(|s| s.ms).collect();
        assert_eq!(ms, vec![5_000, 3_800, 100, 100]);
        assert_eq!(
            (a.silences[0].from_line, a.silences[0].to_line),
            (2, Some(3))
        );
        // Still silent at the end of the run: that silence counts too.
        let all = a.silences_until(est(40, 30_000));
        assert_eq!(all[0].ms, 21_000);
        assert_eq!((all[0].from_line, all[0].to_line), (11, None));
    }

    #[test]
    fn a_machines_own_clock_times_its_silences_in_a_log_without_durations() {
        assert_eq!(uptime_ms("[   12.345678] kernel: x"), Some(12_345));
        assert_eq!(uptime_ms("[  OK  ] Started x"), None);
        assert_eq!(uptime_ms("[    0.000000] Linux version"), Some(0));
        let mut a = MachineAxis::default();
        a.line(est(1, 0), uptime_ms("[    1.000000] a"));
        a.line(est(2, 0), None);
        a.line(est(3, 0), uptime_ms("[  601.500000] b"));
        assert_eq!(a.silences[0].ms, 600_500);
        assert_eq!(
            (a.silences[0].from_line, a.silences[0].to_line),
            (2, Some(3))
        );
    }

    #[test]
    fn history_keeps_its_first_and_newest_changes() {
        let mut a = MachineAxis::default();
        for i in 0..1000u32 {
            let state = if i % 2 == 0 {
                MachineState::Booting
            } else {
                MachineState::Connected
            };
            a.changed(est(u64::from(i) + 1, i), state, i / 2 + 1);
        }
        assert_eq!(a.history.len(), MAX_HISTORY);
        assert_eq!(a.history[0].line, 1);
        assert_eq!(a.history.last().map(|c| c.line), Some(1000));
        assert_eq!(a.history_dropped, 1000 - MAX_HISTORY as u64);
    }

    #[test]
    fn a_machine_that_printed_nothing_has_no_lines_anywhere() {
        let r = Rate::new(0);
        assert_eq!(r.between(0, 1), 0.0);
        assert_eq!(r.between(5, 900), 0.0);
        let mut r = Rate::new(0);
        r.add(3);
        assert_eq!(r.between(0, 3), 0.0);
        assert_eq!(r.between(0, 4), 1.0);
        assert_eq!(r.between(10, 20), 0.0);
    }
}
