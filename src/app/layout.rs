//! Where each pane goes: a grid of machine panes that adapts to their number and the
//! terminal, the driver pane beside (or below) it, and with many machines a list of them
//! next to the few panes that fit.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::view::Pane;

/// Where things were drawn, for the mouse, paging and the terminals' sizes.
#[derive(Debug, Clone, Default)]
pub struct Drawn {
    pub panes: Vec<(Pane, Rect)>,
    pub machine_list: Option<Rect>,
    /// The tab labels of the top bar (`None`: the panes).
    pub tabs: Vec<(Option<usize>, Rect)>,
    /// The inner size a tab's terminal has (or would have).
    pub tab_size: Option<(u16, u16)>,
    /// The column of the border between the grid and the driver column, for dragging.
    pub divider: Option<u16>,
    /// Where the timeline's plot was drawn, when it is shown.
    pub timeline: Option<Plot>,
}

/// The timeline's plot as drawn: its columns, and its rows of steps and machines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plot {
    pub x: u16,
    pub width: u16,
    /// The screen row of the first row shown, how many rows are shown, and which row of the
    /// timeline the first is.
    pub y: u16,
    pub rows: u16,
    pub first_row: usize,
}

/// The screen as the user arranged it: where things were drawn, the mouse reporting, the
/// driver column's width (by key or by dragging its border).
#[derive(Debug, Clone)]
pub struct Screen {
    pub drawn: Drawn,
    /// Mouse reporting is on.
    pub mouse: bool,
    /// The driver column's width as the user set it (columns), if they did.
    pub driver_width: Option<u16>,
    /// The driver column's border is being dragged.
    dragging: bool,
    /// Panes as the last frame drew them.
    pub cache: crate::panes::cache::PaneCache,
    /// The colours the screen is drawn in.
    pub theme: crate::panes::theme::Theme,
}

impl Default for Screen {
    fn default() -> Self {
        Self {
            drawn: Drawn::default(),
            mouse: true,
            driver_width: None,
            dragging: false,
            cache: Default::default(),
            theme: Default::default(),
        }
    }
}

impl Screen {
    /// What a mouse event means; dragging the driver column's border is done here.
    pub fn mouse_event(&mut self, ev: &MouseEvent, machines: usize) -> Mouse {
        match self.drawn.mouse(ev, self.dragging, machines) {
            Mouse::Grab => self.dragging = true,
            Mouse::Width(w) => self.driver_width = Some(w),
            Mouse::Release => self.dragging = false,
            m => return m,
        }
        Mouse::Nothing
    }

    /// The screen's own keys: mouse capture, the driver column's width. `key` is the
    /// action's key, said with it.
    pub fn act(&mut self, action: super::action::Action, key: &str) -> Vec<super::effect::Effect> {
        use super::action::Action;
        match action {
            Action::MouseCapture => {
                self.mouse = !self.mouse;
                return Self::mouse(self.mouse, key);
            }
            Action::DriverWider => self.driver_by(8),
            Action::DriverNarrower => self.driver_by(-8),
            _ => {}
        }
        Vec::new()
    }

    /// Mouse reporting turned `on` or off, said with the key (`key`) that turns it back.
    fn mouse(on: bool, key: &str) -> Vec<super::effect::Effect> {
        let text = if on {
            "mouse on: clicks and the wheel go to vmscope".to_string()
        } else {
            format!("mouse off: the terminal selects text ({key} turns it back on)")
        };
        use super::effect::Effect;
        vec![Effect::Mouse(on), Effect::say(text)]
    }

    /// A key moved the driver column's border by `step` columns.
    pub fn driver_by(&mut self, step: i32) {
        self.driver_width = Some(self.drawn.driver_width_by(step));
    }
}

/// What a mouse event means on the screen as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mouse {
    /// A tab label (or the panes' label) was clicked.
    Tab(Option<usize>),
    /// A pane, or a machine of the list, was clicked.
    Focus(Pane),
    /// The timeline's plot was clicked: its column (of the plot's width) and row.
    Timeline {
        column: u16,
        width: u16,
        row: usize,
    },
    /// The driver column's border was taken, to drag.
    Grab,
    /// Dragged to where the driver column is this wide.
    Width(u16),
    Release,
    /// The wheel over a pane (or over nothing): lines, up negative.
    Scroll(Option<Pane>, i64),
    Nothing,
}

