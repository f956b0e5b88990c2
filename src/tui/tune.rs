//! Live tuning: the knobs an SRE can move (the gate registry's tunable keys, one per
//! stage for a stage's key), and the tuner that rebuilds the policy from the base
//! policy's TOML plus one `KEY=VALUE` per moved knob (exactly what `rehearse run
//! --policy` reads back from the saved file) and has the engine's what-if evaluator
//! judge it, refusing any policy the aggregates cannot judge exactly.

use std::time::{Duration, Instant};

use crate::engine::whatif::WhatIf;
use crate::engine::{Folded, Run};
use crate::policy::{Policy, PolicyBuilder};
use crate::time::format_duration;
use crate::verdict::{Gate, Verdict};

pub use crate::gate::KnobKind;

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

/// The knobs of a policy, in the registry's order ([`crate::gate::knobs`]): one per
/// tunable key, one per stage for a stage's key, each at the policy's value.
pub fn knobs_of(p: &Policy) -> Vec<Knob> {
    let file = toml::Value::try_from(&p.file).unwrap_or(toml::Value::Boolean(false));
    let mut out = Vec::new();
    for def in crate::gate::knobs() {
        let mut add = |key: String, label: String, value: Option<f64>| {
            if let Some(v) = value {
                out.push(Knob {
                    key,
                    label,
                    gates: def.gates.to_vec(),
                    kind: def.kind,
                    base: v,
                    value: v,
                });
            }
        };
        match def.key.strip_prefix("stages.*.") {
            Some(field) => {
                for s in &p.file.stages {
                    let value = file
                        .get("stages")
                        .and_then(|st| st.as_array())
                        .and_then(|st| {
                            st.iter()
                                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(&s.name))
                        })
                        .and_then(|t| t.get(field))
                        .and_then(number);
                    add(
                        format!("stages.{}.{field}", s.name),
                        def.label.replace("{stage}", &s.name),
                        value,
                    );
                }
            }
            None if def.kind == KnobKind::SustainTicks => {
                add(
                    def.key.to_string(),
                    def.label.to_string(),
                    Some(p.sustain_ticks as f64),
                );
            }
            None => {
                let value = def
                    .key
                    .split('.')
                    .try_fold(&file, |v, part| v.get(part))
                    .and_then(number);
                add(def.key.to_string(), def.label.to_string(), value);
            }
        }
    }
    out
}

/// A TOML number as a float.
fn number(v: &toml::Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

/// The policy as a TOML file that reads back the same from any directory and over any
/// base: schema paths are written absolute, and its stages are the whole list
/// (`replace_stages = true`).
pub fn portable_toml(p: &Policy) -> String {
    let mut file = p.file.clone();
    for (target, path) in &p.probe_schemas {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        file.probes
            .schemas
            .insert(target.clone(), abs.display().to_string());
    }
    file.to_complete_toml()
}

/// A re-evaluation: the tuned policy and its run.
pub struct Retuned {
    pub policy: Policy,
    pub run: Run,
    /// How long the evaluation took.
    pub elapsed: Duration,
}

/// Moves knobs and re-evaluates the tuned policy with the engine's what-if evaluator.
pub struct Tuner {
    whatif: WhatIf,
    base_toml: String,
    pub base: Policy,
    pub knobs: Vec<Knob>,
    /// Final stage verdicts under the base policy.
    pub base_verdicts: Vec<Verdict>,
}

impl Tuner {
    pub fn new(base: &Policy, folded: Folded, run: &Run) -> Self {
        Tuner {
            whatif: WhatIf::new(base, folded),
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
        let started = Instant::now();
        let run = self.whatif.judge(&policy).map_err(|e| e.to_string())?;
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
