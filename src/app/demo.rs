//! The built-in demo: a test run of three machines replayed in real time through the same
//! pipeline as a live input (`assets/demo/`).

use std::time::{Duration, Instant};

use crate::vm::source::SourceEvent;

const SCENARIO: &str = include_str!("../../assets/demo/scenario.txt");
const BOOT: &str = include_str!("../../assets/demo/boot.txt");

/// One line of the replay: wait, then print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    pub delay_ms: u64,
    pub bytes: Vec<u8>,
}

fn unescape(s: &str) -> String {
    s.replace("\\e", "\x1b")
}

fn serial(machine: &str, text: &str) -> Vec<u8> {
    format!("\x1b[2m{machine} # {}\x1b[0m\n", unescape(text)).into_bytes()
}

/// The scenario as a list of timed lines.
pub fn beats() -> Vec<Beat> {
    let mut out = Vec::new();
    for line in SCENARIO.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("boot ") {
            let machines: Vec<&str> = rest.split_whitespace().collect();
            let boot: Vec<&str> = BOOT.lines().filter(|l| !l.starts_with('#')).collect();
            // Machines boot side by side, a little out of step.
            for (i, text) in boot.iter().enumerate() {
                for (j, m) in machines.iter().enumerate() {
                    let delay = 25 + ((i * 7 + j * 13) % 41) as u64;
                    let text = text.replace("{name}", m);
                    out.push(Beat {
                        delay_ms: delay,
                        bytes: serial(m, &text),
                    });
                }
            }
        } else if let Some(rest) = line.strip_prefix("serial ") {
            let mut parts = rest.splitn(3, ' ');
            let (Some(m), Some(ms), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            out.push(Beat {
                delay_ms: ms.parse().unwrap_or(0),
                bytes: serial(m, text),
            });
        } else if let Some(rest) = line.strip_prefix('+') {
            let (ms, text) = rest.split_once(' ').unwrap_or((rest, ""));
            let mut bytes = unescape(text).into_bytes();
            bytes.push(b'\n');
            out.push(Beat {
                delay_ms: ms.parse().unwrap_or(0),
                bytes,
            });
        }
    }
    out
}

/// Replays the scenario at `speed`, sending each line as it is due.
pub fn replay(speed: f64, start: Instant, send: &dyn Fn(SourceEvent) -> bool) {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    let mut due = Duration::ZERO;
    for beat in beats() {
        due = due.saturating_add(
            Duration::try_from_secs_f64(beat.delay_ms as f64 / 1000.0 / speed)
                .unwrap_or(Duration::MAX),
        );
        let now = start.elapsed();
        if due > now {
            std::thread::sleep(due - now);
        }
        let t = u32::try_from(start.elapsed().as_millis()).unwrap_or(u32::MAX - 1);
        if !send(SourceEvent::Data(beat.bytes, t)) {
            return;
        }
    }
    let _ = send(SourceEvent::End);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::model::{FailureKind, MachineState};
    use crate::vm::{Caps, Outcome, ParseOptions, Parser};

    #[test]
    fn the_scenario_is_a_failing_run_of_three_machines() {
        let bytes: Vec<u8> = beats().into_iter().flat_map(|b| b.bytes).collect();
        let run = Parser::parse_all(&bytes, Caps::default(), ParseOptions::default());
        let t = &run.tests[0];
        let names: Vec<&str> = t.machines.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["client", "database", "server"]);
        assert!(t.machines.iter().all(|m| m.serial_lines > 40));
        assert!(t.machines.iter().all(|m| m.state == MachineState::Killed));
        assert_eq!(run.outcome(), Outcome::Failed);
        let f = &t.failures[0];
        assert_eq!(f.kind, FailureKind::Assertion);
        assert_eq!(f.machine.as_deref(), Some("database"));
        assert_eq!(
            f.subtest.as_deref(),
            Some("the database accepts connections")
        );
        assert_eq!(t.subtests.len(), 4);
        assert_eq!(t.ssh.len(), 3);
    }
}
