//! The stage timeline: one segment per stage, as wide as its share of the run, with
//! its name, weight, duration and status, the elapsed part drawn heavy, and a cursor
//! line marking the clock.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::input::Millis;
use crate::time::format_duration;
use crate::tui::fmt::fit;
use crate::tui::model::Model;

use super::{hms, status_color};

/// Splits `width` among stages: a minimum each, the rest by duration.
fn segment_widths(durations: &[Millis], width: u16) -> Vec<u16> {
    let n = durations.len().max(1) as u16;
    let min = (width / n).min(8);
    let spare = width.saturating_sub(min * n) as f64;
    let total: f64 = durations.iter().map(|d| *d as f64).sum::<f64>().max(1.0);
    let mut w: Vec<u16> = durations
        .iter()
        .map(|d| min + (spare * *d as f64 / total).floor() as u16)
        .collect();
    let mut used: u16 = w.iter().sum();
    let mut i = 0;
    while used < width && !w.is_empty() {
        let k = i % w.len();
        w[k] += 1;
        used += 1;
        i += 1;
    }
    w
}

pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect) {
    let s = &m.session;
    let durations: Vec<Millis> = s.stages.iter().map(|x| x.end - x.start).collect();
    let widths = segment_widths(&durations, area.width);
    let base = s.tuner.as_ref().map(|t| t.base_verdicts.clone());
    let finals = s.timeline.final_verdicts();
    let mut labels = Vec::new();
    let mut bar = Vec::new();
    let mut cursor_x: u16 = 0;
    let mut x: u16 = 0;
    for (i, (st, w)) in s.stages.iter().zip(&widths).enumerate() {
        let w = *w as usize;
        let status = s.timeline.status(i, m.clock);
        let color = status_color(status);
        // The longest label that fits: name, weight, duration; then name and weight.
        let full = format!(
            "{} {}% {}",
            st.name,
            st.weight * 100.0,
            format_duration(st.end - st.start)
        );
        let short = format!("{} {}%", st.name, st.weight * 100.0);
        let label = [full, short]
            .into_iter()
            .find(|l| l.chars().count() < w)
            .unwrap_or_else(|| st.name.clone());
        labels.push(Span::styled(
            format!("{:<w$}", fit(&label, w.saturating_sub(1))),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        let changed = base
            .as_ref()
            .is_some_and(|b| b.get(i).is_some_and(|v| Some(v) != finals.get(i)));
        let text = format!(
            "{}{} {}",
            if changed { "Δ" } else { "" },
            status.symbol(),
            status.label()
        );
        let text = fit(&text, w.saturating_sub(1));
        // Elapsed part of the stage drawn heavy, the rest light.
        let dur = (st.end - st.start).max(1);
        let done = ((m.clock - st.start).clamp(0, dur) as f64 / dur as f64 * w as f64) as usize;
        let tl = text.chars().count();
        let mut fill = String::new();
        for c in tl..w.saturating_sub(1) {
            fill.push(if c < done { '━' } else { '─' });
        }
        bar.push(Span::styled(
            text,
            Style::default().fg(color).add_modifier(Modifier::BOLD),
        ));
        bar.push(Span::styled(fill, Style::default().fg(color)));
        bar.push(Span::raw(" "));
        if (m.clock > st.start || i == 0) && m.clock <= st.end {
            cursor_x = x + (done.min(w.saturating_sub(1))) as u16;
        }
        x += w as u16;
    }
    if m.clock > s.span_end() {
        cursor_x = area.width.saturating_sub(1);
    }
    let mark = format!("▲ {}", hms(m.clock));
    let ml = mark.chars().count() as u16;
    let cursor_line = if cursor_x + ml <= area.width {
        format!("{}{mark}", " ".repeat(cursor_x as usize))
    } else {
        let left = format!("{} ▲", hms(m.clock));
        let pad = (cursor_x + 1).saturating_sub(left.chars().count() as u16);
        format!("{}{left}", " ".repeat(pad as usize))
    };
    let lines = vec![
        Line::from(labels),
        Line::from(bar),
        Line::styled(cursor_line, Style::default().add_modifier(Modifier::BOLD)),
    ];
    f.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_fill_the_width() {
        let w = segment_widths(&[120, 30, 60, 120], 80);
        assert_eq!(w.iter().sum::<u16>(), 80);
        assert!(w[1] >= 8, "{w:?}");
        assert!(w[0] > w[2] && w[2] > w[1], "{w:?}");
    }
}
