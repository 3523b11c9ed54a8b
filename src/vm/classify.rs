//! Pure recognisers for the driver's line formats, every generation (reference §11).
//!
//! Each function looks at one line's plain text (or display text where colours carry the
//! meaning) and says what it is; the parser decides what that means for the model.

/// SGR that opens a nested block (`logger.nested`): bold, then green.
pub const NESTED_START: &str = "\x1b[1m\x1b[32m";

/// A machine name as the driver and Nix print it: a Nix attribute name, so it starts with
/// a letter, digit or `_` (IPython's `...:` continuation prompt is no machine).
pub fn is_name(s: &str) -> bool {
    crate::vsock::address::is_machine_name(s)
}

/// `pythonize_name`: how a machine is spelled in the test script and the symbols block.
pub fn pythonize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let ok = c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit());
        out.push(if ok { c } else { '_' });
    }
    out
}

/// How Nix wrapped a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap<'a> {
    /// Bare driver output.
    Bare,
    /// `vm-test-run-NAME> ` (or ` (post)> `) of `nix build -L`.
    Prefixed { test: &'a str, post: bool },
    /// A line of Nix's `last N log lines:` tail (`       > `).
    Tail,
}

/// Cheap test for a line that may carry a Nix wrapping.
pub fn may_be_wrapped(display: &str) -> bool {
    // Told apart by the first byte: every line pays for this.
    match display.as_bytes().first() {
        Some(b'v') => display.starts_with("vm-test-run-"),
        Some(b'n') => display.starts_with("nixos-test-driver-"),
        Some(0x1b) => {
            display.starts_with("\x1b[2mvm-test-run-")
                || display.starts_with("\x1b[2mnixos-test-driver-")
        }
        Some(b' ' | b'>') => display.trim_start_matches(' ').starts_with('>'),
        _ => false,
    }
}

/// Removes a Nix wrapping from a display line. Returns the wrapping, the rest of the
/// display text, and how many plain bytes the prefix took.
pub fn unwrap_nix(display: &str) -> (Wrap<'_>, &str) {
    let (lead, body) = match display.strip_prefix("\x1b[2m") {
        Some(rest) => (true, rest),
        None => (false, display),
    };
    // The test's run, or the build of its driver (where the script is linted and checked).
    if let Some(rest) = body
        .strip_prefix("vm-test-run-")
        .or_else(|| body.strip_prefix("nixos-test-driver-"))
        && let Some(gt) = rest.find("> ")
    {
        let label = &rest[..gt];
        let (name, post) = match label.strip_suffix(" (post)") {
            Some(n) => (n, true),
            None => (label, false),
        };
        if !name.is_empty() && !name.contains(' ') && !name.contains('\x1b') {
            let mut inner = &rest[gt + 2..];
            if lead {
                inner = inner.strip_prefix("\x1b[0m").unwrap_or(inner);
            }
            return (Wrap::Prefixed { test: name, post }, inner);
        }
    }
    if !lead {
        let spaces = display.len() - display.trim_start_matches(' ').len();
        if spaces <= 7 {
            let rest = &display[spaces..];
            if let Some(inner) = rest.strip_prefix("> ") {
                return (Wrap::Tail, inner);
            }
            if rest == ">" {
                return (Wrap::Tail, "");
            }
        }
    }
    (Wrap::Bare, display)
}

/// `2026-04-01 12:00:00,123 INFO ` (Python `logging`'s `%(asctime)s %(levelname)s`), with
/// ` - ` or `:` between the parts as formatters often have, removed from the line's front.
pub fn strip_log_prefix(line: &str) -> &str {
    let b = line.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let stamp = b.len() > 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && matches!(b[19], b',' | b'.')
        && digits(20..23);
    if !stamp {
        return line;
    }
    let rest = line[23..].trim_start_matches([' ', '-', ':']);
    for level in ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] {
        if let Some(after) = rest.strip_prefix(level)
            && let Some(msg) = after
                .strip_prefix(": ")
                .or_else(|| after.strip_prefix(" - "))
                .or_else(|| after.strip_prefix(' '))
        {
            return msg;
        }
    }
    line
}

