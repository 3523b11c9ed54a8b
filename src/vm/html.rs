//! `vmscope export --html`: one self-contained page to hand a colleague: the step tree, a
//! tab per machine with its coloured console, the failure panel, search. It needs no
//! network: its style and script are in the page, its data a JSON block in it.
//!
//! What the run printed is data, never markup: it goes into the JSON block (with `<`
//! escaped, so no text can end the block) and the page's script puts it on the page with
//! `textContent` alone.

use ansi_to_tui::IntoText;
use ratatui::style::{Color, Modifier, Style};
use serde::Serialize;

use super::TestRun;
use super::export::{self, TestReport};
use super::model::Test;
use super::store::LineStore;

const TEMPLATE: &str = include_str!("../../assets/report.html");
/// Where the template takes the data.
const DATA_MARK: &str = "<!--vmscope-data-->";
/// Console lines of the failing machine shown with a failure.
const LAST_LINES: u64 = 12;

/// A line: its text when it has no style, else its runs of text and CSS.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Line {
    Plain(String),
    Styled(Vec<(String, String)>),
}

#[derive(Debug, Serialize)]
struct Pane {
    name: String,
    /// Lines memory no longer held when the page was made (the caps).
    evicted: u64,
    lines: Vec<Line>,
    /// For the driver pane: each line's input line (1-based), to find a step's lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    input_lines: Vec<u64>,
}

/// The failing machine's lines before a failure, as indices into its pane.
#[derive(Debug, Serialize)]
struct LastLines {
    machine: usize,
    from: u64,
    to: u64,
}

#[derive(Debug, Serialize)]
struct TestPage<'a> {
    #[serde(flatten)]
    report: TestReport<'a>,
    driver: Pane,
    consoles: Vec<Pane>,
    /// Per failure, where its machine's last lines are.
    last_lines: Vec<Option<LastLines>>,
    screenshots: Vec<ShotPage>,
}

/// A screenshot in the page: after which console line of its machine it was taken, and
/// the picture itself when its file was found (a PNG, as a `data:` address).
#[derive(Debug, Serialize)]
struct ShotPage {
    machine: usize,
    name: String,
    /// Index into the machine's pane of the last line before it (-1: none shown).
    after: i64,
    failed: bool,
    png: Option<String>,
    /// Why the picture is not there.
    missing: Option<String>,
    /// What OCR read of that screen, when an OCR wait failed after it.
    ocr: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Page<'a> {
    origin: &'a str,
    version: &'a str,
    outcome: super::Outcome,
    tests: Vec<TestPage<'a>>,
}

/// The page for `run`, read from `origin`; its screenshots are looked for in `shot_dirs`.
pub fn page(run: &TestRun, origin: &str, shot_dirs: &[std::path::PathBuf]) -> String {
    let report = export::report(run);
    let mut budget = MAX_PICTURES;
    let tests = run
        .visible_tests()
        .zip(report.tests)
        .map(|((_, t), report)| test_page(t, report, shot_dirs, &mut budget))
        .collect();
    let page = Page {
        origin,
        version: env!("VMSCOPE_VERSION"),
        outcome: run.outcome(),
        tests,
    };
    let json = serde_json::to_string(&page).unwrap_or_else(|_| "{}".into());
    // `<` appears only inside strings: escaped there, nothing in the data can close the
    // script element that holds it (`</script>`) or open a comment.
    let json = json.replace('<', "\\u003c");
    let data = format!("<script id=\"data\" type=\"application/json\">{json}</script>");
    let title = html_text(
        run.tests
            .first()
            .and_then(|t| t.name.as_deref())
            .unwrap_or("NixOS test"),
    );
    TEMPLATE
        .replacen(
            "<!--vmscope-title-->",
            &format!("{title} — vmscope report"),
            1,
        )
        .replacen(DATA_MARK, &data, 1)
}

