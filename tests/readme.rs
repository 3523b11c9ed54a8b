//! The README's key list is the keymap table: it cannot go stale.

#[test]
fn readme_keys_are_the_keymap() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("<!-- keys: begin -->\n")
        .expect("keys begin marker")
        + "<!-- keys: begin -->\n".len();
    let end = readme.find("<!-- keys: end -->").expect("keys end marker");
    let want = vmscope::app::keymap::Keymap::defaults().markdown();
    assert_eq!(
        &readme[start..end],
        want,
        "README keys differ from assets/keymap.toml; paste `cargo run --example keys_markdown`"
    );
}

#[test]
fn readme_gives_the_two_setup_commands() {
    let readme = include_str!("../README.md");
    assert!(readme.contains("cargo run --release -- demo"));
    assert!(readme.contains("scripts/test"));
    let ci = include_str!("../.ci/run");
    assert!(
        ci.contains("exec scripts/test"),
        "CI runs the README's test command"
    );
}

/// The README's `inspect --json` example without its `//` comments (none inside strings).
fn readme_json_example() -> serde_json::Value {
    let readme = include_str!("../README.md");
    let start = readme.find("```jsonc\n").expect("a jsonc block") + "```jsonc\n".len();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let mut out = String::new();
    for line in block.lines() {
        let mut in_string = false;
        let mut escaped = false;
        let mut cut = line.len();
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if in_string => escaped = true,
                b'"' => in_string = !in_string,
                b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("the README's example: {e}\n{out}"))
}

/// Objects at the same place have the same keys; arrays compare their first elements.
fn same_shape(doc: &serde_json::Value, real: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (doc, real) {
        (Value::Object(d), Value::Object(r)) => {
            let dk: Vec<_> = d.keys().collect();
            let rk: Vec<_> = r.keys().collect();
            assert_eq!(dk, rk, "keys of {at} in the README and in vmscope's output");
            for (k, v) in d {
                if !r[k].is_null() && !v.is_null() {
                    same_shape(v, &r[k], &format!("{at}.{k}"));
                }
            }
        }
        (Value::Array(d), Value::Array(r)) => {
            if let (Some(d0), Some(r0)) = (d.first(), r.first()) {
                same_shape(d0, r0, &format!("{at}[0]"));
            }
        }
        _ => {}
    }
}

#[test]
fn readme_json_example_has_the_fields_of_the_real_output() {
    let doc = readme_json_example();
    // The example is the real driver's failing run; its warnings are the passing run's.
    for (capture, check_warnings) in [("fail.stderr", false), ("pass.stderr", true)] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/real-driver")
            .join(capture);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .args(["inspect", "--json"])
            .arg(&path)
            .output()
            .unwrap();
        let real: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if check_warnings {
            let w = &real["tests"][0]["warnings"];
            assert!(!w.as_array().unwrap().is_empty(), "{capture} has a warning");
            same_shape(&doc["tests"][0]["warnings"], w, "warnings");
        } else {
            same_shape(&doc, &real, "document");
        }
    }
}
