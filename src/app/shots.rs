//! The machines' screenshots on the screen: `v` shows the one taken at (or last before) the
//! cursor beside the machine's pane, `V` on the whole screen, `i`/`I` go from one to the
//! next, `o` hands it to the desktop's viewer.
//!
//! A file is only looked for by its name (`shots::safe_name`) in directories vmscope trusts:
//! the one the user gave (`--out-dir`), the log's own, a recording's copies, or the live
//! driver's output directory as its command line in `/proc` says (`-o DIR`, else its
//! working directory).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use image::DynamicImage;
use ratatui_image::picker::Picker;

use super::action::Action;
use super::effect::Effect;
use super::logviews::{LogViews, Shown};
use super::view::Pane;
use crate::vm::model::merged::Origin;
use crate::vm::shots::{self, Shot};

/// Decoded images kept: a few, each a screen's worth of pixels.
const KEPT: usize = 4;
/// A file bigger than this is no screenshot worth decoding.
const MAX_FILE: u64 = 64 << 20;
/// Nor a picture of more pixels than this (an 8K screen has 33 million).
const MAX_PIXELS: u64 = 40_000_000;

/// The screenshot shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub test: usize,
    pub machine: usize,
    /// Which of the machine's screenshots, in the order they were taken.
    pub index: usize,
    pub full: bool,
}

type Decoded = Result<Rc<DynamicImage>, String>;
/// What a test's steps tell of its screens, and the test (index, revision) read.
type Listed = ((usize, u64), Rc<Vec<Shot>>, Rc<Vec<shots::Ocr>>);

pub struct Shots {
    pub open: Option<Open>,
    /// Where the screenshots are looked for, in this order.
    pub dirs: Vec<PathBuf>,
    /// How images are drawn: half-blocks unless the terminal said it shows more.
    pub picker: Picker,
    /// Screenshots taken from here (`vmscope-N`).
    taken: u32,
    images: RefCell<Vec<(PathBuf, Decoded)>>,
    /// The screenshots of a test as of its revision: read off its steps once per change.
    listed: RefCell<Option<Listed>>,
    /// The image as last drawn, for the size it was drawn at: made again when either changes.
    pub drawn: RefCell<
        Option<(
            PathBuf,
            ratatui::layout::Size,
            ratatui_image::protocol::Protocol,
        )>,
    >,
}

impl Default for Shots {
    fn default() -> Self {
        Self {
            open: None,
            dirs: Vec::new(),
            picker: Picker::halfblocks(),
            taken: 0,
            images: RefCell::new(Vec::new()),
            listed: RefCell::new(None),
            drawn: RefCell::new(None),
        }
    }
}

/// Where machine `m`'s pane points on the run's axis. A pane at its last line points at
/// the end of what is shown (the freeze, the replay's moment, the run's end): the last
/// screenshot then is the one the pane leads to, even when the console fell silent first.
fn moment(s: &Shown<'_>, views: &LogViews, m: usize) -> u64 {
    let pane = Pane::Machine(m);
    let lines = views.lines(s, pane);
    let pointed = views.pointed(s, pane);
    if pointed.is_none() || pointed == lines.last() {
        return s.freeze.map(|f| f.at).or(s.cut).unwrap_or(u64::MAX);
    }
    views.position(s, pane).unwrap_or(u64::MAX)
}

impl Shots {
    /// The screenshots of machine `m` in test `test` as shown (`s`: up to a replay's moment).
    pub fn of_machine(&self, s: &Shown<'_>, test: usize, m: usize) -> Vec<Shot> {
        self.list(test, s.test)
            .iter()
            .filter(|x| x.machine == m)
            .filter(|x| s.cut.is_none_or(|cut| x.at.at <= cut))
            .cloned()
            .collect()
    }