/// `NAME # text`, `NAME #`, and the Perl driver's `NAME# text` / `NAME#`. Returns the name
/// and the offset of the text in `plain`.
pub fn serial(plain: &str) -> Option<(&str, usize)> {
    // A name is at most 64 bytes: the `#` is near the start or nowhere.
    let head = &plain.as_bytes()[..plain.len().min(66)];
    let hash = memchr::memchr(b'#', head)?;
    let head = &plain[..hash];
    let name = head.strip_suffix(' ').unwrap_or(head);
    if !is_name(name) {
        return None;
    }
    let after = &plain[hash + 1..];
    if after.is_empty() {
        Some((name, plain.len()))
    } else if after.starts_with(' ') {
        Some((name, hash + 2))
    } else {
        None
    }
}

/// `NAME: msg` with a syntactically valid name. Whether NAME is a machine is decided by the
/// caller.
pub fn machine_prefix(plain: &str) -> Option<(&str, &str)> {
    // A name is at most 64 bytes: the colon is near the start or nowhere.
    let head = &plain.as_bytes()[..plain.len().min(66)];
    let colon = memchr::memchr(b':', head)?;
    if colon + 1 < plain.len() && plain.as_bytes()[colon + 1] != b' ' {
        return None;
    }
    let name = &plain[..colon];
    // `error: …` and friends are messages, never machines.
    if !is_name(name)
        || matches!(
            name,
            "error" | "warning" | "Note" | "note" | "Warning" | "Error"
        )
    {
        return None;
    }
    let msg = plain.get(colon + 2..).unwrap_or("");
    Some((name, msg))
}

/// Messages the driver logs about a machine (`NAME: msg`), every generation. A `foo: bar`
/// line whose name is not yet known counts as a machine only when its message is one of
/// these.
pub fn is_machine_message(msg: &str) -> bool {
    const STARTS: &[&str] = &[
        "starting vm",
        "QEMU running (pid ",
        "waiting for ",
        "must succeed: ",
        "must fail: ",
        "connected to guest root shell",
        "Guest shell says: ",
        "Guest root shell did not produce any data yet",
        "  To debug, enter the VM",
        "(connecting took ",
        "running command: ",
        "exit status ",
        "output:",
        "making screenshot",
        "sending key",
        "sending monitor command",
        "forced crash",
        "(finished: ",
        "Terminal is ready",
        "systemd-nspawn running (pid ",
        "deleting machine state directory",
        "if you want to keep the machine state",
        "copying ",
        "still waiting for container",
        "Waiting for journal",
        "crashing",
        "Closing connection to the console",
        "checking ",
        "Checking polling condition",
        "VNC viewer ",
        "failed to open the VNC viewer",
    ];
    // Most text that is not a message is told apart by its first byte.
    const FIRST: [bool; 256] = first_bytes(STARTS);
    if !msg.as_bytes().first().is_some_and(|&b| FIRST[b as usize]) {
        return false;
    }
    STARTS.iter().any(|s| msg.starts_with(s))
}

/// Which bytes the strings of `list` start with.
const fn first_bytes(list: &[&str]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < list.len() {
        table[list[i].as_bytes()[0] as usize] = true;
        i += 1;
    }
    table
}

/// Messages the driver prints through `log()`, never as a nested block start: they can
/// not be the start a later `(finished: …)` refers to.
pub fn is_log_only(msg: &str) -> bool {
    const STARTS: &[&str] = &[
        "starting vm",
        "QEMU running (pid ",
        "connected to guest root shell",
        "Guest shell says: ",
        "(connecting took ",
        "output:",
        "exit status ",
        "killing ",
        "kill ",
        "test script finished in ",
        "Machine state will be reset",
        "Test will time out and terminate in ",
        "creating tap interface",
        "running vlan (pid ",
        "collecting coverage data",
        "syncing",
        "Guest root shell did not produce any data yet",
        "  To debug, enter the VM",
        "Terminal is ready",
        "if you want to keep the machine state",
        "deleting machine state directory",
        "systemd-nspawn running (pid ",
        "qemu-system-",
        "qemu-kvm: ",
        "vde_switch: ",
        "!!! ",
        "??? ",
        "Traceback (most recent call last):",
        "additionally exposed symbols:",
        "SSH backdoor enabled",
        "RemotePdb ",
    ];
    STARTS.iter().any(|s| msg.starts_with(s)) || msg.trim().is_empty()
}

