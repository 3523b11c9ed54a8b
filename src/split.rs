//! `vmscope split`: one file per machine plus the driver log, written as lines are parsed.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::vm::export::file_stem;
use crate::vm::source::{Input, read_all};
use crate::vm::{Caps, ParseOptions, Parser, TestRun};

/// Files of one test while it is written: under a scratch directory named by test index,
/// because a test's name may only be known at the end of the input.
struct Writer {
    out: PathBuf,
    files: HashMap<(usize, Option<String>), BufWriter<File>>,
    error: Option<std::io::Error>,
}

impl Writer {
    fn scratch(&self, test: usize) -> PathBuf {
        self.out.join(format!(".vmscope-split-{test}"))
    }

    fn write(&mut self, test: usize, machine: Option<&str>, text: &str) {
        if self.error.is_some() {
            return;
        }
        let key = (test, machine.map(str::to_string));
        if !self.files.contains_key(&key) {
            let dir = self.scratch(test);
            let name = match machine {
                Some(m) => machine_file(m),
                None => "driver.log".to_string(),
            };
            let opened = fs::create_dir_all(&dir).and_then(|_| File::create(dir.join(name)));
            match opened {
                Ok(f) => {
                    self.files.insert(key.clone(), BufWriter::new(f));
                }
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        if let Some(w) = self.files.get_mut(&key)
            && let Err(e) = writeln!(w, "{text}")
        {
            self.error = Some(e);
        }
    }
}

/// `NAME.log`; a machine called `driver` must not overwrite the driver log.
fn machine_file(name: &str) -> String {
    let stem = file_stem(name);
    if stem == "driver" {
        "driver.machine.log".to_string()
    } else {
        format!("{stem}.log")
    }
}

/// Splits `input` into `out`; returns the parsed run and the files written.
pub fn split(input: Input, out: &Path, caps: Caps) -> Result<(TestRun, Vec<PathBuf>)> {
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let writer = Arc::new(Mutex::new(Writer {
        out: out.to_path_buf(),
        files: HashMap::new(),
        error: None,
    }));
    let mut parser = Parser::new(caps, ParseOptions::default());
    let sink_writer = Arc::clone(&writer);
    parser.sink = Some(Box::new(move |t, m, text| {
        if let Ok(mut w) = sink_writer.lock() {
            w.write(t, m, text);
        }
    }));
    let what = input.describe();
    read_all(input, &mut parser).with_context(|| format!("reading {what}"))?;
    parser.sink = None;
    let run = parser.run;
    let mut w = writer
        .lock()
        .map_err(|_| anyhow::anyhow!("split writer poisoned"))?;
    if let Some(e) = w.error.take() {
        return Err(e).with_context(|| format!("writing into {}", out.display()));
    }
    for f in w.files.values_mut() {
        f.flush()
            .with_context(|| format!("writing into {}", out.display()))?;
    }
    w.files.clear();
    let visible: Vec<usize> = run.visible_tests().map(|(i, _)| i).collect();
    let mut written = Vec::new();
    for (i, t) in run.tests.iter().enumerate() {
        let scratch = w.scratch(i);
        if !visible.contains(&i) && !scratch.exists() {
            continue;
        }
        // Every machine gets its file, empty when it printed nothing: scripts can rely on it.
        fs::create_dir_all(&scratch)?;
        for m in &t.machines {
            let path = scratch.join(machine_file(&m.name));
            if !path.exists() {
                File::create(&path).with_context(|| format!("writing {}", path.display()))?;
            }
        }
        let dest = if visible.len() <= 1 {
            out.to_path_buf()
        } else {
            let name = t.name.clone().unwrap_or_else(|| format!("test-{i}"));
            out.join(file_stem(&name))
        };
        fs::create_dir_all(&dest)?;
        for entry in fs::read_dir(&scratch)? {
            let entry = entry?;
            let target = dest.join(entry.file_name());
            fs::rename(entry.path(), &target)
                .with_context(|| format!("moving into {}", target.display()))?;
            written.push(target);
        }
        fs::remove_dir(&scratch).ok();
    }
    written.sort();
    Ok((run, written))
}
