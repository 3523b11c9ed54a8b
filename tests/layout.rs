//! The layout of the code, read from its sources. The parser changes the model only
//! through `RunEvent`s (`src/vm/event.rs`): its code reaches a test through `Parser::test`
//! (shared) and `Parser::emit` alone, so a new line form cannot slip a write past the model.
//! And `vm`, what a test run is, depends on nothing of the terminal application.

use std::path::Path;

/// The parser's functions that may touch `run.tests` itself.
const ACCESSORS: &[&str] = &["test", "tests", "add_test", "emit"];

fn parser_sources() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vm/parser");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.len() >= 8, "the parser's modules: {out:?}");
    out
}

/// The function a line of a source is in: the nearest `fn NAME` above it.
fn enclosing_fn(lines: &[&str], at: usize) -> Option<String> {
    lines[..=at].iter().rev().find_map(|l| {
        let rest = l.trim_start();
        let rest = rest
            .strip_prefix("pub(super) ")
            .or_else(|| rest.strip_prefix("pub "))
            .unwrap_or(rest);
        let name = rest.strip_prefix("fn ")?;
        let end = name.find(['(', '<'])?;
        Some(name[..end].to_string())
    })
}

#[test]
fn the_parser_writes_tests_only_through_events() {
    for (file, text) in parser_sources() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            assert!(
                !code.contains("&mut Test") && !code.contains("&mut self.run.tests"),
                "{file}:{}: a mutable test outside the model: {line}",
                i + 1
            );
            if code.contains("run.tests") {
                let f = enclosing_fn(&lines, i);
                assert!(
                    file == "mod.rs" && f.as_deref().is_some_and(|f| ACCESSORS.contains(&f)),
                    "{file}:{}: `run.tests` outside the accessors (in fn {f:?}): {line}",
                    i + 1
                );
            }
            assert!(
                !code.contains(".apply(") || enclosing_fn(&lines, i).as_deref() == Some("emit"),
                "{file}:{}: a model change applied outside `emit`: {line}",
                i + 1
            );
        }
    }
}

#[test]
fn the_accessors_give_no_mutable_test_but_through_apply() {
    let (_, text) = parser_sources()
        .into_iter()
        .find(|(f, _)| f == "mod.rs")
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let uses: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("run.tests"))
        .map(|(i, _)| (i, enclosing_fn(&lines, i).unwrap_or_default()))
        .collect();
    // `test` and `tests` lend the tests shared; `emit` applies an event; `add_test` adds one.
    for (i, f) in &uses {
        let line = lines[*i].trim();
        match f.as_str() {
            "test" | "tests" => assert!(line.starts_with("&self.run.tests"), "{line}"),
            "emit" => assert!(line.ends_with(".apply(event)"), "{line}"),
            "add_test" => assert!(
                line.contains("run.tests.len()") || line.contains(".push(") || line == "self.run",
                "{line}"
            ),
            other => panic!("run.tests in fn {other}: {line}"),
        }
    }
    assert!(uses.iter().any(|(_, f)| f == "emit"), "emit applies events");
}

#[test]
fn vm_imports_nothing_from_the_app() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vm");
    let mut dirs = vec![root];
    let mut files = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                assert!(
                    !code.contains("crate::app") && !code.contains("crate::panes"),
                    "{}:{}: vm reaches into the app: {line}",
                    path.display(),
                    i + 1
                );
            }
        }
    }
    assert!(files >= 20, "the vm sources: {files}");
}
