//! The tuning panel, shown instead of the charts while tuning: the knobs with their
//! values (moved ones marked), the selected knob's base value, the verdict changes of
//! the last move, and where `s` saves. The knobs and re-evaluation live in
//! `tui::tune`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use crate::tui::fmt::fit;
use crate::tui::model::{Focus, Model};
use crate::tui::tune::KnobKind;

use super::panel;

pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect) {
    let focused = m.focus == Focus::Tune && m.overlay.is_none();
    let block = panel(" tune: ←/→ move · 0 reset · s save ", focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(t) = &m.session.tuner else {
        f.render_widget(
            Paragraph::new(
                "No tuning: a recording holds the run's verdict events, not the per-tick data needed to re-evaluate. Replay the dataset or scenario to tune.",
            )
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    let w = inner.width as usize;
    let mut info: Vec<Line> = Vec::new();
    if let Some(k) = t.knobs.get(m.knob_sel) {
        info.push(Line::styled(
            fit(
                &format!("{} (base {})", k.key, k.show(k.base, t.base.tick_ms)),
                w,
            ),
            Style::default().fg(Color::DarkGray),
        ));
    }
    if let Some(c) = &m.change {
        let mut head = format!("changed: {}", c.what);
        if m.show_timings {
            head.push_str(&format!(" ({} ms)", c.elapsed.as_millis()));
        }
        info.push(Line::raw(fit(&head, w)));
        if c.diffs.is_empty() {
            info.push(Line::raw("  no verdict changes"));
        }
        for d in &c.diffs {
            info.push(Line::styled(
                fit(&format!("  Δ {d}"), w),
                Style::default()
                    .fg(Color::Magenta)
                    .add_modifier(Modifier::BOLD),
            ));
        }
    }
    info.push(Line::styled(
        fit(&format!("s saves to {}", m.save_path.display()), w),
        Style::default().fg(Color::DarkGray),
    ));
    let list_h = inner
        .height
        .saturating_sub(info.len() as u16)
        .max(3.min(inner.height));
    let [list_area, info_area] =
        Layout::vertical([Constraint::Length(list_h), Constraint::Min(0)]).areas(inner);
    let items: Vec<ListItem> = t
        .knobs
        .iter()
        .map(|k| {
            let v = match k.kind {
                KnobKind::SustainTicks => format!("{} ticks", k.value as i64),
                _ => k.show(k.value, t.base.tick_ms),
            };
            let mark = if k.changed() { "*" } else { " " };
            let lw = w.saturating_sub(v.chars().count() + 3).max(4);
            let text = format!("{mark}{:<lw$} {v}", fit(&k.label, lw));
            ListItem::new(text).style(if k.changed() {
                Style::default().fg(Color::Magenta)
            } else {
                Style::default()
            })
        })
        .collect();
    let list = List::new(items)
        .highlight_symbol("›")
        .highlight_style(if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        });
    let mut state = ListState::default().with_selected(Some(m.knob_sel));
    f.render_stateful_widget(list, list_area, &mut state);
    f.render_widget(Paragraph::new(info), info_area);
}
