//! The seeded generator of the `funnel` stream (and, through `ledger`, the `ledger`
//! stream), driven by the optional `[funnel]` table of a scenario file ([`FunnelSpec`]).
//! B2C users arrive as a Poisson process and walk the funnel visit -> search ->
//! shortlist -> application start -> credit purchase with conversion rates by platform
//! and UTM source, anonymous until they sign in, some returning in a second session;
//! their cohort follows the stage weights (mostly sticky, so canary-only users appear).
//! Synthetic e2e users carry a marker (`test_mode`, a synthetic user agent or `e2e=1`).
//! Users reaching application start view the pricing page (`pricing_view`) just before.
//! Paid campaigns (`cpc`, `paid_social`) stay paused until the first stage at 100 % of
//! traffic: before it, those visits arrive without UTM, as direct traffic.
//! Faults: a step or any event (optionally on one platform) the canary build stops
//! sending, paid campaigns running early, synthetic events losing their marker,
//! purchases without currency, and (in `ledger`) a fee rounding bug and a double payout.
//! Deterministic for a seed: ChaCha8 streams, no clock, no hash-map order.

use serde::Deserialize;

use super::ledger;
use super::rng::{HOUR, Rand, poisson_per_hour, stream};
use super::spec::GenPlan;
use crate::analytics::data::STEP_NAMES;
use crate::analytics::money::Rounding;
use crate::input::{Cohort, FunnelRow, LedgerRow, Millis, Source};
use crate::time::parse_duration;

/// The `[funnel]` table of a scenario file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FunnelSpec {
    /// Real B2C users arriving per hour.
    pub users_per_hour: f64,
    /// Synthetic e2e users per hour.
    pub synthetic_per_hour: f64,
    /// Share of users who stay in one cohort for all their events.
    pub sticky: f64,
    /// Share of users on mobile (the rest on desktop).
    pub mobile_share: f64,
    /// B2B providers signing up (from three days before T0 to mid-rollout).
    pub providers: u32,
    /// Bookings per hour during the rollout.
    pub bookings_per_hour: f64,
    /// Write no ledger stream.
    pub no_ledger: bool,
    pub faults: Vec<FunnelFault>,
}

impl Default for FunnelSpec {
    fn default() -> Self {
        Self {
            users_per_hour: 600.0,
            synthetic_per_hour: 12.0,
            sticky: 0.85,
            mobile_share: 0.6,
            providers: 40,
            bookings_per_hour: 60.0,
            no_ledger: false,
            faults: Vec::new(),
        }
    }
}

/// What a funnel fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelFaultKind {
    /// The canary build stops sending `step` events.
    DropStep,
    /// Synthetic users' events lose their marker.
    UnmarkedSynthetic,
    /// Booking fees are rounded by `rounding` (default `floor`) instead of half-up.
    FeeRounding,
    /// The first payout from the fault's start is sent twice (same payout id).
    DoublePayout,
    /// The canary build's purchases lack a currency.
    MissingCurrency,
    /// The canary build stops sending `event` events (on `platform` only, when given).
    DropEvent,
    /// Paid campaigns run before the full stage (they are paused until then otherwise).
    PaidTraffic,
}

/// One `[[funnel.faults]]` entry.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelFault {
    pub kind: FunnelFaultKind,
    /// The stage the fault starts in, and when in it.
    pub stage: String,
    #[serde(default = "zero")]
    pub at: String,
    /// How long it lasts (default: to the end).
    #[serde(default)]
    pub duration: Option<String>,
    /// `drop_step`: the step no longer sent.
    #[serde(default)]
    pub step: Option<String>,
    /// `fee_rounding`: the faulty rounding.
    #[serde(default)]
    pub rounding: Option<Rounding>,
    /// `drop_event`: the event no longer sent.
    #[serde(default)]
    pub event: Option<String>,
    /// `drop_event`: only on this platform (`mobile` or `desktop`).
    #[serde(default)]
    pub platform: Option<String>,
}

fn zero() -> String {
    "0s".into()
}

