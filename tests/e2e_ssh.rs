//! ssh tabs end to end: the fake driver announces an SSH backdoor on vsock-mux sockets, a
//! hybrid-vsock test server behind each socket relays to a real OpenSSH `sshd` on loopback,
//! and `s` in vmscope opens a real `ssh` (through `vmscope proxy`) into a shell there.
//! No AF_VSOCK socket is ever opened.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::pty::{Term, find, scaled};
use common::sshd::{MuxServer, Sshd, handshake, user};

#[test]
fn ssh_tabs_reach_a_real_sshd_through_the_backdoor_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(dir.path());
    let sockets = dir.path().join("vsock");
    std::fs::create_dir(&sockets).unwrap();
    let alpha = MuxServer::start(&sockets.join("alpha_host.socket"), sshd.port);
    let beta = MuxServer::start(&sockets.join("beta_host.socket"), sshd.port);

    let config = dir.path().join("config");
    std::fs::create_dir_all(config.join("vmscope")).unwrap();
    // The user's options come first, and ssh keeps the first value of each: this user, not
    // root, and the key made here.
    std::fs::write(
        config.join("vmscope/config.toml"),
        format!(
            "[ssh]\noptions = [\"-F\", \"/dev/null\", \"-o\", \"User={}\", \"-i\", \"{}\", \
             \"-o\", \"IdentitiesOnly=yes\", \"-o\", \"BatchMode=yes\"]\n",
            user(),
            sshd.key.display()
        ),
    )
    .unwrap();
    let drv = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/fake-driver.py");
    let config_s = config.display().to_string();
    let state_s = dir.path().join("state").display().to_string();
    let mut t = Term::spawn_env(
        &[
            "run",
            "--",
            "python3",
            drv.to_str().unwrap(),
            "-I",
            "--machines",
            "alpha,beta",
            "--ssh-dir",
            sockets.to_str().unwrap(),
        ],
        140,
        40,
        &[
            ("XDG_CONFIG_HOME", &config_s),
            ("XDG_STATE_HOME", &state_s),
            ("HOME", dir.path().to_str().unwrap()),
        ],
    );
    t.wait_text("SSH backdoor enabled", 30);
    t.wait_text("In [1]:", 30);

    // Leave the REPL, open a tab into the first machine and use its shell.
    t.keys("\x1d");
    t.keys("s");
    t.wait_text("ssh alpha", 10);
    handshake(&alpha, &t);
    // The shell is up once it answers.
    t.wait_for("the remote shell", 30, |s| {
        let text = s.contents();
        text.contains('$') || text.contains('#')
    });
    t.keys("echo tab-$((6*7))\r");
    t.wait_text("tab-42", 20);
    assert!(
        t.text().contains("[typing"),
        "the tab has the keyboard:\n{}",
        t.text()
    );

    // The tab's terminal is the body's size inside its frame, and follows a resize.
    t.keys("echo cols=$(tput cols)\r");
    t.wait_text("cols=138", 20);
    t.resize(120, 36);
    // ssh passes the new size on in its own time: ask until the shell sees it.
    let deadline = Instant::now() + scaled(Duration::from_secs(20));
    loop {
        t.keys("clear; echo cols=$(tput cols) lines=$(tput lines)\r");
        std::thread::sleep(Duration::from_millis(300));
        if t.text().contains("cols=118 lines=32") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the remote terminal did not follow the resize:\n{}",
            t.text()
        );
    }

    // A full-screen program draws from the tab's first row, and gives the prompt back.
    t.keys("top -d 5\r");
    t.wait_for("top on the whole tab", 20, |s| {
        find(s, "top - ").is_some_and(|(row, col)| row == 2 && col == 1) && find(s, "PID").is_some()
    });
    t.keys("q");
    t.wait_for("the shell again", 20, |s| find(s, "top - ").is_none());

    // The mouse: the panes' label shows them, a tab's label the tab.
    let click = |t: &mut Term, label: &str| {
        let (row, col) = find(&t.screen(), label).unwrap();
        t.send(
            format!(
                "\x1b[<0;{};{}M\x1b[<0;{};{}m",
                col + 2,
                row + 1,
                col + 2,
                row + 1
            )
            .as_bytes(),
        );
    };
    click(&mut t, "[panes]");
    t.wait_text("0 driver", 10);
    click(&mut t, "[ssh alpha]");
    t.wait_for("the tab again", 10, |s| find(s, "0 driver").is_none());

    // The session ends: the tab says so and can connect again.
    t.keys("exit\r");
    t.wait_text("ssh ended with status 0", 20);
    t.keys("r");
    handshake(&alpha, &t);
    t.keys("echo again-$((7*7))\r");
    t.wait_text("again-49", 30);

    // A second tab into the second machine, asked for by name in the command palette; `<`
    // and `>` go between the tabs and the panes.
    t.keys("\x1d");
    t.keys(":ssh be");
    t.wait_text("a shell into beta in a tab", 10);
    t.keys("\r");
    t.wait_text("ssh beta", 10);
    handshake(&beta, &t);
    t.keys("echo beta-$((8*8))\r");
    t.wait_text("beta-64", 30);
    t.keys("\x1d>");
    t.wait_for("the panes again", 10, |s| {
        let text = s.contents();
        text.contains("[panes]") && text.contains("driver")
    });
    t.keys(">");
    t.wait_text("again-49", 10);

    // Closing a tab ends its ssh; quitting ends the rest, and the driver.
    t.keys("\x1dx");
    t.wait_for("the tab closed", 10, |s| {
        !s.contents().contains("[ssh alpha]")
    });
    t.keys("q");
    t.keys("q");
    assert_eq!(t.wait_exit(30), 143, "the driver was stopped");
    let needle = dir.path().display().to_string();
    let deadline = Instant::now() + scaled(Duration::from_secs(10));
    loop {
        let left: Vec<String> = common::processes_naming(&needle)
            .into_iter()
            .filter(|p| !p.contains("sshd"))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes of the run outlived vmscope: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop((alpha, beta));
}
