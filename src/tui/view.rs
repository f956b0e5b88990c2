//! Drawing: `view(&Model, &mut Frame)` lays out one screen (header, rollout timeline,
//! gate table, charts or tuning panel, event log, funnel panel, footer) and the
//! overlays (help, explain). It reads the model and never changes it. Every colour has
//! a symbol or word beside it, so the screen reads on a monochrome terminal; the layout
//! fits 80x24 and grows with the terminal.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Clear, Dataset, GraphType, List, ListItem, ListState, Paragraph,
    Row, Table, TableState, Wrap,
};

use crate::input::Millis;
use crate::output::report::describe;
use crate::time::{format_clock, format_duration};
use crate::verdict::{Gate, GateState, TickRecord, VerdictEvent};

use super::data::{FunnelPanel, FunnelSummary, StageStatus, gate_tick};
use super::explain::{Kind, explain};
use super::fmt::{self, fit};
use super::keys::HELP;
use super::model::{ChartKind, Focus, GATE_ORDER, Model, Overlay, Tone};
use super::tune::{KnobKind, words};

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

fn state_color(s: GateState) -> Color {
    match s {
        GateState::Ok => Color::Green,
        GateState::Breach => Color::Red,
        GateState::NoData => Color::Yellow,
        GateState::NotEvaluated => Color::DarkGray,
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
    draw_header(m, f, header);
    draw_timeline(m, f, timeline);
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
    draw_gates(m, f, gates, wide);
    if m.tuning {
        draw_tuning(m, f, right);
    } else {
        draw_charts(m, f, right);
    }
    let funnel_w = if bottom.width >= 70 { FUNNEL_WIDTH } else { 0 };
    let [events, funnel] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(funnel_w)]).areas(bottom);
    draw_events(m, f, events);
    if funnel_w > 0 {
        draw_funnel(m, f, funnel);
    }
    draw_footer(m, f, footer);
    match m.overlay {
        Some(Overlay::Help) => draw_help(f, area),
        Some(Overlay::Explain { subject, scroll }) => draw_explain(m, f, area, subject, scroll),
        None => {}
    }
}

fn draw_header(m: &Model, f: &mut Frame, area: Rect) {
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

fn draw_timeline(m: &Model, f: &mut Frame, area: Rect) {
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

fn draw_gates(m: &Model, f: &mut Frame, area: Rect, wide: bool) {
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

/// One chart's series: name, marker, colour, points.
struct Series {
    name: String,
    marker: Marker,
    color: Color,
    points: Vec<(f64, f64)>,
}

fn limit_series(name: String, marker: Marker, y: Option<f64>, x_max: f64) -> Option<Series> {
    y.map(|y| Series {
        name,
        marker,
        color: Color::DarkGray,
        points: vec![(0.0, y), (x_max, y)],
    })
}

/// A round number at or above `v` (at least 0.1), for a chart's top.
fn nice_ceil(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.1) {
        return 0.1;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0]
        .into_iter()
        .map(|k| (k * p * 1e9).round() / 1e9)
        .find(|x| *x >= v - 1e-9)
        .unwrap_or(10.0 * p)
}

fn draw_chart(
    f: &mut Frame,
    area: Rect,
    title: String,
    series: &[Series],
    x: (f64, String, String),
    unit: &str,
) {
    let y_max = nice_ceil(
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max)
            * 1.05,
    );
    let datasets: Vec<Dataset> = series
        .iter()
        .map(|s| {
            Dataset::default()
                .name(s.name.clone())
                .marker(s.marker)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(s.color))
                .data(&s.points)
        })
        .collect();
    let fmt_y = |v: f64| {
        if y_max >= 10.0 {
            format!("{v:.0}{unit}")
        } else {
            format!("{v:.1}{unit}")
        }
    };
    let chart = Chart::new(datasets)
        .block(panel(&title, false))
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([0.0, x.0])
                .labels([Span::raw(x.1), Span::raw(x.2)]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_max])
                .labels([Span::raw(fmt_y(0.0)), Span::raw(fmt_y(y_max))]),
        );
    f.render_widget(chart, area);
}

