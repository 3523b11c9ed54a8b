//! One table of keys per focus context, from `assets/keymap.toml` and the user's overrides.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;

pub const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    Log,
    Driver,
    Help,
    /// The breakpoint view: what went wrong, and the keys into the paused test.
    Breakpoint,
    /// A terminal shown for reading (the command pane focused, a tab left).
    Command,
    /// A terminal that has the keyboard: unbound keys go to its program.
    Terminal,
    /// A prompt's line (search, filter, save, the palette): unbound keys edit it.
    Prompt,
    /// A question about a command.
    Confirm,
    /// The timeline.
    Timeline,
}

impl Context {
    /// Every context, in the order of the help and the README.
    pub const ALL: [Context; 10] = [
        Context::Global,
        Context::Log,
        Context::Driver,
        Context::Timeline,
        Context::Command,
        Context::Terminal,
        Context::Breakpoint,
        Context::Prompt,
        Context::Confirm,
        Context::Help,
    ];

    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "global" => Self::Global,
            "log" => Self::Log,
            "driver" => Self::Driver,
            "help" => Self::Help,
            "breakpoint" => Self::Breakpoint,
            "command" => Self::Command,
            "terminal" => Self::Terminal,
            "prompt" => Self::Prompt,
            "confirm" => Self::Confirm,
            "timeline" => Self::Timeline,
            _ => return None,
        })
    }

    /// The contexts whose keys apply here, most specific first.
    pub fn chain(self) -> &'static [Context] {
        match self {
            Self::Driver => &[Self::Driver, Self::Log, Self::Global],
            Self::Log => &[Self::Log, Self::Global],
            Self::Global => &[Self::Global],
            Self::Help => &[Self::Help],
            Self::Breakpoint => &[Self::Breakpoint, Self::Global],
            Self::Command => &[Self::Command, Self::Log, Self::Global],
            Self::Terminal => &[Self::Terminal],
            Self::Prompt => &[Self::Prompt],
            Self::Confirm => &[Self::Confirm],
            Self::Timeline => &[Self::Timeline, Self::Global],
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Global => "everywhere",
            Self::Log => "log panes",
            Self::Driver => "driver pane",
            Self::Help => "help",
            Self::Breakpoint => "breakpoint view",
            Self::Command => "a terminal, reading",
            Self::Terminal => "a terminal, typing (every other key goes to its program)",
            Self::Prompt => "prompts and the palette (other keys edit the line)",
            Self::Confirm => "a question before a command runs",
            Self::Timeline => "the timeline",
        }
    }
}

/// A key with its modifiers, normalised so that `G` and `shift-g` are one chord.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Chord {
    code: ChordCode,
    ctrl: bool,
    alt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ChordCode {
    Char(char),
    F(u8),
    Named(&'static str),
}

const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
];

