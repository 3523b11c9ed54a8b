//! Time to draw one frame at 200x50 with 4 and with 16 machine panes full of coloured lines,
//! and at 400x100 with 16.

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vmscope::app::keymap::Keymap;
use vmscope::app::state::App;
use vmscope::vm::Caps;
use vmscope::vm::source::SourceEvent;

#[path = "support/synth.rs"]
mod synth;

fn app(machines: usize) -> App {
    let mut app = App::new(Caps::default(), Keymap::defaults(), "bench".into(), false);
    app.ingest(SourceEvent::Data(
        synth::log(machines, 8 * 1024 * 1024),
        u32::MAX,
    ));
    app.ingest(SourceEvent::End);
    app
}

/// One frame as the runner draws it: the screen, then where it went handed back.
fn draw(term: &mut Terminal<TestBackend>, app: &mut App) {
    let mut drawn = Default::default();
    term.draw(|f| drawn = vmscope::panes::draw(f, app))
        .expect("draw");
    app.laid_out(drawn);
}

fn frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_200x50");
    for machines in [4, 16] {
        let mut app = app(machines);
        let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
        draw(&mut term, &mut app);
        let shown = app.screen.drawn.panes.len() - 1;
        assert_eq!(shown, machines, "every machine has a pane");
        g.bench_function(format!("{machines}_panes"), |b| {
            b.iter(|| {
                draw(&mut term, &mut app);
            })
        });
        // Search highlights and wrapping are the costly paths.
        app.views.search = vmscope::app::view::Matcher::new("ok");
        app.views.wrap = true;
        g.bench_function(format!("{machines}_panes_search_wrap"), |b| {
            b.iter(|| {
                draw(&mut term, &mut app);
            })
        });
    }
    g.finish();
    // A big terminal: every cell of 400x100 redrawn.
    let mut g = c.benchmark_group("frame_400x100");
    let mut app = app(16);
    let mut term = Terminal::new(TestBackend::new(400, 100)).expect("terminal");
    draw(&mut term, &mut app);
    g.bench_function("16_panes", |b| b.iter(|| draw(&mut term, &mut app)));
    g.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
