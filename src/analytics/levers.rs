//! The directive's two stage checks over one stage's funnel events: `paid_acquisition`
//! (paid traffic stays paused until the first stage at 100 % of traffic: a visit whose
//! `utm_medium` is one of the policy's paid mediums in an earlier stage breaches) and
//! `lever_instrumentation` (the revenue levers, and every event type the baseline build
//! sends, must reach the canary build's analytics: one the canary sends none of, where
//! the baseline's share predicts at least `lever_min_expected` canary events, breaches).
//! Both judge the stage's own span `(start, end]`, so a flow the canary stops sending
//! in ramp-25 is seen there even when ramp-5 still sent it. Synthetic events (section 2
//! markers) and identity-only calls are left out of both.

use super::data::{AnalyticsData, COHORT_BASELINE, COHORT_CANARY, FLAG_IDENTITY};
use super::exclusion::synthetic_events;
use super::policy::AnalyticsPolicy;
use super::symbols::NONE;
use crate::input::Millis;

/// The paid visits of a span.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaidVisits {
    pub visits: u64,
    /// Visits per paid medium (as written in the data), by name.
    pub by_medium: Vec<(String, u64)>,
}

/// One lever or event type the canary build sends none of.
#[derive(Clone, Debug, PartialEq)]
pub struct MissingEvent {
    /// `event` or `event@platform`.
    pub name: String,
    /// Whether it is one of the policy's levers (otherwise an event type the baseline sends).
    pub lever: bool,
    pub baseline: u64,
    /// The canary events the baseline's share predicts.
    pub expected: f64,
}

/// The first and last event index with `from < ts <= to`.
fn span(data: &AnalyticsData, from: Millis, to: Millis) -> Option<(usize, usize)> {
    let ev = data.funnel.as_ref()?;
    Some((ev.count_until(from), ev.count_until(to)))
}

/// The visits with `from < ts <= to` whose `utm_medium` is paid (synthetic visits left out).
pub fn paid_visits(
    data: &AnalyticsData,
    policy: &AnalyticsPolicy,
    from: Millis,
    to: Millis,
) -> PaidVisits {
    let mut out = PaidVisits::default();
    let (Some(ev), Some((a, b))) = (data.funnel.as_ref(), span(data, from, to)) else {
        return out;
    };
    let Some(visit) = data.symbols.get("visit") else {
        return out;
    };
    let paid: Vec<String> = policy
        .paid_mediums
        .iter()
        .map(|m| m.trim().to_lowercase())
        .collect();
    // Per medium symbol: 0 unknown, 1 paid, 2 not.
    let mut class = vec![0u8; data.symbols.len()];
    let synthetic = synthetic_events(ev, b, &data.symbols, policy);
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for (i, &synth) in synthetic.iter().enumerate().skip(a) {
        let m = ev.utm_medium[i];
        if ev.event[i] != visit || m == NONE || synth || ev.flags[i] & FLAG_IDENTITY != 0 {
            continue;
        }
        let c = &mut class[m as usize];
        if *c == 0 {
            let name = data.symbols.name(m).trim().to_lowercase();
            *c = if paid.contains(&name) { 1 } else { 2 };
        }
        if *c == 1 {
            out.visits += 1;
            *counts.entry(data.symbols.name(m).to_string()).or_default() += 1;
        }
    }
    out.by_medium = counts.into_iter().collect();
    out
}

