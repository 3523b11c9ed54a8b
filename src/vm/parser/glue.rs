//! Lines two writers made together.
//!
//! The driver's serial-console threads and its main thread write stderr without a common
//! lock. Python's `print` writes the text and the newline separately, so one thread's text
//! can land between another's text and its newline: a serial line followed by a driver
//! message on the same line (`…Reached target Multi-User System.machine1: (finished: …)`),
//! two messages (`machine2: starting vmmachine3: starting vm`), a message followed by a
//! serial line, and then an empty line where the second newline arrives. Each function here
//! finds where the second writer's text starts. A guest can print the same bytes, so what
//! a split yields is read as any other line: it never enables an action by itself.

use super::super::classify::{self as c, NESTED_START};
use super::super::sanitize;
use super::super::spans::InPart;

/// Messages the driver prints with no machine prefix and whose shape no console line has
/// by chance.
fn is_bare_message(plain: &str) -> bool {
    plain.starts_with("(finished: ") && plain.contains(" seconds)")
        || plain.starts_with("kill") && plain.contains(" (pid ")
        || plain.starts_with("test script finished in ")
        || plain.starts_with("Test will time out and terminate in ")
        || plain.starts_with("timeout reached; test terminating")
        || plain.starts_with("??? Warning (")
        || plain.starts_with("!!! Test \"")
        || plain.starts_with("!!! Traceback (most recent call last):")
        || plain.starts_with("!!! Breakpoint reached, run ")
}

/// Whether `plain` (and its `display` form) starts with a driver message: `NAME: ` and one
/// of the messages about machines (a machine's first message names it: `NAME: starting vm`),
/// a known machine's step start, another step start or end, or a bare message.
fn is_message(display: &str, plain: &str, is_machine: &dyn Fn(&str) -> bool) -> bool {
    if let Some((name, msg)) = c::machine_prefix(plain)
        && (is_machine(name) || c::is_machine_message(msg))
    {
        let after = c::display_offset(display, plain.len() - msg.len());
        return c::is_machine_message(msg)
            || display
                .get(after..)
                .is_some_and(|d| d.starts_with(NESTED_START));
    }
    display.starts_with(NESTED_START)
        || display.starts_with("\x1b[31m!!! ")
        || display.starts_with("\x1b[1m\x1b[33m??? ")
        || is_bare_message(plain)
}

/// Where a driver message starts inside a serial line (`plain` from `NAME # ` on, the text
/// from `text_off`), as an offset in `display`; `spans`, where known, are `display`'s SGR
/// sequences.
pub fn message_after_serial(
    display: &str,
    plain: &str,
    text_off: usize,
    has_sgr: bool,
    spans: Option<InPart<'_>>,
    is_machine: &dyn Fn(&str) -> bool,
) -> Option<usize> {
    if has_sgr {
        match spans {
            Some(spans) => spans
                .find(display, "\x1b[0m")
                .map(|i| i + 4)
                .find(|&start| message_at(display, start, is_machine)),
            None => coloured(display, is_machine),
        }
    } else {
        uncoloured(plain, text_off, is_machine)
    }
}

/// In colour, the serial line ends with the driver's reset: a message starts right after
/// one of the resets. The line's head (`\x1b[2mNAME # `) has none, so the search starts at
/// the line's start.
fn coloured(display: &str, is_machine: &dyn Fn(&str) -> bool) -> Option<usize> {
    let bytes = display.as_bytes();
    memchr::memchr_iter(0x1b, bytes)
        .filter(|&i| bytes.get(i + 1..i + 4) == Some(b"[0m"))
        .map(|i| i + 4)
        .find(|&start| message_at(display, start, is_machine))
}

/// Whether a driver message starts at `start` of `display`, right after a reset.
fn message_at(display: &str, start: usize, is_machine: &dyn Fn(&str) -> bool) -> bool {
    let rest = &display[start..];
    // The first byte tells most console text apart, before any copy is made.
    rest.len() > 3 && plausible_start(rest.as_bytes()[0]) && {
        let plain = sanitize::strip_sgr(rest);
        is_message(rest, &plain, is_machine)
    }
}

fn plausible_start(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'(' | b'_' | 0x1b | b'!' | b'?')
}