/// Step starts that are nested blocks in every driver generation: left open by a failure,
/// they are the failed steps.
pub fn is_known_nested(msg: &str) -> bool {
    const STARTS: &[&str] = &[
        "subtest: ",
        "must succeed: ",
        "must fail: ",
        "waiting for ",
        "run the VM test script",
        "running the VM test script",
        "start all VMs",
        "start all VLans",
        "making screenshot",
        "sending monitor command",
        "Checking polling condition",
        "cleanup",
        "cleaning up",
    ];
    STARTS.iter().any(|s| msg.starts_with(s))
}

/// Longest duration taken from a log: a century. Anything longer (or negative, or not a
/// number) is not a duration the driver printed.
pub const MAX_SECONDS: f64 = 100.0 * 365.0 * 86_400.0;

/// A duration in seconds as the driver prints it (`3.02`, `3600.0`, `600`). A log can say
/// anything (`1e20`, `-1`, `inf`, `NaN`): only a finite, non-negative number up to
/// [`MAX_SECONDS`] is one.
pub fn seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    // Rust's float syntax takes `inf`, `NaN` and exponents; the driver prints digits and a dot.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = text.parse().ok()?;
    (secs.is_finite() && (0.0..=MAX_SECONDS).contains(&secs)).then_some(secs)
}

/// Steps that run a command in the guest's root shell: finished, they show the machine
/// was connected.
pub fn needs_shell(title: &str) -> bool {
    [
        "must succeed: ",
        "must fail: ",
        "waiting for unit ",
        "waiting for success: ",
        "waiting for failure: ",
        "waiting for file ",
        "waiting for TCP port ",
        "copying ",
    ]
    .iter()
    .any(|p| title.starts_with(p))
}

/// `(finished: MSG, in N.NN seconds)`: the message and the seconds.
/// A traceback frame of the Python REPL (`File "<stdin>"`, `File "<console>"`) or of
/// IPython (`Cell In[3], line 1`, `File "<ipython-input-3-…>"`, `Input In [3]`): the
/// statement was typed there, not run by the test script (`File "<string>"`).
pub fn is_repl_frame(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("File \"<stdin>\"")
        || l.starts_with("File \"<console>\"")
        || l.starts_with("File \"<ipython-input-")
        || l.starts_with("Cell In[")
        || l.starts_with("Input In [")
}

pub fn finished(msg: &str) -> Option<(&str, f64)> {
    let inner = msg.strip_prefix("(finished: ")?.strip_suffix(" seconds)")?;
    let comma = inner.rfind(", in ")?;
    let secs = seconds(&inner[comma + 5..])?;
    Some((&inner[..comma], secs))
}

/// The early Python driver's block end: `(0.05 seconds)`.
pub fn early_close(msg: &str) -> Option<f64> {
    seconds(msg.strip_prefix('(')?.strip_suffix(" seconds)")?)
}

/// `QEMU running (pid N)`, `kill QemuMachine (pid N)`, `killing NAME (pid N)`: the pid.
pub fn pid_in(msg: &str) -> Option<u32> {
    let start = msg.find("(pid ")? + 5;
    let rest = &msg[start..];
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// A validated debug-hook breakpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BreakpointLine {
    pub attach: String,
    pub id: String,
}

/// `Breakpoint reached, run 'sudo /nix/store/<hash>-attach/bin/attach <id>'` (after `!!! `).
/// Anything not of exactly that shape is refused.
pub fn breakpoint(text: &str, extra_attach_prefix: Option<&str>) -> Option<BreakpointLine> {
    let rest = text.strip_prefix("Breakpoint reached, run 'sudo ")?;
    let rest = rest.strip_suffix('\'')?;
    let (attach, id) = rest.rsplit_once(' ')?;
    if id.is_empty() || id.len() > 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !is_store_attach(attach)
        && !extra_attach_prefix.is_some_and(|p| is_prefixed_attach(attach, p))
    {
        return None;
    }
    Some(BreakpointLine {
        attach: attach.to_string(),
        id: id.to_string(),
    })
}

/// `/nix/store/<32 base-32 chars>-attach/bin/attach`.
pub fn is_store_attach(path: &str) -> bool {
    is_prefixed_attach(path, "/nix/store")
}

