//! The command palette (`:`): every command of the keymap by name, with its key and what it
//! does, and the machines by name (`ssh server`, `focus client`), matched fuzzily as typed.
//! Commands that take words (`filter TEXT`, `goto LINE`) run with what follows their name.

use super::action::Action;
use super::keymap::{Context, Keymap};
use crate::vm::model::{Origin, Test};

/// A mark as the palette lists it.
pub struct MarkEntry {
    pub origin: Origin,
    pub at: u64,
    /// Its pane's name, input line and text.
    pub pane: String,
    pub line: u64,
    pub text: String,
}

/// What a palette entry (or a prompt's line) runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    Action(Action),
    Filter(String),
    Search(String),
    /// Save the focused pane, to this path or the default one.
    Save(Option<String>),
    /// Go to a line number, or a time (`12:30`, `1:02:03`) of the run.
    Goto(String),
    /// Copy the line under the cursor, or (`true`) the whole pane, to the clipboard.
    Copy(bool),
    /// Show this point of the run in this pane (a mark).
    JumpTo(Origin, u64),
    /// The merged view with these machines only (none named: all).
    Only(String),
    /// The focused container's journal: this unit's entries only (none named: all).
    Unit(String),
    /// Write the marks and every line held, in input order, to this path or the default.
    Export(Option<String>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// What is typed for it.
    pub name: String,
    pub run: Run,
    /// Its key where the user is, if it has one.
    pub key: Option<String>,
    pub text: String,
}

/// Actions that are not commands of their own in the palette.
fn hidden(action: Action) -> bool {
    matches!(
        action,
        Action::None
            | Action::SendKey(_)
            | Action::EditPrompt(_)
            | Action::Palette
            | Action::Submit
            | Action::Cancel
            | Action::SelectNext
            | Action::SelectPrev
            | Action::Yes
            | Action::No
            | Action::FocusMachine(_)
            | Action::SshMachine(_)
            | Action::Search
            | Action::Filter
            | Action::Save
    )
}

/// Every entry: the commands of the keymap (each once, with its key in `ctx`), the
/// commands that take words, and a `focus` and an `ssh` entry per machine.
pub fn entries(
    keymap: &Keymap,
    ctx: Context,
    test: &Test,
    offers: impl Fn(Action) -> bool,
) -> Vec<Entry> {
    let machines: Vec<&str> = test.machines.iter().map(|m| m.name.as_str()).collect();
    let mut out: Vec<Entry> = Vec::new();
    let mut seen: Vec<Action> = Vec::new();
    let key = |a: Action| {
        keymap
            .key(ctx, a)
            .or_else(|| keymap.key(Context::Global, a))
            .map(|k| k.to_string())
    };
    for c in Context::ALL {
        for (_, a) in keymap.bindings(c) {
            if seen.contains(a) || hidden(*a) || !offers(*a) {
                continue;
            }
            seen.push(*a);
            out.push(Entry {
                name: a.command_name(),
                run: Run::Action(*a),
                key: key(*a),
                text: a.describe().to_string(),
            });
        }
    }
    for (word, text, action) in [
        ("search", "search TEXT in the focused pane", Action::Search),
        (
            "filter",
            "filter TEXT: only matching lines (empty: all)",
            Action::Filter,
        ),
        (
            "save",
            "save [PATH]: the focused pane to a file",
            Action::Save,
        ),
    ] {
        out.push(Entry {
            name: word.into(),
            run: parse(word).unwrap_or(Run::Action(action)),
            key: key(action),
            text: text.into(),
        });
    }
    out.push(Entry {
        name: "goto".into(),
        run: Run::Goto(String::new()),
        key: None,
        text: "goto LINE or goto MM:SS: that input line, or that moment of the run".into(),
    });
    out.push(Entry {
        name: "only".into(),
        run: Run::Only(String::new()),
        key: None,
        text: "only NAME…: the merged view keeps these machines (alone: all)".into(),
    });
    out.push(Entry {
        name: "unit".into(),
        run: Run::Unit(String::new()),
        key: None,
        text: "unit NAME: a container's journal, that unit's entries only (alone: all)".into(),
    });
    out.push(Entry {
        name: "export".into(),
        run: Run::Export(None),
        key: None,
        text: "export [PATH]: the marks and every line held, in input order, to a file".into(),
    });
    for (i, m) in machines.iter().enumerate() {
        out.push(Entry {
            name: format!("focus {m}"),
            run: Run::Action(Action::FocusMachine(i + 1)),
            key: (i < 9).then(|| key(Action::FocusMachine(i + 1))).flatten(),
            text: format!("focus {m}'s pane"),
        });
        if offers(Action::SshOpen) {
            out.push(Entry {
                name: format!("ssh {m}"),
                run: Run::Action(Action::SshMachine(i + 1)),
                key: None,
                text: format!("a shell into {m} in a tab"),
            });
        }
    }
    out
}

/// The palette's entries for the marks, in order (`mark 2 client L140: text`).
pub fn mark_entries(marks: &[MarkEntry]) -> Vec<Entry> {
    marks
        .iter()
        .enumerate()
        .map(|(i, m)| Entry {
            name: format!("mark {} {} L{}", i + 1, m.pane, m.line),
            run: Run::JumpTo(m.origin, m.at),
            key: None,
            text: m.text.chars().take(120).collect(),
        })
        .collect()
}

