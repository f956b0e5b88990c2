//! The policy's request gates as a Prometheus rule file, and a `promtool test rules`
//! file replaying a dataset's per-minute counters through it. The rules are exact for
//! series sampled at the evaluation ticks: window counts are differences of counters at
//! tick offsets (no `increase()`, so no extrapolation and no range boundaries), clipped
//! at the stage start read from a stage gauge, the request minimum is a filter, ratios
//! are compared by cross-multiplication, percentiles by counting requests above a
//! histogram bucket at the threshold, and "sustained" is `for:` over an alert whose
//! `stage` label changes with the stage (so the run restarts in each stage).

use std::collections::BTreeMap;

use super::yaml::{Node, map, s};
use crate::gate::Gate;
use crate::input::Millis;
use crate::policy::Policy;
use crate::time::format_duration;

/// The team's metric and label names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromNames {
    /// A counter of requests with the status code in `status_label`.
    pub requests: String,
    /// A histogram of request durations in seconds (its `_bucket` and `_count`).
    pub duration: String,
    pub status_label: String,
    /// Label matchers selecting the canary's real (non-synthetic) requests.
    pub selector: String,
    /// Label matchers selecting real requests of every cohort (the budget's traffic).
    pub real_selector: String,
    /// A gauge, present while a stage runs, holding the Unix time (seconds) the stage
    /// started, with the stage's name in `stage_label`.
    pub stage_metric: String,
    pub stage_label: String,
}

impl Default for PromNames {
    fn default() -> Self {
        Self {
            requests: "http_requests_total".into(),
            duration: "http_request_duration_seconds".into(),
            status_label: "code".into(),
            selector: "cohort=\"canary\",source=\"real\"".into(),
            real_selector: "source=\"real\"".into(),
            stage_metric: "rollout_stage_start_seconds".into(),
            stage_label: "stage".into(),
        }
    }
}

/// What an exported alert stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertDef {
    pub name: String,
    pub gate: Gate,
    /// A rollback trigger (sustained) or a Go gate (a breach at one tick holds).
    pub trigger: bool,
    pub summary: String,
}

/// Seconds text of a microsecond count, as Prometheus client libraries write a bucket's
/// `le` (`0.25`, `1`, `0.0125`).
pub fn le_text(us: u64) -> String {
    let whole = us / 1_000_000;
    let frac = us % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:06}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// The latency thresholds the rules need a bucket at, in microseconds, ascending.
pub fn thresholds(p: &Policy) -> Vec<u64> {
    let mut t: Vec<u64> = p.stages.iter().map(|s| s.go_p95_us).collect();
    t.push(p.trig_p95_us);
    t.push(p.trig_p99_us);
    t.sort_unstable();
    t.dedup();
    t
}

