//! Turning a stored line into styled cells: SGR colours, search highlights, wrapping and
//! horizontal scrolling.

use ansi_to_tui::IntoText;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::app::view::Matcher;
use crate::vm::store::StoredLine;

/// Writes a row into the buffer as `Buffer::set_line` does; spans of printable ASCII (nearly
/// all console text) go cell by cell, without the grapheme segmentation that costs most of a
/// frame.
pub fn put_line(buf: &mut ratatui::buffer::Buffer, x: u16, y: u16, line: &Line<'_>, width: u16) {
    let end = x.saturating_add(width).min(buf.area.right());
    if y < buf.area.top() || y >= buf.area.bottom() {
        return;
    }
    let mut col = x;
    for span in &line.spans {
        if col >= end {
            break;
        }
        let style = line.style.patch(span.style);
        let text = span.content.as_ref();
        if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            for b in text.bytes() {
                if col >= end {
                    break;
                }
                buf[(col, y)].set_char(char::from(b)).set_style(style);
                col += 1;
            }
        } else {
            col = buf
                .set_stringn(col, y, text, usize::from(end - col), style)
                .0;
        }
    }
}

pub const MATCH: Style = Style::new().fg(Color::Black).bg(Color::Yellow);

/// The spans of a line's text: its own colours (SGR, parsed by ansi-to-tui), with `base`
/// under them and search matches on top.
pub fn spans(line: &StoredLine, base: Style, search: Option<&Matcher>) -> Vec<Span<'static>> {
    let coloured = line
        .has_style()
        .then(|| line.display().as_bytes().into_text().ok())
        .flatten();
    let mut out: Vec<Span<'static>> = match coloured {
        Some(text) => text
            .lines
            .into_iter()
            .flat_map(|l| l.spans)
            .map(|s| Span::styled(s.content.into_owned(), base.patch(s.style)))
            .collect(),
        None => vec![Span::styled(line.plain().into_owned(), base)],
    };
    if let Some(m) = search {
        let ranges = m.ranges(&line.plain());
        if !ranges.is_empty() {
            out = emphasize(out, &ranges, MATCH);
        }
    }
    out
}

/// Splits spans at byte ranges of their joined text and styles those ranges with `style`.
pub fn emphasize(
    spans: Vec<Span<'static>>,
    ranges: &[(usize, usize)],
    style: Style,
) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut pos = 0;
    for span in spans {
        let text = span.content.as_ref();
        let (start, end) = (pos, pos + text.len());
        let mut cut = start;
        for &(a, b) in ranges {
            if b <= start || a >= end {
                continue;
            }
            let (a, b) = (a.max(start), b.min(end));
            if !text.is_char_boundary(a - start) || !text.is_char_boundary(b - start) {
                continue;
            }
            if a > cut {
                out.push(Span::styled(
                    text[cut - start..a - start].to_string(),
                    span.style,
                ));
            }
            out.push(Span::styled(
                text[a - start..b - start].to_string(),
                span.style.patch(style),
            ));
            cut = b;
        }
        if cut < end {
            out.push(Span::styled(text[cut - start..].to_string(), span.style));
        }
        pos = end;
    }
    out
}

/// Cuts spans into rows of `width` columns (wrapping), after a prefix repeated as
/// indentation on continuation rows.
pub fn wrap(
    prefix: Vec<Span<'static>>,
    spans: Vec<Span<'static>>,
    width: usize,
) -> Vec<Line<'static>> {
    let pw: usize = prefix.iter().map(Span::width).sum();
    let avail = width.saturating_sub(pw).max(1);
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = prefix.clone();
    let mut cur_w = 0;
    for span in spans {
        let mut buf = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if cur_w + w > avail && cur_w > 0 {
                if !buf.is_empty() {
                    cur.push(Span::styled(std::mem::take(&mut buf), span.style));
                }
                rows.push(Line::from(std::mem::take(&mut cur)));
                cur.push(Span::raw(" ".repeat(pw)));
                cur_w = 0;
            }
            buf.push(c);
            cur_w += w;
        }
        if !buf.is_empty() {
            cur.push(Span::styled(buf, span.style));
        }
    }
    rows.push(Line::from(cur));
    rows
}

