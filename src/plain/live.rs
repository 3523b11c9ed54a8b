//! `run` and `build` without a screen: the driver (or `nix build`) runs as it would under
//! the screen, its output parsed as it comes and printed plainly, step by step; vmscope
//! exits with the child's status. What is recorded is recorded as under the screen.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::app::sessions::driver::{Child, ChildEvent, LastWords, StderrTo};
use crate::vm::recording::{Recorder, Stream};
use crate::vm::{Caps, Parser};

/// How the plain output is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The machines' console lines too.
    pub serial: bool,
    /// GitHub Actions' annotations and job summary at the end.
    pub github: bool,
}

/// The size of the terminal the driver's stdout is given: wide, so that nothing it prints
/// there is wrapped.
const COLS: u16 = 200;
const ROWS: u16 = 50;

/// Runs `program args` to its end, printing on stdout. Returns the child's exit status, or
/// 128 + the signal that stopped vmscope (the child's whole group ended first).
pub fn run(
    program: OsString,
    args: Vec<OsString>,
    record: Option<PathBuf>,
    caps: Caps,
    opts: Options,
) -> anyhow::Result<i32> {
    let _span = tracing::info_span!("plain", program = %program.to_string_lossy()).entered();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, mut rx) = mpsc::channel::<ChildEvent>(64);
    let send = move |ev: ChildEvent| tx.blocking_send(ev).is_ok();
    let last_words = LastWords {
        terminal: false,
        remove: None,
    };
    let mut child = Child::spawn(
        &program,
        &args,
        COLS,
        ROWS,
        StderrTo::Pipe,
        send,
        Some(&last_words),
    )
    .map_err(|e| crate::app::runner::cannot_start(&program, record.as_deref(), e))?;
    let start = Instant::now();
    let ms = || u32::try_from(start.elapsed().as_millis()).unwrap_or(u32::MAX - 2);
    let recorder = record.and_then(|dir| {
        let command: Vec<String> = std::iter::once(&program)
            .chain(&args)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let warn = |m: String| eprintln!("vmscope: {m}");
        match Recorder::start(&dir, &command, warn) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("vmscope: not recording this run: {}: {e}", dir.display());
                None
            }
        }
    });
    let mut parser = Parser::new(caps, Parser::env_options());
    parser.run.live = true;
    let mut plain = super::Plain::new(opts.serial);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // A reader of our output that went away (`| head`) does not stop the run.
    let mut reading = true;
    let status = rt.block_on(async {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let code = loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = term.recv() => break 128 + libc::SIGTERM,
                _ = int.recv() => break 128 + libc::SIGINT,
                _ = hup.recv() => break 128 + libc::SIGHUP,
            };
            let Some(ev) = ev else { break 1 };
            if let Some(r) = &recorder {
                match &ev {
                    ChildEvent::Stderr(b) => {
                        r.record(Stream::Stderr, ms(), b);
                    }
                    ChildEvent::Pty(b) => {
                        r.record(Stream::Terminal, ms(), b);
                    }
                    ChildEvent::Exited(code) => r.exit(*code),
                }
            }
            match ev {
                ChildEvent::Stderr(b) => parser.feed(&b, ms()),
                ChildEvent::Pty(b) => parser.feed_terminal(&b),
                ChildEvent::Exited(code) => {
                    child.mark_exited();
                    parser.set_exit_code(code);
                    break code;
                }
            }
            if reading && plain.update(&parser.run, &mut out).is_err() {
                reading = false;
            }
        };
        anyhow::Ok(code)
    })?;
    // Whatever way the run ended, nothing of it outlives vmscope.
    drop(child);
    parser.finish();
    parser.run.live = false;
    if reading {
        let _ = plain.finish(&parser.run, &mut out);
        if opts.github {
            let _ = super::github(&parser.run, &mut out);
        }
    }
    let _ = out.flush();
    if opts.github {
        super::summarize(&parser.run)?;
    }
    if let Some(mut r) = recorder {
        if !r.finish(crate::vm::recording::QUIT_GRACE) {
            eprintln!(
                "vmscope: the recording in {} is cut short: the disk did not take all of it",
                r.dir.display()
            );
        } else {
            eprintln!("vmscope: recorded into {}", r.dir.display());
        }
    }
    Ok(status)
}
