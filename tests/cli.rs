//! `inspect` and `split` on every fixture and on stdin, and bad input of every kind.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn vmscope(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(args)
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("vmscope-cli-test-config"),
        )
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vmscope");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        // Write from another thread: the child may fill its stdout meanwhile.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    child.wait_with_output().expect("wait")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn inspect_json_on_every_fixture_and_on_stdin() {
    for path in common::all_inputs() {
        let p = path.to_str().unwrap();
        let from_file = vmscope(&["inspect", "--json", p], None);
        let doc = json(&from_file);
        let outcome = doc["outcome"].as_str().unwrap().to_string();
        let want_status = if outcome == "failed" || outcome == "timed_out" {
            1
        } else {
            0
        };
        assert_eq!(
            from_file.status.code(),
            Some(want_status),
            "{p}: exit status for {outcome}"
        );
        assert!(
            doc["tests"].as_array().is_some_and(|t| !t.is_empty()),
            "{p}"
        );
        for t in doc["tests"].as_array().unwrap() {
            for key in [
                "name",
                "outcome",
                "machines",
                "steps",
                "subtests",
                "failures",
                "ssh",
                "breakpoint",
                "driver_lines",
            ] {
                assert!(t.get(key).is_some(), "{p}: test has {key}");
            }
        }
        let bytes = std::fs::read(&path).unwrap();
        let from_stdin = vmscope(&["inspect", "--json", "-"], Some(&bytes));
        assert_eq!(json(&from_stdin), doc, "{p}: stdin gives the same document");
        let text = vmscope(&["inspect", p], None);
        assert_eq!(text.status.code(), Some(want_status));
        assert!(String::from_utf8_lossy(&text.stdout).contains("outcome:"));
    }
}

#[test]
fn inspect_json_documents_the_fail_capture() {
    let p = common::fixtures().join("real-driver/fail.stderr");
    let doc = json(&vmscope(&["inspect", "--json", p.to_str().unwrap()], None));
    let t = &doc["tests"][0];
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(t["machines"][1]["name"], "machine2");
    assert_eq!(t["machines"][1]["state"], "killed");
    assert_eq!(t["machines"][1]["pid"], 26711);
    assert_eq!(t["failures"][0]["kind"], "assertion");
    assert_eq!(t["failures"][0]["exception"], "RequestedAssertionFailed");
    assert_eq!(t["failures"][0]["machine"], "machine2");
    assert_eq!(t["failures"][0]["command"], "false");
    assert_eq!(t["failures"][0]["subtest"], "this one fails");
    assert_eq!(t["subtests"][1]["state"], "failed");
    let run = &t["steps"][1];
    assert_eq!(run["title"], "run the VM test script");
    assert_eq!(run["state"], "failed");
    assert_eq!(t["steps"][0]["seconds"], 0.0);
}

#[test]
fn inspect_json_gives_backdoor_addresses() {
    let p = common::fixtures().join("logs/12-prefixed-debughook-breakpoint-sshbackdoor-docs.log");
    let doc = json(&vmscope(&["inspect", "--json", p.to_str().unwrap()], None));
    let t = &doc["tests"][0];
    assert_eq!(t["ssh"][0]["address"]["kind"], "vsock_mux");
    assert_eq!(
        t["ssh"][0]["address"]["path"],
        "/build/tmpjaxpbq5p/machine1_host.socket"
    );
    assert_eq!(t["breakpoint"]["id"], "3766386");
    assert_eq!(t["breakpoint"]["line"], 14);
}

