//! A cell is one value of one row as an adapter found it (text, a JSON number's text,
//! a typed Arrow value), and the conversions every stream decoder shares: timestamps,
//! statuses, latencies at microsecond resolution, booleans, numbers and closed lists.
//! Each conversion returns the problem in words for the error message.

use std::borrow::Cow;

use crate::input::Millis;
use crate::time::parse_ts_text;

/// One value of one row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Absent: a null, a missing key or an empty string.
    Null,
    /// Text (CSV fields, JSON strings, Arrow strings).
    Str(Cow<'a, str>),
    /// A JSON number as written.
    Num(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A timestamp column's value, in epoch milliseconds.
    Ts(Millis),
    /// A nested JSON value (object or array) as written.
    Json(&'a str),
}

impl<'a> Cell<'a> {
    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }

    /// Text of a string cell or a JSON number as written.
    pub fn textual(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            Cell::Num(s) => Some(s),
            _ => None,
        }
    }

    /// Text of a string cell; numbers and booleans are not text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Cell::Null => "an absent value".into(),
            Cell::Str(s) => format!("`{}`", truncate(s)),
            Cell::Num(s) => format!("the number {}", truncate(s)),
            Cell::Int(v) => format!("the integer {v}"),
            Cell::Float(v) => format!("the number {v}"),
            Cell::Bool(v) => format!("the boolean {v}"),
            Cell::Ts(v) => format!("the timestamp {v}"),
            Cell::Json(s) => format!("the JSON value {}", truncate(s)),
        }
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        let t: String = s.chars().take(40).collect();
        format!("{t}...")
    } else {
        s.to_string()
    }
}

const MISSING: &str = "missing required value";

/// `ts`: RFC 3339, epoch milliseconds, or a timestamp column.
pub fn ts(c: &Cell) -> Result<Millis, String> {
    match c {
        Cell::Ts(v) | Cell::Int(v) => Ok(*v),
        Cell::Num(s)
            if s.parse::<f64>()
                .is_ok_and(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15) =>
        {
            // A JSON number such as 1772445600000.0 from tools that write floats.
            Ok(s.parse::<f64>().map_or(0, |f| f as i64))
        }
        Cell::Str(_) | Cell::Num(_) if c.textual().is_some_and(|s| !s.is_empty()) => {
            let text = c.textual().unwrap_or_default();
            parse_ts_text(text).ok_or_else(|| {
                if parse_ts_text(&format!("{}Z", text.trim())).is_some() {
                    // Only the offset is missing: say so, and how to give it.
                    format!(
                        "{} has no UTC offset: timestamps in stream files must say their zone (append `Z` for UTC, e.g. `{}Z`, or `+01:00`); only the manifest's `start` is read as UTC without one",
                        c.describe(),
                        text.trim()
                    )
                } else {
                    format!(
                        "{} is not an RFC 3339 timestamp with offset or an integer of epoch milliseconds",
                        c.describe()
                    )
                }
            })
        }
        Cell::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
        Cell::Null => Err(MISSING.into()),
        _ => Err(format!("{} is not a timestamp", c.describe())),
    }
}

fn parse_int_text(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    // "200.0" from tools that write integers as floats.
    let f: f64 = t.parse().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15).then_some(f as i64)
}

/// An HTTP status in 100..=599.
pub fn status(c: &Cell) -> Result<u16, String> {
    let v = match c {
        Cell::Int(v) => Some(*v),
        Cell::Str(_) | Cell::Num(_) => c.textual().and_then(parse_int_text),
        Cell::Float(f) if f.is_finite() && f.fract() == 0.0 => Some(*f as i64),
        Cell::Null => return Err(MISSING.into()),
        _ => None,
    };
    match v {
        Some(v) if (100..=599).contains(&v) => Ok(v as u16),
        Some(v) => Err(format!("status {v} is outside 100..=599")),
        None => Err(format!("{} is not an integer HTTP status", c.describe())),
    }
}

