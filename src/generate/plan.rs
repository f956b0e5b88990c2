//! The compiled scenario: a [`GenSpec`] checked against its [`GenPlan`] and turned into
//! what the stream generators read (the generated range, stage boundaries and weights,
//! the endpoint mix with fitted latency profiles, the enabled streams, and every fault
//! as an [`ActiveFault`]: its span, the cohorts it covers and its effect).

use std::collections::BTreeSet;

use super::pages::PAGES;
use super::rng::{Rand, lognormal_fit};
use super::spec::{
    Fault, FaultKind, GenError, GenPlan, GenSpec, check_nonneg, check_positive, check_rate,
    default_endpoints, duration_field, invalid,
};
use crate::input::{Cohort, Millis};
use crate::time::parse_rfc3339;

/// The cohorts a fault covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Canary,
    Baseline,
    All,
}

impl Scope {
    fn covers(self, cohort: Cohort) -> bool {
        match self {
            Scope::All => true,
            Scope::Canary => cohort == Cohort::Canary,
            Scope::Baseline => cohort == Cohort::Baseline,
        }
    }
}

/// How a `probe_schema` fault drifts the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SchemaMode {
    MissingField,
    WrongType,
}

/// The kind of personal data a `pii_leak` fault writes into the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pii {
    Email,
    Card,
    Ssn,
    Phone,
    Iban,
}

/// What a compiled fault does, with its checked parameters.
#[derive(Clone, Debug)]
pub(super) enum Effect {
    Error5xx(f64),
    Error4xx(f64),
    Auth4xx(f64),
    LatencyShift(f64),
    LatencyTail {
        share: f64,
        min_ms: f64,
        max_ms: f64,
    },
    EndpointLatency {
        prefix: String,
        factor: f64,
    },
    ProbeStatus {
        target: String,
        status: u16,
        every: u32,
        count: Option<u32>,
    },
    ProbeSchema {
        target: String,
        mode: SchemaMode,
        every: u32,
        count: Option<u32>,
    },
    ProbeGap {
        target: String,
    },
    SyntheticBurst {
        rps: f64,
    },
    TrafficDrop(f64),
    CanaryShare(f64),
    CpuSaturation(f64),
    MemoryLeak(f64),
    SlowDb(f64),
    QueueBacklog(f64),
    WafSpike(f64),
    CredentialStuffing(f64),
    PiiLeak {
        per_min: f64,
        pii: Pii,
    },
    NoCache(f64),
    SitemapDrop(String),
    Noindex(String),
}

/// A compiled fault: its span, the cohorts it covers and its effect.
#[derive(Clone, Debug)]
pub(super) struct ActiveFault {
    /// Span `(from, to]`.
    pub(super) from: Millis,
    pub(super) to: Millis,
    scope: Scope,
    pub(super) effect: Effect,
}

impl ActiveFault {
    /// Whether `t` falls in the fault's span.
    pub(super) fn contains(&self, t: Millis) -> bool {
        t > self.from && t <= self.to
    }
    /// Whether the fault acts at `t` on the `cohort`.
    pub(super) fn applies(&self, t: Millis, cohort: Cohort) -> bool {
        self.contains(t) && self.scope.covers(cohort)
    }
}

/// A stage of the rollout: its end and canary weight.
#[derive(Clone)]
struct Stage {
    to: Millis,
    weight: f64,
}

/// An endpoint of the request mix with its fitted log-normal latency (`ln ms`).
#[derive(Clone)]
pub(super) struct Endpoint {
    pub(super) path: String,
    /// Cumulative share, normalised to end at 1.
    pub(super) cum: f64,
    pub(super) mu: f64,
    pub(super) sigma: f64,
}

/// A [`GenSpec`] compiled against its [`GenPlan`]: everything the streams read.
#[derive(Clone)]
pub(super) struct CompiledScenario {
    seed: u64,
    pub(super) t0: Millis,
    /// Last stage's end.
    pub(super) end: Millis,
    /// Generated range `(from, to]`.
    pub(super) from: Millis,
    pub(super) to: Millis,
    stages: Vec<Stage>,
    pub(super) rps: f64,
    pub(super) synthetic_rps: f64,
    pub(super) endpoints: Vec<Endpoint>,
    pub(super) base: [f64; 3],
    pub(super) probes: bool,
    pub(super) infra: bool,
    pub(super) security: bool,
    pub(super) logs: bool,
    pub(super) pages: bool,
    pub(super) targets: Vec<String>,
    pub(super) probe_interval: Millis,
    pub(super) faults: Vec<ActiveFault>,
}

