//! Exact fractions for thresholds. Every comparison of a measured ratio with a policy
//! threshold is done by integer cross-multiplication, never by a rounded division: a
//! threshold written `0.005` is the fraction 5/1000, taken from the shortest decimal
//! that round-trips the policy's floating-point value.

use std::fmt;

/// A non-negative fraction `num / den`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub num: u64,
    pub den: u64,
}

impl Ratio {
    pub const fn new(num: u64, den: u64) -> Self {
        Self { num, den }
    }

    /// The exact decimal fraction of `v`'s shortest round-trip representation.
    /// `None` for negative, non-finite or too-precise values (more than 15 decimals).
    pub fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        let s = format!("{v}");
        let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
        if frac.len() > 15 || s.contains('e') {
            return None;
        }
        let den = 10u64.checked_pow(frac.len() as u32)?;
        let int: u64 = int.parse().ok()?;
        let frac_v: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        Some(Self {
            num: int.checked_mul(den)?.checked_add(frac_v)?,
            den,
        })
    }

    /// `a / b >= self`, exactly.
    pub fn le_frac(self, a: u64, b: u64) -> bool {
        a as u128 * self.den as u128 >= self.num as u128 * b as u128
    }

    /// `a / b > self`, exactly.
    pub fn lt_frac(self, a: u64, b: u64) -> bool {
        a as u128 * self.den as u128 > self.num as u128 * b as u128
    }

    /// `ceil(self * n)`, the 1-based nearest rank of quantile `self` among `n` values.
    pub fn ceil_mul(self, n: u64) -> u64 {
        ((self.num as u128 * n as u128).div_ceil(self.den as u128)) as u64
    }

    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_decimals() {
        assert_eq!(Ratio::from_f64(0.005), Some(Ratio::new(5, 1000)));
        assert_eq!(Ratio::from_f64(0.1), Some(Ratio::new(1, 10)));
        assert_eq!(Ratio::from_f64(3.0), Some(Ratio::new(3, 1)));
        let r = Ratio::from_f64(0.005).unwrap();
        assert!(r.le_frac(5, 1000));
        assert!(!r.le_frac(4, 1000));
        assert!(!r.lt_frac(5, 1000));
        assert!(r.lt_frac(6, 1000));
        assert_eq!(Ratio::new(95, 100).ceil_mul(100), 95);
        assert_eq!(Ratio::new(95, 100).ceil_mul(101), 96);
        assert_eq!(Ratio::new(99, 100).ceil_mul(1), 1);
    }
}