impl Chord {
    pub fn parse(s: &str) -> Option<Self> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = if rest == "space" {
            ChordCode::Char(' ')
        } else if let Some((name, _)) = NAMED.iter().find(|(n, _)| *n == rest) {
            ChordCode::Named(name)
        } else if let Some(n) = rest.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
            ChordCode::F(n)
        } else {
            let mut chars = rest.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            ChordCode::Char(if ctrl { c.to_ascii_lowercase() } else { c })
        };
        Some(Self { code, ctrl, alt })
    }

    /// The key event that types this chord (to send it on to a program).
    pub fn event(self) -> Option<KeyEvent> {
        let code = match self.code {
            ChordCode::Char(c) => KeyCode::Char(c),
            ChordCode::F(n) => KeyCode::F(n),
            ChordCode::Named(n) => NAMED.iter().find(|(name, _)| *name == n)?.1,
        };
        let mut m = KeyModifiers::empty();
        m.set(KeyModifiers::CONTROL, self.ctrl);
        m.set(KeyModifiers::ALT, self.alt);
        Some(KeyEvent::new(code, m))
    }

    pub fn from_event(ev: &KeyEvent) -> Option<Self> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        let code = match ev.code {
            // Terminals send Ctrl-\\ Ctrl-] Ctrl-^ Ctrl-_ as the bytes of Ctrl-4..7, and
            // crossterm reports them as digits.
            KeyCode::Char(c) if ctrl => ChordCode::Char(match c {
                '4' => '\\',
                '5' => ']',
                '6' => '^',
                '7' => '_',
                c => c.to_ascii_lowercase(),
            }),
            KeyCode::Char(c) => ChordCode::Char(c),
            KeyCode::F(n) => ChordCode::F(n),
            other => ChordCode::Named(NAMED.iter().find(|(_, k)| *k == other)?.0),
        };
        Some(Self { code, ctrl, alt })
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            ChordCode::Char(' ') => f.write_str("Space"),
            ChordCode::Char(c) => write!(f, "{c}"),
            ChordCode::F(n) => write!(f, "F{n}"),
            ChordCode::Named(n) => {
                let label = match n {
                    "backtab" => "Shift-Tab",
                    "pageup" => "PgUp",
                    "pagedown" => "PgDn",
                    "up" => "↑",
                    "down" => "↓",
                    "left" => "←",
                    "right" => "→",
                    other => return write!(f, "{}{}", other[..1].to_uppercase(), &other[1..]),
                };
                f.write_str(label)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("keymap: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("keymap: unknown context [{0}] (global, log, driver, help)")]
    Context(String),
    #[error("keymap: cannot read key {0:?} in [{1}]")]
    Key(String, String),
}

#[derive(Debug, Clone, Default)]
pub struct Keymap {
    tables: BTreeMap<Context, Vec<(Chord, Action)>>,
}

impl Keymap {
    /// The built-in table, with `user` (TOML of the same layout) laid over it.
    pub fn load(user: Option<&str>) -> Result<Self, KeymapError> {
        let mut map = Self::default();
        map.merge(DEFAULT_KEYMAP)?;
        if let Some(u) = user {
            map.merge(u)?;
        }
        Ok(map)
    }

    pub fn defaults() -> Self {
        Self::load(None).unwrap_or_default()
    }

    fn merge(&mut self, text: &str) -> Result<(), KeymapError> {
        // Tables keep the file's order: it is the order of the help and the README.
        let doc: toml::Table = toml::from_str(text)?;
        for (ctx_name, entries) in doc {
            let ctx = Context::from_name(&ctx_name)
                .ok_or_else(|| KeymapError::Context(ctx_name.clone()))?;
            let toml::Value::Table(entries) = entries else {
                return Err(KeymapError::Context(ctx_name));
            };
            let table = self.tables.entry(ctx).or_default();
            for (key, value) in entries {
                let action: Action = value.try_into()?;
                let chord = Chord::parse(&key)
                    .ok_or_else(|| KeymapError::Key(key.clone(), ctx_name.clone()))?;
                table.retain(|(c, _)| *c != chord);
                if action != Action::None {
                    table.push((chord, action));
                }
            }
        }
        Ok(())
    }

    /// Binds `chord` to `action` in `ctx` in place of the keys it had there.
    pub fn rebind(&mut self, ctx: Context, chord: Chord, action: Action) {
        let table = self.tables.entry(ctx).or_default();
        let at = table.iter().position(|(_, a)| *a == action);
        table.retain(|(c, a)| *c != chord && *a != action);
        table.insert(at.unwrap_or(table.len()).min(table.len()), (chord, action));
    }

    /// The first key of `action` in `ctx`'s chain, as the user types it.
    pub fn key(&self, ctx: Context, action: Action) -> Option<Chord> {
        self.keys_for(ctx, action).into_iter().next()
    }

    /// How a message names the key of `action` in `ctx` (or everywhere); an action with no
    /// key is named by its palette command.
    pub fn name(&self, ctx: Context, action: Action) -> String {
        self.key(ctx, action)
            .or_else(|| self.key(Context::Global, action))
            .map_or_else(|| format!(":{}", action.command_name()), |k| k.to_string())
    }

    /// The action of a key in `ctx`, looking through the contexts it falls back to.
    pub fn lookup(&self, ctx: Context, chord: Chord) -> Option<Action> {
        let chain = ctx.chain();
        chain.iter().find_map(|c| {
            self.tables
                .get(c)?
                .iter()
                .find(|(k, _)| *k == chord)
                .map(|(_, a)| *a)
        })
    }

    pub fn lookup_event(&self, ctx: Context, ev: &KeyEvent) -> Option<Action> {
        self.lookup(ctx, Chord::from_event(ev)?)
    }

    /// Bindings of a context in table order.
    pub fn bindings(&self, ctx: Context) -> &[(Chord, Action)] {
        self.tables.get(&ctx).map_or(&[], |v| v.as_slice())
    }

    /// Every key bound to `action` in the contexts `ctx` sees.
    pub fn keys_for(&self, ctx: Context, action: Action) -> Vec<Chord> {
        let chain = ctx.chain();
        chain
            .iter()
            .flat_map(|c| self.bindings(*c).iter())
            .filter(|(k, a)| *a == action && self.lookup(ctx, *k) == Some(action))
            .map(|(k, _)| *k)
            .fold(Vec::new(), |mut keys, k| {
                // A key bound the same in two contexts of the chain is one key.
                if !keys.contains(&k) {
                    keys.push(k);
                }
                keys
            })
    }

    /// Key hints for the status bar: the first key of each hinted action of `ctx`.
    pub fn hints(&self, ctx: Context) -> Vec<(Chord, Action, &'static str)> {
        let chain = ctx.chain();
        let order = [
            Action::Yes,
            Action::No,
            Action::Submit,
            Action::SelectNext,
            Action::Cancel,
            Action::Leave,
            Action::TypeHere,
            Action::Interrupt,
            Action::Help,
            Action::FocusNext,
            Action::Zoom,
            Action::ToggleStep,
            Action::Search,
            Action::Filter,
            Action::Follow,
            Action::Wrap,
            Action::JumpToFailure,
            Action::FailureView,
            Action::Attach,
            Action::Pdb,
            Action::SshMachine(1),
            Action::PdbContinue,
            Action::Live,
            Action::Freeze,
            Action::Close,
            Action::Palette,
            Action::Quit,
        ];
        let mut out = Vec::new();
        for action in order {
            if ctx == Context::Help && action == Action::Quit {
                continue;
            }
            let key = chain
                .iter()
                .flat_map(|c| self.bindings(*c).iter())
                .find(|(k, a)| *a == action && self.lookup(ctx, *k) == Some(action));
            if let (Some((k, _)), Some(label)) = (key, action.hint()) {
                out.push((*k, action, label));
            }
        }
        out
    }
}

impl Keymap {
    /// The key list as a Markdown table per context: the README's list of keys.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for ctx in Context::ALL {
            out.push_str(&format!(
                "**{}**\n\n| keys | action |\n|---|---|\n",
                ctx.title()
            ));
            let mut seen: Vec<Action> = Vec::new();
            for (_, action) in self.bindings(ctx) {
                if seen.contains(action) {
                    continue;
                }
                seen.push(*action);
                let keys: Vec<String> = self
                    .bindings(ctx)
                    .iter()
                    .filter(|(_, a)| a == action)
                    .map(|(k, _)| format!("`{}`", k.to_string().replace('|', "\\|")))
                    .collect();
                let what = match action {
                    Action::FocusMachine(_) => "focus machine pane 1–9".to_string(),
                    Action::SshMachine(_) => {
                        "shell into machine 1–9 (in the sandbox when paused in one)".to_string()
                    }
                    a => a.describe().to_string(),
                };
                if matches!(action, Action::FocusMachine(n) | Action::SshMachine(n) if *n > 1) {
                    continue;
                }
                let keys = if matches!(action, Action::FocusMachine(_) | Action::SshMachine(_)) {
                    "`1`…`9`".to_string()
                } else {
                    keys.join(" ")
                };
                out.push_str(&format!("| {keys} | {what} |\n"));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn defaults_load_and_resolve_through_contexts() {
        let k = Keymap::defaults();
        assert_eq!(
            k.lookup_event(Context::Driver, &key(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Action::ToggleStep)
        );
        assert_eq!(
            k.lookup_event(Context::Log, &key(KeyCode::Enter, KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            k.lookup_event(Context::Log, &key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            k.lookup_event(Context::Log, &key(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            k.lookup_event(Context::Help, &key(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Close)
        );
        assert_eq!(
            k.lookup_event(Context::Log, &key(KeyCode::Char('3'), KeyModifiers::NONE)),
            Some(Action::FocusMachine(3))
        );
        assert_eq!(
            k.lookup_event(
                Context::Log,
                &key(KeyCode::Char('d'), KeyModifiers::CONTROL)
            ),
            Some(Action::HalfPageDown)
        );
        assert_eq!(
            k.lookup_event(Context::Log, &key(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::FocusPrev)
        );
    }

    #[test]
    fn control_punctuation_reads_as_itself() {
        let ev = key(KeyCode::Char('5'), KeyModifiers::CONTROL);
        assert_eq!(Chord::from_event(&ev), Chord::parse("ctrl-]"));
        assert_eq!(Chord::parse("ctrl-]").unwrap().to_string(), "Ctrl-]");
    }

    #[test]
    fn user_entries_override_single_keys() {
        let k = Keymap::load(Some("[log]\nj = \"page_down\"\nw = \"none\"\n")).expect("valid");
        assert_eq!(
            k.lookup(Context::Log, Chord::parse("j").unwrap()),
            Some(Action::PageDown)
        );
        assert_eq!(k.lookup(Context::Log, Chord::parse("w").unwrap()), None);
        assert_eq!(
            k.lookup(Context::Log, Chord::parse("k").unwrap()),
            Some(Action::ScrollUp)
        );
    }

    #[test]
    fn bad_user_keymaps_are_reported() {
        assert!(matches!(
            Keymap::load(Some("[nope]\nx = \"quit\"")),
            Err(KeymapError::Context(_))
        ));
        assert!(matches!(
            Keymap::load(Some("[log]\nxyz = \"quit\"")),
            Err(KeymapError::Key(..))
        ));
        assert!(matches!(
            Keymap::load(Some("[log]\nx = \"fly\"")),
            Err(KeymapError::Toml(_))
        ));
    }

    #[test]
    fn hints_come_from_the_table() {
        let k = Keymap::load(Some("[global]\nz = \"none\"\nZ = \"zoom\"\n")).expect("valid");
        let hints = k.hints(Context::Log);
        assert!(
            hints
                .iter()
                .any(|(c, _, l)| c.to_string() == "Z" && *l == "zoom")
        );
        assert!(!hints.iter().any(|(c, _, _)| c.to_string() == "z"));
    }
}
