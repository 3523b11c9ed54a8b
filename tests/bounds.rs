//! Memory stays bounded whatever the input does, and nothing but SGR is ever stored.

mod common;

use vmscope::vm::{Caps, ParseOptions, Parser};

#[test]
fn a_huge_line_and_a_flood_of_lines_stay_within_the_caps() {
    let caps = Caps {
        max_lines: 1000,
        max_bytes: 256 * 1024,
        ..Caps::default()
    };
    let mut p = Parser::new(caps, ParseOptions::default());
    p.feed(b"machine # ", 0);
    let chunk = vec![b'y'; 1 << 20];
    for _ in 0..50 {
        p.feed(&chunk, 0);
    }
    p.feed(b"\n", 0);
    for i in 0..200_000 {
        p.feed(
            format!("machine # line {i}\nsome driver line {i}\n").as_bytes(),
            0,
        );
    }
    p.finish();
    let t = &p.run.tests[0];
    let serial = &t.machines[0].serial;
    assert!(serial.len() <= 1000);
    assert!(
        serial.bytes() <= 256 * 1024 + 16 * 1024 + 64,
        "{}",
        serial.bytes()
    );
    assert!(t.driver.bytes() <= 256 * 1024 + 16 * 1024 + 64);
    // 50 MiB and the prefix's 10 bytes, in pieces of 16 KiB.
    assert_eq!(
        t.machines[0].serial_lines,
        3201 + 200_000,
        "every piece was counted"
    );
    assert!(serial.evicted() > 0);
    assert_eq!(
        serial.last().unwrap().plain(),
        "line 199999",
        "the newest lines are kept"
    );
}

#[test]
fn an_escape_storm_leaves_only_sgr() {
    let mut input = Vec::new();
    for i in 0..5000 {
        input.extend_from_slice(
            format!(
                "\x1b[2mvm # \x1b]52;c;{i}\x07\x1b]0;t{i}\x1b\\\x1b[6n\x1b[{i};1H\x1b[?25l\x1b[1;31mred{i}\x1b[0m\x1b[0m\n"
            )
            .as_bytes(),
        );
    }
    let run = Parser::parse_all(&input, Caps::default(), ParseOptions::default());
    let m = &run.tests[0].machines[0];
    assert_eq!(m.serial_lines, 5000);
    for (i, (_, line)) in m.serial.iter().enumerate() {
        assert_eq!(line.plain(), format!("red{i}"));
        assert_eq!(line.display(), format!("\x1b[1;31mred{i}\x1b[0m"));
    }
}

/// What the status bar calls the current step, in plain and coloured live input.
#[test]
fn the_current_step_follows_the_run() {
    for coloured in [false, true] {
        let start = |m: &str, msg: &str| {
            if coloured {
                format!("{m}: \x1b[1m\x1b[32m{msg}\x1b[0m\n")
            } else {
                format!("{m}: {msg}\n")
            }
        };
        let mut p = Parser::new(Caps::default(), ParseOptions::default());
        p.run.live = true;
        p.feed(
            start("server", "waiting for unit nginx.service").as_bytes(),
            0,
        );
        let cur = |p: &Parser| p.run.tests[0].current_step().map(|a| a.title.clone());
        assert_eq!(
            cur(&p).as_deref(),
            Some("waiting for unit nginx.service"),
            "coloured={coloured}"
        );
        p.feed(start("server", "must succeed: curl x").as_bytes(), 1);
        assert_eq!(cur(&p).as_deref(), Some("must succeed: curl x"));
        p.feed(
            b"server: (finished: must succeed: curl x, in 0.10 seconds)\n",
            2,
        );
        assert_eq!(cur(&p).as_deref(), Some("waiting for unit nginx.service"));
        p.feed(
            b"server: (finished: waiting for unit nginx.service, in 0.20 seconds)\n",
            3,
        );
        assert_eq!(cur(&p), None);
        assert_eq!(p.run.outcome(), vmscope::vm::Outcome::Running);
    }
}