/// Bytes of pictures a page holds at most, and one picture.
const MAX_PICTURES: u64 = 128 << 20;
const MAX_PICTURE: u64 = 16 << 20;

fn shot_pages(t: &Test, dirs: &[std::path::PathBuf], budget: &mut u64) -> Vec<ShotPage> {
    use base64::Engine as _;
    let ocr = super::shots::ocr(t);
    let all = super::shots::shots(t);
    all.iter()
        .enumerate()
        .map(|(i, x)| {
            let m = &t.machines[x.machine];
            let first = m.serial.first_seq();
            let after = m.serial.end_at(x.at.at) as i64 - first as i64 - 1;
            let next_at = all[i + 1..]
                .iter()
                .find(|n| n.machine == x.machine)
                .map_or(u64::MAX, |n| n.at.at);
            let read = ocr
                .iter()
                .filter(|o| o.machine == x.machine && o.at.at >= x.at.at && o.at.at < next_at)
                .flat_map(|o| o.read.first().cloned())
                .collect();
            let file = dirs.iter().find_map(|d| super::shots::file_in(d, &x.name));
            let (png, missing) = match file.map(|f| (std::fs::read(&f), f)) {
                None => (
                    None,
                    Some("not found beside the log (--out-dir DIR)".to_string()),
                ),
                Some((Err(e), f)) => (None, Some(format!("{}: {e}", f.display()))),
                Some((Ok(bytes), _)) if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") => {
                    (None, Some("not a PNG".to_string()))
                }
                Some((Ok(bytes), _))
                    if bytes.len() as u64 > MAX_PICTURE || bytes.len() as u64 > *budget =>
                {
                    (
                        None,
                        Some(format!("{} bytes: too big for the page", bytes.len())),
                    )
                }
                Some((Ok(bytes), _)) => {
                    *budget -= bytes.len() as u64;
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    (Some(format!("data:image/png;base64,{b64}")), None)
                }
            };
            ShotPage {
                machine: x.machine,
                name: x.name.clone(),
                after,
                failed: x.state == super::model::StepState::Failed,
                png,
                missing,
                ocr: read,
            }
        })
        .collect()
}

fn test_page<'a>(
    t: &'a Test,
    report: TestReport<'a>,
    dirs: &[std::path::PathBuf],
    budget: &mut u64,
) -> TestPage<'a> {
    let driver = pane("driver", &t.driver, true);
    let consoles = t
        .machines
        .iter()
        .map(|m| pane(&m.name, &m.serial, false))
        .collect();
    let last_lines = t
        .failures
        .iter()
        .map(|f| {
            let machine = f.machine.as_deref().and_then(|m| t.machine(m))?;
            let m = t.machines.get(machine)?;
            let upto = t
                .freeze
                .as_ref()
                .filter(|fz| fz.failure.is_some())
                .map_or(m.serial.end_seq(), |fz| fz.serial_end(machine));
            let first = m.serial.first_seq();
            let from = upto.saturating_sub(LAST_LINES).max(first);
            (upto > from).then(|| LastLines {
                machine,
                from: from - first,
                to: upto - first,
            })
        })
        .collect();
    TestPage {
        report,
        driver,
        consoles,
        last_lines,
        screenshots: shot_pages(t, dirs, budget),
    }
}

fn pane(name: &str, store: &LineStore, with_input_lines: bool) -> Pane {
    let mut lines = Vec::with_capacity(store.len());
    let mut input_lines = Vec::new();
    for (_, l) in store.iter() {
        lines.push(line(l.display(), l.has_style()));
        if with_input_lines {
            input_lines.push(l.input_line());
        }
    }
    Pane {
        name: name.to_string(),
        evicted: store.evicted(),
        lines,
        input_lines,
    }
}

