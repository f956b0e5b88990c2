//! The analytics contract (`analytics-semantics.md`) rule by rule, on small hand-made
//! event sets, plus a naive per-person reference implementation of sections 1-5 checked
//! against the tool on randomised data (proptest).

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use rehearse::analytics::{AnalyticsData, AnalyticsPolicy, AnalyticsReport, analyze, stage_gates};
use rehearse::input::{Cohort, FunnelRow, LedgerKind, LedgerRow, Source};

const T0: i64 = 1_772_445_600_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn ev(min: i64, event: &str, user: Option<&str>, anon: Option<&str>) -> FunnelRow {
    FunnelRow {
        ts: T0 + min * MIN,
        event: event.into(),
        user_id: user.map(str::to_string),
        anonymous_id: anon.map(str::to_string),
        cohort: Some(Cohort::Baseline),
        ..Default::default()
    }
}

fn u(min: i64, event: &str, user: &str) -> FunnelRow {
    ev(min, event, Some(user), None)
}

fn report_with(
    rows: &[FunnelRow],
    ledger: Option<&[LedgerRow]>,
    p: &AnalyticsPolicy,
) -> AnalyticsReport {
    let data = AnalyticsData::from_rows(Some(rows), ledger);
    analyze(&data, p, "test").unwrap().report
}

fn report(rows: &[FunnelRow]) -> AnalyticsReport {
    report_with(rows, None, &AnalyticsPolicy::default())
}

fn steps(r: &AnalyticsReport) -> Vec<u64> {
    r.funnel.steps.iter().map(|s| s.persons).collect()
}

// ---------------------------------------------------------------------------------
// Section 1: persons

#[test]
fn anonymous_events_are_stitched_to_the_earliest_user_holding_both() {
    let rows = vec![
        ev(0, "visit", None, Some("a1")),
        ev(1, "search", None, Some("a1")),
        ev(2, "shortlist", Some("alice"), Some("a1")),
        // a1 later also appears with bob: the earliest pair wins.
        ev(3, "application_start", Some("bob"), Some("a1")),
        ev(4, "visit", None, Some("a2")),
    ];
    let r = report(&rows);
    // alice (a1 stitched), bob, a2.
    assert_eq!(r.persons.total, 3);
    assert_eq!(r.identity.stitched_anonymous_ids, 1);
    // alice: visit, search, shortlist; bob: no visit; a2: visit.
    assert_eq!(steps(&r), vec![2, 1, 1, 0, 0]);
}

#[test]
fn stitching_looks_ahead_and_ties_go_by_file_order() {
    // The identifying event comes after the anonymous ones in time.
    let mut rows = vec![
        ev(0, "visit", None, Some("a1")),
        ev(10, "search", Some("carol"), Some("a1")),
        ev(10, "shortlist", Some("dave"), Some("a1")),
    ];
    let r = report(&rows);
    // carol is first in file order at the tie: a1 -> carol.
    assert_eq!(r.persons.total, 2);
    assert_eq!(steps(&r), vec![1, 1, 0, 0, 0]);
    rows.swap(1, 2);
    let r = report(&rows);
    // Now dave holds both first: carol has only a search.
    assert_eq!(steps(&r), vec![1, 0, 0, 0, 0]);
}

#[test]
fn platform_and_cohort_come_from_the_earliest_event() {
    let mut a = u(5, "visit", "p");
    a.platform = Some("mobile".into());
    let mut b = u(1, "abandon", "p");
    b.platform = None;
    b.cohort = None;
    let r = report(&[a, b]);
    let platforms: Vec<_> = r
        .funnel
        .by_platform
        .iter()
        .map(|g| g.value.clone())
        .collect();
    assert_eq!(platforms, vec![None]);
    let cohorts: Vec<_> = r.funnel.by_cohort.iter().map(|g| g.value.clone()).collect();
    assert_eq!(cohorts, vec![None]);
}

// ---------------------------------------------------------------------------------
// Section 2: exclusion

#[test]
fn synthetic_markers_and_canary_only_persons_are_excluded() {
    let mut rows = vec![];
    let mut t = u(0, "visit", "tm");
    t.test_mode = Some(true);
    rows.push(t);
    rows.push(u(1, "search", "tm"));
    let mut ua = u(0, "visit", "ua");
    ua.user_agent = Some("Mozilla/5.0 DatadogSynthetics".into());
    rows.push(ua);
    let mut url = u(0, "visit", "url");
    url.page_url = Some("https://x.test/?a=b&e2e=1".into());
    rows.push(url);
    let mut not_url = u(0, "visit", "url0");
    not_url.page_url = Some("https://x.test/?e2e=0".into());
    rows.push(not_url);
    let mut lower = u(0, "visit", "lower");
    lower.user_agent = Some("datadogsynthetics".into());
    rows.push(lower);
    for (user, cohorts) in [
        ("can", vec![Some(Cohort::Canary), Some(Cohort::Canary)]),
        ("mixed", vec![Some(Cohort::Canary), Some(Cohort::Baseline)]),
        ("nullc", vec![Some(Cohort::Canary), None]),
    ] {
        for (i, c) in cohorts.into_iter().enumerate() {
            let mut e = u(i as i64, "visit", user);
            e.cohort = c;
            rows.push(e);
        }
    }
    let r = report(&rows);
    assert_eq!(r.persons.total, 8);
    assert_eq!(r.persons.synthetic, 3);
    assert_eq!(r.persons.canary_only, 1);
    assert_eq!(r.persons.included, 4);
    assert_eq!(r.funnel.steps[0].persons, 4);
    assert_eq!(r.funnel_without_exclusion.steps[0].persons, 8);
    assert_eq!(r.funnel_excluded.steps[0].persons, 4);
    assert_eq!(r.funnel_excluded.steps[1].persons, 1);
    // Exclusion can be switched off per class.
    let p = AnalyticsPolicy {
        exclude_canary_only: false,
        ..Default::default()
    };
    assert_eq!(report_with(&rows, None, &p).persons.included, 5);
}