/// The driver's terminal names the machines (symbols block) and their backdoor (SSH block)
/// before any of them boots; the REPL's drawing around them is ignored.
#[test]
fn the_terminal_stream_names_machines_and_backdoor_addresses() {
    let raw = common::real_driver("interactive.pane.raw");
    let mut p = Parser::new(Caps::default(), ParseOptions::default());
    // Only the part before `start_all()`: nothing has booted yet.
    let before = raw
        .windows(9)
        .position(|w| w == b"start_all")
        .unwrap_or(raw.len());
    p.feed_terminal(&raw[..before]);
    let names: Vec<&str> = p.run.tests[0]
        .machines
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["machine1", "machine2", "machine3"]);
    assert_eq!(
        p.run.tests[0].driver.len(),
        0,
        "the terminal's lines are not driver lines"
    );

    let mut p = Parser::new(Caps::default(), ParseOptions::default());
    p.feed_terminal(b"SSH backdoor enabled, the machines can be accessed like this:\r\n\x1b[1mNote:\x1b[0m this requires \x1b[1msystemd-ssh-proxy(1)\x1b[0m to be enabled.\r\n    client:  \x1b[1mssh -o User=root vsock-mux//tmp/x/client_host.socket\x1b[0m\r\n    server:  \x1b[1mssh -o User=root vsock-mux//tmp/x/server_host.socket\x1b[0m\r\nIn [1]: ");
    let ssh: Vec<(&str, &str)> = p.run.tests[0]
        .ssh
        .iter()
        .map(|e| (e.machine.as_str(), e.command.as_str()))
        .collect();
    assert_eq!(
        ssh,
        [
            (
                "client",
                "ssh -o User=root vsock-mux//tmp/x/client_host.socket"
            ),
            (
                "server",
                "ssh -o User=root vsock-mux//tmp/x/server_host.socket"
            )
        ]
    );
}

/// Shapes no driver writes but a log can hold, each read in bounded time (generous bounds:
/// a debug build on a loaded machine) and written out as JSON and text without overflowing
/// the stack or growing faster than the input.
fn pathological(name: &str, text: &str) -> vmscope::vm::TestRun {
    let start = std::time::Instant::now();
    let run = Parser::parse_all(text.as_bytes(), Caps::default(), ParseOptions::default());
    let json = vmscope::vm::export::json(&run);
    let out = vmscope::vm::export::text(&run);
    let took = start.elapsed();
    assert!(took.as_secs() < 120, "{name}: {took:?}");
    assert!(
        json.len() < 40 * text.len() + 100_000 && out.len() < 40 * text.len() + 100_000,
        "{name}: {} bytes of JSON, {} of text from {}",
        json.len(),
        out.len(),
        text.len()
    );
    run
}

#[test]
fn deep_nesting_is_read_and_reported_without_recursion() {
    let mut text = String::new();
    for i in 0..1_000_000 {
        text.push_str(&format!("\x1b[1m\x1b[32mstep {i}\x1b[0m\n"));
    }
    let run = pathological("1M nested steps", &text);
    let t = &run.tests[0];
    assert_eq!(t.steps.len(), 1_000_000);
    let doc: serde_json::Value = serde_json::from_str(&vmscope::vm::export::json(&run)).unwrap();
    let mut depth = 0;
    let mut node = &doc["tests"][0]["steps"][0];
    while let Some(next) = node["children"].get(0) {
        depth += 1;
        node = next;
    }
    assert_eq!(
        depth,
        vmscope::vm::export::MAX_SHOWN_DEPTH,
        "nesting shown is bounded"
    );
}

#[test]
fn a_hundred_thousand_machines_are_capped() {
    let mut text = String::new();
    for i in 0..100_000 {
        text.push_str(&format!("m{i}: starting vm\nm{i} # hello\n"));
    }
    let run = pathological("100k machines", &text);
    let t = &run.tests[0];
    assert_eq!(t.machines.len(), vmscope::vm::parser::MAX_MACHINES);
    assert!(t.machines_refused >= 100_000 - vmscope::vm::parser::MAX_MACHINES as u64);
}

