//! Prints the README's key list from the keymap table: `cargo run --example keys_markdown`.

fn main() {
    print!("{}", vmscope::app::keymap::Keymap::defaults().markdown());
}
