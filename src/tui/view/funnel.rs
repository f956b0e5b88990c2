//! The funnel panel: the analytics report over the whole dataset (step counts with and
//! without exclusion, excluded persons, tracking gaps, fee and ledger findings), or why
//! there is none.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::data::{FunnelPanel, FunnelSummary};
use crate::tui::model::Model;

use super::panel;

/// The funnel panel: the analytics report over the whole dataset (step counts with
/// and without exclusion, excluded persons, tracking gaps, fee and ledger findings), or
/// why there is none. Problems are marked with symbols as well as colours.
pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect) {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let dim = Style::default().fg(Color::DarkGray);
    let bad = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);
    let good = Style::default().fg(Color::Green);
    let text: Vec<Line> = match &m.session.funnel {
        FunnelPanel::NoData => vec![
            Line::styled("no funnel data", bold),
            Line::styled("(no funnel or ledger stream in the dataset)", dim),
        ],
        FunnelPanel::Recording => vec![
            Line::styled("no funnel data", bold),
            Line::styled("(a recording holds verdicts, not funnel events)", dim),
        ],
        FunnelPanel::Failed(e) => vec![
            Line::styled("✗ funnel report failed", bad),
            Line::styled(e.clone(), dim),
        ],
        FunnelPanel::Summary(s) => funnel_lines(s, bold, dim, bad, good),
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(panel(" funnel (all data) ", false)),
        area,
    );
}

/// The funnel panel's lines for a report: findings first, then the step table, then the
/// excluded persons, so the findings and steps stay visible when the panel is short.
fn funnel_lines(
    s: &FunnelSummary,
    bold: Style,
    dim: Style,
    bad: Style,
    good: Style,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if s.has_funnel {
        if s.gaps.is_empty() {
            lines.push(Line::styled("✓ no tracking gap", good));
        } else {
            for g in &s.gaps {
                lines.push(Line::styled(format!("✗ gap {g}"), bad));
            }
        }
    }
    if s.has_ledger {
        let fees = if s.fee_violations == 0 {
            Span::styled("✓ fees", good)
        } else {
            Span::styled(format!("✗ fees {}", s.fee_violations), bad)
        };
        let ledger = if s.ledger_findings == 0 {
            Span::styled("✓ ledger", good)
        } else {
            Span::styled(format!("✗ ledger {}", s.ledger_findings), bad)
        };
        lines.push(Line::from(vec![fees, Span::raw("  "), ledger]));
    }
    if !s.has_funnel {
        lines.push(Line::styled("no funnel stream", dim));
        return lines;
    }
    lines.push(Line::styled(
        format!("{:<10}{:>7}{:>6}", "step", "kept", "excl"),
        bold,
    ));
    for (name, kept, excluded) in &s.steps {
        lines.push(Line::raw(format!(
            "{:<10}{:>7}{:>6}",
            short_step(name),
            kept,
            excluded
        )));
    }
    let p = &s.persons;
    lines.push(Line::raw(format!(
        "excluded {} of {}",
        p.total.saturating_sub(p.included),
        p.total
    )));
    lines.push(Line::styled(
        format!(" synthetic {} canary {}", p.synthetic, p.canary_only),
        dim,
    ));
    lines
}

/// A funnel step's name, short enough for the panel.
fn short_step(name: &str) -> &str {
    match name {
        "application_start" => "app start",
        "credit_purchase" => "purchase",
        other => other,
    }
}