/// The levers and event types with `from < ts <= to` that the canary build sends none
/// of while the baseline's share predicts at least `lever_min_expected`: levers first
/// in policy order, then other event types by name.
pub fn missing_events(
    data: &AnalyticsData,
    policy: &AnalyticsPolicy,
    from: Millis,
    to: Millis,
) -> Vec<MissingEvent> {
    let (Some(ev), Some((a, b))) = (data.funnel.as_ref(), span(data, from, to)) else {
        return Vec::new();
    };
    let synthetic = synthetic_events(ev, b, &data.symbols, policy);
    // Per (event, platform) symbol pair: (canary, baseline) counts.
    let mut by_pair: std::collections::BTreeMap<(u32, u32), (u64, u64)> = Default::default();
    let (mut canary_total, mut baseline_total) = (0u64, 0u64);
    for (i, &synth) in synthetic.iter().enumerate().skip(a) {
        if synth || ev.flags[i] & FLAG_IDENTITY != 0 {
            continue;
        }
        let e = by_pair.entry((ev.event[i], ev.platform[i])).or_default();
        match ev.cohort[i] {
            COHORT_CANARY => {
                e.0 += 1;
                canary_total += 1;
            }
            COHORT_BASELINE => {
                e.1 += 1;
                baseline_total += 1;
            }
            _ => {}
        }
    }
    if baseline_total == 0 {
        return Vec::new();
    }
    let share = canary_total as f64 / baseline_total as f64;
    let name = |s: u32| data.symbols.opt_name(s).unwrap_or("");
    let mut out = Vec::new();
    let mut check = |label: String, lever: bool, counts: (u64, u64)| {
        let expected = counts.1 as f64 * share;
        if counts.0 == 0 && counts.1 > 0 && expected >= policy.lever_min_expected {
            out.push(MissingEvent {
                name: label,
                lever,
                baseline: counts.1,
                expected,
            });
        }
    };
    let mut lever_events: Vec<&str> = Vec::new();
    for l in &policy.levers {
        let (event, platform) = match l.split_once('@') {
            Some((e, p)) => (e, Some(p)),
            None => (l.as_str(), None),
        };
        lever_events.push(event);
        let counts = by_pair
            .iter()
            .filter(|((e, p), _)| name(*e) == event && platform.is_none_or(|pl| name(*p) == pl))
            .fold((0, 0), |acc, (_, c)| (acc.0 + c.0, acc.1 + c.1));
        check(l.clone(), true, counts);
    }
    // Every other event type, all platforms together, by name.
    let mut by_event: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for ((e, _), c) in &by_pair {
        let n = name(*e);
        if n.is_empty() || lever_events.contains(&n) {
            continue;
        }
        let t = by_event.entry(n).or_default();
        t.0 += c.0;
        t.1 += c.1;
    }
    for (n, c) in by_event {
        check(n.to_string(), false, c);
    }
    out
}

/// Index of the first stage at 100 % of traffic (`weight >= 1`), `None` when no stage is.
pub fn full_stage(weights: impl IntoIterator<Item = f64>) -> Option<usize> {
    weights.into_iter().position(|w| w >= 1.0)
}

/// The `paid_acquisition` detail of a stage's paid visits.
pub fn paid_detail(p: &PaidVisits, stage: &str, full: Option<&str>) -> String {
    let media: Vec<String> = p
        .by_medium
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    format!(
        "{} paid visits in {stage} ({}) before {}: paid traffic stays paused until then",
        p.visits,
        media.join(", "),
        match full {
            Some(f) => format!("the full stage `{f}`"),
            None => "full production (no stage takes 100 % of traffic)".to_string(),
        }
    )
}

