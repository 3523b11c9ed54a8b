//! Opening big logs (`cargo bench --bench memory`), on generated logs of 16 machines of
//! 100 MB and 1 GB (and 5 GB with `VMSCOPE_BENCH_5GB=1`):
//! - peak memory (the child's own VmHWM, read from /proc while it runs) of `inspect` and of
//!   `log` until the whole file is loaded, at the default caps: flat whatever the size;
//! - time to the first screen, `vmscope log` against `less`;
//! - key-to-screen latency while the 1 GB log loads, and once it is loaded.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "support/synth.rs"]
mod synth;

#[path = "support/screen.rs"]
mod screen;
use screen::Screen;

const MB: u64 = 1_000_000;

fn proc_field(pid: u32, file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .ok()
}

fn write_log(dir: &Path, bytes: u64) -> PathBuf {
    let path = dir.join(format!("{}MB.log", bytes / MB));
    let part = synth::log(16, 16 << 20);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("log"));
    let mut n = 0;
    while n < bytes {
        f.write_all(&part).expect("write log");
        n += part.len() as u64;
    }
    f.flush().expect("flush");
    path
}

fn config_dir(dir: &Path) -> PathBuf {
    dir.join("no-config")
}

/// `inspect`'s peak RSS in MiB and its time.
fn inspect_peak(path: &Path, dir: &Path) -> (f64, f64) {
    let start = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .arg("inspect")
        .arg(path)
        .env("XDG_CONFIG_HOME", config_dir(dir))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn vmscope");
    let mut peak = 0;
    while child.try_wait().expect("wait").is_none() {
        peak = proc_field(child.id(), "status", "VmHWM:")
            .unwrap_or(0)
            .max(peak);
        std::thread::sleep(Duration::from_millis(5));
    }
    (peak as f64 / 1024.0, start.elapsed().as_secs_f64())
}

fn loading(s: &Screen) -> bool {
    s.contents()
        .lines()
        .next()
        .is_some_and(|l| l.contains("reading "))
}

