//! Money with decimal arithmetic: revenue in major units (as written, or a float's
//! shortest round-trip decimal) converted to integer minor units with the currency's
//! ISO 4217 exponent, rounding half away from zero; and the platform fee of a booking,
//! an exact rational share of the gross with a named rounding rule. No float ever
//! touches an amount.

use serde::{Deserialize, Serialize};

/// The ISO 4217 minor-unit exponent of a currency code (case-insensitive). Codes with no
/// minor unit (`JPY`, `KRW`, ...) are 0, the dinars and rials of `BHD`, `KWD`, ... are 3,
/// the unidades de fomento 4; every other code, known or not, is 2.
pub fn iso4217_exponent(code: &str) -> u32 {
    let mut up = [0u8; 3];
    if code.len() != 3 {
        return 2;
    }
    for (d, s) in up.iter_mut().zip(code.bytes()) {
        *d = s.to_ascii_uppercase();
    }
    match &up {
        b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG" | b"RWF"
        | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
        b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
        b"CLF" | b"UYW" => 4,
        _ => 2,
    }
}

/// An exact decimal `(-1)^neg * digits / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    pub neg: bool,
    pub digits: u128,
    pub scale: u32,
}

/// The most significant digits a decimal may carry.
const MAX_DIGITS: usize = 36;

impl Decimal {
    /// Parses `12`, `-0.5`, `+19.995`, `.5`, `1e3`, `2.5E-2`. `None` for anything else,
    /// including `NaN`, `inf` and more than 36 significant digits.
    pub fn parse(text: &str) -> Option<Decimal> {
        let t = text.trim();
        let (neg, body) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => {
                let e: i64 = body[i + 1..].parse().ok()?;
                (&body[..i], e)
            }
            None => (body, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let all = format!("{int}{frac}");
        let all = all.trim_start_matches('0');
        // Trailing zeros of the fraction carry no value.
        let mut scale = frac.len() as i64 - exp;
        let mut sig = all;
        while scale > 0 && sig.ends_with('0') {
            sig = &sig[..sig.len() - 1];
            scale -= 1;
        }
        if sig.len() > MAX_DIGITS {
            return None;
        }
        let mut digits: u128 = if sig.is_empty() { 0 } else { sig.parse().ok()? };
        if digits == 0 {
            return Some(Decimal {
                neg: false,
                digits: 0,
                scale: 0,
            });
        }
        if scale < 0 {
            // A positive exponent: scale the digits up.
            let up = u32::try_from(-scale).ok()?;
            digits = digits.checked_mul(10u128.checked_pow(up)?)?;
            scale = 0;
        }
        Some(Decimal {
            neg,
            digits,
            scale: u32::try_from(scale).ok()?,
        })
    }

    /// The decimal of a float: its shortest round-trip form (`19.99` stays `19.99`).
    pub fn from_f64(v: f64) -> Option<Decimal> {
        if !v.is_finite() {
            return None;
        }
        Decimal::parse(&format!("{v}"))
    }

    /// `self * 10^exponent` rounded half away from zero to an integer, `None` when it
    /// does not fit in an `i64`.
    pub fn to_minor(self, exponent: u32) -> Option<i64> {
        let magnitude: u128 = if exponent >= self.scale {
            self.digits
                .checked_mul(10u128.checked_pow(exponent - self.scale)?)?
        } else {
            let drop = self.scale - exponent;
            match 10u128.checked_pow(drop) {
                Some(div) => {
                    let q = self.digits / div;
                    let r = self.digits % div;
                    // r >= div / 2, without overflow: div is even for drop >= 1.
                    if r >= div / 2 { q + 1 } else { q }
                }
                // More than 38 dropped places: the value is below 0.5 minor units.
                None => 0,
            }
        };
        let m = i64::try_from(magnitude).ok()?;
        Some(if self.neg { -m } else { m })
    }
}

/// How a fee that falls between two minor units is rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Halves go up (towards +infinity): 2.5 -> 3, -2.5 -> -2.
    #[default]
    HalfUp,
    /// Halves go towards zero: 2.5 -> 2.
    HalfDown,
    /// Halves go away from zero: 2.5 -> 3, -2.5 -> -3.
    HalfAwayFromZero,
    /// Halves go to the even neighbour: 2.5 -> 2, 3.5 -> 4.
    HalfEven,
    /// Always down (towards -infinity).
    Floor,
    /// Always up (towards +infinity).
    Ceil,
}

impl Rounding {
    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::HalfUp => "half_up",
            Rounding::HalfDown => "half_down",
            Rounding::HalfAwayFromZero => "half_away_from_zero",
            Rounding::HalfEven => "half_even",
            Rounding::Floor => "floor",
            Rounding::Ceil => "ceil",
        }
    }

    /// `num / den` rounded to an integer (`den > 0`).
    pub fn divide(self, num: i128, den: i128) -> i128 {
        debug_assert!(den > 0);
        let q = num.div_euclid(den);
        let r = num.rem_euclid(den); // 0 <= r < den; the value is q + r/den
        if r == 0 {
            return q;
        }
        let twice = 2 * r;
        match self {
            Rounding::Floor => q,
            Rounding::Ceil => q + 1,
            Rounding::HalfUp => {
                if twice >= den {
                    q + 1
                } else {
                    q
                }
            }
            Rounding::HalfDown => {
                if twice > den {
                    q + 1
                } else {
                    q
                }
            }
            Rounding::HalfAwayFromZero => {
                if twice > den || (twice == den && q >= 0) {
                    q + 1
                } else {
                    q
                }
            }
            Rounding::HalfEven => {
                if twice > den || (twice == den && q.rem_euclid(2) == 1) {
                    q + 1
                } else {
                    q
                }
            }
        }
    }
}

