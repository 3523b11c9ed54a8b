//! A command in a detached 200x50 tmux pane, on a tmux server of its own that ends when the
//! handle is dropped.

pub struct Tmux(String);

impl Tmux {
    /// `None` when tmux is not installed or did not start.
    pub fn run(name: &str, cmd: &str) -> Option<Self> {
        let have = std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            return None;
        }
        let sock = format!("vmscope-{name}-{}", std::process::id());
        let started = std::process::Command::new("tmux")
            .args([
                "-L",
                &sock,
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
                cmd,
            ])
            // The server exits with its pane's command and says so; that is expected.
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let server = Self(sock);
        started.then_some(server)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}