#[test]
fn a_synthetic_canary_only_person_counts_as_synthetic() {
    let mut e = u(0, "visit", "s");
    e.test_mode = Some(true);
    e.cohort = Some(Cohort::Canary);
    let r = report(&[e]);
    assert_eq!((r.persons.synthetic, r.persons.canary_only), (1, 0));
}

#[test]
fn leaked_events_need_the_source_column() {
    let mut a = u(0, "visit", "leaky");
    a.source = Some(Source::Synthetic);
    let mut b = u(1, "search", "leaky");
    b.source = Some(Source::Synthetic);
    let mut c = u(0, "visit", "caught");
    c.source = Some(Source::Synthetic);
    c.test_mode = Some(true);
    let mut d = u(2, "search", "caught");
    d.source = Some(Source::Synthetic);
    let r = report(&[a.clone(), b.clone(), c, d]);
    assert_eq!(r.leaked_events, Some(2));
    a.source = None;
    b.source = None;
    assert_eq!(report(&[a, b]).leaked_events, None);
}

// ---------------------------------------------------------------------------------
// Section 3: funnel

#[test]
fn steps_are_sequential_within_24_hours_of_the_visit() {
    let rows = vec![
        u(0, "visit", "a"),
        u(60 * 24, "search", "a"), // exactly 24 h: counts
        u(0, "visit", "b"),
        ev(0, "search", Some("b"), None),
        u(0, "visit", "c"),
        FunnelRow {
            ts: T0 + 24 * HOUR + 1,
            ..u(0, "search", "c")
        },
        // Out of order steps: a shortlist before the search does not count.
        u(0, "visit", "d"),
        u(1, "shortlist", "d"),
        u(2, "search", "d"),
    ];
    let r = report(&rows);
    assert_eq!(steps(&r), vec![4, 3, 0, 0, 0]);
}

#[test]
fn equal_timestamps_count_in_step_order() {
    // The search is earlier in the file than the visit, at the same instant.
    let rows = vec![
        u(5, "search", "t"),
        u(5, "visit", "t"),
        u(5, "credit_purchase", "t"),
        u(5, "shortlist", "t"),
        u(5, "application_start", "t"),
    ];
    assert_eq!(steps(&report(&rows)), vec![1, 1, 1, 1, 1]);
    // One event fills one step: a single search cannot be search and shortlist.
    let rows = vec![
        u(0, "visit", "o"),
        u(1, "search", "o"),
        u(2, "application_start", "o"),
    ];
    assert_eq!(steps(&report(&rows)), vec![1, 1, 0, 0, 0]);
}

#[test]
fn the_best_visit_counts_and_medians_use_its_chain() {
    let rows = vec![
        u(0, "visit", "m"),
        u(10, "search", "m"),
        u(60 * 30, "visit", "m"),
        u(60 * 30 + 2, "search", "m"),
        u(60 * 30 + 3, "shortlist", "m"),
    ];
    let r = report(&rows);
    assert_eq!(steps(&r), vec![1, 1, 1, 0, 0]);
    assert_eq!(r.funnel.steps[1].median_s_from_previous, Some(120.0));
    assert_eq!(r.funnel.steps[2].median_s_from_previous, Some(60.0));
    assert_eq!(r.funnel.steps[1].conversion_from_previous, Some(1.0));
    assert_eq!(r.funnel.steps[1].drop_off, Some(0));
}

#[test]
fn funnel_per_platform_and_cohort() {
    let mut rows = vec![];
    for (user, platform, cohort, last) in [
        ("a", "mobile", Cohort::Baseline, 1),
        ("b", "mobile", Cohort::Baseline, 4),
        ("c", "desktop", Cohort::Baseline, 2),
    ] {
        for k in 0..=last {
            let mut e = u(
                k,
                [
                    "visit",
                    "search",
                    "shortlist",
                    "application_start",
                    "credit_purchase",
                ][k as usize],
                user,
            );
            e.platform = Some(platform.into());
            e.cohort = Some(cohort);
            rows.push(e);
        }
    }
    let r = report(&rows);
    let get = |v: &str| {
        r.funnel
            .by_platform
            .iter()
            .find(|g| g.value.as_deref() == Some(v))
            .map(|g| g.steps.iter().map(|s| s.persons).collect::<Vec<_>>())
    };
    assert_eq!(get("mobile"), Some(vec![2, 2, 1, 1, 1]));
    assert_eq!(get("desktop"), Some(vec![1, 1, 1, 0, 0]));
    assert_eq!(r.funnel.by_cohort.len(), 1);
}

// ---------------------------------------------------------------------------------
// Section 4: attribution and revenue

fn buy(min: i64, user: &str, revenue: Option<f64>, currency: Option<&str>) -> FunnelRow {
    FunnelRow {
        revenue,
        currency: currency.map(str::to_string),
        ..u(min, "credit_purchase", user)
    }
}

fn utm(mut e: FunnelRow, source: &str) -> FunnelRow {
    e.utm_source = Some(source.into());
    e
}

#[test]
fn revenue_in_minor_units_per_currency() {
    let rows = vec![
        u(0, "visit", "a"),
        buy(1, "a", Some(19.995), Some("USD")),
        buy(2, "a", Some(0.005), Some("USD")),
        buy(3, "a", Some(1200.5), Some("JPY")),
        buy(4, "a", Some(1.2345), Some("BHD")),
        buy(5, "a", Some(9.99), None),
        buy(6, "a", None, Some("EUR")),
        utm(u(7, "visit", "b"), "ads"),
    ];
    let r = report(&rows);
    let want: BTreeMap<String, i64> = [("BHD", 1235), ("JPY", 1201), ("USD", 2001)]
        .into_iter()
        .map(|(c, v)| (c.to_string(), v))
        .collect();
    assert_eq!(r.revenue_minor, want);
    let k = &r.kpis.included;
    assert_eq!((k.persons, k.visitors, k.paying_persons), (2, 2, 1));
    assert_eq!(k.free_to_paid, Some(0.5));
    assert_eq!(k.arpu_minor["USD"], 1000.5);
    assert_eq!(k.arppu_minor["USD"], 2001.0);
    // Purchases lacking revenue or currency are a tracking gap.
    assert_eq!(r.tracking_gaps.len(), 1);
    assert_eq!(r.tracking_gaps[0].step, "missing_revenue");
    assert_eq!(r.tracking_gaps[0].events, Some(2));
}

