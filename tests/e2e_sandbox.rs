//! The breakpoint view over a build paused in its sandbox: `vmscope build` runs a `nix`
//! stand-in that runs the fake driver with the debug hook and prints its log as `nix build
//! -L` does (`vm-test-run-NAME> ` before each line). The hook's `attach` is a stand-in at a
//! `/nix/store`-shaped path in a temp dir (allowed by `VMSCOPE_TEST_ATTACH_STORE`), found by
//! the `sleep ID` marker as the real one finds it, that opens a shell in a build directory
//! holding an `ssh_config`; `sudo` is a stand-in that runs its arguments, `telnet` one that
//! talks to pdb in line mode. `a` attaches; `1` types the machine's `ssh -F ./ssh_config …`
//! into a new sandbox shell, which reaches a real sshd through the machine's hybrid-vsock
//! socket; `p` types `telnet` to the real remote-pdb, and `c` lets the build end.

mod common;

use std::path::{Path, PathBuf};

use common::pty::Term;
use common::sshd::{MuxServer, Sshd, handshake, user};

const HASH: &str = "0c8a4k3xw5s1q2mhz9n7r6dyb1l0vfpj";

fn executable(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    let mut perm = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(path, perm).unwrap();
}

/// The stand-ins (`nix`, `sudo`, the store's `attach`) and the sandbox's build directory.
struct Sandbox {
    bin: PathBuf,
    store: PathBuf,
    attach: PathBuf,
}

fn sandbox(dir: &Path, sockets: &Path, key: &Path) -> Sandbox {
    let bin = dir.join("bin");
    let store = dir.join("nix/store");
    let attach = store.join(format!("{HASH}-attach/bin/attach"));
    let build = dir.join("build");
    std::fs::create_dir_all(&build).unwrap();
    // What the driver's glue links as ./ssh_config: the vsock ProxyCommand (here vmscope's
    // own proxy in systemd-ssh-proxy's place), with this test's key.
    std::fs::write(
        build.join("ssh_config"),
        format!(
            "Host vsock-mux/*\n    ProxyCommand {} proxy %n %p\n    IdentityFile {}\n    \
             IdentitiesOnly yes\n    BatchMode yes\n    StrictHostKeyChecking no\n    \
             UserKnownHostsFile /dev/null\n    LogLevel ERROR\n",
            env!("CARGO_BIN_EXE_vmscope"),
            key.display()
        ),
    )
    .unwrap();
    executable(
        &attach,
        &format!(
            r#"#!/bin/bash
# breakpointHook's attach, as far as a test can: the id names a `sleep ID` marker process.
id="$1"
found=
for p in /proc/[0-9]*; do
    [ "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" = "sleep $id " ] && found=1
done
if [ -z "$found" ]; then
    echo "Error: No process found for 'sleep $id'. The build must still be running in order to attach." >&2
    exit 1
fi
cd "{build}"
exec env PS1='bash# ' bash --norc --noprofile -i
"#,
            build = build.display()
        ),
    );
    executable(&bin.join("sudo"), "#!/bin/sh\nexec \"$@\"\n");
    // inetutils' telnet as far as pdb needs it: typed lines go out with CRLF (the terminal
    // echoes them), what comes back is written out.
    executable(
        &bin.join("telnet"),
        r#"#!/usr/bin/env python3
import os, socket, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
print(f"Trying {host}...", flush=True)
s = socket.create_connection((host, port))
print(f"Connected to {host}.\nEscape character is '^]'.", flush=True)
def back():
    while data := s.recv(4096):
        os.write(1, data)
    print("Connection closed by foreign host.", flush=True)
    os._exit(0)
threading.Thread(target=back, daemon=True).start()
for line in sys.stdin:
    s.sendall(line.rstrip("\n").encode() + b"\r\n")
"#,
    );
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/fake-driver.py");
    // `nix build -L`: the builder's output, each line behind the test's prefix, on stderr.
    executable(
        &bin.join("nix"),
        &format!(
            r#"#!/bin/sh
PYTHONUNBUFFERED=1 python3 "{fake}" --scenario fail --speed 20 --machines client,database \
    --debug-hook-attach "{attach}" --pdb-port 0 --ssh-dir "{sockets}" --ssh-user "{user}" 2>&1 \
    | sed -u 's/^/vm-test-run-sandboxed> /' >&2
echo "error: builder for '/nix/store/{HASH}-vm-test-run-sandboxed.drv' failed with exit code 1" >&2
exit 1
"#,
            fake = fake.display(),
            attach = attach.display(),
            sockets = sockets.display(),
            user = user(),
        ),
    );
    Sandbox { bin, store, attach }
}

