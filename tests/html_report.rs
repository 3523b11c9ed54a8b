//! `vmscope export --html`, opened in headless Chromium: the page loads without a script
//! error, the failure is shown, a machine's tab shows its lines, search finds a line, and
//! nothing a guest printed becomes markup. The clicks and keys are real DOM events, sent by
//! a script appended to a copy of the page; what it saw comes back in the dumped DOM.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::scaled;

/// Chromium: `VMSCOPE_TEST_CHROMIUM`, or on PATH (scripts/test installs Debian's).
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("VMSCOPE_TEST_CHROMIUM") {
        return p.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "Chromium is needed to test the HTML report: put chromium on PATH or set \
         VMSCOPE_TEST_CHROMIUM (scripts/test installs Debian's chromium)"
    );
}

fn export(input: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["export", "--html"])
        .arg(out)
        .arg(input)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "export --html {}", input.display());
}

/// Before the page's own script: every error is kept.
const CATCH: &str = "<script>window.__errors=[];addEventListener('error',e=>__errors.push(String(e.message)));</script>";

/// Opens `page` with `probe` run after the page's script; returns what `probe` put in
/// `window.__out`, and the errors the page raised.
fn probe(page: &Path, probe: &str) -> (serde_json::Value, Vec<String>) {
    let html = std::fs::read_to_string(page).unwrap();
    let html = html.replacen("<head>", &format!("<head>{CATCH}"), 1);
    let tail = format!(
        "<script>try{{{probe}}}catch(e){{__errors.push('probe: '+e)}}\
         document.body.setAttribute('data-out',encodeURIComponent(JSON.stringify({{out:window.__out,errors:__errors}})));</script></body>"
    );
    let html = html.replacen("</body>", &tail, 1);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("page.html");
    std::fs::write(&copy, html).unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1400,900",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", copy.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    let deadline = Instant::now() + scaled(Duration::from_secs(90));
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Chromium did not finish with the page");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = reader.join().unwrap();
    let at = dom
        .find("data-out=\"")
        .unwrap_or_else(|| panic!("the probe did not run:\n{}", &dom[..dom.len().min(2000)]));
    let encoded = &dom[at + 10..];
    let encoded = &encoded[..encoded.find('"').unwrap()];
    let v: serde_json::Value = serde_json::from_str(&percent_decode(encoded)).unwrap();
    let errors = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap_or("").to_string())
        .collect();
    (v["out"].clone(), errors)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// What is on the page: the failures, the shown pane, its lines, the search's count.
const LOOK: &str = r#"
const visible = (n) => !!n && n.getClientRects().length > 0 && getComputedStyle(n).display !== 'none';
const look = () => {
  const pane = [...document.querySelectorAll('.pane')].find((p) => !p.hidden);
  const lines = pane ? [...pane.querySelectorAll('.line')] : [];
  const current = pane && pane.querySelector('.line.current');
  return {
    pane: pane && pane.dataset.pane,
    lines: lines.length,
    first: lines.length ? lines[0].textContent : null,
    current: current && current.textContent,
    marks: pane ? [...pane.querySelectorAll('mark')].map((m) => m.textContent) : [],
    currentMark: (() => { const m = pane && pane.querySelector('mark.current'); return m && m.closest('.line').textContent; })(),
    count: document.getElementById('count').textContent,
    failures: [...document.querySelectorAll('.failure')].filter(visible).map((f) => f.querySelector('h2').textContent),
    failureText: [...document.querySelectorAll('.failure')].map((f) => f.textContent).join('\n'),
    ready: document.body.dataset.ready,
  };
};
const key = (k, opts) => document.getElementById('search').dispatchEvent(new KeyboardEvent('keydown', Object.assign({key: k, bubbles: true}, opts || {})));
const type = (text) => { const s = document.getElementById('search'); s.value = text; key('Enter'); };
"#;