#[test]
fn first_and_last_touch() {
    let rows = vec![
        utm(u(0, "visit", "a"), "google"),
        utm(u(10, "visit", "a"), "newsletter"),
        buy(20, "a", Some(10.0), Some("USD")),
        utm(u(20, "visit", "a"), "facebook"), // same instant as the purchase: counts
        utm(u(30, "visit", "a"), "partner"),  // after the first purchase: ignored
        buy(40, "a", Some(5.0), Some("USD")),
        u(0, "visit", "b"),
        buy(1, "b", Some(1.0), Some("USD")),
        utm(u(5, "visit", "c"), "google"),
    ];
    let r = report(&rows);
    let first: Vec<(String, u64, u64)> = r
        .attribution
        .first_touch
        .iter()
        .map(|t| (t.utm_source.clone(), t.persons, t.conversions))
        .collect();
    assert_eq!(
        first,
        vec![("(direct)".into(), 1, 1), ("google".into(), 2, 1)]
    );
    let last: Vec<(String, u64, i64)> = r
        .attribution
        .last_touch
        .iter()
        .map(|t| (t.utm_source.clone(), t.conversions, t.revenue_minor["USD"]))
        .collect();
    assert_eq!(
        last,
        vec![("(direct)".into(), 1, 100), ("facebook".into(), 1, 1500)]
    );
    let google = r
        .attribution
        .first_touch
        .iter()
        .find(|t| t.utm_source == "google")
        .unwrap();
    assert_eq!(google.revenue_minor["USD"], 1500);
}

#[test]
fn a_source_spelled_direct_shares_the_direct_row() {
    // One row per name: the persons without a UTM and those whose source is literally
    // "(direct)" are added up, revenue included; sources sort as strings ("!" first).
    let rows = vec![
        u(0, "visit", "a"),
        buy(1, "a", Some(1.0), Some("USD")),
        utm(u(0, "visit", "b"), "(direct)"),
        buy(1, "b", Some(2.0), Some("USD")),
        utm(u(0, "visit", "c"), "!promo"),
    ];
    let r = report(&rows);
    let touch = |t: &[rehearse::analytics::rollup::TouchRow]| -> Vec<(String, u64, u64, i64)> {
        t.iter()
            .map(|t| {
                let usd = t.revenue_minor.get("USD").copied().unwrap_or(0);
                (t.utm_source.clone(), t.persons, t.conversions, usd)
            })
            .collect()
    };
    assert_eq!(
        touch(&r.attribution.first_touch),
        vec![("!promo".into(), 1, 0, 0), ("(direct)".into(), 2, 2, 300)]
    );
    assert_eq!(
        touch(&r.attribution.last_touch),
        vec![("(direct)".into(), 2, 2, 300)]
    );
}

// ---------------------------------------------------------------------------------
// Section 5: tracking gaps

#[test]
fn tracking_gap_z_test_needs_volume() {
    let mut rows = vec![];
    let mut add = |prefix: &str, cohort: Cohort, n: usize, searching: usize| {
        for i in 0..n {
            let user = format!("{prefix}{i}");
            let mut v = u(0, "visit", &user);
            v.cohort = Some(cohort);
            rows.push(v);
            if i < searching {
                let mut s = u(1, "search", &user);
                s.cohort = Some(cohort);
                rows.push(s);
            }
        }
    };
    add("c", Cohort::Canary, 40, 5);
    add("b", Cohort::Baseline, 40, 30);
    let r = report(&rows.clone());
    let t = &r.tracking_tests[0];
    assert_eq!(
        (t.step, t.canary_n, t.canary_x, t.baseline_n, t.baseline_x),
        ("search", 40, 5, 40, 30)
    );
    assert!(t.z.unwrap() < -3.0 && t.gap);
    assert_eq!(r.tracking_gaps.len(), 1);
    assert_eq!(r.tracking_gaps[0].step, "search");
    // Canary-only persons take part; the minimum volume applies.
    let p = AnalyticsPolicy {
        gap_min_n: 41,
        ..Default::default()
    };
    let r = report_with(&rows, None, &p);
    assert!(r.tracking_gaps.is_empty());
    assert!(!r.tracking_tests[0].gap);
}

#[test]
fn synthetic_purchases_without_currency_are_no_gap() {
    let mut b = buy(1, "s", Some(1.0), None);
    b.test_mode = Some(true);
    let r = report(&[u(0, "visit", "s"), b]);
    assert!(r.tracking_gaps.is_empty());
}

// ---------------------------------------------------------------------------------
// Section 6: fees and ledger

fn line(
    min: i64,
    txn: &str,
    account: &str,
    debit: Option<i64>,
    credit: Option<i64>,
    kind: LedgerKind,
) -> LedgerRow {
    LedgerRow {
        ts: T0 + min * MIN,
        txn_id: txn.into(),
        entry_id: format!("{txn}-{account}"),
        account: account.into(),
        debit_minor: debit,
        credit_minor: credit,
        currency: "USD".into(),
        kind,
        order_id: None,
        provider_id: None,
        payout_id: None,
    }
}

