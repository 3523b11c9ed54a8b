//! The parser against every real transcript and every capture of the real driver.
//!
//! Expectations were written by reading each log (INDEX.md says what each shows): its
//! machines, how many serial lines each printed (lines behind `NAME # ` / `NAME# `), the
//! failure and its message, the SSH backdoor and the breakpoint. Every fixture is also
//! checked in two generated variants, coloured as the live driver colours its output and
//! wrapped in `vm-test-run-NAME> ` as `nix build -L` prints it: the model must not change.

mod common;

use std::collections::BTreeMap;

use vmscope::vm::model::{FailureKind, MachineState, Outcome, StepState, TestRun, line_kind};
use vmscope::vm::{Caps, ParseOptions, Parser};

fn parse(bytes: &[u8]) -> TestRun {
    Parser::parse_all(bytes, Caps::default(), ParseOptions::default())
}

#[derive(Debug, Default, Clone)]
struct Want {
    name: Option<&'static str>,
    machines: &'static [(&'static str, u64)],
    outcome: Option<Outcome>,
    /// Kind and the exact message of the first failure.
    failure: Option<(FailureKind, &'static str)>,
    command: Option<&'static str>,
    failing_machine: Option<&'static str>,
    subtest: Option<&'static str>,
    ssh: &'static [(&'static str, &'static str)],
    breakpoint: Option<(&'static str, &'static str)>,
    exit_code: Option<i32>,
}

fn check(label: &str, run: &TestRun, wants: &[Want]) {
    let tests: Vec<_> = run.visible_tests().map(|(_, t)| t).collect();
    assert_eq!(tests.len(), wants.len(), "{label}: number of tests");
    for (t, w) in tests.iter().zip(wants) {
        let ctx = format!("{label} / test {:?}", t.name);
        if let Some(n) = w.name {
            assert_eq!(t.name.as_deref(), Some(n), "{ctx}: name");
        }
        let got: BTreeMap<&str, u64> = t
            .machines
            .iter()
            .map(|m| (m.name.as_str(), m.serial_lines))
            .collect();
        let want: BTreeMap<&str, u64> = w.machines.iter().copied().collect();
        assert_eq!(got, want, "{ctx}: machines and serial line counts");
        assert_eq!(Some(t.outcome(false)), w.outcome, "{ctx}: outcome");
        let first = t
            .failures
            .iter()
            .find(|f| f.kind != FailureKind::KernelPanic);
        match (first, w.failure) {
            (None, None) => {}
            (Some(f), Some((kind, msg))) => {
                assert_eq!(f.kind, kind, "{ctx}: failure kind ({f:?})");
                assert_eq!(f.message, msg, "{ctx}: failure message");
                if let Some(c) = w.command {
                    assert_eq!(f.command.as_deref(), Some(c), "{ctx}: failing command");
                }
                if let Some(m) = w.failing_machine {
                    assert_eq!(f.machine.as_deref(), Some(m), "{ctx}: failing machine");
                }
                if let Some(s) = w.subtest {
                    assert_eq!(f.subtest.as_deref(), Some(s), "{ctx}: failing subtest");
                }
            }
            (got, want) => panic!("{ctx}: failure: got {got:?}, want {want:?}"),
        }
        let ssh: Vec<(&str, &str)> = t
            .ssh
            .iter()
            .map(|e| (e.machine.as_str(), e.command.as_str()))
            .collect();
        assert_eq!(ssh, w.ssh, "{ctx}: ssh backdoor");
        let bp = t
            .breakpoint
            .as_ref()
            .map(|b| (b.line.attach.as_str(), b.line.id.as_str()));
        assert_eq!(bp, w.breakpoint, "{ctx}: breakpoint");
        if w.exit_code.is_some() {
            assert_eq!(t.exit_code, w.exit_code, "{ctx}: exit code");
        }
    }
}

/// What must not change between a log and its generated variants.
fn summary(run: &TestRun) -> Vec<String> {
    run.visible_tests()
        .map(|(_, t)| {
            let mut machines: Vec<String> = t
                .machines
                .iter()
                .map(|m| format!("{}={}:{:?}:{:?}", m.name, m.serial_lines, m.state, m.pid))
                .collect();
            machines.sort();
            let failures: Vec<String> = t
                .failures
                .iter()
                .map(|f| format!("{:?}|{:?}|{}|{:?}|{:?}|{:?}", f.kind, f.exception, f.message, f.machine, f.command, f.subtest))
                .collect();
            let subtests: Vec<String> = t.subtests.iter().map(|s| format!("{}:{:?}", s.name, s.state)).collect();
            format!(
                "machines {machines:?}\noutcome {:?}\nfailures {failures:#?}\nsubtests {subtests:?}\nssh {:?}\nbreakpoint {:?}\npdb {:?}",
                t.outcome(false),
                t.ssh.iter().map(|e| (&e.machine, &e.command)).collect::<Vec<_>>(),
                t.breakpoint.as_ref().map(|b| &b.line),
                t.pdb,
            )
        })
        .collect()
}

/// Nix's own lines: `nix build -L` never prefixes them.
fn is_nix_line(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("error: build")
        || l.starts_with("builder for '")
        || l.starts_with("these ")
        || l.starts_with("building '")
        || l.starts_with("For full logs")
        || l.starts_with("last ")
        || (line.starts_with("/nix/store/") && !line.contains(' '))
        || (line.starts_with("  /nix/store/") && line.ends_with(".drv"))
        || line.starts_with('$')
        || line.starts_with("nix-build")
}