pub(super) fn selector(parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

pub(super) fn dur(ms: Millis) -> String {
    format_duration(ms)
}

/// Numerator and denominator of a policy fraction (the `output` layer does not name
/// the ratio type).
macro_rules! frac {
    ($r:expr) => {
        ($r.num, $r.den)
    };
}

const AGE: &str = "rehearse:stage_age_seconds";
const REQUESTS: &str = "rehearse:canary_requests:window";
const E5: &str = "rehearse:canary_errors_5xx:window";
const E4: &str = "rehearse:canary_errors_4xx_nonauth:window";
const LCOUNT: &str = "rehearse:canary_latency_count:window";
const ROLLOUT_TICK: &str = "rehearse:rollout_tick";
const E5_TICK: &str = "rehearse:canary_errors_5xx:tick";
const REAL_TICK: &str = "rehearse:real_requests:tick";
const E5_CUM: &str = "rehearse:canary_errors_5xx:since_start";
const REAL_CUM: &str = "rehearse:real_requests:since_start";
const ELAPSED: &str = "rehearse:rollout_elapsed_seconds";

fn le_series(us: u64) -> String {
    format!("rehearse:canary_latency_le_{us}us:window")
}

/// The window count of `sel` (a series selector) at a tick: the counter's increase over
/// the last `w` ticks, each earlier tick's increase counted only when the stage had
/// started by then.
pub(super) fn window_expr(sel: &str, p: &Policy) -> String {
    let tick = p.tick_ms;
    let at = |j: usize| {
        if j == 0 {
            format!("sum({sel})")
        } else {
            format!("sum({sel} offset {})", dur(j as Millis * tick))
        }
    };
    let mut e = format!("({} - {})", at(0), at(1));
    for j in 1..p.window_ticks {
        e.push_str(&format!(
            "\n+ (({} - {}) * ({AGE} >= bool {}) or vector(0))",
            at(j),
            at(j + 1),
            (j as Millis + 1) * tick / 1000
        ));
    }
    e
}

fn stage_one(n: &PromNames, stages: Option<&[&str]>) -> String {
    let sel = match stages {
        Some(names) => {
            let re: Vec<String> = names
                .iter()
                .map(|n| {
                    n.chars()
                        .flat_map(|c| {
                            let meta = ".+*?()|[]{}^$\\".contains(c);
                            meta.then_some('\\').into_iter().chain([c])
                        })
                        .collect()
                })
                .collect();
            selector(&[&format!(
                "{}=~\"{}\"",
                n.stage_label,
                re.join("|").replace('\\', "\\\\")
            )])
        }
        None => String::new(),
    };
    format!(
        "(max by ({}) ({}{sel}) * 0 + 1)",
        n.stage_label, n.stage_metric
    )
}

fn with_stage(cond: &str, n: &PromNames, stages: Option<&[&str]>) -> String {
    format!(
        "(\n  {}\n)\n* on() group_left({}) {}",
        cond.replace('\n', "\n  "),
        n.stage_label,
        stage_one(n, stages)
    )
}

/// `errors / requests >= num / den` with data, compared by cross-multiplication.
fn rate_cond(errors: &str, (num, den): (u64, u64), min: u64) -> String {
    format!(
        "{errors} / {REQUESTS}\nand on() ({errors} * {den} >= {num} * {REQUESTS})\nand on() ({REQUESTS} >= {min})"
    )
}

/// The nearest-rank quantile `num / den` above the threshold, with data: more requests
/// above it than `n - ceil(q n)`.
fn latency_cond(le_us: u64, (num, den): (u64, u64), min: u64) -> String {
    let le = le_series(le_us);
    format!(
        "{LCOUNT} - {le}\n> {LCOUNT} - ceil({LCOUNT} * {num} / {den})\nand on() ({REQUESTS} >= {min})"
    )
}

/// Budget burn since T0 above the limit, with data:
/// `B * elapsed * slo_den * burn_den > burn_num * (slo_den - slo_num) * N * period`
/// (seconds; the engine's integer comparison).
fn budget_cond(p: &Policy, (mn, md): (u64, u64)) -> String {
    let (sa, sb) = frac!(p.budget_slo);
    let period_s = p.budget_period_ms / 1000;
    format!(
        "{E5_CUM} * {ELAPSED} * {} > {} * {REAL_CUM} * {period_s}\nand on() ({REAL_CUM} >= {})",
        sb * md,
        mn * (sb - sa),
        p.min_requests
    )
}

fn pct(v: f64) -> String {
    let v = v * 100.0;
    format!("{}", (v * 1e9).round() / 1e9)
}

fn ms(us: u64) -> String {
    format!("{}", us as f64 / 1000.0)
}

/// The exported alerts, in rule order: the rollback triggers, then the Go gates.
pub fn alerts(p: &Policy) -> Vec<AlertDef> {
    let w = dur(p.window_ticks as Millis * p.tick_ms);
    let sustain = dur((p.sustain_ticks as Millis - 1) * p.tick_ms);
    let a = |name: &str, gate: Gate, trigger: bool, summary: String| AlertDef {
        name: name.into(),
        gate,
        trigger,
        summary,
    };
    vec![
        a(
            "RehearseRollback5xx",
            Gate::ErrorRate5xx,
            true,
            format!(
                "canary 5xx rate >= {}% over {w}, sustained {sustain}: roll back",
                pct(p.trig_5xx.as_f64())
            ),
        ),
        a(
            "RehearseRollback4xxNonauth",
            Gate::ErrorRate4xxNonauth,
            true,
            format!(
                "canary 4xx rate (401 and 403 aside) >= {}% over {w}, sustained {sustain}: roll back",
                pct(p.trig_4xx.as_f64())
            ),
        ),
        a(
            "RehearseRollbackLatencyP95",
            Gate::LatencyP95,
            true,
            format!(
                "canary p95 latency > {} ms over {w}, sustained {sustain}: roll back",
                ms(p.trig_p95_us)
            ),
        ),
        a(
            "RehearseRollbackLatencyP99",
            Gate::LatencyP99,
            true,
            format!(
                "canary p99 latency > {} ms over {w}, sustained {sustain}: roll back",
                ms(p.trig_p99_us)
            ),
        ),
        a(
            "RehearseRollbackBudgetBurn",
            Gate::BudgetBurn,
            true,
            format!(
                "canary 5xx since the rollout start burn more than {}% of the error budget, sustained {sustain}: roll back",
                pct(p.budget_max_burn.as_f64())
            ),
        ),
        a(
            "RehearseHold5xx",
            Gate::ErrorRate5xx,
            false,
            format!(
                "canary 5xx rate >= {}% over {w}: the stage cannot go",
                pct(p.go_5xx.as_f64())
            ),
        ),
        a(
            "RehearseHold4xxNonauth",
            Gate::ErrorRate4xxNonauth,
            false,
            format!(
                "canary 4xx rate (401 and 403 aside) >= {}% over {w}: the stage cannot go",
                pct(p.go_4xx.as_f64())
            ),
        ),
        a(
            "RehearseHoldLatencyP95",
            Gate::LatencyP95,
            false,
            "canary p95 latency above the stage's Go limit: the stage cannot go".into(),
        ),
        a(
            "RehearseHoldBudgetBurn",
            Gate::BudgetBurn,
            false,
            format!(
                "canary 5xx since the rollout start burn more than {}% of the error budget: the stage cannot go",
                pct(p.budget_max_burn.as_f64())
            ),
        ),
    ]
}

/// The rule file.
pub fn rules(p: &Policy, n: &PromNames) -> Node {
    let sel = |extra: &[&str]| {
        let mut parts = vec![n.selector.as_str()];
        parts.extend_from_slice(extra);
        selector(&parts)
    };
    let code5 = format!("{}=~\"5..\"", n.status_label);
    let code4 = format!("{}=~\"4..\"", n.status_label);
    let not_auth = format!("{}!~\"401|403\"", n.status_label);
    let mut recs: Vec<(String, String, &str)> = vec![
        (
            AGE.into(),
            format!("max(time() - {})", n.stage_metric),
            "seconds since the current stage started",
        ),
        (
            REQUESTS.into(),
            window_expr(&format!("{}{}", n.requests, sel(&[])), p),
            "canary real requests in the window",
        ),
        (
            E5.into(),
            window_expr(&format!("{}{}", n.requests, sel(&[&code5])), p),
            "of which 5xx",
        ),
        (
            E4.into(),
            window_expr(&format!("{}{}", n.requests, sel(&[&code4, &not_auth])), p),
            "of which 4xx other than 401 and 403",
        ),
        (
            LCOUNT.into(),
            window_expr(&format!("{}_count{}", n.duration, sel(&[])), p),
            "canary real request durations observed in the window",
        ),
    ];
    for us in thresholds(p) {
        let le = format!("le=\"{}\"", le_text(us));
        recs.push((
            le_series(us),
            window_expr(&format!("{}_bucket{}", n.duration, sel(&[&le])), p),
            "of which at most the threshold (the histogram needs a bucket at it)",
        ));
    }
    // The budget: per-tick counts recorded only while a stage runs, summed over the
    // rollout's length (so nothing before T0 counts, given no earlier rollout in that
    // span), and the ticks since T0.
    let stage_any = format!("on() (count({}) > 0)", n.stage_metric);
    let total = dur(p.total_ms());
    let tick = |sel: String| {
        format!(
            "(sum({sel}) - sum({sel} offset {}))\nand {stage_any}",
            dur(p.tick_ms)
        )
    };
    recs.push((
        ROLLOUT_TICK.into(),
        format!("vector(1) and {stage_any}"),
        "1 at every tick of the rollout",
    ));
    recs.push((
        E5_TICK.into(),
        tick(format!("{}{}", n.requests, sel(&[&code5]))),
        "canary real 5xx in the tick",
    ));
    recs.push((
        REAL_TICK.into(),
        tick(format!(
            "{}{}",
            n.requests,
            selector(&[n.real_selector.as_str()])
        )),
        "real requests of every cohort in the tick",
    ));
    recs.push((
        E5_CUM.into(),
        format!("sum_over_time({E5_TICK}[{total}])"),
        "since T0",
    ));
    recs.push((
        REAL_CUM.into(),
        format!("sum_over_time({REAL_TICK}[{total}])"),
        "since T0",
    ));
    recs.push((
        ELAPSED.into(),
        format!(
            "count_over_time({ROLLOUT_TICK}[{total}]) * {}",
            p.tick_ms / 1000
        ),
        "seconds since T0",
    ));
    let mut rules: Vec<Node> = recs
        .into_iter()
        .map(|(name, expr, _)| map([("record", s(name)), ("expr", Node::Block(expr))]))
        .collect();
    let defs = alerts(p);
    let sustain = dur((p.sustain_ticks as Millis - 1) * p.tick_ms);
    let min = p.min_requests;
    let alert = |d: &AlertDef, expr: String, limit: Option<u64>| {
        let mut entries = vec![("alert", s(&d.name)), ("expr", Node::Block(expr))];
        if d.trigger {
            entries.push(("for", s(&sustain)));
        }
        let mut labels = vec![
            ("severity", s(if d.trigger { "rollback" } else { "hold" })),
            ("gate", s(d.gate.as_str())),
        ];
        if let Some(us) = limit {
            // One rule per Go limit: the label keeps the rules apart.
            labels.push(("limit_ms", s(ms(us))));
        }
        entries.push(("labels", map(labels)));
        entries.push(("annotations", map([("summary", s(&d.summary))])));
        map(entries)
    };
    for d in &defs {
        match (d.gate, d.trigger) {
            (Gate::ErrorRate5xx, t) => rules.push(alert(
                d,
                with_stage(
                    &rate_cond(E5, frac!(if t { p.trig_5xx } else { p.go_5xx }), min),
                    n,
                    None,
                ),
                None,
            )),
            (Gate::ErrorRate4xxNonauth, t) => rules.push(alert(
                d,
                with_stage(
                    &rate_cond(E4, frac!(if t { p.trig_4xx } else { p.go_4xx }), min),
                    n,
                    None,
                ),
                None,
            )),
            (Gate::LatencyP95, true) => rules.push(alert(
                d,
                with_stage(&latency_cond(p.trig_p95_us, frac!(p.q95), min), n, None),
                None,
            )),
            (Gate::LatencyP99, _) => rules.push(alert(
                d,
                with_stage(&latency_cond(p.trig_p99_us, frac!(p.q99), min), n, None),
                None,
            )),
            (Gate::BudgetBurn, _) => rules.push(alert(
                d,
                with_stage(
                    // One limit for the Go gate and the trigger; the trigger is sustained.
                    &budget_cond(p, frac!(p.budget_max_burn)),
                    n,
                    None,
                ),
                None,
            )),
            (Gate::LatencyP95, false) => {
                // One rule per Go limit, each for the stages that have it.
                let mut by_limit: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
                for st in &p.stages {
                    by_limit.entry(st.go_p95_us).or_default().push(&st.name);
                }
                for (us, names) in by_limit {
                    rules.push(alert(
                        d,
                        with_stage(&latency_cond(us, frac!(p.q95), min), n, Some(&names)),
                        Some(us),
                    ));
                }
            }
            _ => {}
        }
    }
    map([(
        "groups",
        Node::Seq(vec![map([
            ("name", s("rehearse-canary")),
            ("interval", s(dur(p.tick_ms))),
            ("rules", Node::Seq(rules)),
        ])]),
    )])
    .comment(
        "groups",
        &[
            "Generated by `rehearse export prometheus` from the rollout policy.",
            "",
            "Inputs: a request counter with the status code as a label, a duration",
            "histogram (seconds) with a bucket at every latency threshold, and a stage",
            "gauge present while a stage runs, holding the Unix time it started.",
            "Windows are counter differences at tick offsets: exact when samples fall",
            "on the evaluation ticks, as in `rehearse export promtool-test`. Counter",
            "resets inside a window are not handled. The budget burn sums per-tick",
            "counts over the rollout's length: no earlier rollout may fall in that span.",
            "Not exported: availability and insufficient_data (judged at a stage's",
            "end), endpoint, infra, security, probe and log gates.",
        ],
    )
}

/// Per-minute counters of a dataset's requests, as the promtool test's input series.
#[derive(Clone, Debug, Default)]
pub struct MinuteCounters {
    pub t0: Millis,
    pub tick_ms: Millis,
    /// Ticks after T0 covered (sample `m` is at `T0 + m * tick`, `m = 0..=ticks`).
    pub ticks: usize,
    /// Latency thresholds counted (microseconds).
    pub thresholds: Vec<u64>,
    /// Per (canary, real): requests per status code, per tick interval.
    pub codes: BTreeMap<(bool, bool), BTreeMap<u16, Vec<u64>>>,
    /// Per (canary, real): requests per tick interval, then per threshold those with
    /// latency <= it.
    pub counts: BTreeMap<(bool, bool), Vec<u64>>,
    pub le: BTreeMap<(bool, bool), Vec<Vec<u64>>>,
}

impl MinuteCounters {
    pub fn new(t0: Millis, tick_ms: Millis, ticks: usize, thresholds: Vec<u64>) -> Self {
        let mut c = Self {
            t0,
            tick_ms,
            ticks,
            thresholds,
            ..Self::default()
        };
        for key in [(true, true), (true, false), (false, true), (false, false)] {
            c.counts.insert(key, vec![0; ticks + 1]);
            c.le.insert(key, vec![vec![0; ticks + 1]; c.thresholds.len()]);
            c.codes.insert(key, BTreeMap::new());
        }
        c
    }

    /// Adds another part's counts (parts of one file read in parallel).
    pub fn merge(&mut self, other: &Self) {
        let add = |a: &mut Vec<u64>, b: &[u64]| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        };
        for (k, codes) in &other.codes {
            let mine = self.codes.entry(*k).or_default();
            for (code, v) in codes {
                add(mine.entry(*code).or_insert_with(|| vec![0; v.len()]), v);
            }
        }
        for (k, v) in &other.counts {
            if let Some(mine) = self.counts.get_mut(k) {
                add(mine, v);
            }
        }
        for (k, vs) in &other.le {
            if let Some(mine) = self.le.get_mut(k) {
                for (a, b) in mine.iter_mut().zip(vs) {
                    add(a, b);
                }
            }
        }
    }

    /// Counts one request: at sample `ceil((ts - T0) / tick)` (an event at a tick
    /// belongs to the window ending there), events at or before T0 in sample 0.
    pub fn add(&mut self, ts: Millis, canary: bool, real: bool, status: u16, latency_us: u64) {
        let since = ts.saturating_sub(self.t0).max(0);
        let m = since.div_euclid(self.tick_ms) + i64::from(since.rem_euclid(self.tick_ms) != 0);
        let Ok(m) = usize::try_from(m) else { return };
        if m > self.ticks {
            return;
        }
        let key = (canary, real);
        let ticks = self.ticks;
        self.codes
            .entry(key)
            .or_default()
            .entry(status)
            .or_insert_with(|| vec![0; ticks + 1])[m] += 1;
        if let Some(c) = self.counts.get_mut(&key) {
            c[m] += 1;
        }
        if let Some(le) = self.le.get_mut(&key) {
            for (i, t) in self.thresholds.iter().enumerate() {
                if latency_us <= *t {
                    le[i][m] += 1;
                }
            }
        }
    }
}

