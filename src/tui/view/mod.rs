//! Drawing: [`view`] lays out one screen (header, rollout timeline, gate table, charts
//! or tuning panel, event log, funnel panel, footer) and the overlays (help, explain),
//! one file per panel; this file holds the layout and the helpers the panels share
//! (panel borders, stage colours, clock text, centring an overlay). Drawing reads the
//! model and never changes it. Every colour has a symbol or word beside it, so the screen
//! reads on a monochrome terminal; the layout fits 80x24 and grows with the terminal.

mod charts;
mod explain;
mod footer;
mod funnel;
mod gates;
mod header;
mod help;
mod log;
mod timeline;
mod tune;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::input::Millis;

use super::data::StageStatus;
use super::model::{Model, Overlay};

const FUNNEL_WIDTH: u16 = 26;

fn status_color(s: StageStatus) -> Color {
    match s {
        StageStatus::Go => Color::Green,
        StageStatus::Hold => Color::Yellow,
        StageStatus::Rollback => Color::Red,
        StageStatus::Running => Color::Cyan,
        StageStatus::Pending | StageStatus::NotRun => Color::DarkGray,
    }
}

/// `HH:MM:SS` of an instant.
fn hms(ms: Millis) -> String {
    let s = ms.rem_euclid(86_400_000) / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn panel(title: &str, focused: bool) -> Block<'_> {
    let b = Block::default().borders(Borders::ALL).title(title);
    if focused {
        b.border_style(Style::default().add_modifier(Modifier::BOLD))
            .title_style(Style::default().add_modifier(Modifier::BOLD))
    } else {
        b.border_style(Style::default().fg(Color::DarkGray))
    }
}

/// Draws the whole screen.
pub fn view(m: &Model, f: &mut Frame) {
    let area = f.area();
    if area.width < 40 || area.height < 12 {
        f.render_widget(
            Paragraph::new("rehearse tui needs at least 40x12 (80x24 recommended); q quits")
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let [header, timeline, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(m, f, header);
    timeline::draw(m, f, timeline);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(body);
    let wide = top.width >= 110;
    let gate_w = if wide {
        (top.width * 52 / 100).max(60)
    } else {
        50.min(top.width * 62 / 100)
    };
    let [gates, right] =
        Layout::horizontal([Constraint::Length(gate_w), Constraint::Min(0)]).areas(top);
    gates::draw(m, f, gates, wide);
    if m.tuning {
        tune::draw(m, f, right);
    } else {
        charts::draw(m, f, right);
    }
    let funnel_w = if bottom.width >= 70 { FUNNEL_WIDTH } else { 0 };
    let [events, funnel] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(funnel_w)]).areas(bottom);
    log::draw(m, f, events);
    if funnel_w > 0 {
        funnel::draw(m, f, funnel);
    }
    footer::draw(m, f, footer);
    match m.overlay {
        Some(Overlay::Help) => help::draw(f, area),
        Some(Overlay::Explain { subject, scroll }) => explain::draw(m, f, area, subject, scroll),
        None => {}
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