/// `vmscope build` of the paused test, with the stand-ins first on PATH.
fn build(dir: &Path, sb: &Sandbox) -> Term {
    let path = format!(
        "{}:{}",
        sb.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let store = sb.store.display().to_string();
    let state = dir.join("state").display().to_string();
    let t = Term::spawn_env(
        &["build", "--no-record", ".#checks.x86_64-linux.sandboxed"],
        160,
        50,
        &[
            ("PATH", &path),
            ("VMSCOPE_TEST_ATTACH_STORE", &store),
            ("XDG_STATE_HOME", &state),
        ],
    );
    t.wait_text("PAUSED AT A BREAKPOINT", 40);
    t
}

#[test]
fn attach_and_ssh_from_inside_the_paused_sandbox() {
    common::python_imports("remote_pdb");
    let dir = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(dir.path());
    let sockets = dir.path().join("vsock");
    std::fs::create_dir(&sockets).unwrap();
    let client = MuxServer::start(&sockets.join("client_host.socket"), sshd.port);
    let sb = sandbox(dir.path(), &sockets, &sshd.key);
    let mut t = build(dir.path(), &sb);
    t.wait_text("in the build sandbox", 10);
    let attach_line = format!("sudo {} ", sb.attach.display());
    let view = t.text();
    let id: String = view[view.find(&attach_line).expect("the attach command")..]
        [attach_line.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!((6..=7).contains(&id.len()), "{view}");

    // `a`: the exact command, asked about (sudo runs it), then the sandbox's shell in its
    // build directory.
    t.keys("a");
    t.wait_text("run this?", 10);
    t.wait_text(&attach_line, 10);
    t.keys("y");
    t.wait_text("[sandbox]", 10);
    t.wait_text(&format!("$ {attach_line}"), 10);
    t.wait_text("bash# ", 20);
    t.keys("ls; echo in-$((6*7))\r");
    t.wait_text("in-42", 20);
    assert!(t.text().contains("ssh_config"), "{}", t.text());

    // Back to the view; `1` types the first machine's ssh into a new sandbox shell.
    t.send(b"\x1d");
    t.keys("b");
    t.wait_text("PAUSED AT A BREAKPOINT", 10);
    t.keys("1");
    let ssh = format!(
        "ssh -F ./ssh_config -o User={} vsock-mux/{}/client_host.socket",
        user(),
        sockets.display()
    );
    // The question names what will be typed into the sandbox's shell, too.
    t.wait_text("then type into its shell:", 10);
    t.wait_text(&ssh, 10);
    t.keys("y");
    t.wait_text("[sandbox: client]", 10);
    t.wait_text(&format!("bash# {ssh}"), 20);
    handshake(&client, &t);
    t.keys("echo remote-$((6*7))\r");
    t.wait_text("remote-42", 20);

    // Quitting ends the build and every shell and ssh started for it.
    t.send(b"\x1d");
    t.keys("q");
    t.wait_text("q again", 10);
    t.keys("q");
    assert_eq!(t.wait_exit(15), 143);
    drop(client);
    drop(sshd);
    let tmp = dir.path().display().to_string();
    let left = common::processes_naming(&tmp);
    assert!(left.is_empty(), "left running: {left:?}");
    let marker = format!("sleep {id}");
    let left = common::processes_naming(&marker);
    assert!(left.is_empty(), "the marker is left: {left:?}");
}

#[test]
fn pdb_inside_the_sandbox_is_telnet_and_c_lets_the_build_finish() {
    common::python_imports("remote_pdb");
    let dir = tempfile::tempdir().unwrap();
    let sockets = dir.path().join("vsock");
    std::fs::create_dir(&sockets).unwrap();
    let sb = sandbox(dir.path(), &sockets, &dir.path().join("no-key"));
    let mut t = build(dir.path(), &sb);
    // The driver says where pdb listens (a free port here).
    t.wait_for("pdb's port", 20, |s| {
        s.contents()
            .lines()
            .any(|l| l.contains("pdb       127.0.0.1:") && !l.contains('?'))
    });
    let text = t.text();
    let at = text.find("pdb       127.0.0.1:").unwrap() + "pdb       127.0.0.1:".len();
    let port: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();

    // `p`: a sandbox shell with telnet typed in once the prompt is there; pdb answers in it.
    t.keys("p");
    t.wait_text("run this?", 10);
    t.wait_text(&format!("telnet 127.0.0.1 {port}"), 10);
    t.keys("y");
    t.wait_text("[sandbox: pdb]", 10);
    t.wait_text(&format!("bash# telnet 127.0.0.1 {port}"), 20);
    t.wait_text("(Pdb)", 20);
    t.keys("p 6*7\r");
    t.wait_text("42", 20);

    // `c` from the view goes to that pdb: the test goes on, the build fails as it would.
    t.send(b"\x1d");
    t.keys("b");
    t.wait_text("PAUSED AT A BREAKPOINT", 10);
    t.keys("c");
    t.wait_text("exited with status 1", 30);
    t.wait_text("LEFT THE BREAKPOINT", 10);
    t.keys(">");
    t.wait_text("(Pdb) c", 10);
    t.send(b"\x1d");
    t.keys("q");
    t.wait_text("q again", 10);
    t.keys("q");
    assert_eq!(t.wait_exit(15), 1, "the build's status");
    let left = common::processes_naming(&dir.path().display().to_string());
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn a_sandbox_tab_whose_sudo_refused_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sockets = dir.path().join("vsock");
    std::fs::create_dir(&sockets).unwrap();
    let sb = sandbox(dir.path(), &sockets, &dir.path().join("no-key"));
    // sudo as on a host where this user may not run it without a password nobody types.
    executable(
        &sb.bin.join("sudo"),
        "#!/bin/sh\necho 'sudo: a terminal is required to read the password' >&2\nexit 1\n",
    );
    let mut t = build(dir.path(), &sb);
    t.keys("a");
    t.wait_text("run this?", 10);
    t.keys("y");
    t.wait_text("[sandbox (failed)]", 20);
    t.wait_text(
        "sudo refused: sudo: a terminal is required to read the password",
        10,
    );
    assert!(!t.text().contains("● running"), "{}", t.text());
    t.send(b"\x1d");
    t.keys("qq");
    t.wait_exit(30);
}
