//! `vmscope interactive` and `vmscope build` against a `nix` stand-in on PATH that behaves as
//! the real one does for them: it builds the interactive driver (here: a wrapper around the
//! fake driver) into the out-link, and replays a recorded `nix build -L` of a failing test.

mod common;

use std::path::{Path, PathBuf};

use common::pty::Term;

/// A directory with `nix` and `nix-build` stand-ins; `calls` gets their arguments.
fn stand_ins(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/fake-driver.py");
    // The recorded build: the real driver's failing run as `nix build -L` prints it (Nix's
    // stderr not a terminal: no colours), and Nix's verdict.
    let capture = String::from_utf8_lossy(&common::real_driver("fail.stderr")).into_owned();
    let mut log = String::from(
        "building '/nix/store/6f1xq0fjm4s4cvh4a9ygfxcsv2b1mx4r-vm-test-run-two-machines.drv'...\n",
    );
    for line in vmscope::vm::sanitize::strip_sgr(&capture).lines() {
        log.push_str(&format!("vm-test-run-two-machines> {line}\n"));
    }
    log.push_str("error: builder for '/nix/store/6f1xq0fjm4s4cvh4a9ygfxcsv2b1mx4r-vm-test-run-two-machines.drv' failed with exit code 1\n");
    std::fs::write(dir.join("build.log"), log).unwrap();
    let script = format!(
        r#"#!/bin/sh
echo "$(basename "$0") $*" >> "{calls}"
if [ "$(basename "$0")" = nix-build ] || [ "$2" = "-L" ]; then
    # A build: the log on stderr, line by line, as Nix prints it; then Nix's verdict.
    while IFS= read -r line; do printf '%s\n' "$line" >&2; done < "{log}"
    exit 1
fi
# nix build INSTALLABLE.driverInteractive --out-link LINK
case "$2" in
    *fail-to-build*) echo "error: attribute 'fail-to-build' missing" >&2; exit 1 ;;
esac
link="$4"
echo "building '/nix/store/9kq1b1yfx1qzsw6a1il8ghn7cmxyw7y4-nixos-test-driver-interactive.drv'..." >&2
mkdir -p "$link/bin"
printf '#!/bin/sh\nexec python3 "{fake}" -I --speed 5 "$@"\n' > "$link/bin/nixos-test-driver"
chmod +x "$link/bin/nixos-test-driver"
"#,
        calls = dir.join("calls").display(),
        log = dir.join("build.log").display(),
        fake = fake.display(),
    );
    for name in ["nix", "nix-build"] {
        let p = bin.join(name);
        std::fs::write(&p, &script).unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
    bin
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn interactive_builds_the_driver_then_runs_its_repl() {
    let dir = tempfile::tempdir().unwrap();
    let bin = stand_ins(dir.path());
    let path = path_with(&bin);
    let mut t = Term::spawn_env(
        &[
            "interactive",
            ".#checks.x86_64-linux.foo",
            "--no-record",
            "--",
            "--option",
            "sandbox",
            "false",
        ],
        160,
        48,
        &[("PATH", &path)],
    );
    t.wait_text("In [1]:", 40);
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert!(
        calls.starts_with("nix build .#checks.x86_64-linux.foo.driverInteractive --out-link ")
            && calls.trim_end().ends_with("/result --option sandbox false"),
        "{calls}"
    );
    t.keys("start_all()\r");
    t.wait_for("the machines booting", 20, |s| {
        s.contents().contains("1 client ● booting") || s.contents().contains("1 client ● connected")
    });
    t.keys("exit()\r");
    t.wait_text("exited 0", 20);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 0);
}

#[test]
fn interactive_reports_a_failed_build_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let bin = stand_ins(dir.path());
    let path = path_with(&bin);
    let mut t = Term::spawn_env(
        &["interactive", ".#fail-to-build"],
        120,
        30,
        &[("PATH", &path)],
    );
    assert_eq!(t.wait_exit(15), 1);
    assert!(
        t.text().contains("attribute 'fail-to-build' missing"),
        "{}",
        t.text()
    );
}

#[test]
fn build_follows_the_prefixed_log_and_passes_on_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let bin = stand_ins(dir.path());
    let path = path_with(&bin);
    let mut t = Term::spawn_env(
        &["build", ".#checks.x86_64-linux.two-machines", "--no-record"],
        160,
        48,
        &[("PATH", &path)],
    );
    t.wait_text("exited 1", 30);
    let s = t.text();
    assert!(
        s.contains("two-machines"),
        "the test is named by its prefix:\n{s}"
    );
    assert!(s.contains("1 machine1") && s.contains("2 machine2"), "{s}");
    assert!(s.contains("FAILED"));
    t.keys("q");
    assert_eq!(t.wait_exit(10), 1, "vmscope exits with nix's status");
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(
        calls.trim(),
        "nix build -L .#checks.x86_64-linux.two-machines"
    );
}

#[test]
fn build_with_nix_build_and_an_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let bin = stand_ins(dir.path());
    let path = path_with(&bin);
    let mut t = Term::spawn_env(
        &[
            "build",
            "--nix-build",
            "release.nix",
            "-A",
            "tests.two",
            "--no-record",
        ],
        160,
        48,
        &[("PATH", &path)],
    );
    t.wait_text("exited 1", 30);
    t.keys("q");
    assert_eq!(t.wait_exit(10), 1);
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(calls.trim(), "nix-build release.nix -A tests.two");
}