#[test]
fn a_million_subtests_and_runs_of_early_closes_stay_linear() {
    let mut text = String::new();
    for i in 0..1_000_000 {
        text.push_str(&format!(
            "subtest: s{i}\n(finished: subtest: s{i}, in 0.01 seconds)\n"
        ));
    }
    let run = pathological("1M subtests", &text);
    assert_eq!(run.tests[0].subtests.len(), 1_000_000);
    let mut text = String::new();
    for _ in 0..200_000 {
        text.push_str("(0.05 seconds)\n");
    }
    pathological("200k early closes", &text);
    let mut text = String::from("SSH backdoor enabled, the machines can be accessed like this:\n");
    for i in 0..40_000 {
        text.push_str(&format!("    m{i}:  ssh -o User=root vsock/{}\n", i + 3));
    }
    let run = pathological("40k backdoor entries", &text);
    assert_eq!(run.tests[0].ssh.len(), vmscope::vm::parser::MAX_MACHINES);
}

#[test]
fn cr_only_input_and_long_lines_count_input_lines() {
    let run = Parser::parse_all(b"a\r\rb\r", Caps::default(), ParseOptions::default());
    assert_eq!(run.lines, 3, "the empty line between the CRs is a line");
    let long = format!("{}\nnext\n", "x".repeat(100_000));
    let run = Parser::parse_all(long.as_bytes(), Caps::default(), ParseOptions::default());
    assert_eq!(run.lines, 2, "the pieces of a long line are one input line");
}

#[test]
fn split_writes_a_thousand_machines_with_a_bounded_set_of_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("many.log");
    let mut text = String::new();
    for round in 0..2 {
        for i in 0..1200 {
            text.push_str(&format!("m{i} # line {round}\n"));
        }
    }
    std::fs::write(&log, &text).unwrap();
    let out = dir.path().join("out");
    let input = vmscope::vm::source::Input::open(log.to_str().unwrap()).unwrap();
    let (run, written) = vmscope::split::split(input, &out, Caps::default()).unwrap();
    let machines = vmscope::vm::parser::MAX_MACHINES;
    assert_eq!(run.tests[0].machines.len(), machines);
    assert_eq!(
        written.len(),
        machines + 1,
        "a file per machine and the driver's"
    );
    // Files closed to make room were appended to when opened again.
    assert_eq!(
        std::fs::read_to_string(out.join("m0.log")).unwrap(),
        "line 0\nline 1\n"
    );
    // Names past the cap stay in the driver's log.
    let driver = std::fs::read_to_string(out.join("driver.log")).unwrap();
    assert!(
        driver.contains("m1100 # line 1"),
        "{}",
        &driver[..200.min(driver.len())]
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".vmscope-split-")
        })
        .collect();
    assert!(left.is_empty(), "no scratch directory is left");
}

/// A log of `n` finished steps inside the script's step, which stays open.
fn many_steps(n: usize) -> Vec<u8> {
    let mut log = b"\x1b[1m\x1b[32mrun the VM test script\x1b[0m\n".to_vec();
    for i in 0..n {
        log.extend_from_slice(
            format!(
                "machine: \x1b[1m\x1b[32mmust succeed: echo {i}\x1b[0m\n\
                 machine: (finished: must succeed: echo {i}, in 0.01 seconds)\n"
            )
            .as_bytes(),
        );
    }
    log
}

#[test]
fn the_step_tree_keeps_the_newest_steps_and_counts_the_rest() {
    let caps = Caps {
        max_steps: 100,
        ..Caps::default()
    };
    let run = Parser::parse_all(&many_steps(5000), caps, ParseOptions::default());
    let t = &run.tests[0];
    let steps = &t.steps;
    assert_eq!(steps.len(), 5001, "ids count every step ever opened");
    assert!(steps.held() <= 110, "{} steps held", steps.held());
    assert_eq!(steps.evicted() as usize + steps.held(), 5001);
    // The open step that holds them all stays, with only the children memory holds.
    let script = t.roots[0];
    assert_eq!(steps[script as usize].title, "run the VM test script");
    let kids = &steps[script as usize].children;
    assert!(kids.iter().all(|&c| steps.holds(c)));
    assert_eq!(
        steps[*kids.last().unwrap() as usize].title,
        "must succeed: echo 4999",
        "the newest step is kept"
    );
    // An evicted step reads as an empty placeholder, not a panic.
    assert_eq!(steps[1].title, "");
}