fn is_prefixed_attach(path: &str, store: &str) -> bool {
    let Some(rest) = path.strip_prefix(store).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    let Some(hash) = rest.strip_suffix("-attach/bin/attach") else {
        return false;
    };
    hash.len() == 32
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// `RemotePdb session open at 127.0.0.1:4444, waiting for connection ...`: the address.
/// remote-pdb (2.x, what the driver uses) prints `HOST:PORT`; the tuple form
/// `('127.0.0.1', 4444)` is read too.
pub fn remote_pdb_address(text: &str) -> Option<(String, u16)> {
    let rest = text.strip_prefix("RemotePdb session open at ")?;
    let (host, port) = if let Some(tuple) = rest.strip_prefix("('") {
        let (host, rest) = tuple.split_once("', ")?;
        (host, rest.split(')').next()?)
    } else {
        let addr = rest.split(',').next()?;
        addr.rsplit_once(':')?
    };
    let port = port.trim().parse().ok()?;
    let host = host.trim();
    // Only loopback: pdb is on this host (or in the sandbox), and a host to connect to must
    // never come from text a guest could have printed.
    (is_loopback(host) && port != 0).then(|| (host.to_string(), port))
}

/// `127.0.0.1` (any of 127/8), `::1` or `localhost`.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A REPL prompt line of an interactive transcript: `>>> `, `In [n]: `, `...: `.
pub fn repl_prompt(plain: &str) -> Option<usize> {
    if plain.starts_with(">>> ") || plain == ">>>" {
        return Some(4.min(plain.len()));
    }
    if plain.starts_with("... ") {
        return Some(4);
    }
    if let Some(rest) = plain.strip_prefix("In [") {
        let close = rest.find("]:")?;
        if close > 0 && rest[..close].bytes().all(|b| b.is_ascii_digit()) {
            let end = 4 + close + 2;
            return Some(if plain[end..].starts_with(' ') {
                end + 1
            } else {
                end
            });
        }
    }
    None
}

/// The exception line that ends a traceback: `Name: message` or a bare `Name`.
pub fn exception_line(text: &str) -> Option<(&str, &str)> {
    if text.starts_with(' ') || text.is_empty() {
        return None;
    }
    let (name, msg) = match text.find(": ") {
        Some(i) => (&text[..i], &text[i + 2..]),
        None => (text.trim_end_matches(':'), ""),
    };
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    let looks = name.ends_with("Error")
        || name.ends_with("Exception")
        || name.ends_with("Failed")
        || name.ends_with("Interrupt")
        || name.ends_with("Exit")
        || name.ends_with("Warning")
        || name.ends_with("Quit")
        || name == "Exception";
    (ok && looks).then_some((name, msg))
}

/// The third line of `additionally exposed symbols:`, the driver's own names (`start_all`,
/// `test_script`, …): never machines, even where the machines' line is missing.
pub fn is_driver_symbols(list: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|n| matches!(n, "start_all" | "test_script" | "run_tests" | "join_all"))
}

/// Perl's `die` (or `warn`) in the driver's own code: `TEXT at /nix/store/…-nixos-test-driver/…
/// line N.`, with `, <FH> line N.` when a file handle was being read.
pub fn is_perl_die(msg: &str) -> bool {
    let Some(body) = msg.strip_suffix('.') else {
        return false;
    };
    let body = match body.rsplit_once(", <") {
        Some((b, fh)) if fh.contains("> line ") || fh.contains("> chunk ") => b,
        _ => body,
    };
    let Some((before, n)) = body.rsplit_once(" line ") else {
        return false;
    };
    let Some((text, path)) = before.rsplit_once(" at ") else {
        return false;
    };
    !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && !text.trim().is_empty()
        && path.starts_with("/nix/store/")
        && path.contains("-nixos-test-driver/")
        && !path.contains(' ')
}

