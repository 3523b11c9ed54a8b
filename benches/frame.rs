//! Time to draw one frame at 200x50 with 4 and with 16 machine panes full of coloured lines,
//! and at 400x100 with 16. Content changes every frame: before each, one machine prints a
//! line (as in a live run), or, in the `_all_print` cases, every machine does. The time
//! axis's views at 200x50: the merged view, the timeline, every pane following a cursor.

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

/// One coloured console line for machine `m` of the synthetic log, as the driver writes it.
fn print(app: &mut App, m: usize, n: u64) {
    let line = format!("\x1b[2mnode-{m:02} # [   {n}.000000] tick \x1b[0;1;39m{n}\x1b[0m\x1b[0m\n");
    app.ingest(SourceEvent::Data(line.into_bytes(), u32::MAX));
}

/// Before each frame one machine prints, round the machines (every one when `all`).
fn changing(machines: usize, all: bool) -> impl FnMut(&mut App) {
    let mut n = 0u64;
    move |app| {
        n += 1;
        if all {
            (0..machines).for_each(|m| print(app, m, n));
        } else {
            print(app, n as usize % machines, n);
        }
    }
}

fn frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_200x50");
    for machines in [4, 16] {
        let mut app = app(machines);
        let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
        draw(&mut term, &mut app);
        let shown = app.screen.drawn.panes.len() - 1;
        assert_eq!(shown, machines, "every machine has a pane");
        for (name, all) in [("", false), ("_all_print", true)] {
            let mut change = changing(machines, all);
            g.bench_function(format!("{machines}_panes{name}"), |b| {
                b.iter(|| {
                    change(&mut app);
                    draw(&mut term, &mut app);
                })
            });
        }
        // Search highlights and wrapping are the costly paths.
        app.views.search = vmscope::app::view::Matcher::new("ok");
        app.views.wrap = true;
        let mut change = changing(machines, false);
        g.bench_function(format!("{machines}_panes_search_wrap"), |b| {
            b.iter(|| {
                change(&mut app);
                draw(&mut term, &mut app);
            })
        });
        app.views.search = None;
        app.views.wrap = false;
    }
    g.finish();
    // A big terminal: every cell of 400x100 redrawn.
    let mut g = c.benchmark_group("frame_400x100");
    let mut app = app(16);
    let mut term = Terminal::new(TestBackend::new(400, 100)).expect("terminal");
    draw(&mut term, &mut app);
    for (name, all) in [("", false), ("_all_print", true)] {
        let mut change = changing(16, all);
        g.bench_function(format!("16_panes{name}"), |b| {
            b.iter(|| {
                change(&mut app);
                draw(&mut term, &mut app)
            })
        });
    }
    g.finish();
    // The time axis at 200x50 with 16 machines: the merged view and the timeline while a
    // machine prints before every frame, and every pane following a moving cursor.
    let mut g = c.benchmark_group("frame_axis_200x50");
    let mut app = self::app(16);
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    draw(&mut term, &mut app);
    use vmscope::app::action::Action;
    app.update(Action::AllMachines);
    let mut change = changing(16, false);
    g.bench_function("merged_16", |b| {
        b.iter(|| {
            change(&mut app);
            draw(&mut term, &mut app)
        })
    });
    app.update(Action::AllMachines);
    app.update(Action::Timeline);
    g.bench_function("timeline_16", |b| {
        b.iter(|| {
            change(&mut app);
            draw(&mut term, &mut app)
        })
    });
    app.update(Action::Timeline);
    app.update(Action::FocusMachine(1));
    app.update(Action::Sync);
    let mut up = true;
    g.bench_function("sync_16_cursor_moves", |b| {
        b.iter(|| {
            app.update(if up {
                Action::ScrollUp
            } else {
                Action::ScrollDown
            });
            up = !up;
            draw(&mut term, &mut app)
        })
    });
    g.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
