//! The canary-versus-baseline judge (`canary_judge`): an always-valid sequential test on
//! error counts after Lindon, Sanden and Shirikian ("Rapid regression detection in
//! software deployments through sequential testing", KDD 2022). Under the null the
//! canary fails exactly as often as the baseline, so each error of the stage lands on
//! the canary with probability its share of the traffic, `rho`: the canary's errors are
//! Binomial(N, rho) given the stage's N errors of both cohorts. The alternative mixes
//! that share over a Beta prior centred on the stage's weight, which gives the Bayes
//! factor in closed form (log-Beta functions); it is a nonnegative martingale under the
//! null, so by Ville's inequality it ever reaches `1 / alpha` with probability at most
//! `alpha`, however often it is looked at. This module owns the baseline's error counts
//! per tick interval (folded from the same request events as the canary's), the
//! judge's per-stage state, the Bayes factor and the gate's tick.

use crate::gate::Gate;

use super::super::fold::slot;
use super::{TickCx, TickOut, state_of};

/// The error classes the judge tests, each on its own at `alpha / 2`.
pub const CLASSES: [&str; 2] = ["5xx", "non-auth 4xx"];

/// Per tick interval, the baseline cohort's real 5xx and non-auth 4xx (the fold's
/// counters hold the canary's; the baseline's requests are `REAL_ALL - N`).
#[derive(Clone, Debug, Default)]
pub struct BaselineErrors {
    counts: Vec<[u64; 2]>,
}

impl BaselineErrors {
    pub fn new(ticks: usize) -> Self {
        BaselineErrors {
            counts: vec![[0; 2]; ticks],
        }
    }

    /// Counts `e5xx` real baseline 5xx and `e4xx` non-auth 4xx in interval `k`.
    #[inline]
    pub fn add_counts(&mut self, k: usize, e5xx: u64, e4xx: u64) {
        let c = &mut self.counts[k];
        c[0] += e5xx;
        c[1] += e4xx;
    }

    /// Adds the counts of a part folded on another thread.
    pub fn merge(&mut self, part: &BaselineErrors) {
        for (a, b) in self.counts.iter_mut().zip(&part.counts) {
            a[0] += b[0];
            a[1] += b[1];
        }
    }

    /// The baseline's errors of interval `k`, per class.
    pub fn at(&self, k: usize) -> [u64; 2] {
        self.counts.get(k).copied().unwrap_or([0; 2])
    }
}

/// `ln B(a, b)`, the log of the Beta function.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// The log Bayes factor of `x` canary errors among `n`, under a Beta(`a`, `b`) mixture
/// of the canary's share against the null whose log-likelihood of the same errors is
/// `ln_null` (`x ln rho + (n - x) ln(1 - rho)` for a constant share `rho`).
pub fn ln_bayes_factor(x: u64, n: u64, a: f64, b: f64, ln_null: f64) -> f64 {
    ln_beta(a + x as f64, b + (n - x) as f64) - ln_beta(a, b) - ln_null
}

/// The log of the level a Bayes factor must reach: `2 / alpha` (two classes, each at
/// `alpha / 2`, so the stage's false-alarm bound is `alpha`).
pub fn ln_threshold(alpha: f64) -> f64 {
    (2.0 / alpha).ln()
}

/// One error class since the stage's start.
#[derive(Clone, Copy, Debug, Default)]
struct Class {
    /// Canary errors and errors of both cohorts, over the ticks judged.
    x: u64,
    n: u64,
    /// The null's log-likelihood of where those errors landed.
    ln_null: f64,
    /// The canary errors the null expects (`sum of rho * errors`).
    expected: f64,
}

/// The judge over one stage: what it has seen since the stage's start.
#[derive(Clone, Debug)]
pub struct JudgeState {
    classes: [Class; 2],
    /// The Beta prior's parameters, `strength * weight` and `strength * (1 - weight)`;
    /// `None` when the stage has no baseline or no canary (weight 0 or 1).
    prior: Option<(f64, f64)>,
}

/// The judgement at one tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judgement {
    /// Whether the stage has seen any error in a tick with traffic in both cohorts.
    pub data: bool,
    /// The strongest evidence of a regression: the larger log Bayes factor of the
    /// classes whose canary errors exceed what the null expects (`-inf` when none).
    pub score: f64,
    /// The class it comes from, and its counts.
    pub class: usize,
    pub x: u64,
    pub n: u64,
    pub expected: f64,
}

impl JudgeState {
    /// A new stage of this weight, with a prior of this strength.
    pub fn new(weight: f64, strength: f64) -> Self {
        let prior = (weight > 0.0 && weight < 1.0)
            .then_some((strength * weight, strength * (1.0 - weight)));
        JudgeState {
            classes: [Class::default(); 2],
            prior,
        }
    }

