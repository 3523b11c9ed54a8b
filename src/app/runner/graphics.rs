//! Whether the terminal draws pictures (kitty's graphics protocol) and how big its cells
//! are, asked once before anything else reads the terminal's input.
//!
//! ratatui-image draws the pictures; its own query (`Picker::from_query_stdio`) is not used
//! because it reads standard input from a thread that outlives its timeout (on a terminal
//! that never answers, that thread would take the user's keys), and standard input is the
//! log itself for `vmscope log -`. This query reads the terminal's descriptor with a bounded
//! wait and ends on the Device Status Report every terminal answers.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use ratatui_image::FontSize;
use ratatui_image::picker::{Picker, ProtocolType};

/// How long the terminal has to answer.
const WAIT: Duration = Duration::from_millis(500);

/// Kitty's graphics query (a 1x1 picture, not stored), the device attributes (4: sixel),
/// the cell size in pixels, then the status report whose answer ends the replies.
const QUERY: &[u8] = b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\\x1b[c\x1b[16t\x1b[5n";

/// What the terminal said.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub kitty: bool,
    /// The device attributes list 4: sixel graphics.
    pub sixel: bool,
    /// Cell width and height in pixels.
    pub cell: Option<(u16, u16)>,
    /// The status report came: everything before it was read.
    pub complete: bool,
}

/// Reads what a terminal answered to `QUERY`.
pub fn parse(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let cell = text.split("\x1b[6;").skip(1).find_map(|rest| {
        let (h, rest) = rest.split_once(';')?;
        let w = rest.split('t').next()?;
        Some((w.parse().ok()?, h.parse().ok()?))
    });
    let sixel = text.split("\x1b[?").skip(1).any(|rest| {
        rest.split_once('c')
            .is_some_and(|(params, _)| params.split(';').any(|p| p == "4"))
    });
    Answer {
        kitty: text.contains("\x1b_Gi=31;OK"),
        sixel,
        cell,
        complete: text.contains("\x1b[0n"),
    }
}

/// The picker for this terminal: kitty graphics when it says it draws them, else
/// half-blocks. `VMSCOPE_IMAGES=halfblocks` skips the question. The terminal is asked once
/// per process (a screen started again keeps the answer): it must be in raw mode, with
/// nothing else reading it yet.
pub fn picker() -> Picker {
    static ASKED: std::sync::OnceLock<Answer> = std::sync::OnceLock::new();
    let halfblocks = Picker::halfblocks();
    if std::env::var("VMSCOPE_IMAGES").is_ok_and(|v| v == "halfblocks") {
        return halfblocks;
    }
    let answer = ASKED.get_or_init(ask);
    // iTerm2 says so in its environment (its query answers nothing), and so does WezTerm.
    let iterm2 = std::env::var("TERM_PROGRAM").is_ok_and(|p| p == "iTerm.app" || p == "WezTerm")
        || std::env::var("LC_TERMINAL").is_ok_and(|t| t == "iTerm2");
    let protocol = if answer.kitty {
        ProtocolType::Kitty
    } else if iterm2 {
        ProtocolType::Iterm2
    } else if answer.sixel {
        ProtocolType::Sixel
    } else {
        return halfblocks;
    };
    match answer.cell {
        Some((w, h)) if w > 0 && h > 0 => {
            #[allow(deprecated)]
            let mut p = Picker::from_fontsize(FontSize::new(w, h));
            p.set_protocol_type(protocol);
            p
        }
        // Pictures in pixels need the cell's size; without it, half-blocks.
        _ => halfblocks,
    }
}

/// Puts the query to the terminal and reads its answer.
fn ask() -> Answer {
    let mut stdout = std::io::stdout();
    if !rustix::termios::isatty(std::io::stdin()) || !rustix::termios::isatty(&stdout) {
        return Answer::default();
    }
    // A description of the terminal of its own, that never blocks: a read that finds
    // nothing (another reader was first) waits again in `poll`, bounded.
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open("/dev/tty")
    else {
        return Answer::default();
    };
    if stdout
        .write_all(QUERY)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return Answer::default();
    }
    let answer = read_answer(&tty);
    tracing::info!(?answer, "the terminal's graphics");
    answer
}

/// Reads the terminal's replies until the status report, or until `WAIT` has passed.
fn read_answer(tty: &std::fs::File) -> Answer {
    use rustix::event::{PollFd, PollFlags, poll};
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return parse(&got);
        }
        let fd = tty.as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: left.as_nanos().min(999_999_999) as _,
        };
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return parse(&got),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return parse(&got),
        }
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => return parse(&got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
            Err(_) => return parse(&got),
        }
        let a = parse(&got);
        if a.complete {
            return a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_of_kitty_and_of_a_terminal_without_pictures() {
        let kitty = parse(b"\x1b_Gi=31;OK\x1b\\\x1b[?62;22c\x1b[6;20;10t\x1b[0n");
        assert_eq!(
            kitty,
            Answer {
                kitty: true,
                sixel: false,
                cell: Some((10, 20)),
                complete: true
            }
        );
        // foot, xterm -ti vt340: sixel among the device attributes.
        let foot = parse(b"\x1b[?62;4;22c\x1b[6;17;8t\x1b[0n");
        assert!(foot.sixel && !foot.kitty);
        assert_eq!(foot.cell, Some((8, 17)));
        // tmux: the status report alone.
        assert_eq!(
            parse(b"\x1b[0n"),
            Answer {
                complete: true,
                ..Answer::default()
            }
        );
        assert!(!parse(b"\x1b_Gi=31;OK").complete);
    }
}
