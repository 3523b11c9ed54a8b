//! The application: state with one owner, actions, keymap, layout and the event loop.

pub mod config;

use crate::vm::Caps;
use crate::vm::source::Input;

pub fn run_log(
    _input: Input,
    _follow: bool,
    _caps: Caps,
    _config: config::Config,
) -> anyhow::Result<i32> {
    anyhow::bail!("not yet")
}

pub fn run_demo(_speed: f64, _caps: Caps, _config: config::Config) -> anyhow::Result<i32> {
    anyhow::bail!("not yet")
}
