//! The rollback triggers as canary-controller analysis: an Argo Rollouts
//! `AnalysisTemplate` and Flagger `MetricTemplate`s plus a `Canary`, each metric a
//! self-contained Prometheus query (no recording rules needed) returning 1 when the
//! trigger is sustained and 0 otherwise. Both controllers count failed measurements
//! cumulatively instead of "sustained for N minutes", so the sustain is inside the
//! query (`min_over_time(...[10m:1m])`) and one failure rolls back. Every difference from
//! the rehearsed semantics is written into the YAML's comments.

use super::prometheus::{PromNames, dur, selector};
use super::yaml::{Node, map, raw, s};
use crate::input::Millis;
use crate::policy::Policy;

/// One exported trigger: its metric name, what it says, and the 0/1 query.
struct Metric {
    name: &'static str,
    summary: String,
    query: String,
}

/// The window count of a selector: the counter's difference over the window, not
/// clipped at a step's start.
fn window(sel: &str, p: &Policy) -> String {
    let w = dur(p.window_ticks as Millis * p.tick_ms);
    format!("(sum({sel}) - sum({sel} offset {w}))")
}

fn sustained(breach: &str, p: &Policy) -> String {
    let span = dur((p.sustain_ticks as Millis - 1) * p.tick_ms);
    let step = dur(p.tick_ms);
    format!(
        "min_over_time((\n  (\n    {}\n  ) * 0 + 1\n  or on() vector(0)\n)[{span}:{step}])",
        breach.replace('\n', "\n    ")
    )
}

fn metrics(p: &Policy, n: &PromNames) -> Vec<Metric> {
    let sel = |extra: &[&str]| {
        let mut parts = vec![n.selector.as_str()];
        parts.extend_from_slice(extra);
        selector(&parts)
    };
    let req = window(&format!("{}{}", n.requests, sel(&[])), p);
    let code5 = format!("{}=~\"5..\"", n.status_label);
    let code4 = format!("{}=~\"4..\"", n.status_label);
    let not_auth = format!("{}!~\"401|403\"", n.status_label);
    let e5 = window(&format!("{}{}", n.requests, sel(&[&code5])), p);
    let e4 = window(&format!("{}{}", n.requests, sel(&[&code4, &not_auth])), p);
    let count = window(&format!("{}_count{}", n.duration, sel(&[])), p);
    let min = p.min_requests;
    let rate = |e: &str, (num, den): (u64, u64)| {
        format!("({e} * {den} >= {num} * {req})\nand on() ({req} >= {min})")
    };
    let latency = |us: u64, (qn, qd): (u64, u64)| {
        let le = format!("le=\"{}\"", super::prometheus::le_text(us));
        let b = window(&format!("{}_bucket{}", n.duration, sel(&[&le])), p);
        format!(
            "({count} - {b} > {count} - ceil({count} * {qn} / {qd}))\nand on() ({req} >= {min})"
        )
    };
    vec![
        Metric {
            name: "error-rate-5xx",
            summary: format!("5xx rate >= {}", p.trig_5xx.as_f64()),
            query: sustained(&rate(&e5, (p.trig_5xx.num, p.trig_5xx.den)), p),
        },
        Metric {
            name: "error-rate-4xx-nonauth",
            summary: format!("4xx rate (401, 403 aside) >= {}", p.trig_4xx.as_f64()),
            query: sustained(&rate(&e4, (p.trig_4xx.num, p.trig_4xx.den)), p),
        },
        Metric {
            name: "latency-p95",
            summary: format!("p95 > {} ms", p.trig_p95_us as f64 / 1000.0),
            query: sustained(&latency(p.trig_p95_us, (p.q95.num, p.q95.den)), p),
        },
        Metric {
            name: "latency-p99",
            summary: format!("p99 > {} ms", p.trig_p99_us as f64 / 1000.0),
            query: sustained(&latency(p.trig_p99_us, (p.q99.num, p.q99.den)), p),
        },
    ]
}

/// Each exported trigger's gate id and its query (1 when sustained, else 0).
pub fn queries(p: &Policy, n: &PromNames) -> Vec<(&'static str, String)> {
    let gates = [
        "error_rate_5xx",
        "error_rate_4xx_nonauth",
        "latency_p95",
        "latency_p99",
    ];
    gates
        .into_iter()
        .zip(metrics(p, n))
        .map(|(g, m)| (g, m.query))
        .collect()
}

/// The differences from the rehearsal, shared by both exports.
fn differences(p: &Policy) -> Vec<String> {
    let w = dur(p.window_ticks as Millis * p.tick_ms);
    let sustain = dur((p.sustain_ticks as Millis - 1) * p.tick_ms);
    vec![
        "Differences from the rehearsed semantics (rehearse docs/interop.md):".into(),
        format!(
            "- Sustain: each query is 1 when its trigger held at every {} tick of the last",
            dur(p.tick_ms)
        ),
        format!(
            "  {sustain} (Prometheus 2.x subqueries include both ends: {} points; on",
            p.sustain_ticks
        ),
        format!("  Prometheus 3, whose ranges exclude the start, widen the range by one tick)."),
        "  The controller counts failures cumulatively; one failure rolls back here.".into(),
        format!("- Windows are the last {w} and are not clipped at a step's start, and the"),
        "  sustain does not restart with a step: near a weight change the query reads".into(),
        "  the previous step's traffic, which the rehearsal does not.".into(),
        "- Windows are counter differences at the query instant (`offset`), exact when".into(),
        "  samples fall on the ticks; between scrapes they lag by up to a scrape interval.".into(),
        "- Only the request rollback triggers are exported. The Go gates (hold), the".into(),
        "  synthetic probe stage, probe, infra, security, log and page gates, budget burn,".into(),
        "  availability and insufficient_data have no equivalent here.".into(),
        "- Stage durations are the controller's: it advances a step after each passing".into(),
        "  interval, where the rehearsal holds each weight for its stage's duration.".into(),
        "- Latency percentiles need a histogram bucket at each threshold (`le` as the".into(),
        "  client library writes it); synthetic traffic must be excluded by a label.".into(),
    ]
}