#[test]
fn split_on_every_fixture_and_on_stdin() {
    for path in common::all_inputs() {
        let p = path.to_str().unwrap();
        let doc = json(&vmscope(&["inspect", "--json", p], None));
        let dir = tempfile::tempdir().unwrap();
        let out = vmscope(&["split", p, "--out", dir.path().to_str().unwrap()], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tests = doc["tests"].as_array().unwrap();
        for t in tests {
            let base = if tests.len() == 1 {
                dir.path().to_path_buf()
            } else {
                dir.path().join(t["name"].as_str().unwrap())
            };
            for m in t["machines"].as_array().unwrap() {
                let name = m["name"].as_str().unwrap();
                let n = m["serial_lines"].as_u64().unwrap();
                let file = base.join(format!("{name}.log"));
                let got = std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("{p}: {}: {e}", file.display()))
                    .lines()
                    .count() as u64;
                assert_eq!(got, n, "{p}: {}", file.display());
            }
            if t["driver_lines"].as_u64().unwrap() > 0 {
                assert!(base.join("driver.log").exists(), "{p}: driver.log");
            }
        }
        // From stdin, the same files.
        let dir2 = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let out = vmscope(
            &["split", "-", "--out", dir2.path().to_str().unwrap()],
            Some(&bytes),
        );
        assert_eq!(out.status.code(), Some(0));
        let list = |d: &std::path::Path| {
            let mut v: Vec<String> = walk(d)
                .into_iter()
                .map(|p| p.strip_prefix(d).unwrap().display().to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(list(dir.path()), list(dir2.path()), "{p}");
    }
}

fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn split_removes_prefixes_and_keeps_the_driver_apart() {
    let p = common::fixtures().join("logs/08-prefixed-serveur-client-boot-interleaved.log");
    let dir = tempfile::tempdir().unwrap();
    let out = vmscope(
        &[
            "split",
            p.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let serveur = std::fs::read_to_string(dir.path().join("serveur.log")).unwrap();
    assert_eq!(
        serveur.lines().next(),
        Some("[   68.528118] systemd[1]: Starting Update is Completed...")
    );
    let driver = std::fs::read_to_string(dir.path().join("driver.log")).unwrap();
    assert_eq!(
        driver, "[...]\n",
        "only the author's elision is no machine's"
    );
}

#[test]
fn missing_unreadable_and_directory_inputs_are_clear_errors() {
    let out = vmscope(&["inspect", "/nonexistent/log.txt"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "vmscope: /nonexistent/log.txt: no such file"
    );
    let out = vmscope(&["log", "/nonexistent/log.txt"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
    let dir = tempfile::tempdir().unwrap();
    let out = vmscope(&["inspect", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
    // Opens, but every read fails.
    let out = vmscope(&["inspect", "/proc/self/mem"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reading /proc/self/mem"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = vmscope(&["inspect"], None);
    assert_eq!(out.status.code(), Some(2), "usage error");
}

#[test]
fn invalid_utf8_nul_bytes_and_cr_line_ends() {
    let input = b"m1 # caf\xe9 \x00nul\rm1 # second\rm2 # third\r\n!!! Breakpoint reached, run 'sudo /nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 12\xff34'\r";
    let out = vmscope(&["inspect", "--json", "-"], Some(input));
    let doc = json(&out);
    let t = &doc["tests"][0];
    assert_eq!(t["machines"][0]["name"], "m1");
    assert_eq!(t["machines"][0]["serial_lines"], 2);
    assert_eq!(t["machines"][1]["serial_lines"], 1);
    assert_eq!(
        t["breakpoint"],
        serde_json::Value::Null,
        "a mangled id is not a breakpoint"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = vmscope(
        &["split", "-", "--out", dir.path().to_str().unwrap()],
        Some(input),
    );
    assert_eq!(out.status.code(), Some(0));
    let m1 = std::fs::read_to_string(dir.path().join("m1.log")).unwrap();
    assert_eq!(m1, "caf\u{fffd} nul\nsecond\n");
}

#[test]
fn a_50_mb_line_without_newline() {
    let mut input = b"machine # ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 50 * 1024 * 1024));
    let out = vmscope(&["inspect", "--json", "-"], Some(&input));
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["input"]["bytes"], input.len() as u64);
    let t = &doc["tests"][0];
    assert_eq!(t["machines"][0]["name"], "machine");
    // The line is kept as pieces of 16 KiB, every one the machine's.
    let pieces = t["machines"][0]["serial_lines"].as_u64().unwrap();
    assert_eq!(pieces, (input.len() as u64).div_ceil(16 * 1024));
    // split writes every byte of it.
    let dir = tempfile::tempdir().unwrap();
    let out = vmscope(
        &["split", "-", "--out", dir.path().to_str().unwrap()],
        Some(&input),
    );
    assert_eq!(out.status.code(), Some(0));
    let written: usize = std::fs::read_to_string(dir.path().join("machine.log"))
        .unwrap()
        .lines()
        .map(str::len)
        .sum();
    assert_eq!(written, 50 * 1024 * 1024);
}

#[test]
fn spoofed_breakpoints_are_rejected() {
    let attach = "/nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach";
    let cases = [
        // A guest prints the driver's line on its console.
        format!("\x1b[2mmachine # \x1b[31m!!! \x1b[0mBreakpoint reached, run 'sudo {attach} 3766386'\x1b[0m\n"),
        format!("machine # !!! Breakpoint reached, run 'sudo {attach} 3766386'\n"),
        // Command output of a failed succeed().
        format!("machine: must succeed: cat x\nmachine: output: line one\n!!! Breakpoint reached, run 'sudo {attach} 3766386'\n"),
        // An attach program outside the store.
        "!!! Breakpoint reached, run 'sudo /tmp/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 3766386'\n".to_string(),
        "!!! Breakpoint reached, run 'sudo /nix/store/../../tmp/x-attach/bin/attach 3766386'\n".to_string(),
        // Something after the id.
        format!("!!! Breakpoint reached, run 'sudo {attach} 3766386; rm -rf /'\n"),
    ];
    for case in &cases {
        let doc = json(&vmscope(&["inspect", "--json", "-"], Some(case.as_bytes())));
        assert_eq!(
            doc["tests"][0]["breakpoint"],
            serde_json::Value::Null,
            "accepted: {case:?}"
        );
    }
    let real = format!("\x1b[31m!!! \x1b[0mBreakpoint reached, run 'sudo {attach} 3766386'\n");
    let doc = json(&vmscope(&["inspect", "--json", "-"], Some(real.as_bytes())));
    assert_eq!(
        doc["tests"][0]["breakpoint"]["attach"], attach,
        "the driver's own line is accepted"
    );
}

#[test]
fn json_failure_lines_are_one_based_like_the_trigger() {
    let log =
        b"subtest: s\nmachine: must succeed: false\n!!! Test \"s\" failed with error: \"boom\"\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.log");
    std::fs::write(&path, log).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &doc["tests"][0];
    // The `!!! Test` line is the third.
    assert_eq!(t["failures"][0]["line"], 3, "{t}");
    assert_eq!(t["trigger"]["line"], 3, "{t}");
}

#[test]
fn the_manual_page_and_completions_describe_every_subcommand() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let man = run(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH vmscope 1"),
        "{man}"
    );
    assert!(man.contains(".TH vmscope 1"));
    let subcommands = [
        "log",
        "inspect",
        "diff",
        "split",
        "run",
        "interactive",
        "build",
        "proxy",
        "man",
        "completions",
        "demo",
    ];
    for sub in subcommands {
        assert!(
            man.contains(&format!("vmscope\\-{sub}")) || man.contains(sub),
            "{sub}"
        );
    }
    let bash = run(&["completions", "bash"]);
    assert!(bash.contains("complete -F _vmscope"), "{bash}");
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bash.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(checked.success(), "bash reads its completions");
    let zsh = run(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef vmscope"), "{zsh}");
    let fish = run(&["completions", "fish"]);
    for sub in subcommands {
        assert!(bash.contains(sub) && zsh.contains(sub), "{sub} completes");
        assert!(fish.contains(&format!("-a \"{sub}\"")), "{sub} in fish");
    }
}

#[test]
fn the_version_names_the_git_revision_it_was_built_from() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("vmscope {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    // Built from a git checkout (as the tests are): the revision is one git knows.
    let git = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".git");
    if git.exists() {
        let rev = text
            .split("(git ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or_else(|| panic!("no revision in {text}"));
        assert!(
            rev.len() >= 7 && rev.chars().all(|c| c.is_ascii_hexdigit()),
            "{rev}"
        );
        let known = std::process::Command::new("git")
            .args(["cat-file", "-e", &format!("{rev}^{{commit}}")])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(known.success(), "{rev} is a commit here");
    }
}

#[test]
fn diagnostics_go_to_a_file_never_to_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("diag/vmscope.log");
    let capture = common::fixtures().join("real-driver/fail.stderr");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .arg("--log-file")
        .arg(&log)
        .args(["inspect", "--json"])
        .arg(&capture)
        .env("VMSCOPE_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the JSON alone");
    let text = std::fs::read_to_string(&log).expect("the diagnostics file");
    assert!(text.contains("vmscope starts"), "{text}");
    assert!(text.contains("command{name=\"inspect\"}"), "{text}");
    assert!(
        text.contains("bytes=") && text.contains("lines=198"),
        "{text}"
    );
    // Without --log-file: under the state directory.
    let state = dir.path().join("state");
    std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect"])
        .arg(&capture)
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    assert!(state.join("vmscope/vmscope.log").is_file());
}
