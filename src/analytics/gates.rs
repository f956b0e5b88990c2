//! The analytics gates of `rehearse run` (contract section 7), evaluated at each stage's
//! end over the funnel and ledger events with timestamps up to that end (persons,
//! exclusion and identity computed on that slice). A breach holds the stage:
//! `analytics_exclusion` (any leaked synthetic event), `tracking_gap` (any gap of
//! section 5), `fee_capture` (any fee violation), `ledger_integrity` (unbalanced
//! transactions, duplicate payouts or overdrawn providers). Two more judge the stage's
//! own span ([`span_gates`], [`super::levers`]): `paid_acquisition` (paid visits before
//! the full stage) and `lever_instrumentation` (levers or event types the canary build
//! stopped sending).

use super::analysis::FunnelAnalysis;
use super::data::AnalyticsData;
use super::ledger;
use super::levers;
use super::policy::AnalyticsPolicy;
use crate::gate::Gate;
use crate::input::Millis;

/// Whether each analytics gate (in report order) can be evaluated on this data: `analytics_exclusion`
/// needs the funnel stream with its `source` column, `tracking_gap` the funnel stream,
/// `fee_capture` and `ledger_integrity` the ledger stream. A gate that cannot be
/// evaluated never breaches. `paid_acquisition` and `lever_instrumentation` need the
/// funnel stream.
pub fn evaluated(data: &AnalyticsData) -> [(Gate, bool); 6] {
    let funnel = data.funnel.is_some();
    let ledger = data.ledger.is_some();
    [
        (Gate::AnalyticsExclusion, funnel && data.has_source),
        (Gate::TrackingGap, funnel),
        (Gate::FeeCapture, ledger),
        (Gate::LedgerIntegrity, ledger),
        (Gate::PaidAcquisition, funnel),
        (Gate::LeverInstrumentation, funnel),
    ]
}

/// The analytics gates breached over the events with `ts <= end`, each with a detail
/// in words, in report order.
pub fn stage_gates(
    data: &AnalyticsData,
    policy: &AnalyticsPolicy,
    end: Millis,
) -> Vec<(Gate, String)> {
    let mut out = Vec::new();
    if let Some(fa) = FunnelAnalysis::new(data, policy, Some(end)) {
        if let Some(n) = fa.leaked_events.filter(|n| *n > 0) {
            out.push((
                Gate::AnalyticsExclusion,
                format!(
                    "{n} synthetic events of {} persons reach KPI rollups (ground-truth source = synthetic, not excluded)",
                    fa.leaked_persons
                ),
            ));
        }
        let gaps = fa.gaps();
        if !gaps.is_empty() {
            let words: Vec<String> = gaps
                .iter()
                .map(|g| match fa.step_tests.iter().find(|t| t.step == g.step) {
                    Some(t) => format!(
                        "{} z = {:.2} (canary {}/{} vs baseline {}/{})",
                        t.step,
                        t.z.unwrap_or(f64::NAN),
                        t.canary_x,
                        t.canary_n,
                        t.baseline_x,
                        t.baseline_n
                    ),
                    None => format!(
                        "{}: {} purchases without revenue or currency",
                        g.step,
                        g.events.unwrap_or(0)
                    ),
                })
                .collect();
            out.push((Gate::TrackingGap, words.join("; ")));
        }
    }
    if let Some(l) = &data.ledger {
        let n = l.count_until(end);
        match ledger::check(l, n, &data.symbols, policy) {
            Ok(c) => {
                let r = &c.report;
                if r.fee_violations > 0 {
                    out.push((
                        Gate::FeeCapture,
                        format!(
                            "{} of {} bookings break the fee rule ({} % {}), e.g. {}",
                            r.fee_violations,
                            r.bookings,
                            policy.fee_rate * 100.0,
                            policy.fee_rounding.as_str(),
                            r.examples.fee_violations.join(", ")
                        ),
                    ));
                }
                if r.unbalanced_txns + r.duplicate_payouts + r.overdrawn_providers > 0 {
                    let mut parts = Vec::new();
                    if r.unbalanced_txns > 0 {
                        parts.push(format!(
                            "{} unbalanced transactions ({})",
                            r.unbalanced_txns,
                            r.examples.unbalanced_txns.join(", ")
                        ));
                    }
                    if r.duplicate_payouts > 0 {
                        parts.push(format!(
                            "{} duplicate payouts ({})",
                            r.duplicate_payouts,
                            r.examples.duplicate_payouts.join(", ")
                        ));
                    }
                    if r.overdrawn_providers > 0 {
                        parts.push(format!(
                            "{} overdrawn providers ({})",
                            r.overdrawn_providers,
                            r.examples.overdrawn_providers.join(", ")
                        ));
                    }
                    out.push((Gate::LedgerIntegrity, parts.join("; ")));
                }
            }
            Err(e) => out.push((
                Gate::LedgerIntegrity,
                format!("the ledger could not be checked: {e}"),
            )),
        }
    }
    out
}

/// The gates judged over stage `si`'s own span `(start, end]` (offsets from `t0`):
/// `paid_acquisition` in a stage before the first one at 100 % of traffic, and
/// `lever_instrumentation` in every stage, each with a detail in words.
pub fn span_gates(
    data: &AnalyticsData,
    policy: &crate::policy::Policy,
    t0: Millis,
    si: usize,
) -> Vec<(Gate, String)> {
    let mut out = Vec::new();
    let Some(stage) = policy.stages.get(si) else {
        return out;
    };
    let ap = &policy.file.analytics;
    let (from, to) = (t0 + stage.start_ms, t0 + stage.end_ms());
    let full = levers::full_stage(policy.stages.iter().map(|s| s.weight));
    if full.is_none_or(|f| si < f) {
        let paid = levers::paid_visits(data, ap, from, to);
        if paid.visits > 0 {
            let full_name = full.map(|f| policy.stages[f].name.as_str());
            out.push((
                Gate::PaidAcquisition,
                levers::paid_detail(&paid, &stage.name, full_name),
            ));
        }
    }
    let missing = levers::missing_events(data, ap, from, to);
    if !missing.is_empty() {
        out.push((Gate::LeverInstrumentation, levers::missing_detail(&missing)));
    }
    out
}

/// The analytics gates as the engine's stage-end check: the loaded funnel and ledger
/// events and the rollout's T0, judged with the policy's `[analytics]` section at each
/// stage's end.
pub struct AnalyticsGates(pub std::sync::Arc<AnalyticsData>, pub Millis);

impl crate::engine::StageCheck for AnalyticsGates {
    fn evaluated(&self) -> Vec<(Gate, bool)> {
        evaluated(&self.0).to_vec()
    }

    fn breaches(&self, policy: &crate::policy::Policy, end: Millis) -> Vec<(Gate, String)> {
        let mut out = stage_gates(&self.0, &policy.file.analytics, end);
        let t0 = self.1;
        if let Some(si) = policy.stages.iter().position(|s| t0 + s.end_ms() == end) {
            out.extend(span_gates(&self.0, policy, t0, si));
        }
        out
    }
}
