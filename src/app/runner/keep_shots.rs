//! A live run's screenshots kept with its recording (`screenshots/` in the session
//! directory), so that reopening it, replaying it or exporting it shows them after the
//! driver's output directory is gone.

use std::collections::HashSet;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use crate::app::state::App;
use crate::vm::model::StepState;
use crate::vm::recording::SHOTS_DIR;

/// What a recording keeps of screenshots at most: they are pictures, not the run.
const MAX_KEPT: u64 = 512 << 20;

#[derive(Default)]
pub struct KeptShots {
    /// Names handled (copied, or given up on).
    done: HashSet<String>,
    bytes: u64,
}

impl KeptShots {
    /// Copies the screenshots taken since the last call into `dir`'s `screenshots/`.
    /// Returns what went wrong, to be said once.
    pub fn keep(&mut self, app: &App, dir: &Path) -> Option<String> {
        let mut said = None;
        for (i, t) in app.run().tests.iter().enumerate() {
            for shot in app.shots.list(i, t).iter() {
                if shot.state != StepState::Passed || self.done.contains(&shot.name) {
                    continue;
                }
                // Not found yet: looked for again at the next tick, and at the end.
                let Ok(src) = app.shots.file(shot) else {
                    continue;
                };
                self.done.insert(shot.name.clone());
                let size = std::fs::metadata(&src).map_or(0, |m| m.len());
                if self.bytes + size > MAX_KEPT {
                    said.get_or_insert_with(|| {
                        format!(
                            "the recording keeps no more screenshots ({} MiB kept)",
                            self.bytes >> 20
                        )
                    });
                    continue;
                }
                let to = dir.join(SHOTS_DIR);
                let copied = std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&to)
                    .and_then(|()| std::fs::copy(&src, to.join(&shot.name)));
                match copied {
                    Ok(n) => self.bytes += n,
                    Err(e) => {
                        said.get_or_insert_with(|| {
                            format!("screenshot {} not kept with the recording: {e}", shot.name)
                        });
                    }
                }
            }
        }
        said
    }
}
