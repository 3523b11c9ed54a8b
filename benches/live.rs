//! Live runs, measured side by side (`cargo bench --bench live`):
//! - the fake driver writing 200 MB of serial output across 16 machines: its own time with
//!   stderr sent to /dev/null, under `vmscope run`, and inside a tmux pane;
//! - vmscope's CPU use while a live run sits idle;
//! - key-press-to-screen latency in the command pane under a 10 MB/s serial flood.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "support/wakeups.rs"]
mod wakeups;
use wakeups::wakeups;
#[path = "support/screen.rs"]
mod screen;
#[path = "support/tmux.rs"]
mod tmux;
use screen::Screen;

const MB: u32 = 200;
const RUNS: usize = 3;

fn fake_driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/fake-driver.py")
}

fn machines() -> String {
    (0..16)
        .map(|i| format!("node{i:02}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn wait_file(path: &Path, limit: Duration) -> Option<f64> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(path)
            && let Ok(v) = s.trim().parse()
        {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn flood_baseline(report: &Path) -> f64 {
    let status = std::process::Command::new("python3")
        .arg(fake_driver())
        .args([
            "--flood",
            &MB.to_string(),
            "--machines",
            &machines(),
            "--flood-report",
        ])
        .arg(report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("python3");
    assert!(status.success());
    wait_file(report, Duration::from_secs(1)).expect("report")
}

fn flood_vmscope(report: &Path) -> f64 {
    let drv = fake_driver();
    let (mb, m, r) = (MB.to_string(), machines(), report.display().to_string());
    let s = Screen::spawn(&[
        "run",
        "--no-record",
        "--",
        "python3",
        drv.to_str().unwrap(),
        "--flood",
        &mb,
        "--machines",
        &m,
        "--flood-report",
        &r,
    ]);
    let t = wait_file(report, Duration::from_secs(300)).expect("report under vmscope");
    s.quit();
    t
}

fn flood_tmux(report: &Path) -> Option<f64> {
    let cmd = format!(
        "python3 {} --flood {MB} --machines {} --flood-report {}",
        fake_driver().display(),
        machines(),
        report.display()
    );
    let _server = tmux::Tmux::run("bench", &cmd)?;
    wait_file(report, Duration::from_secs(300))
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// CPU use (% of a core) and wake-ups over 10 s of a live run that prints nothing, from
/// its first second on (while the driver's configuration is still looked for).
fn idle_cpu() -> (f64, u64) {
    let s = Screen::spawn(&["run", "--no-record", "--", "sleep", "30"]);
    std::thread::sleep(Duration::from_secs(1));
    let pid = s.child.process_id().expect("pid");
    let (before, woke) = (cpu_ticks(pid).expect("stat"), wakeups(pid));
    let secs = 10.0;
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (after, woke_after) = (cpu_ticks(pid).expect("stat"), wakeups(pid));
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    s.quit();
    (
        (after - before) as f64 / hz / secs * 100.0,
        woke_after - woke,
    )
}

/// A driver that floods its stderr at 10 MB/s while its terminal echoes what is typed.
fn latency_driver(dir: &Path) -> PathBuf {
    let p = dir.join("echo-flood.py");
    std::fs::write(
        &p,
        r#"import sys, threading, time
line = "\x1b[2mnode01 # [   12.000000] systemd[1]: Started something that prints a lot of lines.\x1b[0m\n"
def flood():
    per_tick = int(10_000_000 / len(line) / 100)
    while True:
        start = time.monotonic()
        sys.stderr.write(line * per_tick)
        sys.stderr.flush()
        time.sleep(max(0.0, 0.01 - (time.monotonic() - start)))
threading.Thread(target=flood, daemon=True).start()
sys.stdout.write("> ")
sys.stdout.flush()
sys.stdin.readline()
"#,
    )
    .expect("script");
    p
}

fn key_latency() -> (f64, f64) {
    let dir = tempfile::tempdir().expect("tmp");
    let drv = latency_driver(dir.path());
    let mut s = Screen::spawn(&[
        "run",
        "--no-record",
        "--",
        "python3",
        drv.to_str().unwrap(),
        "-I",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s.contents().contains("> ") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let keys: Vec<char> = "abcdefghijklmnopqrst".chars().collect();
    let mut times = Vec::new();
    for (i, c) in keys.iter().enumerate() {
        let typed: String = keys[..=i].iter().collect();
        let want = format!("> {typed}");
        let t0 = Instant::now();
        s.writer.write_all(c.to_string().as_bytes()).expect("key");
        s.writer.flush().expect("flush");
        while !s.contents().contains(&want) {
            if t0.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(50));
    }
    s.quit();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() - 1])
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "live".contains(a.as_str())) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let report = |n: &str| dir.path().join(n);
    for run in 0..RUNS {
        let _ = std::fs::remove_file(report("a"));
        let _ = std::fs::remove_file(report("b"));
        let _ = std::fs::remove_file(report("c"));
        let base = flood_baseline(&report("a"));
        let under = flood_vmscope(&report("b"));
        let tmux = flood_tmux(&report("c"));
        let tmux_text = tmux.map_or("tmux not installed".to_string(), |t| {
            format!("inside tmux {t:.2} s ({:.2}x)", t / base)
        });
        println!(
            "live/flood_{MB}MB_16_machines run {}: stderr to /dev/null {base:.2} s; under vmscope run {under:.2} s ({:.2}x); {tmux_text}",
            run + 1,
            under / base
        );
    }
    let (cpu, woke) = idle_cpu();
    println!(
        "live/idle: {cpu:.2}% of one core and {woke} wake-ups over 10 s of a silent live run (the clock: 10)"
    );
    let (median, max) = key_latency();
    println!(
        "live/key_latency_under_10MB_s: median {median:.1} ms, max {max:.1} ms (a frame at 60 fps: 16.7 ms)"
    );
}