/// A command typed with its words (`filter error`, `save /tmp/x.log`, `goto 120`).
pub fn parse(query: &str) -> Option<Run> {
    let q = query.trim();
    let (word, rest) = q.split_once(' ').map_or((q, ""), |(w, r)| (w, r.trim()));
    Some(match word {
        "filter" => Run::Filter(rest.to_string()),
        "search" if !rest.is_empty() => Run::Search(rest.to_string()),
        "save" => Run::Save((!rest.is_empty()).then(|| rest.to_string())),
        "goto" if !rest.is_empty() => Run::Goto(rest.to_string()),
        "only" => Run::Only(rest.to_string()),
        "unit" => Run::Unit(rest.to_string()),
        "export" => Run::Export((!rest.is_empty()).then(|| rest.to_string())),
        _ => return None,
    })
}

/// How well `query` matches `name`: every character of the query in order (a fuzzy
/// subsequence), better when they are together and at word starts; `None`: no match.
pub fn score(name: &str, query: &str) -> Option<i64> {
    let name: Vec<char> = name.to_lowercase().chars().collect();
    let mut score = 0i64;
    let mut at = 0usize;
    let mut last: Option<usize> = None;
    for q in query.to_lowercase().chars().filter(|c| !c.is_whitespace()) {
        let found = (at..name.len()).find(|&i| name[i] == q)?;
        score += 10;
        if last.is_some_and(|l| l + 1 == found) {
            score += 15;
        }
        if found == 0 || name[found - 1] == ' ' {
            score += 20;
        }
        score -= (found - at) as i64;
        last = Some(found);
        at = found + 1;
    }
    Some(score - name.len() as i64 / 4)
}

/// What `query` runs: a command with its words, else the `selected` one of its matches.
pub fn pick(entries: &[Entry], query: &str, selected: usize) -> Result<Run, String> {
    if let Some(run) = parse(query) {
        return Ok(run);
    }
    matches(entries, query)
        .get(selected)
        .map(|e| e.run.clone())
        .ok_or_else(|| format!(":{query}: no such command"))
}

/// The entries that match `query`, best first.
pub fn matches<'a>(entries: &'a [Entry], query: &str) -> Vec<&'a Entry> {
    let head = query.split_whitespace().next().unwrap_or("");
    let mut scored: Vec<(i64, &Entry)> = entries
        .iter()
        .filter_map(|e| {
            // `filter error` is the filter command with its words, not a fuzzy name.
            let q = if parse(query).is_some() && e.name == head {
                head
            } else {
                query
            };
            score(&e.name, q).map(|s| (s, e))
        })
        .collect();
    scored.sort_by_key(|e| std::cmp::Reverse(e.0));
    scored.into_iter().map(|(_, e)| e).collect()
}

/// A time typed for `goto` (`SS`, `MM:SS`, `HH:MM:SS`), in milliseconds.
pub fn parse_time(text: &str) -> Option<u32> {
    let mut secs = 0u32;
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    for p in parts {
        secs = secs.checked_mul(60)?.checked_add(p.parse::<u32>().ok()?)?;
    }
    secs.checked_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_keymap() {
        assert_eq!(Action::FocusNext.command_name(), "focus next");
        assert_eq!(Action::SshOpen.command_name(), "ssh open");
        assert_eq!(Action::FocusMachine(2).command_name(), "focus machine");
    }

    #[test]
    fn fuzzy_matching_prefers_word_starts_and_runs() {
        assert!(score("ssh server", "sshs").is_some());
        assert!(score("ssh server", "xyz").is_none());
        assert!(score("ssh server", "ssh ser") > score("search", "ssh ser"));
        assert!(score("zoom", "zo") > score("close tab", "zo"));
    }

    fn run_of(log: &[u8]) -> crate::vm::TestRun {
        let opts = crate::vm::Parser::env_options();
        crate::vm::Parser::parse_all(log, crate::vm::Caps::default(), opts)
    }

    #[test]
    fn machines_and_commands_are_entries() {
        let km = Keymap::defaults();
        let run = run_of(
            b"server: starting vm
client: starting vm
",
        );
        let t = &run.tests[0];
        assert_eq!(t.machines.len(), 2);
        let e = entries(&km, Context::Log, t, |_| true);
        let ssh = matches(&e, "ssh serv");
        assert_eq!(ssh[0].run, Run::Action(Action::SshMachine(1)));
        let focus = matches(&e, "focus cl");
        assert_eq!(focus[0].run, Run::Action(Action::FocusMachine(2)));
        assert_eq!(focus[0].key.as_deref(), Some("2"));
        let zoom = matches(&e, "zoom");
        assert_eq!(zoom[0].run, Run::Action(Action::Zoom));
        assert_eq!(zoom[0].key.as_deref(), Some("z"));
        assert_eq!(matches(&e, "filter error")[0].name, "filter");
        // What cannot run now is not offered.
        let none = entries(&km, Context::Log, t, |a| a != Action::SshOpen);
        assert!(none.iter().all(|e| !e.name.starts_with("ssh")));
    }

    #[test]
    fn typed_words_and_times() {
        assert_eq!(parse("filter  error "), Some(Run::Filter("error".into())));
        assert_eq!(parse("save"), Some(Run::Save(None)));
        assert_eq!(parse("goto 12:30"), Some(Run::Goto("12:30".into())));
        assert_eq!(parse("zoom"), None);
        assert_eq!(parse_time("12:30"), Some(750_000));
        assert_eq!(parse_time("1:00:05"), Some(3_605_000));
        assert_eq!(parse_time("120"), None);
        assert_eq!(parse_time("a:b"), None);
    }
}
