//! The odds of a false stop against what happens: many seeded clean datasets (canary
//! and baseline with the same 1 % 5xx rate) are replayed through the real engine, and
//! the observed frequencies of a stop (a Go breach: hold or rollback) and of a rollback
//! must agree with the mean predicted odds, within the predicted intervals widened by
//! the observation's own sampling error.

use rayon::prelude::*;
use rehearse::app::odds::of_fold;
use rehearse::app::replay::replay_dataset;
use rehearse::app::scenario::gen_plan;
use rehearse::gate::Gate;
use rehearse::generate::{GenSpec, generate};
use rehearse::policy::PolicyBuilder;
use rehearse::verdict::Outcome;

/// One 20-minute stage at 10 % of 5 requests/s (about 150 canary requests per
/// window), the 5xx gates the only ones that can stop it.
const POLICY: &str = r#"
replace_stages = true

[[stages]]
name = "canary"
duration = "20m"
weight = 0.1
go_p95_ms = 2000.0

[rollout]
min_requests = 50
sustain = "2m"

[go]
error_rate_5xx = 0.025
availability = 0.5

[triggers]
error_rate_5xx = 0.03
latency_p95_ms = 2000.0
latency_p99_ms = 5000.0
"#;

#[test]
fn predicted_odds_agree_with_observed_false_stops() {
    let policy = PolicyBuilder::new()
        .text(POLICY, "test policy")
        .unwrap()
        .build()
        .unwrap();
    let setup = rehearse::app::setup(policy.clone()).unwrap();
    let runs = 200u32;
    // Each seed on its own (rayon), the sums taken in seed order afterwards.
    let per_seed: Vec<(Outcome, [f64; 6])> = (0..runs as u64)
        .into_par_iter()
        .map(|seed| {
            let spec = requests_only(1000 + seed, 5.0, 0.01, 0.0);
            let ds = generate(&spec, &gen_plan(&policy)).unwrap();
            let replay = replay_dataset(&setup, &ds, None, 8192).unwrap();
            if replay.run.outcome == Outcome::Hold {
                assert_eq!(
                    replay.run.stages[0].reasons,
                    vec![Gate::ErrorRate5xx],
                    "only the 5xx gate may stop"
                );
            }
            let o = of_fold(&policy, &replay.folded)[0]
                .clone()
                .expect("the stage has canary traffic");
            let g = &o.gates[0];
            assert_eq!(g.gate, Gate::ErrorRate5xx);
            let (h, r) = (g.hold.unwrap(), g.rollback.unwrap());
            (replay.run.outcome, [h.p, h.low, h.high, r.p, r.low, r.high])
        })
        .collect();
    let (mut stops, mut rollbacks) = (0u32, 0u32);
    let mut sums = [0.0f64; 6];
    for (outcome, v) in &per_seed {
        stops += (*outcome != Outcome::Complete) as u32;
        rollbacks += (*outcome == Outcome::Rollback) as u32;
        for (s, x) in sums.iter_mut().zip(v) {
            *s += x;
        }
    }
    let [hold_p, hold_lo, hold_hi, rb_p, rb_lo, rb_hi] = sums;
    let n = runs as f64;
    let check = |what: &str, observed: u32, p: f64, lo: f64, hi: f64| {
        let (f, p, lo, hi) = (observed as f64 / n, p / n, lo / n, hi / n);
        let se = (p * (1.0 - p) / n).sqrt();
        eprintln!("{what}: observed {f:.3}, predicted {p:.3} [{lo:.3}, {hi:.3}]");
        // The mean prediction explains the frequency within 3 standard errors...
        assert!(
            (f - p).abs() <= 3.0 * se + 0.005,
            "{what}: observed {f:.3}, predicted {p:.3} (se {se:.3})"
        );
        // ...and the frequency lies in the mean interval, widened by the same error.
        assert!(
            f >= lo - 3.0 * se && f <= hi + 3.0 * se,
            "{what}: observed {f:.3} outside [{lo:.3}, {hi:.3}]"
        );
        // Not a test that cannot fail: the odds are far from 0 and 1.
        assert!(p > 0.05 && p < 0.95, "{what}: predicted {p:.3}");
    };
    check("stop (Go breach)", stops, hold_p, hold_lo, hold_hi);
    check("rollback", rollbacks, rb_p, rb_lo, rb_hi);
}

