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
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    // The status says the outcome, for scripts.
    let failed = matches!(v["outcome"].as_str(), Some("failed" | "timed_out"));
    assert_eq!(out.status.code(), Some(i32::from(failed)), "{v:#}");
    v
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

fn failures(v: &Value) -> Vec<(String, String, Value, Value)> {
    v["tests"][0]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
                f["machine"].clone(),
                f["command"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_subtest_failure_with_and_without_its_bangs() {
    for bang in ["\x1b[31m!!! \x1b[0m", ""] {
        let log = format!(
            "machine: starting vm
machine: QEMU running (pid 5)
\x1b[1m\x1b[32msubtest: the page loads\x1b[0m
machine: \x1b[1m\x1b[32mmust succeed: curl localhost\x1b[0m
{bang}Test \"the page loads\" failed with error: \"command `curl localhost` failed (exit code 7)\"
\x1b[1m\x1b[32mcleanup\x1b[0m
kill QemuMachine (pid 5)
"
        );
        let v = inspect(&log);
        assert_eq!(v["outcome"], "failed", "{bang:?}");
        let f = failures(&v);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0, "subtest");
        assert_eq!(f[0].1, "command `curl localhost` failed (exit code 7)");
        assert_eq!(f[0].2, "machine");
        assert_eq!(f[0].3, "curl localhost");
        assert_eq!(v["tests"][0]["subtests"][0]["state"], "failed");
    }
}

#[test]
fn an_open_step_at_cleanup_is_a_failure_even_when_the_report_is_hidden() {
    // `--log-level error`: no `!!!` lines, only the step that never finished, the
    // cleanup, and Nix's exit status.
    let log = "\
vm-test-run-web> \x1b[1m\x1b[32mrun the VM test script\x1b[0m
vm-test-run-web> server: \x1b[1m\x1b[32mwaiting for unit nginx.service\x1b[0m
vm-test-run-web> \x1b[1m\x1b[32mcleanup\x1b[0m
vm-test-run-web> kill QemuMachine (pid 42)
vm-test-run-web> (finished: cleanup, in 0.02 seconds)
error: builder for '/nix/store/0000000000000000000000000000000a-vm-test-run-web.drv' failed with exit code 1;
";
    let v = inspect(log);
    assert_eq!(v["outcome"], "failed");
    assert_eq!(v["tests"][0]["exit_code"], 1);
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].1.contains("waiting for unit nginx.service"), "{f:?}");
    assert_eq!(f[0].2, "server");
    let steps = steps(&v);
    assert!(
        steps.contains(&("waiting for unit nginx.service".into(), "failed".into())),
        "{steps:?}"
    );
}

#[test]
fn a_plain_traceback_after_cleanup_completes_the_failure_and_names_the_machine() {
    let log = "\
\x1b[1m\x1b[32mrun the VM test script\x1b[0m
client: starting vm
client: QEMU running (pid 9)
\x1b[1m\x1b[32mcleanup\x1b[0m
kill QemuMachine (pid 9)
(finished: cleanup, in 0.01 seconds)
Traceback (most recent call last):
  File \"/nix/store/x-driver/bin/.nixos-test-driver-wrapped\", line 9, in <module>
    sys.exit(main())
  File \"<string>\", line 4, in <module>
    client.wait_for_open_port(80)
KeyboardInterrupt
";
    let v = inspect(log);
    assert_eq!(v["outcome"], "failed");
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].1, "KeyboardInterrupt");
    assert_eq!(f[0].2, "client");
    assert_eq!(
        v["tests"][0]["failures"][0]["exception"],
        "KeyboardInterrupt"
    );
}

#[test]
fn a_bare_exception_name_ends_the_traceback() {
    let log = "\
Traceback (most recent call last):
  File \"<string>\", line 2, in <module>
    breakpoint()
bdb.BdbQuit
machine: starting vm
";
    let v = inspect(log);
    let f = &v["tests"][0]["failures"][0];
    assert_eq!(f["exception"], "bdb.BdbQuit");
    assert_eq!(f["message"], "bdb.BdbQuit");
    // The traceback ended: the next line is the driver's again.
    assert_eq!(machine(&v, "machine")["state"], "booting");
}

#[test]
fn a_chained_traceback_is_one_failure() {
    let log = "\
Traceback (most recent call last):
  File \"<string>\", line 3, in <module>
    machine.succeed(\"false\")
RequestedAssertionFailed: command `false` failed (exit code 1)

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/nix/store/x-driver/lib/driver.py\", line 9, in run
    self.cleanup()
RuntimeError: Shell disconnected
";
    let v = inspect(log);
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].1, "Shell disconnected");
    let tb = v["tests"][0]["failures"][0]["traceback"]
        .as_array()
        .unwrap();
    assert!(
        tb.iter()
            .any(|l| l.as_str().unwrap().contains("During handling")),
        "{tb:?}"
    );
}

#[test]
fn timeouts_of_every_era() {
    // The current `retry()` text, alone on its line.
    let v = inspect(
        "client: starting vm\nclient: waiting for success: curl x\naction timed out after 900.00 seconds (timeout=900.0)\n",
    );
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "timeout");
    assert_eq!(f[0].2, "client");
    assert_eq!(f[0].3, "curl x");
    // The Perl driver's die message, behind `error: `.
    let v = inspect(
        "machine: waiting for success: systemctl is-active foo\nerror: action timed out after -1 seconds at /nix/store/x-nixos-test-driver/lib/perl5/site_perl/Machine.pm line 254.\naction timed out after -1 seconds at /nix/store/x-nixos-test-driver/lib/perl5/site_perl/Machine.pm line 254.\n",
    );
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "timeout");
    // The global timeout, and Nix's exit status 143 for it.
    let v = inspect(
        "Test will time out and terminate in 3600 seconds\nmachine: starting vm\n\x1b[1m\x1b[32mtimeout reached; test terminating...\x1b[0m\nkill QemuMachine (pid 5)\n",
    );
    assert_eq!(v["outcome"], "timed_out");
    assert_eq!(failures(&v)[0].0, "global_timeout");
    let v = inspect(
        "vm-test-run-slow> machine: starting vm\nerror: builder for '/nix/store/0000000000000000000000000000000a-vm-test-run-slow.drv' failed with exit code 143;\n",
    );
    assert_eq!(v["outcome"], "timed_out");
    assert_eq!(v["tests"][0]["exit_code"], 143);
}

const DRV: &str = "/nix/store/0000000000000000000000000000000a-vm-test-run-web.drv";

#[test]
fn current_nix_report_names_test_exit_code_and_freezes_after_its_tail() {
    let log = format!(
        "error: Cannot build '{DRV}'.
       Reason: builder failed with exit code 1.
       Output paths:
         /nix/store/0000000000000000000000000000000b-vm-test-run-web
       Last 4 log lines:
       > server: starting vm
       > server: QEMU running (pid 7)
       > server # [   10.1] nginx[812]: bind() to 0.0.0.0:80 failed (98: Address in use)
       > kill QemuMachine (pid 7)
"
    );
    let v = inspect(&log);
    let t = &v["tests"][0];
    assert_eq!(t["name"], "web");
    assert_eq!(t["exit_code"], 1);
    assert_eq!(v["outcome"], "failed");
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "build_failed");
    assert_eq!(
        f[0].1,
        format!("builder for '{DRV}' failed with exit code 1")
    );
    assert_eq!(t["failures"][0]["line"], 1);
    // The moment includes the console lines the tail shows.
    assert_eq!(t["trigger"]["line"], 9);
    assert_eq!(machine(&v, "server")["serial_lines"], 1);
    assert_eq!(machine(&v, "server")["state"], "killed");
}

#[test]
fn a_report_whose_tail_shows_the_drivers_failure_adds_none() {
    let log = format!(
        "error: Cannot build '{DRV}'.
       Reason: builder failed with exit code 1.
       Last 3 log lines:
       > server: \x1b[1m\x1b[32mmust succeed: false\x1b[0m
       > \x1b[31m!!! \x1b[0mTraceback (most recent call last):
       > \x1b[31m!!! \x1b[0mRequestedAssertionFailed: command `false` failed (exit code 1)
       For full logs, run 'nix log {DRV}'.
"
    );
    let v = inspect(&log);
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "assertion");
    assert_eq!(f[0].2, "server");
    assert_eq!(v["tests"][0]["exit_code"], 1);
    assert_eq!(v["tests"][0]["trigger"]["line"], 5);
}

#[test]
fn a_console_line_does_not_end_a_report() {
    // A console line between Nix's header and its tail (as a property run spliced them)
    // leaves the report as it is: a guest cannot decide when a report is over.
    let header = format!("builder for '{DRV}' failed with exit code 1");
    let tail = "> Traceback (most recent call last):\n>   File \"<string>\", line 3, in <module>\n> AssertionError: no\n";
    let plain = inspect(&format!("{header}\n{tail}"));
    let spliced = inspect(&format!("{header}\n\x1b[2mguest # {header}\x1b[0m\n{tail}"));
    assert_eq!(failures(&plain), failures(&spliced));
    assert_eq!(failures(&plain).len(), 1, "{:?}", failures(&plain));
    assert_eq!(failures(&plain)[0].0, "assertion");
}

#[test]
fn a_remote_builders_report_names_the_host_and_143_is_the_global_timeout() {
    let log = format!(
        "error: build of '{DRV}' on 'ssh://nix@builder.example' failed: Cannot build '{DRV}'.
       Reason: builder failed with exit code 143.
       Last 2 log lines:
       > Test will time out and terminate in 3600 seconds
       > machine: starting vm
"
    );
    let v = inspect(&log);
    let t = &v["tests"][0];
    assert_eq!(t["name"], "web");
    assert_eq!(t["exit_code"], 143);
    assert_eq!(v["outcome"], "timed_out");
    assert_eq!(failures(&v)[0].0, "global_timeout");
    assert_eq!(t["trigger"]["line"], 5);
    let run = vmscope::vm::Parser::parse_all(
        log.as_bytes(),
        vmscope::vm::Caps::default(),
        vmscope::vm::ParseOptions::default(),
    );
    assert_eq!(run.tests[0].builder.as_deref(), Some("nix@builder.example"));
}

#[test]
fn a_type_check_failure_maps_to_the_users_script_line() {
    let drv = "/nix/store/0000000000000000000000000000000c-nixos-test-driver-web.drv";
    let log = format!(
        "nixos-test-driver-web>      1\t# This file contains type hints that can be prepended to Nix test scripts
nixos-test-driver-web>      2\tfrom test_driver.machine import Machine
nixos-test-driver-web>      3\tclient: Machine; server: Machine;
nixos-test-driver-web>      4\tvlan1: VLan;
nixos-test-driver-web>      5\tstart_all()
nixos-test-driver-web>      6\tserver.wait_for_unit(\"nginx\")
nixos-test-driver-web>      7\tclinet.succeed(\"curl server\")
nixos-test-driver-web> testScriptWithTypes:7: error: Name \"clinet\" is not defined  [name-defined]
nixos-test-driver-web> Found 1 error in 1 file (checked 1 source file)
error: builder for '{drv}' failed with exit code 1;
"
    );
    let v = inspect(&log);
    assert_eq!(v["tests"][0]["name"], "web");
    assert_eq!(v["outcome"], "failed");
    let f = &v["tests"][0]["failures"];
    assert_eq!(f.as_array().unwrap().len(), 1, "{f:#}");
    assert_eq!(f[0]["kind"], "typecheck");
    assert_eq!(
        f[0]["message"],
        "Name \"clinet\" is not defined  [name-defined]"
    );
    assert_eq!(f[0]["script_line"], 3);
    assert!(f[0]["hint"].as_str().unwrap().contains("skipTypeCheck"));
    assert_eq!(v["tests"][0]["exit_code"], 1);
}

#[test]
fn ty_and_lint_diagnostics() {
    let log = "\
error[unresolved-reference]: Name `installer` used when not defined
  --> testScriptWithTypes.py:62:1
   |
62 | installer.start()
   | ^^^^^^^^^
Linting test script (enable/disable: config.skipLint)
/nix/store/0000000000000000000000000000000d-nixos-test-driver-x/test-script:3:1: undefined name 'foo'
";
    let v = inspect(log);
    let f = &v["tests"][0]["failures"];
    assert_eq!(f[0]["kind"], "typecheck");
    assert_eq!(
        f[0]["message"],
        "error[unresolved-reference]: Name `installer` used when not defined"
    );
    // No listing of the checked file: its line cannot be taken back to the script.
    assert_eq!(f[0]["script_line"], Value::Null);
    assert_eq!(f[1]["kind"], "lint");
    assert_eq!(f[1]["script_line"], 3);
    assert!(f[1]["hint"].as_str().unwrap().contains("skipLint"));
}

#[test]
fn warnings_are_counted_per_text_and_are_no_failures() {
    let warn = |n: u32| {
        format!(
            "\x1b[1m\x1b[33m??? Warning (UserWarning): \x1b[22mwait_for_open_port(): passing a bare int/float as a duration is deprecated. Use datetime.timedelta instead.\n    File \"<string>\", line {n}\n      machine.wait_for_open_port(80, timeout=30)\n\x1b[0m"
        )
    };
    let log = format!(
        "machine: starting vm\n{}machine: (finished: waiting for TCP port 80 on localhost, in 0.10 seconds)\n{}{}(finished: run the VM test script, in 1.00 seconds)\ntest script finished in 1.00s\n",
        warn(3),
        warn(9),
        warn(12)
    );
    let v = inspect(&log);
    assert_eq!(v["outcome"], "passed");
    let w = &v["tests"][0]["warnings"];
    assert_eq!(w.as_array().unwrap().len(), 1, "{w:#}");
    assert_eq!(w[0]["count"], 3);
    assert_eq!(w[0]["first_line"], 2);
    assert!(
        w[0]["text"]
            .as_str()
            .unwrap()
            .contains("wait_for_open_port()")
    );
    assert!(v["tests"][0]["failures"].as_array().unwrap().is_empty());
}

#[test]
fn a_logging_prefix_is_read_not_kept() {
    let log = "\
2026-04-01 12:00:00,101 INFO machine: starting vm
2026-04-01 12:00:00,102 INFO machine: QEMU running (pid 77)
machine # [    1.0] Linux version 6.12
2026-04-01 12:00:05,300 ERROR \x1b[31m!!! \x1b[0mTest \"boot\" failed with error: \"unit \\\"x\\\" reached state \\\"failed\\\"\"
2026-04-01 12:00:05,400 INFO kill QemuMachine (pid 77)
";
    let v = inspect(log);
    let m = machine(&v, "machine");
    assert_eq!(m["pid"], 77);
    assert_eq!(m["state"], "killed");
    assert_eq!(m["serial_lines"], 1);
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "subtest");
    assert_eq!(v["tests"][0]["machines"].as_array().unwrap().len(), 1);
}

#[test]
fn containers_and_their_display() {
    let log = "\
web: systemd-nspawn running (pid 300)
web: still waiting for container 'web' to reach ready state...
web # [    0.512345] web systemd[1]: Started nginx.service.
web: VNC viewer running (pid 301)
web: failed to open the VNC viewer: no display
web: (finished: waiting for unit nginx.service, in 1.20 seconds)
kill NspawnMachine (pid 300)
";
    let v = inspect(log);
    let m = machine(&v, "web");
    assert_eq!(m["pid"], 300);
    assert_eq!(m["state"], "killed");
    assert_eq!(m["serial_lines"], 1);
    assert!(failures(&v).is_empty(), "{:?}", failures(&v));
}

#[test]
fn hosts_that_cannot_run_the_test() {
    let root = "\
\x1b[31m!!! \x1b[0mTraceback (most recent call last):
\x1b[31m!!! \x1b[0mAssertionError: systemd-nspawn requires root to work. You are 1000
";
    let v = inspect(root);
    let f = &v["tests"][0]["failures"][0];
    assert_eq!(f["kind"], "environment");
    assert!(f["hint"].as_str().unwrap().contains("sudo --preserve-env"));
    let kvm = "\
machine: starting vm
forceAccel is enabled but /dev/kvm is not accessible (permission denied).
Set virtualisation.forceAccel = false to allow falling back to software emulation.
";
    let v = inspect(kvm);
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "environment");
    assert_eq!(v["outcome"], "failed");
}

#[test]
fn a_second_start_and_a_reset_are_new_boots_in_the_same_pane() {
    let log = "\
machine: starting vm
machine: QEMU running (pid 10)
machine # [    0.000000] Linux version 6.12.10 (nixbld@localhost)
machine # Welcome to NixOS
machine: \x1b[1m\x1b[32mwaiting for the VM to power off\x1b[0m
machine # reboot: Power down
machine: (finished: waiting for the VM to power off, in 1.00 seconds)
machine: starting vm
machine: QEMU running (pid 11)
machine # [    0.000000] Linux version 6.12.10 (nixbld@localhost)
machine # Welcome to NixOS
machine # [    0.000000] Linux version 6.12.10 (nixbld@localhost)
kill QemuMachine (pid 11)
";
    let v = inspect(log);
    let m = machine(&v, "machine");
    // Started twice, and reset once without the driver saying so.
    assert_eq!(m["boots"], 3);
    assert_eq!(m["serial_lines"], 6);
    assert_eq!(m["pid"], 11);
    assert_eq!(m["state"], "killed");
    let run = vmscope::vm::Parser::parse_all(
        log.as_bytes(),
        vmscope::vm::Caps::default(),
        vmscope::vm::ParseOptions::default(),
    );
    let serial = &run.tests[0].machines[0].serial;
    let texts: Vec<String> = (0..serial.end_seq())
        .filter_map(|i| serial.get(i).map(|l| l.plain().to_string()))
        .collect();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.starts_with("── boot"))
            .collect::<Vec<_>>(),
        ["── boot 2 ──", "── boot 3 ──"]
    );
    assert_eq!(texts[3], "── boot 2 ──", "{texts:?}");
}

#[test]
fn an_excerpt_nests_what_its_implied_steps_enclosed() {
    // The start of every step is cut off: only their ends are in the input.
    let log = "\
machine: (finished: waiting for the VM to finish booting, in 12.31 seconds)
machine: (finished: waiting for unit multi-user.target, in 14.02 seconds)
(finished: subtest: boots, in 14.05 seconds)
machine: (finished: must succeed: curl -f localhost, in 0.20 seconds)
(finished: subtest: serves, in 0.21 seconds)
(finished: run the VM test script, in 14.30 seconds)
test script finished in 14.30s
machine: (finished: waiting for the VM to finish booting, in 1.0
(finished: run the VM test script, in 9.0 seconds, and more
";
    let v = inspect(log);
    assert_eq!(v["outcome"], "passed");
    let roots = v["tests"][0]["steps"].as_array().unwrap();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    assert_eq!(roots[0]["title"], "run the VM test script");
    let subtests: Vec<_> = roots[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["title"].as_str().unwrap(),
                s["children"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(subtests, [("subtest: boots", 1), ("subtest: serves", 1)]);
    // The machine's first command held its connection.
    let wait = &roots[0]["children"][0]["children"][0];
    assert_eq!(wait["title"], "waiting for unit multi-user.target");
    assert_eq!(
        wait["children"][0]["title"],
        "waiting for the VM to finish booting"
    );
    // Cut-off end lines are no steps, and no title is ever a raw end line.
    let all = steps(&v);
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(all.iter().all(|(t, _)| !t.contains("(finished")), "{all:?}");
}

#[test]
fn the_drivers_own_symbols_are_never_machines() {
    // An excerpt (or a driver) whose symbols block has no machines' line.
    let v = inspect(
        "additionally exposed symbols:
    start_all, test_script, machines, driver, log, os, subtest, run_tests, t, debug
subtest: fetch the page
client: must succeed: curl -f http://server/
client: (finished: must succeed: curl -f http://server/, in 0.20 seconds)
(finished: subtest: fetch the page, in 0.30 seconds)
",
    );
    let names: Vec<&str> = v["tests"][0]["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["client"]);
    // So `subtest: …` is the driver's subtest, not a machine's message.
    let titles: Vec<String> = steps(&v).into_iter().map(|(t, _)| t).collect();
    assert!(
        titles.iter().any(|t| t == "subtest: fetch the page"),
        "{titles:?}"
    );
}
