//! A machine's screenshot: beside its pane or on the whole screen, with what OCR read of
//! that machine's screen around the time it was taken.

use ratatui::Frame;
use ratatui::layout::{Rect, Size};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui_image::{Image, Resize};

use crate::app::state::App;
use crate::vm::model::StepState;
use crate::vm::shots::Ocr;

/// Draws the screenshot shown into `area`.
pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(open) = app.shots.open else { return };
    let s = app.shown();
    let all = app.shots.of_machine(&s, open.test, open.machine);
    let Some(shot) = all.get(open.index) else {
        return;
    };
    let machine = &s.test.machines[open.machine].name;
    f.render_widget(Clear, area);
    let failed = shot.state == StepState::Failed;
    let title = format!(
        " {machine} · screenshot {} of {} · {}{} ",
        open.index + 1,
        all.len(),
        shot.name,
        if failed { " (failed)" } else { "" }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(Color::Cyan))
        .title(Span::styled(
            title,
            Style::new().add_modifier(Modifier::BOLD),
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.width < 4 || inner.height < 3 {
        return;
    }
    // What OCR read of this machine between this screenshot and the next.
    let next_at = all.get(open.index + 1).map_or(u64::MAX, |n| n.at.at);
    let read: Vec<Ocr> = app
        .shots
        .ocr(open.test, s.test)
        .iter()
        .filter(|o| o.machine == open.machine && o.at.at >= shot.at.at && o.at.at < next_at)
        .cloned()
        .collect();
    let text = ocr_lines(&read);
    let text_h = (text.len() as u16).min(inner.height / 3);
    let image_area = Rect {
        height: inner.height - text_h,
        ..inner
    };
    if text_h > 0 {
        let r = Rect::new(inner.x, inner.bottom() - text_h, inner.width, text_h);
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), r);
    }
    let path = match app.shots.file(shot) {
        Ok(p) => p,
        Err(e) => return say(f, image_area, &e),
    };
    let img = match app.shots.image(&path) {
        Ok(img) => img,
        Err(e) => return say(f, image_area, &e),
    };
    let size = Size::new(image_area.width, image_area.height);
    let mut drawn = app.shots.drawn.borrow_mut();
    let fresh = drawn
        .as_ref()
        .is_some_and(|(p, sz, _)| *p == path && *sz == size);
    if !fresh {
        let filter = Some(ratatui_image::FilterType::Triangle);
        match app
            .shots
            .picker
            .new_protocol((*img).clone(), size, Resize::Scale(filter))
        {
            Ok(p) => *drawn = Some((path, size, p)),
            Err(e) => return say(f, image_area, &e.to_string()),
        }
    }
    if let Some((_, _, proto)) = drawn.as_ref() {
        f.render_widget(Image::new(proto), image_area);
    }
}

fn say(f: &mut Frame<'_>, area: Rect, text: &str) {
    f.render_widget(
        Paragraph::new(Line::styled(
            text.to_string(),
            Style::new().fg(Color::Yellow),
        ))
        .wrap(Wrap { trim: false }),
        area,
    );
}

/// The OCR waits, each with the text its last attempt read.
fn ocr_lines(read: &[Ocr]) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for o in read {
        let (mark, color) = match o.state {
            StepState::Failed => ("✗", Color::Red),
            StepState::Passed => ("✓", Color::Green),
            _ => ("…", Color::Yellow),
        };
        out.push(Line::from(vec![
            Span::styled(format!("{mark} OCR waited for "), Style::new().fg(color)),
            Span::styled(o.pattern.clone(), Style::new().add_modifier(Modifier::BOLD)),
        ]));
        if let Some(first) = o.read.first() {
            out.push(Line::from(vec![
                Span::styled("  read: ", Style::new().fg(Color::DarkGray)),
                Span::raw(first.replace('\n', " ⏎ ")),
            ]));
        }
    }
    out
}
