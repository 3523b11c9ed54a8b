//! The driver's step tree: steps opened in colour at once, plain starts found again when
//! their `(finished: …)` arrives, early-driver `(N seconds)` closes, and the steps an
//! exception leaves open.

use std::hash::{Hash, Hasher};

use super::super::classify as c;
use super::super::model::{ROOT, Step, StepId, StepKind, StepState, Subtest, Test, line_kind as k};
use super::{EARLY_CLOSE_LOOKBACK, Parser};

impl Parser {
    pub(super) fn new_step(
        &mut self,
        t: usize,
        title: &str,
        machine: Option<String>,
        parent: StepId,
        head: u64,
        state: StepState,
    ) -> StepId {
        let test = &mut self.run.tests[t];
        let id = test.steps.len() as StepId;
        let kind = if title.starts_with("subtest: ") {
            StepKind::Subtest
        } else {
            StepKind::Step
        };
        test.steps.push(Step {
            title: title.to_string(),
            machine,
            kind,
            state,
            secs: None,
            parent,
            children: Vec::new(),
            head,
            end: None,
        });
        insert_child(test, parent, id);
        if let Some(name) = title.strip_prefix("subtest: ")
            && test
                .subtest_mut(name)
                .is_none_or(|s| s.state != StepState::Running)
        {
            test.add_subtest(Subtest {
                name: name.to_string(),
                state,
                secs: None,
                error: None,
            });
        }
        id
    }

    /// `(finished: TITLE, in SECS seconds)` arrived as driver line `seq`.
    pub(super) fn close_step(
        &mut self,
        t: usize,
        title: &str,
        machine: Option<&str>,
        secs: Option<f64>,
        seq: u64,
    ) -> Option<StepId> {
        let st = &mut self.states[t];
        let test = &mut self.run.tests[t];
        let found = st.open.iter().rposition(|&id| {
            let s = &test.steps[id as usize];
            s.title == title
                && (machine.is_none() || s.machine.is_none() || s.machine.as_deref() == machine)
        });
        let id = if let Some(pos) = found {
            let id = st.open.remove(pos);
            Some(id)
        } else {
            self.take_candidate(t, title)
                .map(|head| self.promote(t, head, title, StepState::Passed, seq))
        };
        let test = &mut self.run.tests[t];
        let id = match id {
            Some(id) => id,
            None if title.starts_with("(finished: ") => return None,
            None => {
                // The start is not in the input (an excerpt): the end line stands for it.
                let parent = self.states[t].container();
                if let Some(d) = test.driver.get_mut(seq) {
                    d.kind = k::STEP_HEAD;
                }
                let id = self.new_step(
                    t,
                    title,
                    machine.map(str::to_string),
                    parent,
                    seq,
                    StepState::Passed,
                );
                self.run.tests[t].steps[id as usize].secs = secs;
                self.finish_subtest(t, title, StepState::Passed, secs);
                if let Some(d) = self.run.tests[t].driver.get_mut(seq) {
                    d.tag = id;
                }
                if let Some(secs) = secs {
                    adopt_enclosed(&mut self.run.tests[t], id, parent, secs);
                }
                return Some(id);
            }
        };
        let test = &mut self.run.tests[t];
        let step = &mut test.steps[id as usize];
        step.state = StepState::Passed;
        step.secs = secs;
        step.end = Some(seq);
        let head = step.head;
        if step.machine.is_none() {
            step.machine = machine.map(str::to_string);
        }
        if let Some(d) = test.driver.get_mut(seq) {
            d.tag = id;
        }
        test.close_activity(head);
        self.finish_subtest(t, title, StepState::Passed, secs);
        Some(id)
    }

    pub(super) fn finish_subtest(
        &mut self,
        t: usize,
        title: &str,
        state: StepState,
        secs: Option<f64>,
    ) {
        if let Some(name) = title.strip_prefix("subtest: ") {
            let test = &mut self.run.tests[t];
            match test.subtest_mut(name) {
                Some(s) if s.state != StepState::Failed => {
                    s.state = state;
                    s.secs = secs;
                }
                Some(_) => {}
                None => test.add_subtest(Subtest {
                    name: name.to_string(),
                    state,
                    secs,
                    error: None,
                }),
            }
        }
    }