/// A traceback's last line when the exception has no text: `KeyboardInterrupt`,
/// `bdb.BdbQuit`, `foo.SomeError` (a dotted Python name, each part an identifier).
pub fn is_exception_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text.split('.').all(|part| {
            part.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        && text
            .rsplit('.')
            .next()
            .is_some_and(|last| last.bytes().next().is_some_and(|b| b.is_ascii_uppercase()))
}

/// The lines Python puts between the tracebacks of chained exceptions.
pub fn is_chained_exception(text: &str) -> bool {
    text == "During handling of the above exception, another exception occurred:"
        || text == "The above exception was the direct cause of the following exception:"
}

/// A command quoted in an assertion: ``command `X` failed`` and friends.
pub fn quoted_command(msg: &str) -> Option<&str> {
    let rest = msg.split_once("command `")?.1;
    Some(&rest[..rest.rfind('`')?])
}

/// The command of a `must succeed: X` / `waiting for success: X` step.
pub fn step_command(title: &str) -> Option<&str> {
    for p in [
        "must succeed: ",
        "must fail: ",
        "waiting for success: ",
        "waiting for failure: ",
        "running command: ",
    ] {
        if let Some(c) = title.strip_prefix(p) {
            return Some(c);
        }
    }
    None
}

/// A kernel panic on a serial console.
pub fn is_kernel_panic(text: &str) -> bool {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("Kernel panic - not syncing"));
    FINDER.find(text.as_bytes()).is_some()
}

/// `vm-test-run-NAME` inside a store path or derivation name.
pub fn test_name_in_path(text: &str) -> Option<&str> {
    let start = match text.find("-vm-test-run-") {
        Some(i) => i + "-vm-test-run-".len(),
        // The driver's own derivation, built (and its script checked) first.
        None => text.find("-nixos-test-driver-")? + "-nixos-test-driver-".len(),
    };
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c == '\'' || c == '"' || c == '`' || c.is_whitespace())
        .unwrap_or(rest.len());
    let name = rest[..end].trim_end_matches('.').trim_end_matches(".drv");
    (!name.is_empty()).then_some(name)
}

/// The host of `build of '…' on 'ssh://[USER@]HOST' failed` (also `ssh-ng://`), when it is
/// a plain host name that ssh takes as one: the paused sandbox of a debug hook is there.
pub fn remote_builder(text: &str) -> Option<&str> {
    let rest = text.split_once("' on '")?.1;
    let uri = &rest[..rest.find('\'')?];
    let host = uri
        .strip_prefix("ssh://")
        .or_else(|| uri.strip_prefix("ssh-ng://"))?;
    let host = host.split('?').next()?;
    let (user, name) = host.rsplit_once('@').unwrap_or(("", host));
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    let ok = !name.is_empty()
        && !name.starts_with(['-', '.'])
        && !user.starts_with('-')
        && plain(name)
        && plain(user)
        && host.len() <= 253;
    ok.then_some(host)
}

/// `failed with exit code N` in a Nix builder line.
pub fn builder_exit_code(text: &str) -> Option<i32> {
    let rest = text.split_once("failed with exit code ")?.1;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Where a plain offset of `display` falls in the display text: right after the plain
/// character before it, so SGR sequences that follow stay with the text after the offset.
pub fn display_offset(display: &str, plain_offset: usize) -> usize {
    let bytes = display.as_bytes();
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        if plain == plain_offset {
            return i;
        }
        if bytes[i] == 0x1b {
            match memchr::memchr(b'm', &bytes[i..]) {
                Some(m) => {
                    i += m + 1;
                    continue;
                }
                None => break,
            }
        }
        plain += 1;
        i += 1;
    }
    i.min(display.len())
}

#[cfg(test)]
mod tests {

    #[test]
    fn repl_frames_are_told_from_the_test_scripts() {
        assert!(is_repl_frame("  File \"<stdin>\", line 1, in <module>"));
        assert!(is_repl_frame("Cell In[3], line 1"));
        assert!(is_repl_frame(
            "  File \"<ipython-input-3-5c1f>\", line 1, in <module>"
        ));
        assert!(is_repl_frame("  Input In [2], in <cell line: 1>()"));
        assert!(!is_repl_frame("  File \"<string>\", line 14, in <module>"));
        assert!(!is_repl_frame("  File \"/nix/store/x/driver.py\", line 1"));
    }

    use super::*;