/// Without colours nothing marks the end of the console's text: look for the messages'
/// own shapes, and for a known machine's name right before `: `. One fast scan for bytes
/// every shape has; the rare phrases that have none are tried at the line's end.
fn uncoloured(plain: &str, text_off: usize, is_machine: &dyn Fn(&str) -> bool) -> Option<usize> {
    let bytes = plain.as_bytes();
    let text = bytes.get(text_off..)?;
    for i in memchr::memchr3_iter(b':', b'(', b'!', text) {
        let at = text_off + i;
        let rest = &plain[at..];
        let found = match bytes[at] {
            b':' => rest
                .strip_prefix(": ")
                .filter(|msg| c::is_machine_message(msg))
                .and_then(|_| machine_name_before(plain, text_off, at, is_machine)),
            b'(' if rest.starts_with("(finished: ") && rest.contains(" seconds)") => Some(at),
            // `kill QemuMachine (pid N)`: the phrase starts a few words back.
            b'(' if rest.starts_with("(pid ") => plain[text_off..at]
                .rfind("kill")
                .map(|k| text_off + k)
                .filter(|&k| k > text_off && at - k < 40 && is_bare_message(&plain[k..])),
            b'(' if plain[..at].ends_with("??? Warning ") => Some(at - "??? Warning ".len()),
            b'!' if rest.starts_with("!!! ") && is_bare_message(rest) => Some(at),
            _ => None,
        };
        if let Some(start) = found.filter(|&s| s > text_off) {
            return Some(start);
        }
    }
    let n = bytes.len();
    let phrase = match bytes.last() {
        Some(b's') if n > 1 && bytes[n - 2].is_ascii_digit() => "test script finished in ",
        Some(b's') if plain.ends_with(" seconds") => "Test will time out and terminate in ",
        Some(b'.') if plain.ends_with("test terminating...") => "timeout reached; ",
        _ => return None,
    };
    plain[text_off..]
        .rfind(phrase)
        .filter(|&k| k > 0)
        .map(|k| text_off + k)
}

/// The longest known machine name that ends at `at`, after `text_off`.
fn machine_name_before(
    plain: &str,
    text_off: usize,
    at: usize,
    is_machine: &dyn Fn(&str) -> bool,
) -> Option<usize> {
    let run = plain.as_bytes()[text_off..at]
        .iter()
        .rev()
        .take(64)
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        .count();
    (1..=run)
        .rev()
        .map(|n| at - n)
        .find(|&s| s > text_off && is_machine(&plain[s..at]))
}

/// Where a second message or a serial line starts after a driver message whose own end is
/// known from its shape: `NAME: starting vm`, `NAME: QEMU running (pid N)`,
/// `(finished: …, in N.NN seconds)`, `kill QemuMachine (pid N)`… Offset in `display`.
pub fn after_message(
    display: &str,
    plain: &str,
    is_machine: &dyn Fn(&str) -> bool,
) -> Option<usize> {
    let (base, msg) = match c::machine_prefix(plain) {
        Some((_, msg)) => (plain.len() - msg.len(), msg),
        None => (0, plain),
    };
    let end = message_end(msg)?;
    let at = base + end;
    let rest = &plain[at..];
    if rest.is_empty() {
        return None;
    }
    let dat = c::display_offset(display, at);
    // Past the message's own closing reset, if it had one.
    let drest = &display[dat..];
    let drest = drest.strip_prefix("\x1b[0m").unwrap_or(drest);
    let glued = c::serial(rest).is_some() || is_message(drest, rest, is_machine);
    glued.then_some(dat)
}

/// The length of a message whose end its shape tells.
fn message_end(msg: &str) -> Option<usize> {
    const FIXED: &[&str] = &[
        "starting vm",
        "connected to guest root shell",
        "forced crash",
        "cleanup",
    ];
    if let Some(f) = FIXED.iter().find(|f| msg.starts_with(**f)) {
        return Some(f.len());
    }
    let closes_at = |s: &str| msg.find(s).map(|i| i + s.len());
    if msg.starts_with("QEMU running (pid ")
        || msg.starts_with("systemd-nspawn running (pid ")
        || msg.starts_with("kill") && msg.contains(" (pid ")
    {
        return closes_at(")");
    }
    if msg.starts_with("(finished: ") || msg.starts_with("(connecting took ") {
        return closes_at(" seconds)");
    }
    None
}

