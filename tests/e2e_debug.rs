//! The debug hook under `vmscope run`: the fake driver fails with `--debug-hook-attach`,
//! prints the breakpoint line and waits in a real remote-pdb (installed by scripts/test) on
//! a free loopback port; vmscope reads both from the driver's stderr as they come, pdb
//! answers over TCP, and `c` lets the driver finish with its failure.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::pty::{Term, scaled};

const ATTACH: &str = "/nix/store/0c8a4k3xw5s1q2mhz9n7r6dyb1l0vfpj-attach/bin/attach";

fn inspect(rec: &Path) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect", "--json", rec.to_str().unwrap()])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// Reads from pdb until `want` arrived (or the time is up).
fn read_until(s: &mut TcpStream, want: &str) -> String {
    let deadline = Instant::now() + scaled(Duration::from_secs(20));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        assert!(
            Instant::now() < deadline,
            "pdb did not say {want:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("reading pdb: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn a_failure_pauses_in_remote_pdb_and_continue_ends_the_run() {
    common::python_imports("remote_pdb");
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("session");
    let drv = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/fake-driver.py");
    let mut t = Term::spawn(
        &[
            "run",
            "--record",
            rec.to_str().unwrap(),
            "--",
            "python3",
            drv.to_str().unwrap(),
            "--scenario",
            "fail",
            "--speed",
            "20",
            // argparse takes the abbreviation, as run.nix passes it.
            &format!("--debug-hook={ATTACH}"),
            "--pdb-port",
            "0",
        ],
        140,
        40,
    );
    t.wait_text("Breakpoint reached", 30);

    // The run's model has the breakpoint and pdb's address while the driver waits.
    let deadline = Instant::now() + scaled(Duration::from_secs(20));
    let doc = loop {
        let doc = inspect(&rec);
        if doc["tests"][0]["pdb"]["port"].is_u64() {
            break doc;
        }
        assert!(
            Instant::now() < deadline,
            "no pdb address in the recording: {doc}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let test = &doc["tests"][0];
    assert_eq!(test["breakpoint"]["attach"], ATTACH);
    let id = test["breakpoint"]["id"].as_str().unwrap();
    assert!(
        (6..=7).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(test["pdb"]["host"], "127.0.0.1");
    assert_eq!(test["failures"][0]["machine"], "database", "{test}");
    assert_eq!(
        test["exit_code"],
        serde_json::Value::Null,
        "paused, not over"
    );
    let port = u16::try_from(test["pdb"]["port"].as_u64().unwrap()).unwrap();

    // The driver's marker process for attach runs while it waits.
    let marker = format!("sleep {id}");
    let has_marker = || {
        common::processes_naming(&marker)
            .iter()
            .any(|p| p.ends_with(&format!(": {marker}")))
    };
    assert!(has_marker(), "no `{marker}` process for attach to find");

    let mut pdb = TcpStream::connect(("127.0.0.1", port)).unwrap();
    pdb.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    read_until(&mut pdb, "(Pdb) ");
    pdb.write_all(b"p 6*7\n").unwrap();
    let answer = read_until(&mut pdb, "(Pdb) ");
    assert!(answer.contains("42\r\n"), "CRLF answers: {answer:?}");
    pdb.write_all(b"c\n").unwrap();

    t.wait_text("the driver exited with status 1", 30);
    assert!(t.text().contains("FAILED"), "{}", t.text());
    assert!(!has_marker(), "the marker ends with the driver");
    t.keys("q");
    assert_eq!(t.wait_exit(10), 1);
    let doc = inspect(&rec);
    assert_eq!(doc["tests"][0]["outcome"], "failed", "{doc}");
}