fn comments(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_string()
            } else {
                format!("# {l}\n")
            }
        })
        .collect()
}

/// An Argo Rollouts `AnalysisTemplate` with one Prometheus metric per trigger.
pub fn argo(p: &Policy, n: &PromNames, address: &str) -> String {
    let ms: Vec<Node> = metrics(p, n)
        .into_iter()
        .map(|m| {
            map([
                ("name", s(m.name)),
                ("interval", s(dur(p.tick_ms))),
                ("failureLimit", raw(0)),
                ("failureCondition", s("result[0] >= 1")),
                (
                    "provider",
                    map([(
                        "prometheus",
                        map([("address", s(address)), ("query", Node::Block(m.query))]),
                    )]),
                ),
            ])
            .comment(
                "name",
                &[&format!("rollback trigger: {}, sustained", m.summary)],
            )
        })
        .collect();
    let doc = map([
        ("apiVersion", s("argoproj.io/v1alpha1")),
        ("kind", s("AnalysisTemplate")),
        ("metadata", map([("name", s("rehearse-rollback-triggers"))])),
        ("spec", map([("metrics", Node::Seq(ms))])),
    ]);
    let mut head = vec![
        "Generated by `rehearse export argo`: the rollout policy's request rollback".to_string(),
        "triggers as an AnalysisTemplate (run it as the Rollout's background analysis).".into(),
        String::new(),
    ];
    head.extend(differences(p));
    format!("{}{}", comments(&head), doc.render())
}

/// Flagger `MetricTemplate`s (one per trigger) and a `Canary` whose analysis uses them,
/// with the policy's canary weights as `stepWeights`.
pub fn flagger(p: &Policy, n: &PromNames, address: &str) -> String {
    let ms = metrics(p, n);
    let mut docs = Vec::new();
    let mut head = vec![
        "Generated by `rehearse export flagger`: the rollout policy's request rollback".to_string(),
        "triggers as MetricTemplates and the Canary analysis that uses them.".into(),
        String::new(),
    ];
    head.extend(differences(p));
    for m in &ms {
        docs.push(
            map([
                ("apiVersion", s("flagger.app/v1beta1")),
                ("kind", s("MetricTemplate")),
                (
                    "metadata",
                    map([("name", s(format!("rehearse-{}", m.name)))]),
                ),
                (
                    "spec",
                    map([
                        (
                            "provider",
                            map([("type", s("prometheus")), ("address", s(address))]),
                        ),
                        ("query", Node::Block(m.query.clone())),
                    ]),
                ),
            ])
            .comment(
                "apiVersion",
                &[&format!("rollback trigger: {}, sustained", m.summary)],
            )
            .render(),
        );
    }
    let weights: Vec<Node> = p
        .stages
        .iter()
        .filter(|s| s.weight > 0.0 && s.weight < 1.0)
        .map(|s| raw(format!("{}", (s.weight * 100.0 * 1e6).round() / 1e6)))
        .collect();
    let analysis_metrics: Vec<Node> = ms
        .iter()
        .map(|m| {
            map([
                ("name", s(m.name)),
                (
                    "templateRef",
                    map([("name", s(format!("rehearse-{}", m.name)))]),
                ),
                ("thresholdRange", map([("max", raw(0))])),
                ("interval", s(dur(p.tick_ms))),
            ])
        })
        .collect();
    docs.push(
        map([
            ("apiVersion", s("flagger.app/v1beta1")),
            ("kind", s("Canary")),
            ("metadata", map([("name", s("app"))])),
            (
                "spec",
                map([
                    (
                        "targetRef",
                        map([
                            ("apiVersion", s("apps/v1")),
                            ("kind", s("Deployment")),
                            ("name", s("app")),
                        ]),
                    ),
                    ("service", map([("port", raw(80))])),
                    (
                        "analysis",
                        map([
                            ("interval", s(dur(p.tick_ms))),
                            ("threshold", raw(1)),
                            ("stepWeights", Node::Seq(weights)),
                            ("metrics", Node::Seq(analysis_metrics)),
                        ])
                        .comment(
                            "threshold",
                            &["one failed check rolls back: the sustain is inside each query"],
                        ),
                    ),
                ]),
            ),
        ])
        .comment(
            "apiVersion",
            &["Rename targetRef and service to the workload's."],
        )
        .render(),
    );
    format!("{}{}", comments(&head), docs.join("---\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_and_flagger_carry_the_sustain_in_the_query() {
        let p = Policy::default_policy();
        let n = PromNames::default();
        let a = argo(&p, &n, "http://prometheus:9090");
        assert!(a.contains("kind: \"AnalysisTemplate\""));
        assert!(a.contains("[10m:1m])"));
        assert!(a.contains("failureLimit: 0"));
        assert!(a.contains("offset 5m"));
        assert!(a.contains("* 1000 >= 5 *"));
        let f = flagger(&p, &n, "http://prometheus:9090");
        assert_eq!(f.matches("kind: \"MetricTemplate\"").count(), 4);
        assert!(f.contains("kind: \"Canary\""));
        assert!(f.contains("stepWeights:\n      - 5\n      - 25\n"), "{f}");
        assert!(f.contains("# Differences from the rehearsed semantics"));
    }
}
