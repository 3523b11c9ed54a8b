//! Two writers on one line: the fake driver writes stderr from its console threads and its
//! main thread without a lock, as the real driver does, and the model read from each such
//! run must be the model of a run written with the lock.

mod common;

use serde_json::Value;
use vmscope::vm::{Caps, ParseOptions, Parser, export};

/// One run of the fake driver's scenario: its stderr.
fn run_driver(scenario: &str, unlocked: bool) -> Vec<u8> {
    let mut cmd = std::process::Command::new("python3");
    cmd.args([
        &common::fake_driver(),
        "--scenario",
        scenario,
        "--speed",
        "10",
    ]);
    if unlocked {
        cmd.arg("--unlocked");
    }
    let out = cmd.output().expect("the fake driver runs");
    out.stderr
}

/// What does not depend on timing: pids become whether there is one, durations, times and
/// line numbers go (the order of machines' state changes stays).
fn normalised(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for key in [
                "seconds",
                "secs",
                "script_seconds",
                "first_seen_line",
                "line",
                "input",
                "trigger",
                "boot_lines",
                "silences",
                "start",
                "end",
                "ms",
                "estimated",
            ] {
                map.remove(key);
            }
            if let Some(pid) = map.get_mut("pid") {
                *pid = Value::Bool(!pid.is_null());
            }
            map.values_mut().for_each(normalised);
        }
        Value::Array(items) => items.iter_mut().for_each(normalised),
        _ => {}
    }
}

fn model(stderr: &[u8]) -> (Value, u64) {
    let run = Parser::parse_all(stderr, Caps::default(), ParseOptions::default());
    let mut v: Value = serde_json::from_str(&export::json(&run)).unwrap();
    normalised(&mut v);
    // Machines are listed as they first speak, and their start threads race.
    for test in v["tests"].as_array_mut().unwrap() {
        let machines = test["machines"].as_array_mut().unwrap();
        machines.sort_by_key(|m| m["name"].as_str().unwrap_or_default().to_string());
    }
    (v, run.glue_blanks)
}

/// The lines around the first place where two texts differ.
fn difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<_>, Vec<_>) = (want.lines().collect(), got.lines().collect());
    let at = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let from = at.saturating_sub(8);
    format!(
        "want:\n{}\ngot:\n{}",
        w[from..w.len().min(at + 8)].join("\n"),
        g[from..g.len().min(at + 8)].join("\n")
    )
}

fn same_model_unlocked(scenario: &str, runs: usize) {
    let (want, _) = model(&run_driver(scenario, false));
    assert!(
        want["tests"][0]["machines"].as_array().unwrap().len() == 3,
        "{want:#}"
    );
    let mut glued = 0;
    for i in 0..runs {
        let stderr = run_driver(scenario, true);
        let (got, blanks) = model(&stderr);
        if got != want {
            let path = std::env::temp_dir().join(format!("vmscope-interleaved-{scenario}-{i}.log"));
            std::fs::write(&path, &stderr).unwrap();
            panic!(
                "run {i} of {scenario} (saved in {}) gives another model:\n{}",
                path.display(),
                difference(&format!("{want:#}"), &format!("{got:#}"))
            );
        }
        glued += usize::from(blanks > 0);
    }
    // Runs where no two writers met would prove nothing.
    assert!(
        glued * 2 >= runs,
        "only {glued} of {runs} runs had glued lines"
    );
}

#[test]
fn fifty_unlocked_passing_runs_read_as_the_locked_one() {
    same_model_unlocked("pass", 50);
}

#[test]
fn unlocked_failing_runs_read_as_the_locked_one() {
    same_model_unlocked("fail", 10);
}
