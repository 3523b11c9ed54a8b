//! Nix's own lines around a build: what it builds, and its failure report in both forms.
//!
//! Nix up to 2.2x: `error: builder for '/nix/store/…-vm-test-run-NAME.drv' failed with exit
//! code N;` then `last N log lines:` and the tail (`> …`). Current Nix:
//! `error: Cannot build '…drv'.`, `Reason: builder failed with exit code N.`,
//! `Output paths:` and its paths, `Last N log lines:` and the tail. Through a remote
//! builder the header is `error: build of '…drv' on 'ssh://HOST' failed: Cannot build '…'.`.
//! A report is a failure only when its tail showed none of the driver's: it is settled
//! once the tail has been read, so the moment of failure includes what the tail explains.

use super::super::classify as c;
use super::super::event::RunEvent;
use super::super::model::{FailureKind, line_kind as k};
use super::super::sanitize;
use super::Parser;

/// A failure report of Nix being read.
#[derive(Debug)]
pub(super) struct Report {
    t: usize,
    /// The derivation the report names.
    drv: Option<String>,
    code: Option<i32>,
    /// The header as Nix wrote it, for a report whose exit code never comes.
    header: String,
    line: u64,
}

/// What a line of Nix's is.
enum NixLine {
    /// A failure report's first line.
    Header,
    /// `Reason: builder failed with exit code N.`
    Reason(Option<i32>),
    /// `For full logs, run '…'.`: the report is over, and names its test.
    FullLogs,
    /// A line inside a report: `Output paths:` and its paths, `Last N log lines:`.
    Other,
    /// What Nix builds (`these N derivations will be built:`, their paths, `building '…'`):
    /// a report before it is over.
    Build,
}

fn nix_line(plain: &str) -> Option<NixLine> {
    let trimmed = plain.trim_start();
    // Old Nix without `error: `; a copy may cut it inside its path.
    let builder = trimmed.strip_prefix("builder for '").is_some_and(|rest| {
        rest.contains("' failed") || rest.starts_with("/nix/store/") && !rest.contains('\'')
    });
    if trimmed.starts_with("error: builder for '")
        || builder
        || trimmed.starts_with("error: build of '")
        || trimmed.starts_with("error: Cannot build '")
    {
        return Some(NixLine::Header);
    }
    if let Some(rest) = trimmed.strip_prefix("Reason: ") {
        return Some(NixLine::Reason(c::builder_exit_code(rest)));
    }
    if trimmed.starts_with("For full logs, run '") {
        return Some(NixLine::FullLogs);
    }
    let tail_head = (trimmed.starts_with("last ") || trimmed.starts_with("Last "))
        && trimmed.ends_with(" log lines:");
    if tail_head || trimmed == "Output paths:" {
        return Some(NixLine::Other);
    }
    let store_path =
        plain.starts_with("  ") && trimmed.starts_with("/nix/store/") && !trimmed.contains(' ');
    let build = trimmed.starts_with("these ")
        && (trimmed.ends_with("will be built:") || trimmed.ends_with("will be fetched:"))
        || trimmed.starts_with("building '")
        || store_path && trimmed.ends_with(".drv");
    if build {
        return Some(NixLine::Build);
    }
    // The paths under `Output paths:`.
    store_path.then_some(NixLine::Other)
}

/// The derivation a report's header names: the first quoted store path.
fn drv_in(text: &str) -> Option<&str> {
    let start = text.find("'/nix/store/")? + 1;
    let rest = &text[start..];
    let path = &rest[..rest.find('\'')?];
    (path.ends_with(".drv") && !path.contains(char::is_whitespace)).then_some(path)
}

