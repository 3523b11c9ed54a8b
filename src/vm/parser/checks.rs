//! What stops a test before its script runs: the script's lint (pyflakes, ruff) and type
//! check (mypy, ty) while the driver is built, and hosts that cannot run it (`forceAccel`
//! without access to /dev/kvm, containers without root).
//!
//! The type check reads `testScriptWithTypes`: a header of type hints, a line naming the
//! machines (`client: Machine; server: Machine;`), one naming the VLANs, then the user's
//! script. The build prints that file with `cat -n` first, so the header's length can be
//! read and a checker's line number taken back to the user's script.

use super::super::event::{FailureChange, RunEvent};
use super::super::model::FailureKind;
use super::Parser;

/// Failures of one kind a test keeps from one checker run.
const MAX_DIAGNOSTICS: usize = 32;

const LINT_HINT: &str =
    "the test script's linter refused it: fix the line, or set `skipLint = true;` in the test";
const TYPECHECK_HINT: &str = "the test script's type check refused it: fix the line, or set \
     `skipTypeCheck = true;` in the test";
const KVM_HINT: &str = "the test needs hardware acceleration: give the build access to /dev/kvm \
     (the `kvm` system feature, the kvm group), or set `virtualisation.forceAccel = false`";
const ROOT_HINT: &str = "containers need root: run the driver with \
     `sudo --preserve-env=DISPLAY,XAUTHORITY`, or build the test with Nix";

/// A checker's diagnostic: its file, line and message.
struct Diagnostic<'a> {
    typecheck: bool,
    line: u64,
    message: &'a str,
}

/// The files the checkers read: the type check's, and the linted script.
fn checked_file(path: &str) -> Option<bool> {
    let name = path.rsplit('/').next()?;
    let name = name.strip_suffix(".py").unwrap_or(name);
    match name {
        "testScriptWithTypes" => Some(true),
        "testScript" | "test-script" | "testscript" => Some(false),
        _ => None,
    }
}

/// `FILE:LINE[:COL]: message` (mypy, pyflakes, ruff's concise form).
fn located(msg: &str) -> Option<Diagnostic<'_>> {
    let (file, rest) = msg.split_once(':')?;
    let typecheck = checked_file(file)?;
    let (line, rest) = rest.split_once(':')?;
    let line = line.parse().ok()?;
    // An optional column.
    let rest = match rest.split_once(':') {
        Some((col, after)) if !col.is_empty() && col.bytes().all(|b| b.is_ascii_digit()) => after,
        _ => rest,
    };
    let message = rest.trim();
    // mypy's notes explain the error before them; they are no failure of their own.
    if message.starts_with("note:") {
        return None;
    }
    Some(Diagnostic {
        typecheck,
        line,
        message: message.strip_prefix("error: ").unwrap_or(message),
    })
}

/// ` --> FILE:LINE:COL` under a ty or ruff diagnostic.
fn arrow(msg: &str) -> Option<(bool, u64)> {
    let rest = msg.trim_start().strip_prefix("--> ")?;
    let (file, rest) = rest.split_once(':')?;
    let typecheck = checked_file(file)?;
    let line = rest.split(':').next()?.parse().ok()?;
    Some((typecheck, line))
}

/// The first line of a ty or ruff diagnostic: `error[rule]: text`, `F821 Undefined name`.
fn diagnostic_head(msg: &str) -> bool {
    if let Some(rest) = msg
        .strip_prefix("error[")
        .or_else(|| msg.strip_prefix("warning["))
    {
        return rest.contains("]: ");
    }
    let code_len = msg.bytes().take_while(|b| b.is_ascii_uppercase()).count();
    let digits = msg[code_len..]
        .bytes()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (1..=4).contains(&code_len)
        && (3..=4).contains(&digits)
        && msg.as_bytes().get(code_len + digits) == Some(&b' ')
}

/// The rest of a wrapped mypy message: unindented text that is no line of its own kind
/// (another diagnostic, mypy's summary, Nix's report, the driver's errors).
fn wraps_message(msg: &str) -> bool {
    !msg.is_empty()
        && !msg.starts_with([' ', '\t'])
        && located(msg).is_none()
        && !diagnostic_head(msg)
        && !msg.starts_with("Found ")
        && !msg.starts_with("Success: ")
        && !msg.starts_with("error")
        && !msg.starts_with("warning")
        && !msg.starts_with("For full logs")
}

/// `    12  client: Machine; server: Machine;` of the `cat -n` listing: the header ends at
/// the next line (the VLANs).
fn machine_hint_line(msg: &str) -> Option<u64> {
    // The tab after the number reaches here expanded to spaces.
    let rest = msg.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = rest[..digits].parse().ok()?;
    let text = rest[digits..].strip_prefix([' ', '\t'])?;
    let hints = [
        ": Machine;",
        ": QemuMachine;",
        ": NspawnMachine;",
        ": BaseMachine;",
    ];
    hints.iter().any(|h| text.contains(h)).then_some(n)
}

/// What the host cannot do, by the driver's words.
fn environment_hint(text: &str) -> Option<&'static str> {
    if text.contains("forceAccel is enabled but") {
        Some(KVM_HINT)
    } else if text.contains("systemd-nspawn requires root to work") {
        Some(ROOT_HINT)
    } else {
        None
    }
}