#[test]
fn the_report_loads_shows_the_failure_the_machines_and_finds_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    export(&common::fixtures().join("real-driver/fail.stderr"), &page);
    let script = format!(
        r#"{LOOK}
const steps = [];
const atLoad = look();
document.querySelector('.tabs button[data-pane="machine1"]').click();
const machine1 = look();
type('Reached target Basic System');
const found = look();
key('Enter');
const next = look();
type('no such text anywhere');
const none = look();
window.__out = {{atLoad, machine1, found, next, none}};
"#
    );
    let (out, errors) = probe(&page, &script);
    assert!(errors.is_empty(), "script errors: {errors:?}");
    let at_load = &out["atLoad"];
    assert_eq!(at_load["ready"], "1");
    // The capture's failure, on machine2, shown above all; machine2's console open at the
    // last line before it (read off fail.stderr: `Starting Network Setup...`).
    assert_eq!(
        at_load["failures"],
        serde_json::json!(["RequestedAssertionFailed: command `false` failed (exit code 1)"])
    );
    let text = at_load["failureText"].as_str().unwrap();
    assert!(
        text.contains("subtest") && text.contains("this one fails"),
        "{text}"
    );
    assert!(text.contains("machine2.succeed(\"false\")"), "{text}");
    assert_eq!(at_load["pane"], "machine2");
    assert!(
        at_load["current"]
            .as_str()
            .unwrap()
            .ends_with("Starting Network Setup..."),
        "{at_load}"
    );
    // machine1's tab: its console lines (77 lines of the capture start `machine1 # `), the
    // first its kernel's banner.
    let m1 = &out["machine1"];
    assert_eq!(m1["pane"], "machine1");
    assert_eq!(m1["lines"], 77, "{m1}");
    assert!(
        m1["first"]
            .as_str()
            .unwrap()
            .contains("Linux version 6.12.10"),
        "{m1}"
    );
    // Search: both machines reached Basic System once each; machine1's line is marked,
    // across the bold run the console coloured its unit's name with.
    let found = &out["found"];
    assert_eq!(found["pane"], "machine1");
    let marked: String = found["marks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(marked, "Reached target Basic System", "{found}");
    assert_eq!(found["count"], "1 of 1 lines", "{found}");
    assert!(
        found["currentMark"]
            .as_str()
            .unwrap()
            .contains("[  OK  ] Reached target Basic System."),
        "{found}"
    );
    assert_eq!(out["next"]["count"], "1 of 1 lines");
    let none = out["none"]["count"].as_str().unwrap();
    assert_eq!(none, "no match in machine1", "{none}");
}

#[test]
fn a_guests_markup_stays_text() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("guest.log");
    std::fs::write(
        &log,
        "start all VMs\n\
         machine # <img src=x onerror=\"window.__pwned=1\"></script><script>window.__pwned=2</script><!--\n\
         machine # \x1b[31m<b>red</b>\x1b[0m & more\n\
         (finished: start all VMs, in 0.10 seconds)\n",
    )
    .unwrap();
    let page = dir.path().join("report.html");
    export(&log, &page);
    let script = format!(
        r#"{LOOK}
document.querySelector('.tabs button[data-pane="machine"]').click();
const pane = [...document.querySelectorAll('.pane')].find((p) => !p.hidden);
window.__out = {{
  pwned: window.__pwned || 0,
  imgs: document.querySelectorAll('img').length,
  bolds: pane.querySelectorAll('b').length,
  lines: [...pane.querySelectorAll('.line')].map((l) => l.textContent),
  red: getComputedStyle([...pane.querySelectorAll('.line span')].find((s) => s.textContent === '<b>red</b>')).color,
}};
"#
    );
    let (out, errors) = probe(&page, &script);
    assert!(errors.is_empty(), "script errors: {errors:?}");
    assert_eq!(out["pwned"], 0);
    assert_eq!(out["imgs"], 0);
    assert_eq!(out["bolds"], 0);
    let lines: Vec<&str> = out["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "1<img src=x onerror=\"window.__pwned=1\"></script><script>window.__pwned=2</script><!--",
            "2<b>red</b> & more"
        ]
    );
    // The guest's colour is kept, as colour.
    assert_eq!(out["red"], "rgb(204, 0, 0)");
}

#[test]
fn screenshots_are_in_the_page_where_they_were_taken() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::graphical_run(dir.path(), "client");
    let page = dir.path().join("report.html");
    export(&log, &page);
    let script = format!(
        r#"{LOOK}
document.querySelector('.tabs button[data-pane="client"]').click();
const pane = [...document.querySelectorAll('.pane')].find((p) => !p.hidden);
const figs = [...pane.querySelectorAll('figure.shot')];
window.__out = {{
  names: figs.map((f) => f.dataset.name),
  widths: figs.map((f) => {{ const i = f.querySelector('img'); return i ? i.naturalWidth : 0; }}),
  ocr: figs.map((f) => [...f.querySelectorAll('pre.ocr')].map((p) => p.textContent)),
  before: figs.map((f) => {{ let n = f.previousElementSibling; while (n && !n.classList.contains('line')) n = n.previousElementSibling; return n && n.textContent; }}),
  inFailure: [...document.querySelectorAll('.failure figure.shot')].map((f) => f.dataset.name),
}};
"#
    );
    let (out, errors) = probe(&page, &script);
    assert!(errors.is_empty(), "script errors: {errors:?}");
    assert_eq!(
        out["names"],
        serde_json::json!(["login.png", "desktop.png"])
    );
    // Decoded by the browser: the fake screen is 320 pixels wide.
    assert_eq!(out["widths"], serde_json::json!([320, 320]));
    // The OCR wait after the desktop's screenshot failed; what it read is under it.
    assert_eq!(
        out["ocr"],
        serde_json::json!([[], ["OCR read: Desktop\nTerminal\nFiles"]])
    );
    // Each after the client's last console line before its step in the log.
    for (shot, before) in ["login.png", "desktop.png"]
        .iter()
        .zip(out["before"].as_array().unwrap())
    {
        let console = common::console_before_shot(&log, shot);
        let before = before.as_str().unwrap();
        assert!(
            before.ends_with(&console),
            "{shot}: {before:?} vs {console:?}"
        );
    }
    // The failure on the client shows its last screen.
    assert_eq!(out["inFailure"], serde_json::json!(["desktop.png"]));
}