fn booking(min: i64, txn: &str, provider: &str, gross: i64, fee: i64) -> Vec<LedgerRow> {
    vec![
        line(min, txn, "cash", Some(gross), None, LedgerKind::Booking),
        line(
            min,
            txn,
            "platform_fees",
            None,
            Some(fee),
            LedgerKind::Booking,
        ),
        line(
            min,
            txn,
            &format!("provider:{provider}"),
            None,
            Some(gross - fee),
            LedgerKind::Booking,
        ),
    ]
}

fn payout(min: i64, txn: &str, provider: &str, amount: i64, id: &str) -> Vec<LedgerRow> {
    let mut v = vec![
        line(
            min,
            txn,
            &format!("provider:{provider}"),
            Some(amount),
            None,
            LedgerKind::Payout,
        ),
        line(min, txn, "cash", None, Some(amount), LedgerKind::Payout),
    ];
    for l in &mut v {
        l.payout_id = Some(id.into());
    }
    v
}

fn ledger_report(lines: &[LedgerRow]) -> AnalyticsReport {
    report_with(&[], Some(lines), &AnalyticsPolicy::default())
}

fn counts(r: &AnalyticsReport) -> [u64; 4] {
    [
        r.fee_violations,
        r.ledger.unbalanced_txns,
        r.ledger.duplicate_payouts,
        r.ledger.overdrawn_providers,
    ]
}

#[test]
fn a_correct_ledger_has_no_findings() {
    let mut l = booking(0, "b1", "p1", 10_000, 300);
    l.extend(booking(1, "b2", "p1", 1_250, 38)); // 37.5 rounds half-up
    l.extend(payout(2, "o1", "p1", 10_912, "pay1"));
    let r = ledger_report(&l);
    assert_eq!(counts(&r), [0, 0, 0, 0]);
    assert_eq!(
        (r.ledger.transactions, r.ledger.bookings, r.ledger.payouts),
        (3, 2, 1)
    );
    assert_eq!(r.ledger.fees_minor["USD"], 338);
}

#[test]
fn fee_rule_violations() {
    // Floored fee, still balanced.
    assert_eq!(
        counts(&ledger_report(&booking(0, "b", "p", 1_250, 37))),
        [1, 0, 0, 0]
    );
    // Two fee captures.
    let mut two = booking(0, "b", "p", 10_000, 300);
    two[2].credit_minor = Some(9_400);
    two.push(line(
        0,
        "b",
        "platform_fees",
        None,
        Some(300),
        LedgerKind::Booking,
    ));
    two[1].credit_minor = Some(300);
    assert_eq!(counts(&ledger_report(&two)), [1, 0, 0, 0]);
    // No fee capture (and the provider gets everything).
    let none = vec![
        line(0, "b", "cash", Some(10_000), None, LedgerKind::Booking),
        line(
            0,
            "b",
            "provider:p",
            None,
            Some(10_000),
            LedgerKind::Booking,
        ),
    ];
    assert_eq!(counts(&ledger_report(&none)), [1, 0, 0, 0]);
    // fee + net != gross: also unbalanced.
    let mut off = booking(0, "b", "p", 10_000, 300);
    off[2].credit_minor = Some(9_600);
    assert_eq!(counts(&ledger_report(&off)), [1, 1, 0, 0]);
    // The rounding rule is the policy's.
    let p = AnalyticsPolicy {
        fee_rounding: rehearse::analytics::Rounding::Floor,
        ..Default::default()
    };
    let r = report_with(&[], Some(&booking(0, "b", "p", 1_250, 37)), &p);
    assert_eq!(r.fee_violations, 0);
}

#[test]
fn unbalanced_is_per_currency() {
    let mut l = booking(0, "b", "p", 10_000, 300);
    l[1].currency = "EUR".into();
    assert_eq!(ledger_report(&l).ledger.unbalanced_txns, 1);
}

#[test]
fn duplicate_payout_ids_across_transactions() {
    let mut l = booking(0, "b", "p", 100_000, 3_000);
    l.extend(payout(10, "o1", "p", 1_000, "pay1"));
    l.extend(payout(20, "o2", "p", 1_000, "pay1"));
    l.extend(payout(30, "o3", "p", 1_000, "pay2"));
    let r = ledger_report(&l);
    assert_eq!(r.ledger.duplicate_payouts, 1);
    assert_eq!(
        r.ledger.examples.duplicate_payouts,
        vec!["pay1".to_string()]
    );
    // One payout id twice within one transaction is not a duplicate payout.
    let mut l = booking(0, "b", "p", 100_000, 3_000);
    l.extend(payout(10, "o1", "p", 1_000, "pay1"));
    assert_eq!(ledger_report(&l).ledger.duplicate_payouts, 0);
}

#[test]
fn overdrawn_providers_in_transaction_order() {
    // Paid out more than the captured net.
    let mut l = booking(0, "b", "p", 10_000, 300);
    l.extend(payout(5, "o", "p", 9_701, "x"));
    assert_eq!(ledger_report(&l).ledger.overdrawn_providers, 1);
    // Exactly the net: fine.
    let mut l = booking(0, "b", "p", 10_000, 300);
    l.extend(payout(5, "o", "p", 9_700, "x"));
    assert_eq!(ledger_report(&l).ledger.overdrawn_providers, 0);
    // Paid out before the booking.
    let mut l = payout(0, "o", "p", 100, "x");
    l.extend(booking(5, "b", "p", 10_000, 300));
    assert_eq!(ledger_report(&l).ledger.overdrawn_providers, 1);
    // Same instant: txn_id orders them.
    let mut l = payout(0, "a-payout", "p", 100, "x");
    l.extend(booking(0, "b-booking", "p", 10_000, 300));
    assert_eq!(ledger_report(&l).ledger.overdrawn_providers, 1);
    let mut l = payout(0, "z-payout", "p", 100, "x");
    l.extend(booking(0, "b-booking", "p", 10_000, 300));
    assert_eq!(ledger_report(&l).ledger.overdrawn_providers, 0);
    // Applied whole: a transaction debiting then crediting the provider never dips.
    let l = vec![
        line(0, "t", "provider:p", Some(500), None, LedgerKind::Payout),
        line(0, "t", "provider:p", None, Some(800), LedgerKind::Payout),
        line(0, "t", "cash", Some(300), None, LedgerKind::Payout),
    ];
    assert_eq!(counts(&ledger_report(&l)), [0, 0, 0, 0]);
    // Two overdrawn accounts of one provider id in two currencies count once.
    let mut l = payout(0, "o1", "p", 100, "x1");
    let mut eur = payout(0, "o2", "p", 100, "x2");
    for e in &mut eur {
        e.currency = "EUR".into();
    }
    l.extend(eur);
    assert_eq!(ledger_report(&l).ledger.overdrawn_providers, 1);
}

