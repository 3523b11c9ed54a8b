//! `run` and `build` with stdout a pipe, as in CI: the fake driver (or a `nix` stand-in)
//! runs, its steps are printed as they end, and vmscope exits with the child's status. The
//! steps and machines expected are the fake driver's scenarios, read off its script.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::scaled;

fn vmscope() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmscope"));
    cmd.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null());
    cmd
}

/// `vmscope run [flags] -- fake-driver --scenario S …` with stdout a pipe.
fn run_fake(flags: &[&str], scenario: &str, env: &[(&str, &str)]) -> (String, Option<i32>) {
    let mut cmd = vmscope();
    cmd.arg("run").arg("--no-record").args(flags).args([
        "--",
        "python3",
        &common::fake_driver(),
        "--scenario",
        scenario,
        "--speed",
        "20",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.code())
}

/// The index of the first line of `text` that is `line`, after a step's duration.
fn at(text: &str, line: &str) -> usize {
    text.lines()
        .position(|l| without_duration(l) == line)
        .unwrap_or_else(|| panic!("{line:?} not in:\n{text}"))
}

/// A step's line without its ` (0.12 s)`.
fn without_duration(l: &str) -> &str {
    match l.rsplit_once(" (") {
        Some((head, tail))
            if tail.ends_with(" s)") && tail[..tail.len() - 3].parse::<f64>().is_ok() =>
        {
            head
        }
        _ => l,
    }
}

#[test]
fn a_failing_run_prints_its_steps_its_failure_and_exits_with_the_drivers_status() {
    let (text, code) = run_fake(&[], "fail", &[]);
    assert_eq!(code, Some(1), "the driver's status:\n{text}");
    assert!(!text.contains('\x1b'), "no escape sequence:\n{text}");
    // The scenario: two subtests pass, the third fails on the database's command.
    let boot = at(&text, "  ✓ subtest: machines boot");
    let fetch = at(&text, "  ✓ subtest: the client fetches the page");
    let cmd = at(
        &text,
        "    ✗ database: must succeed: echo 'psql: error: connection refused' >&2; exit 2",
    );
    let failed = text
        .lines()
        .position(|l| l.starts_with("FAILED "))
        .expect("the failure");
    assert!(boot < fetch && fetch < cmd && cmd < failed, "{text}");
    let after = &text.lines().skip(failed).collect::<Vec<_>>().join("\n");
    assert!(after.contains("  machine: database"), "{after}");
    assert!(
        after.contains("  subtest: the database accepts connections"),
        "{after}"
    );
    assert!(
        after.contains("  database's last console lines:"),
        "{after}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("test: FAILED · 3 machines · ") && last.ends_with(" · exit 1"),
        "{last}"
    );
}

#[test]
fn a_passing_run_exits_0_and_prints_no_console_line_unless_asked() {
    let (text, code) = run_fake(&[], "pass", &[]);
    assert_eq!(code, Some(0), "{text}");
    at(&text, "  ✓ subtest: the client fetches the page");
    assert!(!text.contains("client | "), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("test: PASSED · 3 machines"),
        "{text}"
    );
}

#[test]
fn serial_lines_come_prefixed_in_the_order_they_were_read() {
    let (text, code) = run_fake(&["--serial"], "pass", &[]);
    assert_eq!(code, Some(0), "{text}");
    for m in ["client", "database", "server"] {
        // Each machine boots before its unit is reached, and says so on its console.
        let booted = text
            .lines()
            .position(|l| l.starts_with(&format!("{m} | ")) && l.contains("Run /init"))
            .unwrap_or_else(|| panic!("{m}'s console:\n{text}"));
        let reached = at(
            &text,
            &format!("    ✓ {m}: waiting for unit multi-user.target"),
        );
        assert!(booted < reached, "{m}:\n{text}");
    }
    // A console line is never printed twice.
    let client: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("client | "))
        .collect();
    let mut unique = client.clone();
    unique.dedup();
    assert!(client.len() > 10, "{text}");
    assert_eq!(unique.len(), client.len(), "{text}");
}