/// Exact decimal text (`12.3455`, `1e2`) to microseconds of milliseconds, rounded half-up
/// at the third decimal. `None` when the text is not a plain decimal number.
fn decimal_ms_to_us(s: &str) -> Option<Result<u64, String>> {
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() > 12 {
        return Some(Err(format!("latency `{t}` ms is out of range")));
    }
    let mut us: u64 = if int.is_empty() {
        0
    } else {
        int.parse::<u64>().ok()?
    } * 1000;
    let fb = frac.as_bytes();
    for i in 0..3 {
        let d = fb.get(i).map_or(0, |b| (b - b'0') as u64);
        us += d * 10u64.pow(2 - i as u32);
    }
    if fb.get(3).is_some_and(|&b| b >= b'5') {
        us += 1;
    }
    if neg && (us > 0 || fb.iter().any(|&b| b != b'0')) {
        return Some(Err(format!("latency `{t}` is negative")));
    }
    Some(Ok(us))
}

/// Milliseconds as a float, to microseconds rounded half-up at its shortest decimal form
/// (so `12.3455` reads the same from text, JSON and Parquet).
#[inline]
pub fn f64_ms_to_us(v: f64) -> Result<u64, String> {
    // NaN is in no range: like every rare value, it takes the slow path.
    if (0.0..=1e12).contains(&v) {
        let scaled = v * 1000.0;
        // 0 <= scaled <= 1e15: the truncating cast is the floor, without a libm call.
        let whole = scaled as u64;
        let frac = scaled - whole as f64;
        if (frac - 0.5).abs() > 1e-6 {
            return Ok(whole + u64::from(frac > 0.5));
        }
    }
    f64_ms_to_us_slow(v)
}

/// [`f64_ms_to_us`] over a column, appended to `out`, without a branch per value:
/// `false` when some value needs the exact path (not finite, negative, out of range or
/// near a half microsecond), in which case what was appended is meaningless.
pub fn f64_ms_to_us_all(values: &[f64], out: &mut Vec<u64>) -> bool {
    let mut ok = true;
    out.extend(values.iter().map(|&v| {
        let in_range = (0.0..=1e12).contains(&v);
        let scaled = v * 1000.0;
        // In range, 0 <= scaled <= 1e15: the truncating cast is the floor.
        let whole = scaled as i64;
        let frac = scaled - whole as f64;
        ok &= in_range & ((frac - 0.5).abs() > 1e-6);
        whole.wrapping_add(i64::from(frac > 0.5)) as u64
    }));
    ok
}

/// [`f64_ms_to_us`] for the rare values: not finite, negative, out of range, or near a
/// half microsecond.
#[cold]
#[inline(never)]
fn f64_ms_to_us_slow(v: f64) -> Result<u64, String> {
    if !v.is_finite() {
        return Err(format!("latency {v} is not finite"));
    }
    if v < 0.0 {
        return Err(format!("latency {v} is negative"));
    }
    if v > 1e12 {
        return Err(format!("latency {v} ms is out of range"));
    }
    let scaled = v * 1000.0;
    // Near a half: decide on the exact shortest decimal.
    let text = format!("{v}");
    match decimal_ms_to_us(&text) {
        Some(r) => r,
        None => Ok(scaled.round() as u64),
    }
}

/// `latency_ms` (or a probe's) at microsecond resolution: non-negative and finite.
pub fn latency_us(c: &Cell) -> Result<u64, String> {
    match c {
        Cell::Null => Err(MISSING.into()),
        Cell::Int(v) if *v < 0 => Err(format!("latency {v} is negative")),
        Cell::Int(v) => (*v as u64)
            .checked_mul(1000)
            .ok_or_else(|| format!("latency {v} is out of range")),
        Cell::Float(f) => f64_ms_to_us(*f),
        Cell::Str(_) | Cell::Num(_) => match c.textual().and_then(decimal_ms_to_us) {
            Some(r) => r,
            None => match c.textual().unwrap_or_default().trim().parse::<f64>() {
                Ok(f) => f64_ms_to_us(f),
                Err(_) => Err(format!("{} is not a number of milliseconds", c.describe())),
            },
        },
        _ => Err(format!("{} is not a number of milliseconds", c.describe())),
    }
}

/// A finite number.
pub fn number(c: &Cell) -> Result<f64, String> {
    let v = match c {
        Cell::Null => return Err(MISSING.into()),
        Cell::Int(v) => *v as f64,
        Cell::Float(f) => *f,
        Cell::Str(_) | Cell::Num(_) => {
            match c.textual().unwrap_or_default().trim().parse::<f64>() {
                Ok(v) => v,
                Err(_) => return Err(format!("{} is not a number", c.describe())),
            }
        }
        _ => return Err(format!("{} is not a number", c.describe())),
    };
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{v} is not a finite number"))
    }
}