/// A scenario problem, naming the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("funnel.{field}: {problem}")]
pub struct FunnelGenError {
    pub field: String,
    pub problem: String,
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> FunnelGenError {
    FunnelGenError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A fault resolved to an absolute span `[from, to)`.
pub(super) struct FunnelFaultSpan {
    pub(super) kind: FunnelFaultKind,
    pub(super) from: Millis,
    pub(super) to: Millis,
    step: u8,
    pub(super) rounding: Rounding,
    event: Option<String>,
    platform: Option<String>,
}

/// The funnel's view of the rollout: T0, the last stage's end, the stages and the
/// resolved faults.
pub(super) struct FunnelPlan {
    pub(super) t0: Millis,
    pub(super) end: Millis,
    /// (start, end, canary weight) per stage.
    stages: Vec<(Millis, Millis, f64)>,
    pub(super) faults: Vec<FunnelFaultSpan>,
    /// The start of the first stage at 100 % of traffic, when paid campaigns resume.
    paid_from: Millis,
}

impl FunnelPlan {
    fn weight(&self, t: Millis) -> f64 {
        self.stages
            .iter()
            .find(|(s, e, _)| t > *s && t <= *e)
            .map_or(0.0, |s| s.2)
    }
    /// Whether paid campaigns run at `t`: from the full stage on, or under a
    /// `paid_traffic` fault.
    fn paid_runs(&self, t: Millis) -> bool {
        t > self.paid_from || self.active(FunnelFaultKind::PaidTraffic, t).is_some()
    }

    /// Whether the canary build drops `event` on `platform` at `t`.
    fn drops(&self, event: &str, platform: &str, t: Millis) -> bool {
        self.faults.iter().any(|f| {
            f.kind == FunnelFaultKind::DropEvent
                && t >= f.from
                && t < f.to
                && f.event.as_deref() == Some(event)
                && f.platform.as_deref().is_none_or(|p| p == platform)
        })
    }

    /// The first fault of `kind` active at `t`.
    pub(super) fn active(&self, kind: FunnelFaultKind, t: Millis) -> Option<&FunnelFaultSpan> {
        self.faults
            .iter()
            .find(|f| f.kind == kind && t >= f.from && t < f.to)
    }
}

fn build_plan(spec: &FunnelSpec, plan: &GenPlan, t0: Millis) -> Result<FunnelPlan, FunnelGenError> {
    let rate_ok = |v: f64| v.is_finite() && v >= 0.0;
    if !rate_ok(spec.users_per_hour) || spec.users_per_hour > 1e7 {
        return Err(bad("users_per_hour", "must be a rate in [0, 1e7]"));
    }
    if !rate_ok(spec.synthetic_per_hour) || spec.synthetic_per_hour > 1e6 {
        return Err(bad("synthetic_per_hour", "must be a rate in [0, 1e6]"));
    }
    if !rate_ok(spec.bookings_per_hour) || spec.bookings_per_hour > 1e6 {
        return Err(bad("bookings_per_hour", "must be a rate in [0, 1e6]"));
    }
    for (k, v) in [("sticky", spec.sticky), ("mobile_share", spec.mobile_share)] {
        if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
            return Err(bad(k, format!("{v} must be a fraction in [0, 1]")));
        }
    }
    let mut stages = Vec::new();
    let mut at = t0;
    for s in &plan.stages {
        stages.push((at, at + s.duration_ms, s.weight));
        at += s.duration_ms;
    }
    let end = at;
    let paid_from = plan
        .stages
        .iter()
        .position(|s| s.weight >= 1.0)
        .map_or(Millis::MAX, |i| stages[i].0);
    let mut faults = Vec::new();
    for (i, f) in spec.faults.iter().enumerate() {
        let field = |k: &str| format!("faults[{i}].{k}");
        let Some(si) = plan.stages.iter().position(|s| s.name == f.stage) else {
            let known: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
            return Err(bad(
                field("stage"),
                format!(
                    "`{}` names no stage; use one of {}",
                    f.stage,
                    known.join(", ")
                ),
            ));
        };
        let offset = parse_duration(&f.at).ok_or_else(|| {
            bad(
                field("at"),
                format!("`{}` is not a duration such as 10m", f.at),
            )
        })?;
        let from = stages[si].0 + offset;
        let to = match &f.duration {
            None => Millis::MAX,
            Some(d) => {
                from + parse_duration(d).ok_or_else(|| {
                    bad(
                        field("duration"),
                        format!("`{d}` is not a duration such as 30m"),
                    )
                })?
            }
        };
        let step = match (f.kind, &f.step) {
            (FunnelFaultKind::DropStep, Some(s)) => {
                STEP_NAMES.iter().position(|n| n == s).ok_or_else(|| {
                    bad(
                        field("step"),
                        format!("`{s}` is not one of {}", STEP_NAMES.join(", ")),
                    )
                })? as u8
            }
            (FunnelFaultKind::DropStep, None) => {
                return Err(bad(field("step"), "drop_step needs the step it drops"));
            }
            _ => 0,
        };
        if f.kind == FunnelFaultKind::DropEvent && f.event.as_deref().is_none_or(str::is_empty) {
            return Err(bad(
                field("event"),
                "drop_event needs the event it drops, e.g. event = \"pricing_view\"",
            ));
        }
        if let Some(p) = f
            .platform
            .as_deref()
            .filter(|p| !["mobile", "desktop"].contains(p))
        {
            return Err(bad(
                field("platform"),
                format!("`{p}` is not one of mobile, desktop"),
            ));
        }
        faults.push(FunnelFaultSpan {
            kind: f.kind,
            from,
            to,
            step,
            rounding: f.rounding.unwrap_or(Rounding::Floor),
            event: f.event.clone(),
            platform: f.platform.clone(),
        });
    }
    Ok(FunnelPlan {
        t0,
        end,
        stages,
        faults,
        paid_from,
    })
}

/// A UTM source, medium and campaign; `None` for direct traffic.
type Utm = Option<(&'static str, &'static str, &'static str)>;

const SOURCES: [(Utm, f64); 5] = [
    (Some(("google", "cpc", "spring_credits")), 0.35),
    (Some(("facebook", "paid_social", "retarget")), 0.15),
    (Some(("newsletter", "email", "weekly")), 0.10),
    (Some(("partner", "referral", "affiliates")), 0.05),
    (None, 0.35),
];

/// The generator's paid mediums (a subset of the policy's default list).
const PAID_MEDIUMS: [&str; 2] = ["cpc", "paid_social"];

fn source_factor(src: Option<&str>) -> f64 {
    match src {
        Some("google") => 1.05,
        Some("facebook") => 0.8,
        Some("newsletter") => 1.3,
        Some("partner") => 1.1,
        _ => 1.0,
    }
}

const UA_MOBILE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const UA_DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";
const SITE: &str = "https://www.example.test";
const PATHS: [&str; 5] = [
    "/",
    "/search?q=apartments",
    "/listings/shortlist",
    "/apply/start",
    "/checkout/credits",
];

/// Per-step conversion from the previous step.
const BASE_RATES: [f64; 5] = [1.0, 0.68, 0.58, 0.52, 0.48];
/// Mean delay before each step, in ms.
const DELAYS: [f64; 5] = [0.0, 90_000.0, 240_000.0, 360_000.0, 480_000.0];

/// The funnel rows generated so far, with what generating more of them needs.
pub(super) struct FunnelGen<'a> {
    pub(super) spec: &'a FunnelSpec,
    pub(super) plan: &'a FunnelPlan,
    pub(super) rows: Vec<FunnelRow>,
    messages: u64,
    seed_tag: String,
}

impl FunnelGen<'_> {
    fn message(&mut self) -> String {
        self.messages += 1;
        format!("msg-{}-{:08x}", self.seed_tag, self.messages)
    }