#[test]
fn a_guest_cannot_start_a_line_with_a_workflow_command() {
    let dir = tempfile::tempdir().unwrap();
    let forged = dir.path().join("forged.txt");
    std::fs::write(
        &forged,
        "::error title=forged::the guest says so\n::set-output name=x::y\n\
         !!! Test \"x\" failed with error: \"forged\"\n",
    )
    .unwrap();
    let summary = dir.path().join("summary.md");
    let mut cmd = vmscope();
    cmd.args(["run", "--no-record", "--serial", "--github", "--"])
        .args(["python3", &common::fake_driver(), "--scenario", "forge"])
        .args(["--speed", "20"])
        .env("VMSCOPE_FORGED", &forged)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let out = cmd.output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Workflow commands are vmscope's annotations alone: a failure the guest forged is
    // annotated as one (its text escaped), but no command of the guest's own starts a line.
    let commands: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    assert!(
        commands
            .iter()
            .all(|l| l.starts_with("::error title=NixOS test failed on client::")),
        "{text}"
    );
    assert!(
        commands.iter().any(|l| l.contains(
            "::RequestedAssertionFailed: command `cat \"$VMSCOPE_FORGED\"; exit 22` failed (exit code 22)"
        )),
        "{text}"
    );
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("FAILED")
    );
}

/// A driver in shell that ends a step, then waits for `go` before it ends the next.
fn slow_driver(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("driver.sh");
    let script = format!(
        r#"#!/bin/sh
printf 'start all VMs\n' >&2
printf 'vm1 # [    0.10] booting vm1\n' >&2
printf '(finished: start all VMs, in 0.50 seconds)\n' >&2
while [ ! -e "{go}" ]; do sleep 0.05; done
printf 'subtest: second\n' >&2
printf '(finished: subtest: second, in 0.10 seconds)\n' >&2
exit 3
"#,
        go = dir.join("go").display()
    );
    std::fs::write(&path, script).unwrap();
    let mut perm = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&path, perm).unwrap();
    path
}

/// Reads lines from `out` until one equals `want`, within a generous bound.
fn read_until(out: &mut impl BufRead, want: &str, seen: &mut String) {
    let deadline = Instant::now() + scaled(Duration::from_secs(20));
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "output ended before {want:?}:\n{seen}");
        seen.push_str(&line);
        if line.trim_end_matches('\n') == want {
            return;
        }
        assert!(Instant::now() < deadline, "no {want:?} in:\n{seen}");
    }
}

/// `vmscope run [flags] -- DRIVER` with stdout a pipe, read as far as the first step.
fn start_slow(
    driver: &Path,
    flags: &[&str],
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    String,
) {
    let mut child = vmscope()
        .args(["run", "--no-record"])
        .args(flags)
        .arg("--")
        .arg(driver)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    read_until(&mut out, "✓ start all VMs (0.50 s)", &mut seen);
    (child, out, seen)
}

#[test]
fn steps_are_printed_as_they_end_not_when_the_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let driver = slow_driver(dir.path());
    let (mut child, mut out, mut seen) = start_slow(&driver, &["--serial"]);
    // The driver is still waiting: the first step and the console line are out already.
    assert!(seen.contains("vm1 | [    0.10] booting vm1\n"), "{seen}");
    assert!(!seen.contains("second"), "{seen}");
    std::fs::write(dir.path().join("go"), "").unwrap();
    read_until(&mut out, "✓ subtest: second (0.10 s)", &mut seen);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3), "the driver's status");
    assert!(rest.contains("exit 3"), "{rest}");
}

