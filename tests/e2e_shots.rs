//! Screenshots on the screen: the fake driver's graphical scenario takes two, as the driver
//! does (QEMU's `screendump` PPM, converted by `pnmtopng` into its output directory), and
//! vmscope shows them from the saved log in half-blocks whose colours are the PNG's.

mod common;

use common::pty::{Term, find};

/// vmscope on `args` with `env`, past the failure view to client's pane, where `key` is
/// pressed.
fn at_client(args: &[&str], env: &[(&str, &str)], key: &str) -> Term {
    let mut t = Term::spawn_env(args, 160, 48, env);
    t.wait_text("TEST FAILED", 20);
    t.keys("b");
    t.wait_text("1 client", 5);
    t.keys("1");
    t.keys(key);
    t
}

fn rgb(c: vt100::Color) -> Option<[u8; 3]> {
    match c {
        vt100::Color::Rgb(r, g, b) => Some([r, g, b]),
        _ => None,
    }
}

/// The colour shown at cell (`row`, `col`)'s upper or lower half.
fn half(s: &vt100::Screen, row: u16, col: u16, upper: bool) -> Option<[u8; 3]> {
    let cell = s.cell(row, col)?;
    let (fg, bg) = (rgb(cell.fgcolor()), rgb(cell.bgcolor()));
    match (cell.contents(), upper) {
        ("▀", true) | ("▄", false) => fg,
        ("▀", false) | ("▄", true) => bg,
        // A cell of one colour is drawn as a space on that background.
        _ => bg.or(fg),
    }
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 40)
}

/// The picture under the panel titled `title` has the colours of `png` where its regions
/// are: the title bar, the window, the ground around it, the red mark.
fn sampled_like(s: &vt100::Screen, title: &str, png: &std::path::Path) {
    let (title_row, title_col) = find(s, title).unwrap();
    // The image: the cells below the panel's title with true colours.
    let mut cells = Vec::new();
    for row in title_row + 1..48 {
        for col in title_col.saturating_sub(2)..160 {
            if s.cell(row, col)
                .is_some_and(|c| rgb(c.fgcolor()).is_some() || rgb(c.bgcolor()).is_some())
            {
                cells.push((row, col));
            }
        }
    }
    assert!(
        cells.len() > 200,
        "an image was drawn: {} cells",
        cells.len()
    );
    let top = cells.iter().map(|c| c.0).min().unwrap();
    let bottom = cells.iter().map(|c| c.0).max().unwrap();
    let left = cells.iter().map(|c| c.1).min().unwrap();
    let right = cells.iter().map(|c| c.1).max().unwrap();
    let png = image::open(png).unwrap().to_rgb8();
    let (w, h) = png.dimensions();
    // Points well inside the picture's regions: the title bar, the window, the ground
    // around it, the red mark.
    for (rx, ry, what) in [
        (0.5, 0.04, "title bar"),
        (0.5, 0.5, "window"),
        (0.03, 0.5, "ground"),
        (0.5, 0.96, "ground below"),
        (0.906, 0.05, "red mark"),
    ] {
        let want = png
            .get_pixel((rx * w as f64) as u32, (ry * h as f64) as u32)
            .0;
        let col = left + (rx * f64::from(right - left + 1)) as u16;
        let y2 = ry * f64::from(bottom - top + 1) * 2.0;
        let row = top + (y2 / 2.0) as u16;
        let got = half(s, row, col, (y2 as u16).is_multiple_of(2))
            .unwrap_or_else(|| panic!("{what}: no colour at {row},{col}"));
        assert!(
            close(got, want),
            "{what}: the cell at {row},{col} is {got:?}, the PNG {want:?}"
        );
    }
}

