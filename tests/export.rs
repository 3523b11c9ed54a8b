//! `vmscope export --cast`: a recording as an asciicast that asciinema plays back.

mod common;

use common::pty::Term;

#[test]
fn a_recording_becomes_an_asciicast_that_asciinema_plays() {
    let rec = common::recording("fail.stderr", 8, 1);
    let dir = tempfile::tempdir().unwrap();
    let cast = dir.path().join("run.cast");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["export", "--cast"])
        .arg(&cast)
        .arg("--size")
        .arg("120x40")
        .arg(rec.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&cast).unwrap();
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(
        (
            header["version"].as_u64(),
            header["width"].as_u64(),
            header["height"].as_u64()
        ),
        (Some(2), Some(120), Some(40))
    );
    let events: Vec<serde_json::Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    let times: Vec<f64> = events.iter().map(|e| e[0].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "times only grow");
    assert!(
        events.len() > 20,
        "frames as the run went: {}",
        events.len()
    );
    // The failure's report came about 7.6 s into the 8 s recording: the marker is there.
    let marker = events.iter().find(|e| e[1] == "m").expect("a marker");
    assert_eq!(marker[2], "the test failed");
    let at = marker[0].as_f64().unwrap();
    assert!((7.0..=8.1).contains(&at), "{at}");
    // asciinema plays it: its last screen is the failure view.
    let mut t = Term::spawn_program("asciinema", &["cat", cast.to_str().unwrap()], 120, 40);
    t.wait_text("TEST FAILED", 20);
    t.wait_exit(20);
    assert!(t.text().contains("RequestedAssertionFailed"));
}