// ---------------------------------------------------------------------------------
// Section 7: gates on a slice

#[test]
fn stage_gates_only_see_events_up_to_the_end() {
    let mut l = booking(0, "b", "p", 10_000, 300);
    l.extend(payout(60, "o1", "p", 9_700, "pay"));
    l.extend(payout(120, "o2", "p", 9_700, "pay"));
    let data = AnalyticsData::from_rows(None, Some(&l));
    let p = AnalyticsPolicy::default();
    assert!(stage_gates(&data, &p, T0 + 90 * MIN).is_empty());
    let g = stage_gates(&data, &p, T0 + 120 * MIN);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].0.as_str(), "ledger_integrity");
    assert!(
        g[0].1.contains("1 duplicate payouts") && g[0].1.contains("1 overdrawn"),
        "{}",
        g[0].1
    );

    // Identity on the slice: the later identifying event is not seen yet.
    let mut rows = vec![ev(0, "visit", None, Some("a"))];
    let mut s = ev(60, "search", Some("u"), Some("a"));
    s.source = Some(Source::Real);
    rows.push(s);
    let mut x = u(30, "visit", "syn");
    x.source = Some(Source::Synthetic);
    rows.push(x);
    let data = AnalyticsData::from_rows(Some(&rows), None);
    let g = stage_gates(&data, &p, T0 + 30 * MIN);
    assert_eq!(
        g.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(),
        vec!["analytics_exclusion"]
    );
    assert!(stage_gates(&data, &p, T0 + 29 * MIN).is_empty());
}

// ---------------------------------------------------------------------------------
// The naive per-person reference (sections 1-5), literally as the contract reads: every
// output of the funnel part of the report it can express (persons, the three funnels
// with their groups, conversions, drop-offs and medians, the KPIs of each scope, both
// attributions with their revenue, leaks, the z-test inputs, missing revenue,
// duplicates and stitching) is compared whole.

/// One funnel step: persons, conversion from the previous step, drop-off, median (s).
type StepView = (u64, Option<f64>, Option<u64>, Option<f64>);

#[derive(Debug, PartialEq)]
struct FunnelView {
    persons: u64,
    steps: Vec<StepView>,
    /// In report order: by value, nulls last.
    by_platform: Vec<(Option<String>, Vec<StepView>)>,
    by_cohort: Vec<(Option<String>, Vec<StepView>)>,
}

#[derive(Debug, PartialEq)]
struct KpiView {
    persons: u64,
    visitors: u64,
    paying: u64,
    free_to_paid: Option<f64>,
    revenue: BTreeMap<String, i64>,
    arpu: BTreeMap<String, f64>,
    arppu: BTreeMap<String, f64>,
}

/// Per source, in report order: persons, conversions, revenue per currency.
type TouchView = Vec<(String, u64, u64, BTreeMap<String, i64>)>;

#[derive(Debug, PartialEq)]
struct View {
    /// total, synthetic, canary-only, included.
    persons: (u64, u64, u64, u64),
    duplicates: u64,
    stitched: u64,
    /// Included, without exclusion, excluded.
    funnels: Vec<FunnelView>,
    kpis: Vec<KpiView>,
    /// Included, without exclusion: first touch, last touch.
    attribution: Vec<(TouchView, TouchView)>,
    revenue: BTreeMap<String, i64>,
    revenue_all: BTreeMap<String, i64>,
    leaked: Option<u64>,
    /// canary n, canary x, baseline n, baseline x, for steps 2..5.
    tests: Vec<(u64, u64, u64, u64)>,
    missing_revenue: u64,
}

fn view(r: &AnalyticsReport) -> View {
    use rehearse::analytics::rollup::{Attribution, FunnelReport, Kpis, StepRow, TouchRow};
    let steps = |s: &[StepRow]| -> Vec<StepView> {
        s.iter()
            .map(|s| {
                (
                    s.persons,
                    s.conversion_from_previous,
                    s.drop_off,
                    s.median_s_from_previous,
                )
            })
            .collect()
    };
    let funnel = |f: &FunnelReport| FunnelView {
        persons: f.persons,
        steps: steps(&f.steps),
        by_platform: f
            .by_platform
            .iter()
            .map(|g| (g.value.clone(), steps(&g.steps)))
            .collect(),
        by_cohort: f
            .by_cohort
            .iter()
            .map(|g| (g.value.clone(), steps(&g.steps)))
            .collect(),
    };
    let kpis = |k: &Kpis| KpiView {
        persons: k.persons,
        visitors: k.visitors,
        paying: k.paying_persons,
        free_to_paid: k.free_to_paid,
        revenue: k.revenue_minor.clone(),
        arpu: k.arpu_minor.clone(),
        arppu: k.arppu_minor.clone(),
    };
    let touch = |t: &[TouchRow]| -> TouchView {
        t.iter()
            .map(|t| {
                (
                    t.utm_source.clone(),
                    t.persons,
                    t.conversions,
                    t.revenue_minor.clone(),
                )
            })
            .collect()
    };
    let attribution = |a: &Attribution| (touch(&a.first_touch), touch(&a.last_touch));
    View {
        persons: (
            r.persons.total,
            r.persons.synthetic,
            r.persons.canary_only,
            r.persons.included,
        ),
        duplicates: r.identity.duplicates_dropped,
        stitched: r.identity.stitched_anonymous_ids,
        funnels: vec![
            funnel(&r.funnel),
            funnel(&r.funnel_without_exclusion),
            funnel(&r.funnel_excluded),
        ],
        kpis: vec![
            kpis(&r.kpis.included),
            kpis(&r.kpis.without_exclusion),
            kpis(&r.kpis.excluded),
        ],
        attribution: vec![
            attribution(&r.attribution),
            attribution(&r.attribution_without_exclusion),
        ],
        revenue: r.revenue_minor.clone(),
        revenue_all: r.revenue_minor_without_exclusion.clone(),
        leaked: r.leaked_events,
        tests: r
            .tracking_tests
            .iter()
            .map(|t| (t.canary_n, t.canary_x, t.baseline_n, t.baseline_x))
            .collect(),
        missing_revenue: r
            .tracking_gaps
            .iter()
            .find(|g| g.step == "missing_revenue")
            .and_then(|g| g.events)
            .unwrap_or(0),
    }
}

