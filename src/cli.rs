//! Command line: subcommands and their exit statuses.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser as ClapParser, Subcommand};

use crate::app;
use crate::vm::source::{Input, read_all};
use crate::vm::{Caps, Outcome, ParseOptions, Parser};

/// Exit status for bad input (missing or unreadable file, bad usage).
pub const EXIT_INPUT: i32 = 2;

#[derive(Debug, ClapParser)]
#[command(
    name = "vmscope",
    version,
    about = "A full-screen terminal debugger for NixOS VM integration tests"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a saved test log (CI, Hydra, `nix log`) on the vmscope screen.
    Log {
        /// The log file, or `-` for standard input.
        file: String,
        /// Keep reading as the file grows.
        #[arg(short, long)]
        follow: bool,
        #[command(flatten)]
        caps: CapArgs,
    },
    /// Print what a log says, without a screen: machines, steps, failures, backdoor.
    Inspect {
        /// The log file, or `-` for standard input.
        file: String,
        /// Print the JSON document described in the README.
        #[arg(long)]
        json: bool,
    },
    /// Write one log per machine (serial console, prefix removed) plus `driver.log`.
    Split {
        /// The log file, or `-` for standard input.
        file: String,
        /// Directory to write into (created if missing).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Run a test driver live: its VMs' consoles in panes, its REPL in the command pane.
    ///
    /// Example: vmscope run -- ./result/bin/nixos-test-driver -I
    Run {
        #[command(flatten)]
        caps: CapArgs,
        /// Record the session into this directory (default: a new one under
        /// $XDG_STATE_HOME/vmscope/sessions).
        #[arg(long, value_name = "DIR", conflicts_with = "no_record")]
        record: Option<PathBuf>,
        /// Do not record the session.
        #[arg(long)]
        no_record: bool,
        /// The driver and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "DRIVER")]
        command: Vec<std::ffi::OsString>,
    },
    /// Replay a simulated test run: three machines, subtests, a failure. No Nix, no KVM.
    Demo {
        /// Replay speed factor (2 = twice as fast).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        #[command(flatten)]
        caps: CapArgs,
    },
}

#[derive(Debug, Args, Clone, Copy)]
pub struct CapArgs {
    /// Lines each pane keeps in memory (older ones are evicted; the input keeps them).
    #[arg(long, value_name = "N")]
    pub max_lines: Option<usize>,
    /// Bytes each pane keeps in memory.
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<usize>,
}

impl CapArgs {
    pub fn caps(self, config: Caps) -> Caps {
        Caps {
            max_lines: self.max_lines.unwrap_or(config.max_lines),
            max_bytes: self.max_bytes.unwrap_or(config.max_bytes),
        }
    }
}

/// Exit status of a run as `inspect` reports it: 0 passed, 1 failed or timed out, 0 when
/// the log does not say.
fn outcome_status(o: Outcome) -> i32 {
    match o {
        Outcome::Failed | Outcome::TimedOut => 1,
        _ => 0,
    }
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_INPUT } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vmscope: {e:#}");
            EXIT_INPUT
        }
    }
}

fn open(file: &str) -> anyhow::Result<Input> {
    Ok(Input::open(file)?)
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let config = app::config::Config::load()?;
    match cli.command {
        Command::Inspect { file, json } => {
            let input = open(&file)?;
            let what = input.describe();
            let mut parser = Parser::new(config.caps, ParseOptions::default());
            read_all(input, &mut parser).map_err(|e| anyhow::anyhow!("reading {what}: {e}"))?;
            let run = parser.run;
            let text = if json {
                crate::vm::export::json(&run)
            } else {
                crate::vm::export::text(&run)
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", text.trim_end());
            Ok(outcome_status(run.outcome()))
        }
        Command::Split { file, out } => {
            let input = open(&file)?;
            let (_, written) = crate::split::split(input, &out, config.caps)?;
            let mut o = std::io::stdout().lock();
            for p in written {
                let _ = writeln!(o, "{}", p.display());
            }
            Ok(0)
        }
        Command::Log { file, follow, caps } => {
            let input = open(&file)?;
            app::run_log(input, follow, caps.caps(config.caps), config)
        }
        Command::Demo { speed, caps } => app::run_demo(speed, caps.caps(config.caps), config),
        Command::Run {
            caps,
            record,
            no_record,
            mut command,
        } => {
            let program = command.remove(0);
            let record = match (record, no_record) {
                (_, true) => app::Record::Off,
                (Some(dir), _) => app::Record::Into(dir),
                (None, false) => app::Record::Default,
            };
            app::run_driver(program, command, record, caps.caps(config.caps), config)
        }
    }
}
