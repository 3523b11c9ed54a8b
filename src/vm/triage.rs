//! `vmscope triage LOG…`: the failures of many runs grouped by what failed, so that the same
//! flake seen in forty CI logs reads as one line with its count. A failure's signature is
//! its test, kind, exception, subtest, command and message, with what differs between any
//! two runs (store hashes, temporary directories, pids, uptimes, durations, dates) made the
//! same.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::diff::normalize;
use super::model::{FailureKind, TestRun};

/// What makes two failures the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub test: Option<String>,
    pub kind: FailureKind,
    pub exception: Option<String>,
    pub subtest: Option<String>,
    pub command: Option<String>,
    pub message: String,
}

/// Failures of one signature across the logs.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub signature: Signature,
    pub count: usize,
    /// The logs it was seen in, in the order given (a log counts once).
    pub logs: Vec<String>,
    /// One failure as it was printed, from the first log.
    pub example: String,
    pub machine: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Triage {
    pub logs: usize,
    /// Logs that failed with nothing the driver reported (no signature to group by).
    pub unexplained: Vec<String>,
    pub passed: usize,
    pub groups: Vec<Group>,
}

impl Triage {
    /// Adds the failures of `run`, read from `name`.
    pub fn add(&mut self, name: &str, run: &TestRun) {
        self.logs += 1;
        let mut any = false;
        for (_, t) in run.visible_tests() {
            // A kernel panic beside a failure is the guest's word: the failure groups.
            let main = t.main_failure();
            let Some(f) = main else { continue };
            any = true;
            let signature = Signature {
                test: t.name.as_deref().map(normalize),
                kind: f.kind,
                exception: f.exception.clone(),
                subtest: f.subtest.as_deref().map(normalize),
                command: f.command.as_deref().map(normalize),
                message: normalize(&f.message),
            };
            match self.groups.iter_mut().find(|g| g.signature == signature) {
                Some(g) => {
                    g.count += 1;
                    if g.logs.last().map(String::as_str) != Some(name) {
                        g.logs.push(name.to_string());
                    }
                }
                None => self.groups.push(Group {
                    signature,
                    count: 1,
                    logs: vec![name.to_string()],
                    example: f.message.clone(),
                    machine: f.machine.clone(),
                }),
            }
        }
        if !any {
            if matches!(
                run.outcome(),
                super::Outcome::Failed | super::Outcome::TimedOut
            ) {
                self.unexplained.push(name.to_string());
            } else {
                self.passed += 1;
            }
        }
    }

    /// Groups by how often they were seen, most first (ties: first seen first).
    pub fn sorted(mut self) -> Self {
        let order: HashMap<String, usize> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("{:?}", g.signature), i))
            .collect();
        self.groups.sort_by_key(|g| {
            (
                std::cmp::Reverse(g.count),
                order.get(&format!("{:?}", g.signature)).copied(),
            )
        });
        self
    }

    /// The table: count, where first and last seen, what failed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let failed: usize = self.groups.iter().map(|g| g.count).sum();
        let _ = writeln!(
            out,
            "{} logs: {} passed, {failed} failures in {} groups, {} failed with no failure reported",
            self.logs,
            self.passed,
            self.groups.len(),
            self.unexplained.len()
        );
        for (i, g) in self.groups.iter().enumerate() {
            let s = &g.signature;
            let what = match &s.exception {
                Some(e) => format!("{e}: {}", g.example),
                None => g.example.clone(),
            };
            let _ = writeln!(out, "\n{:>4}x  #{}  {what}", g.count, i + 1);
            if let Some(t) = &s.test {
                let _ = writeln!(out, "       test: {t}");
            }
            if let Some(sub) = &s.subtest {
                let _ = writeln!(out, "       subtest: {sub}");
            }
            if let Some(c) = &s.command {
                let _ = writeln!(out, "       command: {c}");
            }
            if let Some(m) = &g.machine {
                let _ = writeln!(out, "       machine: {m}");
            }
            let first = g.logs.first().map_or("", String::as_str);
            let last = g.logs.last().map_or("", String::as_str);
            if first == last {
                let _ = writeln!(out, "       in {first}");
            } else {
                let _ = writeln!(
                    out,
                    "       first in {first}, last in {last} ({} logs)",
                    g.logs.len()
                );
            }
        }
        for u in &self.unexplained {
            let _ = writeln!(out, "\n   failed with no failure reported: {u}");
        }
        out
    }
}
