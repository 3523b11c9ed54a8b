//! Seeking in a replay of a 1 GB recording (`cargo bench --bench seek`): the time from a
//! seek to any moment to the frame that shows it (200x50, 16 machines), including reading
//! the run again around a moment memory no longer holds. Goal: 50 ms.
//!
//! `VMSCOPE_BENCH_SEEK_MB` changes the recording's size (1000 by default).

use std::io::Write;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vmscope::app::keymap::Keymap;
use vmscope::app::replay::Replay;
use vmscope::app::sessions::TermPane;
use vmscope::app::state::App;
use vmscope::vm::Caps;
use vmscope::vm::recording::RECORD_FILE;
use vmscope::vm::source::{Input, ReadMode, pump};

#[path = "support/synth.rs"]
mod synth;

/// A recording of `mb` MB of the generated log, a 64 KiB record every 10 ms of the run.
fn write_recording(dir: &std::path::Path, mb: u64) -> u32 {
    let part = synth::log(16, 16 << 20);
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(RECORD_FILE)).unwrap());
    let (mut n, mut ms) = (0u64, 0u32);
    while n < mb * 1_000_000 {
        for chunk in part.chunks(64 << 10) {
            f.write_all(&[0]).unwrap();
            f.write_all(&ms.to_le_bytes()).unwrap();
            f.write_all(&(chunk.len() as u32).to_le_bytes()).unwrap();
            f.write_all(chunk).unwrap();
            n += chunk.len() as u64;
            ms += 10;
        }
    }
    f.flush().unwrap();
    ms
}

fn draw(term: &mut Terminal<TestBackend>, app: &mut App) {
    let mut drawn = Default::default();
    term.draw(|f| drawn = vmscope::panes::draw(f, app)).unwrap();
    app.laid_out(drawn);
}

fn main() {
    // `cargo bench` passes criterion's flags; this bench takes none.
    let mb: u64 = std::env::var("VMSCOPE_BENCH_SEEK_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let end_ms = write_recording(dir.path(), mb);
    let mut app = App::new(Caps::default(), Keymap::defaults(), "bench".into(), false);
    app.input.session_dir = Some(dir.path().to_path_buf());
    app.sessions.command = Some(TermPane::new("recorded terminal".into(), 200, 50));
    app.replay = Some(Replay::new(0, false));
    app.failure.until = Some(0);
    let loading = Instant::now();
    let input = Input::open(dir.path().to_str().unwrap()).unwrap();
    let mode = ReadMode {
        follow: false,
        timed: false,
    };
    pump(input, mode, Instant::now(), |ev| {
        app.ingest(ev);
        true
    });
    app.step_replay(None);
    let loaded = loading.elapsed();
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    draw(&mut term, &mut app);
    // Moments spread over the whole run, far apart: each seek lands where the last did not.
    let mut times: Vec<Duration> = Vec::new();
    let mut windows = 0;
    for i in 0..40u64 {
        let ms = ((i * 7919) % 40) as u32 * (end_ms / 40);
        let start = Instant::now();
        if let Some(r) = &mut app.replay {
            r.seek(ms);
        }
        app.step_replay(None);
        draw(&mut term, &mut app);
        times.push(start.elapsed());
        windows += usize::from(app.replay.as_ref().is_some_and(|r| r.window.is_some()));
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "seek/replay_{mb}MB: seek and draw median {:.1} ms, max {:.1} ms over {} seeks ({windows} read the run again); goal 50 ms; loading took {:.1} s",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len(),
        loaded.as_secs_f64()
    );
}
