//! vmscope's own diagnostics, for a bug report: `tracing` events and spans (the log being
//! read, the loop, the driver and the tabs) written to a file, never to the screen.
//!
//! The file is `--log-file PATH`, else `vmscope.log` under the state directory
//! (`$XDG_STATE_HOME/vmscope`); `VMSCOPE_LOG` sets what is written (`debug`, `trace`, or a
//! filter such as `vmscope::app=debug`), `info` by default.

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

/// Where diagnostics go unless `--log-file` says.
pub fn default_file() -> Option<PathBuf> {
    crate::vm::recording::state_dir().map(|d| d.join("vmscope.log"))
}

/// Starts writing diagnostics to `file` (or the default), appending. Returns where they go;
/// `None` when no file could be opened: vmscope runs on without them.
pub fn init(file: Option<PathBuf>) -> Option<PathBuf> {
    let path = file.or_else(default_file)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ok()?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let filter = EnvFilter::try_from_env("VMSCOPE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(f))
        .with_ansi(false)
        .with_target(true)
        .try_init()
        .ok()?;
    tracing::info!(
        version = env!("VMSCOPE_VERSION"),
        pid = std::process::id(),
        "vmscope starts"
    );
    Some(path)
}
