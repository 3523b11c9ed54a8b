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

/// Files held open at most: a log may name a thousand machines, and a process may open only
/// so many files. The others are closed and opened again to append.
const OPEN_FILES: usize = 64;

type Key = (usize, Option<String>);

/// Files of one test while it is written: under a scratch directory per test with a name of
/// its own (no test or machine can be called that), because a test's name may only be
/// known at the end of the input.
struct Writer {
    out: PathBuf,
    scratch: HashMap<usize, PathBuf>,
    files: HashMap<Key, (BufWriter<File>, u64)>,
    /// Files created so far: opened again, they are appended to.
    created: std::collections::HashSet<Key>,
    uses: u64,
    error: Option<std::io::Error>,
}

impl Writer {
    fn scratch(&mut self, test: usize) -> std::io::Result<PathBuf> {
        if let Some(dir) = self.scratch.get(&test) {
            return Ok(dir.clone());
        }
        let dir = tempfile::Builder::new()
            .prefix(".vmscope-split-")
            .tempdir_in(&self.out)?
            .keep();
        self.scratch.insert(test, dir.clone());
        Ok(dir)
    }

    fn open(&mut self, key: &Key) -> std::io::Result<()> {
        if self.files.len() >= OPEN_FILES
            && let Some(oldest) = self
                .files
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            && let Some((mut w, _)) = self.files.remove(&oldest)
        {
            w.flush()?;
        }
        let dir = self.scratch(key.0)?;
        let name = match &key.1 {
            Some(m) => machine_file(m),
            None => "driver.log".to_string(),
        };
        let again = self.created.contains(key);
        let f = fs::OpenOptions::new()
            .create(true)
            .append(again)
            .write(true)
            .truncate(!again)
            .open(dir.join(name))?;
        self.created.insert(key.clone());
        self.files
            .insert(key.clone(), (BufWriter::new(f), self.uses));
        Ok(())
    }

    fn write(&mut self, test: usize, machine: Option<&str>, text: &str) {
        if self.error.is_some() {
            return;
        }
        let key = (test, machine.map(str::to_string));
        if !self.files.contains_key(&key)
            && let Err(e) = self.open(&key)
        {
            self.error = Some(e);
            return;
        }
        self.uses += 1;
        if let Some((w, used)) = self.files.get_mut(&key) {
            *used = self.uses;
            if let Err(e) = writeln!(w, "{text}") {
                self.error = Some(e);
            }
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
        scratch: HashMap::new(),
        files: HashMap::new(),
        created: Default::default(),
        uses: 0,
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
    for (f, _) in w.files.values_mut() {
        f.flush()
            .with_context(|| format!("writing into {}", out.display()))?;
    }
    w.files.clear();
    let visible: Vec<usize> = run.visible_tests().map(|(i, _)| i).collect();
    let mut written = Vec::new();
    for (i, t) in run.tests.iter().enumerate() {
        if !visible.contains(&i) && !w.scratch.contains_key(&i) {
            continue;
        }
        let scratch = w
            .scratch(i)
            .with_context(|| format!("writing into {}", out.display()))?;
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
