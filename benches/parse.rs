//! Parse-and-store throughput on a generated 100 MB log of 16 machines.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vmscope::vm::{Caps, ParseOptions, Parser};

#[path = "support/synth.rs"]
mod synth;

#[path = "support/tmux.rs"]
mod tmux;

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

/// The same log written into a 200x50 tmux pane, in MB/s: what a terminal multiplexer's
/// own parser manages. `None` without tmux.
fn tmux(log: &[u8]) -> Option<f64> {
    let dir = tempfile::tempdir().ok()?;
    let file = dir.path().join("log");
    let done = dir.path().join("done");
    std::fs::write(&file, log).ok()?;
    // The shell times `cat` itself: from its first byte to tmux having taken the last.
    let cmd = format!(
        "s=$(date +%s.%N); cat {f}; e=$(date +%s.%N); echo \"$s $e\" > {d}.tmp; mv {d}.tmp {d}",
        f = file.display(),
        d = done.display()
    );
    let _server = tmux::Tmux::run("parse-bench", &cmd)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::time::Instant::now() < deadline {
        if let Ok(t) = std::fs::read_to_string(&done) {
            let v: Vec<f64> = t
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            return match v[..] {
                [s, e] => Some(log.len() as f64 / 1e6 / (e - s)),
                _ => None,
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    None
}

fn parse(c: &mut Criterion) {
    // For a profiler: only the parser, many times over (VMSCOPE_BENCH_MB of input, 100 by
    // default), nothing else in the profile.
    if let Ok(which) = std::env::var("VMSCOPE_BENCH_PROFILE") {
        let mb = std::env::var("VMSCOPE_BENCH_MB").map_or(100, |v| v.parse().unwrap_or(100));
        let log = synth::log(16, mb << 20);
        let input = if which == "plain" { strip(&log) } else { log };
        let runs = if mb < 100 { 1 } else { 20 };
        println!("{which}: {:.0} MB/s", best_of(&input, runs));
        return;
    }
    let log = synth::log(16, 100 * 1024 * 1024);
    let stripped = strip(&log);
    let (coloured, plain, floor) = (
        best_of(&log, 5),
        best_of(&stripped, 5),
        split_and_strip(&log, 5),
    );
    println!(
        "parse best of 5: coloured {coloured:.0} MB/s, plain {plain:.0} MB/s ({} MB of 16 \
         machines); the floor (splitting lines and stripping escapes alone): {floor:.0} MB/s",
        log.len() / 1_000_000,
    );
    let tmux_text = tmux(&log).map_or("tmux not installed".to_string(), |t| {
        format!(
            "a tmux pane {t:.0} MB/s: vmscope coloured {:.1}x tmux",
            coloured / t
        )
    });
    println!(
        "parse ratios: coloured {:.2}x the floor's time, plain {:.2}x; {tmux_text}",
        floor / coloured,
        floor / plain
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
