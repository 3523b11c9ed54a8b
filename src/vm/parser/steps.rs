//! The driver's step tree: steps opened in colour at once, plain starts found again when
//! their `(finished: …)` arrives, early-driver `(N seconds)` closes, and the steps an
//! exception leaves open.

use std::hash::{Hash, Hasher};

use super::super::classify as c;
use super::super::event::RunEvent;
use super::super::model::{ROOT, StepId, StepState, line_kind as k};
use super::{EARLY_CLOSE_LOOKBACK, Parser};

impl Parser {
    /// `(finished: TITLE, in SECS seconds)` arrived as driver line `seq`.
    pub(super) fn close_step(
        &mut self,
        t: usize,
        title: &str,
        machine: Option<&str>,
        secs: Option<f64>,
        seq: u64,
    ) -> Option<StepId> {
        let test = self.test(t);
        let found = self.states[t].open.iter().rposition(|&id| {
            let s = &test.steps[id as usize];
            s.title == title
                && (machine.is_none() || s.machine.is_none() || s.machine.as_deref() == machine)
        });
        let id = if let Some(pos) = found {
            Some(self.states[t].open.remove(pos))
        } else if let Some(head) = self.take_candidate(t, title) {
            let promoted = RunEvent::StepPromoted {
                head,
                title,
                state: StepState::Passed,
                end: seq,
            };
            self.emit(t, promoted).step()
        } else {
            None
        };
        let Some(id) = id else {
            if title.starts_with("(finished: ") {
                return None;
            }
            // The start is not in the input (an excerpt): the end line stands for it.
            let parent = self.states[t].container();
            let implied = RunEvent::StepImplied {
                title,
                machine,
                parent,
                end: seq,
                secs,
            };
            return self.emit(t, implied).step();
        };
        let closed = RunEvent::StepClosed {
            id,
            title,
            secs,
            end: seq,
            machine,
        };
        self.emit(t, closed);
        Some(id)
    }

    /// The newest plain line whose message is `title` and that can still open a step.
    pub(super) fn take_candidate(&mut self, t: usize, title: &str) -> Option<u64> {
        let key = hash_msg(title);
        let mut list = self.states[t].candidates.remove(&key)?;
        let test = self.test(t);
        while let Some(seq) = list.pop() {
            let Some(line) = test.driver.get(seq) else {
                continue;
            };
            if line.kind != k::PLAIN {
                continue;
            }
            let p = line.plain();
            let p: &str = &p;
            let matches = p == title
                || (p.ends_with(title)
                    && p[..p.len() - title.len()]
                        .strip_suffix(": ")
                        .is_some_and(|n| test.machine(n).is_some()));
            let container_open = line.tag == ROOT
                || test
                    .step(line.tag)
                    .is_some_and(|s| s.state == StepState::Running || s.state == StepState::Failed);
            if matches && container_open {
                if !list.is_empty() {
                    self.states[t].candidates.insert(key, list);
                }
                return Some(seq);
            }
        }
        None
    }

    /// The early driver's `(N seconds)`: it closes the newest plain start of its container;
    /// a print block (lines after a blank line) is skipped back to the previous close.
    pub(super) fn early_close(&mut self, t: usize, secs: f64, seq: u64) {
        let container = self.states[t].container();
        // A close that found no start looked at everything before it: the next one need
        // not look there again (a run of closes stays linear).
        let floor = self.states[t].early_floor;
        let test = self.test(t);
        let mut skipping = false;
        let mut found = None;
        for (s, line) in test
            .driver
            .iter()
            .rev()
            .skip(1)
            .take(EARLY_CLOSE_LOOKBACK)
            .take_while(|(s, _)| floor.is_none_or(|f| *s > f))
        {
            let p = line.plain();
            let p: &str = &p;
            if p.trim().is_empty() {
                skipping = true;
                continue;
            }
            if skipping {
                if line.kind == k::STEP_END {
                    skipping = false;
                }
                continue;
            }
            if line.kind != k::PLAIN || line.tag != container {
                continue;
            }
            let msg = c::machine_prefix(p)
                .filter(|(n, _)| test.machine(n).is_some())
                .map_or(p, |(_, m)| m);
            if msg
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
                && !c::is_log_only(msg)
            {
                found = Some((s, msg.to_string()));
                break;
            }
        }
        if let Some((head, title)) = found {
            if let Some(list) = self.states[t].candidates.get_mut(&hash_msg(&title)) {
                list.retain(|&x| x != head);
            }
            let closed = RunEvent::EarlyClosed {
                head,
                title: &title,
                secs,
                end: seq,
            };
            self.emit(t, closed);
        } else {
            self.states[t].early_floor = Some(seq);
            // Its start is not in the input: the line stays in sight as it is.
            let kind = k::PLAIN;
            self.emit(t, RunEvent::LineKind { seq, kind });
        }
    }

    /// Every step still open fails with the exception that left it. Returns the chain of
    /// steps this failure left (outermost first), or the previous failure's chain.
    pub(super) fn fail_open_steps(&mut self, t: usize) -> Vec<StepId> {
        let mut chain: Vec<StepId> = std::mem::take(&mut self.states[t].open);
        // Whatever was going on has stopped.
        self.emit(t, RunEvent::ActivityCleared);
        // Plain input: unclosed starts that every generation nests are the open steps.
        let mut heads: Vec<(u64, String)> = Vec::new();
        {
            let st = &self.states[t];
            let test = self.test(t);
            for list in st.candidates.values() {
                for &seq in list {
                    let Some(line) = test.driver.get(seq) else {
                        continue;
                    };
                    if line.kind != k::PLAIN {
                        continue;
                    }
                    let p = line.plain();
                    let p: &str = &p;
                    let msg = c::machine_prefix(p)
                        .filter(|(n, _)| test.machine(n).is_some())
                        .map_or(p, |(_, m)| m);
                    let open_container = line.tag == ROOT
                        || test.step(line.tag).is_some_and(|s| {
                            matches!(s.state, StepState::Running | StepState::Failed)
                        });
                    if c::is_known_nested(msg)
                        && open_container
                        && msg != "cleanup"
                        && msg != "cleaning up"
                    {
                        heads.push((seq, msg.to_string()));
                    }
                }
            }
        }
        heads.sort_by_key(|(s, _)| *s);
        let end = self.test(t).driver.end_seq().saturating_sub(1);
        for (head, title) in heads {
            if let Some(list) = self.states[t].candidates.get_mut(&hash_msg(&title)) {
                list.retain(|&x| x != head);
            }
            let promoted = RunEvent::StepPromoted {
                head,
                title: &title,
                state: StepState::Failed,
                end,
            };
            chain.extend(self.emit(t, promoted).step());
        }
        chain.sort_by_key(|&id| self.test(t).steps[id as usize].head);
        self.emit(t, RunEvent::StepsFailed(&chain));
        if chain.is_empty() {
            self.states[t].failed_chain.clone()
        } else {
            self.states[t].failed_chain = chain.clone();
            chain
        }
    }
}

pub(super) fn hash_msg(msg: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    msg.hash(&mut h);
    h.finish()
}
