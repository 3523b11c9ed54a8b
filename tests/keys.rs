//! Every key the user can press is in the keymap table, and the table, the `?` help and the
//! README list the same keys, the terminal, prompt and question contexts included.

use std::collections::HashSet;

use vmscope::app::action::Action;
use vmscope::app::keymap::{Context, Keymap};
use vmscope::app::state::App;
use vmscope::vm::Caps;

/// (section, key) pairs of `rows`, with `1…9` as its digits.
fn pairs(rows: &[(&'static str, String, &'static str)]) -> HashSet<(String, String)> {
    let mut out = HashSet::new();
    for (section, keys, _) in rows {
        for k in keys.split(' ') {
            if k == "1…9" {
                for d in 1..=9 {
                    out.insert((section.to_string(), d.to_string()));
                }
            } else {
                out.insert((section.to_string(), k.to_string()));
            }
        }
    }
    out
}

#[test]
fn the_keymap_the_help_and_the_readme_list_the_same_keys() {
    let km = Keymap::defaults();
    let app = App::new(Caps::default(), km.clone(), "keys".into(), true);
    let mut in_help = HashSet::new();
    for ctx in Context::ALL {
        in_help.extend(pairs(&vmscope::panes::help::rows(&app, ctx)));
    }
    let md = km.markdown();
    let readme = include_str!("../README.md");
    assert!(readme.contains(&md), "the README holds the keymap's table");
    let mut bound = 0;
    for ctx in Context::ALL {
        let table = md
            .split(&format!("**{}**", ctx.title()))
            .nth(1)
            .and_then(|t| t.split("**").next())
            .unwrap_or_else(|| panic!("no README table for {}", ctx.title()));
        assert!(
            !km.bindings(ctx).is_empty(),
            "{} has keys of its own",
            ctx.title()
        );
        for (chord, action) in km.bindings(ctx) {
            bound += 1;
            let key = chord.to_string();
            assert!(
                in_help.contains(&(ctx.title().to_string(), key.clone())),
                "`{key}` ({action:?}) of {} is in no help",
                ctx.title()
            );
            let numbered = matches!(action, Action::FocusMachine(_) | Action::SshMachine(_));
            let cell = format!("`{}`", key.replace('|', "\\|"));
            assert!(
                table.contains(&cell) || (numbered && table.contains("`1`…`9`")),
                "`{key}` of {} is not in the README",
                ctx.title()
            );
        }
    }
    // And the help lists nothing that is not bound.
    for (section, key) in &in_help {
        let ctx = Context::ALL
            .into_iter()
            .find(|c| c.title() == section)
            .unwrap();
        assert!(
            km.bindings(ctx).iter().any(|(c, _)| &c.to_string() == key),
            "the help lists `{key}` under {section}, which binds no such key"
        );
    }
    assert!(bound > 80, "{bound} bindings");
}

#[test]
fn the_help_shows_one_row_for_the_numbered_keys_and_the_typing_keys_of_a_terminal() {
    let app = App::new(Caps::default(), Keymap::defaults(), "keys".into(), true);
    let rows = vmscope::panes::help::rows(&app, Context::Log);
    let numbered: Vec<_> = rows.iter().filter(|r| r.1 == "1…9").collect();
    assert_eq!(numbered.len(), 1, "{rows:?}");
    let reading = vmscope::panes::help::rows(&app, Context::Command);
    let typing: Vec<&str> = reading
        .iter()
        .filter(|r| r.0 == Context::Terminal.title())
        .map(|r| r.1.as_str())
        .collect();
    assert_eq!(typing, ["Ctrl-]", "Ctrl-c"], "{reading:?}");
}