    /// Takes in the tick interval's canary requests and errors and the baseline's, and
    /// judges everything seen since the stage's start. A tick without requests in both
    /// cohorts says nothing about the canary against the baseline and is left out (a
    /// choice made from the request counts alone, which keeps the test valid).
    pub fn step(
        &mut self,
        canary: u64,
        canary_errors: [u64; 2],
        baseline: u64,
        baseline_errors: [u64; 2],
    ) -> Judgement {
        if self.prior.is_some() && canary > 0 && baseline > 0 {
            let rho = canary as f64 / (canary + baseline) as f64;
            let (l1, l0) = (rho.ln(), (-rho).ln_1p());
            for (i, c) in self.classes.iter_mut().enumerate() {
                let (x, b) = (canary_errors[i], baseline_errors[i]);
                c.x += x;
                c.n += x + b;
                c.ln_null += x as f64 * l1 + b as f64 * l0;
                c.expected += (x + b) as f64 * rho;
            }
        }
        self.judgement()
    }

    /// The judgement over what has been taken in.
    pub fn judgement(&self) -> Judgement {
        let mut out = Judgement {
            data: false,
            score: f64::NEG_INFINITY,
            class: 0,
            x: self.classes[0].x,
            n: self.classes[0].n,
            expected: self.classes[0].expected,
        };
        let Some((a, b)) = self.prior else {
            return out;
        };
        let mut best: Option<(f64, usize)> = None;
        for (i, c) in self.classes.iter().enumerate() {
            if c.n == 0 {
                continue;
            }
            // One-sided: only a canary failing more than the null expects is evidence.
            let s = if c.x as f64 > c.expected {
                ln_bayes_factor(c.x, c.n, a, b, c.ln_null)
            } else {
                f64::NEG_INFINITY
            };
            if best.is_none_or(|(bs, _)| s > bs) {
                best = Some((s, i));
            }
        }
        if let Some((score, i)) = best {
            let c = &self.classes[i];
            out = Judgement {
                data: true,
                score,
                class: i,
                x: c.x,
                n: c.n,
                expected: c.expected,
            };
        }
        out
    }
}

