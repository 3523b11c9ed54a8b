//! Machine states from whatever part of a log is there: tails, excerpts, old drivers.
//! Expectations were written by reading each log.

mod common;

use vmscope::vm::model::{MachineState, TestRun};
use vmscope::vm::{Caps, ParseOptions, Parser};

fn parse(bytes: &[u8]) -> TestRun {
    Parser::parse_all(bytes, Caps::default(), ParseOptions::default())
}

fn states(run: &TestRun) -> Vec<(String, MachineState, Option<u32>)> {
    let t = run.visible_tests().next().unwrap().1;
    let mut v: Vec<_> = t
        .machines
        .iter()
        .map(|m| (m.name.clone(), m.state, m.pid))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn fixture_04_the_only_machine_is_killed_by_kill_machine() {
    // `kill machine (pid 11)` in cleanup; the driver prints the word `machine` itself.
    let (_, bytes) = common::log_fixture("04-");
    assert_eq!(
        states(&parse(&bytes)),
        [("machine".into(), MachineState::Killed, Some(11))]
    );
}

#[test]
fn fixture_05_a_tail_that_starts_after_the_boot() {
    // A finished `must succeed` says the machine was up; cleanup kills pid 1470953.
    let (_, bytes) = common::log_fixture("05-");
    assert_eq!(
        states(&parse(&bytes)),
        [("machine".into(), MachineState::Killed, Some(1470953))]
    );
    let cut: String = String::from_utf8_lossy(&bytes)
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        states(&parse(cut.as_bytes())),
        [("machine".into(), MachineState::Connected, None)]
    );
}

#[test]
fn fixture_22_each_kill_is_told_by_the_qemu_that_answered_it() {
    // `kill machine (pid 8)`, then agent's QEMU says it was terminated; then pid 19 and api.
    let (_, bytes) = common::log_fixture("22-");
    assert_eq!(
        states(&parse(&bytes)),
        [
            ("agent".into(), MachineState::Killed, Some(8)),
            ("api".into(), MachineState::Killed, Some(19)),
        ]
    );
}

#[test]
fn a_crashed_machine_stays_crashed_after_its_power_off_wait() {
    let log = "server: starting vm\nserver: QEMU running (pid 5)\nserver: connected to guest root shell\n\
        server: forced crash\n\x1b[1m\x1b[32m\x1b[0mserver: \x1b[1m\x1b[32mwaiting for the VM to power off\x1b[0m\n\
        server: (finished: waiting for the VM to power off, in 0.01 seconds)\ncleanup\n";
    assert_eq!(
        states(&parse(log.as_bytes())),
        [("server".into(), MachineState::Crashed, Some(5))]
    );
}
