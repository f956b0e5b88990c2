//! The explain overlay: lays out, scrollable, the explanation of the selected gate or
//! event; the text itself comes from `tui::explain`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::tui::explain::{Kind, explain};
use crate::tui::model::{Model, Subject};

use super::centered;

pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect, subject: Subject, scroll: u16) {
    let doc = explain(m, subject);
    let longest = doc
        .lines
        .iter()
        .map(|(_, s)| s.chars().count())
        .chain([doc.title.chars().count() + 4])
        .max()
        .unwrap_or(0) as u16;
    let r = centered(
        area,
        (longest + 4).clamp(40, area.width.saturating_sub(2).max(40)),
        (doc.lines.len() as u16 + 2).clamp(5, area.height.saturating_sub(2).max(5)),
    );
    let lines: Vec<Line> = doc
        .lines
        .iter()
        .map(|(k, s)| match k {
            Kind::Heading => Line::styled(
                s.clone(),
                Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ),
            Kind::Text => Line::raw(s.clone()),
            Kind::Head => Line::styled(s.clone(), Style::default().add_modifier(Modifier::BOLD)),
            Kind::Row => Line::raw(s.clone()),
            Kind::Hot => Line::styled(s.clone(), Style::default().fg(Color::Red)),
        })
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {} ", doc.title))
                    .title_bottom(" esc closes · ↑/↓ scroll "),
            ),
        r,
    );
}