    /// The keys of screenshots; `None` for any other action. `repl`: the live driver's
    /// REPL waits at its prompt (`None`: no driver's terminal).
    pub fn act(
        &mut self,
        action: Action,
        s: &Shown<'_>,
        views: &mut LogViews,
        repl: Option<bool>,
    ) -> Option<Vec<Effect>> {
        let test = views.test;
        match action {
            Action::Close if self.open.is_some() => {
                self.open = None;
                Some(Vec::new())
            }
            Action::Screenshot | Action::ScreenshotFull => {
                let full = action == Action::ScreenshotFull;
                if let Some(o) = &mut self.open
                    && o.test == test
                {
                    // Again: `v` hides it, `V` toggles the whole screen.
                    if full {
                        o.full = !o.full;
                    } else {
                        self.open = None;
                    }
                    return Some(Vec::new());
                }
                let Pane::Machine(m) = views.focus else {
                    return Some(vec![Effect::say(
                        "screenshots are a machine's: focus its pane (1–9) first",
                    )]);
                };
                let all = self.of_machine(s, test, m);
                let name = &s.test.machines[m].name;
                if all.is_empty() {
                    return Some(vec![Effect::say(format!(
                        "{name} has no screenshot in this run (the test calls {name}.screenshot(\"NAME\"))"
                    ))]);
                }
                let here = moment(s, views, m);
                let index = all.iter().rposition(|x| x.at.at <= here).unwrap_or(0);
                self.open = Some(Open {
                    test,
                    machine: m,
                    index,
                    full,
                });
                Some(vec![self.caption(s)])
            }
            Action::NextScreenshot | Action::PrevScreenshot => {
                let (m, index) = match (self.open, views.focus) {
                    (Some(o), _) if o.test == test => (o.machine, Some(o.index)),
                    (_, Pane::Machine(m)) => (m, None),
                    _ => return None,
                };
                let all = self.of_machine(s, test, m);
                if all.is_empty() {
                    return Some(vec![Effect::say("no screenshot of this machine")]);
                }
                let next = action == Action::NextScreenshot;
                let here = views.position(s, Pane::Machine(m)).unwrap_or(0);
                let i = match (index, next) {
                    (Some(i), true) => (i + 1) % all.len(),
                    (Some(i), false) => (i + all.len() - 1) % all.len(),
                    (None, true) => all.iter().position(|x| x.at.at > here).unwrap_or(0),
                    (None, false) => all
                        .iter()
                        .rposition(|x| x.at.at < here)
                        .unwrap_or(all.len() - 1),
                };
                views.go_to(s, Origin::Machine(m), all[i].at.at);
                let full = self.open.is_some_and(|o| o.full);
                self.open = Some(Open {
                    test,
                    machine: m,
                    index: i,
                    full,
                });
                Some(vec![self.caption(s)])
            }
            Action::ScreenshotNow => Some(self.take_now(s, views.focus, repl)),
            Action::OpenScreenshot => {
                let Some(shot) = self.shown(s) else {
                    return Some(vec![Effect::say("v shows a screenshot first")]);
                };
                let path = match self.file(&shot) {
                    Ok(p) => p,
                    Err(e) => return Some(vec![Effect::warn(e)]),
                };
                let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
                    .iter()
                    .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
                let viewer = find_in_path("xdg-open");
                Some(match viewer {
                    Some(viewer) if desktop => vec![
                        Effect::Detach {
                            program: viewer.into_os_string(),
                            args: vec![path.clone().into_os_string()],
                        },
                        Effect::say(format!("opened {}", path.display())),
                    ],
                    _ => vec![Effect::say(format!(
                        "no desktop viewer here (xdg-open and a display); the file: {}",
                        path.display()
                    ))],
                })
            }
            _ => None,
        }
    }

    /// The screenshots of test `index` (`t`), kept until the test changes.
    pub fn list(&self, index: usize, t: &crate::vm::model::Test) -> Rc<Vec<Shot>> {
        self.read(index, t).1
    }

    /// The OCR waits of test `index` (`t`), kept as `list` is.
    pub fn ocr(&self, index: usize, t: &crate::vm::model::Test) -> Rc<Vec<shots::Ocr>> {
        self.read(index, t).2
    }

    fn read(&self, index: usize, t: &crate::vm::model::Test) -> Listed {
        let key = (index, t.revision);
        let mut listed = self.listed.borrow_mut();
        match listed.as_ref() {
            Some(l) if l.0 == key => l.clone(),
            _ => {
                let l = (key, Rc::new(shots::shots(t)), Rc::new(shots::ocr(t)));
                *listed = Some(l.clone());
                l
            }
        }
    }

    /// Whether line `seq` of machine `m`'s console is the last one before a screenshot.
    pub fn marks_line(&self, index: usize, t: &crate::vm::model::Test, m: usize, seq: u64) -> bool {
        let Some(machine) = t.machines.get(m) else {
            return false;
        };
        self.list(index, t)
            .iter()
            .filter(|x| x.machine == m)
            .any(|x| machine.serial.end_at(x.at.at).checked_sub(1) == Some(seq))
    }

    /// Takes the focused machine's screenshot through the driver's REPL, as the test
    /// script would: `NAME.screenshot("vmscope-N")`, typed at its prompt.
    fn take_now(&mut self, s: &Shown<'_>, focus: Pane, repl: Option<bool>) -> Vec<Effect> {
        let Pane::Machine(m) = focus else {
            return vec![Effect::say(
                "a screenshot is a machine's: focus its pane (1–9) first",
            )];
        };
        let name = &s.test.machines[m].name;
        // The REPL's symbol for the machine: its name with `-` as `_`.
        let symbol = name.replace('-', "_");
        let plain = symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && symbol.chars().next().is_some_and(|c| !c.is_ascii_digit());
        match repl {
            None => vec![Effect::say(
                "screenshots are taken in a live run, through the driver's REPL (run it with -I)",
            )],
            Some(false) => vec![Effect::say(
                "the driver's REPL is busy: take the screenshot when its prompt is back",
            )],
            Some(true) if !plain => vec![Effect::warn(format!(
                "{name} has no name the REPL knows it by"
            ))],
            Some(true) => {
                self.taken += 1;
                // Named by the time: one taken in an earlier run is not overwritten.
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let shot = format!("vmscope-{secs}-{}", self.taken);
                let line = format!("{symbol}.screenshot(\"{shot}\")\r");
                vec![
                    Effect::WritePty(line.into_bytes()),
                    Effect::say(format!("taking {name}'s screenshot {shot}")),
                ]
            }
        }
    }

