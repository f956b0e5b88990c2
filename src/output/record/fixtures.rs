//! Test fixtures shared by the recording's tests: a three-stage rollout's metadata and a
//! list of events holding every variant, with edge values.

use crate::input::Millis;
use crate::verdict::{
    Evidence, FollowUp, Gate, GateState, GateTick, Outcome, TickRecord, Verdict, VerdictEvent,
};

use super::{RecordMeta, StageMeta};

pub(super) const T0: Millis = 1_772_445_600_000;

pub(super) fn meta() -> RecordMeta {
    RecordMeta {
        t0: T0,
        tick_ms: 60_000,
        dataset: "datasets/canary-ü".into(),
        policy_toml: "[triggers]\nlatency_p95_ms = 300\n".into(),
        stages: vec![
            StageMeta {
                name: "1%".into(),
                start: T0,
                end: T0 + 1_800_000,
                weight: 0.01,
            },
            StageMeta {
                name: "10%".into(),
                start: T0 + 1_800_000,
                end: T0 + 3_600_000,
                weight: 0.1,
            },
            StageMeta {
                name: "100%".into(),
                start: T0 + 3_600_000,
                end: T0 + 7_200_000,
                weight: 1.0,
            },
        ],
    }
}

pub(super) fn gt(
    gate: Gate,
    state: GateState,
    value: Option<f64>,
    threshold: Option<f64>,
    trigger: bool,
    sustain: u32,
) -> GateTick {
    GateTick {
        gate,
        state,
        value,
        threshold,
        trigger,
        sustain,
    }
}

pub(super) fn events() -> Vec<VerdictEvent> {
    let ev = |gate, value, threshold, since, detail: &str| Evidence {
        gate,
        value,
        threshold,
        op: ">=".into(),
        since,
        ticks: 3,
        detail: detail.into(),
    };
    vec![
        VerdictEvent::StageStarted { stage: 0, at: T0 },
        VerdictEvent::Tick(TickRecord {
            k: 1,
            at: T0 + 60_000,
            stage: 0,
            requests: 1234,
            gates: Gate::ALL
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    gt(
                        *g,
                        GateState::Ok,
                        Some(i as f64 * 0.125),
                        Some(0.5),
                        false,
                        0,
                    )
                })
                .collect(),
        }),
        // A subset of gates, out of `Gate::ALL` order, with missing values.
        VerdictEvent::Tick(TickRecord {
            k: 2,
            at: T0 + 120_000,
            stage: 0,
            requests: 0,
            gates: vec![
                gt(
                    Gate::LatencyP99,
                    GateState::Breach,
                    Some(412.5),
                    Some(400.0),
                    true,
                    2,
                ),
                gt(
                    Gate::ErrorRate5xx,
                    GateState::NoData,
                    None,
                    Some(0.01),
                    false,
                    0,
                ),
                gt(
                    Gate::PiiInLogs,
                    GateState::NotEvaluated,
                    None,
                    None,
                    false,
                    0,
                ),
                gt(
                    Gate::LatencyP95,
                    GateState::Ok,
                    Some(-0.0),
                    None,
                    false,
                    u32::MAX,
                ),
            ],
        }),
        VerdictEvent::Tick(TickRecord {
            k: 3,
            at: T0 + 180_000,
            stage: 1,
            requests: u64::MAX,
            gates: vec![],
        }),
        VerdictEvent::Breach {
            stage: 1,
            at: T0 + 180_000,
            evidence: ev(
                Gate::LatencyP95,
                Some(f64::MAX),
                Some(f64::MIN_POSITIVE),
                Some(T0 - 1),
                "prefix /api, café ☕ «x»",
            ),
        },
        VerdictEvent::Trigger {
            stage: 1,
            at: T0 + 240_000,
            evidence: ev(Gate::ErrorRate5xx, None, None, None, ""),
        },
        VerdictEvent::FollowUp(FollowUp {
            kind: "perf_ticket".into(),
            stage: "10%".into(),
            at: T0 + 240_000,
            detail: "line one\nline two, with a comma".into(),
        }),
        VerdictEvent::FollowUp(FollowUp {
            kind: "p0_incident".into(),
            stage: "a stage the metadata does not list".into(),
            at: -5,
            detail: String::new(),
        }),
        VerdictEvent::StageVerdict {
            stage: 0,
            at: T0 + 1_800_000,
            verdict: Verdict::Go,
            reasons: vec![],
        },
        VerdictEvent::StageVerdict {
            stage: 1,
            at: T0 + 240_000,
            verdict: Verdict::Rollback,
            reasons: vec![Gate::ErrorRate5xx, Gate::LatencyP99],
        },
        VerdictEvent::StageVerdict {
            stage: 2,
            at: T0 + 240_000,
            verdict: Verdict::NotRun,
            reasons: vec![],
        },
        VerdictEvent::StageVerdict {
            stage: 2,
            at: T0,
            verdict: Verdict::Hold,
            reasons: vec![Gate::SeoIndexability],
        },
        VerdictEvent::Outcome {
            at: T0 + 240_000,
            outcome: Outcome::Rollback,
        },
        VerdictEvent::Outcome {
            at: T0,
            outcome: Outcome::Complete,
        },
        VerdictEvent::Outcome {
            at: T0,
            outcome: Outcome::Hold,
        },
    ]
}
