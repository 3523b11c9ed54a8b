//! `vmscope export --cast FILE SESSION_DIR`: a recording as an asciicast (v2, which
//! asciinema plays): the screen as it was shown while the run went, the driver's terminal in
//! its pane and each machine's console in its own, frame by frame at the times they came,
//! with a marker where the test failed.

use std::io::Write;
use std::path::Path;

use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::app::keymap::Keymap;
use crate::app::sessions::TermPane;
use crate::app::state::App;
use crate::vm::Caps;
use crate::vm::recording::{self, Stream};
use crate::vm::source::SourceEvent;

/// A frame at most this often, in the recording's milliseconds.
const FRAME_MS: u32 = 50;

/// What the terminal writes, kept where the caster takes it from after each frame.
#[derive(Clone, Default)]
struct Taken(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Write for Taken {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the recording in `dir` as an asciicast of a `width`x`height` screen to `out`.
pub fn cast(dir: &Path, out: &mut impl Write, (width, height): (u16, u16)) -> anyhow::Result<()> {
    let mut app = App::new(
        Caps::default(),
        Keymap::defaults(),
        dir.display().to_string(),
        false,
    );
    app.sessions.command = Some(TermPane::new("recorded terminal".into(), 200, 50));
    let viewport = Viewport::Fixed(Rect::new(0, 0, width, height));
    let taken = Taken::default();
    let mut term = Terminal::with_options(
        CrosstermBackend::new(taken.clone()),
        TerminalOptions { viewport },
    )?;
    let header = serde_json::json!({
        "version": 2,
        "width": width,
        "height": height,
        "title": format!("vmscope: {}", dir.display()),
        "env": { "TERM": "xterm-256color" },
    });
    writeln!(out, "{header}")?;
    let mut last_frame: Option<u32> = None;
    let mut marked = false;
    let mut failed = Ok(());
    let mut frame = |app: &mut App, ms: u32, out: &mut dyn Write| -> anyhow::Result<()> {
        let mut drawn = Default::default();
        term.draw(|f| drawn = crate::panes::draw(f, app))?;
        app.laid_out(drawn);
        let bytes = std::mem::take(&mut *taken.0.borrow_mut());
        let t = f64::from(ms) / 1000.0;
        if !bytes.is_empty() {
            let text = String::from_utf8_lossy(&bytes);
            writeln!(out, "{}", serde_json::json!([t, "o", text]))?;
        }
        if app.failure.open && !marked {
            marked = true;
            writeln!(out, "{}", serde_json::json!([t, "m", "the test failed"]))?;
        }
        Ok(())
    };
    let mut now = 0;
    recording::read_records(dir, |r| {
        now = r.ms;
        match r.stream {
            Stream::Stderr => app.ingest(SourceEvent::Data(r.bytes, r.ms)),
            Stream::Terminal => app.ingest(SourceEvent::Terminal(r.bytes, r.ms)),
        }
        if last_frame.is_none_or(|f| r.ms >= f + FRAME_MS) {
            last_frame = Some(r.ms);
            if let Err(e) = frame(&mut app, r.ms, out) {
                failed = Err(e);
                return false;
            }
        }
        true
    })?;
    failed?;
    app.ingest(SourceEvent::End);
    frame(&mut app, now, out)?;
    out.flush()?;
    Ok(())
}
