//! A container's console is its journal, as the driver follows it: `journalctl --follow
//! --output=short-monotonic`, a line per entry, `[   12.345678] HOST UNIT[PID]: MESSAGE`.

/// One entry, as byte ranges of the line it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The syslog identifier (the unit's program: `nginx`, `systemd`).
    pub ident: (usize, usize),
    pub message: usize,
}

/// Reads a short-monotonic journal line; `None` for anything else.
pub fn parse(line: &str) -> Option<Entry> {
    let rest = line.strip_prefix('[')?;
    let close = rest.find(']')?;
    let stamp = rest[..close].trim();
    if stamp.is_empty() || !stamp.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let after = 1 + close + 1;
    let body = line.get(after..)?.strip_prefix(' ')?;
    let host_end = body.find(' ')?;
    let host = &body[..host_end];
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return None;
    }
    let ident_at = after + 1 + host_end + 1;
    let tail = line.get(ident_at..)?;
    let colon = tail
        .find(": ")
        .or_else(|| tail.strip_suffix(':').map(str::len))?;
    let head = &tail[..colon];
    let ident = match head.find('[') {
        Some(b)
            if head.ends_with(']')
                && head[b + 1..head.len() - 1]
                    .bytes()
                    .all(|c| c.is_ascii_digit()) =>
        {
            &head[..b]
        }
        Some(_) => return None,
        None => head,
    };
    if ident.is_empty() || ident.contains(' ') {
        return None;
    }
    Some(Entry {
        ident: (ident_at, ident_at + ident.len()),
        message: (ident_at + colon + 2).min(line.len()),
    })
}

/// Whether `line` is an entry of `unit`: its program's own (`nginx[231]: …`), or systemd's
/// about the unit (`systemd[1]: Started nginx.service …`). `unit` may name its type.
pub fn of_unit(line: &str, unit: &str) -> bool {
    let Some(e) = parse(line) else { return false };
    let ident = &line[e.ident.0..e.ident.1];
    let (name, full) = match unit.rsplit_once('.') {
        Some((n, _)) => (n, unit.to_string()),
        None => (unit, format!("{unit}.service")),
    };
    if ident == name {
        return true;
    }
    let message = &line[e.message..];
    ident == "systemd"
        && message
            .split(|c: char| c.is_whitespace() || c == ',' || c == '\'' || c == '"')
            .any(|w| w.trim_end_matches(['.', ':']) == full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_their_units() {
        let l = "[    1.637000] web nginx[231]: configuration file test is successful";
        let e = parse(l).unwrap();
        assert_eq!(&l[e.ident.0..e.ident.1], "nginx");
        assert_eq!(&l[e.message..], "configuration file test is successful");
        assert!(of_unit(l, "nginx"));
        assert!(of_unit(l, "nginx.service"));
        let s = "[    1.774000] web systemd[1]: Started nginx.service - Nginx Web Server.";
        assert!(of_unit(s, "nginx") && !of_unit(s, "sshd"));
        assert!(of_unit(s, "systemd"));
        assert!(!of_unit(
            "[    2.0] web sshd[201]: Server listening.",
            "nginx"
        ));
        // Kernel console lines are no journal entries.
        for k in [
            "[    0.975277] systemd[1]: Detected architecture x86-64.",
            "[    1.358693] audit: type=1400 audit(1737113167.123:2): apparmor=\"STATUS\"",
            "<<< NixOS Stage 1 >>>",
            "[  OK  ] Started nginx.service.",
        ] {
            assert_eq!(parse(k), None, "{k}");
        }
    }
}