/// A fee rate as an exact fraction `num / den`, from its shortest decimal form
/// (`0.03` is 3/100).
pub fn rate_fraction(rate: f64) -> Option<(i128, i128)> {
    let d = Decimal::from_f64(rate)?;
    if d.neg || d.scale > 30 {
        return None;
    }
    let den = 10i128.checked_pow(d.scale)?;
    Some((i128::try_from(d.digits).ok()?, den))
}

/// The fee of a booking: `gross * num / den`, rounded by `rounding`.
pub fn fee_of(gross: i64, (num, den): (i128, i128), rounding: Rounding) -> i128 {
    rounding.divide(i128::from(gross) * num, den)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minor(s: &str, cur: &str) -> Option<i64> {
        Decimal::parse(s)?.to_minor(iso4217_exponent(cur))
    }

    #[test]
    fn iso4217_exponents() {
        assert_eq!(iso4217_exponent("USD"), 2);
        assert_eq!(iso4217_exponent("EUR"), 2);
        assert_eq!(iso4217_exponent("JPY"), 0);
        assert_eq!(iso4217_exponent("jpy"), 0);
        assert_eq!(iso4217_exponent("BHD"), 3);
        assert_eq!(iso4217_exponent("KWD"), 3);
        assert_eq!(iso4217_exponent("KRW"), 0);
        assert_eq!(iso4217_exponent("XYZ"), 2);
        assert_eq!(iso4217_exponent("DOLLARS"), 2);
    }

    #[test]
    fn major_to_minor_half_away_from_zero() {
        assert_eq!(minor("19.99", "USD"), Some(1999));
        assert_eq!(minor("19.995", "USD"), Some(2000));
        assert_eq!(minor("19.994999", "USD"), Some(1999));
        assert_eq!(minor("-19.995", "USD"), Some(-2000));
        assert_eq!(minor("0.005", "EUR"), Some(1));
        assert_eq!(minor("-0.005", "EUR"), Some(-1));
        assert_eq!(minor("0.0049", "EUR"), Some(0));
        assert_eq!(minor("1200", "JPY"), Some(1200));
        assert_eq!(minor("1200.5", "JPY"), Some(1201));
        assert_eq!(minor("1199.49", "JPY"), Some(1199));
        assert_eq!(minor("1.2345", "BHD"), Some(1235));
        assert_eq!(minor("1.2344", "KWD"), Some(1234));
        assert_eq!(minor("1e2", "USD"), Some(10_000));
        assert_eq!(minor("2.5E-2", "USD"), Some(3));
        assert_eq!(minor(".5", "JPY"), Some(1));
        assert_eq!(minor("+3", "USD"), Some(300));
        assert_eq!(minor("1e-400", "USD"), Some(0));
        assert_eq!(minor("abc", "USD"), None);
        assert_eq!(minor("NaN", "USD"), None);
        assert_eq!(minor("1.2.3", "USD"), None);
        assert_eq!(minor("", "USD"), None);
        assert_eq!(minor("1e30", "USD"), None);
    }

    #[test]
    fn floats_use_their_shortest_decimal() {
        // 19.995 as a float is 19.99499999999999957..., but it is written 19.995.
        assert_eq!(
            Decimal::from_f64(19.995).and_then(|d| d.to_minor(2)),
            Some(2000)
        );
        assert_eq!(
            Decimal::from_f64(1.005).and_then(|d| d.to_minor(2)),
            Some(101)
        );
        assert_eq!(Decimal::from_f64(f64::NAN), None);
    }

    #[test]
    fn rounding_rules() {
        use Rounding::*;
        let cases = [
            // num/den, half_up, half_down, away, even, floor, ceil
            ((5, 2), [3, 2, 3, 2, 2, 3]),
            ((7, 2), [4, 3, 4, 4, 3, 4]),
            ((-5, 2), [-2, -3, -3, -2, -3, -2]),
            ((7, 3), [2, 2, 2, 2, 2, 3]),
            ((8, 3), [3, 3, 3, 3, 2, 3]),
            ((6, 3), [2, 2, 2, 2, 2, 2]),
        ];
        for ((n, d), want) in cases {
            let got =
                [HalfUp, HalfDown, HalfAwayFromZero, HalfEven, Floor, Ceil].map(|r| r.divide(n, d));
            assert_eq!(got, want.map(i128::from), "{n}/{d}");
        }
    }

    #[test]
    fn platform_fee_is_three_percent_half_up() {
        let rate = rate_fraction(0.03).unwrap();
        assert_eq!(rate, (3, 100));
        assert_eq!(fee_of(10_000, rate, Rounding::HalfUp), 300);
        assert_eq!(fee_of(1_250, rate, Rounding::HalfUp), 38); // 37.5
        assert_eq!(fee_of(1_250, rate, Rounding::Floor), 37);
        assert_eq!(fee_of(1_250, rate, Rounding::HalfEven), 38);
        assert_eq!(fee_of(1_150, rate, Rounding::HalfEven), 34); // 34.5
        assert_eq!(fee_of(1_249, rate, Rounding::HalfUp), 37); // 37.47
        assert_eq!(fee_of(16, rate, Rounding::HalfUp), 0); // 0.48
        assert_eq!(fee_of(17, rate, Rounding::HalfUp), 1); // 0.51
        assert_eq!(rate_fraction(0.125), Some((125, 1000)));
        assert_eq!(rate_fraction(-0.1), None);
    }
}
