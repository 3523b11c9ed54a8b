//! This host's process table, read from `/proc`: what a driver's process tree holds, and
//! which process runs which command line. None of it can be written by a guest.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// What `/proc/PID/stat` says of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: libc::pid_t,
    pub ppid: libc::pid_t,
    pub pgrp: libc::pid_t,
    pub zombie: bool,
}

/// `/proc/PID/stat` of one process.
pub fn stat(pid: libc::pid_t) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

/// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
fn parse_stat(pid: libc::pid_t, text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat {
        pid,
        ppid,
        pgrp,
        zombie: state == "Z",
    })
}

/// Every process there is, as far as `/proc` shows them.
pub fn all() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(stat)
        .collect()
}

/// The command line of a process, word by word.
pub fn cmdline(pid: libc::pid_t) -> Option<Vec<OsString>> {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut words: Vec<OsString> = bytes
        .split(|&b| b == 0)
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect();
    // The last word ends in a NUL too.
    if words.last().is_some_and(|w| w.is_empty()) {
        words.pop();
    }
    Some(words)
}

/// Each process's parent, to walk up the tree without searching the table.
pub fn parents(procs: &[Stat]) -> HashMap<libc::pid_t, libc::pid_t> {
    procs.iter().map(|p| (p.pid, p.ppid)).collect()
}

/// Whether `pid` is `root` or one of its descendants.
pub fn descends_from(
    parents: &HashMap<libc::pid_t, libc::pid_t>,
    mut pid: libc::pid_t,
    root: libc::pid_t,
) -> bool {
    // Parents form a tree; the bound only guards against a table read while it changed.
    for _ in 0..256 {
        if pid == root {
            return true;
        }
        match parents.get(&pid) {
            Some(&ppid) if ppid != pid && ppid > 0 => pid = ppid,
            _ => return false,
        }
    }
    false
}

/// Processes whose command line is exactly `words`; with `tree`, only that process, its
/// descendants and its process group.
pub fn running(words: &[&str], tree: Option<libc::pid_t>) -> Vec<libc::pid_t> {
    let procs = all();
    let parents = parents(&procs);
    procs
        .iter()
        .filter(|p| !p.zombie)
        .filter(|p| tree.is_none_or(|root| p.pgrp == root || descends_from(&parents, p.pid, root)))
        .filter(|p| {
            cmdline(p.pid).is_some_and(|c| {
                c.len() == words.len() && c.iter().zip(words).all(|(a, b)| a == *b)
            })
        })
        .map(|p| p.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names() {
        assert_eq!(
            parse_stat(7, "7 (a b) c)) S 1 7 7 0 -1"),
            Some(Stat {
                pid: 7,
                ppid: 1,
                pgrp: 7,
                zombie: false
            })
        );
        assert_eq!(
            parse_stat(7, "7 (x) Z 3 4"),
            Some(Stat {
                pid: 7,
                ppid: 3,
                pgrp: 4,
                zombie: true
            })
        );
        assert_eq!(parse_stat(7, "garbage"), None);
    }

    #[test]
    fn a_process_is_found_by_its_command_line_and_tree() {
        let mut child = std::process::Command::new("sleep")
            .arg("8765431")
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        let me = std::process::id() as libc::pid_t;
        let mut found = Vec::new();
        for _ in 0..100 {
            found = running(&["sleep", "8765431"], Some(me));
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(found, [pid]);
        assert_eq!(running(&["sleep", "8765431"], None), [pid]);
        // Not below an unrelated process (init's other children are not ours).
        assert!(running(&["sleep", "8765431"], Some(pid + 100_000)).is_empty());
        assert!(running(&["sleep", "87654310"], None).is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(running(&["sleep", "8765431"], None).is_empty());
    }
}