const STEPS: [&str; 5] = [
    "visit",
    "search",
    "shortlist",
    "application_start",
    "credit_purchase",
];

fn naive_minor(v: f64, currency: &str) -> i64 {
    let exp: u32 = match currency {
        "JPY" => 0,
        "BHD" | "KWD" => 3,
        _ => 2,
    };
    let text = format!("{v}");
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, text.clone()),
    };
    let (int, frac) = body.split_once('.').unwrap_or((&body, ""));
    let scale = frac.len() as u32;
    let digits: i128 = format!("{int}{frac}").parse().unwrap();
    // value * 10^exp = digits * 10^exp / 10^scale, rounded half away from zero.
    let num = digits * 10i128.pow(exp);
    let den = 10i128.pow(scale);
    let q = num / den;
    let r = num % den;
    let m = if 2 * r >= den { q + 1 } else { q };
    (if neg { -m } else { m }) as i64
}

fn naive_synthetic(e: &FunnelRow) -> bool {
    e.test_mode == Some(true)
        || e.user_agent
            .as_deref()
            .is_some_and(|ua| ua.contains("SyntheticCanary") || ua.contains("DatadogSynthetics"))
        || e.page_url.as_deref().is_some_and(|url| {
            url.split_once('?').is_some_and(|(_, q)| {
                q.split('#')
                    .next()
                    .unwrap()
                    .split('&')
                    .any(|kv| kv == "e2e=1")
            })
        })
}

/// One person as the naive reference sees it.
struct NaivePerson {
    synthetic: bool,
    excluded: bool,
    platform: Option<String>,
    cohort: Option<Cohort>,
    /// Furthest step (-1: none) and the instants of the best chain.
    best: i64,
    best_ts: Vec<i64>,
    first_touch: String,
    /// Paying persons only.
    last_touch: Option<String>,
    /// (currency, minor units) of each purchase with both.
    revenue: Vec<(String, i64)>,
}

fn median(d: &mut [i64]) -> Option<f64> {
    d.sort();
    match d.len() {
        0 => None,
        l if l % 2 == 1 => Some(d[l / 2] as f64 / 1000.0),
        l => Some((d[l / 2 - 1] + d[l / 2]) as f64 / 2000.0),
    }
}

/// The funnel steps of some persons (nulls last in the groups).
fn naive_steps(ps: &[&NaivePerson]) -> Vec<StepView> {
    let reach: Vec<u64> = (0..5)
        .map(|k| ps.iter().filter(|p| p.best >= k as i64).count() as u64)
        .collect();
    (0..5)
        .map(|k| {
            let prev = (k > 0).then(|| reach[k - 1]);
            let mut d: Vec<i64> = ps
                .iter()
                .filter(|p| k > 0 && p.best >= k as i64)
                .map(|p| p.best_ts[k] - p.best_ts[k - 1])
                .collect();
            (
                reach[k],
                prev.and_then(|p| (p > 0).then(|| reach[k] as f64 / p as f64)),
                prev.map(|p| p - reach[k]),
                median(&mut d),
            )
        })
        .collect()
}

fn naive_groups(
    ps: &[&NaivePerson],
    key: impl Fn(&NaivePerson) -> Option<String>,
) -> Vec<(Option<String>, Vec<StepView>)> {
    let mut groups: BTreeMap<Option<String>, Vec<&NaivePerson>> = BTreeMap::new();
    for p in ps {
        groups.entry(key(p)).or_default().push(p);
    }
    // BTreeMap puts None first; the report puts nulls last.
    let mut v: Vec<_> = groups
        .into_iter()
        .map(|(k, g)| (k, naive_steps(&g)))
        .collect();
    if v.first().is_some_and(|g| g.0.is_none()) {
        v.rotate_left(1);
    }
    v
}

fn naive_kpis(ps: &[&NaivePerson]) -> KpiView {
    let persons = ps.len() as u64;
    let visitors = ps.iter().filter(|p| p.best >= 0).count() as u64;
    let paying = ps.iter().filter(|p| p.last_touch.is_some()).count() as u64;
    let mut revenue: BTreeMap<String, i64> = BTreeMap::new();
    for (c, v) in ps.iter().flat_map(|p| &p.revenue) {
        *revenue.entry(c.clone()).or_default() += v;
    }
    let per = |n: u64| -> BTreeMap<String, f64> {
        revenue
            .iter()
            .filter(|_| n > 0)
            .map(|(c, v)| (c.clone(), *v as f64 / n as f64))
            .collect()
    };
    KpiView {
        persons,
        visitors,
        paying,
        free_to_paid: (visitors > 0).then(|| paying as f64 / visitors as f64),
        arpu: per(persons),
        arppu: per(paying),
        revenue,
    }
}