/// The optional streams `generate.streams` may list.
pub(super) const STREAM_NAMES: [&str; 5] = ["probes", "infra", "security", "logs", "pages"];

impl CompiledScenario {
    /// Checks `spec` against `plan` and compiles it.
    pub(super) fn build(spec: &GenSpec, plan: &GenPlan) -> Result<Self, GenError> {
        let t0 = parse_rfc3339(&spec.start).ok_or_else(|| {
            invalid(
                "start",
                format!("{:?}", spec.start),
                "write an RFC 3339 instant such as \"2026-03-02T10:00:00Z\"",
            )
        })?;
        let lead = duration_field("lead", &spec.lead)?;
        let tail = duration_field("tail", &spec.tail)?;

        if plan.stages.is_empty() {
            return Err(GenError::Plan("it has no stages".into()));
        }
        let mut stages = Vec::with_capacity(plan.stages.len());
        let mut stage_bounds = Vec::with_capacity(plan.stages.len());
        let mut at = t0;
        let mut names = BTreeSet::new();
        for s in &plan.stages {
            if s.duration_ms <= 0 {
                return Err(GenError::Plan(format!(
                    "stage `{}` lasts {} ms; give it a positive duration",
                    s.name, s.duration_ms
                )));
            }
            if !(s.weight.is_finite() && (0.0..=1.0).contains(&s.weight)) {
                return Err(GenError::Plan(format!(
                    "stage `{}` has canary weight {}; use a weight between 0 and 1",
                    s.name, s.weight
                )));
            }
            if !names.insert(s.name.as_str()) {
                return Err(GenError::Plan(format!(
                    "two stages are named `{}`; stage names must be unique",
                    s.name
                )));
            }
            let from = at;
            at += s.duration_ms;
            stages.push(Stage {
                to: at,
                weight: s.weight,
            });
            stage_bounds.push((s.name.as_str(), from, at));
        }
        let end = at;

        let rps = check_nonneg("rps".into(), spec.rps)?;
        let synthetic_rps = check_nonneg("synthetic_rps".into(), spec.synthetic_rps)?;
        let base = [
            check_rate("base_5xx".into(), spec.base_5xx)?,
            check_rate("base_4xx_nonauth".into(), spec.base_4xx_nonauth)?,
            check_rate("base_auth_4xx".into(), spec.base_auth_4xx)?,
        ];
        if base.iter().sum::<f64>() > 1.0 {
            return Err(invalid(
                "base_5xx + base_4xx_nonauth + base_auth_4xx",
                base.iter().sum::<f64>(),
                "the three base error rates must add up to at most 1",
            ));
        }

        let endpoint_specs = spec.endpoints.clone().unwrap_or_else(default_endpoints);
        if endpoint_specs.is_empty() {
            return Err(invalid(
                "endpoints",
                "[]",
                "list at least one endpoint, or leave `endpoints` out for the default mix",
            ));
        }
        let mut total_share = 0.0;
        for (i, e) in endpoint_specs.iter().enumerate() {
            if e.path.is_empty() {
                return Err(invalid(
                    format!("endpoints[{i}].path"),
                    "\"\"",
                    "give the endpoint a path such as \"/api/search\"",
                ));
            }
            total_share += check_nonneg(format!("endpoints[{i}].share"), e.share)?;
            check_positive(format!("endpoints[{i}].median_ms"), e.median_ms)?;
            check_positive(format!("endpoints[{i}].p95_ms"), e.p95_ms)?;
            if e.p95_ms < e.median_ms {
                return Err(invalid(
                    format!("endpoints[{i}].p95_ms"),
                    e.p95_ms,
                    "the 95th percentile cannot be below the median (median_ms)",
                ));
            }
        }
        if total_share <= 0.0 {
            return Err(invalid(
                "endpoints[..].share",
                total_share,
                "give at least one endpoint a positive share",
            ));
        }
        let mut cum = 0.0;
        let endpoints = endpoint_specs
            .iter()
            .map(|e| {
                cum += e.share / total_share;
                let (mu, sigma) = lognormal_fit(e.median_ms, e.p95_ms);
                Endpoint {
                    path: e.path.clone(),
                    cum,
                    mu,
                    sigma,
                }
            })
            .collect();

        let mut enabled = BTreeSet::new();
        for (i, s) in spec.streams.iter().enumerate() {
            if !STREAM_NAMES.contains(&s.as_str()) {
                return Err(invalid(
                    format!("streams[{i}]"),
                    format!("{s:?}"),
                    "use probes, infra, security, logs or pages (requests are always generated)",
                ));
            }
            enabled.insert(s.as_str());
        }
        let probes = spec.probes && enabled.contains("probes");
        if probes && plan.probe_interval_ms <= 0 {
            return Err(GenError::Plan(format!(
                "the probe interval is {} ms; use a positive interval",
                plan.probe_interval_ms
            )));
        }

        let mut faults = Vec::with_capacity(spec.faults.len());
        for (i, f) in spec.faults.iter().enumerate() {
            faults.push(compile_fault(i, f, &stage_bounds, plan, &enabled, probes)?);
        }

        Ok(CompiledScenario {
            seed: spec.seed,
            t0,
            end,
            from: t0 - lead,
            to: end + tail,
            stages,
            rps,
            synthetic_rps,
            endpoints,
            base,
            probes,
            infra: enabled.contains("infra"),
            security: enabled.contains("security"),
            logs: enabled.contains("logs"),
            pages: enabled.contains("pages"),
            targets: plan.probe_targets.clone(),
            probe_interval: plan.probe_interval_ms,
            faults,
        })
    }

