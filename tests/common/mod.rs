//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod pty;
pub mod sshd;

use std::path::PathBuf;

/// The real transcripts and captures the tests read: `tests/fixtures` (public data, with
/// their provenance in `tests/fixtures/README.md` and `logs/INDEX.md`).
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn log_fixture(prefix: &str) -> (String, Vec<u8>) {
    let dir = fixtures().join("logs");
    let mut found = std::fs::read_dir(&dir)
        .expect("fixtures/logs readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".log"))
        .collect::<Vec<_>>();
    assert_eq!(
        found.len(),
        1,
        "exactly one fixture starts with {prefix}: {found:?}"
    );
    let name = found.remove(0);
    let bytes = std::fs::read(dir.join(&name)).expect("fixture readable");
    (name, bytes)
}

pub fn real_driver(file: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("real-driver").join(file)).expect("capture readable")
}

pub fn all_log_fixtures() -> Vec<String> {
    let dir = fixtures().join("logs");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures/logs readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

/// Every transcript and every capture of the real driver (its stderr and the terminal
/// stream of an interactive run).
pub fn all_inputs() -> Vec<PathBuf> {
    let dir = fixtures();
    let mut v: Vec<PathBuf> = all_log_fixtures()
        .into_iter()
        .map(|n| dir.join("logs").join(n))
        .collect();
    for f in [
        "pass.stderr",
        "fail.stderr",
        "timeout.stderr",
        "interactive.pane.raw",
    ] {
        v.push(dir.join("real-driver").join(f));
    }
    v
}

/// Fails the test, saying why, unless python3 can import `modules` (scripts/test installs
/// them).
pub fn python_imports(modules: &str) {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 that can import {modules} is needed (scripts/test installs it)"
    );
}

/// Running processes (zombies left out) whose command line contains `needle`, as
/// `PID: COMMAND LINE`.
pub fn processes_naming(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let cmd = cmd.trim_end();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rfind(')')
                    .map(|i| s[i + 1..].trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if cmd.contains(needle) && !zombie {
            found.push(format!("{pid}: {cmd}"));
        }
    }
    found
}

/// Draws `app` on a test backend and returns the screen's text, a line per row.
pub fn screen(
    app: &mut vmscope::app::state::App,
    term: &mut ratatui::Terminal<ratatui::backend::TestBackend>,
) -> String {
    let mut drawn = Default::default();
    term.draw(|f| drawn = vmscope::panes::draw(f, app)).unwrap();
    app.laid_out(drawn);
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The fake driver's path (assets/demo/fake-driver.py).
pub fn fake_driver() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/demo/fake-driver.py")
        .display()
        .to_string()
}

/// The debug hook's marker process, `sleep ID`, as the driver forks it: it confirms a
/// breakpoint line. Killed when dropped.
pub struct Marker(std::process::Child);

impl Marker {
    pub fn start(id: &str) -> Self {
        let child = std::process::Command::new("sleep")
            .arg(id)
            .spawn()
            .expect("sleep runs");
        // Until it has exec'd, its command line is the test's.
        for _ in 0..200 {
            let cmd = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap_or_default();
            if cmd == format!("sleep\0{id}\0").as_bytes() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Self(child)
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory shaped like the store, with `<hash>-attach/bin/attach` in it: the parser
/// accepts it as the debug hook's program through `ParseOptions::extra_attach_store`.
pub struct AttachStore {
    pub dir: tempfile::TempDir,
    pub attach: String,
}

pub const ATTACH_HASH: &str = "ksr4kryl9jl2rmgyhjw9bn2divr3s2d5";

pub fn attach_store() -> AttachStore {
    let dir = tempfile::tempdir().unwrap();
    let attach = dir.path().join(format!("{ATTACH_HASH}-attach/bin/attach"));
    std::fs::create_dir_all(attach.parent().unwrap()).unwrap();
    std::fs::write(&attach, "#!/bin/sh\n").unwrap();
    AttachStore {
        attach: attach.display().to_string(),
        dir,
    }
}

/// A live app whose parser accepts `store`'s attach program.
pub fn app_with_store(
    store: &AttachStore,
    mode: vmscope::app::trust::Mode,
) -> vmscope::app::state::App {
    use vmscope::vm::{Caps, ParseOptions, Parser};
    let mut app = vmscope::app::state::App::new(
        Caps::default(),
        vmscope::app::keymap::Keymap::defaults(),
        "driver".into(),
        true,
    );
    app.input.parser = Parser::new(
        Caps::default(),
        ParseOptions {
            extra_attach_store: Some(store.dir.path().display().to_string()),
            ..ParseOptions::default()
        },
    );
    app.input.parser.run.live = true;
    app.checks.mode = mode;
    app
}

/// The key `c` pressed.
pub fn key(c: char) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c))
}

/// A recording of `real-driver/FILE` whose lines came evenly over `secs` seconds, with the
/// driver's exit status.
pub fn recording(file: &str, secs: u32, exit: i32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bytes = real_driver(file);
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let mut r =
        vmscope::vm::recording::Recorder::start(dir.path(), &["nixos-test-driver".into()], |_| {})
            .unwrap();
    let n = lines.len() as u32;
    for (i, line) in lines.iter().enumerate() {
        let ms = i as u32 * secs * 1000 / n;
        r.record(vmscope::vm::recording::Stream::Stderr, ms, line);
    }
    r.exit(exit);
    assert!(r.finish(std::time::Duration::from_secs(10)));
    dir
}

/// The graphical scenario run by the fake driver with its output directory in `dir`: its
/// stderr saved as `dir/run.log`, its screenshots `dir/login.png` and `dir/desktop.png`.
pub fn graphical_run(dir: &std::path::Path, machines: &str) -> PathBuf {
    let log = dir.join("run.log");
    let status = std::process::Command::new("python3")
        .arg(fake_driver())
        .args([
            "--scenario",
            "graphical",
            "--speed",
            "20",
            "--machines",
            machines,
        ])
        .arg("-o")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .expect("python3 runs the fake driver");
    assert_eq!(
        status.code(),
        Some(1),
        "the scenario fails on its last OCR wait"
    );
    for shot in ["login.png", "desktop.png"] {
        assert!(
            dir.join(shot).is_file(),
            "{shot} made (pnmtopng is needed: scripts/test installs netpbm)"
        );
    }
    log
}

/// The client's last console line before the step of its screenshot `shot` in `log`: the
/// line the screenshot is shown after.
pub fn console_before_shot(log: &std::path::Path, shot: &str) -> String {
    let text = vmscope::vm::sanitize::strip_sgr(&std::fs::read_to_string(log).unwrap());
    let step = text
        .lines()
        .position(|l| l.starts_with("client: making screenshot") && l.ends_with(shot))
        .unwrap_or_else(|| panic!("no step for {shot}"));
    text.lines()
        .take(step)
        .filter_map(|l| l.strip_prefix("client # "))
        .last()
        .unwrap_or_else(|| panic!("no console line before {shot}"))
        .to_string()
}