/// The baseline counts the fold keeps for the odds are those of a direct count of the
/// dataset's real baseline requests within the rollout, whatever the batch size (the
/// readers split requests into batches and parts; the counts must not depend on it).
#[test]
fn the_fold_counts_the_baseline_like_a_direct_tally() {
    use rehearse::engine::odds::BaselineTally;
    use rehearse::input::{Cohort, Source};
    let policy = rehearse::policy::Policy::default_policy();
    let setup = rehearse::app::setup(policy.clone()).unwrap();
    let mut spec = GenSpec::new(5);
    spec.rps = 2.0;
    spec.base_5xx = 0.01;
    spec.base_4xx_nonauth = 0.02;
    let ds = generate(&spec, &gen_plan(&policy)).unwrap();
    let mut tallies = Vec::new();
    for batch in [1, 333, 8192] {
        let replay = replay_dataset(&setup, &ds, None, batch).unwrap();
        let f = &replay.folded;
        let end = f.t0 + policy.total_ms();
        let base: Vec<_> = ds
            .requests
            .iter()
            .filter(|r| {
                r.cohort == Cohort::Baseline
                    && r.source == Source::Real
                    && r.ts > f.t0
                    && r.ts <= end
            })
            .collect();
        let t = BaselineTally::of(f);
        assert_eq!(t.n, base.len() as u64);
        let e5 = base
            .iter()
            .filter(|r| (500..=599).contains(&r.status))
            .count();
        let e4 = base
            .iter()
            .filter(|r| (400..=499).contains(&r.status) && r.status != 401 && r.status != 403)
            .count();
        assert_eq!((t.e5, t.e4), (e5 as u64, e4 as u64));
        assert!(
            e5 > 10 && e4 > 10,
            "a test that can fail: {e5} 5xx, {e4} 4xx"
        );
        for (limit, above) in t.limits.iter().zip(&t.above) {
            let want = base.iter().filter(|r| r.latency_us > *limit).count() as u64;
            assert_eq!(*above, want, "slower than {limit} us");
        }
        assert!(t.above.iter().any(|a| *a > 0) && t.above.iter().any(|a| *a < t.n));
        tallies.push((t.n, t.e5, t.e4, t.above.clone()));
    }
    assert!(tallies.windows(2).all(|w| w[0] == w[1]));
}

/// Where both apply, the Monte Carlo replays through the real engine (baseline
/// requests resampled and relabelled canary, judged by the evaluator) and the exact
/// chain agree: on every gate's odds within the replays' sampling error, and on the
/// odds at the top of the baseline rate's interval (replayed from the tilted baseline) within
/// their standard error.
/// A generated dataset of requests only (no probes, no other stream, no auth 4xx) at
/// `rps`, with these baseline 5xx and non-auth 4xx rates.
fn requests_only(seed: u64, rps: f64, e5: f64, e4: f64) -> GenSpec {
    let mut spec = GenSpec::new(seed);
    spec.rps = rps;
    spec.base_5xx = e5;
    spec.base_4xx_nonauth = e4;
    spec.base_auth_4xx = 0.0;
    spec.probes = false;
    spec.streams = Vec::new();
    spec
}

#[test]
fn engine_replays_agree_with_the_exact_chain() {
    use rehearse::app::odds_mc::replay_hits;
    use rehearse::engine::odds::{GATES, odds};
    let policy = PolicyBuilder::new()
        .text(POLICY, "test policy")
        .unwrap()
        .build()
        .unwrap();
    let setup = rehearse::app::setup(policy.clone()).unwrap();
    let spec = requests_only(77, 3.0, 0.01, 0.004);
    let ds = generate(&spec, &gen_plan(&policy)).unwrap();
    let replay = replay_dataset(&setup, &ds, None, 8192).unwrap();
    let exact = odds(&policy, &replay.folded, None).expect("every chain is exact here")[0]
        .clone()
        .expect("the stage has canary traffic");
    let r = 1000u32;
    let chains: Vec<(usize, usize, usize)> = (0..GATES.len())
        .flat_map(|gi| [(0, gi, 0), (0, gi, 1)])
        .collect();
    let mc = replay_hits(&policy, &replay.folded, &chains, 99, r);
    let rn = r as f64;
    let mut compared = 0;
    for g in &exact.gates {
        let gi = GATES.iter().position(|x| *x == g.gate).unwrap();
        for (kind, o) in [g.hold, g.rollback].into_iter().enumerate() {
            let Some(o) = o else { continue };
            let e = mc.hits[0][gi][kind];
            let p_mc = e.hits as f64 / rn;
            let se = (o.p * (1.0 - o.p) / rn).sqrt();
            assert!(
                (p_mc - o.p).abs() <= 4.0 * se + 2.0 / rn,
                "{} {}: replays {p_mc:.4}, exact {:.4}",
                g.gate.as_str(),
                ["hold", "rollback"][kind],
                o.p
            );
            let se_hi = (o.high * (1.0 - o.high) / rn).sqrt();
            assert!(
                (e.high - o.high).abs() <= 4.0 * (e.high_se + se_hi) + 2.0 / rn,
                "{} {} at the top of the interval: replayed {:.4} (se {:.4}), exact {:.4}",
                g.gate.as_str(),
                ["hold", "rollback"][kind],
                e.high,
                e.high_se,
                o.high
            );
            if o.p > 0.05 && o.p < 0.95 {
                compared += 1;
            }
        }
    }
    // Not a test that cannot fail: some odds are far from 0 and 1.
    assert!(compared >= 2, "{:?}", exact.gates);
}