/// Where a dim serial line starts in the middle of a display line.
pub(super) fn glued_serial(display: &str, spans: Option<InPart<'_>>) -> Option<usize> {
    if let Some(spans) = spans {
        return spans
            .find(display, "\x1b[2m")
            .find(|&at| at >= 1 && serial_head_at(display, at));
    }
    static DIM: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\x1b[2m"));
    let mut from = 1;
    let bytes = display.as_bytes();
    while let Some(i) = DIM.find(bytes.get(from..)?) {
        let at = from + i;
        if serial_head_at(display, at) {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

/// Whether the dim sequence at `at` opens a console line's `NAME # `.
fn serial_head_at(display: &str, at: usize) -> bool {
    let rest = &display[at + 4..];
    let head = &rest.as_bytes()[..rest.len().min(66)];
    head.windows(2)
        .position(|w| w == b" #")
        .is_some_and(|hash| {
            let after = &rest[hash + 2..];
            c::is_name(&rest[..hash])
                && (after.is_empty() || after.starts_with(' ') || after.starts_with('\x1b'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(n: &str) -> bool {
        matches!(n, "machine1" | "machine2" | "server")
    }

    #[test]
    fn a_finish_after_plain_console_text() {
        let line = "machine1 # [  OK  ] Reached target Multi-User System.machine1: (finished: waiting for unit multi-user.target, in 3.02 seconds)";
        let at = message_after_serial(line, line, 11, false, None, &known).unwrap();
        assert_eq!(
            &line[at..],
            "machine1: (finished: waiting for unit multi-user.target, in 3.02 seconds)"
        );
    }

    #[test]
    fn bare_messages_after_plain_console_text() {
        for (line, message) in [
            (
                "server # bye kill QemuMachine (pid 12)",
                "kill QemuMachine (pid 12)",
            ),
            ("server # loginkill vlan (pid 9)", "kill vlan (pid 9)"),
            (
                "server # xtest script finished in 12.50s",
                "test script finished in 12.50s",
            ),
            (
                "server # x(finished: cleanup, in 0.10 seconds)",
                "(finished: cleanup, in 0.10 seconds)",
            ),
            (
                "server # x??? Warning (UserWarning): y",
                "??? Warning (UserWarning): y",
            ),
            (
                "server # x!!! Test \"a\" failed with error: \"b\"",
                "!!! Test \"a\" failed with error: \"b\"",
            ),
            (
                "server # xtimeout reached; test terminating...",
                "timeout reached; test terminating...",
            ),
        ] {
            let at = message_after_serial(line, line, 9, false, None, &known);
            assert_eq!(at.map(|a| &line[a..]), Some(message), "{line}");
        }
    }

    #[test]
    fn a_message_after_a_coloured_console_line() {
        let line = "\x1b[2mmachine1 # login: \x1b[0mmachine2: QEMU running (pid 1234)";
        let plain = sanitize::strip_sgr(line);
        let at = message_after_serial(line, &plain, 11, true, None, &known).unwrap();
        assert_eq!(&line[at..], "machine2: QEMU running (pid 1234)");
        let start = "\x1b[2mserver # x\x1b[0m\x1b[1m\x1b[32mcleanup\x1b[0m";
        let plain = sanitize::strip_sgr(start);
        let at = message_after_serial(start, &plain, 9, true, None, &known).unwrap();
        assert_eq!(&start[at..], "\x1b[1m\x1b[32mcleanup\x1b[0m");
    }

    #[test]
    fn noted_sequences_find_what_a_scan_finds() {
        use super::super::super::spans::SgrSpans;
        for line in [
            "\x1b[2mmachine1 # login: \x1b[0mmachine2: QEMU running (pid 1234)",
            "\x1b[2mserver # x\x1b[0m\x1b[1m\x1b[32mcleanup\x1b[0m",
            "\x1b[2mmachine1 # [\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mfoo\x1b[0m.\x1b[0m",
            "\x1b[1mmachine1: must succeed: true\x1b[0m\x1b[2mserver # up\x1b[0m",
            "\x1b[2mmachine1 # a\x1b[0m\x1b[2mmachine2 # b\x1b[0m",
            "\x1b[2mm # \x1b[2m\x1b[2mnot a # name\x1b[0m",
        ] {
            let mut spans = SgrSpans::default();
            spans.scan(line);
            let plain = sanitize::strip_sgr(line);
            let part = spans.part(line);
            assert!(part.is_some());
            assert_eq!(
                message_after_serial(line, &plain, 0, true, part, &known),
                message_after_serial(line, &plain, 0, true, None, &known),
                "{line:?}"
            );
            assert_eq!(
                glued_serial(line, part),
                glued_serial(line, None),
                "{line:?}"
            );
        }
    }

    #[test]
    fn console_text_that_only_resembles_a_message_stays() {
        for line in [
            "machine1 # nginx: waiting for connections",
            "machine1 # Started foo: bar baz",
            "machine1 # machine2 is up: starting vm",
            "machine1 # the job was killed",
        ] {
            assert_eq!(
                message_after_serial(line, line, 11, false, None, &known),
                None,
                "{line}"
            );
        }
        let coloured =
            "\x1b[2mmachine1 # [\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mfoo\x1b[0m.\x1b[0m";
        let plain = sanitize::strip_sgr(coloured);
        assert_eq!(
            message_after_serial(coloured, &plain, 11, true, None, &known),
            None
        );
    }

    #[test]
    fn messages_after_messages() {
        let two = "machine2: starting vmmachine1: starting vm";
        assert_eq!(
            &two[after_message(two, two, &known).unwrap()..],
            "machine1: starting vm"
        );
        let fin = "(finished: start all VMs, in 0.51 seconds)machine1 # hello";
        assert_eq!(
            &fin[after_message(fin, fin, &known).unwrap()..],
            "machine1 # hello"
        );
        let kill =
            "kill QemuMachine (pid 77)server: (finished: must succeed: true, in 0.01 seconds)";
        assert_eq!(
            &kill[after_message(kill, kill, &known).unwrap()..],
            "server: (finished: must succeed: true, in 0.01 seconds)"
        );
        for whole in [
            "machine1: starting vm",
            "machine1: QEMU running (pid 5)",
            "(finished: x, in 1.00 seconds)",
            "machine1: starting vm again",
        ] {
            assert_eq!(after_message(whole, whole, &known), None, "{whole}");
        }
    }
}