/// One row: skips `skip` columns of the text, then cuts at the width.
pub fn crop(
    prefix: Vec<Span<'static>>,
    spans: Vec<Span<'static>>,
    skip: usize,
    width: usize,
) -> Line<'static> {
    let pw: usize = prefix.iter().map(Span::width).sum();
    let avail = width.saturating_sub(pw);
    let mut out = prefix;
    let mut col = 0;
    let mut used = 0;
    for span in spans {
        let mut buf = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if col < skip {
                col += w;
                continue;
            }
            if used + w > avail {
                break;
            }
            buf.push(c);
            used += w;
        }
        if !buf.is_empty() {
            out.push(Span::styled(buf, span.style));
        }
        if used >= avail {
            break;
        }
    }
    Line::from(out)
}

/// Style of a whole row: the driver's cursor.
pub fn cursor_style() -> Style {
    Style::new()
        .bg(Color::DarkGray)
        .add_modifier(Modifier::BOLD)
}

/// The line at the moment shown, in the panes that follow the focused one.
pub fn moment_style() -> Style {
    Style::new()
        .add_modifier(Modifier::UNDERLINED)
        .bg(Color::Indexed(238))
}

#[cfg(test)]
mod tests {
    #[test]
    fn put_line_writes_what_set_line_writes() {
        use ratatui::buffer::Buffer;
        use ratatui::layout::Rect;
        let line = Line::from(vec![
            Span::styled("[  OK  ] ", Style::new().fg(Color::Green)),
            Span::raw("Started 日本語 unit "),
            Span::styled("é\u{301}x", MATCH),
            Span::raw(" and the rest of a long line that does not fit"),
        ])
        .style(Style::new().bg(Color::Blue));
        for width in [0, 5, 12, 30, 80] {
            let area = Rect::new(0, 0, 60, 2);
            let (mut a, mut b) = (Buffer::empty(area), Buffer::empty(area));
            a.set_line(3, 1, &line, width);
            put_line(&mut b, 3, 1, &line, width);
            assert_eq!(a, b, "width {width}");
        }
    }

    use super::*;
    use crate::vm::store::{Caps, LineStore, Stamp};

    fn store(display: &str, plain: &str) -> LineStore {
        let mut s = LineStore::new(Caps::default());
        s.push(
            display,
            (display != plain).then_some(plain),
            Stamp::default(),
            0,
            0,
        );
        s
    }

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn colours_and_matches() {
        let st = store(
            "[\x1b[0;32m  OK  \x1b[0m] Started nginx",
            "[  OK  ] Started nginx",
        );
        let l = st.get(0).unwrap();
        let m = Matcher::new("started").unwrap();
        let s = spans(&l, Style::new(), Some(&m));
        let joined: String = s.iter().map(|x| x.content.as_ref()).collect();
        assert_eq!(joined, "[  OK  ] Started nginx");
        let ok = s.iter().find(|x| x.content.contains("OK")).unwrap();
        assert_eq!(ok.style.fg, Some(Color::Green));
        let hit = s.iter().find(|x| x.content == "Started").unwrap();
        assert_eq!(hit.style.bg, Some(Color::Yellow));
    }

    #[test]
    fn wrapping_and_cropping() {
        let st = store("abcdefghij", "abcdefghij");
        let l = st.get(0).unwrap();
        let rows = wrap(vec![Span::raw("> ")], spans(&l, Style::new(), None), 6);
        assert_eq!(text(&rows), ["> abcd", "  efgh", "  ij"]);
        let row = crop(vec![], spans(&l, Style::new(), None), 3, 4);
        assert_eq!(text(&[row]), ["defg"]);
    }
}
