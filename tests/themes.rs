//! The screen in each theme and without colour: a failing log's panes and its failure view,
//! drawn to a test backend. Without colour nothing is coloured and every mark stays (the
//! cursor and badges reversed, what was red bold); the light theme has no light text; the
//! high-contrast one no dim grey text. Snapshots record each row's styles as runs.

mod common;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use vmscope::app::action::Action;
use vmscope::app::keymap::Keymap;
use vmscope::app::state::App;
use vmscope::panes::theme::Theme;
use vmscope::vm::Caps;
use vmscope::vm::source::SourceEvent;

fn drawn(theme: Theme, panes: bool) -> Buffer {
    let mut app = App::new(
        Caps::default(),
        Keymap::defaults(),
        "fail.stderr".into(),
        false,
    );
    app.ingest(SourceEvent::Data(
        common::real_driver("fail.stderr"),
        u32::MAX,
    ));
    app.ingest(SourceEvent::End);
    app.screen.theme = theme;
    if panes {
        app.update(Action::FocusDriver);
    }
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    for _ in 0..2 {
        let mut d = Default::default();
        term.draw(|f| d = vmscope::panes::draw(f, &app)).unwrap();
        app.laid_out(d);
    }
    term.backend().buffer().clone()
}

/// Each row as its text, then its style runs: `col+len fg/bg/modifiers`.
fn styles(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut text = String::new();
        let mut runs: Vec<(u16, u16, String)> = Vec::new();
        for x in 0..b.area.width {
            let c = &b[(x, y)];
            text.push_str(c.symbol());
            let st = format!("{:?}/{:?}/{:?}", c.fg, c.bg, c.modifier);
            match runs.last_mut() {
                Some((_, n, s)) if *s == st => *n += 1,
                _ => runs.push((x, 1, st)),
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
        for (x, n, s) in runs.iter().filter(|r| r.2 != "Reset/Reset/NONE") {
            out.push_str(&format!("    {x}+{n} {s}\n"));
        }
    }
    out
}

#[test]
fn without_colour_nothing_is_coloured_and_every_mark_stays() {
    for panes in [false, true] {
        let b = drawn(Theme::NoColor, panes);
        assert!(
            b.content
                .iter()
                .all(|c| c.fg == Color::Reset && c.bg == Color::Reset),
            "a colour left"
        );
        let reversed = b
            .content
            .iter()
            .filter(|c| c.modifier.contains(Modifier::REVERSED))
            .count();
        assert!(reversed > 10, "marks shown reversed ({reversed} cells)");
        // The same symbols as in colour: the states do not need it.
        let text: String = b.content.iter().map(|c| c.symbol()).collect();
        let colour: String = drawn(Theme::Default, panes)
            .content
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert_eq!(text, colour);
    }
    insta::assert_snapshot!(
        "no_color_failure_view",
        styles(&drawn(Theme::NoColor, false))
    );
    insta::assert_snapshot!("no_color_panes", styles(&drawn(Theme::NoColor, true)));
}

#[test]
fn the_light_theme_has_no_light_text_and_high_contrast_no_grey() {
    let b = drawn(Theme::Light, true);
    assert!(
        b.content.iter().all(|c| !matches!(
            c.fg,
            Color::White | Color::Gray | Color::Yellow | Color::LightYellow
        )),
        "light text on a light ground"
    );
    insta::assert_snapshot!("light_panes", styles(&b));
    let b = drawn(Theme::HighContrast, true);
    assert!(
        b.content.iter().all(|c| c.fg != Color::DarkGray),
        "dim grey text"
    );
    insta::assert_snapshot!("high_contrast_panes", styles(&b));
}

#[test]
fn no_color_reaches_the_screen_from_the_environment_and_the_flag() {
    let log = common::fixtures().join("real-driver/fail.stderr");
    for (env, args) in [
        (Some("1"), vec!["log"]),
        (None, vec!["--color", "never", "log"]),
    ] {
        let mut a: Vec<&str> = args.clone();
        a.push(log.to_str().unwrap());
        let envs: Vec<(&str, &str)> = env.map(|v| vec![("NO_COLOR", v)]).unwrap_or_default();
        let mut t = common::pty::Term::spawn_env(&a, 120, 40, &envs);
        t.wait_text("TEST FAILED", 10);
        t.keys("q");
        assert_eq!(t.wait_exit(10), 0);
        let raw = String::from_utf8_lossy(&t.raw.lock().unwrap()).into_owned();
        no_colour_in(&raw, &format!("{env:?} {args:?}"));
        assert!(raw.contains("\x1b[7m"), "reversed marks are written");
    }
}

/// Every SGR sequence written: none sets a colour.
fn no_colour_in(raw: &str, what: &str) {
    for sgr in sgr_params(raw) {
        let colour = sgr.split(';').any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        });
        assert!(!colour, "SGR {sgr:?} written with {what}");
    }
}

/// The parameters of every SGR sequence (`ESC [ … m`) in `raw`.
fn sgr_params(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = raw.as_bytes();
    let mut i = 0;
    while let Some(j) = raw[i..].find("\x1b[") {
        let start = i + j + 2;
        let mut k = start;
        while k < b.len() && (b[k].is_ascii_digit() || b[k] == b';') {
            k += 1;
        }
        if k < b.len() && b[k] == b'm' {
            out.push(raw[start..k].to_string());
        }
        i = start;
    }
    out
}

#[test]
fn the_triage_and_diff_screens_follow_no_color_too() {
    let dir = tempfile::tempdir().unwrap();
    let real = common::fixtures().join("real-driver");
    for f in ["fail.stderr", "pass.stderr"] {
        std::fs::copy(real.join(f), dir.path().join(f)).unwrap();
    }
    let d = dir.path().display().to_string();
    let (pass, fail) = (
        real.join("pass.stderr").display().to_string(),
        real.join("fail.stderr").display().to_string(),
    );
    for (args, shown) in [
        (vec!["triage", d.as_str()], "vmscope triage"),
        (vec!["diff", pass.as_str(), fail.as_str()], "vmscope diff"),
    ] {
        let mut t = common::pty::Term::spawn_env(&args, 120, 40, &[("NO_COLOR", "1")]);
        t.wait_text(shown, 10);
        t.keys("q");
        t.wait_exit(10);
        let raw = String::from_utf8_lossy(&t.raw.lock().unwrap()).into_owned();
        no_colour_in(&raw, &format!("{args:?}"));
    }
}