fn split_machine(line: &str) -> (Option<&str>, &str) {
    if let Some(i) = line.find(": ") {
        let name = &line[..i];
        if !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return (Some(name), &line[i + 2..]);
        }
    }
    (None, line)
}

/// The log as the live driver would have printed it (reference §2.1): serial lines dim,
/// `!!! ` red, nested starts bold green (those a later `(finished: …)` closes, and the
/// known nested starts when the driver generation has them), backdoor commands bold.
fn coloured(text: &str) -> String {
    let split: Vec<(&str, &str)> = text.split('\n').map(nix_prefix).collect();
    let inner: Vec<&str> = split.iter().map(|(_, l)| *l).collect();
    split
        .iter()
        .zip(colour_lines(&inner))
        .map(|((p, _), l)| format!("{p}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits a `vm-test-run-NAME> ` or Nix tail prefix off a line.
fn nix_prefix(l: &str) -> (&str, &str) {
    if l.starts_with("vm-test-run-")
        && let Some(i) = l.find("> ")
    {
        return (&l[..i + 2], &l[i + 2..]);
    }
    for p in ["       > ", "> "] {
        if let Some(rest) = l.strip_prefix(p) {
            return (&l[..p.len()], rest);
        }
    }
    ("", l)
}

fn colour_lines(lines: &[&str]) -> Vec<String> {
    let text = lines.join("\n");
    let has_finished = text.contains("(finished: ");
    let finished: std::collections::HashSet<&str> = lines
        .iter()
        .filter_map(|l| {
            let (_, msg) = split_machine(l);
            let inner = msg.strip_prefix("(finished: ")?;
            Some(&inner[..inner.rfind(", in ")?])
        })
        .collect();
    let mut out = Vec::new();
    let mut in_ssh = false;
    for l in lines {
        let is_serial = {
            let hash = l.find('#');
            hash.is_some_and(|h| {
                let name = l[..h].strip_suffix(' ').unwrap_or(&l[..h]);
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    && (l[h + 1..].is_empty() || l[h + 1..].starts_with(' '))
            })
        };
        if in_ssh && l.starts_with("    ") && l.contains(":  ")
            || in_ssh && l.starts_with("    ") && l.contains(": ssh")
        {
            let i = l.find("ssh ").unwrap_or(l.len());
            out.push(format!("{}\x1b[1m{}\x1b[0m", &l[..i], &l[i..]));
            continue;
        }
        in_ssh = l.starts_with("SSH backdoor enabled, the machines")
            || (in_ssh && l.starts_with("Note:"));
        if is_serial {
            out.push(format!("\x1b[2m{l}\x1b[0m"));
        } else if let Some(rest) = l.strip_prefix("!!! ").or((*l == "!!!").then_some("")) {
            out.push(format!("\x1b[31m!!! \x1b[0m{rest}"));
        } else {
            let (m, msg) = split_machine(l);
            let nested = has_finished
                && (finished.contains(msg)
                    || ["must succeed: ", "must fail: ", "subtest: ", "waiting for "]
                        .iter()
                        .any(|p| msg.starts_with(p)));
            if nested && !msg.starts_with("(finished") {
                match m {
                    Some(m) => out.push(format!("{m}: \x1b[1m\x1b[32m{msg}\x1b[0m")),
                    None => out.push(format!("\x1b[1m\x1b[32m{msg}\x1b[0m")),
                }
            } else {
                out.push(l.to_string());
            }
        }
    }
    out
}

/// The log as `nix build -L` prints it: every builder line behind `vm-test-run-NAME> `.
fn wrapped(text: &str, name: &str) -> String {
    text.split('\n')
        .map(|l| {
            if is_nix_line(l) {
                l.to_string()
            } else {
                format!("vm-test-run-{name}> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn test_name_of(text: &str) -> String {
    text.find("-vm-test-run-")
        .map(|i| {
            let rest = &text[i + 13..];
            let end = rest
                .find(|c: char| c == '\'' || c.is_whitespace() || c == '.')
                .unwrap_or(rest.len());
            rest[..end].to_string()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "variant".to_string())
}

fn check_fixture(prefix: &str, wants: &[Want]) {
    let (name, bytes) = common::log_fixture(prefix);
    check_log(&name, &bytes, wants);
}

/// A transcript of the repository's own corpus (`tests/corpus/`, see its INDEX.md).
fn check_corpus(file: &str, wants: &[Want]) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    check_log(file, &bytes, wants);
}

fn check_log(name: &str, bytes: &[u8], wants: &[Want]) {
    let name = name.to_string();
    let text = String::from_utf8_lossy(bytes).into_owned();
    let run = parse(bytes);
    check(&name, &run, wants);

    let col = coloured(&text);
    let colourable = text.contains(" # ")
        || text.contains("# ")
        || text.contains("!!!")
        || text.contains("(finished: ")
        || text.contains("SSH backdoor enabled");
    // What has nothing to colour stays as it is (a log may have the shapes and still
    // nothing the variant colours, as an excerpt whose steps all started before it).
    if !colourable {
        assert_eq!(col, text, "{name}: the coloured variant is the log");
    }
    let run_col = parse(col.as_bytes());
    assert_eq!(summary(&run_col), summary(&run), "{name}: coloured variant");

    let prefixed = text.lines().any(|l| l.starts_with("vm-test-run-"));
    let tail = text
        .lines()
        .any(|l| l.starts_with("> ") || l.starts_with("       > "));
    if !prefixed && !tail {
        let test = test_name_of(&text);
        for variant in [wrapped(&text, &test), wrapped(&col, &test)] {
            let run_w = parse(variant.as_bytes());
            assert_eq!(summary(&run_w), summary(&run), "{name}: wrapped variant");
            let names: Vec<_> = run_w.visible_tests().map(|(_, t)| t.name.clone()).collect();
            assert_eq!(
                names,
                vec![Some(test.clone())],
                "{name}: wrapped variant's test name"
            );
        }
    }
}

fn w() -> Want {
    Want::default()
}

#[test]
fn f01_perl_boot_single_pass() {
    check_fixture(
        "01-",
        &[Want {
            name: Some("normal-boot"),
            machines: &[("machine", 79)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

#[test]
fn f02_py2020_mayastor_pass() {
    check_fixture(
        "02-",
        &[Want {
            name: Some("fio_against_nvmf_target"),
            machines: &[("initiator", 11), ("target", 0)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

#[test]
fn f02_early_closes_nest_the_bare_subtest_titles() {
    let (_, bytes) = common::log_fixture("02-");
    let run = parse(&bytes);
    let t = &run.tests[0];
    let titles: Vec<&str> = t
        .roots
        .iter()
        .map(|&id| t.steps[id as usize].title.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "should be able to discover the target",
            "should be able to connecto to the target",
            "should be able to run FIO with verify=crc32",
            "should be able to disconnect from the target",
            "cleaning up"
        ]
    );
    let fio = &t.steps[t.roots[2] as usize];
    assert_eq!(fio.secs, Some(15.74));
    assert_eq!(fio.children.len(), 1);
    assert!(
        t.steps[fio.children[0] as usize]
            .title
            .starts_with("initiator: must succeed: fio")
            || t.steps[fio.children[0] as usize]
                .title
                .starts_with("must succeed: fio")
    );
}

#[test]
fn f03_interactive_shell_interact() {
    check_fixture(
        "03-",
        &[Want {
            machines: &[("machine", 9)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn f04_prefixed_ping_fail_traceback_cut_off() {
    check_fixture(
        "04-",
        &[Want {
            name: Some("integration-tests"),
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Exception,
                "`must succeed: ping -c 3 8.8.8.8` did not finish: an error ended the test script (the input ends inside its traceback, before the exception line)",
            )),
            command: Some("ping -c 3 8.8.8.8"),
            failing_machine: Some("machine"),
            ..w()
        }],
    );
}

#[test]
fn f05_prefixed_ping_pass_tail() {
    check_fixture(
        "05-",
        &[Want {
            name: Some("integration-tests"),
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

#[test]
fn f06_nested_subtests_pass() {
    check_fixture(
        "06-",
        &[Want {
            machines: &[("android-builder", 0)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
    let (_, bytes) = common::log_fixture("06-");
    let run = parse(&bytes);
    let t = &run.tests[0];
    let fhs = t
        .steps
        .iter()
        .find(|s| s.title == "subtest: Checking FHS Environment")
        .expect("FHS subtest");
    let inner: Vec<&str> = fhs
        .children
        .iter()
        .map(|&c| t.steps[c as usize].title.as_str())
        .collect();
    assert_eq!(
        inner,
        [
            "subtest: /usr/bin/env can be executed",
            "subtest: Executables in /bin can be run",
            "subtest: /bin/bash sets default $PATH and is a regular file with the correct linker",
            "subtest: dynamic linkers exist as regular files in /lib(64) and search /lib"
        ]
    );
    assert_eq!(fhs.secs, Some(0.09));
    assert_eq!(t.subtests.len(), 7);
    assert!(t.subtests.iter().all(|s| s.state == StepState::Passed));
}

#[test]
fn f07_flake_check_pass() {
    check_fixture(
        "07-",
        &[Want {
            machines: &[("node1", 6)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

#[test]
fn f08_prefixed_interleaved_boot() {
    check_fixture(
        "08-",
        &[Want {
            name: Some("serveur-client"),
            machines: &[("client", 9), ("serveur", 4)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn f09_prefixed_test_excerpt() {
    check_fixture(
        "09-",
        &[Want {
            name: Some("serveur-client"),
            machines: &[("client", 3), ("serveur", 3)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn f10_prefixed_tail_pass() {
    check_fixture(
        "10-",
        &[Want {
            name: Some("list-dependencies"),
            machines: &[("alice", 8)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

#[test]
fn f11_interactive_repl() {
    check_fixture(
        "11-",
        &[Want {
            machines: &[("client", 0), ("server", 0)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn f12_debug_hook_breakpoint_and_backdoor() {
    check_fixture(
        "12-",
        &[Want {
            name: Some("test"),
            machines: &[("machine", 0), ("machine1", 0), ("machine2", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Assertion,
                "command `false` unexpectedly failed",
            )),
            command: Some("false"),
            failing_machine: Some("machine"),
            ssh: &[
                (
                    "machine1",
                    "ssh -o User=root vsock-mux//build/tmpjaxpbq5p/machine1_host.socket",
                ),
                (
                    "machine2",
                    "ssh -o User=root vsock-mux//build/tmpjaxpbq5p/machine2_host.socket",
                ),
            ],
            breakpoint: Some((
                "/nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach",
                "3766386",
            )),
            ..w()
        }],
    );
}

#[test]
fn f13_interactive_backdoor_vsock() {
    check_fixture(
        "13-",
        &[Want {
            machines: &[("machine1", 0), ("machine2", 0), ("machine3", 0)],
            outcome: Some(Outcome::Unknown),
            ssh: &[
                ("machine1", "ssh -o User=root vsock/3"),
                ("machine2", "ssh -o User=root vsock/4"),
                ("machine3", "ssh -o User=root vsock/5"),
            ],
            ..w()
        }],
    );
}

#[test]
fn f14_py2020_broken_pipe() {
    check_fixture(
        "14-",
        &[Want {
            name: Some("unnamed"),
            machines: &[("machine", 2)],
            outcome: Some(Outcome::Failed),
            failure: Some((FailureKind::DriverError, "[Errno 32] Broken pipe")),
            exit_code: Some(1),
            ..w()
        }],
    );
}

#[test]
fn f15_perl_unit_failed() {
    check_fixture(
        "15-",
        &[Want {
            name: Some("graphite"),
            machines: &[("one", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::DriverError,
                "unit ‘graphiteWeb.service’ reached state ‘failed’",
            )),
            exit_code: Some(255),
            ..w()
        }],
    );
}

#[test]
fn f17_perl_vm_quit_before_connecting() {
    check_fixture(
        "17-",
        &[Want {
            name: Some("pgmanage"),
            machines: &[("one", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((FailureKind::DriverError, "the VM quit before connecting")),
            exit_code: Some(255),
            ..w()
        }],
    );
}

#[test]
fn f18_perl_pass_summary() {
    check_fixture(
        "18-",
        &[Want {
            name: Some("borgbackup"),
            machines: &[("client", 0), ("server", 1)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

#[test]
fn f20_perl_interleaved_truncated() {
    check_fixture(
        "20-",
        &[Want {
            machines: &[("client1", 20), ("client2", 0)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn f22_py2023_cleanup_then_traceback() {
    check_fixture(
        "22-",
        &[Want {
            machines: &[("agent", 1), ("api", 1)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Exception,
                "(the input ends inside the traceback, before its exception line)",
            )),
            ..w()
        }],
    );
}

#[test]
fn f24_nix_tail_two_failed_tests() {
    check_fixture(
        "24-",
        &[
            Want {
                name: Some("systemd-boot-update"),
                outcome: Some(Outcome::Failed),
                failure: Some((
                    FailureKind::Assertion,
                    "systemd-boot not copied to to /boot/EFI/systemd/systemd-bootx64.efi",
                )),
                ..w()
            },
            Want {
                name: Some("systemd-lock-handler"),
                outcome: Some(Outcome::TimedOut),
                failure: Some((
                    FailureKind::GlobalTimeout,
                    "the driver was terminated by SIGTERM (exit code 143): the global timeout",
                )),
                exit_code: Some(143),
                ..w()
            },
        ],
    );
}

#[test]
fn f25_perl_clipped_lines_pass() {
    check_fixture(
        "25-",
        &[Want {
            name: Some("k"),
            machines: &[("machine1", 5)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

#[test]
fn f27_guest_shell_hang() {
    check_fixture(
        "27-",
        &[Want {
            name: Some("test-installation-"),
            machines: &[("installer", 1), ("server", 4), ("target", 0)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn f29_nix_tail_bang_traceback() {
    check_fixture(
        "29-",
        &[Want {
            machines: &[("machine", 3)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Assertion,
                "command `xl version` failed (exit code 1)",
            )),
            command: Some("xl version"),
            failing_machine: Some("machine"),
            ..w()
        }],
    );
}

#[test]
fn f30_padded_serial() {
    check_fixture(
        "30-",
        &[Want {
            machines: &[("machine", 7)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
    let (_, bytes) = common::log_fixture("30-");
    let run = parse(&bytes);
    let first = run.tests[0].machines[0]
        .serial
        .get(0)
        .expect("first serial line");
    assert_eq!(
        first.plain().len(),
        132 - "machine # ".len(),
        "trailing spaces are kept"
    );
    assert!(first.plain().trim_end().ends_with("EDK II"));
}

#[test]
fn f32_py2020_subtest_summary() {
    check_fixture(
        "32-",
        &[Want {
            // `killing machine (pid 6)`: the early driver names the machine it kills.
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((FailureKind::Subtest, "Failing for demonstration purposes")),
            subtest: Some("root fs is fsckd"),
            ..w()
        }],
    );
}

#[test]
fn f34_backdoor_without_note() {
    check_fixture(
        "34-",
        &[Want {
            machines: &[("collector", 0), ("exporter", 0)],
            outcome: Some(Outcome::Unknown),
            ssh: &[
                ("collector", "ssh -o User=root vsock/3"),
                ("exporter", "ssh -o User=root vsock/4"),
            ],
            ..w()
        }],
    );
}

#[test]
fn f36_nested_guest_serial() {
    check_fixture(
        "36-",
        &[Want {
            machines: &[("machine", 14)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn f38_lazy_start_pass() {
    check_fixture(
        "38-",
        &[Want {
            machines: &[("client", 6), ("server", 2)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

#[test]
fn every_fixture_has_a_test_here() {
    let source = include_str!("fixtures.rs");
    for name in common::all_log_fixtures() {
        let prefix = &name[..3];
        assert!(
            source.contains(&format!("\"{prefix}\"")),
            "{name} has no test in tests/fixtures.rs"
        );
    }
}

fn serial_count(bytes: &[u8], machine: &str) -> u64 {
    let needle = format!("\x1b[2m{machine} # ");
    let text = String::from_utf8_lossy(bytes);
    text.matches(&needle).count() as u64
}

#[test]
fn real_driver_pass() {
    let err = common::real_driver("pass.stderr");
    let out = common::real_driver("pass.stdout");
    let run = parse(&err);
    let t = &run.tests[0];
    let want: BTreeMap<&str, u64> = ["machine1", "machine2", "machine3"]
        .into_iter()
        .map(|m| (m, serial_count(&err, m)))
        .collect();
    let got: BTreeMap<&str, u64> = t
        .machines
        .iter()
        .map(|m| (m.name.as_str(), m.serial_lines))
        .collect();
    assert_eq!(got, want);
    assert!(got.values().all(|&n| n > 80));
    assert_eq!(run.outcome(), Outcome::Passed);
    assert!(t.failures.is_empty(), "{:?}", t.failures);
    assert_eq!(t.subtests.len(), 5);
    assert!(t.subtests.iter().all(|s| s.state == StepState::Passed));
    assert_eq!(
        t.machines[2].state,
        MachineState::ShutDown,
        "machine3 was shut down"
    );
    assert_eq!(t.machines[0].state, MachineState::Killed);
    assert_eq!(t.global_timeout_secs, Some(600.0));
    assert_eq!(t.script_secs, Some(3.93));
    // The warning block ends without a newline: the step start glued to it is still one.
    assert!(
        t.steps
            .iter()
            .any(|s| s.title == "waiting for success: true"
                && s.state == StepState::Passed
                && s.secs == Some(0.0))
    );

    // Stdout (symbols block, prints) and stderr in one stream name the same machines.
    let mut both = out.clone();
    both.extend_from_slice(&err);
    let run2 = parse(&both);
    let names: Vec<&str> = run2.tests[0]
        .machines
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["machine1", "machine2", "machine3"]);
}

#[test]
fn real_driver_fail() {
    let err = common::real_driver("fail.stderr");
    let run = parse(&err);
    let t = &run.tests[0];
    // `machine1: starting vmmachine2: starting vm`: two threads wrote one line.
    let names: Vec<&str> = t.machines.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["machine1", "machine2"]);
    for m in &t.machines {
        assert_eq!(m.serial_lines, serial_count(&err, &m.name));
    }
    assert_eq!(run.outcome(), Outcome::Failed);
    let f = &t.failures[0];
    assert_eq!(f.kind, FailureKind::Assertion);
    assert_eq!(f.exception.as_deref(), Some("RequestedAssertionFailed"));
    assert_eq!(f.message, "command `false` failed (exit code 1)");
    assert_eq!(f.subtest.as_deref(), Some("this one fails"));
    assert_eq!(f.command.as_deref(), Some("false"));
    assert_eq!(f.machine.as_deref(), Some("machine2"));
    assert_eq!(
        f.traceback,
        [
            "Traceback (most recent call last):",
            "  File \"<string>\", line 14, in <module>",
            "    machine2.succeed(\"false\")",
            "",
        ]
    );
    assert_eq!(t.failures.len(), 1);
    let sub = t
        .subtests
        .iter()
        .find(|s| s.name == "this one fails")
        .expect("subtest");
    assert_eq!(sub.state, StepState::Failed);
    let failed: Vec<&str> = t
        .steps
        .iter()
        .filter(|s| s.state == StepState::Failed)
        .map(|s| s.title.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "run the VM test script",
            "subtest: this one fails",
            "must succeed: false"
        ]
    );
    assert!(t.breakpoint.is_none());
}

#[test]
fn real_driver_timeout() {
    let err = common::real_driver("timeout.stderr");
    let run = parse(&err);
    let t = &run.tests[0];
    assert_eq!(t.machines.len(), 1);
    assert_eq!(t.machines[0].serial_lines, serial_count(&err, "machine1"));
    assert_eq!(run.outcome(), Outcome::TimedOut);
    let f = &t.failures[0];
    assert_eq!(f.kind, FailureKind::GlobalTimeout);
    assert_eq!(f.message, "the global timeout of 15 seconds was reached");
    assert_eq!(
        f.command.as_deref(),
        Some("test -e this-file-is-never-created")
    );
    assert_eq!(
        f.subtest.as_deref(),
        Some("wait for something that never happens")
    );
    assert_eq!(t.machines[0].state, MachineState::Killed);
}

#[test]
fn real_driver_interactive_pane() {
    let raw = common::real_driver("interactive.pane.raw");
    let run = parse(&raw);
    let t = &run.tests[0];
    let got: BTreeMap<&str, u64> = t
        .machines
        .iter()
        .map(|m| (m.name.as_str(), m.serial_lines))
        .collect();
    let want: BTreeMap<&str, u64> = ["machine1", "machine2", "machine3"]
        .into_iter()
        .map(|m| (m, serial_count(&raw, m)))
        .collect();
    assert_eq!(got, want);
    assert!(t.failures.is_empty());
    // prompt_toolkit's escapes never reach what is stored.
    for (_, line) in t.driver.iter() {
        let d = line.display();
        let mut rest = d;
        while let Some(i) = rest.find('\x1b') {
            let seq = &rest[i..];
            let end = seq.find('m').expect("only SGR remains");
            assert!(
                seq[2..end].bytes().all(|b| b.is_ascii_digit() || b == b';'),
                "non-SGR escape in {d:?}"
            );
            rest = &seq[end + 1..];
        }
    }
    assert!(
        t.steps
            .iter()
            .any(|s| s.title == "must succeed: echo hi" && s.state == StepState::Passed)
    );
}

/// The real driver's stderr as `nix build -L` shows it: escapes removed when Nix's stderr is
/// no terminal, every line behind `vm-test-run-NAME> `, with and without colours.
#[test]
fn real_driver_captures_in_plain_and_wrapped_variants() {
    for file in ["pass.stderr", "fail.stderr", "timeout.stderr"] {
        let raw = common::real_driver(file);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let run = parse(&raw);
        let plain = vmscope::vm::sanitize::strip_sgr(&text);
        assert_ne!(plain, text);
        let plain_run = parse(plain.as_bytes());
        assert_eq!(
            summary(&plain_run),
            summary(&run),
            "{file}: without colours"
        );
        for variant in [wrapped(&text, "real"), wrapped(&plain, "real")] {
            let run_w = parse(variant.as_bytes());
            assert_eq!(summary(&run_w), summary(&run), "{file}: wrapped");
            let names: Vec<_> = run_w.visible_tests().map(|(_, t)| t.name.clone()).collect();
            assert_eq!(names, vec![Some("real".to_string())]);
        }
    }
}

// The repository's own corpus (tests/corpus/INDEX.md says where each comes from).

#[test]
fn c01_py2021_subtest_error_then_plain_traceback() {
    check_corpus(
        "01-py2021-plutus-subtest-error-traceback.log",
        &[Want {
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Subtest,
                "Expected response wrapped in 'Right'. Actual: {\"Right\":{\"result\":\"\",\"warnings\":[]}}",
            )),
            subtest: Some(
                "********************************************************************************************* TEST: Can process a valid compilation request",
            ),
            ..w()
        }],
    );
}

#[test]
fn c02_perl2018_action_timed_out() {
    check_corpus(
        "02-perl2018-ofborg-xautolock-action-timed-out.log",
        &[Want {
            name: Some("xautolock"),
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Timeout,
                "action timed out after -1 seconds at /nix/store/vhy2am16zcdlav555dbdf7rjdb8786l9-nixos-test-driver/lib/perl5/site_perl/Machine.pm line 227, <__ANONIO__> line 901.",
            )),
            failing_machine: Some("machine"),
            exit_code: Some(255),
            ..w()
        }],
    );
}

#[test]
fn c03_py2024_traceback_cut_after_cleanup() {
    check_corpus(
        "03-py2024-scion-cleanup-kills-traceback-cut.log",
        &[Want {
            machines: &[],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Exception,
                "(the input ends inside the traceback, before its exception line)",
            )),
            ..w()
        }],
    );
}

#[test]
fn c04_py2025_screen_wait_left_open_at_cleanup() {
    check_corpus(
        "04-py2025-miriway-screen-wait-left-at-cleanup.log",
        &[Want {
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Exception,
                "`waiting for (alice|machine) to appear on screen` did not finish: an error ended the test script (its report is not in the input)",
            )),
            failing_machine: Some("machine"),
            ..w()
        }],
    );
}

#[test]
fn c05_py2026_serial_excerpt() {
    check_corpus(
        "05-py2026-lix-required-mounts-serial-excerpt.log",
        &[Want {
            machines: &[("machine", 4)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn c06_perl2019_error_wrapped_by_the_terminal() {
    check_corpus(
        "06-perl2019-systemd-unexpectedly-succeeded-wrapped.log",
        &[Want {
            machines: &[],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::DriverError,
                "command `dumpe2fs /dev/vdb | grep -q \"^Last mount time: *n/a\"' unexpectedly succeeded at /nix/store/39fb7m572abixj1qi7ddzx5lp3k64lw2-nixos-test-driver/lib/perl5/site_perl/Mach",
            )),
            ..w()
        }],
    );
}

#[test]
fn c07_py2025_serial_between_finishes() {
    check_corpus(
        "07-py2025-dev-console-serial-and-finishes-excerpt.log",
        &[Want {
            machines: &[("machine", 5)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
    let run = parse(
        &std::fs::read("tests/corpus/07-py2025-dev-console-serial-and-finishes-excerpt.log")
            .unwrap(),
    );
    let t = &run.tests[0];
    assert_eq!(t.machines[0].state, MachineState::Connected);
    let cmd = &t.steps[t.roots[0] as usize];
    assert_eq!(cmd.title, "must succeed: echo HELLO STDERR >&2");
    assert_eq!(
        t.steps[cmd.children[0] as usize].title,
        "waiting for the VM to finish booting"
    );
}

#[test]
fn c08_py2022_shell_interact() {
    check_corpus(
        "08-py2022-shell-interact-terminal-ready.log",
        &[Want {
            machines: &[("node1", 6)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
}

/// Each machine's state and pid after reading a corpus transcript.
fn corpus_states(file: &str) -> Vec<(String, MachineState, Option<u32>)> {
    let run = parse(&std::fs::read(format!("tests/corpus/{file}")).unwrap());
    let mut out: Vec<_> = run
        .visible_tests()
        .flat_map(|(_, t)| t.machines.iter())
        .map(|m| (m.name.clone(), m.state, m.pid))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn states(want: &[(&str, MachineState, Option<u32>)]) -> Vec<(String, MachineState, Option<u32>)> {
    want.iter()
        .map(|(n, s, p)| (n.to_string(), *s, *p))
        .collect()
}

#[test]
fn c09_perl2019_unit_inactive_no_pending_jobs() {
    let file = "09-perl2019-oneshot-unit-inactive-no-pending-jobs.log";
    check_corpus(
        file,
        &[Want {
            name: Some("oneshot"),
            machines: &[("machine", 3)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::DriverError,
                "unit ‘hello.service’ is inactive and there are no pending jobs",
            )),
            ..w()
        }],
    );
    assert_eq!(
        corpus_states(file),
        states(&[("machine", MachineState::Killed, Some(597))])
    );
}

#[test]
fn c10_perl2017_driver_dies_before_any_machine() {
    check_corpus(
        "10-perl2017-cannot-open-pty-before-any-machine.log",
        &[Want {
            name: Some("misc"),
            machines: &[],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::DriverError,
                "Cannot open a pty at /nix/store/k73dbm2s3kz7f8hvkinqsary635rvxj6-nixos-test-driver/bin/.nixos-test-driver-wrapped line 32.",
            )),
            ..w()
        }],
    );
}

#[test]
fn c11_perl2017_three_machines_killed_after_a_pass() {
    let file = "11-perl2017-natwithfirewall-three-machines-pass-tail.log";
    check_corpus(
        file,
        &[Want {
            machines: &[("client", 0), ("router", 0), ("server", 0)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
    assert_eq!(
        corpus_states(file),
        states(&[
            ("client", MachineState::Killed, Some(89)),
            ("router", MachineState::Killed, Some(79)),
            ("server", MachineState::Killed, Some(101)),
        ])
    );
}

#[test]
fn c12_py2020_subtest_error_with_bare_title() {
    check_corpus(
        "12-py2020-hardened-subtest-error-empty-output.log",
        &[Want {
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Subtest,
                "command `grep -Fq hidepid=2 /proc/mounts` failed (exit code 1)",
            )),
            command: Some("grep -Fq hidepid=2 /proc/mounts"),
            failing_machine: Some("machine"),
            subtest: Some("hidepid=2 option is applied and works"),
            ..w()
        }],
    );
}

#[test]
fn c13_py2025_script_prints_between_commands() {
    let file = "13-py2025-syncthing-script-prints-between-finishes-cut.log";
    check_corpus(
        file,
        &[Want {
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
    assert_eq!(
        corpus_states(file),
        states(&[("machine", MachineState::Connected, None)])
    );
}

#[test]
fn c14_prefixed2026_cleanup_while_the_vm_starts() {
    let file = "14-prefixed2026-whisparr-cleanup-before-qemu-ran-traceback-cut.log";
    check_corpus(
        file,
        &[Want {
            name: Some("whisparr"),
            machines: &[("machine", 0)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Exception,
                "`waiting for the VM to finish booting` did not finish: an error ended the test script (the input ends inside its traceback, before the exception line)",
            )),
            failing_machine: Some("machine"),
            ..w()
        }],
    );
    assert_eq!(
        corpus_states(file),
        states(&[("machine", MachineState::Booting, None)])
    );
}

#[test]
fn c15_py2026_two_machines_interleaved() {
    check_corpus(
        "15-py2026-openssh-client-server-initrd-interleaved-excerpt.log",
        &[Want {
            machines: &[("client", 11), ("server", 10)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn c16_py2024_serial_only() {
    check_corpus(
        "16-py2024-etc-overlay-aarch64-initrd-switch-serial.log",
        &[Want {
            machines: &[("machine", 17)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn c17_interactive2024_start_all_fails_in_the_repl() {
    // `start_all()` typed at the REPL raised (QEMU could not resolve the VNC address): the
    // traceback's first frame is `<stdin>`. That is the user's statement failing, not the
    // test: no failure is counted and nothing says how the test went; `start all VMs`,
    // which the exception left, is failed, and the traceback is shown as one.
    let file = "17-interactive2024-qemu-opts-vnc-resolution-start-all-traceback.log";
    check_corpus(
        file,
        &[Want {
            machines: &[("client", 0), ("server", 0)],
            outcome: Some(Outcome::Unknown),
            failure: None,
            ..w()
        }],
    );
    let run = parse(&std::fs::read(format!("tests/corpus/{file}")).unwrap());
    let t = &run.tests[0];
    assert!(t.failures.is_empty(), "{:?}", t.failures);
    let start = t.steps.iter().find(|s| s.title == "start all VMs").unwrap();
    assert_eq!(start.state, StepState::Failed);
    let stdin = t
        .driver
        .iter()
        .find(|(_, l)| l.plain().contains("File \"<stdin>\", line 1"))
        .unwrap();
    assert_eq!(stdin.1.kind, line_kind::TRACEBACK);
}

#[test]
fn c18_py2022_mypy_message_wrapped_by_mypy() {
    let file = "18-py2022-mosquitto-mypy-wrapped-errors.log";
    check_corpus(
        file,
        &[Want {
            machines: &[],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Typecheck,
                "\"wait_for_console_text\" of \"Machine\" does not return a value",
            )),
            ..w()
        }],
    );
    let run = parse(&std::fs::read(format!("tests/corpus/{file}")).unwrap());
    // Each diagnostic is a failure of its own, at its own line (0-based here).
    let lines: Vec<u64> = run.tests[0].failures.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![0, 4, 8]);
}

#[test]
fn c19_py2021_quoted_traceback_of_a_retry_timeout() {
    check_corpus(
        "19-py2021-action-timed-out-traceback-quoted.log",
        &[Want {
            machines: &[],
            outcome: Some(Outcome::Failed),
            failure: Some((FailureKind::Timeout, "action timed out")),
            ..w()
        }],
    );
}

#[test]
fn c20_perl2018_serial_tail_of_a_hang() {
    check_corpus(
        "20-perl2018-zfsroot-boot-then-900s-silence.log",
        &[Want {
            machines: &[("machine", 13)],
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
}

#[test]
fn c21_py2020_failed_command_then_cut_traceback() {
    check_corpus(
        "21-py2020-cardano-nc-port-check-empty-output-traceback-cut.log",
        &[Want {
            machines: &[("machine", 1)],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Exception,
                "(the input ends inside the traceback, before its exception line)",
            )),
            command: Some("nc -z 127.0.0.1 12798"),
            failing_machine: Some("machine"),
            ..w()
        }],
    );
}

#[test]
fn c22_nix2022_type_check_in_the_builder_tail() {
    check_corpus(
        "22-nixerr2022-nitter-mypy-in-nix-tail.log",
        &[Want {
            name: Some("nitter"),
            machines: &[],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::Typecheck,
                "Argument 1 to \"wait_for_open_port\" of \"Machine\" has incompatible type \"str\"; expected \"int\"",
            )),
            exit_code: Some(1),
            ..w()
        }],
    );
}

#[test]
fn c23_perl2018_pass_tail_with_out_path() {
    let file = "23-perl2018-ofborg-netdata-pass-tail-out-path.log";
    check_corpus(
        file,
        &[Want {
            name: Some("netdata"),
            machines: &[("netdata", 0)],
            outcome: Some(Outcome::Passed),
            ..w()
        }],
    );
    assert_eq!(
        corpus_states(file),
        states(&[("netdata", MachineState::Killed, Some(597))])
    );
}

#[test]
fn c24_perl2018_kernel_panic_in_stage_1() {
    let file = "24-perl2018-nfs-client1-fsck-kernel-panic.log";
    check_corpus(
        file,
        &[Want {
            machines: &[("client1", 22)],
            // A panic alone does not say the test failed (some tests provoke one).
            outcome: Some(Outcome::Unknown),
            ..w()
        }],
    );
    let run = parse(&std::fs::read(format!("tests/corpus/{file}")).unwrap());
    let panics: Vec<_> = run.tests[0]
        .failures
        .iter()
        .map(|f| (f.kind, f.machine.as_deref()))
        .collect();
    assert_eq!(panics, vec![(FailureKind::KernelPanic, Some("client1"))]);
}

#[test]
fn c25_py2020_bare_assert_without_message() {
    check_corpus(
        "25-py2020-bare-assert-empty-error-no-traceback.log",
        &[Want {
            name: Some("unnamed"),
            machines: &[],
            outcome: Some(Outcome::Failed),
            failure: Some((
                FailureKind::DriverError,
                "(an exception without a message, as a bare `assert` raises)",
            )),
            exit_code: Some(1),
            ..w()
        }],
    );
}

/// Where the workplace's shared fixtures are when they sit beside the repository.
fn shared_fixtures() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("VMSCOPE_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
        .join("fixtures");
    dir.is_dir().then_some(dir)
}

#[test]
fn the_repository_holds_every_shared_fixture_as_it_is() {
    // A clone alone (a Nix build) has nothing to compare with: its fixtures are its own.
    let Some(shared) = shared_fixtures() else {
        eprintln!("no shared fixtures beside the repository: nothing to compare");
        return;
    };
    for sub in ["logs", "real-driver"] {
        for entry in std::fs::read_dir(shared.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap();
            let ours = common::fixtures().join(sub).join(name);
            let theirs = std::fs::read(&path).unwrap();
            let mine = std::fs::read(&ours).unwrap_or_else(|_| {
                panic!(
                    "{} is not in tests/fixtures: copy it there, with its provenance and expectations",
                    path.display()
                )
            });
            assert!(
                mine == theirs,
                "{} differs from the shared copy",
                ours.display()
            );
        }
    }
}
