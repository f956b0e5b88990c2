//! A log-linear latency histogram for displayed quantiles only. Verdicts never read it:
//! they come from exact threshold counters. A displayed quantile is the lower bound of
//! the bin holding the exact nearest-rank element, so it is deterministic and within
//! 0.4 % below the exact value (exact below 512 us).

/// Sub-bins per power of two.
const SUB_BITS: u32 = 8;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this are their own bin.
const LINEAR: u64 = 2 * SUB;
/// Enough bins for latencies up to 2^44 us.
pub const BINS: usize = (LINEAR + (44 - SUB_BITS as u64) * SUB) as usize;

/// The bin of a latency in microseconds.
pub fn bin_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS + 1
    let shift = e - SUB_BITS;
    let mantissa = v >> shift; // in [SUB, 2*SUB)
    let idx = LINEAR + (e - SUB_BITS - 1) as u64 * SUB + (mantissa - SUB);
    (idx as usize).min(BINS - 1)
}

/// The smallest value of a bin.
pub fn bin_floor(bin: usize) -> u64 {
    let b = bin as u64;
    if b < LINEAR {
        return b;
    }
    let k = (b - LINEAR) / SUB;
    let m = (b - LINEAR) % SUB + SUB;
    m << (k + 1)
}

/// The displayed value for an exact latency: the floor of its bin.
pub fn display_of(v: u64) -> u64 {
    bin_floor(bin_of(v))
}

/// Counts per bin.
#[derive(Clone)]
pub struct Sketch {
    counts: Box<[u32]>,
}

impl Default for Sketch {
    fn default() -> Self {
        Self {
            counts: vec![0; BINS].into_boxed_slice(),
        }
    }
}

impl Sketch {
    #[inline]
    pub fn add(&mut self, v: u64) {
        self.counts[bin_of(v)] += 1;
    }

    /// Adds another sketch's counts into this one.
    pub fn merge(&mut self, other: &Sketch) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += *b;
        }
    }

    pub fn clear(&mut self) {
        self.counts.fill(0);
    }

    /// The displayed value of the element of 1-based rank `rank`, if there are that many.
    pub fn value_at_rank(&self, rank: u64) -> Option<u64> {
        if rank == 0 {
            return None;
        }
        let mut seen = 0u64;
        for (bin, &c) in self.counts.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return Some(bin_floor(bin));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_monotonic_and_tight() {
        let mut prev = 0;
        for v in (0..2_000_000u64).step_by(7) {
            let b = bin_of(v);
            assert!(b >= prev);
            prev = b;
            let f = bin_floor(b);
            assert!(f <= v, "{v} {f}");
            assert!((v - f) as f64 <= v as f64 / 256.0 + 1e-9, "{v} {f}");
            assert_eq!(bin_of(f), b);
        }
        assert_eq!(bin_of(u64::MAX), BINS - 1);
    }

    #[test]
    fn rank_lookup() {
        let mut s = Sketch::default();
        for v in [100, 200, 300, 250_000] {
            s.add(v);
        }
        assert_eq!(s.value_at_rank(1), Some(100));
        assert_eq!(s.value_at_rank(4), Some(display_of(250_000)));
        assert_eq!(s.value_at_rank(5), None);
    }
}
