//! `vmscope inspect --json` on each shape of log a user meets: outcome, failure, machine
//! states and exit code, one test per shape, with the expectation written from the log.

use serde_json::Value;

fn inspect(log: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.log");
    std::fs::write(&path, log).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn machine<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["tests"][0]["machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no machine {name} in {v:#}"))
}

/// Every step's title and state, depth first.
fn steps(v: &Value) -> Vec<(String, String)> {
    fn walk(s: &Value, out: &mut Vec<(String, String)>) {
        for c in s.as_array().into_iter().flatten() {
            out.push((
                c["title"].as_str().unwrap().to_string(),
                c["state"].as_str().unwrap().to_string(),
            ));
            walk(&c["children"], out);
        }
    }
    let mut out = Vec::new();
    walk(&v["tests"][0]["steps"], &mut out);
    out
}

const BOOT: &str = "\
Machine state will be reset. To keep it, pass --keep-machine-state
\x1b[1m\x1b[32mrun the VM test script\x1b[0m
\x1b[1m\x1b[32mstart all VMs\x1b[0m
machine1: starting vm
machine2: starting vm
";

#[test]
fn a_finish_glued_to_a_console_line_closes_its_step() {
    let log = format!(
        "{BOOT}machine1: QEMU running (pid 11)
machine2: QEMU running (pid 12)
(finished: start all VMs, in 0.10 seconds)
machine1: \x1b[1m\x1b[32mwaiting for unit multi-user.target\x1b[0m
\x1b[2mmachine1 # [  OK  ] Reached target Multi-User System.\x1b[0mmachine1: (finished: waiting for unit multi-user.target, in 3.02 seconds)

machine2: \x1b[1m\x1b[32mwaiting for unit multi-user.target\x1b[0m
machine2 # [  OK  ] Reached target Multi-User System.machine2: (finished: waiting for unit multi-user.target, in 3.10 seconds)

(finished: run the VM test script, in 6.50 seconds)
test script finished in 6.50s
\x1b[1m\x1b[32mcleanup\x1b[0m
kill QemuMachine (pid 11)
kill QemuMachine (pid 12)
(finished: cleanup, in 0.01 seconds)
"
    );
    let v = inspect(&log);
    assert_eq!(v["outcome"], "passed");
    let steps = steps(&v);
    assert!(steps.iter().all(|(_, s)| s == "passed"), "{steps:?}");
    // The two waits sit side by side under the script, not one inside the other.
    let script = &v["tests"][0]["steps"][0];
    assert_eq!(script["title"], "run the VM test script");
    assert_eq!(script["children"].as_array().unwrap().len(), 3);
    for m in ["machine1", "machine2"] {
        assert_eq!(machine(&v, m)["serial_lines"], 1);
        assert_eq!(machine(&v, m)["state"], "killed");
    }
    // The empty lines the second newlines made are not the driver's.
    assert_eq!(v["tests"][0]["driver_lines"], 18);
}

#[test]
fn a_qemu_pid_glued_to_a_console_line_is_read() {
    let log = format!(
        "{BOOT}\x1b[2mmachine1 # machine1 login: \x1b[0mmachine2: QEMU running (pid 1234)

machine1: QEMU running (pid 1233)
kill QemuMachine (pid 1234)
"
    );
    let v = inspect(&log);
    let m2 = machine(&v, "machine2");
    assert_eq!(m2["pid"], 1234);
    assert_eq!(m2["state"], "killed");
    assert_eq!(machine(&v, "machine1")["serial_lines"], 1);
}

#[test]
fn messages_glued_to_messages_are_taken_apart() {
    let log = "\
machine1: starting vmmachine2: starting vm

machine1: QEMU running (pid 5)machine2: QEMU running (pid 6)

kill QemuMachine (pid 6)
";
    let v = inspect(log);
    assert_eq!(machine(&v, "machine1")["pid"], 5);
    assert_eq!(machine(&v, "machine2")["pid"], 6);
    assert_eq!(machine(&v, "machine2")["state"], "killed");
    assert_eq!(v["tests"][0]["driver_lines"], 5);
}
