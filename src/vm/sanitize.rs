//! Turning raw bytes of one line into text that is safe to show.
//!
//! Guests print anything: OSC 52 clipboard writes, title changes, cursor moves, terminal
//! queries. Only SGR colour sequences survive; they are rendered by vmscope itself, so no
//! byte of the input ever reaches the host terminal as a control sequence.

use super::spans::SgrSpans;

/// Longest SGR sequence kept; longer ones are dropped as noise.
const MAX_SGR: usize = 64;

/// Writes the displayable form of `raw` into `out` (cleared first): invalid UTF-8 replaced,
/// SGR sequences kept, every other escape sequence and control character removed, tabs
/// expanded. Returns true when `out` contains at least one SGR sequence.
pub fn sanitize_into(raw: &[u8], out: &mut String) -> bool {
    out.clear();
    if let Some((s, has_sgr)) = clean(raw) {
        out.push_str(s);
        return has_sgr;
    }
    let text = String::from_utf8_lossy(raw);
    sanitize_chars(&text, out)
}

/// Most lines are valid UTF-8 whose only escapes are SGR: they are displayed as they are.
/// Returns the line and whether it has SGR, or `None` when it needs cleaning.
pub fn clean(raw: &[u8]) -> Option<(&str, bool)> {
    clean_noting(raw, |_, _| {})
}

/// `clean`, noting in `spans` where the line's SGR sequences are (found by the same pass).
/// When it returns `None` the spans are of no use.
pub fn clean_with<'a>(raw: &'a [u8], spans: &mut SgrSpans) -> Option<(&'a str, bool)> {
    spans.start(raw);
    clean_noting(raw, |s, e| spans.push(s, e))
}

fn clean_noting(raw: &[u8], on_sgr: impl FnMut(usize, usize)) -> Option<(&str, bool)> {
    let (has_sgr, high) = only_sgr(raw, on_sgr)?;
    if !high {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return Some((unsafe { std::str::from_utf8_unchecked(raw) }, has_sgr));
    }
    // C1 controls (U+0080..U+009F) are encoded as 0xC2 0x80..0x9F.
    let mut rest = raw;
    while let Some(i) = memchr::memchr(0xC2, rest) {
        if matches!(rest.get(i + 1), Some(0x80..=0x9F)) {
            return None;
        }
        rest = &rest[i + 1..];
    }
    let s = std::str::from_utf8(raw).ok()?;
    Some((s, has_sgr))
}

/// `Some((has_sgr, high))` when the only control bytes of `raw` start well-formed SGR
/// sequences; `high` tells whether any byte is not ASCII. `None` when the line needs the
/// full treatment.
fn only_sgr(raw: &[u8], mut on_sgr: impl FnMut(usize, usize)) -> Option<(bool, bool)> {
    let mut has_sgr = false;
    let mut high = false;
    let mut i = 0;
    let n = raw.len();
    loop {
        let (next, seen_high) = next_control(raw, i);
        high |= seen_high;
        let Some(next) = next else { break };
        i = next;
        if raw[i] != 0x1b || raw.get(i + 1) != Some(&b'[') {
            return None;
        }
        let start = i + 2;
        let mut j = start;
        while j < n && (raw[j].is_ascii_digit() || raw[j] == b';' || raw[j] == b':') {
            j += 1;
        }
        if j >= n || raw[j] != b'm' || j - start > MAX_SGR {
            return None;
        }
        has_sgr = true;
        on_sgr(i, j + 1);
        i = j + 1;
    }
    Some((has_sgr, high))
}