/// The `lever_instrumentation` detail of a stage's missing events.
pub fn missing_detail(m: &[MissingEvent]) -> String {
    let words: Vec<String> = m
        .iter()
        .map(|e| {
            format!(
                "{} {}: canary 0, expected {:.1} from the baseline's {}",
                if e.lever { "lever" } else { "event" },
                e.name,
                e.expected,
                e.baseline
            )
        })
        .collect();
    format!("the canary build stopped sending: {}", words.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Cohort, FunnelRow};

    const T0: Millis = 1_772_445_600_000;
    const MIN: Millis = 60_000;

    fn row(min: Millis, event: &str, user: &str, cohort: Cohort, platform: &str) -> FunnelRow {
        FunnelRow {
            ts: T0 + min * MIN,
            event: event.into(),
            user_id: Some(user.into()),
            cohort: Some(cohort),
            platform: Some(platform.into()),
            ..Default::default()
        }
    }

    fn visit(min: Millis, user: &str, medium: Option<&str>) -> FunnelRow {
        FunnelRow {
            utm_medium: medium.map(str::to_string),
            ..row(min, "visit", user, Cohort::Baseline, "desktop")
        }
    }

    #[test]
    fn paid_visits_count_paid_media_in_the_span_only() {
        let mut synthetic = visit(5, "bot", Some("cpc"));
        synthetic.test_mode = Some(true);
        let mut search = visit(6, "u4", Some("cpc"));
        search.event = "search".into();
        let rows = vec![
            visit(0, "u0", Some("cpc")), // at the span's start: outside (start, end]
            visit(1, "u1", Some("CPC")), // any case
            visit(2, "u2", Some("email")),
            visit(3, "u3", None),
            synthetic,
            search, // not a visit
            visit(10, "u5", Some("paid_social")),
            visit(11, "u6", Some("cpc")), // after the end
        ];
        let data = AnalyticsData::from_rows(Some(&rows), None);
        let p = AnalyticsPolicy::default();
        let got = paid_visits(&data, &p, T0, T0 + 10 * MIN);
        assert_eq!(got.visits, 2);
        assert_eq!(
            got.by_medium,
            vec![("CPC".to_string(), 1), ("paid_social".to_string(), 1)]
        );
        // The list is configurable.
        let p = AnalyticsPolicy {
            paid_mediums: vec!["email".into()],
            ..p
        };
        assert_eq!(paid_visits(&data, &p, T0, T0 + 10 * MIN).visits, 1);
    }

    /// `n` baseline and `n` canary users each sending `events` on `platform`.
    fn cohorts(n: usize, events: &[&str], canary_drops: &[&str]) -> Vec<FunnelRow> {
        let mut out = Vec::new();
        for i in 0..n {
            for (j, e) in events.iter().enumerate() {
                let platform = if i % 2 == 0 { "mobile" } else { "desktop" };
                out.push(row(
                    1 + j as Millis,
                    e,
                    &format!("b{i}"),
                    Cohort::Baseline,
                    platform,
                ));
                if !canary_drops.contains(e) {
                    out.push(row(
                        1 + j as Millis,
                        e,
                        &format!("c{i}"),
                        Cohort::Canary,
                        platform,
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn an_event_the_canary_stops_sending_breaches_when_enough_are_expected() {
        let p = AnalyticsPolicy::default();
        let rows = cohorts(
            20,
            &["visit", "abandon", "shortlist"],
            &["abandon", "shortlist"],
        );
        let data = AnalyticsData::from_rows(Some(&rows), None);
        let m = missing_events(&data, &p, T0, T0 + 60 * MIN);
        let names: Vec<(&str, bool)> = m.iter().map(|e| (e.name.as_str(), e.lever)).collect();
        // The lever first, then the other event type; canary share = 20 / 60 of baseline.
        assert_eq!(names, vec![("abandon", true), ("shortlist", false)]);
        assert!((m[0].expected - 20.0 / 3.0).abs() < 1e-9, "{m:?}");
        assert!(missing_detail(&m).contains("lever abandon: canary 0, expected 6.7"));
        // Too few expected: no breach.
        let p5 = AnalyticsPolicy {
            lever_min_expected: 7.0,
            ..p.clone()
        };
        assert!(missing_events(&data, &p5, T0, T0 + 60 * MIN).is_empty());
        // A span without the events breaches nothing.
        assert!(missing_events(&data, &p, T0 + 60 * MIN, T0 + 120 * MIN).is_empty());
    }

    #[test]
    fn a_lever_on_one_platform_is_judged_on_that_platform() {
        let p = AnalyticsPolicy::default();
        let mut rows = cohorts(40, &["visit", "pricing_view"], &[]);
        // The canary's mobile pricing views vanish; desktop ones remain.
        rows.retain(|r| {
            !(r.event == "pricing_view"
                && r.cohort == Some(Cohort::Canary)
                && r.platform.as_deref() == Some("mobile"))
        });
        let data = AnalyticsData::from_rows(Some(&rows), None);
        let m = missing_events(&data, &p, T0, T0 + 60 * MIN);
        let names: Vec<&str> = m.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["pricing_view@mobile"]);
    }

    #[test]
    fn the_full_stage_is_the_first_at_all_traffic() {
        assert_eq!(full_stage([0.0, 0.05, 1.0, 1.0]), Some(2));
        assert_eq!(full_stage([0.0, 0.5]), None);
    }
}
