//! What the loop does with the effects the parts ask for: files written, bytes for the
//! driver's terminal and the tabs, sessions started and ended, the outer terminal's clipboard
//! and mouse reporting.

use std::io::{self, Write};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;

use super::super::effect::Effect;
use super::super::sessions::driver::Child;
use super::super::sessions::procs::TabProcs;
use super::super::state::App;

pub(super) fn perform(
    app: &mut App,
    mut child: Option<&mut Child>,
    tabs: &mut TabProcs,
    effects: Vec<Effect>,
) {
    for e in effects {
        match e {
            Effect::Save { path, text } => {
                let n = text.lines().count();
                let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
                let result = parent
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&path, text))
                    .map(|_| n);
                app.saved(&path, result);
            }
            Effect::WriteQuietly { path, text } => {
                if let Err(e) = std::fs::write(&path, text) {
                    app.overlay
                        .warn(format!("cannot write {}: {e}", path.display()));
                }
            }
            // Made a write by the router.
            Effect::KeepMarks => {}
            Effect::WritePty(bytes) => {
                if let Some(c) = child.as_deref_mut()
                    && let Err(e) = c.write(&bytes)
                {
                    app.overlay
                        .warn(format!("cannot write to the driver's terminal: {e}"));
                }
            }
            Effect::Interrupt => {
                if let Some(c) = child.as_deref_mut()
                    && let Err(e) = c.interrupt()
                {
                    app.overlay
                        .warn(format!("cannot interrupt the driver: {e}"));
                }
            }
            Effect::Clipboard(text) => {
                let mut out = io::stdout();
                let _ = out
                    .write_all(osc52(&text).as_bytes())
                    .and_then(|()| out.flush());
            }
            Effect::Detach { program, args } => {
                if let Err(e) = detach(&program, &args) {
                    app.overlay
                        .warn(format!("cannot start {}: {e}", program.to_string_lossy()));
                }
            }
            Effect::Mouse(on) => {
                let mut out = io::stdout();
                let _ = if on {
                    execute!(out, EnableMouseCapture)
                } else {
                    execute!(out, DisableMouseCapture)
                };
            }
            // Taken by the router before the effects come here.
            e @ (Effect::Say(_) | Effect::Ask(_) | Effect::Prompt(..)) => {
                let _ = app.overlay.take(vec![e]);
            }
            Effect::OpenTab { id, program, args } => {
                if let Err(e) = tabs.open(id, &program, &args, app.sessions.tab_size) {
                    let what = program.to_string_lossy();
                    app.sessions
                        .tab_failed(id, &format!("cannot start {what}: {e}"));
                }
            }
            Effect::OpenPdb { id, host, port } => {
                if let Err(e) = tabs.open_pdb(id, host, port) {
                    app.sessions
                        .tab_failed(id, &format!("cannot connect to pdb: {e}"));
                }
            }
            Effect::WriteTab(id, bytes) => {
                if let Err(e) = tabs.write(id, &bytes) {
                    app.sessions
                        .tab_failed(id, &format!("cannot write to the session: {e}"));
                }
            }
            Effect::CloseTab(id) => tabs.close(id),
        }
    }
}

/// The OSC 52 sequence that puts `text` on the clipboard of the terminal (and, through
/// tmux with `set-clipboard on`, of the desktop).
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Starts `program args` in a session of its own, away from vmscope's terminal; a thread
/// reaps it when it ends.
fn detach(program: &std::ffi::OsStr, args: &[std::ffi::OsString]) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    std::thread::Builder::new()
        .name("detached".into())
        .spawn(move || {
            let _ = child.wait();
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn osc52_carries_base64() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(super::osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
