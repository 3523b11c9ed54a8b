//! Parse-and-store throughput on a generated 100 MB log of 16 machines.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vmscope::vm::{Caps, ParseOptions, Parser};

#[path = "support/synth.rs"]
mod synth;

/// Best of `runs` whole parses, in MB/s: on a shared machine the fastest run is the one
/// least disturbed by neighbours.
fn best_of(log: &[u8], runs: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let start = std::time::Instant::now();
        let mut p = Parser::new(Caps::default(), ParseOptions::default());
        for chunk in log.chunks(1 << 20) {
            p.feed(chunk, u32::MAX);
        }
        p.finish();
        best = best.min(start.elapsed().as_secs_f64());
        drop(p);
    }
    log.len() as f64 / 1e6 / best
}

/// The floor under any parser: cutting lines and removing escapes, nothing stored.
fn split_and_strip(log: &[u8], runs: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let start = std::time::Instant::now();
        let mut splitter = vmscope::vm::splitter::LineSplitter::default();
        let mut out = String::new();
        let mut plain = String::new();
        let mut total = 0usize;
        for chunk in log.chunks(1 << 20) {
            splitter.feed(chunk, &mut |p| {
                vmscope::vm::sanitize::sanitize_into(p.bytes, &mut out);
                plain.clear();
                vmscope::vm::sanitize::strip_sgr_into(&out, &mut plain);
                total += plain.len();
            });
        }
        std::hint::black_box(total);
        best = best.min(start.elapsed().as_secs_f64());
    }
    log.len() as f64 / 1e6 / best
}

fn parse(c: &mut Criterion) {
    let log = synth::log(16, 100 * 1024 * 1024);
    let stripped = strip(&log);
    println!(
        "parse best of 5: coloured {:.0} MB/s, plain {:.0} MB/s ({} MB of 16 machines); \
         splitting lines and stripping escapes alone: {:.0} MB/s",
        best_of(&log, 5),
        best_of(&stripped, 5),
        log.len() / 1_000_000,
        split_and_strip(&log, 5),
    );
    let mut g = c.benchmark_group("parse");
    g.sample_size(10);
    for (name, input) in [
        ("100MB_16_machines_coloured", &log),
        ("100MB_16_machines_plain", &stripped),
    ] {
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(name, |b| {
            b.iter_with_large_drop(|| {
                let mut p = Parser::new(Caps::default(), ParseOptions::default());
                for chunk in input.chunks(1 << 20) {
                    p.feed(chunk, u32::MAX);
                }
                p.finish();
                assert_eq!(p.run.tests[0].machines.len(), 16);
                p
            })
        });
    }
    g.finish();
}

/// The same log as `nix build -L` shows it when its stderr is no terminal: no escapes.
fn strip(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    let mut i = 0;
    while i < log.len() {
        if log[i] == 0x1b {
            while i < log.len() && log[i] != b'm' {
                i += 1;
            }
            i += 1;
            continue;
        }
        out.push(log[i]);
        i += 1;
    }
    out
}

criterion_group!(benches, parse);
criterion_main!(benches);
