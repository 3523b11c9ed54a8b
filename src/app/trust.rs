//! What vmscope takes on trust before it runs something, and what it asks about first.
//!
//! Everything a guest prints reaches vmscope inside the driver's stream, and a guest can
//! forge any line there. So a session's command is always built here from a narrow form
//! (a CID, a socket path of plain characters, a machine name, a loopback address, a store
//! path), and it runs without a question only when something a guest cannot write backs
//! it: the driver's configuration file, its process tree (the debug hook's `sleep ID`
//! marker), a socket of this user under the driver's temporary directory. Otherwise the
//! user sees the exact command and says yes or no.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::proctree;
use crate::vm::config::{DriverConfig, config_argument};
use crate::vm::model::Test;

/// How the run reached vmscope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A saved log, a recording, standard input: nothing in it can be checked on this host.
    #[default]
    Log,
    /// `vmscope run`/`interactive`: the driver is vmscope's child.
    Run,
    /// `vmscope build`: the driver runs in Nix's sandbox, maybe on a remote builder.
    Build,
}

/// How long vmscope looks for the driver's configuration after it started.
const CONFIG_LOOK: Duration = Duration::from_secs(10);

/// How often the process table is read while something waits to be confirmed.
const SCAN_EVERY: Duration = Duration::from_millis(500);

/// The driver's temporary directory (`get_tmp_dir`): `XDG_RUNTIME_DIR`, else what Python's
/// `tempfile.gettempdir()` takes (`TMPDIR`, `TEMP`, `TMP`, `/tmp`). The driver inherits
/// vmscope's environment, so this is where it puts its vsock sockets.
pub fn driver_tmp_dir() -> PathBuf {
    ["XDG_RUNTIME_DIR", "TMPDIR", "TEMP", "TMP"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .find(|p| p.is_absolute() && p.is_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// The configuration file named by the driver's command line, or by one of its
/// descendants' (the `nixos-test-driver` wrapper execs Python with `--config`).
pub fn find_driver_config(driver: libc::pid_t) -> Option<DriverConfig> {
    let procs = proctree::all();
    let parents = proctree::parents(&procs);
    let mut tree: Vec<libc::pid_t> = procs
        .iter()
        .filter(|p| proctree::descends_from(&parents, p.pid, driver))
        .map(|p| p.pid)
        .collect();
    tree.sort();
    tree.into_iter().find_map(|pid| {
        let path = config_argument(&proctree::cmdline(pid)?)?;
        DriverConfig::parse(&std::fs::read_to_string(path).ok()?)
    })
}

/// State of the checks against the host.
#[derive(Debug, Default)]
pub struct Checks {
    pub mode: Mode,
    /// The driver's process (`run`) or `nix`'s (`build`).
    pub driver_pid: Option<libc::pid_t>,
    /// The driver's configuration, once read.
    pub config: Option<DriverConfig>,
    config_done: bool,
    last_scan: Option<Instant>,
    /// Looks for the configuration so far: each waits twice as long as the one before.
    config_looks: u32,
}

impl Checks {
    /// The test's machines come from the configuration, when the run has one.
    pub fn look_for_config(&mut self, started: Instant) -> Option<DriverConfig> {
        if self.config_done || self.mode != Mode::Run {
            return None;
        }
        let pid = self.driver_pid?;
        if started.elapsed() > CONFIG_LOOK {
            self.config_done = true;
            return None;
        }
        if Instant::now() < self.next_config_look(started) {
            return None;
        }
        self.config_looks += 1;
        let found = find_driver_config(pid)?;
        self.config_done = true;
        self.config = Some(found.clone());
        Some(found)
    }
}

impl Checks {
    /// When the driver's configuration is looked for next: at once, then 250 ms, 500 ms,
    /// 1 s… after the start (a driver writes it before its first line; a wrapper may take a
    /// moment to start it), and never after `CONFIG_LOOK`.
    fn next_config_look(&self, started: Instant) -> Instant {
        // Not capped below `CONFIG_LOOK`: a look that came due would come due again at
        // once, and the loop would look over and over until the window closed.
        let k = self.config_looks.min(20);
        if k == 0 {
            return started;
        }
        (started + Duration::from_millis(125 << k)).min(started + CONFIG_LOOK)
    }

    /// When the loop must wake to look for the configuration again, while it may come.
    pub fn config_wake(&self, started: Instant, ended: bool) -> Option<Instant> {
        let waiting = !self.config_done
            && !ended
            && self.mode == Mode::Run
            && self.driver_pid.is_some()
            && started.elapsed() <= CONFIG_LOOK;
        waiting.then(|| self.next_config_look(started))
    }

    /// Whether the host still has a breakpoint to confirm, so it must be asked again soon.
    pub fn pending(&self, tests: &[Test], ended: bool) -> bool {
        if self.mode == Mode::Log || ended {
            return false;
        }
        tests
            .iter()
            .any(|t| t.breakpoint.as_ref().is_some_and(|b| !b.verified))
    }

    /// Breakpoints in a live run are confirmed by the debug hook's marker, `sleep ID`: in
    /// the driver's own processes for `run`, anywhere on this host for a build in its
    /// sandbox. Returns the tests whose marker runs now.
    pub fn confirmed_breakpoints(&mut self, tests: &[Test], ended: bool) -> Vec<usize> {
        if self.mode == Mode::Log || ended {
            return Vec::new();
        }
        let waiting: Vec<(usize, &str)> = tests
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                t.breakpoint
                    .as_ref()
                    .filter(|b| !b.verified)
                    .map(|b| (i, b.line.id.as_str()))
            })
            .collect();
        if waiting.is_empty() || self.last_scan.is_some_and(|t| t.elapsed() < SCAN_EVERY) {
            return Vec::new();
        }
        self.last_scan = Some(Instant::now());
        let tree = match self.mode {
            Mode::Run => self.driver_pid,
            _ => None,
        };
        waiting
            .into_iter()
            .filter(|(_, id)| !proctree::running(&["sleep", id], tree).is_empty())
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_look_for_the_configuration_waits_longer_and_they_stop_at_the_window() {
        let started = Instant::now();
        let mut checks = Checks {
            mode: Mode::Run,
            driver_pid: Some(1),
            ..Checks::default()
        };
        let mut times = Vec::new();
        for looks in 0..30 {
            checks.config_looks = looks;
            times.push(checks.next_config_look(started) - started);
        }
        // Every look comes after the one before it until the window's end, then none does.
        let end = times
            .iter()
            .position(|&t| t == CONFIG_LOOK)
            .expect("reaches the end");
        assert!(times[..=end].windows(2).all(|w| w[0] < w[1]), "{times:?}");
        assert!(times[end..].iter().all(|&t| t == CONFIG_LOOK));
        assert!(end <= 8, "{end} looks");
    }
}