#[test]
fn a_screenshot_is_drawn_in_half_blocks_of_its_own_colours() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::graphical_run(dir.path(), "client,server");
    let log_s = log.display().to_string();
    // The panes, client's focused; the pane ends at the failure, after both screenshots.
    let mut t = at_client(&["log", &log_s], &[], "v");
    t.wait_text("client · screenshot 2 of 2 · desktop.png", 5);
    t.wait_text("OCR waited for Firefox", 5);
    t.wait_text("read: Desktop ⏎ Terminal ⏎ Files", 5);
    sampled_like(
        &t.screen(),
        "client · screenshot 2 of 2",
        &dir.path().join("desktop.png"),
    );
    // Each is marked at the client's last console line before its step in the log.
    let mut before: Vec<String> = ["login.png", "desktop.png"]
        .iter()
        .map(|shot| common::console_before_shot(&log, shot))
        .collect();
    before.dedup();
    let s = t.screen();
    let marked: Vec<String> = (0..48)
        .filter_map(|r| {
            let row: String = (0..60)
                .filter_map(|c| s.cell(r, c).map(|x| x.contents()))
                .collect();
            row.contains('▣').then_some(row)
        })
        .collect();
    assert_eq!(marked.len(), before.len(), "{marked:?} {before:?}");
    for (row, line) in marked.iter().zip(&before) {
        let shown: String = line.chars().take(30).collect();
        assert!(row.contains(&format!("▣{shown}")), "{row:?} vs {line:?}");
    }
    // The other screenshot, and back.
    t.keys("I");
    t.wait_text("client · screenshot 1 of 2 · login.png", 5);
    t.keys("v");
    t.wait_for("the panel hidden", 5, |s| {
        find(s, "screenshot 1 of 2").is_none()
    });
    // And on the timeline's events row, two of them.
    t.keys("T");
    t.wait_text("events ✗ ! ▲ ▣", 5);
    let s = t.screen();
    let (row, _) = find(&s, "events ✗ ! ▲ ▣").unwrap();
    let events: String = (0..160)
        .filter_map(|c| s.cell(row, c).map(|x| x.contents()))
        .collect();
    assert!(events.matches('▣').count() >= 2, "{events}");
    t.esc();
    t.keys("q");
    t.wait_exit(10);
}

#[test]
fn a_screenshot_not_in_a_trusted_directory_is_said_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::graphical_run(dir.path(), "client,server");
    // The log alone elsewhere: its screenshots are not beside it.
    let other = tempfile::tempdir().unwrap();
    let moved = other.path().join("run.log");
    std::fs::copy(&log, &moved).unwrap();
    let moved_s = moved.display().to_string();
    let mut t = at_client(&["log", &moved_s], &[("DISPLAY", "")], "v");
    t.wait_text("desktop.png is not in", 5);
    t.keys("q");
    t.wait_exit(10);
    // Given with --out-dir, they are found; `o` without a desktop says where the file is.
    let out = dir.path().display().to_string();
    let mut t = at_client(
        &["log", &moved_s, "--out-dir", &out],
        &[("DISPLAY", ""), ("WAYLAND_DISPLAY", "")],
        "V",
    );
    t.wait_text("client · screenshot 2 of 2 · desktop.png", 5);
    t.keys("o");
    t.wait_text("no desktop viewer here", 5);
    t.wait_text("desktop.png", 5);
    t.keys("q");
    t.wait_exit(10);
}

#[test]
fn a_live_runs_screenshots_are_shown_and_kept_with_its_recording() {
    let out = tempfile::tempdir().unwrap();
    let rec = tempfile::tempdir().unwrap();
    let rec_dir = rec.path().join("session");
    let (out_s, rec_s) = (
        out.path().display().to_string(),
        rec_dir.display().to_string(),
    );
    let fake = common::fake_driver();
    // The driver's output directory is only on its command line: vmscope reads it there.
    let args = [
        "run",
        "--record",
        &rec_s,
        "--",
        "python3",
        &fake,
        "--scenario",
        "graphical",
        "--speed",
        "20",
        "--machines",
        "client",
        "-o",
        &out_s,
    ];
    let mut t = at_client(&args, &[], "v");
    t.wait_text("client · screenshot 2 of 2 · desktop.png", 5);
    t.keys("q");
    t.wait_exit(10);
    for shot in ["login.png", "desktop.png"] {
        let kept = rec_dir.join("screenshots").join(shot);
        assert_eq!(
            std::fs::read(&kept).ok(),
            std::fs::read(out.path().join(shot)).ok(),
            "{shot} kept with the recording"
        );
    }
    // The driver's directory gone, the recording still shows them.
    drop(out);
    let mut t = at_client(&["log", &rec_s], &[], "v");
    t.wait_text("client · screenshot 2 of 2 · desktop.png", 5);
    t.keys("I");
    t.wait_text("client · screenshot 1 of 2 · login.png", 5);
    let kept = rec_dir.join("screenshots");
    sampled_like(
        &t.screen(),
        "client · screenshot 1 of 2",
        &kept.join("login.png"),
    );
    t.keys("q");
    t.wait_exit(10);
    // The HTML export of the recording holds both pictures.
    let page = rec.path().join("report.html");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["export", "--html"])
        .arg(&page)
        .arg(&rec_dir)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("data:image/png;base64,").count(), 2);
}

