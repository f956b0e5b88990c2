//! The header line: the run's label, the clock and its offset from T0, the playback
//! speed and state, the outcome once reached, and how many knobs tuning has moved.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::time::{format_clock, format_duration};
use crate::tui::data::StageStatus;
use crate::tui::fmt::fit;
use crate::tui::model::Model;

use super::{hms, status_color};

pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect) {
    let s = &m.session;
    let dim = Style::default().fg(Color::DarkGray);
    let (play, play_color) = if m.playing {
        ("▶ playing", Color::Green)
    } else if m.at_end() {
        ("■ finished", Color::Cyan)
    } else {
        ("‖ paused", Color::Yellow)
    };
    let brand = " rehearse  ";
    let offset = format!(
        " T0+{}",
        format_duration((m.clock - s.t0).max(0) / 1000 * 1000)
    );
    let mut tail: Vec<Span> = vec![
        Span::styled(" │ ", dim),
        Span::raw(m.speed.label()),
        Span::styled(" │ ", dim),
        Span::styled(play, Style::default().fg(play_color)),
    ];
    if let Some((at, o)) = s.timeline.outcome
        && at <= m.clock
    {
        let st = match o {
            crate::verdict::Outcome::Complete => StageStatus::Go,
            crate::verdict::Outcome::Hold => StageStatus::Hold,
            crate::verdict::Outcome::Rollback => StageStatus::Rollback,
        };
        tail.push(Span::styled(" │ ", dim));
        tail.push(Span::styled(
            format!(
                "{} {} {}",
                st.symbol(),
                o.as_str().to_uppercase(),
                format_clock(at)
            ),
            Style::default()
                .fg(status_color(st))
                .add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(t) = &s.tuner
        && t.moved() > 0
    {
        tail.push(Span::styled(" │ ", dim));
        tail.push(Span::styled(
            format!("Δ tuned ({})", t.moved()),
            Style::default().fg(Color::Magenta),
        ));
    }
    // Drop the least needed parts when narrow: the T0 offset, then the brand; the
    // label is cut last.
    let width = area.width as usize;
    let tail_w: usize = tail.iter().map(|x| x.width()).sum();
    let clock = hms(m.clock);
    let fixed = 3 + clock.chars().count() + tail_w;
    let label_w = s.label.chars().count();
    let show_offset = brand.len() + label_w + offset.chars().count() + fixed <= width;
    let show_brand = brand.len() + label_w + fixed <= width;
    let room = width
        .saturating_sub(fixed)
        .saturating_sub(if show_brand { brand.len() } else { 1 })
        .saturating_sub(if show_offset {
            offset.chars().count()
        } else {
            0
        });
    let mut spans = Vec::new();
    if show_brand {
        spans.push(Span::styled(
            " rehearse ",
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ));
    }
    spans.push(Span::raw(" "));
    spans.push(Span::raw(fit(&s.label, room)));
    spans.push(Span::styled(" │ ", dim));
    spans.push(Span::styled(
        clock,
        Style::default().add_modifier(Modifier::BOLD),
    ));
    if show_offset {
        spans.push(Span::raw(offset));
    }
    spans.extend(tail);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
