//! The footer line: the latest status message, or else the keys for the focused panel.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::tui::model::{Focus, Model, Tone};

pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect) {
    let line = match &m.status {
        Some((tone, text)) => Line::styled(
            format!(" {text}"),
            match tone {
                Tone::Info => Style::default().add_modifier(Modifier::BOLD),
                Tone::Warn => Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            },
        ),
        None => Line::styled(
            match m.focus {
                Focus::Tune => {
                    " ↑/↓ knob  ←/→ move  0 reset  s save  tab focus  esc close  ? help  q quit"
                }
                _ => {
                    " space play  ←/→ tick  n/p verdict  tab focus  enter explain  t tune  ? help  q quit"
                }
            },
            Style::default().fg(Color::DarkGray),
        ),
    };
    f.render_widget(Paragraph::new(line), area);
}
