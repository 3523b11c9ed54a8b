//! Keys as a terminal sends them to the program in it (xterm's encoding).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The bytes a terminal sends for `key`; `app_cursor` is the program's application cursor
/// mode (DECCKM), which changes what arrows, Home and End send.
pub fn encode(key: &KeyEvent, app_cursor: bool) -> Vec<u8> {
    let m = key.modifiers;
    let (shift, alt, ctrl) = (
        m.contains(KeyModifiers::SHIFT),
        m.contains(KeyModifiers::ALT),
        m.contains(KeyModifiers::CONTROL),
    );
    // xterm's modifier parameter: 1 + shift + 2*alt + 4*ctrl.
    let param = 1 + u8::from(shift) + 2 * u8::from(alt) + 4 * u8::from(ctrl);
    let mut out = Vec::new();
    let csi_letter = |out: &mut Vec<u8>, letter: u8| {
        if param > 1 {
            out.extend_from_slice(format!("\x1b[1;{param}").as_bytes());
            out.push(letter);
        } else if app_cursor {
            out.extend_from_slice(&[0x1b, b'O', letter]);
        } else {
            out.extend_from_slice(&[0x1b, b'[', letter]);
        }
    };
    let tilde = |out: &mut Vec<u8>, n: u8| {
        if param > 1 {
            out.extend_from_slice(format!("\x1b[{n};{param}~").as_bytes());
        } else {
            out.extend_from_slice(format!("\x1b[{n}~").as_bytes());
        }
    };
    match key.code {
        KeyCode::Char(c) => {
            if alt {
                out.push(0x1b);
            }
            if ctrl {
                let b = match c.to_ascii_lowercase() {
                    c @ 'a'..='z' => c as u8 - b'a' + 1,
                    '@' | ' ' | '2' => 0,
                    '[' | '3' => 0x1b,
                    '\\' | '4' => 0x1c,
                    ']' | '5' => 0x1d,
                    '^' | '6' => 0x1e,
                    '_' | '7' | '/' => 0x1f,
                    '?' | '8' => 0x7f,
                    other => {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                        return out;
                    }
                };
                out.push(b);
            } else {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        KeyCode::Enter => {
            if alt {
                out.push(0x1b);
            }
            out.push(b'\r');
        }
        KeyCode::Tab => out.push(b'\t'),
        KeyCode::BackTab => out.extend_from_slice(b"\x1b[Z"),
        KeyCode::Backspace => {
            if alt {
                out.push(0x1b);
            }
            out.push(if ctrl { 0x08 } else { 0x7f });
        }
        KeyCode::Esc => out.push(0x1b),
        KeyCode::Up => csi_letter(&mut out, b'A'),
        KeyCode::Down => csi_letter(&mut out, b'B'),
        KeyCode::Right => csi_letter(&mut out, b'C'),
        KeyCode::Left => csi_letter(&mut out, b'D'),
        KeyCode::Home => csi_letter(&mut out, b'H'),
        KeyCode::End => csi_letter(&mut out, b'F'),
        KeyCode::Insert => tilde(&mut out, 2),
        KeyCode::Delete => tilde(&mut out, 3),
        KeyCode::PageUp => tilde(&mut out, 5),
        KeyCode::PageDown => tilde(&mut out, 6),
        KeyCode::F(n @ 1..=4) => {
            let letter = b'P' + (n - 1);
            if param > 1 {
                out.extend_from_slice(format!("\x1b[1;{param}").as_bytes());
                out.push(letter);
            } else {
                out.extend_from_slice(&[0x1b, b'O', letter]);
            }
        }
        KeyCode::F(n @ 5..=12) => {
            let code = [15, 17, 18, 19, 20, 21, 23, 24][usize::from(n - 5)];
            tilde(&mut out, code);
        }
        _ => {}
    }
    out
}

/// A paste as the program asked for it: wrapped in bracketed-paste markers when the program
/// turned them on (and never containing the end marker itself).
pub fn paste(text: &str, bracketed: bool) -> Vec<u8> {
    if bracketed {
        let clean = text.replace("\x1b[201~", "");
        let mut out = b"\x1b[200~".to_vec();
        out.extend_from_slice(clean.as_bytes());
        out.extend_from_slice(b"\x1b[201~");
        out
    } else {
        text.replace("\r\n", "\r").replace('\n', "\r").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn plain_and_control_keys() {
        assert_eq!(
            encode(&k(KeyCode::Char('a'), KeyModifiers::NONE), false),
            b"a"
        );
        assert_eq!(
            encode(&k(KeyCode::Char('é'), KeyModifiers::NONE), false),
            "é".as_bytes()
        );
        assert_eq!(
            encode(&k(KeyCode::Char('c'), KeyModifiers::CONTROL), false),
            b"\x03"
        );
        assert_eq!(
            encode(&k(KeyCode::Char('d'), KeyModifiers::CONTROL), false),
            b"\x04"
        );
        assert_eq!(
            encode(&k(KeyCode::Char(']'), KeyModifiers::CONTROL), false),
            b"\x1d"
        );
        assert_eq!(
            encode(&k(KeyCode::Char('x'), KeyModifiers::ALT), false),
            b"\x1bx"
        );
        assert_eq!(encode(&k(KeyCode::Enter, KeyModifiers::NONE), false), b"\r");
        assert_eq!(
            encode(&k(KeyCode::Backspace, KeyModifiers::NONE), false),
            b"\x7f"
        );
        assert_eq!(
            encode(&k(KeyCode::BackTab, KeyModifiers::SHIFT), false),
            b"\x1b[Z"
        );
    }

    #[test]
    fn cursor_keys_follow_the_mode_and_modifiers() {
        assert_eq!(
            encode(&k(KeyCode::Up, KeyModifiers::NONE), false),
            b"\x1b[A"
        );
        assert_eq!(encode(&k(KeyCode::Up, KeyModifiers::NONE), true), b"\x1bOA");
        assert_eq!(
            encode(&k(KeyCode::Left, KeyModifiers::CONTROL), true),
            b"\x1b[1;5D"
        );
        assert_eq!(
            encode(&k(KeyCode::Home, KeyModifiers::SHIFT), false),
            b"\x1b[1;2H"
        );
        assert_eq!(
            encode(&k(KeyCode::PageUp, KeyModifiers::NONE), false),
            b"\x1b[5~"
        );
        assert_eq!(
            encode(&k(KeyCode::Delete, KeyModifiers::ALT), false),
            b"\x1b[3;3~"
        );
        assert_eq!(
            encode(&k(KeyCode::F(1), KeyModifiers::NONE), false),
            b"\x1bOP"
        );
        assert_eq!(
            encode(&k(KeyCode::F(5), KeyModifiers::NONE), false),
            b"\x1b[15~"
        );
        assert_eq!(
            encode(&k(KeyCode::F(12), KeyModifiers::CONTROL), false),
            b"\x1b[24;5~"
        );
    }

    #[test]
    fn pastes() {
        assert_eq!(paste("a\nb", true), b"\x1b[200~a\nb\x1b[201~");
        assert_eq!(paste("x\x1b[201~y", true), b"\x1b[200~xy\x1b[201~");
        assert_eq!(paste("a\nb", false), b"a\rb");
    }
}
