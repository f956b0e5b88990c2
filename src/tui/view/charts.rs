//! The charts of the current stage up to the clock: latency p95/p99, 5xx and 4xx error
//! rates, and budget burn, each with its limits as flat lines; all three when the
//! panel is tall enough, otherwise the one chosen with `c`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType};

use crate::time::format_clock;
use crate::tui::data::gate_tick;
use crate::tui::fmt;
use crate::tui::model::{ChartKind, Model};
use crate::verdict::Gate;

use super::panel;

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

pub(super) fn draw(m: &Model, f: &mut Frame, area: Rect) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_tops_are_round() {
        assert_eq!(nice_ceil(660.0), 700.0);
        assert_eq!(nice_ceil(440.0), 500.0);
        assert_eq!(nice_ceil(3.3), 4.0);
        assert_eq!(nice_ceil(0.55), 0.6);
        assert_eq!(nice_ceil(0.0), 0.1);
    }
}