    /// Adds directories to look in, once each.
    pub fn add_dirs(&mut self, dirs: impl IntoIterator<Item = PathBuf>) {
        for d in dirs {
            if !self.dirs.contains(&d) {
                self.dirs.push(d);
            }
        }
    }

    /// The screenshot shown, if one is and the run still has it.
    pub fn shown(&self, s: &Shown<'_>) -> Option<Shot> {
        let o = self.open?;
        self.of_machine(s, o.test, o.machine).get(o.index).cloned()
    }

    /// The file of `shot`, found in a trusted directory.
    pub fn file(&self, shot: &Shot) -> Result<PathBuf, String> {
        if self.dirs.is_empty() {
            return Err(format!(
                "{}: where the screenshots are is not known; give the directory with --out-dir",
                shot.name
            ));
        }
        self.dirs
            .iter()
            .find_map(|d| shots::file_in(d, &shot.name))
            .ok_or_else(|| {
                let looked: Vec<String> =
                    self.dirs.iter().map(|d| d.display().to_string()).collect();
                format!("{} is not in {}", shot.name, looked.join(" or "))
            })
    }

    /// The decoded image at `path` (kept for the next frames).
    pub fn image(&self, path: &Path) -> Decoded {
        let mut kept = self.images.borrow_mut();
        if let Some((_, img)) = kept.iter().find(|(p, _)| p == path) {
            return img.clone();
        }
        let img = decode(path).map(Rc::new);
        if kept.len() >= KEPT {
            drop(kept.remove(0));
        }
        kept.push((path.to_path_buf(), img.clone()));
        img
    }

    fn caption(&self, s: &Shown<'_>) -> Effect {
        let Some(o) = self.open else {
            return Effect::say("");
        };
        let all = self.of_machine(s, o.test, o.machine);
        let name = all.get(o.index).map_or("", |x| x.name.as_str());
        Effect::say(format!(
            "screenshot {} of {} of {}: {name}",
            o.index + 1,
            all.len(),
            s.test.machines[o.machine].name
        ))
    }
}

fn decode(path: &Path) -> Result<DynamicImage, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "{}: {size} bytes is too big to show",
            path.display()
        ));
    }
    let open = || {
        image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    // A small file can hold a huge picture: its size is read from its header first.
    let (w, h) = open()?
        .into_dimensions()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(format!("{}: {w}x{h} is too big to show", path.display()));
    }
    open()?
        .decode()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A program on `$PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Where the live driver writes its screenshots: `-o DIR` / `--output_directory DIR` on its
/// command line (against its working directory), else that working directory. Read from
/// `/proc`, which the guest cannot write.
pub fn driver_out_dirs(pid: i32) -> Vec<PathBuf> {
    let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd")) else {
        return Vec::new();
    };
    let args: Vec<String> = super::proctree::cmdline(pid)
        .unwrap_or_default()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let given = out_dir_arg(&args).map(|d| cwd.join(d));
    given.into_iter().chain([cwd]).collect()
}

/// The output directory a driver's arguments name.
fn out_dir_arg(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        for flag in ["--output_directory", "--output-directory"] {
            if a == flag {
                return it.next().cloned();
            }
            if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                return Some(v.to_string());
            }
        }
        if a == "-o" {
            return it.next().cloned();
        }
        if let Some(v) = a
            .strip_prefix("-o")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            return Some(v.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG's signature and header alone: a picture of `w`x`h` grey pixels, no data.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        fn crc(bytes: &[u8]) -> u32 {
            let mut c = !0u32;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 == 1 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |body: &[u8]| {
            png.extend(((body.len() - 4) as u32).to_be_bytes());
            png.extend(body);
            png.extend(crc(body).to_be_bytes());
        };
        chunk(&ihdr);
        // An empty zlib stream: the header is followed by image data, too little of it.
        chunk(b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01");
        chunk(b"IEND");
        png
    }

    #[test]
    fn a_picture_too_big_is_refused_before_it_is_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.png");
        std::fs::write(&huge, png_header(10_000, 10_000)).unwrap();
        let err = decode(&huge).unwrap_err();
        assert!(err.ends_with("10000x10000 is too big to show"), "{err}");
        // Within bounds, the same header reaches the decoder (which finds no data).
        let small = dir.path().join("small.png");
        std::fs::write(&small, png_header(32, 32)).unwrap();
        assert!(!decode(&small).unwrap_err().contains("too big"));
    }

    #[test]
    fn the_output_directory_is_read_as_the_driver_parses_it() {
        let a = |s: &[&str]| out_dir_arg(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&["driver", "-o", "/out"]).as_deref(), Some("/out"));
        assert_eq!(a(&["driver", "-o/out"]).as_deref(), Some("/out"));
        assert_eq!(a(&["d", "--output_directory", "x"]).as_deref(), Some("x"));
        assert_eq!(a(&["d", "--output-directory=y"]).as_deref(), Some("y"));
        assert_eq!(a(&["d", "-I", "--keep-vm-state"]), None);
    }
}
