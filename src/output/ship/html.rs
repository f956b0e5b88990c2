//! The dashboard: one self-contained HTML file (styles, scripts and data inline; a
//! Content-Security-Policy that forbids every network request) drawing the rollout with
//! the vendored uPlot (MIT, `assets/uPlot.LICENSE`): one chart per dashboard over every
//! tick (availability, latency, error rates, DB latency, queue depth, CPU and memory
//! headroom, security gates, findings, budget burn; from a replay, probe results and the
//! WAF blocks and rate-limited requests per tick), with stage bands, threshold lines,
//! breach and trigger markers and hover values; the verdict timeline; each stage's probe
//! gates; the funnel (steps kept and excluded, conversion per platform and cohort,
//! tracking gaps), fees and ledger findings. Script errors and CSP violations are
//! counted on `<body>` (`data-errors`, `data-violations`) and each chart states its
//! point count (`data-points`), so a headless browser can check the page.

use serde_json::{Value, json};

use super::{ShipRoom, outcome_words, pct};
use crate::gate::{Gate, Unit};
use crate::time::format_rfc3339;
use crate::verdict::{GateState, Verdict};

const UPLOT_JS: &str = include_str!("assets/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("assets/uPlot.min.css");

/// One line of a chart: a gate's value or its threshold.
struct Line {
    label: &'static str,
    gate: Gate,
    threshold: bool,
    /// `1 - value` (availability from the 5xx rate).
    complement: bool,
}

const fn v(label: &'static str, gate: Gate) -> Line {
    Line {
        label,
        gate,
        threshold: false,
        complement: false,
    }
}

const fn t(label: &'static str, gate: Gate) -> Line {
    Line {
        label,
        gate,
        threshold: true,
        complement: false,
    }
}

/// A dashboard: id, title, unit label, lines.
struct Chart {
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    lines: &'static [Line],
}

const CHARTS: &[Chart] = &[
    Chart {
        id: "availability",
        title: "API availability (canary, 1 - 5xx share per window)",
        unit: "%",
        lines: &[Line {
            label: "availability",
            gate: Gate::ErrorRate5xx,
            threshold: false,
            complement: true,
        }],
    },
    Chart {
        id: "latency",
        title: "Latency p50 / p95 / p99 (canary, per window)",
        unit: "ms",
        lines: &[
            v("p95", Gate::LatencyP95),
            v("p99", Gate::LatencyP99),
            t("p95 go limit", Gate::LatencyP95),
            t("p99 trigger", Gate::LatencyP99),
        ],
    },
    Chart {
        id: "errors",
        title: "5xx and non-auth 4xx rates",
        unit: "%",
        lines: &[
            v("5xx", Gate::ErrorRate5xx),
            v("4xx non-auth", Gate::ErrorRate4xxNonauth),
            t("5xx go limit", Gate::ErrorRate5xx),
            t("4xx go limit", Gate::ErrorRate4xxNonauth),
        ],
    },
    Chart {
        id: "db",
        title: "DB latency p95",
        unit: "ms",
        lines: &[v("db p95", Gate::DbLatency), t("limit", Gate::DbLatency)],
    },
    Chart {
        id: "queue",
        title: "Queue depth",
        unit: "jobs",
        lines: &[
            v("queue depth", Gate::QueueBacklog),
            t("limit", Gate::QueueBacklog),
        ],
    },
    Chart {
        id: "headroom",
        title: "CPU p95 and free memory p5",
        unit: "%",
        lines: &[
            v("cpu p95", Gate::CpuHeadroom),
            v("mem free p5", Gate::MemoryHeadroom),
            t("cpu limit", Gate::CpuHeadroom),
            t("mem limit", Gate::MemoryHeadroom),
        ],
    },
    Chart {
        id: "security",
        title: "WAF blocks and auth failures",
        unit: "/min",
        lines: &[
            v("waf", Gate::SecurityWafSpike),
            v("auth failures", Gate::SecurityAuthFailures),
            t("waf limit", Gate::SecurityWafSpike),
            t("auth limit", Gate::SecurityAuthFailures),
        ],
    },
    Chart {
        id: "findings",
        title: "Probe schema failures and PII log lines per window",
        unit: "count",
        lines: &[
            v("schema failures", Gate::SchemaFailures),
            v("pii lines", Gate::PiiInLogs),
        ],
    },
    Chart {
        id: "budget",
        title: "Error budget burned and slow endpoint share",
        unit: "%",
        lines: &[
            v("budget burn", Gate::BudgetBurn),
            v("endpoint slow share", Gate::EndpointLatencyP95),
            t("burn limit", Gate::BudgetBurn),
        ],
    },
];

/// Whether a unit displays as a percentage.
fn percent(u: Unit) -> bool {
    matches!(
        u,
        Unit::Rate
            | Unit::Availability
            | Unit::BudgetShare
            | Unit::SlowShare
            | Unit::Fraction
            | Unit::TickShare
    )
}

fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The chart data: per chart, its lines' values at every tick (`null` without data).
fn chart_data(room: &ShipRoom) -> Vec<Value> {
    let mut out: Vec<Value> = CHARTS
        .iter()
        .map(|c| {
            let series: Vec<Value> = c
                .lines
                .iter()
                .map(|l| {
                    let scale = if percent(l.gate.def().unit) {
                        100.0
                    } else {
                        1.0
                    };
                    let values: Vec<Value> = room
                        .ticks
                        .iter()
                        .map(|tk| {
                            let g = tk.gates.iter().find(|x| x.gate == l.gate);
                            let x = g.and_then(|g| {
                                if g.state == GateState::NotEvaluated
                                    || g.state == GateState::NoData && !l.threshold
                                {
                                    return None;
                                }
                                if l.threshold { g.threshold } else { g.value }
                            });
                            match x.filter(|x| x.is_finite()) {
                                Some(x) if l.complement => json!(round((1.0 - x) * scale)),
                                Some(x) => json!(round(x * scale)),
                                None => Value::Null,
                            }
                        })
                        .collect();
                    json!({"label": l.label, "threshold": l.threshold, "values": values})
                })
                .collect();
            let mut series = series;
            if c.id == "latency"
                && let Some(p50) = &room.p50
            {
                let values: Vec<Value> = p50
                    .iter()
                    .map(|v| v.map_or(Value::Null, |x| json!(round(x))))
                    .collect();
                series.insert(
                    0,
                    json!({"label": "p50", "threshold": false, "values": values}),
                );
            }
            if c.id == "availability"
                && let Some(a) = room.availability_go
            {
                let line = vec![json!(round(a * 100.0)); room.ticks.len()];
                series.push(json!({"label": "stage go limit", "threshold": true, "values": line}));
            }
            json!({"id": c.id, "title": c.title, "unit": c.unit, "series": series})
        })
        .collect();
    if let Some(p) = &room.probes {
        let passed: Vec<u32> = p.iter().map(|x| x.0).collect();
        let failed: Vec<u32> = p.iter().map(|x| x.1).collect();
        out.push(
            json!({"id": "probes", "title": PROBES_TITLE, "unit": "probes", "series": [
                {"label": "passed", "threshold": false, "values": passed},
                {"label": "failed", "threshold": false, "values": failed},
            ]}),
        );
    }
    if let Some(sec) = &room.security {
        let waf: Vec<u64> = sec.iter().map(|x| x[0]).collect();
        let limited: Vec<u64> = sec.iter().map(|x| x[1]).collect();
        out.push(
            json!({"id": "security-events", "title": SECURITY_TITLE, "unit": "events", "series": [
                {"label": "waf blocks", "threshold": false, "values": waf},
                {"label": "rate limited", "threshold": false, "values": limited},
            ]}),
        );
    }
    out
}

const PROBES_TITLE: &str = "Probe results per tick (passed; failed: bad status or schema)";
const SECURITY_TITLE: &str =
    "WAF blocks and rate-limited requests per tick (rate limiting is judged by no gate)";

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Go => "go",
        Verdict::Hold => "hold",
        Verdict::Rollback => "rollback",
        Verdict::NotRun => "notrun",
    }
}

