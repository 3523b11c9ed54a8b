//! Command line: subcommands and their exit statuses.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser as ClapParser, Subcommand};

use crate::app;
use crate::vm::source::{Input, read_all};
use crate::vm::{Caps, Outcome, Parser};

/// Exit status for bad input (missing or unreadable file, bad usage).
pub const EXIT_INPUT: i32 = 2;

#[derive(Debug, ClapParser)]
#[command(
    name = "vmscope",
    // With the git revision it was built from, when it was built from git (build.rs).
    version = env!("VMSCOPE_VERSION"),
    about = "A full-screen terminal debugger for NixOS VM integration tests"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Write vmscope's own diagnostics here (default: vmscope.log under
    /// $XDG_STATE_HOME/vmscope; VMSCOPE_LOG=debug writes more).
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Colours on the screen: auto (unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// The theme the screen uses: the configured one, unless colour is off (`never`, or
    /// `auto` with NO_COLOR set to anything but nothing).
    pub fn theme(self, configured: crate::panes::theme::Theme) -> crate::panes::theme::Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        match self {
            Self::Never => crate::panes::theme::Theme::NoColor,
            Self::Auto if no_color => crate::panes::theme::Theme::NoColor,
            Self::Always if configured == crate::panes::theme::Theme::NoColor => {
                crate::panes::theme::Theme::Default
            }
            _ => configured,
        }
    }
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
        /// Replay a recording (a session directory) as it ran: SPEED is 1, 10, 100 or max.
        #[arg(long, value_name = "SPEED", num_args = 0..=1, default_missing_value = "1")]
        replay: Option<String>,
        /// The driver's JUnit report of the same run (`--junit-xml`, or a build's
        /// result-junitXmlReport/results.xml, read by itself when it lies beside the log):
        /// subtests the log lacks and failures it does not show are taken from it.
        #[arg(long, value_name = "FILE")]
        junit_xml: Option<PathBuf>,
        /// Where the test's screenshots are (the driver's output directory, `-o`, or the
        /// build's result); the log's own directory is looked in too.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        #[command(flatten)]
        plain: PlainArgs,
        #[command(flatten)]
        caps: CapArgs,
    },
    /// Print what a log says, without a screen: machines, steps, failures, backdoor.
    Inspect {
        /// The log file, or `-` for standard input.
        file: String,
        /// Print the JSON document described in the README.
        #[arg(long, conflicts_with = "junit")]
        json: bool,
        /// Print JUnit XML as the driver's reporter writes it: a test case per subtest
        /// (`main` when there are none).
        #[arg(long)]
        junit: bool,
        /// The driver's JUnit report of the same run, taken in as `log` does.
        #[arg(long, value_name = "FILE")]
        junit_xml: Option<PathBuf>,
        #[command(flatten)]
        caps: CapArgs,
    },
    /// Two runs of one test side by side: the first step that differs, slower steps, new
    /// errors. On a terminal, a screen; otherwise (or with --text) text.
    ///
    /// Exit status: 0 when no step differs, 1 when one does, 2 on bad input.
    Diff {
        /// The run that passed (a log file or a recording's directory).
        good: String,
        /// The run that failed.
        bad: String,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
        /// Print the comparison as text even on a terminal.
        #[arg(long)]
        text: bool,
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
        plain: PlainArgs,
        #[command(flatten)]
        caps: CapArgs,
        #[command(flatten)]
        rec: RecordArgs,
        /// The driver and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "DRIVER")]
        command: Vec<std::ffi::OsString>,
    },
    /// Build a test's interactive driver with nix, then run it live (`-I` is not needed).
    ///
    /// Example: vmscope interactive .#checks.x86_64-linux.foo
    Interactive {
        /// The test, as nix build names it (`.driverInteractive` is added).
        installable: String,
        #[command(flatten)]
        caps: CapArgs,
        #[command(flatten)]
        rec: RecordArgs,
        /// Arguments for nix build, after `--`.
        #[arg(last = true)]
        nix_args: Vec<std::ffi::OsString>,
    },
    /// Build a test with `nix build -L` and follow its log live (several tests at once too).
    ///
    /// Example: vmscope build .#checks.x86_64-linux.foo
    Build {
        /// The test derivation, as nix build names it.
        #[arg(required_unless_present = "nix_build")]
        installable: Option<String>,
        /// Use nix-build FILE instead of nix build.
        #[arg(long, value_name = "FILE", requires = "attr")]
        nix_build: Option<PathBuf>,
        /// The attribute for --nix-build.
        #[arg(short = 'A', long = "attr", value_name = "ATTR")]
        attr: Option<String>,
        #[command(flatten)]
        plain: PlainArgs,
        #[command(flatten)]
        caps: CapArgs,
        #[command(flatten)]
        rec: RecordArgs,
        /// Arguments for nix, after `--`.
        #[arg(last = true)]
        nix_args: Vec<std::ffi::OsString>,
    },
    /// Connect to a machine's SSH backdoor: an ssh ProxyCommand for hosts without
    /// systemd-ssh-proxy.
    ///
    /// Example: ssh -o ProxyCommand='vmscope proxy %n %p' -o User=root vsock-mux//tmp/…/m_host.socket
    Proxy {
        /// vsock-mux/PATH (vhost-device-vsock's socket) or vsock/CID.
        host: String,
        /// The port in the machine (22: its sshd).
        #[arg(default_value_t = 22)]
        port: u16,
    },
    /// Write a run to share: a self-contained HTML report of a log or a recording, or an
    /// asciicast of a recording's screen as it was shown (asciinema plays it).
    ///
    /// Example: vmscope export --html report.html result.log
    #[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["html", "cast"])))]
    Export {
        /// Write an HTML report here: the step tree, a tab per machine with its console,
        /// the failures, search. One file, nothing fetched from the network.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Write an asciicast (v2) of a recording here.
        #[arg(long, value_name = "FILE")]
        cast: Option<PathBuf>,
        /// The cast's screen size, COLSxROWS.
        #[arg(long, value_name = "COLSxROWS", default_value = "160x45")]
        size: String,
        /// The log file (or `-` for standard input), or a recording's directory.
        input: String,
        /// Where the test's screenshots are, for the HTML report (besides the log's own
        /// directory, or the recording's copies).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        #[command(flatten)]
        caps: CapArgs,
    },
    /// Group the failures of many logs by what failed: the same flake in forty CI logs is
    /// one line with its count.
    ///
    /// Example: vmscope triage ci-logs/ ; ls *.log | vmscope triage -
    Triage {
        /// Logs, recordings, directories of them, or `-` for a list of paths on stdin.
        #[arg(required = true)]
        logs: Vec<String>,
        /// Print the groups as JSON.
        #[arg(long)]
        json: bool,
        /// Print the groups as text even on a terminal (where a screen over them opens).
        #[arg(long)]
        text: bool,
    },
    /// Print the manual page (roff), for `man -l -` or to install as vmscope.1.
    Man,
    /// Print a shell's completions for vmscope.
    ///
    /// Example: vmscope completions bash > /etc/bash_completion.d/vmscope
    Completions {
        /// The shell: bash, zsh or fish.
        shell: CompletionShell,
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

/// The shells `vmscope completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl Command {
    /// The subcommand as it is typed, for diagnostics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Log { .. } => "log",
            Self::Inspect { .. } => "inspect",
            Self::Diff { .. } => "diff",
            Self::Split { .. } => "split",
            Self::Run { .. } => "run",
            Self::Interactive { .. } => "interactive",
            Self::Build { .. } => "build",
            Self::Proxy { .. } => "proxy",
            Self::Man => "man",
            Self::Export { .. } => "export",
            Self::Triage { .. } => "triage",
            Self::Completions { .. } => "completions",
            Self::Demo { .. } => "demo",
        }
    }
}

