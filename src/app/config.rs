//! User configuration: `$XDG_CONFIG_HOME/vmscope/config.toml` over the built-in defaults.

use crate::vm::Caps;

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub caps: Caps,
}

impl Config {
    pub fn load() -> Self {
        Self::default()
    }
}