    /// A funnel row of `event` with a fresh message id.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn row(
        &mut self,
        ts: Millis,
        event: &str,
        user: Option<&str>,
        anon: Option<&str>,
        cohort: Option<Cohort>,
        platform: &str,
        source: Source,
    ) -> FunnelRow {
        FunnelRow {
            ts,
            event: event.into(),
            user_id: user.map(str::to_string),
            anonymous_id: anon.map(str::to_string),
            cohort,
            platform: Some(platform.into()),
            user_agent: Some(
                if platform == "mobile" {
                    UA_MOBILE
                } else {
                    UA_DESKTOP
                }
                .into(),
            ),
            message_id: Some(self.message()),
            source: Some(source),
            ..Default::default()
        }
    }

    fn cohort(&self, rng: &mut Rand, sticky: Option<Cohort>, t: Millis) -> Cohort {
        sticky.unwrap_or_else(|| {
            if rng.chance(self.plan.weight(t)) {
                Cohort::Canary
            } else {
                Cohort::Baseline
            }
        })
    }

    /// One real user's journey (one or two sessions).
    fn user(&mut self, rng: &mut Rand, arrival: Millis) {
        let platform = if rng.chance(self.spec.mobile_share) {
            "mobile"
        } else {
            "desktop"
        };
        let sticky = rng.chance(self.spec.sticky).then(|| {
            if rng.chance(self.plan.weight(arrival)) {
                Cohort::Canary
            } else {
                Cohort::Baseline
            }
        });
        let anon = format!("anon-{}", rng.hex_id(12));
        let user = format!("usr-{}", rng.hex_id(10));
        let sign_in_step = if rng.chance(0.7) { 1 } else { 3 };
        let mut signed_in = false;
        let sessions = if rng.chance(0.18) { 2 } else { 1 };
        let mut t = arrival;
        for session in 0..sessions {
            if session == 1 {
                t += HOUR + rng.exp_ms(6.0 * HOUR as f64);
            }
            let utm = *rng.pick_weighted(&SOURCES);
            // Paid campaigns paused: the visit arrives as direct traffic.
            let utm = utm.filter(|u| !PAID_MEDIUMS.contains(&u.1) || self.plan.paid_runs(t));
            let factor = source_factor(utm.map(|u| u.0))
                * if platform == "mobile" { 0.92 } else { 1.1 }
                * if session == 1 { 1.2 } else { 1.0 };
            // A second session on a new device starts anonymous again unless signed in.
            let anon_now = if session == 1 && rng.chance(0.3) {
                format!("anon-{}", rng.hex_id(12))
            } else {
                anon.clone()
            };
            let mut at = t;
            for step in 0..5u8 {
                if step > 0 {
                    let p = (BASE_RATES[step as usize] * factor).min(0.95);
                    if !rng.chance(p) {
                        if step >= 3 && rng.chance(0.5) {
                            at += rng.exp_ms(120_000.0);
                            self.emit_other(
                                rng, at, "abandon", &user, &anon_now, signed_in, sticky, platform,
                            );
                        }
                        break;
                    }
                    at += 1_000 + rng.exp_ms(DELAYS[step as usize]);
                    if step == 4 && rng.chance(0.04) {
                        // Comes back to pay much later: outside the 24 h window.
                        at += 25 * HOUR;
                    }
                }
                if step == sign_in_step {
                    signed_in = true;
                }
                if step == 4 && rng.chance(0.15) {
                    self.emit_other(
                        rng,
                        at - 20_000,
                        "retry",
                        &user,
                        &anon_now,
                        signed_in,
                        sticky,
                        platform,
                    );
                }
                let cohort = self.cohort(rng, sticky, at);
                if step == 3
                    && !(cohort == Cohort::Canary
                        && self.plan.drops("pricing_view", platform, at - 15_000))
                {
                    let mut row = self.row(
                        at - 15_000,
                        "pricing_view",
                        signed_in.then_some(user.as_str()),
                        Some(anon_now.as_str()),
                        Some(cohort),
                        platform,
                        Source::Real,
                    );
                    row.page_url = Some(format!("{SITE}/pricing"));
                    self.rows.push(row);
                }
                if let Some(f) = self.plan.active(FunnelFaultKind::DropStep, at) {
                    if f.step == step && cohort == Cohort::Canary {
                        continue;
                    }
                }
                if cohort == Cohort::Canary
                    && self.plan.drops(STEP_NAMES[step as usize], platform, at)
                {
                    continue;
                }
                let mut row = self.row(
                    at,
                    STEP_NAMES[step as usize],
                    signed_in.then_some(user.as_str()),
                    Some(anon_now.as_str()),
                    Some(cohort),
                    platform,
                    Source::Real,
                );
                row.page_url = Some(format!("{SITE}{}", PATHS[step as usize]));
                if step == 0 {
                    if let Some((src, medium, campaign)) = utm {
                        row.utm_source = Some(src.into());
                        row.utm_medium = Some(medium.into());
                        row.utm_campaign = Some(campaign.into());
                    }
                }
                if step == 4 {
                    let (currency, prices): (&str, &[f64]) = *rng.pick_weighted(&[
                        (("USD", &[4.99, 9.99, 19.99, 49.0][..]), 0.7),
                        (("EUR", &[4.99, 9.99, 19.95, 45.5][..]), 0.25),
                        (("JPY", &[600.0, 1200.0, 5000.0][..]), 0.05),
                    ]);
                    row.revenue = Some(prices[rng.below(prices.len() as u64) as usize]);
                    row.order_id = Some(format!("ord-{}", rng.hex_id(10)));
                    let missing = self
                        .plan
                        .active(FunnelFaultKind::MissingCurrency, at)
                        .is_some()
                        && cohort == Cohort::Canary;
                    row.currency = (!missing).then(|| currency.to_string());
                }
                self.rows.push(row);
            }
            t = at;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_other(
        &mut self,
        rng: &mut Rand,
        at: Millis,
        event: &str,
        user: &str,
        anon: &str,
        signed_in: bool,
        sticky: Option<Cohort>,
        platform: &str,
    ) {
        let cohort = self.cohort(rng, sticky, at);
        if cohort == Cohort::Canary && self.plan.drops(event, platform, at) {
            return;
        }
        let row = self.row(
            at,
            event,
            signed_in.then_some(user),
            Some(anon),
            Some(cohort),
            platform,
            Source::Real,
        );
        self.rows.push(row);
    }

    /// One synthetic e2e user: the whole funnel in seconds, with a marker.
    fn synthetic(&mut self, rng: &mut Rand, arrival: Millis, n: u64) {
        let w = self.plan.weight(arrival);
        let cohort = if rng.chance(w.max(0.5)) {
            Cohort::Canary
        } else {
            Cohort::Baseline
        };
        let marker = rng.below(3);
        let platform = if rng.chance(0.5) { "mobile" } else { "desktop" };
        let user = format!("e2e-{n:05}-{}", rng.hex_id(4));
        let mut at = arrival;
        for step in 0..5u8 {
            at += 2_000 + rng.below(8_000) as Millis;
            let mut row = self.row(
                at,
                STEP_NAMES[step as usize],
                Some(&user),
                None,
                Some(cohort),
                platform,
                Source::Synthetic,
            );
            row.page_url = Some(format!("{SITE}{}", PATHS[step as usize]));
            if self
                .plan
                .active(FunnelFaultKind::UnmarkedSynthetic, at)
                .is_none()
            {
                match marker {
                    0 => row.test_mode = Some(true),
                    1 => {
                        row.user_agent =
                            Some("Mozilla/5.0 (X11; Linux x86_64) SyntheticCanary/2.1".into());
                    }
                    _ => {
                        let url = row.page_url.take().unwrap_or_default();
                        let sep = if url.contains('?') { '&' } else { '?' };
                        row.page_url = Some(format!("{url}{sep}e2e=1"));
                    }
                }
            }
            if step == 4 {
                row.revenue = Some(1.0);
                row.currency = Some("USD".into());
            }
            self.rows.push(row);
        }
    }
}

/// Generates the funnel (and, unless `no_ledger`, the ledger) of a scenario whose
/// rollout starts at `t0` and follows `plan`.
pub fn generate_funnel(
    spec: &FunnelSpec,
    plan: &GenPlan,
    t0: Millis,
    seed: u64,
) -> Result<(Vec<FunnelRow>, Option<Vec<LedgerRow>>), FunnelGenError> {
    let p = build_plan(spec, plan, t0)?;
    let mut g = FunnelGen {
        spec,
        plan: &p,
        rows: Vec::new(),
        messages: 0,
        seed_tag: format!("{:04x}", seed & 0xffff),
    };
    let mut rng = Rand::new(seed ^ stream::FUNNEL_SEED_SALT, stream::FUNNEL_USERS);
    for t in poisson_per_hour(&mut rng, p.t0, p.end, spec.users_per_hour) {
        g.user(&mut rng, t);
    }
    let mut rng = Rand::new(seed ^ stream::FUNNEL_SEED_SALT, stream::FUNNEL_SYNTHETIC);
    for (n, t) in poisson_per_hour(&mut rng, p.t0, p.end, spec.synthetic_per_hour)
        .into_iter()
        .enumerate()
    {
        g.synthetic(&mut rng, t, n as u64);
    }
    let ledger = (!spec.no_ledger).then(|| ledger::providers_and_ledger(&mut g, seed));
    let mut rows = g.rows;
    rows.sort_by_key(|r| r.ts);
    Ok((rows, ledger))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::test_support::{T0, plan};

    #[test]
    fn deterministic_and_sorted() {
        let spec = FunnelSpec::default();
        let a = generate_funnel(&spec, &plan(), T0, 7).unwrap();
        let b = generate_funnel(&spec, &plan(), T0, 7).unwrap();
        assert_eq!(a, b);
        assert!(a.0.windows(2).all(|w| w[0].ts <= w[1].ts));
        let c = generate_funnel(&spec, &plan(), T0, 8).unwrap();
        assert_ne!(a.0, c.0);
        assert!(a.0.iter().any(|r| r.source == Some(Source::Synthetic)));
        assert!(a.1.as_ref().is_some_and(|l| !l.is_empty()));
    }

    #[test]
    fn faults_are_named_and_checked() {
        let mut spec = FunnelSpec::default();
        spec.faults.push(FunnelFault {
            kind: FunnelFaultKind::DropStep,
            stage: "ramp-9".into(),
            at: "0s".into(),
            duration: None,
            step: Some("shortlist".into()),
            rounding: None,
            event: None,
            platform: None,
        });
        let e = generate_funnel(&spec, &plan(), T0, 1).unwrap_err();
        assert_eq!(e.field, "faults[0].stage");
        spec.faults[0].stage = "ramp-25".into();
        spec.faults[0].step = Some("basket".into());
        assert_eq!(
            generate_funnel(&spec, &plan(), T0, 1).unwrap_err().field,
            "faults[0].step"
        );
        spec.faults[0].step = None;
        assert!(generate_funnel(&spec, &plan(), T0, 1).is_err());
    }

    #[test]
    fn the_dropped_step_is_missing_from_canary_only() {
        let mut spec = FunnelSpec::default();
        spec.faults.push(FunnelFault {
            kind: FunnelFaultKind::DropStep,
            stage: "ramp-25".into(),
            at: "0s".into(),
            duration: None,
            step: Some("shortlist".into()),
            rounding: None,
            event: None,
            platform: None,
        });
        let (rows, _) = generate_funnel(&spec, &plan(), T0, 3).unwrap();
        let from = T0 + 150 * 60_000;
        let real = |r: &&FunnelRow| r.source == Some(Source::Real) && r.ts >= from;
        assert!(
            !rows
                .iter()
                .filter(real)
                .any(|r| r.event == "shortlist" && r.cohort == Some(Cohort::Canary))
        );
        assert!(
            rows.iter()
                .filter(real)
                .any(|r| r.event == "shortlist" && r.cohort == Some(Cohort::Baseline))
        );
    }
}
