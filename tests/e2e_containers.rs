//! A test with a systemd-nspawn container, run by the fake driver from a configuration file
//! as the driver is: without root it stops (`systemd-nspawn requires root to work`), and
//! vmscope offers to start it again under sudo, in the command pane, where a `sudo`
//! stand-in asks for the password; then the container's pane is its journal, filtered by
//! unit, and an ssh tab into it is built for nspawn's exported socket.

mod common;

use std::path::{Path, PathBuf};

use common::pty::{Term, find};

/// The driver's configuration: a VM and a container.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("driver-config.json");
    std::fs::write(
        &path,
        r#"{"vms": {"client": {"name": "client", "start_script": "/nix/store/x/bin/run-client-vm"}},
 "containers": {"web": {"name": "web", "start_script": "/nix/store/y/bin/run-web-nspawn"}},
 "vlans": [1], "global_timeout": 3600, "enable_ssh_backdoor": true,
 "test_script": "/nix/store/z-test-script"}"#,
    )
    .unwrap();
    path
}

fn executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let mut perm = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(path, perm).unwrap();
}

/// `sudo` and `ssh` stand-ins: sudo asks for a password on the terminal as sudo does, keeps
/// what it was given and runs the rest as "root" (the fake driver's uid); ssh keeps its
/// arguments.
fn stand_ins(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    executable(
        &bin.join("sudo"),
        &format!(
            r#"#!/bin/sh
printf '[sudo] password for tester: ' > /dev/tty
read -r password < /dev/tty
printf '%s\n' "$password" > "{dir}/password"
printf '%s\n' "$@" > "{dir}/sudo-args"
[ "$1" = "--preserve-env=DISPLAY,XAUTHORITY" ] || exit 1
shift
FAKE_DRIVER_UID=0 exec "$@"
"#,
            dir = dir.display()
        ),
    );
    executable(
        &bin.join("ssh"),
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"{}/ssh-args\"\necho 'ssh stand-in: done'\n",
            dir.display()
        ),
    );
    bin
}

/// The container scenario run without root, its configuration and stand-ins in `dir`:
/// the screen, and the driver's command line as vmscope was given it.
fn refused_run(dir: &Path) -> (Term, Vec<String>) {
    let cfg = config(dir);
    let bin = stand_ins(dir);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let driver: Vec<String> = [
        "python3",
        &common::fake_driver(),
        "--config",
        &cfg.display().to_string(),
        "--scenario",
        "container",
        "--speed",
        "20",
    ]
    .map(String::from)
    .to_vec();
    let mut args = vec!["run", "--no-record", "--"];
    args.extend(driver.iter().map(String::as_str));
    let env = [("PATH", path.as_str()), ("FAKE_DRIVER_UID", "1000")];
    (Term::spawn_env(&args, 160, 48, &env), driver)
}

#[test]
fn containers_need_root_and_get_it_through_sudo_in_the_command_pane() {
    let dir = tempfile::tempdir().unwrap();
    let (mut t, driver) = refused_run(dir.path());
    // The driver refused; vmscope asks with the exact command it will run.
    t.wait_text(
        "systemd-nspawn needs root and the driver stopped without it",
        20,
    );
    t.wait_text("sudo --preserve-env=DISPLAY,XAUTHORITY python3 ", 5);
    // The dialog wraps the command: its words, in order.
    let asked: Vec<String> = t
        .text()
        .split_whitespace()
        .map(|w| w.trim_matches(['║', '┃', '│']).to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let mut want = vec![
        "sudo".to_string(),
        "--preserve-env=DISPLAY,XAUTHORITY".to_string(),
    ];
    want.extend(driver);
    assert!(
        asked.windows(want.len()).any(|w| w == want.as_slice()),
        "{asked:?}"
    );
    t.keys("y");
    // sudo asks in the command pane, which has the keyboard.
    t.wait_text("[sudo] password for tester:", 20);
    t.keys("hunter2\r");
    t.wait_text("the driver exited with status 0", 30);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("password")).unwrap(),
        "hunter2\n"
    );
    // The container's pane (machines in the driver's order: client, web) is its journal.
    t.keys("\x1d");
    t.keys("2");
    t.keys("z");
    t.wait_text("web nginx[231]: nginx: configuration file", 10);
    t.wait_text("web sshd[201]: Server listening", 5);
    let s = t.screen();
    let (row, col) = find(&s, "nginx[231]").unwrap();
    assert!(s.cell(row, col).unwrap().bold(), "the unit stands out");
    // Only nginx's entries, and systemd's about it.
    t.keys(":");
    t.keys("unit nginx\r");
    t.wait_text("only the unit nginx's journal entries", 5);
    t.wait_for("sshd's entries hidden", 5, |s| {
        find(s, "sshd[201]").is_none()
    });
    let text = t.text();
    for shown in [
        "Starting nginx.service",
        "Started nginx.service",
        "nginx[231]",
        "nginx[232]",
    ] {
        assert!(text.contains(shown), "{shown}:\n{text}");
    }
    assert!(!text.contains("dhcpcd[190]"), "{text}");
    // An ssh tab into the container goes through nspawn's exported socket.
    t.keys("s");
    t.wait_text("ssh stand-in: done", 10);
    let args = std::fs::read_to_string(dir.path().join("ssh-args")).unwrap();
    assert!(
        args.lines().any(
            |a| a == "ProxyCommand=socat - UNIX-CLIENT:/run/systemd/nspawn/unix-export/web/ssh"
        ),
        "{args}"
    );
    assert_eq!(args.lines().last(), Some("bash"), "{args}");
    t.keys("x");
    t.keys("q");
    t.wait_exit(15);
}

#[test]
fn saying_no_to_the_offer_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut t, _) = refused_run(dir.path());
    t.wait_text(
        "systemd-nspawn needs root and the driver stopped without it",
        20,
    );
    t.keys("n");
    // The question is gone (what it says may give way to the driver's exit at once).
    t.wait_for("the question answered", 5, |s| {
        find(s, "run this?").is_none()
    });
    assert!(!dir.path().join("sudo-args").exists(), "sudo never ran");
    t.keys("q");
    t.wait_exit(15);
}