#[test]
fn a_terminal_that_draws_pictures_gets_them_in_kittys_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::graphical_run(dir.path(), "client");
    let log_s = log.display().to_string();
    let mut t = at_client(&["log", &log_s], &[("VMSCOPE_TEST_KITTY", "1")], "v");
    t.wait_text("client · screenshot 2 of 2 · desktop.png", 5);
    // The picture goes out as a kitty transmission (the PNG's pixels, base64), not as
    // half-blocks.
    let deadline =
        std::time::Instant::now() + common::pty::scaled(std::time::Duration::from_secs(5));
    loop {
        let raw = t.raw.lock().unwrap().clone();
        let sent =
            raw.windows(4).any(|w| w == b"\x1b_Gq") || raw.windows(5).any(|w| w == b"\x1b_Ga=");
        if sent {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no kitty transmission"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let s = t.screen();
    let (row, col) = find(&s, "client · screenshot 2 of 2").unwrap();
    let blocks = (row + 1..48)
        .flat_map(|r| (col..160).map(move |c| (r, c)))
        .filter(|&(r, c)| s.cell(r, c).is_some_and(|x| x.contents() == "▀"))
        .count();
    assert_eq!(blocks, 0, "no half-blocks when the terminal draws pictures");
    t.keys("q");
    t.wait_exit(10);
}

#[test]
fn a_screenshot_is_taken_now_through_the_drivers_repl() {
    common::python_imports("ptpython");
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().display().to_string();
    let fake = common::fake_driver();
    let home = tempfile::tempdir().unwrap();
    let cwd = home.path().display().to_string();
    let mut t = Term::spawn_env(
        &[
            "run",
            "--no-record",
            "--",
            "python3",
            &fake,
            "-I",
            "--speed",
            "20",
            "--machines",
            "client",
            "-o",
            &out_s,
        ],
        160,
        48,
        &[("VMSCOPE_TEST_CWD", &cwd)],
    );
    t.wait_text("In [1]:", 30);
    // Leave the REPL, to the client's pane; the key types the call at the prompt.
    t.keys("\x1d");
    t.keys("1");
    t.keys("\x14");
    t.wait_text("taking client's screenshot vmscope-", 5);
    t.wait_for("the screenshot's step", 30, |s| {
        find(s, "making screenshot").is_some() && find(s, "In [2]:").is_some()
    });
    t.keys("v");
    t.wait_text("client · screenshot 1 of 1 · vmscope-", 10);
    let taken: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        taken.len() == 1 && taken[0].starts_with("vmscope-") && taken[0].ends_with(".png"),
        "{taken:?}"
    );
    t.keys("q");
    t.keys("q");
    t.wait_exit(15);
}

#[test]
fn inspect_lists_the_screenshots_and_what_ocr_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::graphical_run(dir.path(), "client");
    let json = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["inspect", "--json"])
        .arg(&log)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let t = &v["tests"][0];
    let names: Vec<&str> = t["screenshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["login.png", "desktop.png"]);
    // The scenario waits for Welcome (found) then Firefox (never on the desktop).
    let ocr = t["ocr"].as_array().unwrap();
    assert_eq!(ocr.len(), 2);
    assert_eq!(
        (ocr[0]["pattern"].as_str(), ocr[0]["state"].as_str()),
        (Some("Welcome"), Some("passed"))
    );
    assert_eq!(ocr[1]["state"], "failed");
    assert_eq!(ocr[1]["read"][0], "Desktop\nTerminal\nFiles");
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .arg("inspect")
        .arg(&log)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("screenshots:\n  ✓ client: login.png\n  ✓ client: desktop.png\n"),
        "{text}"
    );
    assert!(
        text.contains("OCR on client waited for Firefox, read: Desktop ⏎ Terminal ⏎ Files"),
        "{text}"
    );
}
