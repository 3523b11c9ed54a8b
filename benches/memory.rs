//! Peak memory of `vmscope inspect` on a generated 100 MB log of 16 machines, at the default
//! caps (the stores the screen uses), and the same log's size for scale.

use std::io::Write;

#[path = "support/synth.rs"]
mod synth;

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
    let path = dir.path().join("big.log");
    let log = synth::log(16, 100 * 1024 * 1024);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&log))
        .expect("write log");
    let size = log.len();
    drop(log);
    for caps in [None, Some(("20000", "2097152"))] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"));
        cmd.arg("inspect")
            .arg(&path)
            .stdout(std::process::Stdio::null());
        if let Some((lines, bytes)) = caps {
            let cfg = dir.path().join("cfg");
            std::fs::create_dir_all(cfg.join("vmscope")).expect("cfg dir");
            std::fs::write(
                cfg.join("vmscope/config.toml"),
                format!("[memory]\nmax_lines = {lines}\nmax_bytes = {bytes}\n"),
            )
            .expect("cfg");
            cmd.env("XDG_CONFIG_HOME", cfg);
        } else {
            cmd.env("XDG_CONFIG_HOME", dir.path().join("none"));
        }
        let start = std::time::Instant::now();
        // Reaped by wait4, which also reports the child's peak memory.
        #[allow(clippy::zombie_processes)]
        let child = cmd.spawn().expect("spawn vmscope");
        let (status, rss_kb) = wait_rss(child.id() as i32);
        let label = match caps {
            None => "default caps (100000 lines, 8 MiB per pane)".to_string(),
            Some((l, b)) => format!("caps {l} lines, {b} bytes per pane"),
        };
        println!(
            "memory/inspect_100MB_16_machines [{label}]: peak RSS {:.1} MiB for a {:.1} MiB log ({:.2} s, exit {status})",
            rss_kb as f64 / 1024.0,
            size as f64 / 1048576.0,
            start.elapsed().as_secs_f64()
        );
    }
}

fn wait_rss(pid: i32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage point to live locals.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}
