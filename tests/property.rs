//! A property test over transcripts cut, spliced and damaged at random: whatever the input,
//! the parser does not panic, every input line is stored in exactly one place (a machine's
//! pane or the driver's), and a guest's console line never becomes a breakpoint, a
//! failure, a step or a machine.
//!
//! Cases are seeded one by one (`arbtest`'s seed: random high bits, the size in the low
//! ones), so a run of N cases is reproducible and a failure prints its seed; replay one with
//! `ARBTEST_SEED=0x… cargo test --test property`. `VMSCOPE_PROPERTY_CASES` sets N (100,000
//! by default; a long run is given 10,000,000).

mod common;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use arbtest::arbitrary::{Result, Unstructured};
use vmscope::vm::model::{FailureKind, TestRun};
use vmscope::vm::{Caps, ParseOptions, Parser, sanitize};

/// Lines of every transcript (shared and the repository's corpus), capture and adversarial
/// log, by input.
static POOL: LazyLock<Vec<Vec<Vec<u8>>>> = LazyLock::new(|| {
    let mut inputs: Vec<std::path::PathBuf> = common::all_inputs();
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["tests/adversarial", "tests/corpus"] {
        for e in std::fs::read_dir(here.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "log") {
                inputs.push(p);
            }
        }
    }
    inputs
        .iter()
        .map(|p| {
            std::fs::read(p)
                .unwrap()
                .split(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .collect()
        })
        .collect()
});

/// Shapes no transcript has enough of.
const PATHOLOGICAL: &[&[u8]] = &[
    b"\x1b[1m\x1b[32mrun the VM test script\x1b[0m",
    b"(finished: run the VM test script, in 1e20 seconds)",
    b"(0.05 seconds)",
    b"machine: (finished: waiting for unit x, in NaN seconds)",
    b"\x1b[1m\x1b[32msubtest: s\x1b[0m",
    b"...: ",
    b"m1: starting vmm2: starting vm",
    b"\x1b[2mm1 # a\x1b[0mm1: (finished: must succeed: true, in 0.01 seconds)",
    b"error: Cannot build '/nix/store/0000000000000000000000000000000a-vm-test-run-x.drv'.",
    b"       Reason: builder failed with exit code 143.",
    b"       > \x1b[31m!!! \x1b[0mTraceback (most recent call last):",
    b"??? Warning (UserWarning): x",
    b"\r\r\r",
    b"\xff\xfe\xc2\x9b31m",
];

/// The case being run, for the report of a failure.
static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn parse(bytes: &[u8]) -> TestRun {
    Parser::parse_all(bytes, Caps::default(), ParseOptions::default())
}

/// A random input: pieces of one to three inputs, then damage.
fn input(u: &mut Unstructured<'_>) -> Result<Vec<Vec<u8>>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for _ in 0..u.int_in_range(1..=3)? {
        let source = u.choose(&POOL)?;
        let start = u.choose_index(source.len())?;
        let n = u.int_in_range(1..=160)?;
        lines.extend(source[start..source.len().min(start + n)].iter().cloned());
    }
    for _ in 0..u.int_in_range(0..=8)? {
        if lines.is_empty() {
            break;
        }
        let at = u.choose_index(lines.len())?;
        match u.int_in_range(0..=7)? {
            0 => {
                let line = &mut lines[at];
                if !line.is_empty() {
                    let i = u.choose_index(line.len())?;
                    line[i] = u.arbitrary()?;
                }
            }
            1 => {
                let copies = u.int_in_range(1..=50)?;
                let line = lines[at].clone();
                lines.splice(at..at, std::iter::repeat_n(line, copies));
            }
            2 => {
                lines.remove(at);
            }
            3 => {
                let source = u.choose(&POOL)?;
                let line = u.choose(source)?.clone();
                lines.insert(at, line);
            }
            4 => {
                let cut = u.int_in_range(0..=lines[at].len())?;
                lines[at].truncate(cut);
            }
            5 if at + 1 < lines.len() => {
                // Two writers on one line.
                let next = lines.remove(at + 1);
                lines[at].extend(next);
            }
            6 => {
                let shape = u.choose(PATHOLOGICAL)?;
                let copies = u.int_in_range(1..=200)?;
                lines.splice(at..at, std::iter::repeat_n(shape.to_vec(), copies));
            }
            _ => {
                let junk: Vec<u8> = u.arbitrary()?;
                lines.insert(at, junk);
            }
        }
    }
    Ok(lines)
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

/// Lines stored, in every pane of every test.
fn stored(run: &TestRun) -> u64 {
    run.tests
        .iter()
        .map(|t| t.driver.end_seq() + t.machines.iter().map(|m| m.serial_lines).sum::<u64>())
        .sum()
}