fn naive_touch(ps: &[&NaivePerson], key: impl Fn(&NaivePerson) -> Option<String>) -> TouchView {
    let mut m: BTreeMap<String, (u64, u64, BTreeMap<String, i64>)> = BTreeMap::new();
    for p in ps {
        let Some(k) = key(p) else { continue };
        let e = m.entry(k).or_default();
        e.0 += 1;
        e.1 += u64::from(p.last_touch.is_some());
        for (c, v) in &p.revenue {
            *e.2.entry(c.clone()).or_default() += v;
        }
    }
    m.into_iter().map(|(k, (a, b, r))| (k, a, b, r)).collect()
}

fn naive(rows: &[FunnelRow]) -> View {
    let window = 24 * HOUR;
    let has_source = rows.iter().any(|r| r.source.is_some());
    // Delivery duplicates: rows repeating an earlier message id, in file order.
    let mut seen = std::collections::HashSet::new();
    let all = rows.len();
    let rows: Vec<&FunnelRow> = rows
        .iter()
        .filter(|r| r.message_id.as_ref().is_none_or(|m| seen.insert(m.clone())))
        .collect();
    let duplicates = (all - rows.len()) as u64;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (rows[i].ts, i));
    let mut anon_user: HashMap<&str, &str> = HashMap::new();
    for &i in &order {
        if let (Some(u), Some(a)) = (&rows[i].user_id, &rows[i].anonymous_id) {
            anon_user.entry(a).or_insert(u);
        }
    }
    let person_of = |e: &FunnelRow| -> String {
        match (&e.user_id, &e.anonymous_id) {
            (Some(u), _) => u.clone(),
            (None, Some(a)) => anon_user
                .get(a.as_str())
                .map_or(a.clone(), |u| u.to_string()),
            (None, None) => unreachable!(),
        }
    };
    // Persons in order of first appearance, each with their events in time order.
    let mut persons: Vec<(String, Vec<usize>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for &i in &order {
        let p = person_of(rows[i]);
        let k = *index.entry(p.clone()).or_insert_with(|| {
            persons.push((p, Vec::new()));
            persons.len() - 1
        });
        persons[k].1.push(i);
    }
    let mut leaked = has_source.then_some(0u64);
    let mut reach = [[0u64; 5]; 2];
    let mut missing_revenue = 0;
    let mut people = Vec::new();
    for (_, evs) in &persons {
        let first = rows[evs[0]];
        let synthetic = evs.iter().any(|&i| naive_synthetic(rows[i]));
        let canary_only = evs.iter().all(|&i| rows[i].cohort == Some(Cohort::Canary));
        let excluded = synthetic || canary_only;
        // Funnel: step events by (ts, step, file order).
        let mut st: Vec<(i64, usize, usize)> = evs
            .iter()
            .filter_map(|&i| {
                STEPS
                    .iter()
                    .position(|s| *s == rows[i].event)
                    .map(|k| (rows[i].ts, k, i))
            })
            .collect();
        st.sort();
        let mut best: i64 = -1;
        let mut best_ts: Vec<i64> = Vec::new();
        for (vi, v) in st.iter().enumerate() {
            if v.1 != 0 {
                continue;
            }
            let mut cur = vi;
            let mut depth = 0;
            let mut ts = vec![v.0];
            for k in 1..5 {
                match st[cur + 1..].iter().position(|e| e.1 == k) {
                    Some(off) if st[cur + 1 + off].0 - v.0 <= window => {
                        cur += 1 + off;
                        depth = k as i64;
                        ts.push(st[cur].0);
                    }
                    _ => break,
                }
            }
            if depth > best {
                best = depth;
                best_ts = ts;
            }
        }
        // Tracking: non-synthetic persons by cohort.
        if !synthetic {
            if let Some(c) = first.cohort {
                let ci = if c == Cohort::Canary { 0 } else { 1 };
                for (k, r) in reach[ci].iter_mut().enumerate() {
                    if best >= k as i64 {
                        *r += 1;
                    }
                }
            }
        }
        // Revenue, attribution, leaks.
        let purchases: Vec<usize> = evs
            .iter()
            .copied()
            .filter(|&i| rows[i].event == "credit_purchase")
            .collect();
        let mut revenue = Vec::new();
        for &i in &purchases {
            let e = rows[i];
            if !synthetic && (e.revenue.is_none() || e.currency.is_none()) {
                missing_revenue += 1;
            }
            if let (Some(v), Some(c)) = (e.revenue, &e.currency) {
                revenue.push((c.clone(), naive_minor(v, c)));
            }
        }
        if let Some(l) = &mut leaked {
            if !excluded {
                *l += evs
                    .iter()
                    .filter(|&&i| rows[i].source == Some(Source::Synthetic))
                    .count() as u64;
            }
        }
        let first_touch = evs
            .iter()
            .find_map(|&i| rows[i].utm_source.clone())
            .unwrap_or_else(|| "(direct)".into());
        let last_touch = purchases.first().map(|&fp| {
            evs.iter()
                .filter(|&&i| rows[i].ts <= rows[fp].ts)
                .filter_map(|&i| rows[i].utm_source.clone())
                .next_back()
                .unwrap_or_else(|| "(direct)".into())
        });
        people.push(NaivePerson {
            synthetic,
            excluded,
            platform: first.platform.clone(),
            cohort: first.cohort,
            best,
            best_ts,
            first_touch,
            last_touch,
            revenue,
        });
    }
    let scopes: [Vec<&NaivePerson>; 3] = [
        people.iter().filter(|p| !p.excluded).collect(),
        people.iter().collect(),
        people.iter().filter(|p| p.excluded).collect(),
    ];
    let synthetic = people.iter().filter(|p| p.synthetic).count() as u64;
    let excluded = scopes[2].len() as u64;
    View {
        persons: (
            people.len() as u64,
            synthetic,
            excluded - synthetic,
            scopes[0].len() as u64,
        ),
        duplicates,
        stitched: anon_user.len() as u64,
        funnels: scopes
            .iter()
            .map(|ps| FunnelView {
                persons: ps.len() as u64,
                steps: naive_steps(ps),
                by_platform: naive_groups(ps, |p| p.platform.clone()),
                by_cohort: naive_groups(ps, |p| p.cohort.map(|c| c.as_str().to_string())),
            })
            .collect(),
        kpis: scopes.iter().map(|ps| naive_kpis(ps)).collect(),
        attribution: scopes[..2]
            .iter()
            .map(|ps| {
                (
                    naive_touch(ps, |p| Some(p.first_touch.clone())),
                    naive_touch(ps, |p| p.last_touch.clone()),
                )
            })
            .collect(),
        revenue: naive_kpis(&scopes[0]).revenue,
        revenue_all: naive_kpis(&scopes[1]).revenue,
        leaked,
        tests: (1..5)
            .map(|k| (reach[0][k - 1], reach[0][k], reach[1][k - 1], reach[1][k]))
            .collect(),
        missing_revenue,
    }
}
fn row_strategy() -> impl Strategy<Value = FunnelRow> {
    let event = prop::sample::select(vec![
        "visit",
        "visit",
        "visit",
        "search",
        "search",
        "shortlist",
        "application_start",
        "credit_purchase",
        "credit_purchase",
        "abandon",
        "retry",
    ]);
    // Few ids, so persons collide and anonymous ids get stitched (or not); an anonymous
    // id now and then spells a user id, so both kinds of id share one namespace.
    let anon = prop_oneof![
        9 => (0u8..6).prop_map(|a| format!("a{a}")),
        1 => (0u8..6).prop_map(|a| format!("u{a}")),
    ];
    let ids = (prop::option::of(0u8..6), prop::option::of(anon)).prop_map(|(u, a)| match (u, a) {
        (None, None) => (None, Some("a0".to_string())),
        (u, a) => (u.map(|u| format!("u{u}")), a),
    });
    (
        (0i64..60, 0i64..3, event, ids),
        (
            prop::option::of(prop::sample::select(vec![Cohort::Canary, Cohort::Baseline])),
            prop::option::of(prop::sample::select(vec!["mobile", "desktop", "tv"])),
            // "(direct)" as a real source merges with the persons without one;
            // "!promo" sorts before it.
            prop::option::of(prop::sample::select(vec![
                "google", "google", "ads", "mail", "mail", "(direct)", "!promo",
            ])),
            prop::option::of(prop::sample::select(vec![
                9.99, 19.995, 0.005, 1200.5, 1.2345, 7.0,
            ])),
            prop::option::of(prop::sample::select(vec!["USD", "JPY", "BHD"])),
        ),
        (
            prop::option::weighted(0.15, any::<bool>()),
            prop::sample::select(vec![0u8, 0, 0, 0, 1, 2, 3]),
            prop::option::of(prop::sample::select(vec![Source::Real, Source::Synthetic])),
            // Delivery duplicates: a few message ids, so some rows repeat one.
            prop::option::weighted(0.2, 0u8..4),
        ),
    )
        .prop_map(
            |(
                (slot, jitter, event, (user_id, anonymous_id)),
                (cohort, platform, utm, revenue, currency),
                (test_mode, marker, source, message),
            )| {
                FunnelRow {
                    // Half-hour slots over 30 h, so the 24 h window and ties both matter.
                    ts: T0 + slot * 30 * MIN + jitter,
                    event: event.into(),
                    user_id,
                    anonymous_id,
                    cohort,
                    platform: platform.map(str::to_string),
                    utm_source: utm.map(str::to_string),
                    revenue,
                    currency: currency.map(str::to_string),
                    test_mode,
                    user_agent: match marker {
                        1 => Some("Mozilla/5.0 SyntheticCanary".into()),
                        2 => Some("Mozilla/5.0 (Mac)".into()),
                        _ => None,
                    },
                    page_url: (marker == 3).then(|| "https://x.test/p?e2e=1".into()),
                    source,
                    message_id: message.map(|m| format!("m{m}")),
                    ..Default::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_tool_agrees_with_the_naive_reference(rows in prop::collection::vec(row_strategy(), 0..80)) {
        prop_assert_eq!(view(&report(&rows)), naive(&rows));
    }
}

/// The reference cases exercise each rule but hold a dozen persons; this one holds
/// generated traffic of about 50 000 persons (more than one batch of any per-person
/// pass, stitched anonymous ids, e2e users with each marker, purchases in three
/// currencies, late payers, canary-only users, delivery duplicates added by hand).
#[test]
fn the_tool_agrees_with_the_naive_reference_on_generated_traffic() {
    use rehearse::app::scenario::gen_plan;
    use rehearse::generate::{FunnelSpec, generate_funnel};
    use rehearse::policy::Policy;
    let spec = FunnelSpec {
        users_per_hour: 8_000.0,
        synthetic_per_hour: 40.0,
        no_ledger: true,
        ..Default::default()
    };
    let (mut rows, _) =
        generate_funnel(&spec, &gen_plan(&Policy::default_policy()), T0, 7).unwrap();
    let every = rows.len() / 500;
    let dups: Vec<FunnelRow> = rows.iter().step_by(every).cloned().collect();
    rows.extend(dups);
    let r = report(&rows);
    assert!(r.persons.total > 40_000, "{}", r.persons.total);
    assert!(r.identity.duplicates_dropped >= 500);
    assert!(r.identity.stitched_anonymous_ids > 10_000);
    assert!(r.persons.synthetic > 100 && r.persons.canary_only > 1_000);
    assert_eq!(view(&r), naive(&rows));
}