fn draw_charts(m: &Model, f: &mut Frame, area: Rect) {
    let s = &m.session;
    let stage = m.current_stage();
    let Some(st) = s.stages.get(stage) else {
        return;
    };
    let ticks = s.timeline.stage_ticks(stage, m.clock);
    let x_max = ((st.end - st.start) as f64 / 60_000.0).max(1.0);
    let x = (x_max, format_clock(st.start), format_clock(st.end));
    let pts = |g: Gate, scale: f64| -> Vec<(f64, f64)> {
        ticks
            .iter()
            .filter_map(|t| {
                let v = gate_tick(t, g)?.value?;
                Some(((t.at - st.start) as f64 / 60_000.0, v * scale))
            })
            .collect()
    };
    let last_thr = |g: Gate| {
        ticks
            .last()
            .and_then(|t| gate_tick(t, g))
            .and_then(|x| x.threshold)
    };
    let p = s.policy.as_ref();
    let latency = {
        let go = last_thr(Gate::LatencyP95).or_else(|| {
            p.and_then(|p| p.stages.get(stage))
                .map(|x| x.go_p95_us as f64 / 1000.0)
        });
        let trig = fmt::trigger_threshold(p, Gate::LatencyP95, None);
        let p99 = fmt::trigger_threshold(p, Gate::LatencyP99, last_thr(Gate::LatencyP99));
        let mut v = vec![
            Series {
                name: "p95".into(),
                marker: Marker::Custom('•'),
                color: Color::Cyan,
                points: pts(Gate::LatencyP95, 1.0),
            },
            Series {
                name: "p99".into(),
                marker: Marker::Custom('+'),
                color: Color::Magenta,
                points: pts(Gate::LatencyP99, 1.0),
            },
        ];
        v.extend(limit_series("go".into(), Marker::Custom('-'), go, x_max));
        v.extend(limit_series(
            "trig".into(),
            Marker::Custom('='),
            trig,
            x_max,
        ));
        v.extend(limit_series(
            "p99 trig".into(),
            Marker::Custom('~'),
            p99,
            x_max,
        ));
        v
    };
    let errors = {
        let mut v = vec![
            Series {
                name: "5xx".into(),
                marker: Marker::Custom('•'),
                color: Color::Red,
                points: pts(Gate::ErrorRate5xx, 100.0),
            },
            Series {
                name: "4xx".into(),
                marker: Marker::Custom('+'),
                color: Color::Yellow,
                points: pts(Gate::ErrorRate4xxNonauth, 100.0),
            },
        ];
        let go5 = last_thr(Gate::ErrorRate5xx).or_else(|| p.map(|p| p.go_5xx.as_f64()));
        let go4 = last_thr(Gate::ErrorRate4xxNonauth).or_else(|| p.map(|p| p.go_4xx.as_f64()));
        v.extend(limit_series(
            "5xx go".into(),
            Marker::Custom('-'),
            go5.map(|x| x * 100.0),
            x_max,
        ));
        v.extend(limit_series(
            "4xx go".into(),
            Marker::Custom('='),
            go4.map(|x| x * 100.0),
            x_max,
        ));
        v
    };
    let budget = {
        let mut v = vec![Series {
            name: "burn".into(),
            marker: Marker::Custom('•'),
            color: Color::Red,
            points: pts(Gate::BudgetBurn, 100.0),
        }];
        let max = last_thr(Gate::BudgetBurn).or_else(|| p.map(|p| p.budget_max_burn.as_f64()));
        v.extend(limit_series(
            "max".into(),
            Marker::Custom('-'),
            max.map(|x| x * 100.0),
            x_max,
        ));
        v
    };
    let titles = [
        " latency ms: • p95 + p99 -go =trig ~p99 ",
        " error %: • 5xx + 4xx -5xx go =4xx go ",
        " budget burn %: • burn -max ",
    ];
    let all = [
        (ChartKind::Latency, latency, "", titles[0]),
        (ChartKind::Errors, errors, "%", titles[1]),
        (ChartKind::Budget, budget, "%", titles[2]),
    ];
    if area.height >= 21 {
        let parts = Layout::vertical([
            Constraint::Ratio(1, 3),
            Constraint::Ratio(1, 3),
            Constraint::Ratio(1, 3),
        ])
        .split(area);
        for (i, (_, series, unit, title)) in all.iter().enumerate() {
            draw_chart(f, parts[i], title.to_string(), series, x.clone(), unit);
        }
    } else {
        for (kind, series, unit, title) in &all {
            if *kind == m.chart {
                draw_chart(f, area, format!("{}(c) ", title), series, x.clone(), unit);
            }
        }
    }
}

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

fn draw_events(m: &Model, f: &mut Frame, area: Rect) {
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

/// The funnel panel: the analytics report over the whole dataset (step counts with
/// and without exclusion, excluded persons, tracking gaps, fee and ledger findings), or
/// why there is none. Problems are marked with symbols as well as colours.
fn draw_funnel(m: &Model, f: &mut Frame, area: Rect) {
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

fn draw_tuning(m: &Model, f: &mut Frame, area: Rect) {
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

fn draw_footer(m: &Model, f: &mut Frame, area: Rect) {
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

fn draw_help(f: &mut Frame, area: Rect) {
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

fn draw_explain(m: &Model, f: &mut Frame, area: Rect, subject: super::model::Subject, scroll: u16) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    #[test]
    fn segments_fill_the_width() {
        let w = segment_widths(&[120, 30, 60, 120], 80);
        assert_eq!(w.iter().sum::<u16>(), 80);
        assert!(w[1] >= 8, "{w:?}");
        assert!(w[0] > w[2] && w[2] > w[1], "{w:?}");
    }

    #[test]
    fn chart_tops_are_round() {
        assert_eq!(nice_ceil(660.0), 700.0);
        assert_eq!(nice_ceil(440.0), 500.0);
        assert_eq!(nice_ceil(3.3), 4.0);
        assert_eq!(nice_ceil(0.55), 0.6);
        assert_eq!(nice_ceil(0.0), 0.1);
    }

    #[test]
    fn verdict_words() {
        assert_eq!(words(Verdict::NotRun), "not run");
    }
}