/// What the driver says about a run, counted: steps, failures (the guest's kernel panics
/// aside), breakpoints, machines.
/// Each claim is keyed by what it is and the text it was read from.
fn claims(run: &TestRun) -> BTreeMap<(&'static str, String), i64> {
    let mut out = BTreeMap::new();
    for t in &run.tests {
        for s in &t.steps {
            *out.entry(("step", s.title.clone())).or_default() += 1;
        }
        for f in t
            .failures
            .iter()
            .filter(|f| f.kind != FailureKind::KernelPanic)
        {
            *out.entry(("failure", f.message.clone())).or_default() += 1;
        }
        if let Some(b) = &t.breakpoint {
            *out.entry(("breakpoint", b.line.id.clone())).or_default() += 1;
        }
        // A machine is one name, whichever tests of a spliced input hold it.
        for m in &t.machines {
            out.insert(("machine", m.name.clone()), 1);
        }
    }
    out
}

/// The Nix wrapping of `line`, to give a console line after it the same; `None` after a
/// line of Nix's own report or its tail, which Nix prints at once (no console line can
/// come between them in a real log).
fn wrapping(line: &[u8]) -> Option<&[u8]> {
    let indented = line.iter().take_while(|&&b| b == b' ').count();
    if indented > 0 || line.starts_with(b"error: ") || line.starts_with(b">") {
        return None;
    }
    match line.windows(2).position(|w| w == b"> ") {
        Some(gt) if line.starts_with(b"vm-test-run-") => Some(&line[..gt + 2]),
        _ => Some(b""),
    }
}

fn property(u: &mut Unstructured<'_>) -> Result<()> {
    let lines = input(u)?;
    let bytes = join(&lines);
    let run = parse(&bytes);
    assert_eq!(
        stored(&run),
        run.lines + run.split_lines - run.glue_blanks,
        "every input line is stored once"
    );

    // A guest prints driver lines on its console.
    let mut with_guest = lines.clone();
    let mut payloads: Vec<String> = Vec::new();
    for _ in 0..u.int_in_range(1..=6)? {
        let at = u.int_in_range(0..=with_guest.len())?;
        let source = u.choose(&POOL)?;
        let payload = sanitize::strip_sgr(&String::from_utf8_lossy(u.choose(source)?));
        let payload: String = payload.chars().filter(|c| !c.is_control()).collect();
        let wrap = match at.checked_sub(1) {
            Some(i) => wrapping(&with_guest[i]).map(<[u8]>::to_vec),
            None => Some(Vec::new()),
        };
        let Some(mut line) = wrap else { continue };
        line.extend_from_slice(format!("\x1b[2mguest # {}\x1b[0m", payload.trim_end()).as_bytes());
        with_guest.insert(at, line);
        payloads.push(payload);
    }
    let guest_bytes = join(&with_guest);
    let guest = parse(&guest_bytes);
    let before = claims(&run);
    for (claim, n) in claims(&guest) {
        if claim == ("machine", "guest".to_string()) {
            continue;
        }
        let had = before.get(&claim).copied().unwrap_or(0);
        // More of a claim can come from the input's own lines read in another order (a
        // console line ends an output block, starts the script); it is the guest's only
        // when its text is what the guest printed.
        let (what, text) = &claim;
        let from_payload = |p: &String| match *what {
            // The name a payload line would be read as: its `NAME: ` or `NAME # `.
            "machine" => p
                .trim_start()
                .strip_prefix(text.as_str())
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with(" #")),
            _ => p.contains(text.as_str()),
        };
        if n > had && !text.is_empty() && payloads.iter().any(from_payload) {
            let dir = std::env::temp_dir();
            std::fs::write(dir.join("vmscope-property-input.log"), &bytes).unwrap();
            std::fs::write(dir.join("vmscope-property-guest.log"), &guest_bytes).unwrap();
            panic!(
                "case {}: a console line made {claim:?} ({n} times, {had} without it); inputs in {}",
                CASE.load(std::sync::atomic::Ordering::Relaxed),
                dir.join("vmscope-property-{input,guest}.log").display()
            );
        }
    }
    Ok(())
}

#[test]
fn transcripts_cut_and_damaged_keep_every_line_and_trust_no_console() {
    let cases: u64 = std::env::var("VMSCOPE_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    LazyLock::force(&POOL);
    if std::env::var_os("ARBTEST_SEED").is_some() {
        // arbtest replays the seed it is given.
        arbtest::arbtest(property).run();
        return;
    }
    let mut rng: u64 = 0x005e_ed0f_7e57;
    for case in 0..cases {
        CASE.store(case, std::sync::atomic::Ordering::Relaxed);
        // xorshift: seeds spread over the 32 random bits, sizes up to 4 KiB of entropy.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let seed = (rng & 0xffff_ffff_0000_0000) | (rng % 4096 + 64);
        arbtest::arbtest(property).seed(seed).run();
    }
}
