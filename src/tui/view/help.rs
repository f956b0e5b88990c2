//! The help overlay: every key and what it does, and the legend of status symbols.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::tui::keys::HELP;

use super::centered;

pub(super) fn draw(f: &mut Frame, area: Rect) {
    let key_w = HELP
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {k:<key_w$}  "),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(
        " ✓ go/ok  ‖ hold  ✗ rollback/breach  ▶ running  · pending",
    ));
    lines.push(Line::raw(
        " - not run/not evaluated  ? no data  Δ changed by tuning",
    ));
    let h = lines.len() as u16 + 2;
    let r = centered(area, 74, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" keys (? or esc closes) "),
        ),
        r,
    );
}
