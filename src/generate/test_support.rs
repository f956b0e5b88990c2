//! Fixtures shared by the generator's unit tests: the default policy's rollout plan and
//! its T0, a spec at a given rate, and small helpers over generated rows.

use super::spec::{GenPlan, GenSpec, StagePlan};
use crate::input::{Dataset, Millis};

/// The default policy's plan (rollout-semantics.md, section 1).
pub(super) fn plan() -> GenPlan {
    let stage = |name: &str, minutes: i64, weight: f64| StagePlan {
        name: name.into(),
        duration_ms: minutes * 60_000,
        weight,
    };
    GenPlan {
        stages: vec![
            stage("synthetic", 120, 0.0),
            stage("ramp-5", 30, 0.05),
            stage("ramp-25", 60, 0.25),
            stage("full", 120, 1.0),
        ],
        probe_targets: vec!["ttv".into(), "security".into()],
        probe_interval_ms: 60_000,
    }
}

/// The default start, 2026-03-02T10:00:00Z.
pub(super) const T0: Millis = 1_772_445_600_000;
pub(super) const MIN: Millis = 60_000;

/// The stage of the default plan that `t` falls in, if any.
pub(super) fn stage_of(t: Millis) -> Option<&'static str> {
    let bounds = [
        ("synthetic", 120),
        ("ramp-5", 150),
        ("ramp-25", 210),
        ("full", 330),
    ];
    if t <= T0 {
        return None;
    }
    bounds
        .iter()
        .find(|(_, end)| t <= T0 + end * MIN)
        .map(|(n, _)| *n)
}

/// A default spec with `seed` and `rps` real requests a second.
pub(super) fn spec(seed: u64, rps: f64) -> GenSpec {
    GenSpec {
        rps,
        ..GenSpec::new(seed)
    }
}

/// Whether `rows` are in timestamp order.
pub(super) fn sorted<T>(rows: &[T], ts: impl Fn(&T) -> Millis) -> bool {
    rows.windows(2).all(|w| ts(&w[0]) <= ts(&w[1]))
}

/// The statuses of `target`'s probes, in order.
pub(super) fn statuses(ds: &Dataset, target: &str) -> Vec<u16> {
    ds.probes
        .as_ref()
        .unwrap()
        .iter()
        .filter(|p| p.target == target)
        .map(|p| p.status)
        .collect()
}
