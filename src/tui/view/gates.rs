//! The gate table: every gate of the current stage at the clock, with its value,
//! limit, trigger limit (when wide), state and sustain count; gates judged once per
//! stage show what is known so far.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Row, Table, TableState};

use crate::tui::data::gate_tick;
use crate::tui::fmt;
use crate::tui::model::{Focus, GATE_ORDER, Model};
use crate::verdict::{Gate, GateState, TickRecord, VerdictEvent};

use super::panel;

fn state_color(s: GateState) -> Color {
    match s {
        GateState::Ok => Color::Green,
        GateState::Breach => Color::Red,
        GateState::NoData => Color::Yellow,
        GateState::NotEvaluated => Color::DarkGray,
    }
}

/// One gate's cells at the model's clock: value, limit, trigger limit, state, sustain.
struct GateCells {
    value: String,
    limit: String,
    trigger: String,
    state: String,
    sustain: String,
    color: Color,
}

fn gate_cells(m: &Model, g: Gate, tick: Option<&TickRecord>, stage: usize) -> GateCells {
    let s = &m.session;
    let n = s.sustain_ticks();
    let evaluated = s.gate_evaluated(g);
    let fired = s.timeline.events[..s.timeline.visible(m.clock)]
        .iter()
        .any(|e| matches!(e, VerdictEvent::Trigger { stage: st, evidence, .. } if *st == stage && evidence.gate == g));
    let judged = s
        .timeline
        .judged
        .get(stage)
        .and_then(|j| j.as_ref())
        .is_some_and(|j| j.at <= m.clock);
    let trig_limit = |thr: Option<f64>| {
        if g.is_trigger() && g != Gate::ProbeFailures {
            fmt::threshold(g, fmt::trigger_threshold(s.policy.as_ref(), g, thr))
        } else {
            String::new()
        }
    };
    if evaluated == Some(false) {
        return GateCells {
            value: "-".into(),
            limit: "-".into(),
            trigger: String::new(),
            state: fmt::state(GateState::NotEvaluated).into(),
            sustain: String::new(),
            color: Color::DarkGray,
        };
    }
    if let Some(gt) = tick.and_then(|t| gate_tick(t, g)) {
        let sustain = if fmt::has_sustain(g) && gt.state != GateState::NotEvaluated {
            match n {
                Some(n) => format!("{}/{n}", gt.sustain),
                None => gt.sustain.to_string(),
            }
        } else {
            String::new()
        };
        let (state, color) = if fired {
            ("✗ FIRED".to_string(), Color::Red)
        } else {
            (fmt::state(gt.state).to_string(), state_color(gt.state))
        };
        return GateCells {
            value: fmt::value(g, gt.value),
            limit: fmt::threshold(g, gt.threshold),
            trigger: trig_limit(gt.threshold),
            state,
            sustain,
            color,
        };
    }
    // Not in the tick records: a stage-level gate, probe failures, or no tick yet.
    let breach = s.timeline.events[..s.timeline.visible(m.clock)]
        .iter()
        .find_map(|e| match e {
            VerdictEvent::Breach {
                stage: st,
                evidence,
                ..
            } if *st == stage && evidence.gate == g => Some(evidence),
            _ => None,
        });
    let per_tick = g.def().judged == crate::gate::Judged::Tick;
    let (value, state, color) = if fired {
        ("-".to_string(), "✗ FIRED".to_string(), Color::Red)
    } else if let Some(e) = breach {
        (
            fmt::value(g, e.value),
            fmt::state(GateState::Breach).to_string(),
            Color::Red,
        )
    } else if per_tick {
        ("-".into(), "… waiting".into(), Color::DarkGray)
    } else if g == Gate::ProbeFailures || judged {
        match evaluated {
            Some(true) => ("-".into(), fmt::state(GateState::Ok).into(), Color::Green),
            _ => ("-".into(), "? unknown".into(), Color::DarkGray),
        }
    } else {
        ("-".into(), "… at end".into(), Color::DarkGray)
    };
    GateCells {
        value,
        limit: if g == Gate::ProbeFailures {
            s.policy
                .as_ref()
                .map_or("-".into(), |p| format!(">= {}", p.probe_consecutive))
        } else {
            breach.map_or("-".into(), |e| fmt::threshold(g, e.threshold))
        },
        trigger: String::new(),
        state,
        sustain: String::new(),
        color,
    }
}

pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect, wide: bool) {
    let s = &m.session;
    let stage = m.current_stage();
    let tick = s.timeline.last_tick(stage, m.clock);
    let focused = m.focus == Focus::Gates && m.overlay.is_none();
    let title = format!(
        " gates · {}{} ",
        s.stages.get(stage).map_or("", |x| x.name.as_str()),
        tick.map_or(String::new(), |t| format!(" tick {}", t.k))
    );
    let rows: Vec<Row> = GATE_ORDER
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let c = gate_cells(m, g, tick, stage);
            let sel = if i == m.gate_sel { "›" } else { " " };
            let mut cells = vec![format!("{sel}{}", fmt::gate_label(g)), c.value, c.limit];
            if wide {
                cells.push(c.trigger);
            }
            cells.push(c.state);
            cells.push(c.sustain);
            Row::new(cells).style(Style::default().fg(c.color))
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(14),
        Constraint::Length(8),
        Constraint::Length(7),
    ];
    let mut header = vec!["gate", "value", "limit"];
    if wide {
        widths.push(Constraint::Length(8));
        header.push("trigger");
    }
    widths.push(Constraint::Length(10));
    widths.push(Constraint::Length(5));
    header.push("state");
    header.push("sust.");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .column_spacing(1)
        .block(panel(&title, focused))
        .row_highlight_style(if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        });
    let mut state = TableState::default().with_selected(Some(m.gate_sel));
    f.render_stateful_widget(table, area, &mut state);
}
