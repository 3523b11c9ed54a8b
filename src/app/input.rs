//! What the screen shows comes from: the parser and its run, where the input is from and
//! kept, its clock, and how it ended (the driver's exit status in a live run).

use std::path::Path;
use std::time::{Duration, Instant};

use super::effect::{Effect, Message};
use super::trust::Checks;
use crate::vm::model::{Test, TriggerKind};
use crate::vm::source::SourceEvent;
use crate::vm::{Caps, Parser};

pub struct Input {
    pub parser: Parser,
    /// What the input is, for titles and the "whole log is in …" note.
    pub origin: String,
    /// Where the whole input is kept when it is not `origin` (a live run's recording).
    pub archive: Option<String>,
    pub start: Instant,
    /// Input ended after this long (live inputs).
    pub ended: Option<Duration>,
    pub live: bool,
    /// The live run's exit status, once it ended.
    pub exit_code: Option<i32>,
    /// The driver's JUnit report given with the log: taken in once the log is read.
    pub junit: Option<crate::vm::junit::report::Report>,
    /// The size of a file read whole, for the progress of its loading.
    pub total: Option<u64>,
    /// How much of it was read, where the reader says so (a recording).
    pub read: Option<u64>,
    /// Why the run's recording (being written, or read back) stops short of the run.
    pub recording_cut: Option<String>,
    /// The recording's directory (a live run's, or one read back): marks are kept there.
    pub session_dir: Option<std::path::PathBuf>,
    /// Where a recording read back can be read again from, every `SEEK_STEP` bytes.
    pub seek_index: Vec<crate::vm::window::SeekPoint>,
    /// The time of the last bytes read.
    last_ms: u32,
}

impl Input {
    pub fn new(caps: Caps, origin: String, live: bool) -> Self {
        let mut parser = Parser::new(caps, Parser::env_options());
        parser.run.live = live;
        parser.run.origin = Some(origin.clone());
        Self {
            parser,
            origin,
            archive: None,
            start: Instant::now(),
            ended: None,
            live,
            exit_code: None,
            junit: None,
            total: None,
            read: None,
            recording_cut: None,
            session_dir: None,
            seek_index: Vec::new(),
            last_ms: 0,
        }
    }

    /// While a file is being read: how many of its bytes are parsed, of how many.
    pub fn loading(&self) -> Option<(u64, u64)> {
        let total = self.total.filter(|_| self.ended.is_none())?;
        let done = self.read.unwrap_or(self.parser.run.bytes);
        Some((done.min(total), total))
    }

    /// `effects` with changed marks made a write of the recording's `marks.json` (no
    /// recording: nowhere).
    pub fn keep_marks(
        &self,
        effects: Vec<Effect>,
        views: &super::logviews::LogViews,
    ) -> Vec<Effect> {
        effects
            .into_iter()
            .filter_map(|e| match e {
                Effect::KeepMarks => {
                    views.marks_file(&self.parser.run.tests, self.session_dir.as_deref()?)
                }
                e => Some(e),
            })
            .collect()
    }

    /// The recording's marks, taken back by `views`; what is said of them.
    pub fn restore_marks(
        &self,
        views: &mut super::logviews::LogViews,
        next: &str,
    ) -> Option<Message> {
        views.restore_from(&self.parser.run.tests, self.session_dir.as_deref()?, next)
    }

    /// Makes the merged order of every test when `wanted` (the merged view, `:only` and
    /// `:export` read it): made once, then kept up as lines come.
    pub fn merge(&mut self, wanted: bool) {
        if wanted {
            self.parser.run.tests.iter_mut().for_each(Test::merge);
        }
    }

    /// Test `i` (the last one when `i` is past the end).
    pub fn test(&self, i: usize) -> &Test {
        let tests = &self.parser.run.tests;
        &tests[i.min(tests.len() - 1)]
    }