/// An optional finite number: absent stays `None`.
pub fn opt_number(c: &Cell) -> Result<Option<f64>, String> {
    if c.is_null() {
        Ok(None)
    } else {
        number(c).map(Some)
    }
}

/// A boolean: `true`/`false` in any case, `1`/`0`; absent stays `None`.
pub fn opt_bool(c: &Cell) -> Result<Option<bool>, String> {
    match c {
        Cell::Null => Ok(None),
        Cell::Bool(b) => Ok(Some(*b)),
        Cell::Int(1) => Ok(Some(true)),
        Cell::Int(0) => Ok(Some(false)),
        Cell::Float(f) if *f == 1.0 => Ok(Some(true)),
        Cell::Float(f) if *f == 0.0 => Ok(Some(false)),
        Cell::Str(_) | Cell::Num(_) => {
            let t = c.textual().unwrap_or_default().trim();
            if t.eq_ignore_ascii_case("true") || t == "1" {
                Ok(Some(true))
            } else if t.eq_ignore_ascii_case("false") || t == "0" {
                Ok(Some(false))
            } else {
                Err(format!(
                    "{} is not a boolean (true/false/1/0)",
                    c.describe()
                ))
            }
        }
        _ => Err(format!(
            "{} is not a boolean (true/false/1/0)",
            c.describe()
        )),
    }
}

/// Required text: absent or empty is an error.
pub fn text<'c>(c: &'c Cell) -> Result<Cow<'c, str>, String> {
    match c {
        Cell::Str(s) if !s.is_empty() => Ok(Cow::Borrowed(s)),
        Cell::Null | Cell::Str(_) => Err(MISSING.into()),
        Cell::Num(s) | Cell::Json(s) => Ok(Cow::Borrowed(s)),
        // A typed value in a text column (an id column a writer stored as integers) is
        // its text, as the same value in CSV would be.
        other => Ok(Cow::Owned(opt_text(other).unwrap_or_default())),
    }
}

/// Optional text as an owned string (numbers written as text are kept as written).
pub fn opt_text(c: &Cell) -> Option<String> {
    match c {
        Cell::Null => None,
        Cell::Str(s) if s.is_empty() => None,
        Cell::Str(s) => Some(s.to_string()),
        Cell::Num(s) | Cell::Json(s) => Some(s.to_string()),
        Cell::Int(v) | Cell::Ts(v) => Some(v.to_string()),
        Cell::Float(v) => Some(v.to_string()),
        Cell::Bool(v) => Some(v.to_string()),
    }
}

/// A value of a closed list (lower case as listed).
pub fn one_of<T>(c: &Cell, parse: fn(&str) -> Option<T>, allowed: &str) -> Result<T, String> {
    match c {
        Cell::Null => Err(MISSING.into()),
        Cell::Str(s) if s.is_empty() => Err(MISSING.into()),
        Cell::Str(s) => {
            parse(s).ok_or_else(|| format!("`{}` is not one of {allowed}", truncate(s)))
        }
        _ => Err(format!("{} is not one of {allowed}", c.describe())),
    }
}

