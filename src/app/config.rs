//! User configuration: `$XDG_CONFIG_HOME/vmscope/config.toml` and `keymap.toml` laid over the
//! defaults in `assets/`.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;

use super::action::Action;
use super::keymap::{Chord, Context, Keymap};
use crate::vm::Caps;

pub const DEFAULT_CONFIG: &str = include_str!("../../assets/config.toml");

/// The chord that leaves a terminal pane, unless the configuration names another.
pub const DEFAULT_LEAVE: &str = "ctrl-]";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    memory: Memory,
    #[serde(default)]
    terminal: TerminalSection,
    #[serde(default)]
    ssh: SshSection,
    #[serde(default)]
    screen: ScreenSection,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScreenSection {
    theme: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SshSection {
    options: Option<Vec<String>>,
    system_proxy: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TerminalSection {
    leave: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Memory {
    max_lines: Option<usize>,
    max_bytes: Option<usize>,
    max_steps: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub caps: Caps,
    pub keymap: Keymap,
    /// The chord that leaves a terminal pane.
    pub leave: Chord,
    /// Put before ssh's own arguments in ssh tabs.
    pub ssh_options: Vec<String>,
    /// ssh tabs reach `vsock/N` through the system's ssh configuration, not `vmscope proxy`.
    pub ssh_system_proxy: bool,
    /// The screen's colours.
    pub theme: crate::panes::theme::Theme,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            caps: Caps::default(),
            keymap: Keymap::defaults(),
            leave: Chord::parse(DEFAULT_LEAVE).unwrap_or_else(|| unreachable!()),
            ssh_options: Vec::new(),
            ssh_system_proxy: false,
            theme: crate::panes::theme::Theme::Default,
        }
    }
}

/// `$XDG_CONFIG_HOME/vmscope`, or `~/.config/vmscope`.
pub fn dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("vmscope"))
}

impl Config {
    /// The defaults with the user's files over them; a broken user file is an error that
    /// names the file.
    pub fn load() -> anyhow::Result<Self> {
        let mut config = Self::default();
        apply(&mut config, DEFAULT_CONFIG).context("built-in config")?;
        let mut keymap_text = None;
        if let Some(dir) = dir() {
            let path = dir.join("config.toml");
            if let Ok(text) = std::fs::read_to_string(&path) {
                apply(&mut config, &text).with_context(|| format!("in {}", path.display()))?;
            }
            let kpath = dir.join("keymap.toml");
            if let Ok(text) = std::fs::read_to_string(&kpath) {
                keymap_text = Some((kpath, text));
            }
        }
        config.keymap = match &keymap_text {
            Some((path, text)) => {
                Keymap::load(Some(text)).with_context(|| format!("in {}", path.display()))?
            }
            None => Keymap::defaults(),
        };
        // `[terminal] leave` of config.toml is the leave binding of the terminal contexts.
        if Chord::parse(DEFAULT_LEAVE) != Some(config.leave) {
            for ctx in [Context::Terminal, Context::Command] {
                config.keymap.rebind(ctx, config.leave, Action::Leave);
            }
        }
        Ok(config)
    }
}

fn apply(config: &mut Config, text: &str) -> anyhow::Result<()> {
    let f: File = toml::from_str(text)?;
    if let Some(options) = f.ssh.options {
        config.ssh_options = options;
    }
    if let Some(system) = f.ssh.system_proxy {
        config.ssh_system_proxy = system;
    }
    if let Some(t) = &f.screen.theme {
        config.theme = crate::panes::theme::Theme::parse(t).ok_or_else(|| {
            anyhow::anyhow!(
                "[screen] theme: {t:?} is none of default, light, high-contrast, no-color"
            )
        })?;
    }
    let (caps, leave) = (&mut config.caps, &mut config.leave);
    if let Some(l) = &f.terminal.leave {
        *leave = Chord::parse(l)
            .ok_or_else(|| anyhow::anyhow!("[terminal] leave: cannot read key {l:?}"))?;
    }
    if let Some(n) = f.memory.max_lines {
        caps.max_lines = n;
    }
    if let Some(n) = f.memory.max_bytes {
        caps.max_bytes = n;
    }
    if let Some(n) = f.memory.max_steps {
        caps.max_steps = n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_store() {
        let mut config = Config {
            caps: Caps {
                max_lines: 1,
                max_bytes: 1,
                max_steps: 1,
                keep_serial: true,
            },
            leave: Chord::parse("x").unwrap(),
            ssh_options: vec!["-v".into()],
            ssh_system_proxy: true,
            ..Config::default()
        };
        apply(&mut config, DEFAULT_CONFIG).unwrap();
        assert_eq!(config.caps, Caps::default());
        assert_eq!(Some(config.leave), Chord::parse(super::DEFAULT_LEAVE));
        assert!(config.ssh_options.is_empty());
        assert!(!config.ssh_system_proxy);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let mut config = Config::default();
        assert!(apply(&mut config, "[memory]\nmax_line = 3\n").is_err());
        assert!(apply(&mut config, "[terminal]\nleave = \"ctrl-xyz\"\n").is_err());
        assert!(apply(&mut config, "[ssh]\nproxy = true\n").is_err());
        apply(
            &mut config,
            "[memory]\nmax_lines = 3\n[terminal]\nleave = \"ctrl-g\"\n\
             [ssh]\noptions = [\"-o\", \"LogLevel=ERROR\"]\nsystem_proxy = true\n",
        )
        .unwrap();
        assert_eq!(config.caps.max_lines, 3);
        assert_eq!(config.leave.to_string(), "Ctrl-g");
        assert_eq!(config.ssh_options, ["-o", "LogLevel=ERROR"]);
        assert!(config.ssh_system_proxy);
    }
}
