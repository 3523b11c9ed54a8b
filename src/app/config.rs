//! User configuration: `$XDG_CONFIG_HOME/vmscope/config.toml` and `keymap.toml` laid over the
//! defaults in `assets/`.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;

use super::keymap::{Chord, Keymap};
use crate::vm::Caps;

pub const DEFAULT_CONFIG: &str = include_str!("../../assets/config.toml");

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    memory: Memory,
    #[serde(default)]
    terminal: TerminalSection,
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
}

#[derive(Debug, Clone)]
pub struct Config {
    pub caps: Caps,
    pub keymap: Keymap,
    /// The chord that leaves a terminal pane.
    pub leave: Chord,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            caps: Caps::default(),
            keymap: Keymap::defaults(),
            leave: Chord::parse(super::live::DEFAULT_LEAVE).unwrap_or_else(|| unreachable!()),
        }
    }
}

/// `$XDG_CONFIG_HOME/vmscope`, or `~/.config/vmscope`.
pub fn dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("vmscope"))
}

impl Config {
    /// The defaults with the user's files over them; a broken user file is an error that
    /// names the file.
    pub fn load() -> anyhow::Result<Self> {
        let mut caps = Caps::default();
        let mut leave = Chord::parse(super::live::DEFAULT_LEAVE).unwrap_or_else(|| unreachable!());
        apply(&mut caps, &mut leave, DEFAULT_CONFIG).context("built-in config")?;
        let mut keymap_text = None;
        if let Some(dir) = dir() {
            let path = dir.join("config.toml");
            if let Ok(text) = std::fs::read_to_string(&path) {
                apply(&mut caps, &mut leave, &text)
                    .with_context(|| format!("in {}", path.display()))?;
            }
            let kpath = dir.join("keymap.toml");
            if let Ok(text) = std::fs::read_to_string(&kpath) {
                keymap_text = Some((kpath, text));
            }
        }
        let keymap = match &keymap_text {
            Some((path, text)) => {
                Keymap::load(Some(text)).with_context(|| format!("in {}", path.display()))?
            }
            None => Keymap::defaults(),
        };
        Ok(Self {
            caps,
            keymap,
            leave,
        })
    }
}

fn apply(caps: &mut Caps, leave: &mut Chord, text: &str) -> anyhow::Result<()> {
    let f: File = toml::from_str(text)?;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_store() {
        let mut caps = Caps {
            max_lines: 1,
            max_bytes: 1,
        };
        let mut leave = Chord::parse("x").unwrap();
        apply(&mut caps, &mut leave, DEFAULT_CONFIG).unwrap();
        assert_eq!(caps, Caps::default());
        assert_eq!(Some(leave), Chord::parse(super::super::live::DEFAULT_LEAVE));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let mut caps = Caps::default();
        let mut leave = Chord::parse("x").unwrap();
        assert!(apply(&mut caps, &mut leave, "[memory]\nmax_line = 3\n").is_err());
        assert!(apply(&mut caps, &mut leave, "[terminal]\nleave = \"ctrl-xyz\"\n").is_err());
        apply(
            &mut caps,
            &mut leave,
            "[memory]\nmax_lines = 3\n[terminal]\nleave = \"ctrl-g\"\n",
        )
        .unwrap();
        assert_eq!(caps.max_lines, 3);
        assert_eq!(leave.to_string(), "Ctrl-g");
    }
}