impl Drawn {
    /// The driver column's width after a key moved its border by `step` columns.
    pub fn driver_width_by(&self, step: i32) -> u16 {
        let now = self
            .panes
            .iter()
            .find(|(p, _)| *p == Pane::Driver)
            .map_or(60, |(_, r)| r.width);
        (i32::from(now) + step).clamp(20, 400) as u16
    }

    pub fn pane_at(&self, at: Position) -> Option<Pane> {
        self.panes
            .iter()
            .find(|(_, r)| r.contains(at))
            .map(|(p, _)| *p)
    }

    /// What `ev` means; `dragging`: the border was grabbed; `machines`: the list's rows.
    pub fn mouse(&self, ev: &MouseEvent, dragging: bool, machines: usize) -> Mouse {
        let at = Position::new(ev.column, ev.row);
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(p) = self.timeline.filter(|p| {
                    (p.x..p.x + p.width).contains(&ev.column)
                        && (p.y..p.y + p.rows).contains(&ev.row)
                }) {
                    Mouse::Timeline {
                        column: ev.column - p.x,
                        width: p.width,
                        row: p.first_row + usize::from(ev.row - p.y),
                    }
                } else if let Some(&(tab, _)) = self.tabs.iter().find(|(_, r)| r.contains(at)) {
                    Mouse::Tab(tab)
                } else if self.divider == Some(ev.column) {
                    Mouse::Grab
                } else if let Some(p) = self.pane_at(at) {
                    Mouse::Focus(p)
                } else if let Some(list) = self.machine_list.filter(|l| l.contains(at)) {
                    let row = ev.row.saturating_sub(list.y + 1) as usize;
                    if row < machines {
                        Mouse::Focus(Pane::Machine(row))
                    } else {
                        Mouse::Nothing
                    }
                } else {
                    Mouse::Nothing
                }
            }
            MouseEventKind::Drag(MouseButton::Left) if dragging => {
                let right = self.panes.iter().map(|(_, r)| r.right()).max().unwrap_or(0);
                Mouse::Width(right.saturating_sub(ev.column))
            }
            MouseEventKind::Up(_) if dragging => Mouse::Release,
            MouseEventKind::ScrollUp => Mouse::Scroll(self.pane_at(at), -3),
            MouseEventKind::ScrollDown => Mouse::Scroll(self.pane_at(at), 3),
            _ => Mouse::Nothing,
        }
    }
}

/// Smallest terminal vmscope draws in.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 8;
/// Smallest machine pane, borders included.
const PANE_MIN_W: u16 = 28;
const PANE_MIN_H: u16 = 5;
const LIST_WIDTH: u16 = 26;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub top: Rect,
    pub bottom: Rect,
    pub panes: Vec<(Pane, Rect)>,
    pub machine_list: Option<Rect>,
    pub too_small: bool,
}

/// What the layout is for, besides the screen's size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub machines: usize,
    pub focus: Pane,
    pub zoom: bool,
    /// A live run's terminal is shown.
    pub command: bool,
    /// Keys go to that terminal: it gets room to type (at least `TYPING_ROWS`).
    pub typing: bool,
    /// The driver column's width as the user set it.
    pub driver_width: Option<u16>,
    /// The merged view takes the machines' and the driver's place.
    pub merged: bool,
}

/// Rows a terminal being typed in gets at least (its frame included), where the screen has
/// them: ptpython needs about a dozen to draw its prompt and completions.
const TYPING_ROWS: u16 = 14;

pub fn compute(area: Rect, machines: usize, focus: Pane, zoom: bool, command: bool) -> Layout {
    compute_for(
        area,
        &Want {
            machines,
            focus,
            zoom,
            command,
            ..Want::default()
        },
    )
}