/// Index of the first byte at or after `from` that is a C0 control or DEL, eight bytes at a
/// time, and whether a byte above ASCII came before it.
fn next_control(raw: &[u8], from: usize) -> (Option<usize>, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    // Every byte seen, OR-ed: its high bits tell whether one was above ASCII.
    let mut seen = 0u64;
    for chunk in raw[from..].chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // A byte below 0x20 (high bit clear), or a byte equal to 0x7f.
        let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let y = x ^ (ONES * 0x7f);
        let del = y.wrapping_sub(ONES) & !y & HIGH;
        let found = below | del;
        if found != 0 {
            // The lowest flagged byte is a real one (a borrow only flags bytes above it).
            let k = found.trailing_zeros() / 8;
            let before = if k == 0 {
                0
            } else {
                x & (u64::MAX >> (64 - 8 * k))
            };
            return (Some(i + k as usize), (seen | before) & HIGH != 0);
        }
        seen |= x;
        i += 8;
    }
    let mut high = seen & HIGH != 0;
    for (j, &b) in raw[i..].iter().enumerate() {
        if b < 0x20 || b == 0x7f {
            return (Some(i + j), high);
        }
        high |= b >= 0x80;
    }
    (None, high)
}

fn sanitize_chars(text: &str, out: &mut String) -> bool {
    let mut has_sgr = false;
    let mut column = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => has_sgr |= csi(&mut chars, out),
                Some(']') => skip_string(&mut chars, true),
                Some('P' | 'X' | '^' | '_') => skip_string(&mut chars, true),
                Some(' ' | '#' | '%' | '(' | ')' | '*' | '+' | '-' | '.' | '/') => {
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => has_sgr |= csi(&mut chars, out),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars, true),
            '\t' => {
                let pad = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', pad));
                column += pad;
            }
            c if c.is_control() => {}
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    has_sgr
}

/// Reads a CSI sequence after its introducer; keeps it in `out` only when it is SGR.
fn csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) -> bool {
    let mut params = String::new();
    let mut intermediate = false;
    while let Some(&c) = chars.peek() {
        match c {
            '0'..='?' => {
                params.push(c);
                chars.next();
            }
            ' '..='/' => {
                intermediate = true;
                chars.next();
            }
            '@'..='~' => {
                chars.next();
                let sgr = c == 'm'
                    && !intermediate
                    && params.len() <= MAX_SGR
                    && params
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b';' || b == b':');
                if sgr {
                    out.push_str("\x1b[");
                    out.push_str(&params);
                    out.push('m');
                }
                return sgr;
            }
            // Anything else aborts the sequence; the character is handled normally.
            _ => return false,
        }
    }
    false
}