fn line(display: &str, styled: bool) -> Line {
    if !styled {
        return Line::Plain(display.to_string());
    }
    let Ok(text) = display.as_bytes().into_text() else {
        return Line::Plain(super::sanitize::strip_sgr(display));
    };
    let runs: Vec<(String, String)> = text
        .lines
        .into_iter()
        .flat_map(|l| l.spans)
        .filter(|s| !s.content.is_empty())
        .map(|s| (s.content.into_owned(), css(s.style)))
        .collect();
    if runs.iter().all(|(_, c)| c.is_empty()) {
        return Line::Plain(runs.into_iter().map(|(t, _)| t).collect());
    }
    Line::Styled(runs)
}

/// A span's style as CSS declarations.
fn css(style: Style) -> String {
    let mut out = String::new();
    let (mut fg, mut bg) = (style.fg.and_then(color), style.bg.and_then(color));
    if style.add_modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
        fg = fg.or_else(|| Some("var(--bg)".into()));
        bg = bg.or_else(|| Some("var(--fg)".into()));
    }
    if let Some(c) = fg {
        out.push_str(&format!("color:{c};"));
    }
    if let Some(c) = bg {
        out.push_str(&format!("background:{c};"));
    }
    if style.add_modifier.contains(Modifier::BOLD) {
        out.push_str("font-weight:bold;");
    }
    if style.add_modifier.contains(Modifier::DIM) {
        out.push_str("opacity:.65;");
    }
    if style.add_modifier.contains(Modifier::ITALIC) {
        out.push_str("font-style:italic;");
    }
    if style.add_modifier.contains(Modifier::UNDERLINED) {
        out.push_str("text-decoration:underline;");
    }
    out
}

/// The 16 colours as xterm shows them, then the 256-colour cube and greys.
fn color(c: Color) -> Option<String> {
    const BASE: [&str; 16] = [
        "#2e3436", "#cc0000", "#4e9a06", "#c4a000", "#3465a4", "#75507b", "#06989a", "#d3d7cf",
        "#555753", "#ef2929", "#8ae234", "#fce94f", "#729fcf", "#ad7fa8", "#34e2e2", "#eeeeec",
    ];
    let i = match c {
        Color::Reset => return None,
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
        Color::Rgb(r, g, b) => return Some(format!("#{r:02x}{g:02x}{b:02x}")),
        Color::Indexed(n) => n,
    };
    Some(match i {
        0..=15 => BASE[i as usize].to_string(),
        16..=231 => {
            let n = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            format!(
                "#{:02x}{:02x}{:02x}",
                level(n / 36),
                level((n / 6) % 6),
                level(n % 6)
            )
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    })
}

/// Text for HTML outside the data block (the title).
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_become_css_and_plain_text_stays_plain() {
        assert!(matches!(line("booting", false), Line::Plain(s) if s == "booting"));
        let Line::Styled(runs) = line("\x1b[1;31mFAILED\x1b[0m rest", true) else {
            panic!("styled")
        };
        assert_eq!(runs[0].0, "FAILED");
        assert_eq!(runs[0].1, "color:#cc0000;font-weight:bold;");
        assert_eq!(runs[1], (" rest".to_string(), String::new()));
        assert_eq!(color(Color::Indexed(196)).as_deref(), Some("#ff0000"));
        assert_eq!(color(Color::Indexed(244)).as_deref(), Some("#808080"));
    }

    #[test]
    fn no_text_of_the_run_can_end_the_data_block() {
        let mut parser = crate::vm::Parser::new(
            crate::vm::Caps::default(),
            crate::vm::ParseOptions::default(),
        );
        parser.feed(
            b"machine # </script><script>alert(1)</script><!--\nstart all VMs\n",
            crate::vm::store::NO_TIME,
        );
        parser.finish();
        let page = page(&parser.run, "x.log", &[]);
        let data = &page[page.find("<script id=\"data\"").unwrap()..];
        let data = &data[..data.find("</script>").unwrap()];
        assert!(
            data.contains("\\u003c/script>\\u003cscript>alert(1)"),
            "{data}"
        );
        assert!(!data.contains("<!--"));
    }
}