pub fn compute_for(area: Rect, want: &Want) -> Layout {
    let &Want {
        machines,
        focus,
        zoom,
        command,
        typing,
        driver_width,
        merged,
    } = want;
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return Layout {
            too_small: true,
            ..Layout::default()
        };
    }
    let top = Rect::new(area.x, area.y, area.width, 1);
    let bottom = Rect::new(area.x, area.bottom() - 1, area.width, 1);
    let mut body = Rect::new(area.x, area.y + 1, area.width, area.height - 2);
    let mut out = Layout {
        top,
        bottom,
        ..Layout::default()
    };
    if zoom && (focus != Pane::Command || command) {
        out.panes.push((focus, body));
        return out;
    }
    // A live run's terminal: a band across the bottom.
    if command {
        let mut h = if body.height >= 16 {
            (body.height * 2 / 5).max(8)
        } else {
            body.height / 2
        };
        if typing {
            // The rest keeps one band of panes, the driver's at least.
            h = h.max(TYPING_ROWS.min(body.height.saturating_sub(PANE_MIN_H + 1)));
        }
        out.panes.push((
            Pane::Command,
            Rect::new(body.x, body.bottom() - h, body.width, h),
        ));
        body.height -= h;
    }
    if merged {
        out.panes.push((Pane::All, body));
        return out;
    }
    if machines == 0 {
        out.panes.push((Pane::Driver, body));
        return out;
    }
    // The driver pane: a column on the right, or a band below on narrow terminals.
    let (machine_area, driver) = if body.width >= 100 {
        let w = driver_width
            .unwrap_or((body.width * 35 / 100).clamp(34, 80))
            .clamp(20, body.width - PANE_MIN_W);
        (
            Rect::new(body.x, body.y, body.width - w, body.height),
            Rect::new(body.x + body.width - w, body.y, w, body.height),
        )
    } else {
        let h = (body.height * 2 / 5)
            .max(4)
            .min(body.height.saturating_sub(PANE_MIN_H));
        (
            Rect::new(body.x, body.y, body.width, body.height - h),
            Rect::new(body.x, body.y + body.height - h, body.width, h),
        )
    };
    match best_grid(machine_area, machines) {
        Some((cols, rows)) => place(&mut out, machine_area, (0..machines).collect(), cols, rows),
        None => {
            let list = Rect::new(
                machine_area.x,
                machine_area.y,
                LIST_WIDTH.min(machine_area.width / 2),
                machine_area.height,
            );
            let rest = Rect::new(
                machine_area.x + list.width,
                machine_area.y,
                machine_area.width - list.width,
                machine_area.height,
            );
            out.machine_list = Some(list);
            let cols = (rest.width / PANE_MIN_W).max(1);
            let rows = (rest.height / PANE_MIN_H).max(1);
            let fit = (cols * rows) as usize;
            let fit = fit.min(machines).max(1);
            // A window of machines that holds the focused one.
            let focused = match focus {
                Pane::Machine(m) => m,
                Pane::Driver | Pane::Command | Pane::All => 0,
            };
            let start = focused.saturating_sub(fit - 1).min(machines - fit);
            let shown: Vec<usize> = (start..start + fit).collect();
            let (c, r) = best_grid(rest, fit).unwrap_or((cols, rows));
            place(&mut out, rest, shown, c, r);
        }
    }
    out.panes.push((Pane::Driver, driver));
    out
}

/// The grid (columns, rows) that gives every one of `n` panes the most balanced room.
fn best_grid(area: Rect, n: usize) -> Option<(u16, u16)> {
    let mut best: Option<((u16, u16), u32)> = None;
    for cols in 1..=n as u16 {
        let rows = (n as u16).div_ceil(cols);
        let (w, h) = (area.width / cols, area.height / rows);
        if w < PANE_MIN_W || h < PANE_MIN_H {
            continue;
        }
        // Terminal cells are about twice as tall as wide.
        let score = u32::from(w).min(u32::from(h) * 3);
        if best.is_none_or(|(_, s)| score > s) {
            best = Some(((cols, rows), score));
        }
    }
    best.map(|(g, _)| g)
}

