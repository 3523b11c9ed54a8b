//! Colours for other terminals and eyes: each frame, once drawn, is recoloured for the
//! theme chosen (`[screen] theme` in config.toml), or stripped of colour (`--color never`,
//! `NO_COLOR`). Without colour every state stays readable: states have their own symbols
//! (✓ ✗ ● …), and what a background marked (the cursor, a failed step, a badge) is shown
//! reversed; what was dim stays dim, what was red is bold.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Theme {
    /// For dark terminals.
    #[default]
    Default,
    /// For light terminals: no light text on a light ground.
    Light,
    /// Brighter text and stronger marks.
    HighContrast,
    /// No colour at all (NO_COLOR, `--color never`).
    NoColor,
}

impl Theme {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "default" => Self::Default,
            "light" => Self::Light,
            "high-contrast" => Self::HighContrast,
            "no-color" => Self::NoColor,
            _ => return None,
        })
    }
}

/// Recolours every cell of `buf` for `theme`.
pub fn apply(buf: &mut Buffer, theme: Theme) {
    if theme == Theme::Default {
        return;
    }
    for cell in &mut buf.content {
        match theme {
            Theme::Default => {}
            Theme::NoColor => {
                let mut m = cell.modifier;
                if cell.bg != Color::Reset {
                    m |= Modifier::REVERSED;
                }
                match cell.fg {
                    Color::DarkGray | Color::Indexed(236..=245) => m |= Modifier::DIM,
                    Color::Red | Color::LightRed => m |= Modifier::BOLD,
                    _ => {}
                }
                cell.modifier = m;
                cell.fg = Color::Reset;
                cell.bg = Color::Reset;
            }
            Theme::Light => {
                cell.fg = light_fg(cell.fg);
                cell.bg = light_bg(cell.bg);
            }
            Theme::HighContrast => {
                cell.fg = match cell.fg {
                    Color::DarkGray | Color::Gray | Color::Indexed(236..=250) => Color::White,
                    Color::Red => Color::LightRed,
                    Color::Green => Color::LightGreen,
                    Color::Yellow => Color::LightYellow,
                    Color::Blue => Color::LightBlue,
                    Color::Cyan => Color::LightCyan,
                    Color::Magenta => Color::LightMagenta,
                    c => c,
                };
                cell.bg = match cell.bg {
                    Color::Indexed(232..=240) | Color::DarkGray => Color::Blue,
                    c => c,
                };
                if cell.fg != Color::Reset {
                    cell.modifier |= Modifier::BOLD;
                }
            }
        }
    }
}

/// Text colours that read on a light ground.
fn light_fg(c: Color) -> Color {
    match c {
        Color::White | Color::Gray => Color::Black,
        Color::DarkGray => Color::Indexed(242),
        Color::Yellow | Color::LightYellow => Color::Indexed(130),
        Color::Cyan | Color::LightCyan => Color::Indexed(30),
        Color::Green | Color::LightGreen => Color::Indexed(28),
        Color::Magenta | Color::LightMagenta => Color::Indexed(127),
        Color::Blue | Color::LightBlue => Color::Indexed(25),
        Color::LightRed => Color::Red,
        c => c,
    }
}

/// Backgrounds made for a dark ground, made light.
fn light_bg(c: Color) -> Color {
    match c {
        Color::DarkGray | Color::Indexed(232..=240) => Color::Indexed(253),
        Color::Indexed(241..=250) => Color::Indexed(250),
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn without_colour_marks_become_reverse_and_red_bold() {
        let mut b = Buffer::empty(Rect::new(0, 0, 3, 1));
        b[(0, 0)].set_style(Style::new().bg(Color::DarkGray));
        b[(1, 0)].set_style(Style::new().fg(Color::Red));
        b[(2, 0)].set_style(Style::new().fg(Color::DarkGray));
        apply(&mut b, Theme::NoColor);
        assert!(
            b.content
                .iter()
                .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
        );
        assert!(b[(0, 0)].modifier.contains(Modifier::REVERSED));
        assert!(b[(1, 0)].modifier.contains(Modifier::BOLD));
        assert!(b[(2, 0)].modifier.contains(Modifier::DIM));
    }
}
