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

/// Every `.rs` file under `dir`, with its module path below `src` (`app::sessions::tab`).
fn modules(dir: &str) -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![src.join(dir)];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                out.push((parts.join("::"), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The parts of `app` (its direct modules) that `text`, the source of module `me`, names:
/// through `super::` or `crate::app::`. An item of `app/mod.rs` itself is the part `app`.
fn parts_named(me: &str, text: &str, parts: &[String]) -> Vec<String> {
    let depth = me.split("::").count();
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        if code.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let mut rest = code;
        while let Some(at) = [rest.find("super::"), rest.find("crate::app::")]
            .into_iter()
            .flatten()
            .min()
        {
            let path = &rest[at..];
            let end = path
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(path.len());
            let words: Vec<&str> = path[..end].split("::").filter(|w| !w.is_empty()).collect();
            rest = &path[end.max(1)..];
            // Resolve to a path from `app`.
            let mut base: Vec<&str> = me.split("::").collect();
            let mut i = 0;
            if words.first() == Some(&"crate") {
                base = vec!["app"];
                i = 2;
            } else {
                while words.get(i) == Some(&"super") {
                    base.pop();
                    i += 1;
                }
            }
            let mut full: Vec<&str> = base;
            full.extend(&words[i..]);
            if full.first() != Some(&"app") || depth == 0 {
                continue;
            }
            let part = match full.get(1) {
                Some(p) if parts.iter().any(|x| x == p) => p.to_string(),
                _ => "app".to_string(),
            };
            if !out.contains(&part) {
                out.push(part);
            }
        }
    }
    out
}

#[test]
fn the_app_parts_import_each_other_without_a_circle() {
    let mods = modules("app");
    let parts: Vec<String> = mods
        .iter()
        .filter_map(|(m, _)| {
            let w: Vec<&str> = m.split("::").collect();
            (w.len() == 2).then(|| w[1].to_string())
        })
        .collect();
    assert!(parts.len() >= 15, "{parts:?}");
    // part -> parts it names
    let mut edges: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (m, text) in &mods {
        let from = m.split("::").nth(1).unwrap_or("app").to_string();
        for to in parts_named(m, text, &parts) {
            if to != from {
                let e = edges.entry(from.clone()).or_default();
                if !e.contains(&to) {
                    e.push(to);
                }
            }
        }
    }
    // The entry points in app/mod.rs use the parts; no part may use them back.
    for (from, to) in &edges {
        assert!(
            from == "app" || !to.contains(&"app".to_string()),
            "{from} names an item of app/mod.rs"
        );
    }
    // Depth-first search for a cycle.
    fn visit(
        n: &str,
        edges: &std::collections::BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) {
        if done.iter().any(|d| d == n) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == n) {
            panic!("an import circle: {} -> {n}", path[at..].join(" -> "));
        }
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            visit(m, edges, path, done);
        }
        path.pop();
        done.push(n.to_string());
    }
    let mut done = Vec::new();
    for n in edges.keys() {
        visit(n, &edges, &mut Vec::new(), &mut done);
    }
    // The parts own their fields: none of them names `App` but the router, the loop that
    // runs it and the entry points.
    for (m, text) in &mods {
        if ["app", "app::state"].contains(&m.as_str()) || m.starts_with("app::runner") {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            assert!(
                !code.contains("state::App") && !code.contains("impl App"),
                "{m}:{}: a part reaches the router: {line}",
                i + 1
            );
        }
    }
}

#[test]
fn the_router_is_small_and_no_app_file_is_large() {
    for (m, text) in modules("app") {
        let n = text.lines().count();
        let limit = if m == "app::state" { 500 } else { 600 };
        assert!(n <= limit, "{m}: {n} lines (at most {limit})");
        if m != "app::state" {
            assert!(
                !text.contains("impl App "),
                "{m}: `impl App` outside state.rs"
            );
        }
    }
}

#[test]
fn the_circle_check_sees_a_circle() {
    // A part naming another that names it back is found.
    let parts = vec!["a".to_string(), "b".to_string()];
    assert_eq!(parts_named("app::a", "use super::b::X;", &parts), ["b"]);
    assert_eq!(
        parts_named(
            "app::b::inner",
            "use crate::app::a::Y; use super::super::thing;",
            &parts
        ),
        ["a", "app"]
    );
}