/// Cumulative values in promtool's expanding notation: runs of a constant step as
/// `a+bxn` (n + 1 values).
pub fn expand(increments: &[u64]) -> String {
    let mut v = Vec::with_capacity(increments.len());
    let mut acc = 0u64;
    for i in increments {
        acc += i;
        v.push(acc);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        if i + 1 < v.len() {
            let d = v[i + 1] - v[i];
            j = i + 1;
            while j + 1 < v.len() && v[j + 1] - v[j] == d {
                j += 1;
            }
            out.push(format!("{}+{d}x{}", v[i], j - i));
        } else {
            out.push(v[i].to_string());
        }
        i = j + 1;
    }
    out.join(" ")
}

fn labels(n: &PromNames, canary: bool, real: bool, extra: &str) -> String {
    let _ = n;
    format!(
        "{{cohort=\"{}\",source=\"{}\"{extra}}}",
        if canary { "canary" } else { "baseline" },
        if real { "real" } else { "synthetic" }
    )
}

/// The promtool unit-test file for the rule file `rule_file`: the counters as input
/// series, the stage gauge from the policy's schedule, and, at every tick through
/// `until` (the end of the rehearsed part), each exported rollback alert firing exactly
/// when it is one of `fired` at `fired_at` (the rehearsal's rollback), and not before.
pub fn promtool_test(
    p: &Policy,
    n: &PromNames,
    c: &MinuteCounters,
    rule_file: &str,
    rollback: Option<(Millis, &str, &[Gate])>,
    until: Millis,
) -> Node {
    let mut series = Vec::new();
    let push = |series: &mut Vec<Node>, name: String, values: String| {
        series.push(map([("series", s(name)), ("values", s(values))]));
    };
    for (&(canary, real), codes) in &c.codes {
        for (code, inc) in codes {
            push(
                &mut series,
                format!(
                    "{}{}",
                    n.requests,
                    labels(n, canary, real, &format!(",{}=\"{code}\"", n.status_label))
                ),
                expand(inc),
            );
        }
    }
    for (&(canary, real), counts) in &c.counts {
        push(
            &mut series,
            format!("{}_count{}", n.duration, labels(n, canary, real, "")),
            expand(counts),
        );
        for (i, t) in c.thresholds.iter().enumerate() {
            push(
                &mut series,
                format!(
                    "{}_bucket{}",
                    n.duration,
                    labels(n, canary, real, &format!(",le=\"{}\"", le_text(*t)))
                ),
                expand(&c.le[&(canary, real)][i]),
            );
        }
    }
    let tick = c.tick_ms;
    for st in &p.stages {
        let first = (st.start_ms / tick) as usize + 1;
        let last = ((st.start_ms + st.duration_ms) / tick) as usize;
        if first > c.ticks || last < first {
            continue;
        }
        let last = last.min(c.ticks);
        let mut v = format!("_x{first} {}x{}", st.start_ms / 1000, last - first);
        if last < c.ticks {
            v.push_str(" stale");
        }
        push(
            &mut series,
            format!("{}{{{}=\"{}\"}}", n.stage_metric, n.stage_label, st.name),
            v,
        );
    }
    let defs: Vec<AlertDef> = alerts(p).into_iter().filter(|d| d.trigger).collect();
    let mut tests = Vec::new();
    let last_tick = (until / tick) as usize;
    for k in 1..=last_tick.min(c.ticks) {
        let t = k as Millis * tick;
        for d in &defs {
            let firing = match rollback {
                Some((at, stage, gates)) if at == t && gates.contains(&d.gate) => Some(stage),
                _ => None,
            };
            let exp = match firing {
                Some(stage) => Node::Seq(vec![map([
                    (
                        "exp_labels",
                        map([
                            ("severity", s("rollback")),
                            ("gate", s(d.gate.as_str())),
                            (n.stage_label.as_str(), s(stage)),
                        ]),
                    ),
                    ("exp_annotations", map([("summary", s(&d.summary))])),
                ])]),
                None => Node::Seq(vec![]),
            };
            tests.push(map([
                ("eval_time", s(dur(t))),
                ("alertname", s(&d.name)),
                ("exp_alerts", exp),
            ]));
        }
    }
    map([
        ("rule_files", Node::Seq(vec![s(rule_file)])),
        ("evaluation_interval", s(dur(tick))),
        (
            "tests",
            Node::Seq(vec![map([
                ("interval", s(dur(tick))),
                ("input_series", Node::Seq(series)),
                ("alert_rule_test", Node::Seq(tests)),
            ])]),
        ),
    ])
    .comment(
        "rule_files",
        &[
            "Generated by `rehearse export promtool-test`: time 0 is the rollout's T0;",
            "the input series are the dataset's requests counted per tick.",
            "Each rollback alert is asserted at every tick: firing exactly at the",
            "rehearsal's rollback instant when the rehearsal names its gate, else not.",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_text_is_the_shortest_seconds() {
        assert_eq!(le_text(250_000), "0.25");
        assert_eq!(le_text(1_000_000), "1");
        assert_eq!(le_text(12_500), "0.0125");
        assert_eq!(le_text(600_000), "0.6");
    }

    #[test]
    fn expand_writes_runs_of_steps() {
        assert_eq!(expand(&[0, 1, 1, 1, 5, 0]), "0+1x3 8+0x1");
        assert_eq!(expand(&[0, 1, 1, 1, 5, 0, 2]), "0+1x3 8+0x1 10");
        assert_eq!(expand(&[2]), "2");
        assert_eq!(expand(&[0, 0, 0]), "0+0x2");
    }

    #[test]
    fn minute_counters_put_an_event_at_a_tick_in_the_window_ending_there() {
        let mut c = MinuteCounters::new(0, 60_000, 3, vec![250_000]);
        c.add(60_000, true, true, 200, 250_000);
        c.add(60_001, true, true, 503, 250_001);
        c.add(-5, false, true, 200, 1);
        c.add(240_000, true, true, 200, 1);
        assert_eq!(c.counts[&(true, true)], [0, 1, 1, 0]);
        assert_eq!(c.le[&(true, true)][0], [0, 1, 0, 0]);
        assert_eq!(c.codes[&(true, true)][&503], [0, 0, 1, 0]);
        assert_eq!(c.counts[&(false, true)], [1, 0, 0, 0]);
    }

    #[test]
    fn the_rules_hold_the_policy_numbers() {
        let p = Policy::default_policy();
        let y = rules(&p, &PromNames::default()).render();
        assert!(
            y.contains(
                "rehearse:canary_errors_5xx:window * 1000 >= 5 * rehearse:canary_requests:window"
            ),
            "{y}"
        );
        assert!(y.contains("ceil(rehearse:canary_latency_count:window * 95 / 100)"));
        assert!(y.contains("for: \"10m\""));
        assert!(y.contains("le=\\\"0.25\\\"") || y.contains("le=\"0.25\""));
        assert!(y.contains("rehearse:canary_requests:window >= 100"));
        assert!(y.contains("offset 5m"));
        assert!(!y.contains("offset 6m"));
        assert!(y.contains("stage=~\"synthetic|ramp-5|ramp-25\""), "{y}");
        assert!(y.contains("stage=~\"full\""));
    }
}