/// `log`'s peak RSS in MiB once the whole file is read, and how long reading took.
fn log_peak(path: &Path) -> (f64, f64) {
    let size = std::fs::metadata(path).expect("size").len();
    let start = Instant::now();
    let s = Screen::spawn(&["log", path.to_str().unwrap()]);
    let pid = s.pid();
    let deadline = start + Duration::from_secs(600);
    // Loaded: the file has been read and the top bar no longer says so.
    while Instant::now() < deadline {
        let read = proc_field(pid, "io", "rchar:").unwrap_or(0);
        if read >= size && !loading(&s) && s.contents().contains("node-15") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = start.elapsed().as_secs_f64();
    let peak = proc_field(pid, "status", "VmHWM:").unwrap_or(0);
    s.quit();
    (peak as f64 / 1024.0, secs)
}

/// Time to a first screen of the log: vmscope's panes, or `less`'s first page.
fn first_screen(path: &Path) -> (f64, Option<f64>) {
    let p = path.to_str().unwrap();
    let s = Screen::spawn(&["log", p]);
    let ours = s
        .wait_for("Started Journal", Duration::from_secs(30))
        .expect("vmscope's first screen");
    s.quit();
    let less = std::process::Command::new("less")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        .then(|| {
            let mut s = Screen::spawn_program("less", &["-R", p]);
            let t = s.wait_for("Machine state will be reset", Duration::from_secs(30));
            s.send("q");
            s.quit();
            t
        })
        .flatten();
    (
        ours.as_secs_f64() * 1000.0,
        less.map(|t| t.as_secs_f64() * 1000.0),
    )
}

/// Key-to-screen latencies (ms) of focus keys, while the log loads and once loaded.
fn key_latency(path: &Path) -> (Vec<f64>, Vec<f64>) {
    let mut s = Screen::spawn(&["log", path.to_str().unwrap()]);
    s.wait_for("reading ", Duration::from_secs(30))
        .expect("loading shown");
    // The first key may reach vmscope before its terminal is raw: it is sent until seen.
    let warm = Instant::now();
    while s
        .wait_for("┏ 1 node-00", Duration::from_millis(300))
        .is_none()
    {
        s.send("1");
        assert!(warm.elapsed() < Duration::from_secs(20), "no key answered");
    }
    let (mut during, mut after) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut i = 0;
    while Instant::now() < deadline && after.len() < 20 {
        let (key, want) = if i % 2 == 0 {
            ("2", "┏ 2 node-01")
        } else {
            ("1", "┏ 1 node-00")
        };
        i += 1;
        let was_loading = loading(&s);
        s.send(key);
        let Some(t) = s.wait_for(want, Duration::from_secs(10)) else {
            eprintln!(
                "no answer to {key}: {}",
                s.contents().lines().next().unwrap_or("")
            );
            continue;
        };
        let ms = t.as_secs_f64() * 1000.0;
        if was_loading && loading(&s) {
            during.push(ms);
        } else if !was_loading {
            after.push(ms);
        }
        std::thread::sleep(Duration::from_millis(if was_loading { 30 } else { 50 }));
    }
    s.quit();
    (during, after)
}

fn median_max(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_by(f64::total_cmp);
    format!(
        "median {:.1} ms, max {:.1} ms ({} keys)",
        v[v.len() / 2],
        v[v.len() - 1],
        v.len()
    )
}

fn main() {
    // `cargo bench` passes --bench; a filter that does not name this bench skips it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "memory".contains(a.as_str())) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sizes = vec![100 * MB, 1000 * MB];
    if std::env::var_os("VMSCOPE_BENCH_5GB").is_some() {
        sizes.push(5000 * MB);
    }
    let mut peaks = Vec::new();
    for &size in &sizes {
        let path = write_log(dir.path(), size);
        let (inspect, secs) = inspect_peak(&path, dir.path());
        let (log, load) = log_peak(&path);
        // What the caps let the screen keep: each console's and the driver's text.
        let caps = 17.0 * 8.0;
        println!(
            "memory/{}MB_16_machines: inspect peak RSS {inspect:.1} MiB ({secs:.2} s); log peak RSS {log:.1} MiB once loaded ({load:.2} s), {:.2}x the {caps:.0} MiB of text its caps keep",
            size / MB,
            log / caps
        );
        peaks.push((inspect, log));
        if size == 1000 * MB {
            let (ours, less) = first_screen(&path);
            let less = less.map_or("less not installed".into(), |l| {
                format!("less {l:.1} ms ({:.2}x)", ours / l)
            });
            println!("memory/first_screen_1GB: vmscope log {ours:.1} ms; {less}");
            let (mut during, mut after) = key_latency(&path);
            let (d, a) = (median_max(&mut during), median_max(&mut after));
            let ratio = match (during.get(during.len() / 2), after.get(after.len() / 2)) {
                (Some(d), Some(a)) => format!(" ({:.2}x once loaded)", d / a),
                _ => String::new(),
            };
            println!("memory/keys_while_loading_1GB: {d}{ratio}; once loaded: {a}");
        }
        let _ = std::fs::remove_file(&path);
    }
    // Below 1 GB the 16 consoles do not fill their 8 MiB caps: memory still grows with the
    // input there, as it should. From 1 GB on every cap is full, and nothing may grow.
    let spread = |f: fn(&(f64, f64)) -> f64, from: usize| {
        let v: Vec<f64> = peaks[from.min(peaks.len())..].iter().map(f).collect();
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), &x| (l.min(x), h.max(x)));
        hi / lo
    };
    let full = sizes.iter().position(|&s| s >= 1000 * MB).unwrap_or(0);
    println!(
        "memory/flat: largest over smallest peak, every size: inspect {:.2}x, log {:.2}x; from 1 GB (caps full): inspect {:.2}x, log {:.2}x (goal: within 1.10x)",
        spread(|p| p.0, 0),
        spread(|p| p.1, 0),
        spread(|p| p.0, full),
        spread(|p| p.1, full)
    );
}
