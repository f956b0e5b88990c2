//! Live tuning: the knobs an SRE can move (each Go and trigger threshold, the sustain
//! span, a few section-8 limits), and the tuner that rebuilds the policy from the base
//! policy's TOML plus one `KEY=VALUE` per moved knob (exactly what `rehearse run
//! --policy` reads back from the saved file) and re-evaluates it over the per-tick
//! aggregates, refusing any policy those aggregates cannot judge exactly.

use std::time::{Duration, Instant};

use crate::engine::fold::slot;
use crate::engine::{Folded, Run, evaluate_with};
use crate::events::{Gate, Verdict, VerdictEvent};
use crate::model::Millis;
use crate::policy::{Policy, PolicyBuilder};
use crate::sketch::Sketch;
use crate::time::format_duration;

/// How a knob's value moves and reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KnobKind {
    /// A rate (fraction), in steps of 0.001, shown as a percentage.
    Rate,
    /// A latency in milliseconds, in steps of 5 ms (the tuning grid).
    Ms,
    /// `rollout.sustain`, counted in ticks (sustain / tick + 1).
    SustainTicks,
    /// A plain number in steps of the given size.
    Step(f64),
    /// A whole number, in steps of 1, at least 1.
    Count,
}

/// One tunable policy value.
#[derive(Clone, Debug, PartialEq)]
pub struct Knob {
    /// The policy key, as `--set` takes it.
    pub key: String,
    /// A short label for the screen.
    pub label: String,
    /// The gates the value holds to.
    pub gates: Vec<Gate>,
    pub kind: KnobKind,
    /// The base policy's value.
    pub base: f64,
    /// The current value.
    pub value: f64,
}