fn place(out: &mut Layout, area: Rect, machines: Vec<usize>, cols: u16, rows: u16) {
    let n = machines.len();
    for (i, m) in machines.into_iter().enumerate() {
        let (c, r) = ((i as u16) % cols, (i as u16) / cols);
        // The last row's panes share its whole width.
        let in_row = if r == rows - 1 {
            (n as u16) - r * cols
        } else {
            cols
        };
        let x0 = area.x + area.width * c / in_row;
        let x1 = area.x + area.width * (c + 1) / in_row;
        let y0 = area.y + area.height * r / rows;
        let y1 = area.y + area.height * (r + 1) / rows;
        out.panes
            .push((Pane::Machine(m), Rect::new(x0, y0, x1 - x0, y1 - y0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_columns_border_is_dragged_and_a_click_focuses() {
        use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
        let l = compute(Rect::new(0, 0, 160, 48), 2, Pane::Driver, false, false);
        let driver = l.panes.iter().find(|(p, _)| *p == Pane::Driver).unwrap().1;
        let mut screen = Screen {
            drawn: Drawn {
                panes: l.panes.clone(),
                divider: Some(driver.x),
                ..Drawn::default()
            },
            ..Screen::default()
        };
        let ev = |kind, column, row| MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        };
        let down = MouseEventKind::Down(MouseButton::Left);
        let drag = MouseEventKind::Drag(MouseButton::Left);
        // A click inside a pane focuses it.
        assert_eq!(
            screen.mouse_event(&ev(down, 2, 2), 2),
            Mouse::Focus(Pane::Machine(0))
        );
        // The border is taken, dragged left by 20 columns, let go.
        assert_eq!(
            screen.mouse_event(&ev(down, driver.x, 5), 2),
            Mouse::Nothing
        );
        screen.mouse_event(&ev(drag, driver.x - 20, 5), 2);
        assert_eq!(screen.driver_width, Some(driver.width + 20));
        screen.mouse_event(
            &ev(MouseEventKind::Up(MouseButton::Left), driver.x - 20, 5),
            2,
        );
        // Dragging without the border taken changes nothing.
        screen.mouse_event(&ev(drag, 10, 5), 2);
        assert_eq!(screen.driver_width, Some(driver.width + 20));
        // And the layout gives the driver that width.
        let want = Want {
            machines: 2,
            driver_width: screen.driver_width,
            ..Want::default()
        };
        let l2 = compute_for(Rect::new(0, 0, 160, 48), &want);
        let d2 = l2.panes.iter().find(|(p, _)| *p == Pane::Driver).unwrap().1;
        assert_eq!(d2.width, driver.width + 20);
    }

    fn machines(l: &Layout) -> usize {
        l.panes
            .iter()
            .filter(|(p, _)| matches!(p, Pane::Machine(_)))
            .count()
    }

    #[test]
    fn few_machines_get_a_grid_and_the_driver_a_column() {
        let l = compute(Rect::new(0, 0, 200, 50), 3, Pane::Driver, false, false);
        assert_eq!(machines(&l), 3);
        assert!(l.machine_list.is_none());
        let driver = l.panes.iter().find(|(p, _)| *p == Pane::Driver).unwrap().1;
        assert_eq!(driver.right(), 200);
        for (p, r) in &l.panes {
            if *p != Pane::Driver {
                assert!(!r.intersects(driver));
            }
        }
    }

    #[test]
    fn many_machines_get_a_list() {
        let l = compute(
            Rect::new(0, 0, 120, 30),
            16,
            Pane::Machine(15),
            false,
            false,
        );
        assert!(l.machine_list.is_some());
        assert!(machines(&l) < 16);
        assert!(
            l.panes.iter().any(|(p, _)| *p == Pane::Machine(15)),
            "the focused machine is shown"
        );
    }

    #[test]
    fn sixteen_fit_on_a_big_terminal() {
        let l = compute(Rect::new(0, 0, 300, 90), 16, Pane::Driver, false, false);
        assert_eq!(machines(&l), 16);
    }

    #[test]
    fn every_size_gives_panes_inside_the_screen_that_never_overlap() {
        for w in (MIN_WIDTH..=220).step_by(7) {
            for h in (MIN_HEIGHT..=70).step_by(5) {
                for (n, command) in (0..20).flat_map(|n| [(n, false), (n, true)]) {
                    let area = Rect::new(0, 0, w, h);
                    let l = compute(area, n, Pane::Machine(n.saturating_sub(1)), false, command);
                    assert!(!l.too_small);
                    let mut rects: Vec<Rect> = l.panes.iter().map(|(_, r)| *r).collect();
                    rects.extend(l.machine_list);
                    for (i, a) in rects.iter().enumerate() {
                        assert!(
                            area.contains(a.as_position()) && a.right() <= w && a.bottom() <= h,
                            "{w}x{h} n={n}: {a:?}"
                        );
                        for b in &rects[i + 1..] {
                            assert!(!a.intersects(*b), "{w}x{h} n={n}: {a:?} overlaps {b:?}");
                        }
                    }
                    assert!(l.panes.iter().any(|(p, _)| *p == Pane::Driver));
                    assert_eq!(l.panes.iter().any(|(p, _)| *p == Pane::Command), command);
                }
            }
        }
    }

    #[test]
    fn zoom_and_tiny() {
        let l = compute(Rect::new(0, 0, 100, 30), 4, Pane::Machine(2), true, false);
        assert_eq!(l.panes, vec![(Pane::Machine(2), Rect::new(0, 1, 100, 28))]);
        assert!(compute(Rect::new(0, 0, 30, 5), 4, Pane::Driver, false, false).too_small);
    }
}
