//! The event log: breaches, triggers, stage verdicts, follow-ups and the outcome up to
//! the clock, newest first, one line each, with the selected event highlighted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};

use crate::output::report::describe;
use crate::time::format_clock;
use crate::tui::data::StageStatus;
use crate::tui::fmt::fit;
use crate::tui::model::{Focus, Model};
use crate::tui::tune::words;
use crate::verdict::VerdictEvent;

use super::{panel, status_color};

/// One log event in a line: time, symbol, kind, stage, what.
fn event_line(m: &Model, i: usize) -> (String, Color) {
    let s = &m.session;
    let stage = |si: usize| s.stages.get(si).map_or("", |x| x.name.as_str());
    let Some(e) = s.timeline.events.get(i) else {
        return (String::new(), Color::Reset);
    };
    let (at, sym, kind, st, text, color) = match e {
        VerdictEvent::Breach {
            stage: si,
            at,
            evidence,
        } => (
            *at,
            "!",
            "breach",
            stage(*si),
            describe(evidence, false),
            Color::Yellow,
        ),
        VerdictEvent::Trigger {
            stage: si,
            at,
            evidence,
        } => (
            *at,
            "✗",
            "TRIGGER",
            stage(*si),
            describe(evidence, true),
            Color::Red,
        ),
        VerdictEvent::StageVerdict {
            stage: si,
            at,
            verdict,
            reasons,
        } => {
            let st = StageStatus::from_verdict(*verdict);
            let r: Vec<&str> = reasons.iter().map(|g| g.as_str()).collect();
            (
                *at,
                st.symbol(),
                "verdict",
                stage(*si),
                format!(
                    "{}{}",
                    words(*verdict).to_uppercase(),
                    if r.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.join(", "))
                    }
                ),
                status_color(st),
            )
        }
        VerdictEvent::FollowUp(fu) => (
            fu.at,
            "→",
            "follow-up",
            fu.stage.as_str(),
            format!("{}: {}", fu.kind, fu.detail),
            Color::Blue,
        ),
        VerdictEvent::Outcome { at, outcome } => (
            *at,
            "■",
            "OUTCOME",
            "",
            outcome.as_str().to_uppercase(),
            Color::Cyan,
        ),
        VerdictEvent::StageStarted { .. } | VerdictEvent::Tick(_) => {
            return (String::new(), Color::Reset);
        }
    };
    (
        format!(
            "{} {sym} {kind:<9} {:<9} {text}",
            format_clock(at).get(..5).unwrap_or(""),
            fit(st, 9)
        ),
        color,
    )
}

pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect) {
    let list = m.session.timeline.log_visible(m.clock);
    let focused = m.focus == Focus::Events && m.overlay.is_none();
    let title = format!(" events ({}) newest first · enter explains ", list.len());
    let inner_w = area.width.saturating_sub(3) as usize;
    let items: Vec<ListItem> = list
        .iter()
        .map(|&i| {
            let (text, color) = event_line(m, i);
            ListItem::new(fit(&text, inner_w)).style(Style::default().fg(color))
        })
        .collect();
    let empty = items.is_empty();
    let widget = List::new(items)
        .block(panel(&title, focused))
        .highlight_symbol("›")
        .highlight_style(if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        });
    let sel = m.event_sel.and_then(|i| list.iter().position(|x| *x == i));
    let mut state = ListState::default().with_selected(sel);
    if empty {
        f.render_widget(
            Paragraph::new("no breach, trigger or verdict yet").block(panel(&title, focused)),
            area,
        );
    } else {
        f.render_stateful_widget(widget, area, &mut state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    #[test]
    fn verdict_words() {
        assert_eq!(words(Verdict::NotRun), "not run");
    }
}