/// Plain output, for CI.
#[derive(Debug, Args, Clone, Copy)]
pub struct PlainArgs {
    /// Print instead of drawing: a line per finished step with its duration, failures in
    /// full with the failing machine's last console lines, a summary. This is what happens
    /// anyway when stdout is no terminal.
    #[arg(long)]
    pub plain: bool,
    /// With the plain output, every machine's console lines too, prefixed with its name.
    #[arg(long)]
    pub serial: bool,
    /// With the plain output, GitHub Actions' annotations (::error, ::warning) and a job
    /// summary appended to $GITHUB_STEP_SUMMARY (on by itself when GITHUB_ACTIONS=true).
    #[arg(long)]
    pub github: bool,
}

impl PlainArgs {
    /// Whether to print rather than draw: asked for, or stdout is no terminal.
    pub fn on(self) -> bool {
        use std::io::IsTerminal;
        self.plain || !std::io::stdout().is_terminal()
    }

    pub fn options(self) -> crate::plain::live::Options {
        crate::plain::live::Options {
            serial: self.serial,
            github: crate::plain::github_on(self.github),
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct RecordArgs {
    /// Record the session into this directory (default: a new one under
    /// $XDG_STATE_HOME/vmscope/sessions).
    #[arg(long, value_name = "DIR", conflicts_with = "no_record")]
    pub record: Option<PathBuf>,
    /// Do not record the session.
    #[arg(long)]
    pub no_record: bool,
}

impl RecordArgs {
    pub fn choice(self) -> app::Record {
        match (self.record, self.no_record) {
            (_, true) => app::Record::Off,
            (Some(dir), _) => app::Record::Into(dir),
            (None, false) => app::Record::Default,
        }
    }
}

#[derive(Debug, Args, Clone, Copy)]
pub struct CapArgs {
    /// Lines each pane keeps in memory (older ones are evicted; the input keeps them).
    #[arg(long, value_name = "N")]
    pub max_lines: Option<usize>,
    /// Bytes each pane keeps in memory.
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<usize>,
    /// Steps each test keeps in its tree (the oldest finished ones are evicted).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
}

impl CapArgs {
    pub fn caps(self, config: Caps) -> Caps {
        Caps {
            max_lines: self.max_lines.unwrap_or(config.max_lines),
            max_bytes: self.max_bytes.unwrap_or(config.max_bytes),
            max_steps: self.max_steps.unwrap_or(config.max_steps),
            keep_serial: config.keep_serial,
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

/// Writes `bytes` to `path` whole: into a temporary file beside it, then renamed, so that
/// a full disk leaves the old file, not half a new one.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    // Readable as any file the user writes: a temporary file is private.
    use std::os::unix::fs::PermissionsExt;
    tmp.write_all(bytes)
        .and_then(|()| {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// Where a log's screenshots may be: the directory given, then the log's own directory
/// and the `result` link beside it (a build's output); a recording's own copies.
fn shot_dirs(file: &str, given: Option<PathBuf>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = given.into_iter().collect();
    let path = std::path::Path::new(file);
    if file != "-" {
        if crate::vm::recording::is_recording(path) {
            dirs.push(path.join(crate::vm::recording::SHOTS_DIR));
        } else if let Some(parent) = path.parent() {
            let parent = if parent.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                parent
            };
            dirs.push(parent.to_path_buf());
            dirs.push(parent.join("result"));
        }
    }
    dirs
}

/// The driver's JUnit report for `file`: the one given (an error when it cannot be read),
/// or the one a build left beside it (said and passed over when it cannot be read).
fn junit_for(
    file: &str,
    given: Option<PathBuf>,
) -> anyhow::Result<Option<crate::vm::junit::report::Report>> {
    use crate::vm::junit::report;
    if let Some(path) = given {
        return report::read(&path).map(Some).map_err(anyhow::Error::msg);
    }
    let found = (file != "-")
        .then(|| report::beside(std::path::Path::new(file)))
        .flatten();
    Ok(found.and_then(|p| match report::read(&p) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("vmscope: {e}");
            None
        }
    }))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    crate::diagnostics::init(cli.log_file.clone());
    let _span = tracing::info_span!("command", name = cli.command.name()).entered();
    // What describes the command line itself needs no configuration.
    match cli.command {
        Command::Man => {
            let mut out = std::io::stdout().lock();
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            return match page.render(&mut out) {
                // A reader that stopped early (`| head`) is no error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(0),
            };
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let out = &mut std::io::stdout().lock();
            match shell {
                CompletionShell::Bash => {
                    clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "vmscope", out)
                }
                CompletionShell::Zsh => {
                    clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "vmscope", out)
                }
                CompletionShell::Fish => {
                    clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "vmscope", out)
                }
            }
            return Ok(0);
        }
        _ => {}
    }
    let mut config = app::config::Config::load()?;
    config.theme = cli.color.theme(config.theme);
    match cli.command {
        Command::Man | Command::Completions { .. } => Ok(0),
        Command::Triage { logs, json, text } => {
            let mut paths: Vec<PathBuf> = Vec::new();
            for l in logs {
                if l == "-" {
                    let mut list = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut list)?;
                    paths.extend(
                        list.lines()
                            .filter(|l| !l.trim().is_empty())
                            .map(PathBuf::from),
                    );
                    continue;
                }
                let p = PathBuf::from(&l);
                if p.is_dir() && !crate::vm::recording::is_recording(&p) {
                    let mut inside: Vec<PathBuf> = std::fs::read_dir(&p)
                        .map_err(|e| anyhow::anyhow!("{l}: {e}"))?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() || crate::vm::recording::is_recording(p))
                        .collect();
                    inside.sort();
                    paths.extend(inside);
                } else {
                    paths.push(p);
                }
            }
            let mut triage = crate::vm::triage::Triage::default();
            for p in &paths {
                let name = p.display().to_string();
                let input = open(&name)?;
                let mut parser = Parser::new(
                    Caps {
                        keep_serial: false,
                        ..config.caps
                    },
                    Parser::env_options(),
                );
                read_all(input, &mut parser).map_err(|e| anyhow::anyhow!("reading {name}: {e}"))?;
                triage.add(&name, &parser.run);
            }
            let triage = triage.sorted();
            use std::io::IsTerminal;
            if json {
                println!("{}", serde_json::to_string_pretty(&triage)?);
            } else if text || !std::io::stdout().is_terminal() {
                print!("{}", triage.text());
            } else {
                let color = match cli.color {
                    ColorChoice::Auto => "auto",
                    ColorChoice::Always => "always",
                    ColorChoice::Never => "never",
                };
                app::triageview::run(&triage, &config.keymap, config.theme, color)?;
            }
            Ok(i32::from(
                !triage.groups.is_empty() || !triage.unexplained.is_empty(),
            ))
        }
        Command::Export {
            html,
            cast,
            size,
            input,
            out_dir,
            caps,
        } => {
            if let Some(path) = &html {
                let source = open(&input)?;
                let what = source.describe();
                let mut parser = Parser::new(caps.caps(config.caps), Parser::env_options());
                read_all(source, &mut parser)
                    .map_err(|e| anyhow::anyhow!("reading {what}: {e}"))?;
                let dirs = shot_dirs(&input, out_dir);
                let page = crate::vm::html::page(&parser.run, &what, &dirs);
                write_file(path, page.as_bytes())?;
                eprintln!("vmscope: wrote {}", path.display());
            }
            if let Some(cast) = &cast {
                let recording = PathBuf::from(&input);
                if !crate::vm::recording::is_recording(&recording) {
                    anyhow::bail!(
                        "{input}: --cast needs a recording (a session directory that holds {})",
                        crate::vm::recording::RECORD_FILE
                    );
                }
                let (w, h) = size
                    .split_once('x')
                    .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
                    .filter(|&(w, h)| w >= 40 && h >= 8)
                    .ok_or_else(|| anyhow::anyhow!("--size {size}: COLSxROWS, 40x8 at least"))?;
                let file = std::fs::File::create(cast)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", cast.display()))?;
                let mut out = std::io::BufWriter::new(file);
                app::runner::cast::cast(&recording, &mut out, (w, h))?;
                eprintln!("vmscope: wrote {}", cast.display());
            }
            Ok(0)
        }
        Command::Inspect {
            file,
            json,
            junit,
            junit_xml,
            caps,
        } => {
            let input = open(&file)?;
            let report = junit_for(&file, junit_xml)?;
            let what = input.describe();
            let caps = Caps {
                keep_serial: false,
                ..caps.caps(config.caps)
            };
            let mut parser = Parser::new(caps, Parser::env_options());
            read_all(input, &mut parser).map_err(|e| anyhow::anyhow!("reading {what}: {e}"))?;
            if let Some(r) = report {
                r.apply(&mut parser.run);
            }
            let run = parser.run;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if junit {
                let _ = out.write_all(crate::vm::junit::xml(&run).as_bytes());
            } else if json {
                let _ = crate::vm::export::json_to(&run, &mut out);
                let _ = writeln!(out);
            } else {
                let _ = writeln!(out, "{}", crate::vm::export::text(&run).trim_end());
            }
            let _ = out.flush();
            Ok(outcome_status(run.outcome()))
        }
        Command::Diff {
            good,
            bad,
            json,
            text,
        } => {
            let read = |file: &str| -> anyhow::Result<crate::vm::TestRun> {
                let input = open(file)?;
                let what = input.describe();
                let mut parser = Parser::new(config.caps, Parser::env_options());
                read_all(input, &mut parser).map_err(|e| anyhow::anyhow!("reading {what}: {e}"))?;
                Ok(parser.run)
            };
            let (g, b) = (read(&good)?, read(&bad)?);
            let d = crate::vm::diff::diff(&good, &g, &bad, &b);
            let status = i32::from(d.first_difference.is_some());
            use std::io::IsTerminal;
            if json {
                let mut out = std::io::stdout().lock();
                let _ = serde_json::to_writer_pretty(&mut out, &d);
                let _ = writeln!(out);
            } else if text || !std::io::stdout().is_terminal() {
                print!("{}", crate::vm::diff::text(&d));
            } else {
                app::diffview::run(&d, &config.keymap, config.theme)?;
            }
            Ok(status)
        }
        Command::Split { file, out } => {
            let input = open(&file)?;
            // The consoles go to their files, not to memory.
            let caps = Caps {
                keep_serial: false,
                ..config.caps
            };
            let (_, written) = crate::split::split(input, &out, caps)?;
            let mut o = std::io::stdout().lock();
            for p in written {
                let _ = writeln!(o, "{}", p.display());
            }
            Ok(0)
        }
        Command::Log {
            file,
            follow,
            replay,
            junit_xml,
            out_dir,
            plain,
            caps,
        } => {
            let input = open(&file)?;
            let report = junit_for(&file, junit_xml)?;
            if plain.on() {
                let what = input.describe();
                let mut parser = Parser::new(caps.caps(config.caps), Parser::env_options());
                read_all(input, &mut parser).map_err(|e| anyhow::anyhow!("reading {what}: {e}"))?;
                if let Some(r) = report {
                    r.apply(&mut parser.run);
                }
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                let mut printer = crate::plain::Plain::new(plain.serial);
                let _ = printer.finish(&parser.run, &mut out);
                let opts = plain.options();
                if opts.github {
                    let _ = crate::plain::github(&parser.run, &mut out);
                    let _ = out.flush();
                    crate::plain::summarize(&parser.run)?;
                }
                return Ok(crate::plain::status(parser.run.outcome()));
            }
            let replay = match replay {
                None => None,
                Some(_) if !matches!(input, Input::Recording(_)) => {
                    anyhow::bail!(
                        "--replay needs a recording (a session directory that holds {})",
                        crate::vm::recording::RECORD_FILE
                    )
                }
                Some(s) => Some(app::replay::Replay::speed_of(&s).ok_or_else(|| {
                    anyhow::anyhow!("--replay {s}: the speed is 1, 10, 100 or max")
                })?),
            };
            let extras = app::LogExtras {
                junit: report,
                shots: shot_dirs(&file, out_dir),
            };
            app::run_log(
                input,
                follow,
                replay,
                extras,
                caps.caps(config.caps),
                config,
            )
        }
        Command::Proxy { host, port } => match crate::vsock::proxy::run(&host, port) {
            Ok(()) => Ok(0),
            Err(e) => {
                eprintln!("vmscope proxy: {e}");
                Ok(1)
            }
        },
        Command::Demo { speed, caps } => app::run_demo(speed, caps.caps(config.caps), config),
        Command::Run {
            plain,
            caps,
            rec,
            mut command,
        } => {
            let program = command.remove(0);
            if plain.on() {
                if command.iter().any(|a| a == "-I" || a == "--interactive") {
                    anyhow::bail!(
                        "the driver's REPL (-I) needs vmscope on a terminal; without -I the test \
                         script runs and its steps are printed"
                    );
                }
                let record = app::record_dir(rec.choice(), &program)?;
                return crate::plain::live::run(
                    program,
                    command,
                    record,
                    caps.caps(config.caps),
                    plain.options(),
                );
            }
            app::run_driver(
                program,
                command,
                rec.choice(),
                caps.caps(config.caps),
                config,
            )
        }
        Command::Interactive {
            installable,
            caps,
            rec,
            nix_args,
        } => app::run_interactive(
            &installable,
            nix_args,
            rec.choice(),
            caps.caps(config.caps),
            config,
        ),
        Command::Build {
            installable,
            nix_build,
            attr,
            plain,
            caps,
            rec,
            nix_args,
        } => {
            let (program, mut args): (&str, Vec<std::ffi::OsString>) =
                match (nix_build, installable) {
                    (Some(file), _) => (
                        "nix-build",
                        vec![
                            file.into_os_string(),
                            "-A".into(),
                            attr.unwrap_or_default().into(),
                        ],
                    ),
                    (None, Some(i)) => ("nix", vec!["build".into(), "-L".into(), i.into()]),
                    (None, None) => {
                        anyhow::bail!("give an installable, or --nix-build FILE -A ATTR")
                    }
                };
            args.extend(nix_args);
            if plain.on() {
                let record = app::record_dir(rec.choice(), std::ffi::OsStr::new(program))?;
                return crate::plain::live::run(
                    program.into(),
                    args,
                    record,
                    caps.caps(config.caps),
                    plain.options(),
                );
            }
            app::run_build(program, args, rec.choice(), caps.caps(config.caps), config)
        }
    }
}