/// The gate's tick: the judgement since the stage's start, breached (and firing) when
/// the Bayes factor reaches `2 / alpha`.
pub(super) fn judge(cx: &TickCx, st: &mut JudgeState, out: &mut TickOut) {
    let cur = cx.f.interval_counters(cx.k - 1);
    let canary = cur[slot::N];
    let baseline = cur[slot::REAL_ALL].saturating_sub(canary);
    let j = st.step(
        canary,
        [cur[slot::E5XX], cur[slot::E4XX]],
        baseline,
        cx.f.baseline_errors.at(cx.k - 1),
    );
    let level = ln_threshold(cx.p.judge_alpha);
    let breach = j.data && j.score >= level;
    // The factor as shown: capped so it stays a finite number in JSON.
    let value = j.data.then(|| j.score.min(700.0).exp());
    out.push(
        Gate::CanaryJudge,
        state_of(j.data, breach),
        value,
        Some(2.0 / cx.p.judge_alpha),
        breach,
    );
    out.detail(
        Gate::CanaryJudge,
        ">=",
        format!(
            "{}: {} of {} errors in the stage on the canary, {:.1} expected at its share of the traffic",
            CLASSES[j.class], j.x, j.n, j.expected
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn ln_beta_matches_closed_forms() {
        // B(1, 1) = 1, B(2, 3) = 1!2!/4! = 1/12, B(1/2, 1/2) = pi.
        close(ln_beta(1.0, 1.0), 0.0);
        close(ln_beta(2.0, 3.0), (1.0f64 / 12.0).ln());
        close(ln_beta(0.5, 0.5), std::f64::consts::PI.ln());
        // B(a, b) = B(b, a).
        close(ln_beta(0.7, 4.2), ln_beta(4.2, 0.7));
    }

    #[test]
    fn bayes_factor_matches_hand_computed_values() {
        // Uniform prior, 3 of 4 errors on a canary with half the traffic:
        // B(4, 2) / B(1, 1) / 0.5^4 = (3!1!/5!) * 16 = (1/20) * 16 = 0.8.
        let null = 4.0 * 0.5f64.ln();
        close(ln_bayes_factor(3, 4, 1.0, 1.0, null).exp(), 0.8);
        // Beta(1, 1), 4 of 4 on the canary: B(5, 1) / 0.5^4 = (1/5) * 16 = 3.2.
        close(ln_bayes_factor(4, 4, 1.0, 1.0, null).exp(), 3.2);
        // Beta(0.5, 9.5) (strength 10 at a 5 % share), 2 of 2 errors on the canary:
        // B(2.5, 9.5) / B(0.5, 9.5) = (0.5 * 1.5) / (10 * 11) = 0.75 / 110,
        // over 0.05^2 = 0.0025: 2.7272...
        let null = 2.0 * 0.05f64.ln();
        close(
            ln_bayes_factor(2, 2, 0.5, 9.5, null).exp(),
            0.75 / 110.0 / 0.0025,
        );
        // No errors: nothing to weigh, a factor of 1.
        close(ln_bayes_factor(0, 0, 0.5, 9.5, 0.0), 0.0);
    }

    #[test]
    fn the_state_sums_ticks_and_judges_one_sided() {
        let mut s = JudgeState::new(0.5, 2.0);
        // Beta(1, 1): ticks at a 50 % share, 2 + 2 errors on the canary, none on the baseline.
        let j = s.step(100, [2, 0], 100, [0, 0]);
        close(j.score.exp(), (1.0 / 3.0) / 0.25);
        let j = s.step(100, [2, 0], 100, [0, 0]);
        assert_eq!((j.class, j.x, j.n), (0, 4, 4));
        close(j.score.exp(), 3.2);
        close(j.expected, 2.0);
        // A tick without baseline traffic is left out.
        let j2 = s.step(100, [50, 0], 0, [0, 0]);
        assert_eq!(j2, j);
        // Fewer canary errors than expected is no evidence of a regression.
        let mut s = JudgeState::new(0.5, 2.0);
        let j = s.step(100, [0, 0], 100, [9, 0]);
        assert!(j.data);
        assert_eq!(j.score, f64::NEG_INFINITY);
        // A stage without a baseline (weight 1) has no data.
        let mut s = JudgeState::new(1.0, 2.0);
        assert!(!s.step(100, [5, 5], 100, [0, 0]).data);
    }

    /// SplitMix64 (Steele, Lea and Flood, 2014): the tests' seeded source (the
    /// engine draws no `rand`).
    struct Rng(u64);

    impl Rng {
        fn u01(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A binomial draw by inversion (the means here are small).
    fn binomial(rng: &mut Rng, n: u64, p: f64) -> u64 {
        if n == 0 || p <= 0.0 {
            return 0;
        }
        let u = rng.u01();
        let q = 1.0 - p;
        let mut pk = q.powf(n as f64);
        let mut cdf = pk;
        let mut k = 0u64;
        while u > cdf && k < n {
            pk *= (n - k) as f64 / (k + 1) as f64 * p / q;
            k += 1;
            cdf += pk;
        }
        k
    }

    /// Under the null (the canary fails exactly like the baseline) the judge stops a
    /// stage with probability at most alpha, however long the stage and however often
    /// it looks: 2,000 seeded replays of a 60-tick stage, each request routed to the
    /// canary with the stage's weight, both cohorts failing at the same rates.
    #[test]
    fn false_alarms_under_the_null_stay_below_alpha() {
        let alpha = 0.05;
        let level = ln_threshold(alpha);
        for (weight, rps_tick, p5, p4, strength) in [
            (0.05, 1200u64, 0.01, 0.02, 10.0),
            (0.25, 600, 0.005, 0.01, 10.0),
            (0.25, 1200, 0.02, 0.002, 2.0),
        ] {
            let mut rng = Rng(7);
            let replays = 2000;
            let mut alarms = 0;
            for _ in 0..replays {
                let mut s = JudgeState::new(weight, strength);
                for _ in 0..60 {
                    let c = binomial(&mut rng, rps_tick, weight);
                    let b = rps_tick - c;
                    let ce = [binomial(&mut rng, c, p5), binomial(&mut rng, c, p4)];
                    let be = [binomial(&mut rng, b, p5), binomial(&mut rng, b, p4)];
                    if s.step(c, ce, b, be).score >= level {
                        alarms += 1;
                        break;
                    }
                }
            }
            let rate = alarms as f64 / replays as f64;
            eprintln!(
                "weight {weight}, prior {strength}: false alarms in {alarms} of {replays} null replays"
            );
            // Ville's bound is alpha; 2,000 replays estimate a rate of 0.05 within
            // about +-0.01, so the margin is that sampling error.
            assert!(
                rate <= alpha + 0.01,
                "weight {weight}: false alarms in {rate} of replays, above alpha {alpha}"
            );
        }
    }

    /// And it does detect: a canary failing 5xx at ten times the baseline's rate is
    /// stopped in almost every replay.
    #[test]
    fn a_regression_is_detected() {
        let level = ln_threshold(0.01);
        let mut rng = Rng(11);
        let mut caught = 0;
        for _ in 0..200 {
            let mut s = JudgeState::new(0.05, 10.0);
            for _ in 0..30 {
                let c = binomial(&mut rng, 1200, 0.05);
                let b = 1200 - c;
                let ce = [binomial(&mut rng, c, 0.02), binomial(&mut rng, c, 0.002)];
                let be = [binomial(&mut rng, b, 0.002), binomial(&mut rng, b, 0.002)];
                if s.step(c, ce, b, be).score >= level {
                    caught += 1;
                    break;
                }
            }
        }
        assert!(caught >= 190, "caught {caught} of 200");
    }
}
