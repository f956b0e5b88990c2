//! The one random source of every generated stream ([`Rand`], a ChaCha8 stream per
//! output stream) and the sampling helpers built on it: Poisson arrivals, log-normal
//! fits, time grids and rounding. Only raw 64-bit words are taken from ChaCha8; every
//! distribution is sampled here, so a dataset depends on its seed alone.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::input::Millis;

/// Separate ChaCha streams, so enabling one output stream never shifts another.
pub(super) mod stream {
    pub const ARRIVALS: u64 = 1;
    pub const REQUESTS: u64 = 2;
    pub const SYNTHETIC: u64 = 3;
    pub const PROBES: u64 = 4;
    pub const INFRA: u64 = 5;
    pub const SECURITY: u64 = 6;
    pub const LOGS: u64 = 7;
    pub const PAGES: u64 = 8;
    /// Plus the fault's index: per-fault extra events (bursts, PII lines).
    pub const FAULT_BASE: u64 = 1000;

    /// XORed into the seed of the funnel and ledger streams, so their stream numbers
    /// below may repeat the ones above.
    pub const FUNNEL_SEED_SALT: u64 = 0x00F0_77E1_5EED;
    /// Real B2C users of the funnel.
    pub const FUNNEL_USERS: u64 = 1;
    /// Synthetic e2e users of the funnel.
    pub const FUNNEL_SYNTHETIC: u64 = 2;
    /// B2B providers and their bookings and payouts.
    pub const LEDGER: u64 = 3;
}

/// One ChaCha8 stream of a seed. Every method takes a fixed number of raw words, so
/// the sequence of draws is part of a dataset's identity: changing a method changes
/// every dataset generated with it.
pub(super) struct Rand(ChaCha8Rng);

impl Rand {
    pub(super) fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Rand(rng)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub(super) fn u01(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1).
    pub(super) fn open01(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (one uniform).
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.u01() < p
    }

    /// Uniform integer in `0..n` (`n > 0`), by a 128-bit multiply.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Standard normal by Box–Muller (two uniforms per value).
    pub(super) fn normal(&mut self) -> f64 {
        let u1 = self.open01();
        let u2 = self.u01();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Exponential with the given mean, by inversion.
    pub(super) fn exp(&mut self, mean: f64) -> f64 {
        -self.open01().ln() * mean
    }

    /// Exponential with the given mean in milliseconds, rounded to whole milliseconds.
    pub(super) fn exp_ms(&mut self, mean_ms: f64) -> Millis {
        self.exp(mean_ms).round() as Millis
    }

    /// One of `items`, uniformly.
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One of `items` by weight (one uniform against the running sum of the weights;
    /// the last item if the weights add up to less than the draw).
    pub(super) fn pick_weighted<'a, T>(&mut self, items: &'a [(T, f64)]) -> &'a T {
        let u = self.u01();
        let mut acc = 0.0;
        for (item, w) in items {
            acc += w;
            if u < acc {
                return item;
            }
        }
        &items[items.len() - 1].0
    }

    /// Lower-case hex id whose every fourth character is a letter, so it never holds a
    /// run of more than three digits (nothing a PII detector could mistake).
    pub(super) fn hex_id(&mut self, len: usize) -> String {
        const HEX: &[u8] = b"0123456789abcdef";
        let mut s = String::with_capacity(len);
        for i in 0..len {
            let c = if i % 4 == 0 {
                HEX[10 + self.below(6) as usize]
            } else {
                HEX[self.below(16) as usize]
            };
            s.push(c as char);
        }
        s
    }
}

/// One hour in milliseconds.
pub(super) const HOUR: Millis = 3_600_000;

/// `z` quantile of the standard normal at 0.95.
const Z95: f64 = 1.644_853_626_951_472_2;

/// A log-normal fitted to a median and a 95th percentile: `(mu, sigma)` of `ln x`.
pub(super) fn lognormal_fit(median: f64, p95: f64) -> (f64, f64) {
    let mu = median.ln();
    (mu, ((p95.ln() - mu) / Z95).max(0.0))
}

/// Arrival instants of a Poisson process on `(from, to]`, with `per_ms(t)` events per
/// millisecond constant between consecutive `breaks` (evaluated at each piece's end),
/// in whole milliseconds (ceiling, so every instant stays inside its piece).
pub(super) fn poisson(
    rng: &mut Rand,
    from: Millis,
    to: Millis,
    breaks: &[Millis],
    per_ms: impl Fn(Millis) -> f64,
) -> Vec<Millis> {
    let mut points: Vec<Millis> = breaks
        .iter()
        .copied()
        .filter(|&b| b > from && b < to)
        .collect();
    points.push(from);
    points.push(to);
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let rate = per_ms(b);
        if rate <= 0.0 {
            continue;
        }
        let mean = 1.0 / rate;
        let mut t = a as f64;
        loop {
            t += rng.exp(mean);
            if t > b as f64 {
                break;
            }
            out.push((t.ceil() as Millis).clamp(a + 1, b));
        }
    }
    out
}

/// Every `t0 + k * period` in `(from, to]`.
pub(super) fn grid(
    t0: Millis,
    from: Millis,
    to: Millis,
    period: Millis,
) -> impl Iterator<Item = Millis> {
    let first = t0 + (from - t0).div_euclid(period) * period + period;
    (0..)
        .map(move |k| first + k * period)
        .take_while(move |&t| t <= to)
}

/// `x` rounded to `decimals` decimal places (half away from zero).
pub(super) fn round_to(x: f64, decimals: i32) -> f64 {
    let m = 10f64.powi(decimals);
    (x * m).round() / m
}

/// Arrival instants of a Poisson process on `[from, to)` at `per_hour` events an hour,
/// each gap rounded to whole milliseconds and at least 1 ms.
pub(super) fn poisson_per_hour(
    rng: &mut Rand,
    from: Millis,
    to: Millis,
    per_hour: f64,
) -> Vec<Millis> {
    let mut out = Vec::new();
    if per_hour <= 0.0 {
        return out;
    }
    let mean = HOUR as f64 / per_hour;
    let mut t = from;
    loop {
        t += rng.exp_ms(mean).max(1);
        if t >= to {
            return out;
        }
        out.push(t);
    }
}