    /// The planned canary share at `t`: 0 before T0, the stage's weight during the
    /// rollout, the last stage's weight after it.
    pub(super) fn weight_at(&self, t: Millis) -> f64 {
        if t <= self.t0 {
            return 0.0;
        }
        self.stages
            .iter()
            .find(|s| t <= s.to)
            .or(self.stages.last())
            .map_or(0.0, |s| s.weight)
    }

    /// The random stream `stream` of the scenario's seed.
    pub(super) fn rng(&self, stream: u64) -> Rand {
        Rand::new(self.seed, stream)
    }
}

fn compile_fault(
    i: usize,
    f: &Fault,
    stages: &[(&str, Millis, Millis)],
    plan: &GenPlan,
    enabled: &BTreeSet<&str>,
    probes: bool,
) -> Result<ActiveFault, GenError> {
    let kind = f.kind.as_str();
    let (required, optional) = f.kind.fields();
    let present = f.present_fields();
    for field in &present {
        if !required.contains(field) && !optional.contains(field) {
            let mut allowed: Vec<&str> = required.iter().chain(optional).copied().collect();
            allowed.extend(["stage", "at", "duration"]);
            return Err(GenError::FieldNotForKind {
                index: i,
                kind,
                field,
                allowed: allowed.join(", "),
            });
        }
    }
    if let Some(missing) = required.iter().find(|r| !present.contains(r)) {
        return Err(GenError::MissingField {
            index: i,
            kind,
            missing,
        });
    }
    if let Some(stream) = f.kind.stream() {
        let on = if stream == "probes" {
            probes
        } else {
            enabled.contains(stream)
        };
        if !on {
            return Err(invalid(
                format!("faults[{i}].kind"),
                format!("{kind:?}"),
                &format!(
                    "this fault acts on the `{stream}` stream, which is not generated; add \"{stream}\" to generate.streams (and keep probes = true for probe faults) or remove the fault"
                ),
            ));
        }
    }

    let &(_, s_from, s_to) = stages
        .iter()
        .find(|(name, _, _)| *name == f.stage)
        .ok_or_else(|| GenError::UnknownStage {
            field: format!("faults[{i}].stage"),
            value: f.stage.clone(),
            known: stages
                .iter()
                .map(|(n, _, _)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let at = duration_field(&format!("faults[{i}].at"), &f.at)?;
    if at >= s_to - s_from {
        return Err(invalid(
            format!("faults[{i}].at"),
            format!("{:?}", f.at),
            &format!(
                "stage `{}` lasts {}; start the fault inside it",
                f.stage,
                crate::time::format_duration(s_to - s_from)
            ),
        ));
    }
    let from = s_from + at;
    let to = match &f.duration {
        Some(d) => {
            let field = format!("faults[{i}].duration");
            let d_ms = duration_field(&field, d)?;
            if d_ms <= 0 {
                return Err(invalid(field, format!("{d:?}"), "use a positive duration"));
            }
            from + d_ms
        }
        None => s_to,
    };
    let scope = match f.cohort.as_deref() {
        None | Some("canary") => Scope::Canary,
        Some("baseline") => Scope::Baseline,
        Some("all") => Scope::All,
        Some(other) => {
            return Err(invalid(
                format!("faults[{i}].cohort"),
                format!("{other:?}"),
                "use \"canary\", \"baseline\" or \"all\"",
            ));
        }
    };

    let fld = |name: &str| format!("faults[{i}].{name}");
    // Required fields are present (checked above); `unwrap_or` only satisfies types.
    let num = |v: Option<f64>| v.unwrap_or(f64::NAN);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let target = |v: &Option<String>| -> Result<String, GenError> {
        let t = text(v);
        if plan.probe_targets.contains(&t) {
            Ok(t)
        } else {
            Err(invalid(
                fld("target"),
                format!("{t:?}"),
                &format!(
                    "use one of the policy's probe targets: {}",
                    plan.probe_targets.join(", ")
                ),
            ))
        }
    };
    let every = match f.every {
        Some(0) => return Err(invalid(fld("every"), 0, "use 1 (every probe) or more")),
        Some(n) => n,
        None => 1,
    };
    if f.count == Some(0) {
        return Err(invalid(
            fld("count"),
            0,
            "use a count of at least 1, or remove the fault",
        ));
    }
    let page_path = |v: &Option<String>| -> Result<String, GenError> {
        let p = text(v);
        if PAGES.iter().any(|(path, _)| *path == p) {
            Ok(p)
        } else {
            let known: Vec<&str> = PAGES.iter().map(|(p, _)| *p).collect();
            Err(invalid(
                fld("path"),
                format!("{p:?}"),
                &format!("use one of the crawled paths: {}", known.join(", ")),
            ))
        }
    };

    let effect = match f.kind {
        FaultKind::Error5xx => Effect::Error5xx(check_rate(fld("rate"), num(f.rate))?),
        FaultKind::Error4xx => Effect::Error4xx(check_rate(fld("rate"), num(f.rate))?),
        FaultKind::Auth4xx => Effect::Auth4xx(check_rate(fld("rate"), num(f.rate))?),
        FaultKind::LatencyShift => {
            Effect::LatencyShift(check_positive(fld("factor"), num(f.factor))?)
        }
        FaultKind::LatencyTail => {
            let share = check_rate(fld("share"), num(f.share))?;
            let min_ms = check_positive(fld("min_ms"), num(f.min_ms))?;
            let max_ms = check_positive(fld("max_ms"), num(f.max_ms))?;
            if max_ms < min_ms {
                return Err(invalid(
                    fld("max_ms"),
                    max_ms,
                    "max_ms must be at least min_ms",
                ));
            }
            Effect::LatencyTail {
                share,
                min_ms,
                max_ms,
            }
        }
        FaultKind::EndpointLatency => {
            let prefix = text(&f.prefix);
            if prefix.is_empty() {
                return Err(invalid(
                    fld("prefix"),
                    "\"\"",
                    "give an endpoint prefix such as \"/api/admin/\"",
                ));
            }
            Effect::EndpointLatency {
                prefix,
                factor: check_positive(fld("factor"), num(f.factor))?,
            }
        }
        FaultKind::ProbeStatus => {
            let status = f.status.unwrap_or(503);
            if !(100..=599).contains(&status) {
                return Err(invalid(
                    fld("status"),
                    status,
                    "use an HTTP status between 100 and 599",
                ));
            }
            Effect::ProbeStatus {
                target: target(&f.target)?,
                status,
                every,
                count: f.count,
            }
        }
        FaultKind::ProbeSchema => {
            let mode = match f.mode.as_deref() {
                None | Some("missing_field") => SchemaMode::MissingField,
                Some("wrong_type") => SchemaMode::WrongType,
                Some(other) => {
                    return Err(invalid(
                        fld("mode"),
                        format!("{other:?}"),
                        "use \"missing_field\" or \"wrong_type\"",
                    ));
                }
            };
            Effect::ProbeSchema {
                target: target(&f.target)?,
                mode,
                every,
                count: f.count,
            }
        }
        FaultKind::ProbeGap => Effect::ProbeGap {
            target: target(&f.target)?,
        },
        FaultKind::SyntheticBurst => Effect::SyntheticBurst {
            rps: check_nonneg(fld("rps"), num(f.rps))?,
        },
        FaultKind::TrafficDrop => Effect::TrafficDrop(check_nonneg(fld("factor"), num(f.factor))?),
        FaultKind::CanaryShare => Effect::CanaryShare(check_rate(fld("share"), num(f.share))?),
        FaultKind::CpuSaturation => Effect::CpuSaturation(check_rate(fld("level"), num(f.level))?),
        FaultKind::MemoryLeak => Effect::MemoryLeak(check_rate(fld("to"), num(f.to))?),
        FaultKind::SlowDb => Effect::SlowDb(check_positive(fld("p95_ms"), num(f.p95_ms))?),
        FaultKind::QueueBacklog => Effect::QueueBacklog(check_nonneg(fld("depth"), num(f.depth))?),
        FaultKind::WafSpike => Effect::WafSpike(check_nonneg(fld("per_min"), num(f.per_min))?),
        FaultKind::CredentialStuffing => {
            Effect::CredentialStuffing(check_nonneg(fld("per_min"), num(f.per_min))?)
        }
        FaultKind::PiiLeak => {
            let pii = match f.pii.as_deref().unwrap_or_default() {
                "email" => Pii::Email,
                "card" => Pii::Card,
                "ssn" => Pii::Ssn,
                "phone" => Pii::Phone,
                "iban" => Pii::Iban,
                other => {
                    return Err(invalid(
                        fld("pii"),
                        format!("{other:?}"),
                        "use \"email\", \"card\", \"ssn\", \"phone\" or \"iban\"",
                    ));
                }
            };
            Effect::PiiLeak {
                per_min: check_nonneg(fld("per_min"), num(f.per_min))?,
                pii,
            }
        }
        FaultKind::NoCache => Effect::NoCache(check_rate(fld("share"), num(f.share))?),
        FaultKind::SitemapDrop => Effect::SitemapDrop(page_path(&f.path)?),
        FaultKind::Noindex => Effect::Noindex(page_path(&f.path)?),
    };
    Ok(ActiveFault {
        from,
        to,
        scope,
        effect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;
    use crate::generate::test_support::{MIN, T0, plan, spec};

    #[test]
    fn unknown_stage_is_named() {
        let mut s = spec(1, 1.0);
        let mut f = Fault::new(FaultKind::Error5xx, "ramp-50");
        f.rate = Some(0.1);
        s.faults.push(f);
        let err = generate(&s, &plan()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, GenError::UnknownStage { .. }));
        assert!(
            msg.contains("faults[0].stage") && msg.contains("ramp-50"),
            "{msg}"
        );
        assert!(msg.contains("`ramp-25`"), "{msg}");
    }

    #[test]
    fn bad_values_are_named() {
        let mut s = spec(1, 1.0);
        let mut f = Fault::new(FaultKind::Error5xx, "full");
        f.rate = Some(1.5);
        s.faults.push(f);
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(
            msg.contains("faults[0].rate") && msg.contains("1.5"),
            "{msg}"
        );

        let mut s = spec(1, 1.0);
        let mut f = Fault::new(FaultKind::LatencyShift, "full");
        f.factor = Some(2.0);
        f.rate = Some(0.1);
        s.faults.push(f);
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(
            msg.contains("`rate`") && msg.contains("latency_shift"),
            "{msg}"
        );

        let mut s = spec(1, 1.0);
        s.faults.push(Fault::new(FaultKind::WafSpike, "full"));
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(msg.contains("`per_min`"), "{msg}");

        let mut s = spec(1, 1.0);
        let mut f = Fault::new(FaultKind::WafSpike, "full");
        f.per_min = Some(20.0);
        s.faults.push(f);
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(msg.contains("security") && msg.contains("streams"), "{msg}");

        let mut s = spec(1, 1.0);
        s.start = "tomorrow".into();
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(
            msg.contains("generate.start") && msg.contains("tomorrow"),
            "{msg}"
        );

        let mut s = spec(1, 1.0);
        s.streams = vec!["funnel".into()];
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(
            msg.contains("streams[0]") && msg.contains("funnel"),
            "{msg}"
        );
    }

    #[test]
    fn lead_and_tail_extend_the_range() {
        let mut s = spec(2, 1.0);
        s.lead = "90s".into();
        s.tail = "1m".into();
        s.streams = vec!["pages".into(), "probes".into()];
        let ds = generate(&s, &plan()).unwrap();
        let first = ds.requests.first().unwrap();
        assert!(first.ts > T0 - 90_000 && first.ts <= T0);
        assert_eq!(first.cohort, Cohort::Baseline);
        let last = ds.requests.last().unwrap().ts;
        assert!(last > T0 + 330 * MIN && last <= T0 + 331 * MIN);
        let pages = ds.pages.unwrap();
        assert!(
            pages
                .iter()
                .all(|p| p.ts > T0 - 90_000 && p.ts <= T0 + 331 * MIN)
        );
        let probes = ds.probes.unwrap();
        assert!(probes.iter().all(|p| p.ts > T0 && p.ts <= T0 + 330 * MIN));
    }
}