fn timeline(room: &ShipRoom) -> String {
    let total: i64 = room
        .stages
        .iter()
        .map(|s| s.end - s.start)
        .sum::<i64>()
        .max(1);
    let mut o = String::from("<div class=\"timeline\">");
    for s in &room.stages {
        let w = (s.end - s.start) as f64 * 100.0 / total as f64;
        o.push_str(&format!(
            "<div class=\"band {}\" style=\"width:{w:.3}%\"><b>{}</b> {} · {}</div>",
            verdict_class(s.verdict),
            esc(&s.name),
            pct(s.weight),
            s.verdict.as_str().replace('_', " ")
        ));
    }
    o.push_str("</div>");
    o.push_str("<table class=\"marks\"><thead><tr><th>time</th><th>stage</th><th>kind</th><th>evidence</th></tr></thead><tbody>");
    if room.marks.is_empty() {
        o.push_str("<tr><td colspan=\"4\">no breach and no trigger</td></tr>");
    }
    for (si, at, trig, e) in &room.marks {
        o.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if *trig { "trigger" } else { "breach" },
            esc(&format_rfc3339(*at)),
            esc(room.stages.get(*si).map_or("?", |s| s.name.as_str())),
            if *trig {
                "trigger fired"
            } else {
                "Go gate breach"
            },
            esc(&crate::output::report::describe(e, *trig))
        ));
    }
    for f in &room.follow_ups {
        o.push_str(&format!(
            "<tr class=\"follow\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&format_rfc3339(f.at)),
            esc(&f.stage),
            esc(&f.kind),
            esc(&f.detail)
        ));
    }
    o.push_str("</tbody></table>");
    o
}

