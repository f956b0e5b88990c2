//! The analytics scenarios (`scenarios/6x-*.toml`) against the analytics gates directly:
//! each is generated in memory, the gates are evaluated at every stage's end over the
//! events up to that end (as `rehearse run` does), and the first stage with a breach
//! must be the scenario's expected hold, with exactly the expected reasons. Clean data
//! (scenario 60 and the demo scenario) must breach nothing at any stage end. The span
//! gates (`paid_acquisition`, `lever_instrumentation`) judge each stage's own span.

use std::path::Path;

use rehearse::analytics::{AnalyticsData, AnalyticsPolicy, span_gates, stage_gates};
use rehearse::app::scenario::Scenario;

/// Stage name, and the gates breached at its end.
fn breaches(file: &str) -> Vec<(String, Vec<&'static str>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Scenario::load(&root.join("scenarios").join(file)).unwrap();
    let ds = s.dataset().unwrap();
    let data = AnalyticsData::from_dataset(&ds).expect("the scenario has analytics streams");
    let t0 = ds.start.unwrap();
    let policy = AnalyticsPolicy::default();
    s.setup
        .policy
        .stages
        .iter()
        .enumerate()
        .map(|(si, st)| {
            let mut gates = stage_gates(&data, &policy, t0 + st.end_ms());
            gates.extend(span_gates(&data, &s.setup.policy, t0, si));
            (
                st.name.clone(),
                gates.into_iter().map(|(g, _)| g.as_str()).collect(),
            )
        })
        .collect()
}

/// The verdicts the gates give: `go` until the first stage with a breach, which holds.
fn verdicts(b: &[(String, Vec<&'static str>)]) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut out = Vec::new();
    let mut reasons = Vec::new();
    let mut held = false;
    for (_, gates) in b {
        if held {
            out.push("not_run");
        } else if gates.is_empty() {
            out.push("go");
        } else {
            out.push("hold");
            reasons = gates.clone();
            held = true;
        }
    }
    (out, reasons)
}

fn expect(file: &str, stages: [&str; 4], reasons: &[&str]) {
    let b = breaches(file);
    let (got, why) = verdicts(&b);
    assert_eq!(got, stages, "{file}: {b:?}");
    assert_eq!(why, reasons, "{file}: {b:?}");
}

#[test]
fn clean_analytics_breach_nothing() {
    expect("60-analytics-clean.toml", ["go", "go", "go", "go"], &[]);
}

#[test]
fn demo_analytics_are_clean_before_the_rollback() {
    let b = breaches("15-demo-checkout-5xx.toml");
    // The demo rolls back inside ramp-25; the stages before it must not hold.
    assert!(b[0].1.is_empty() && b[1].1.is_empty(), "{b:?}");
}

#[test]
fn a_step_the_canary_stops_sending_is_a_tracking_gap() {
    // Its conversion collapses (tracking_gap) and its event type goes dark in the
    // canary (lever_instrumentation).
    expect(
        "61-analytics-tracking-gap.toml",
        ["go", "go", "hold", "not_run"],
        &["tracking_gap", "lever_instrumentation"],
    );
}

#[test]
fn unmarked_synthetic_users_leak_into_kpis() {
    expect(
        "62-analytics-unmarked-synthetic.toml",
        ["go", "hold", "not_run", "not_run"],
        &["analytics_exclusion"],
    );
}

#[test]
fn a_fee_rounding_bug_breaks_fee_capture() {
    expect(
        "63-analytics-fee-rounding.toml",
        ["go", "hold", "not_run", "not_run"],
        &["fee_capture"],
    );
}

#[test]
fn a_double_payout_breaks_ledger_integrity() {
    expect(
        "64-analytics-double-payout.toml",
        ["go", "go", "hold", "not_run"],
        &["ledger_integrity"],
    );
}

#[test]
fn purchases_without_currency_are_a_tracking_gap() {
    expect(
        "65-analytics-missing-currency.toml",
        ["go", "go", "hold", "not_run"],
        &["tracking_gap"],
    );
}

#[test]
fn paid_campaigns_before_full_breach_paid_acquisition() {
    expect(
        "66-paid-acquisition-early.toml",
        ["go", "hold", "not_run", "not_run"],
        &["paid_acquisition"],
    );
}

#[test]
fn paid_campaigns_resume_at_full_without_a_breach() {
    // The generator pauses paid campaigns until the full stage; there they run, and
    // the gate does not judge the full stage.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Scenario::load(&root.join("scenarios/60-analytics-clean.toml")).unwrap();
    let ds = s.dataset().unwrap();
    let data = AnalyticsData::from_dataset(&ds).unwrap();
    let t0 = ds.start.unwrap();
    let policy = AnalyticsPolicy::default();
    let stages = &s.setup.policy.stages;
    let paid: Vec<u64> = stages
        .iter()
        .map(|st| {
            rehearse::analytics::levers::paid_visits(
                &data,
                &policy,
                t0 + st.start_ms,
                t0 + st.end_ms(),
            )
            .visits
        })
        .collect();
    assert_eq!(&paid[..3], &[0, 0, 0], "{paid:?}");
    assert!(paid[3] > 100, "{paid:?}");
    assert!(span_gates(&data, &s.setup.policy, t0, 3).is_empty());
}

#[test]
fn the_mobile_pricing_lever_going_dark_breaches_lever_instrumentation() {
    expect(
        "67-lever-pricing-mobile.toml",
        ["go", "go", "hold", "not_run"],
        &["lever_instrumentation"],
    );
}

#[test]
fn dropped_abandon_events_breach_once_enough_are_expected() {
    expect(
        "68-lever-abandon.toml",
        ["go", "go", "hold", "not_run"],
        &["lever_instrumentation"],
    );
}