impl Parser {
    /// Nix's own lines (not the builder's): they name the test they are about.
    pub(super) fn nix_line(&mut self, display: &str, has_sgr: bool) -> bool {
        // Most lines can be told apart by their first character.
        let first = display.trim_start_matches(' ').as_bytes().first().copied();
        if !matches!(
            first,
            Some(b'e' | b'b' | b'F' | b'l' | b'L' | b'R' | b'O' | b't' | b'/' | 0x1b)
        ) || display.starts_with("\x1b[2m")
        {
            return false;
        }
        let plain_owned;
        let plain = if has_sgr {
            plain_owned = sanitize::strip_sgr(display);
            plain_owned.as_str()
        } else {
            display
        };
        let Some(what) = nix_line(plain) else {
            return false;
        };
        // `Reason:` and the lines after a header belong to its report.
        if matches!(what, NixLine::Reason(_) | NixLine::Other)
            && let Some(report) = &self.nix_report
        {
            let t = report.t;
            if let NixLine::Reason(code) = what {
                self.report_code(code);
            }
            self.push_driver(t, display, plain, has_sgr, k::NIX);
            return true;
        }
        if matches!(what, NixLine::Other) && self.nix_report.is_none() {
            // Output paths without a report: Nix's line all the same.
            let t = self.current;
            self.push_driver(t, display, plain, has_sgr, k::NIX);
            return true;
        }
        if matches!(what, NixLine::Reason(_)) {
            // A reason with no header: a line of someone else's.
            return false;
        }
        let trimmed = plain.trim_start();
        let t = self.nix_test(trimmed, matches!(what, NixLine::FullLogs));
        if let Some(host) = c::remote_builder(trimmed) {
            self.emit(t, RunEvent::Builder(host));
        }
        match what {
            NixLine::Header => {
                self.settle_nix_report();
                self.tail_test = Some(t);
                self.nix_report = Some(Report {
                    t,
                    drv: drv_in(trimmed).map(str::to_string),
                    code: None,
                    header: trimmed
                        .trim_start_matches("error: ")
                        .trim_end_matches([';', '.'])
                        .to_string(),
                    line: self.run.lines.saturating_sub(1),
                });
                self.push_driver(t, display, plain, has_sgr, k::NIX);
                if trimmed.contains("failed with exit code") {
                    self.report_code(c::builder_exit_code(trimmed));
                }
            }
            NixLine::FullLogs => {
                self.push_driver(t, display, plain, has_sgr, k::NIX);
                self.settle_nix_report();
            }
            NixLine::Build => {
                self.settle_nix_report();
                self.push_driver(t, display, plain, has_sgr, k::NIX);
            }
            _ => {
                self.push_driver(t, display, plain, has_sgr, k::NIX);
            }
        }
        self.emit(t, RunEvent::ThroughBuild);
        self.current = t;
        true
    }

    /// The test a line of Nix's is about, named by its `.drv` where it has one.
    fn nix_test(&mut self, trimmed: &str, full_logs: bool) -> usize {
        let Some(name) = c::test_name_in_path(trimmed).map(str::to_string) else {
            return self.current;
        };
        let taken = self.named(&name).is_some();
        if full_logs {
            // The tail just read belongs to this test.
            let tail = self.tail_test.unwrap_or(self.current);
            if self.test(tail).name.is_none() && !taken {
                self.emit(tail, RunEvent::Named(&name));
            }
            let t = self.test_named(&name);
            self.tail_test = None;
            return t;
        }
        if self.test(self.current).name.is_none() && !taken {
            // A bare log names its test only in Nix's lines.
            self.emit(self.current, RunEvent::Named(&name));
            return self.current;
        }
        self.test_named(&name)
    }

    /// The exit code of the report being read.
    fn report_code(&mut self, code: Option<i32>) {
        let Some(report) = &mut self.nix_report else {
            return;
        };
        report.code = report.code.or(code);
        let t = report.t;
        self.emit(t, RunEvent::BuilderExit(code));
    }

    /// The report's tail has been read: it is a failure of its own when the driver's
    /// lines showed none (the global timeout always is one).
    pub(super) fn settle_nix_report(&mut self) {
        let Some(report) = self.nix_report.take() else {
            return;
        };
        let t = report.t;
        let test = self.test(t);
        let (kind, message) = match report.code {
            Some(143) => (
                FailureKind::GlobalTimeout,
                "the driver was terminated by SIGTERM (exit code 143): the global timeout"
                    .to_string(),
            ),
            Some(code) => (
                FailureKind::BuildFailed,
                match &report.drv {
                    Some(drv) => format!("builder for '{drv}' failed with exit code {code}"),
                    None => report.header.clone(),
                },
            ),
            None => (FailureKind::BuildFailed, report.header.clone()),
        };
        let shown = if kind == FailureKind::GlobalTimeout {
            test.failures
                .iter()
                .any(|f| f.kind == FailureKind::GlobalTimeout)
        } else {
            test.failures
                .iter()
                .any(|f| f.kind != FailureKind::KernelPanic)
        };
        if !shown {
            self.add_failure(t, kind, None, message, report.line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_report_forms_are_known() {
        let drv = "/nix/store/0000000000000000000000000000000a-vm-test-run-web.drv";
        for header in [
            format!("error: builder for '{drv}' failed with exit code 1;"),
            format!("error: Cannot build '{drv}'."),
            format!("error: build of '{drv}' on 'ssh://nix@builder' failed: Cannot build '{drv}'."),
        ] {
            assert!(
                matches!(nix_line(&header), Some(NixLine::Header)),
                "{header}"
            );
            assert_eq!(drv_in(&header), Some(drv));
        }
        assert!(matches!(
            nix_line("       Reason: builder failed with exit code 143."),
            Some(NixLine::Reason(Some(143)))
        ));
        for other in [
            "       Output paths:",
            "       Last 25 log lines:",
            "last 10 log lines:",
        ] {
            assert!(matches!(nix_line(other), Some(NixLine::Other)), "{other}");
        }
        for build in [
            "these 2 derivations will be built:",
            "  /nix/store/0000000000000000000000000000000a-vm-test-run-web.drv",
            "building '/nix/store/0000000000000000000000000000000a-vm-test-run-web.drv'...",
        ] {
            assert!(matches!(nix_line(build), Some(NixLine::Build)), "{build}");
        }
        assert!(nix_line("machine # error: something").is_none());
    }
}
