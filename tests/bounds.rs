//! Memory stays bounded whatever the input does, and nothing but SGR is ever stored.

mod common;

use vmscope::vm::{Caps, ParseOptions, Parser};

#[test]
fn a_huge_line_and_a_flood_of_lines_stay_within_the_caps() {
    let caps = Caps {
        max_lines: 1000,
        max_bytes: 256 * 1024,
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