    /// The newest plain line whose message is `title` and that can still open a step.
    pub(super) fn take_candidate(&mut self, t: usize, title: &str) -> Option<u64> {
        let st = &mut self.states[t];
        let list = st.candidates.get_mut(&hash_msg(title))?;
        let test = &self.run.tests[t];
        while let Some(seq) = list.pop() {
            let Some(line) = test.driver.get(seq) else {
                continue;
            };
            if line.kind != k::PLAIN {
                continue;
            }
            let p = line.plain();
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
                if list.is_empty() {
                    st.candidates.remove(&hash_msg(title));
                }
                return Some(seq);
            }
        }
        st.candidates.remove(&hash_msg(title));
        None
    }

    /// Turns plain line `head` into the start of a step that contains every later line of
    /// its container up to `end`.
    pub(super) fn promote(
        &mut self,
        t: usize,
        head: u64,
        title: &str,
        state: StepState,
        end: u64,
    ) -> StepId {
        let (parent, machine) = {
            let test = &self.run.tests[t];
            let line = test.driver.get(head);
            let parent = line.map_or(ROOT, |l| l.tag);
            let machine = line
                .and_then(|l| c::machine_prefix(l.plain()))
                .and_then(|(n, _)| test.machine(n).map(|_| n.to_string()));
            (parent, machine)
        };
        let id = self.new_step(t, title, machine, parent, head, state);
        let test = &mut self.run.tests[t];
        // Later siblings move into the new step.
        let siblings = match parent {
            ROOT => &mut test.roots,
            p => &mut test.steps[p as usize].children,
        };
        // The new step was inserted by head order, near the end.
        let pos = siblings
            .iter()
            .rposition(|&s| s == id)
            .unwrap_or(siblings.len());
        let moved: Vec<StepId> = siblings.drain(pos + 1..).collect();
        for &m in &moved {
            test.steps[m as usize].parent = id;
        }
        test.steps[id as usize].children = moved;
        if let Some(line) = test.driver.get_mut(head) {
            line.kind = k::STEP_HEAD;
            line.tag = id;
        }
        for (_, line) in test.driver.iter_mut_from(head + 1) {
            if line.tag == parent {
                line.tag = id;
            }
        }
        if state == StepState::Passed {
            test.steps[id as usize].end = Some(end);
        }
        id
    }

    /// The early driver's `(N seconds)`: it closes the newest plain start of its container;
    /// a print block (lines after a blank line) is skipped back to the previous close.
    pub(super) fn early_close(&mut self, t: usize, secs: f64, seq: u64) {
        let container = self.states[t].container();
        // A close that found no start looked at everything before it: the next one need
        // not look there again (a run of closes stays linear).
        let floor = self.states[t].early_floor;
        let test = &self.run.tests[t];
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
            let id = self.promote(t, head, &title, StepState::Passed, seq);
            let test = &mut self.run.tests[t];
            test.close_activity(head);
            test.steps[id as usize].secs = Some(secs);
            if let Some(d) = test.driver.get_mut(seq) {
                d.tag = id;
            }
        } else {
            self.states[t].early_floor = Some(seq);
            if let Some(d) = self.run.tests[t].driver.get_mut(seq) {
                // Its start is not in the input: the line stays in sight as it is.
                d.kind = k::PLAIN;
            }
        }
    }

    /// Every step still open fails with the exception that left it. Returns the chain of
    /// steps this failure left (outermost first), or the previous failure's chain.
    pub(super) fn fail_open_steps(&mut self, t: usize) -> Vec<StepId> {
        let mut chain: Vec<StepId> = std::mem::take(&mut self.states[t].open);
        // Whatever was going on has stopped.
        self.run.tests[t].activity.clear();
        // Plain input: unclosed starts that every generation nests are the open steps.
        let mut heads: Vec<(u64, String)> = Vec::new();
        {
            let st = &self.states[t];
            let test = &self.run.tests[t];
            for list in st.candidates.values() {
                for &seq in list {
                    let Some(line) = test.driver.get(seq) else {
                        continue;
                    };
                    if line.kind != k::PLAIN {
                        continue;
                    }
                    let p = line.plain();
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
        let end = self.run.tests[t].driver.end_seq().saturating_sub(1);
        for (seq, title) in heads {
            if let Some(list) = self.states[t].candidates.get_mut(&hash_msg(&title)) {
                list.retain(|&x| x != seq);
            }
            let id = self.promote(t, seq, &title, StepState::Failed, end);
            chain.push(id);
        }
        chain.sort_by_key(|&id| self.run.tests[t].steps[id as usize].head);
        let test = &mut self.run.tests[t];
        for &id in &chain {
            let s = &mut test.steps[id as usize];
            s.state = StepState::Failed;
            if let Some(name) = s.title.strip_prefix("subtest: ") {
                let name = name.to_string();
                if let Some(sub) = test.subtest_mut(&name) {
                    sub.state = StepState::Failed;
                }
            }
        }
        if chain.is_empty() {
            self.states[t].failed_chain.clone()
        } else {
            self.states[t].failed_chain = chain.clone();
            chain
        }
    }
}

/// Siblings an implied step takes in at most, and driver lines it retags.
const MAX_ADOPTED: usize = 4096;
const MAX_RETAGGED: u64 = 65_536;

/// A step that contains others (the script, a subtest, a machine's first command) whose
/// start the input lacks: the finished steps right before its end are its own while their
/// durations fit in its own.
fn adopt_enclosed(test: &mut Test, id: StepId, parent: StepId, secs: f64) {
    let title = test.steps[id as usize].title.clone();
    let subtest = title.starts_with("subtest: ");
    // Besides the script and subtests, a machine's first command holds its connection
    // (`waiting for the VM to finish booting`): nothing else is known to nest.
    let command_of = (title != "run the VM test script" && !subtest)
        .then(|| test.steps[id as usize].machine.clone());
    if command_of.as_ref().is_some_and(|m| m.is_none()) {
        return;
    }
    let siblings: Vec<StepId> = if parent != ROOT && (parent as usize) < test.steps.len() {
        test.steps[parent as usize].children.clone()
    } else {
        test.roots.clone()
    };
    // Durations are printed to a hundredth: each adds up to half of one.
    let mut room = secs + 0.005 * (siblings.len().min(MAX_ADOPTED) as f64 + 1.0);
    let mut adopted: Vec<StepId> = Vec::new();
    for &s in siblings
        .iter()
        .rev()
        .filter(|&&s| s != id)
        .take(MAX_ADOPTED)
    {
        let step = &test.steps[s as usize];
        let before_script = matches!(
            step.title.as_str(),
            "start all VLans"
                | "start vlan"
                | "start vhost-device-vsock"
                | "run the VM test script"
        );
        // Subtests follow each other; the cleanup comes after the script.
        if before_script
            || step.title == "cleanup"
            || (subtest && step.kind == StepKind::Subtest)
            || step.state != StepState::Passed
        {
            break;
        }
        if let Some(machine) = &command_of
            && (step.title != "waiting for the VM to finish booting" || step.machine != *machine)
        {
            break;
        }
        let Some(d) = step.secs else { break };
        if d > room {
            break;
        }
        room -= d;
        adopted.push(s);
        if command_of.is_some() {
            break;
        }
    }
    if adopted.is_empty() {
        return;
    }
    adopted.reverse();
    let list = if parent != ROOT && (parent as usize) < test.steps.len() {
        &mut test.steps[parent as usize].children
    } else {
        &mut test.roots
    };
    list.retain(|s| !adopted.contains(s));
    let first_head = test.steps[adopted[0] as usize].head;
    for &s in &adopted {
        test.steps[s as usize].parent = id;
    }
    test.steps[id as usize].children = adopted;
    // The lines between the first adopted step and the end were the parent's.
    let end = test.steps[id as usize].head;
    for seq in first_head..end.min(first_head + MAX_RETAGGED) {
        if let Some(line) = test.driver.get_mut(seq)
            && line.tag == parent
        {
            line.tag = id;
        }
    }
}

fn insert_child(test: &mut Test, parent: StepId, id: StepId) {
    let head = test.steps[id as usize].head;
    let in_steps = parent != ROOT && (parent as usize) < test.steps.len();
    let list = if in_steps {
        &test.steps[parent as usize].children
    } else {
        &test.roots
    };
    // Promoted steps may start before siblings created earlier: keep head order.
    let pos = list
        .iter()
        .rposition(|&s| test.steps.get(s as usize).is_some_and(|x| x.head <= head))
        .map_or(0, |p| p + 1);
    let list = if in_steps {
        &mut test.steps[parent as usize].children
    } else {
        &mut test.roots
    };
    list.insert(pos, id);
}

pub(super) fn hash_msg(msg: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    msg.hash(&mut h);
    h.finish()
}