    /// Milliseconds since the start, for line times.
    pub fn now_ms(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_millis()).unwrap_or(u32::MAX - 2)
    }

    /// Where the whole input is, for notes about what memory no longer holds.
    pub fn kept_in(&self) -> &str {
        self.archive.as_deref().unwrap_or(&self.origin)
    }

    /// Elapsed time of the run: live inputs count from the start, files tell their own.
    pub fn elapsed(&self, t: &Test) -> Option<Duration> {
        if self.live {
            return Some(self.ended.unwrap_or_else(|| self.start.elapsed()));
        }
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

    /// Takes what the source read. Returns how many serial lines each machine of test
    /// `shown` gained (for the views' unread counts) and what to say.
    pub fn ingest(&mut self, ev: SourceEvent, shown: usize) -> (Vec<(usize, u64)>, Vec<Effect>) {
        let ends = |p: &Parser| -> Vec<u64> {
            p.run.tests.get(shown).map_or(Vec::new(), |t| {
                t.machines.iter().map(|m| m.serial.end_seq()).collect()
            })
        };
        match ev {
            SourceEvent::Data(bytes, t) => {
                let before = ends(&self.parser);
                if t != crate::vm::store::NO_TIME {
                    self.last_ms = t;
                }
                self.parser.feed(&bytes, t);
                let arrived = ends(&self.parser)
                    .iter()
                    .enumerate()
                    .map(|(m, n)| (m, n - before.get(m).copied().unwrap_or(0)))
                    .collect();
                return (arrived, Vec::new());
            }
            SourceEvent::Terminal(bytes, _) => self.parser.feed_terminal(&bytes),
            SourceEvent::Read(n) => self.read = Some(n),
            SourceEvent::Offset(offset) => self.seek_index.push(crate::vm::window::SeekPoint {
                offset,
                lines: self.parser.run.lines,
                mid_line: self.parser.mid_line(),
                ms: self.last_ms,
            }),
            SourceEvent::End => {
                self.finish();
                let junit = self.parser.run.tests.iter().find_map(|t| t.junit.as_ref());
                if let Some(j) = junit.filter(|j| !j.added.is_empty() || !j.disagree.is_empty()) {
                    return (
                        Vec::new(),
                        vec![Effect::warn(crate::vm::junit::report::said(j))],
                    );
                }
                if self.live {
                    let outcome = self.parser.run.outcome();
                    let text = format!("input ended: {}", outcome.label());
                    return (Vec::new(), vec![Effect::say(text)]);
                }
            }
            SourceEvent::Error(e) => {
                self.finish();
                return (Vec::new(), vec![Effect::warn(e)]);
            }
        }
        (Vec::new(), Vec::new())
    }

    fn finish(&mut self) {
        self.parser.finish();
        if let Some(report) = self.junit.take() {
            report.apply(&mut self.parser.run);
        }
        self.ended = Some(self.start.elapsed());
        self.parser.run.live = false;
    }

    /// The driver ended with `code`: a non-zero status is the moment of failure of test
    /// `shown`; the run is over. `quit` names the key that quits.
    pub fn driver_exited(&mut self, code: i32, shown: usize, quit: &str) -> Effect {
        if code != 0 {
            let line = self.parser.run.lines.saturating_sub(1);
            let ms = self.now_ms();
            let i = shown.min(self.parser.run.tests.len() - 1);
            self.parser.run.tests[i].freeze_now(TriggerKind::Exit, line, Some(ms));
        }
        self.exit_code = Some(code);
        self.parser.set_exit_code(code);
        self.finish();
        let text = format!(
            "the driver exited with status {code}: {} ({quit} quits)",
            self.parser.run.outcome().label()
        );
        Effect::Say(Message {
            text,
            error: code != 0,
        })
    }

    /// What the host confirms, asked every tick: the driver's configuration names the
    /// machines, and the debug hook's marker confirms a breakpoint. Returns whether a
    /// breakpoint was confirmed.
    pub fn confirm_with(&mut self, checks: &mut Checks) -> bool {
        if let Some(config) = checks.look_for_config(self.start) {
            self.parser.known_machines(&config.machines());
            // The configuration, not a line of the log, says which are containers.
            for t in &mut self.parser.run.tests {
                for m in &mut t.machines {
                    m.container |= config.is_container(&m.name);
                }
            }
        }
        let found = checks.confirmed_breakpoints(&self.parser.run.tests, self.ended.is_some());
        for &i in &found {
            if let Some(b) = &mut self.parser.run.tests[i].breakpoint {
                b.verified = true;
            }
        }
        !found.is_empty()
    }

    /// How saving `n` lines to `path` went; `evicted`: lines memory no longer held.
    pub fn saved(&self, path: &Path, result: std::io::Result<usize>, evicted: u64) -> Message {
        match result {
            Ok(n) if evicted > 0 => Message::info(format!(
                "saved {n} lines to {} ({evicted} older lines were evicted from memory; the \
                 whole log is in {})",
                path.display(),
                self.kept_in()
            )),
            Ok(n) => Message::info(format!("saved {n} lines to {}", path.display())),
            Err(e) => Message::error(format!("could not save to {}: {e}", path.display())),
        }
    }
}
