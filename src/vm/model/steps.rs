//! A test's step tree, capped: past `max_steps` the oldest steps leave memory (an open one is
//! kept aside until it ends), and ids stay what they were, so lines and failures that name
//! a step keep naming it. An evicted step reads as an empty placeholder.

use std::collections::{BTreeMap, VecDeque};
use std::ops::{Index, IndexMut};

use super::{ROOT, Step, StepId, StepKind, StepState};
use crate::vm::store::Stamp;

/// What an evicted step reads as.
static EVICTED: Step = Step {
    title: String::new(),
    machine: None,
    kind: StepKind::Step,
    state: StepState::Passed,
    secs: None,
    parent: ROOT,
    children: Vec::new(),
    head: 0,
    end: None,
    began: Stamp::NONE,
    ended: None,
};

#[derive(Debug, Clone)]
pub struct Steps {
    /// The id of `recent[0]`; ids below it are pinned or evicted.
    first: usize,
    recent: VecDeque<Step>,
    /// Steps still open when their turn to leave came, by id.
    pinned: BTreeMap<usize, Step>,
    evicted: u64,
    max: usize,
    /// Where a change to an evicted step goes: nowhere that is read.
    sink: Step,
}

impl Steps {
    pub fn new(max: usize) -> Self {
        Self {
            first: 0,
            recent: VecDeque::new(),
            pinned: BTreeMap::new(),
            evicted: 0,
            max: max.max(1),
            sink: EVICTED.clone(),
        }
    }

    /// Steps ever opened (the next step's id).
    pub fn len(&self) -> usize {
        self.first + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Steps that left memory.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Steps memory holds.
    pub fn held(&self) -> usize {
        self.recent.len() + self.pinned.len()
    }

    pub fn get(&self, id: usize) -> Option<&Step> {
        match id.checked_sub(self.first) {
            Some(i) => self.recent.get(i),
            None => self.pinned.get(&id),
        }
    }

    pub fn get_mut(&mut self, id: usize) -> Option<&mut Step> {
        match id.checked_sub(self.first) {
            Some(i) => self.recent.get_mut(i),
            None => self.pinned.get_mut(&id),
        }
    }

    /// Whether step `id` is still held.
    pub fn holds(&self, id: StepId) -> bool {
        self.get(id as usize).is_some()
    }

    pub fn push(&mut self, step: Step) {
        self.recent.push_back(step);
    }

    /// The steps held, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Step> {
        self.pinned.values().chain(self.recent.iter())
    }

    /// Lets the oldest steps go once a tenth more than the cap is held (so the lists that
    /// name them are swept now and then, not at every step). Returns whether any went,
    /// and the steps whose parent went: they are top-level steps now.
    pub fn evict(&mut self) -> Option<Vec<StepId>> {
        if self.held() <= self.max + self.max / 10 {
            return None;
        }
        while self.held() > self.max {
            let Some(step) = self.recent.pop_front() else {
                break;
            };
            let id = self.first;
            self.first += 1;
            if step.state == StepState::Running {
                self.pinned.insert(id, step);
            } else {
                self.evicted += 1;
            }
        }
        // Pinned steps that have ended since go too, and past half the cap the oldest open
        // ones (a log that only opens steps).
        let ended: Vec<usize> = self
            .pinned
            .iter()
            .filter(|(_, s)| s.state != StepState::Running)
            .map(|(&id, _)| id)
            .collect();
        for id in ended {
            self.pinned.remove(&id);
            self.evicted += 1;
        }
        while self.pinned.len() > self.max / 2 {
            self.pinned.pop_first();
            self.evicted += 1;
        }
        let first = self.first;
        let pinned: Vec<usize> = self.pinned.keys().copied().collect();
        let held =
            |id: StepId| id as usize >= first || pinned.binary_search(&(id as usize)).is_ok();
        let mut orphans = Vec::new();
        let ids = self
            .pinned
            .keys()
            .copied()
            .collect::<Vec<_>>()
            .into_iter()
            .chain(first..first + self.recent.len());
        for id in ids {
            let Some(s) = self.get_mut(id) else { continue };
            if s.children.iter().any(|&c| !held(c)) {
                s.children.retain(|&c| held(c));
            }
            if s.parent != ROOT && !held(s.parent) {
                s.parent = ROOT;
                orphans.push(id as StepId);
            }
        }
        Some(orphans)
    }
}

impl Index<usize> for Steps {
    type Output = Step;

    fn index(&self, id: usize) -> &Step {
        self.get(id).unwrap_or(&EVICTED)
    }
}

impl IndexMut<usize> for Steps {
    fn index_mut(&mut self, id: usize) -> &mut Step {
        match id.checked_sub(self.first) {
            Some(i) if i < self.recent.len() => &mut self.recent[i],
            Some(_) => {
                self.sink = EVICTED.clone();
                &mut self.sink
            }
            None => match self.pinned.get_mut(&id) {
                Some(s) => s,
                None => {
                    self.sink = EVICTED.clone();
                    &mut self.sink
                }
            },
        }
    }
}

impl<'a> IntoIterator for &'a Steps {
    type Item = &'a Step;
    type IntoIter = std::iter::Chain<
        std::collections::btree_map::Values<'a, usize, Step>,
        std::collections::vec_deque::Iter<'a, Step>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.pinned.values().chain(self.recent.iter())
    }
}