/// An optional value of a closed list.
pub fn opt_one_of<T>(
    c: &Cell,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, String> {
    if c.is_null() {
        Ok(None)
    } else {
        one_of(c, parse, allowed).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::strategy::{Just, Strategy};

    proptest::proptest! {
        /// The float path agrees with rounding the float, away from exact halves, and
        /// with the decimal text at them.
        #[test]
        fn float_latencies_round_like_their_decimal(us in 0u64..2_000_000_000, tenths in 0u64..10) {
            let v = (us as f64 + tenths as f64 / 10.0) / 1000.0;
            let got = f64_ms_to_us(v).expect("a valid latency");
            let scaled = v * 1000.0;
            if ((scaled - scaled.floor()) - 0.5).abs() > 1e-6 {
                proptest::prop_assert_eq!(got, scaled.round() as u64);
            } else {
                proptest::prop_assert_eq!(Some(Ok(got)), decimal_ms_to_us(&format!("{v}")));
            }
        }

        /// The column pass agrees with the value-by-value conversion whenever it
        /// settles a column, and refuses every column holding an invalid value.
        #[test]
        fn the_column_pass_matches_the_value_path(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    (0u64..2_000_000_000, 0u64..10)
                        .prop_map(|(us, t)| (us as f64 + t as f64 / 10.0) / 1000.0),
                    proptest::num::f64::ANY,
                    proptest::prop_oneof![Just(-1.0), Just(2e12), Just(f64::NAN), Just(12.3455)],
                ],
                0..40,
            )
        ) {
            let mut out = vec![7u64];
            let settled = f64_ms_to_us_all(&values, &mut out);
            let each: Vec<Result<u64, String>> = values.iter().map(|&v| f64_ms_to_us(v)).collect();
            if settled {
                let want: Vec<u64> = each.iter().map(|r| *r.as_ref().expect("settled values are valid")).collect();
                proptest::prop_assert_eq!(&out[1..], &want[..]);
                proptest::prop_assert_eq!(out[0], 7);
            }
            if each.iter().any(|r| r.is_err()) {
                proptest::prop_assert!(!settled);
            }
        }
    }

    #[test]
    fn the_column_pass_leaves_halves_and_bad_values_to_the_exact_path() {
        let mut out = Vec::new();
        assert!(f64_ms_to_us_all(&[12.345, 0.0, 250.0, 1e12], &mut out));
        assert_eq!(out, [12_345, 0, 250_000, 1_000_000_000_000_000]);
        for bad in [12.3455, -1.0, f64::NAN, f64::INFINITY, 1.5e12] {
            assert!(!f64_ms_to_us_all(&[1.0, bad], &mut Vec::new()), "{bad}");
        }
    }

    fn s(v: &str) -> Cell<'_> {
        Cell::Str(Cow::Borrowed(v))
    }

    #[test]
    fn latency_rounds_half_up_at_microseconds() {
        assert_eq!(latency_us(&s("12.3455")), Ok(12_346));
        assert_eq!(latency_us(&s("12.3454999")), Ok(12_345));
        assert_eq!(latency_us(&s("250")), Ok(250_000));
        assert_eq!(latency_us(&s("0.0005")), Ok(1));
        assert_eq!(latency_us(&Cell::Float(12.3455)), Ok(12_346));
        assert_eq!(latency_us(&Cell::Float(250.0005)), Ok(250_001));
        assert_eq!(latency_us(&Cell::Num("1e2")), Ok(100_000));
        assert_eq!(latency_us(&Cell::Int(7)), Ok(7_000));
        assert!(latency_us(&s("-1")).is_err());
        assert!(latency_us(&Cell::Float(f64::NAN)).is_err());
        assert!(latency_us(&s("NaN")).is_err());
        assert!(latency_us(&s("inf")).is_err());
        assert!(latency_us(&s("fast")).is_err());
        assert_eq!(latency_us(&Cell::Null), Err(MISSING.into()));
    }

    #[test]
    fn statuses_and_booleans() {
        assert_eq!(status(&s("503")), Ok(503));
        assert_eq!(status(&Cell::Float(200.0)), Ok(200));
        assert!(status(&s("600")).unwrap_err().contains("100..=599"));
        assert!(status(&s("ok")).is_err());
        assert_eq!(opt_bool(&s("TRUE")), Ok(Some(true)));
        assert_eq!(opt_bool(&s("0")), Ok(Some(false)));
        assert!(opt_bool(&s("yes")).is_err());
    }

    #[test]
    fn text_takes_typed_values_as_their_text() {
        assert_eq!(text(&s("/api/a")).as_deref(), Ok("/api/a"));
        assert_eq!(text(&Cell::Int(42)).as_deref(), Ok("42"));
        assert_eq!(text(&Cell::Bool(true)).as_deref(), Ok("true"));
        assert_eq!(text(&Cell::Num("7")).as_deref(), Ok("7"));
        assert_eq!(text(&Cell::Null), Err(MISSING.into()));
        assert_eq!(text(&s("")), Err(MISSING.into()));
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts(&s("1970-01-01T00:00:01.5Z")), Ok(1500));
        assert_eq!(ts(&Cell::Num("1500")), Ok(1500));
        assert_eq!(ts(&Cell::Num("1772445600000.0")), Ok(1_772_445_600_000));
        assert!(ts(&Cell::Num("1500.5")).is_err());
        assert!(ts(&s("noon")).is_err());
        assert!(ts(&Cell::Null).is_err());
    }
}