fn gate_table(room: &ShipRoom, gates: &[Gate]) -> String {
    let mut o = String::from("<table><thead><tr><th>stage</th>");
    for g in gates {
        o.push_str(&format!("<th>{}</th>", esc(g.as_str())));
    }
    o.push_str("</tr></thead><tbody>");
    for s in &room.stages {
        o.push_str(&format!("<tr><td>{}</td>", esc(&s.name)));
        for g in gates {
            let cell = s.rows.iter().find(|r| r.gate == *g).map_or_else(
                || "not run".to_string(),
                |r| {
                    let m = super::measured(r);
                    format!(
                        "{}{}",
                        r.state.as_str(),
                        if m.is_empty() {
                            String::new()
                        } else {
                            format!(": {m}")
                        }
                    )
                },
            );
            let class = s
                .rows
                .iter()
                .find(|r| r.gate == *g)
                .map_or("notrun", |r| if r.state.passed() { "go" } else { "hold" });
            o.push_str(&format!("<td class=\"{class}\">{}</td>", esc(&cell)));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

fn money(m: &std::collections::BTreeMap<String, i64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(c, v)| format!("{c} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn funnel(room: &ShipRoom) -> String {
    let Some(r) = &room.analytics else {
        return "<p>No funnel or ledger stream (or the pack was built from a recording made before recordings carried the funnel).</p>".into();
    };
    let mut o = String::new();
    let [total, included, synthetic, canary_only] = r.persons;
    o.push_str(&format!(
        "<p>{total} persons: {included} kept in KPI rollups, {synthetic} synthetic, {canary_only} canary-only.</p>"
    ));
    o.push_str("<table><thead><tr><th>step</th><th>kept</th><th>conversion</th><th>excluded</th></tr></thead><tbody>");
    for (name, kept, conversion, excluded) in &r.steps {
        o.push_str(&format!(
            "<tr><td>{}</td><td>{kept}</td><td>{}</td><td>{excluded}</td></tr>",
            esc(name),
            conversion.map_or("-".to_string(), |c| format!("{:.1}%", c * 100.0))
        ));
    }
    o.push_str("</tbody></table>");
    let groups = |title: &str, gs: &super::DashGroups| -> String {
        let mut o = format!("<table><thead><tr><th>{}</th>", esc(title));
        for s in &gs.steps {
            o.push_str(&format!("<th>{}</th>", esc(s)));
        }
        o.push_str("<th>visit -> purchase</th></tr></thead><tbody>");
        for (value, steps) in &gs.groups {
            o.push_str(&format!(
                "<tr><td>{}</td>",
                esc(value.as_deref().unwrap_or("(none)"))
            ));
            for n in steps {
                o.push_str(&format!("<td>{n}</td>"));
            }
            let first = steps.first().copied().unwrap_or(0);
            let last = steps.last().copied().unwrap_or(0);
            o.push_str(&format!(
                "<td>{}</td></tr>",
                if first == 0 {
                    "-".to_string()
                } else {
                    format!("{:.1}%", last as f64 * 100.0 / first as f64)
                }
            ));
        }
        o.push_str("</tbody></table>");
        o
    };
    o.push_str(&groups("platform", &r.by_platform));
    o.push_str(&groups(
        "cohort (every person, canary-only included)",
        &r.by_cohort,
    ));
    o.push_str("<h3>Tracking gaps</h3>");
    if r.tracking_gaps.is_empty() {
        o.push_str("<p>None: the canary build's step conversions match the baseline's.</p>");
    } else {
        o.push_str("<ul>");
        for (step, z, events) in &r.tracking_gaps {
            o.push_str(&format!(
                "<li>{}{}{}</li>",
                esc(step),
                z.map_or(String::new(), |z| format!(": z = {z:.2}")),
                events.map_or(String::new(), |n| format!(
                    ": {n} purchases without revenue or currency"
                ))
            ));
        }
        o.push_str("</ul>");
    }
    let [
        bookings,
        fee_violations,
        unbalanced,
        duplicate_payouts,
        overdrawn,
    ] = r.ledger;
    let [gross, fees, paid_out] = &r.money;
    let flag = |n: u64| if n > 0 { "hold" } else { "go" };
    o.push_str("<h3>Fees and ledger</h3>");
    o.push_str(&format!(
        "<table><tbody><tr><td>bookings</td><td>{}</td></tr><tr><td>fee violations</td><td class=\"{}\">{}</td></tr><tr><td>unbalanced transactions</td><td class=\"{}\">{}</td></tr><tr><td>duplicate payouts</td><td class=\"{}\">{}</td></tr><tr><td>overdrawn providers</td><td class=\"{}\">{}</td></tr><tr><td>gross (minor units)</td><td>{}</td></tr><tr><td>fees captured (minor units)</td><td>{}</td></tr><tr><td>paid out (minor units)</td><td>{}</td></tr></tbody></table>",
        bookings,
        flag(fee_violations),
        fee_violations,
        flag(unbalanced),
        unbalanced,
        flag(duplicate_payouts),
        duplicate_payouts,
        flag(overdrawn),
        overdrawn,
        esc(&money(gross)),
        esc(&money(fees)),
        esc(&money(paid_out)),
    ));
    o
}

const CSS: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1240px;padding:12px 20px;color:#1d2330;background:#fff}
h1{font-size:20px;margin:4px 0}h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #d8dce3}h3{font-size:14px;margin:10px 0 4px}
.outcome{font-weight:600;padding:6px 10px;border-radius:4px;display:inline-block}
.outcome.go{background:#e3f4e6}.outcome.hold{background:#fff1d6}.outcome.rollback{background:#fde0de}
.timeline{display:flex;height:34px;margin:6px 0;border:1px solid #c9ced8;border-radius:4px;overflow:hidden}
.band{padding:2px 6px;font-size:12px;white-space:nowrap;overflow:hidden;border-right:1px solid #fff}
.go{background:#e3f4e6}.hold{background:#fff1d6}.rollback{background:#fde0de}.notrun{background:#eef0f3;color:#6b7280}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:10px}
.chart{border:1px solid #e2e5ea;border-radius:4px;padding:4px;break-inside:avoid}
.chart h3{margin:2px 4px}
table{border-collapse:collapse;margin:4px 0 8px;font-size:12px}
td,th{border:1px solid #e2e5ea;padding:2px 6px;text-align:left;vertical-align:top}
.u-legend td,.u-legend th{border:none;padding:0 4px}
tr.trigger td{background:#fde0de}tr.breach td{background:#fff1d6}
.muted{color:#6b7280;font-size:12px}
@media print{body{max-width:none;padding:0}.grid{grid-template-columns:repeat(2,minmax(0,1fr))}h2{break-after:avoid}}
"#;

const SCRIPT: &str = r#"
(function(){
  var data = JSON.parse(document.getElementById('rehearse-data').textContent);
  var t = data.t;
  var colors = ['#1f77b4','#d62728','#2ca02c','#9467bd','#8c564b'];
  var tcolors = ['#444444','#b45309','#6b21a8','#0f766e'];
  function bands(u){
    var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    ctx.save();
    data.stages.forEach(function(s, i){
      var x0 = u.valToPos(s.start, 'x', true), x1 = u.valToPos(s.end, 'x', true);
      ctx.fillStyle = s.verdict === 'rollback' ? 'rgba(214,39,40,0.07)' : s.verdict === 'hold' ? 'rgba(255,160,0,0.08)' : (i % 2 ? 'rgba(0,0,0,0.035)' : 'rgba(0,0,0,0)');
      ctx.fillRect(x0, top, x1 - x0, h);
      ctx.fillStyle = '#6b7280';
      ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
      ctx.fillText(s.name, x0 + 3 * devicePixelRatio, top + 12 * devicePixelRatio);
    });
    data.marks.forEach(function(m){
      var x = u.valToPos(m.t, 'x', true);
      ctx.strokeStyle = m.trigger ? '#d62728' : '#ff9f00';
      ctx.lineWidth = 2 * devicePixelRatio;
      ctx.setLineDash(m.trigger ? [] : [4 * devicePixelRatio, 3 * devicePixelRatio]);
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
    });
    ctx.restore();
  }
  var width = Math.max(420, Math.floor((Math.min(window.innerWidth, 1240) - 70) / 2));
  data.charts.forEach(function(c){
    var el = document.getElementById('chart-' + c.id);
    var series = [{label: 'time', value: function(u, v){ return v == null ? '' : new Date(v * 1000).toISOString().slice(11, 16); }}];
    var rows = [t];
    var vi = 0, ti = 0;
    c.series.forEach(function(s){
      var col = s.threshold ? tcolors[ti++ % 4] : colors[vi++ % 5];
      series.push({label: s.label + ' (' + c.unit + ')', stroke: col, width: s.threshold ? 1 : 1.5, dash: s.threshold ? [6, 4] : undefined, spanGaps: false, points: {show: false}});
      rows.push(s.values);
    });
    var u = new uPlot({width: width, height: 200, series: series, axes: [{values: function(u, vals){ return vals.map(function(v){ return new Date(v * 1000).toISOString().slice(11, 16); }); }}, {}], scales: {x: {time: false}}, hooks: {drawClear: [bands]}, legend: {live: true}}, rows, el);
    el.setAttribute('data-points', String(u.data[0].length));
    el.setAttribute('data-series', String(u.data.length - 1));
  });
  document.body.setAttribute('data-rendered', String(data.charts.length));
})();
"#;

/// The dashboard page.
pub fn page(room: &ShipRoom) -> String {
    let t: Vec<Value> = room.ticks.iter().map(|k| json!(k.at / 1000)).collect();
    let stages: Vec<Value> = room
        .stages
        .iter()
        .map(|s| json!({"name": s.name, "start": s.start / 1000, "end": s.end / 1000, "verdict": s.verdict.as_str()}))
        .collect();
    let marks: Vec<Value> = room
        .marks
        .iter()
        .map(|(_, at, trig, e)| json!({"t": at / 1000, "trigger": trig, "gate": e.gate.as_str()}))
        .collect();
    let data = json!({"t": t, "stages": stages, "marks": marks, "charts": chart_data(room)});
    // Inside <script>, "</" would end the element.
    let data = data.to_string().replace("</", "<\\/");
    let outcome_class = match room.outcome {
        crate::verdict::Outcome::Complete => "go",
        crate::verdict::Outcome::Hold => "hold",
        crate::verdict::Outcome::Rollback => "rollback",
    };
    let mut charts = String::new();
    let probes_chart = room.probes.as_ref().map(|_| ("probes", PROBES_TITLE));
    let security_chart = room
        .security
        .as_ref()
        .map(|_| ("security-events", SECURITY_TITLE));
    for (id, title) in CHARTS
        .iter()
        .map(|c| (c.id, c.title))
        .chain(probes_chart)
        .chain(security_chart)
    {
        charts.push_str(&format!(
            "<div class=\"chart\" id=\"chart-{id}\" data-expected=\"{}\"><h3>{}</h3></div>",
            room.ticks.len(),
            esc(title)
        ));
    }
    let probes = gate_table(
        room,
        &[
            Gate::ProbeFailures,
            Gate::ProbeCoverage,
            Gate::SchemaFailures,
        ],
    );
    let web = gate_table(room, &[Gate::CacheHeaderScope, Gate::SeoIndexability]);
    let analytics_gates = gate_table(
        room,
        &[
            Gate::AnalyticsExclusion,
            Gate::TrackingGap,
            Gate::PaidAcquisition,
            Gate::LeverInstrumentation,
            Gate::FeeCapture,
            Gate::LedgerIntegrity,
        ],
    );
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rehearse report: {title}</title>
<style>{UPLOT_CSS}</style><style>{CSS}</style>
</head><body data-errors="0" data-violations="0">
<script>
(function(){{
  function bump(a){{ var b = document.body; b.setAttribute(a, String(Number(b.getAttribute(a)) + 1)); }}
  window.addEventListener('error', function(){{ bump('data-errors'); }});
  document.addEventListener('securitypolicyviolation', function(){{ bump('data-violations'); }});
  var err = console.error; console.error = function(){{ bump('data-errors'); return err.apply(console, arguments); }};
}})();
</script>
<h1>Rollout rehearsal: {title}</h1>
<p><span class="outcome {outcome_class}">{outcome}</span> <span class="muted">T0 {t0} · {ticks} ticks of {tick_s} s · every chart over the whole rollout; stage bands, dashed threshold lines, orange dashed markers for Go gate breaches, red markers for triggers; hover for values</span></p>
<h2>Verdict timeline</h2>
{timeline}
<h2>Dashboards</h2>
<div class="grid">{charts}</div>
<p class="muted">Latency quantiles are the engine's display sketch (approximate); the p50 is the replay's, over the same window as the p95. Rate-limited requests are judged by no gate: their chart is for the room to see, next to the WAF blocks.</p>
<h2>Probes</h2>
{probes}
<h2>Cache and SEO</h2>
{web}
<h2>Funnel, fees and ledger</h2>
{analytics_gates}
{funnel}
<script>{UPLOT_JS}</script>
<script type="application/json" id="rehearse-data">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"#,
        title = esc(&room.dataset),
        outcome = esc(&outcome_words(room)),
        t0 = esc(&format_rfc3339(room.t0)),
        ticks = room.ticks.len(),
        tick_s = room.tick_ms / 1000,
        timeline = timeline(room),
        funnel = funnel(room),
    )
}