#[test]
fn inspect_says_how_many_steps_left_memory() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("steps.log");
    std::fs::write(&log, many_steps(300)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect", "--max-steps", "50"])
        .arg(&log)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let note = text
        .lines()
        .find(|l| l.contains("earlier steps left memory"))
        .unwrap_or_else(|| panic!("no note:\n{text}"));
    let gone: usize = note
        .trim()
        .trim_start_matches("⋯ ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The cap is kept to within a tenth over it: 50 to 55 of the 301 steps stay.
    assert!((246..=251).contains(&gone), "{note}");
    assert!(text.contains("must succeed: echo 299"), "{text}");
    assert!(!text.contains("must succeed: echo 10 "), "{text}");
}

/// `inspect` and `split` keep only a machine's last console lines: what they print is the
/// same as with every line kept, for every real log.
#[test]
fn counting_serial_lines_instead_of_keeping_them_changes_no_report() {
    let counting = Caps {
        keep_serial: false,
        ..Caps::default()
    };
    for path in common::all_inputs() {
        let bytes = std::fs::read(&path).unwrap();
        let kept = Parser::parse_all(&bytes, Caps::default(), ParseOptions::default());
        let counted = Parser::parse_all(&bytes, counting, ParseOptions::default());
        assert_eq!(
            vmscope::vm::export::json(&kept),
            vmscope::vm::export::json(&counted),
            "{}",
            path.display()
        );
        assert_eq!(
            vmscope::vm::export::text(&kept),
            vmscope::vm::export::text(&counted),
            "{}",
            path.display()
        );
    }
    // And the consoles' stores stay small however much they print.
    let log = many_serial_lines(200_000);
    let run = Parser::parse_all(&log, counting, ParseOptions::default());
    let m = &run.tests[0].machines[0];
    assert_eq!(m.serial_lines, 200_000);
    assert!(
        m.serial.bytes() <= 64 << 10,
        "{} bytes kept",
        m.serial.bytes()
    );
}

fn many_serial_lines(n: usize) -> Vec<u8> {
    let mut log = Vec::new();
    for i in 0..n {
        log.extend_from_slice(
            format!("server # [ {i}.000000] systemd[1]: Started unit {i}.\n").as_bytes(),
        );
    }
    log
}

#[test]
fn failures_and_tracebacks_are_capped() {
    let mut log = String::new();
    for i in 0..3000 {
        log.push_str(&format!(
            "\x1b[31m!!! \x1b[0mTest \"sub {i}\" failed with error: \"command `false {i}` failed\"\n"
        ));
    }
    log.push_str("\x1b[31m!!! \x1b[0mTraceback (most recent call last):\n");
    for i in 0..100_000 {
        log.push_str(&format!(
            "\x1b[31m!!! \x1b[0m  File \"<string>\", line {i}, in <module>\n"
        ));
    }
    log.push_str("\x1b[31m!!! \x1b[0mRequestedAssertionFailed: the end\n");
    let run = Parser::parse_all(log.as_bytes(), Caps::default(), ParseOptions::default());
    let t = &run.tests[0];
    assert!(t.failures.len() <= 1001, "{} failures", t.failures.len());
    assert!(t.failures_dropped >= 1999, "{}", t.failures_dropped);
    assert!(
        t.failures[0].message.contains("false 0`"),
        "the first is kept"
    );
    let tb = t.failures.iter().map(|f| f.traceback.len()).max().unwrap();
    assert!((1..=501).contains(&tb), "{tb} traceback lines kept");
    assert!(
        vmscope::vm::export::text(&run).contains("more failures not kept"),
        "inspect says so"
    );
}