    #[test]
    fn perl_dies_in_the_driver() {
        let drv = "/nix/store/k73dbm2s3kz7f8hvkinqsary635rvxj6-nixos-test-driver";
        assert!(is_perl_die(&format!(
            "Cannot open a pty at {drv}/bin/.nixos-test-driver-wrapped line 32."
        )));
        assert!(is_perl_die(&format!(
            "oops at {drv}/lib/perl5/site_perl/Machine.pm line 227, <__ANONIO__> line 901."
        )));
        // A library's warning, a sentence that names no driver file, no line number.
        assert!(!is_perl_die(
            "pty_allocate(nonfatal): getpt(): No such file or directory at \
             /nix/store/14d7qr5sfw9v05p2hc9h467cnxnbr6i1-perl-IO-Tty-1.12/lib/IO/Pty.pm line 24."
        ));
        assert!(!is_perl_die("the ship is at sea line 4."));
        assert!(!is_perl_die(&format!("x at {drv}/bin/driver line .")));
        assert!(!is_perl_die(&format!(" at {drv}/bin/driver line 3.")));
    }

    #[test]
    fn remote_pdb_addresses() {
        // What remote-pdb 2.1.0 prints (checked by running it), and the tuple form.
        assert_eq!(
            remote_pdb_address(
                "RemotePdb session open at 127.0.0.1:4444, waiting for connection ..."
            ),
            Some(("127.0.0.1".into(), 4444))
        );
        assert_eq!(
            remote_pdb_address(
                "RemotePdb session open at ('127.0.0.1', 45419), waiting for connection ..."
            ),
            Some(("127.0.0.1".into(), 45419))
        );
        assert_eq!(
            remote_pdb_address("RemotePdb session open at ::1:4444, waiting for connection ..."),
            Some(("::1".into(), 4444))
        );
        for bad in [
            "RemotePdb session open at 10.0.0.1:4444, waiting for connection ...",
            "RemotePdb session open at evil.example:4444, waiting for connection ...",
            "RemotePdb session open at ('192.168.1.2', 4444), waiting for connection ...",
            "RemotePdb session open at 127.0.0.1:0, waiting for connection ...",
            "RemotePdb session open at 127.0.0.1, waiting for connection ...",
            "RemotePdb session open at 127.0.0.1:port, waiting",
            "RemotePdb session open at :4444, waiting",
            "RemotePdb accepted connection from ('127.0.0.1', 5555).",
        ] {
            assert_eq!(remote_pdb_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn nix_wrappings() {
        assert_eq!(
            unwrap_nix("vm-test-run-foo> machine # x"),
            (
                Wrap::Prefixed {
                    test: "foo",
                    post: false
                },
                "machine # x"
            )
        );
        assert_eq!(
            unwrap_nix("\x1b[2mvm-test-run-test-installation-> \x1b[0mtarget: x"),
            (
                Wrap::Prefixed {
                    test: "test-installation-",
                    post: false
                },
                "target: x"
            )
        );
        assert_eq!(
            unwrap_nix("vm-test-run-foo (post)> done"),
            (
                Wrap::Prefixed {
                    test: "foo",
                    post: true
                },
                "done"
            )
        );
        assert_eq!(unwrap_nix("       > cleanup"), (Wrap::Tail, "cleanup"));
        assert_eq!(unwrap_nix("> !!! "), (Wrap::Tail, "!!! "));
        assert_eq!(
            unwrap_nix(">>> start_all()"),
            (Wrap::Bare, ">>> start_all()")
        );
    }

    #[test]
    fn serial_lines() {
        assert_eq!(serial("machine # hi"), Some(("machine", 10)));
        assert_eq!(serial("machine #"), Some(("machine", 9)));
        assert_eq!(serial("client1# <<< NixOS"), Some(("client1", 9)));
        assert_eq!(serial("client1#"), Some(("client1", 8)));
        assert_eq!(serial("vm-1.x # a"), Some(("vm-1.x", 9)));
        assert_eq!(serial("# ..."), None);
        assert_eq!(serial("Issue #12"), None);
        assert_eq!(serial("a b # c"), None);
        assert_eq!(serial("... # c"), None);
        assert_eq!(machine_prefix("   ...: x"), None);
        assert_eq!(machine_prefix("...: x"), None);
    }

    #[test]
    fn finished_lines() {
        assert_eq!(
            finished("(finished: must succeed: a, b, in 0.04 seconds)"),
            Some(("must succeed: a, b", 0.04))
        );
        assert_eq!(early_close("(0.05 seconds)"), Some(0.05));
        assert_eq!(early_close("(connecting took 0.00 seconds)"), None);
    }

    #[test]
    fn durations_from_a_log_are_bounded() {
        assert_eq!(seconds("3.02"), Some(3.02));
        assert_eq!(seconds("3600.0"), Some(3600.0));
        assert_eq!(seconds("600"), Some(600.0));
        for bad in [
            "1e20",
            "-1",
            "inf",
            "NaN",
            "",
            ".",
            "1.2.3",
            "99999999999999999999",
        ] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
        assert_eq!(finished("(finished: x, in 1e20 seconds)"), None);
        assert_eq!(early_close("(-1 seconds)"), None);
    }

    #[test]
    fn breakpoints_are_validated() {
        let ok = "Breakpoint reached, run 'sudo /nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 3766386'";
        assert_eq!(
            breakpoint(ok, None),
            Some(BreakpointLine {
                attach: "/nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach".into(),
                id: "3766386".into()
            })
        );
        let outside = "Breakpoint reached, run 'sudo /tmp/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 3766386'";
        assert_eq!(breakpoint(outside, None), None);
        let inject = "Breakpoint reached, run 'sudo /nix/store/ksr4kryl9jl2rmgyhjw9bn2divr3s2d5-attach/bin/attach 1; rm -rf ~'";
        assert_eq!(breakpoint(inject, None), None);
        let dotdot = "Breakpoint reached, run 'sudo /nix/store/../../tmp/x-attach/bin/attach 123'";
        assert_eq!(breakpoint(dotdot, None), None);
    }

    #[test]
    fn prompts() {
        assert_eq!(repl_prompt(">>> start_all()"), Some(4));
        assert_eq!(repl_prompt("In [12]: x"), Some(9));
        assert_eq!(repl_prompt("In [1]:"), Some(7));
        assert_eq!(repl_prompt("Info: x"), None);
    }

    #[test]
    fn exceptions() {
        assert_eq!(
            exception_line("RequestedAssertionFailed: command `false` failed (exit code 1)"),
            Some((
                "RequestedAssertionFailed",
                "command `false` failed (exit code 1)"
            ))
        );
        assert_eq!(
            exception_line("AssertionError: systemd-boot not copied"),
            Some(("AssertionError", "systemd-boot not copied"))
        );
        assert_eq!(exception_line("machine: output: x"), None);
        assert_eq!(exception_line("  File \"<string>\""), None);
    }

    #[test]
    fn names() {
        assert_eq!(pythonize("android-builder"), "android_builder");
        assert_eq!(pythonize("1st"), "_st");
        assert_eq!(
            test_name_in_path(
                "error: builder for '/nix/store/m1h-vm-test-run-systemd-lock-handler.drv' failed"
            ),
            Some("systemd-lock-handler")
        );
        assert_eq!(
            quoted_command("command `xl version` failed (exit code 1)"),
            Some("xl version")
        );
        assert_eq!(pid_in("kill QemuMachine (pid 26712)"), Some(26712));
    }

    #[test]
    fn remote_builders() {
        assert_eq!(
            remote_builder(
                "error: build of '/nix/store/abc-vm-test-run-foo.drv' on 'ssh://alice@builder.example.org' failed: Cannot build"
            ),
            Some("alice@builder.example.org")
        );
        assert_eq!(
            remote_builder("error: build of '/nix/store/a.drv' on 'ssh-ng://b1' failed"),
            Some("b1")
        );
        for bad in [
            "error: build of '/nix/store/a.drv' on 'ssh://-oProxyCommand=x' failed",
            "error: build of '/nix/store/a.drv' on 'ssh://a;b' failed",
            "error: build of '/nix/store/a.drv' on 'daemon' failed",
            "error: build of '/nix/store/a.drv' on 'ssh://' failed",
        ] {
            assert_eq!(remote_builder(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_offsets_skip_sgr() {
        let d = "\x1b[2mab\x1b[0mcd";
        assert_eq!(display_offset(d, 0), 0);
        assert_eq!(display_offset(d, 1), 5);
        assert_eq!(display_offset(d, 2), 6);
        assert_eq!(&d[display_offset(d, 3)..], "d");
    }
}
