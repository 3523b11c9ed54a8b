//! Screenshots and OCR as the log tells them. `machine.screenshot("login")` is the step
//! `machine: making screenshot OUT/login.png`; `wait_for_text(re)` is the step `waiting for
//! re to appear on screen`, and on its last try it logs `Last OCR attempt failed. Text
//! was: [...]` with what OCR read. Both are read off the step tree, so they are there for
//! live runs, recordings and saved logs alike.
//!
//! A guest can forge any of these lines: what a log names is only a file name, to be looked
//! for in a directory the user or the driver's own command line gave (see `file_in`).

use std::path::{Path, PathBuf};

use super::model::{StepId, StepState, Test};
use super::store::Stamp;

const SHOT_PREFIX: &str = "making screenshot ";
const OCR_SUFFIX: &str = " to appear on screen";
const OCR_FAILED: &str = "Last OCR attempt failed. Text was: ";

/// Screen steps a test keeps at most (`Test::screen_steps`).
pub const MAX_SCREEN_STEPS: usize = 4096;

/// Whether a step's title is about a machine's screen: a screenshot, or an OCR wait.
pub fn about_the_screen(title: &str) -> bool {
    title.starts_with(SHOT_PREFIX)
        || (title.starts_with("waiting for ") && title.ends_with(OCR_SUFFIX))
}

/// The screen steps of `t` still held, with their ids.
fn screen_steps(t: &Test) -> impl Iterator<Item = (StepId, &super::model::Step)> {
    t.screen_steps
        .iter()
        .filter_map(|&id| t.step(id).map(|s| (id, s)))
}

/// One screenshot the driver took.
#[derive(Debug, Clone, PartialEq)]
pub struct Shot {
    pub machine: usize,
    /// The file's name (the last part of the logged path), checked by `safe_name`.
    pub name: String,
    /// The path as logged (in the driver's sandbox: often not this host's).
    pub logged: String,
    /// When it was taken: the step's start.
    pub at: Stamp,
    pub step: StepId,
    pub state: StepState,
}

/// What OCR read while waiting for a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Ocr {
    pub machine: usize,
    /// The pattern waited for.
    pub pattern: String,
    /// What the last attempt read, each variant (only known when it failed).
    pub read: Vec<String>,
    pub at: Stamp,
    pub state: StepState,
}

/// A file name a screenshot may have: its last path part, of letters, digits and
/// `._+-@`, not hidden, not empty. Anything else is no name vmscope opens.
pub fn safe_name(logged: &str) -> Option<String> {
    let name = logged.rsplit('/').next()?.trim();
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-' | '@'));
    ok.then(|| name.to_string())
}

/// The screenshots of test `t`, in the order they were taken.
pub fn shots(t: &Test) -> Vec<Shot> {
    screen_steps(t)
        .filter_map(|(id, s)| {
            let logged = s.title.strip_prefix(SHOT_PREFIX)?;
            let machine = t.machine(s.machine.as_deref()?)?;
            Some(Shot {
                machine,
                name: safe_name(logged)?,
                logged: logged.to_string(),
                at: s.began,
                step: id,
                state: s.state,
            })
        })
        .collect()
}

/// The OCR waits of test `t`, with what the last attempt read where the log says it.
pub fn ocr(t: &Test) -> Vec<Ocr> {
    screen_steps(t)
        .filter_map(|(_, s)| {
            let rest = s.title.strip_prefix("waiting for ")?;
            let pattern = rest.strip_suffix(OCR_SUFFIX)?;
            let machine = t.machine(s.machine.as_deref()?)?;
            let end = s.end.unwrap_or(t.driver.end_seq());
            let read = (s.head..end)
                .filter_map(|seq| t.driver.get(seq))
                .find_map(|l| {
                    let plain = l.plain();
                    let at = plain.find(OCR_FAILED)?;
                    py_strings(&plain[at + OCR_FAILED.len()..])
                })
                .unwrap_or_default();
            Some(Ocr {
                machine,
                pattern: pattern.trim_matches('/').to_string(),
                read,
                at: s.began,
                state: s.state,
            })
        })
        .collect()
}

/// The strings of a Python list's repr (`['a\nb', "it's"]`), as the driver logs OCR's
/// variants; a bare string is taken as one (older drivers logged the text itself).
pub fn py_strings(s: &str) -> Option<Vec<String>> {
    let s = s.trim();
    let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) else {
        return Some(vec![s.to_string()]);
    };
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let Some(quote) = chars.next() else { break };
        if quote != '\'' && quote != '"' {
            return None;
        }
        let mut text = String::new();
        loop {
            match chars.next()? {
                c if c == quote => break,
                '\\' => match chars.next()? {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    'x' => {
                        let hex: String = chars.by_ref().take(2).collect();
                        text.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        text.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    c => text.push(c),
                },
                c => text.push(c),
            }
        }
        out.push(text);
    }
    Some(out)
}

/// `name` in `dir`, if it is a regular file there: symbolic links that lead out of `dir`
/// and names that are not `safe_name`s are not followed.
pub fn file_in(dir: &Path, name: &str) -> Option<PathBuf> {
    if safe_name(name).as_deref() != Some(name) {
        return None;
    }
    let dir = dir.canonicalize().ok()?;
    let path = dir.join(name).canonicalize().ok()?;
    (path.parent() == Some(dir.as_path()) && path.is_file()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_last_part_is_a_name() {
        assert_eq!(
            safe_name("/build/out/login.png").as_deref(),
            Some("login.png")
        );
        assert_eq!(safe_name("shot-2@x.png").as_deref(), Some("shot-2@x.png"));
        for bad in [
            "/etc/",
            "a/.hidden",
            "x/$(reboot).png",
            "a b.png",
            "..",
            "x/`id`",
        ] {
            assert_eq!(safe_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn ocr_variants_are_read_from_their_python_repr() {
        assert_eq!(
            py_strings(r#"['Desktop\nTerminal', "it's", 'a\\b \x41']"#).unwrap(),
            vec!["Desktop\nTerminal", "it's", "a\\b A"]
        );
        assert_eq!(py_strings("[]").unwrap(), Vec::<String>::new());
        assert_eq!(py_strings("Welcome").unwrap(), vec!["Welcome"]);
        assert_eq!(py_strings("['unterminated]"), None);
    }

    #[test]
    fn a_file_is_only_found_inside_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("login.png"), b"png").unwrap();
        std::fs::write(outside.path().join("secret.png"), b"x").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.png"),
            dir.path().join("link.png"),
        )
        .unwrap();
        assert!(file_in(dir.path(), "login.png").is_some());
        assert_eq!(file_in(dir.path(), "link.png"), None);
        assert_eq!(file_in(dir.path(), "missing.png"), None);
        assert_eq!(file_in(dir.path(), "../login.png"), None);
    }
}
