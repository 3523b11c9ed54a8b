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