/// Rounds away binary noise (0.005 + 0.001 is 0.006, not 0.006000000000000001).
fn clean(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

impl Knob {
    fn step(&self) -> f64 {
        match self.kind {
            KnobKind::Rate => 0.001,
            KnobKind::Ms => 5.0,
            KnobKind::SustainTicks | KnobKind::Count => 1.0,
            KnobKind::Step(s) => s,
        }
    }

    /// The value one step up or down, snapped to the step grid (a value between grid
    /// points moves to the next one); `None` when it would leave the valid range.
    pub fn moved(&self, up: bool) -> Option<f64> {
        let step = self.step();
        let u = self.value / step;
        let n = if up {
            (u + 1e-6).floor() + 1.0
        } else {
            (u - 1e-6).ceil() - 1.0
        };
        let v = clean(n * step);
        let min = match self.kind {
            KnobKind::SustainTicks | KnobKind::Count => 1.0,
            KnobKind::Rate | KnobKind::Ms => step,
            KnobKind::Step(_) => 0.0,
        };
        (v >= min - 1e-12).then_some(v)
    }

    pub fn changed(&self) -> bool {
        (self.value - self.base).abs() > 1e-12
    }

    /// A value as people read it.
    pub fn show(&self, v: f64, tick_ms: i64) -> String {
        match self.kind {
            KnobKind::Rate => format!("{}%", clean(v * 100.0)),
            KnobKind::Ms => format!("{} ms", clean(v)),
            KnobKind::SustainTicks => {
                format!(
                    "{} ticks ({})",
                    v as i64,
                    format_duration((v as i64 - 1).max(0) * tick_ms)
                )
            }
            KnobKind::Step(_) => format!("{}", clean(v)),
            KnobKind::Count => format!("{}", v as i64),
        }
    }

    /// The `KEY=VALUE` override for the current value.
    pub fn set_arg(&self, tick_ms: i64) -> String {
        let v = clean(self.value);
        let value = match self.kind {
            KnobKind::SustainTicks => {
                format!("\"{}\"", format_duration((v as i64 - 1).max(0) * tick_ms))
            }
            KnobKind::Count => format!("{}", v as i64),
            KnobKind::Rate | KnobKind::Ms | KnobKind::Step(_) => {
                let s = format!("{v}");
                if s.contains('.') { s } else { format!("{s}.0") }
            }
        };
        format!("{}={value}", self.key)
    }
}

/// The knobs of a policy, grouped by gate in the gate table's order.
pub fn knobs_of(p: &Policy) -> Vec<Knob> {
    let f = &p.file;
    let mut k = Vec::new();
    let mut add = |key: &str, label: &str, gates: &[Gate], kind: KnobKind, v: f64| {
        k.push(Knob {
            key: key.to_string(),
            label: label.to_string(),
            gates: gates.to_vec(),
            kind,
            base: v,
            value: v,
        });
    };
    use Gate as G;
    use KnobKind as K;
    add(
        "go.error_rate_5xx",
        "5xx go",
        &[G::ErrorRate5xx],
        K::Rate,
        f.go.error_rate_5xx,
    );
    add(
        "triggers.error_rate_5xx",
        "5xx trigger",
        &[G::ErrorRate5xx],
        K::Rate,
        f.triggers.error_rate_5xx,
    );
    add(
        "go.error_rate_4xx_nonauth",
        "4xx go",
        &[G::ErrorRate4xxNonauth],
        K::Rate,
        f.go.error_rate_4xx_nonauth,
    );
    add(
        "triggers.error_rate_4xx_nonauth",
        "4xx trigger",
        &[G::ErrorRate4xxNonauth],
        K::Rate,
        f.triggers.error_rate_4xx_nonauth,
    );
    for s in &f.stages {
        add(
            &format!("stages.{}.go_p95_ms", s.name),
            &format!("p95 go {}", s.name),
            &[G::LatencyP95],
            K::Ms,
            s.go_p95_ms,
        );
    }
    add(
        "triggers.latency_p95_ms",
        "p95 trigger",
        &[G::LatencyP95],
        K::Ms,
        f.triggers.latency_p95_ms,
    );
    add(
        "triggers.latency_p99_ms",
        "p99 trigger",
        &[G::LatencyP99],
        K::Ms,
        f.triggers.latency_p99_ms,
    );
    add(
        "rollout.sustain",
        "sustain",
        &[
            G::ErrorRate5xx,
            G::ErrorRate4xxNonauth,
            G::LatencyP95,
            G::LatencyP99,
            G::BudgetBurn,
            G::SecurityWafSpike,
            G::SecurityAuthFailures,
            G::SchemaFailures,
            G::PiiInLogs,
            G::QueueBacklog,
        ],
        K::SustainTicks,
        p.sustain_ticks as f64,
    );
    add(
        "budget.max_burn",
        "budget burn",
        &[G::BudgetBurn],
        K::Step(0.01),
        f.budget.max_burn,
    );
    add(
        "endpoints.p95_ms",
        "endpoint p95",
        &[G::EndpointLatencyP95],
        K::Ms,
        f.endpoints.p95_ms,
    );
    add(
        "go.availability",
        "availability",
        &[G::Availability],
        K::Step(0.0005),
        f.go.availability,
    );
    add(
        "go.max_no_data_ticks",
        "no-data share",
        &[G::InsufficientData],
        K::Step(0.01),
        f.go.max_no_data_ticks,
    );
    add(
        "probes.consecutive_failures",
        "probe fails",
        &[G::ProbeFailures],
        K::Count,
        f64::from(f.probes.consecutive_failures),
    );
    add(
        "infra.cpu_p95",
        "cpu p95",
        &[G::CpuHeadroom],
        K::Step(0.01),
        f.infra.cpu_p95,
    );
    add(
        "infra.mem_free_p5",
        "mem free p5",
        &[G::MemoryHeadroom],
        K::Step(0.01),
        f.infra.mem_free_p5,
    );
    add(
        "infra.db_p95_ms",
        "db p95",
        &[G::DbLatency],
        K::Step(5.0),
        f.infra.db_p95_ms,
    );
    add(
        "infra.queue_depth",
        "queue depth",
        &[G::QueueBacklog],
        K::Step(100.0),
        f.infra.queue_depth,
    );
    add(
        "security.factor",
        "sec. factor",
        &[G::SecurityWafSpike, G::SecurityAuthFailures],
        K::Step(0.5),
        f.security.factor,
    );
    add(
        "security.min_per_minute",
        "sec. min/min",
        &[G::SecurityWafSpike, G::SecurityAuthFailures],
        K::Step(1.0),
        f.security.min_per_minute,
    );
    k
}

/// The policy as a TOML file that reads back the same from any directory: schema
/// paths are written absolute.
pub fn portable_toml(p: &Policy) -> String {
    let mut file = p.file.clone();
    for (target, path) in &p.probe_schemas {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        file.probes
            .schemas
            .insert(target.clone(), abs.display().to_string());
    }
    toml::to_string(&file).unwrap_or_default()
}

/// The displayed (approximate, sketch-based) p95 and p99 of every tick's window, in
/// ms. They depend on the data, the stage plan, the window and `min_requests`, none of
/// which a knob moves, so they are computed once and every re-evaluation runs without
/// them ([`evaluate_with`] with `display` off, several times faster) and gets them
/// patched back in: the events are then exactly those of a full evaluation.
struct LatencyDisplay {
    t0: Millis,
    tick_ms: Millis,
    /// Indexed by tick number k (index 0 unused).
    p95: Vec<Option<f64>>,
    p99: Vec<Option<f64>>,
}

impl LatencyDisplay {
    fn new(p: &Policy, f: &Folded) -> Self {
        let mut p95 = vec![None; f.ticks + 1];
        let mut p99 = vec![None; f.ticks + 1];
        let ms = |us: u64| us as f64 / 1000.0;
        let mut window = Sketch::default();
        for stage in &p.stages {
            let m = (stage.start_ms / f.tick_ms) as usize;
            let k_end = ((stage.end_ms() / f.tick_ms) as usize).min(f.ticks);
            for k in m + 1..=k_end {
                let lo = k.saturating_sub(p.window_ticks).max(m);
                let n: u64 = (lo..k).map(|j| f.interval_counters(j)[slot::N]).sum();
                if n < p.min_requests {
                    continue;
                }
                window.clear();
                for s in f.sketches[lo..k].iter().flatten() {
                    window.merge(s);
                }
                p95[k] = window.value_at_rank(p.q95.ceil_mul(n)).map(ms);
                p99[k] = window.value_at_rank(p.q99.ceil_mul(n)).map(ms);
            }
        }
        LatencyDisplay {
            t0: f.t0,
            tick_ms: f.tick_ms,
            p95,
            p99,
        }
    }

    fn at(&self, g: Gate, at: Millis) -> Option<f64> {
        let d = at - self.t0;
        if d <= 0 || d % self.tick_ms != 0 {
            return None;
        }
        let k = (d / self.tick_ms) as usize;
        match g {
            Gate::LatencyP95 => self.p95.get(k).copied().flatten(),
            Gate::LatencyP99 => self.p99.get(k).copied().flatten(),
            _ => None,
        }
    }

    /// Fills the displayed latencies into a run evaluated without them.
    fn patch(&self, run: &mut Run) {
        let latency = |g: Gate| matches!(g, Gate::LatencyP95 | Gate::LatencyP99);
        for e in &mut run.events {
            match e {
                VerdictEvent::Tick(t) => {
                    for gt in t.gates.iter_mut().filter(|gt| latency(gt.gate)) {
                        gt.value = self.at(gt.gate, t.at);
                    }
                }
                VerdictEvent::Breach { at, evidence, .. }
                | VerdictEvent::Trigger { at, evidence, .. }
                    if latency(evidence.gate) && evidence.since.is_some() =>
                {
                    evidence.value = self.at(evidence.gate, *at);
                }
                _ => {}
            }
        }
        for s in &mut run.stages {
            let rollback = s.verdict == Verdict::Rollback;
            for e in s.evidence.iter_mut().filter(|e| latency(e.gate)) {
                // A trigger's value is the one at its firing; a Go breach's at its first tick.
                let at = if rollback { s.judged_at } else { e.since };
                if let (Some(at), Some(_)) = (at, e.since) {
                    e.value = self.at(e.gate, at);
                }
            }
        }
    }
}

/// A re-evaluation: the tuned policy and its run.
pub struct Retuned {
    pub policy: Policy,
    pub run: Run,
    /// How long the evaluation took.
    pub elapsed: Duration,
}

/// Re-evaluates tuned policies over one fold.
pub struct Tuner {
    folded: Folded,
    display: LatencyDisplay,
    base_toml: String,
    pub base: Policy,
    pub knobs: Vec<Knob>,
    /// Final stage verdicts under the base policy.
    pub base_verdicts: Vec<Verdict>,
}

impl Tuner {
    pub fn new(base: &Policy, folded: Folded, run: &Run) -> Self {
        Tuner {
            display: LatencyDisplay::new(base, &folded),
            folded,
            base_toml: portable_toml(base),
            base: base.clone(),
            knobs: knobs_of(base),
            base_verdicts: run.stages.iter().map(|s| s.verdict).collect(),
        }
    }

    /// The `KEY=VALUE` overrides of the moved knobs.
    pub fn sets(&self) -> Vec<String> {
        self.knobs
            .iter()
            .filter(|k| k.changed())
            .map(|k| k.set_arg(self.base.tick_ms))
            .collect()
    }

    /// The `KEY=VALUE` overrides of the moved knobs (with knob `idx` at `value`).
    pub fn sets_with(&self, idx: usize, value: f64) -> Vec<String> {
        self.knobs
            .iter()
            .enumerate()
            .filter_map(|(i, k)| {
                let mut k = k.clone();
                if i == idx {
                    k.value = value;
                }
                k.changed().then(|| k.set_arg(self.base.tick_ms))
            })
            .collect()
    }

    /// Builds the policy with knob `idx` at `value` and evaluates it; an error in words
    /// when the policy is invalid or these aggregates cannot judge it exactly.
    pub fn try_value(&self, idx: usize, value: f64) -> Result<Retuned, String> {
        let sets = self.sets_with(idx, value);
        let mut b = PolicyBuilder::new()
            .text(&self.base_toml, "the base policy")
            .map_err(|e| e.to_string())?;
        for s in &sets {
            b = b.set(s).map_err(|e| e.to_string())?;
        }
        let policy = b.build().map_err(|e| e.to_string())?;
        if policy.window_ticks != self.base.window_ticks
            || policy.min_requests != self.base.min_requests
        {
            return Err("the window and min_requests cannot be tuned here".into());
        }
        if !self.folded.supports(&policy) {
            return Err(
                "outside what the per-tick aggregates can judge exactly (latency limits in 5 ms steps up to 2 s)"
                    .into(),
            );
        }
        let started = Instant::now();
        let mut run = evaluate_with(&policy, &self.folded, false);
        self.display.patch(&mut run);
        Ok(Retuned {
            policy,
            run,
            elapsed: started.elapsed(),
        })
    }

    /// Sets knob `idx` to `value` (after a successful [`Tuner::try_value`]).
    pub fn commit(&mut self, idx: usize, value: f64) {
        if let Some(k) = self.knobs.get_mut(idx) {
            k.value = value;
        }
    }

    /// How many knobs differ from the base policy.
    pub fn moved(&self) -> usize {
        self.knobs.iter().filter(|k| k.changed()).count()
    }
}

/// The stage verdicts that differ, in words: `ramp-25: rollback -> go`.
pub fn verdict_diffs(names: &[String], before: &[Verdict], after: &[Verdict]) -> Vec<String> {
    names
        .iter()
        .zip(before.iter().zip(after))
        .filter(|(_, (b, a))| b != a)
        .map(|(n, (b, a))| format!("{n}: {} -> {}", words(*b), words(*a)))
        .collect()
}

/// A verdict in words (`not run` rather than `not_run`).
pub fn words(v: Verdict) -> &'static str {
    match v {
        Verdict::NotRun => "not run",
        v => v.as_str(),
    }
}