/// Skips an OSC/DCS/SOS/PM/APC payload up to its terminator (BEL, ST or ESC \) or the end
/// of the line: a payload is never displayed, whatever it holds.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, bel_ends: bool) {
    while let Some(c) = chars.next() {
        match c {
            '\x07' if bel_ends => return,
            '\u{9c}' => return,
            '\x1b' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// Appends `display` without its SGR sequences to `out`.
pub fn strip_sgr_into(display: &str, out: &mut String) {
    let mut rest = display;
    while let Some(i) = memchr::memchr(0x1b, rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match memchr::memchr(b'm', after.as_bytes()) {
            Some(end) if after.starts_with('[') => rest = &after[end + 1..],
            _ => rest = after,
        }
    }
    out.push_str(rest);
}

/// `display` without its SGR sequences.
pub fn strip_sgr(display: &str) -> String {
    let mut out = String::with_capacity(display.len());
    strip_sgr_into(display, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first control byte at or after `from`, and whether a byte above ASCII came
    /// before it, one byte at a time.
    fn next_control_naive(raw: &[u8], from: usize) -> (Option<usize>, bool) {
        let mut high = false;
        for (i, &b) in raw.iter().enumerate().skip(from) {
            if b < 0x20 || b == 0x7f {
                return (Some(i), high);
            }
            high |= b >= 0x80;
        }
        (None, high)
    }

    #[test]
    fn next_control_agrees_with_a_byte_at_a_time_scan() {
        let alphabet = [
            b'a', b' ', 0x1b, 0x01, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xc3, 0xff,
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let raw: Vec<u8> = (0..len)
                .map(|k| alphabet[((state >> (k % 56)) as usize + k * 7) % alphabet.len()])
                .collect();
            let from = if len == 0 {
                0
            } else {
                (state as usize / 7) % len
            };
            assert_eq!(
                next_control(&raw, from),
                next_control_naive(&raw, from),
                "{raw:?} from {from}"
            );
        }
    }

    fn clean(raw: &[u8]) -> (String, bool) {
        let mut out = String::new();
        let sgr = sanitize_into(raw, &mut out);
        (out, sgr)
    }

    #[test]
    fn keeps_sgr_and_plain_text() {
        let (s, sgr) = clean(b"\x1b[2mmachine # [\x1b[0;32m  OK  \x1b[0m] Started\x1b[0m");
        assert!(sgr);
        assert_eq!(
            s,
            "\x1b[2mmachine # [\x1b[0;32m  OK  \x1b[0m] Started\x1b[0m"
        );
        assert_eq!(strip_sgr(&s), "machine # [  OK  ] Started");
    }

    #[test]
    fn removes_everything_else() {
        let raw = b"a\x1b]52;c;ZXZpbA==\x07b\x1b]0;title\x1b\\c\x1b[6n\x1b[2J\x1b[10;5Hd\x1b[?25le\x1bcf\x1b(Bg\x07\x08h\x00i";
        let (s, sgr) = clean(raw);
        assert!(!sgr);
        assert_eq!(s, "abcdefghi");
    }

    #[test]
    fn unterminated_osc_swallows_the_rest_of_the_line() {
        assert_eq!(clean(b"ok\x1b]52;c;AAAA").0, "ok");
    }

    #[test]
    fn c1_controls_are_removed() {
        let raw = "x\u{9b}31my\u{9d}0;t\u{9c}z\u{85}".as_bytes();
        let (s, _) = clean(raw);
        assert_eq!(strip_sgr(&s), "xyz");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_lost() {
        let (s, _) = clean(b"caf\xe9 ok");
        assert_eq!(s, "caf\u{fffd} ok");
    }

    #[test]
    fn control_bytes_are_found_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                for b in [0x00u8, 0x07, 0x1b, 0x1f, 0x7f] {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    assert_eq!(
                        next_control(&v, 0),
                        (Some(at), false),
                        "len {len} at {at} byte {b:#x}"
                    );
                    // A byte above ASCII anywhere before the control is seen.
                    if at > 0 {
                        v[at - 1] = 0xc3;
                        assert_eq!(next_control(&v, 0), (Some(at), true));
                    }
                }
            }
            let clean: Vec<u8> = (0..len)
                .map(|i| 0x20 + (i as u8 % 95))
                .chain([0x80, 0xff, 0xc3])
                .collect();
            assert_eq!(next_control(&clean, 0), (None, true));
            assert_eq!(next_control(&clean[..len], 0), (None, false));
        }
    }

    #[test]
    fn non_ascii_lines_are_still_checked() {
        // C1 controls and invalid UTF-8 are seen after any run of ASCII.
        for pad in 0..20 {
            let mut c1 = vec![b'a'; pad];
            c1.extend_from_slice(b"\xc2\x9b31mx");
            assert!(super::clean(&c1).is_none());
            let mut bad = vec![b'a'; pad];
            bad.extend_from_slice(b"\xe9x");
            assert!(super::clean(&bad).is_none());
            let mut ok = vec![b'a'; pad];
            ok.extend_from_slice("é\x1b[1mx".as_bytes());
            assert_eq!(super::clean(&ok).map(|(_, sgr)| sgr), Some(true));
        }
    }

    #[test]
    fn tabs_expand_to_eight_columns() {
        assert_eq!(clean(b"ab\tc").0, "ab      c");
    }

    #[test]
    fn sgr_with_intermediate_or_private_marker_is_dropped() {
        assert_eq!(clean(b"\x1b[?1049hx\x1b[>4;1mz").0, "xz");
    }

    #[test]
    fn oversized_sgr_is_dropped() {
        let mut raw = b"\x1b[".to_vec();
        raw.extend(std::iter::repeat_n(b'1', 100));
        raw.extend(b"mX");
        assert_eq!(clean(&raw).0, "X");
    }
}