impl Parser {
    /// A line of the checks before the script runs; true when it was one and made a
    /// failure (or belongs to one).
    pub(super) fn script_check(&mut self, t: usize, msg: &str, line: u64) -> bool {
        if let Some(f) = self.states[t].diagnostic_wrap.take()
            && wraps_message(msg)
        {
            self.change_failure(t, f, FailureChange::MessageWrapped(msg.trim_end()));
            self.states[t].diagnostic_wrap = Some(f);
            return true;
        }
        if let Some(n) = machine_hint_line(msg) {
            self.emit(t, RunEvent::ScriptHeader(n + 1));
            return false;
        }
        if let Some(hint) = environment_hint(msg) {
            let dup = self
                .test(t)
                .failures
                .iter()
                .any(|f| f.kind == FailureKind::Environment);
            if !dup {
                let message = msg.trim_start_matches("error: ").to_string();
                let f = self.add_failure(t, FailureKind::Environment, None, message, line);
                self.change_failure(t, f, FailureChange::Hint(hint));
            }
            return true;
        }
        if let Some(d) = located(msg) {
            let f = self.diagnostic(t, d.typecheck, d.line, d.message.to_string(), line);
            // `mypy --pretty` wraps a long message: the rest follows unindented, then the
            // script's line indented.
            self.states[t].diagnostic_wrap = f.filter(|_| d.typecheck);
            return true;
        }
        if let Some((typecheck, at)) = arrow(msg) {
            let head = self.states[t].diagnostic_head.take();
            if let Some(head) = head {
                self.diagnostic(t, typecheck, at, head, line);
            }
            return true;
        }
        if diagnostic_head(msg) {
            self.states[t].diagnostic_head = Some(msg.to_string());
            return false;
        }
        false
    }

    fn diagnostic(
        &mut self,
        t: usize,
        typecheck: bool,
        at: u64,
        message: String,
        line: u64,
    ) -> Option<usize> {
        let kind = if typecheck {
            FailureKind::Typecheck
        } else {
            FailureKind::Lint
        };
        let test = self.test(t);
        if test.failures.iter().filter(|f| f.kind == kind).count() >= MAX_DIAGNOSTICS {
            return None;
        }
        // Only the type check's file has the header; the linted one is the script itself.
        let script_line = match (typecheck, test.script_header) {
            (true, Some(header)) => at.checked_sub(header).filter(|&n| n > 0),
            (true, None) => None,
            (false, _) => Some(at),
        };
        let f = self.add_failure(t, kind, None, message, line);
        self.change_failure(t, f, FailureChange::ScriptLine(script_line));
        let hint = if typecheck { TYPECHECK_HINT } else { LINT_HINT };
        self.change_failure(t, f, FailureChange::Hint(hint));
        Some(f)
    }

    /// An exception's text names a host the test cannot run on.
    pub(super) fn environment_failure(&mut self, t: usize, f: usize) {
        if let Some(hint) = environment_hint(&self.test(t).failures[f].message) {
            self.change_failure(t, f, FailureChange::Kind(FailureKind::Environment));
            self.change_failure(t, f, FailureChange::Hint(hint));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checker_lines() {
        let d =
            located("testScriptWithTypes:49: error: Cannot call function of unknown type").unwrap();
        assert!(d.typecheck);
        assert_eq!(d.line, 49);
        assert_eq!(d.message, "Cannot call function of unknown type");
        let d = located("/nix/store/x-nixos-test-driver-web/test-script:3:1: undefined name 'foo'")
            .unwrap();
        assert!(!d.typecheck);
        assert_eq!((d.line, d.message), (3, "undefined name 'foo'"));
        let d = located("testScript:7:5: F821 Undefined name `x`").unwrap();
        assert_eq!((d.line, d.message), (7, "F821 Undefined name `x`"));
        assert!(located("testScriptWithTypes:50: note: see here").is_none());
        assert!(located("machine: 3: something").is_none());
        assert_eq!(arrow("  --> testScriptWithTypes.py:62:1"), Some((true, 62)));
        assert_eq!(arrow(" --> test-script:4:2"), Some((false, 4)));
        assert!(diagnostic_head(
            "error[unresolved-reference]: Name `installer` used"
        ));
        assert!(diagnostic_head("F821 Undefined name `foo`"));
        assert!(!diagnostic_head("error: builder for"));
        assert!(!diagnostic_head("OK 200 fine"));
        assert_eq!(
            machine_hint_line("    41\tclient: Machine; server: Machine;"),
            Some(41)
        );
        assert_eq!(machine_hint_line("    41\tclient.succeed('x')"), None);
        // mypy --pretty: the rest of a message, not the script line under it.
        assert!(wraps_message("return a value"));
        assert!(!wraps_message(
            "                server.wait_for_console_text(\"x\")"
        ));
        assert!(!wraps_message(
            "Found 3 errors in 1 file (checked 1 source file)"
        ));
        assert!(!wraps_message("testScriptWithTypes:116: error: x"));
        assert!(!wraps_message(
            "error: builder for '/nix/store/x.drv' failed"
        ));
    }
}