#[test]
fn sigterm_ends_the_drivers_group_and_still_prints_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let driver = slow_driver(dir.path());
    let (mut child, mut out, _) = start_slow(&driver, &[]);
    let script = driver.display().to_string();
    assert!(!common::processes_naming(&script).is_empty());
    // SAFETY: kill with a pid this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(128 + libc::SIGTERM));
    assert!(rest.contains("test: "), "the summary: {rest}");
    let deadline = Instant::now() + scaled(Duration::from_secs(10));
    while !common::processes_naming(&script).is_empty() {
        assert!(Instant::now() < deadline, "the driver outlived vmscope");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_repl_needs_a_terminal() {
    let out = vmscope()
        .args([
            "run",
            "--no-record",
            "--",
            "python3",
            &common::fake_driver(),
            "-I",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the driver's REPL (-I) needs vmscope on a terminal"),
        "{err}"
    );
}

/// The fake driver's failing scenario run in plain mode, recorded into `dir/rec`; `extra`
/// goes to the driver.
fn record_fail(
    dir: &Path,
    extra: &[&std::ffi::OsStr],
) -> (std::path::PathBuf, std::process::Output) {
    let rec = dir.join("rec");
    let out = vmscope()
        .arg("run")
        .arg("--record")
        .arg(&rec)
        .args([
            "--",
            "python3",
            &common::fake_driver(),
            "--scenario",
            "fail",
        ])
        .args(["--speed", "20"])
        .args(extra)
        .output()
        .unwrap();
    (rec, out)
}

#[test]
fn a_plain_run_is_recorded_as_under_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, out) = record_fail(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let live = String::from_utf8(out.stdout).unwrap();
    // The recording read back prints the same steps and failure.
    let again = vmscope().arg("log").arg(&rec).output().unwrap();
    let replayed = String::from_utf8(again.stdout).unwrap();
    assert_eq!(again.status.code(), Some(1));
    let steps = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.trim_start().starts_with(['✓', '✗']))
            .map(|l| l.split(" (").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(steps(&live), steps(&replayed), "{live}\n---\n{replayed}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("recorded into"));
}

#[test]
fn build_prints_the_tests_steps_and_exits_with_nixs_status() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // `nix build -L` of the real driver's failing run: its lines behind Nix's prefix, then
    // Nix's verdict.
    let capture = String::from_utf8_lossy(&common::real_driver("fail.stderr")).into_owned();
    let mut log = String::new();
    for line in vmscope::vm::sanitize::strip_sgr(&capture).lines() {
        log.push_str(&format!("vm-test-run-two-machines> {line}\n"));
    }
    log.push_str("error: builder for '/nix/store/6f1xq0fjm4s4cvh4a9ygfxcsv2b1mx4r-vm-test-run-two-machines.drv' failed with exit code 1\n");
    std::fs::write(dir.path().join("build.log"), log).unwrap();
    let nix = bin.join("nix");
    std::fs::write(
        &nix,
        format!(
            "#!/bin/sh\ncat '{}' >&2\nexit 1\n",
            dir.path().join("build.log").display()
        ),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&nix).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&nix, perm).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = vmscope()
        .args(["build", "--no-record", ".#checks.x86_64-linux.two-machines"])
        .env("PATH", path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "nix's status:\n{text}");
    // The capture's failing command, on machine2.
    assert!(
        text.lines()
            .any(|l| l.trim_start() == "✗ machine2: must succeed: false"),
        "{text}"
    );
    assert!(text.contains("  machine: machine2"), "{text}");
    assert!(text.contains("two-machines: FAILED"), "{text}");
}

/// A JUnit document with its times and the text of `<system-out>`/`<system-err>` left
/// out: its shape.
fn junit_shape(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find(['<', '"']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(tail) = rest.strip_prefix("<system-") {
            let tag_end = tail.find('>').unwrap();
            let tag = &tail[..tag_end];
            let close = format!("</system-{tag}>");
            let j = rest.find(&close).unwrap();
            out.push_str(&format!("<system-{tag}>…{close}"));
            rest = &rest[j + close.len()..];
        } else if let Some(tail) = rest.strip_prefix('"') {
            // An attribute's value: times differ by the clock, the rest must not.
            let end = tail.find('"').unwrap();
            let value = &tail[..end];
            let timed = out.ends_with("time=");
            out.push_str(if timed { "\"T\"" } else { "" });
            if !timed {
                out.push('"');
                out.push_str(value);
                out.push('"');
            }
            rest = &tail[end + 1..];
        } else {
            out.push('<');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn a_live_runs_junit_has_the_drivers_own_shape_and_agrees_with_it() {
    let dir = tempfile::tempdir().unwrap();
    // The fake driver writes its own report as the driver's reporter does.
    let (rec, out) = record_fail(
        dir.path(),
        &[
            "--junit-xml".as_ref(),
            "results.xml".as_ref(),
            "-o".as_ref(),
            dir.path().as_os_str(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let drivers = std::fs::read_to_string(dir.path().join("results.xml")).unwrap();
    let ours = vmscope()
        .args(["inspect", "--junit"])
        .arg(&rec)
        .output()
        .unwrap();
    let ours = String::from_utf8(ours.stdout).unwrap();
    assert_eq!(
        junit_shape(&ours),
        junit_shape(&drivers),
        "{ours}\n---\n{drivers}"
    );
    // The scenario's three subtests, the last one failed.
    assert!(
        ours.contains("<testcase name=\"the database accepts connections\"")
            && ours
                .matches("<failure message=\"test case failed\"/>")
                .count()
                == 1,
        "{ours}"
    );
    // Read beside the recording, the driver's report agrees with the log.
    let text = vmscope()
        .arg("log")
        .arg(&rec)
        .arg("--junit-xml")
        .arg(dir.path().join("results.xml"))
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("results.xml: 3 cases, 1 failed\n"),
        "no subtest added, no disagreement:\n{text}"
    );
}
