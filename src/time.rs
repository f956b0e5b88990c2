//! Instants and durations as the contract writes them: RFC 3339 UTC timestamps with
//! millisecond precision (finer digits floored), epoch milliseconds, and the short
//! duration strings of policy and scenario files (`90s`, `30m`, `2h`).

use crate::input::Millis;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Parses an RFC 3339 timestamp (`2026-03-02T10:00:00.123456Z`, `...+02:00`) to epoch
/// milliseconds, flooring sub-millisecond digits. `t`/`T`/space separate date and time;
/// `z`/`Z` or a `±HH:MM` offset is required.
/// 2000-01-01T00:00:00Z in epoch milliseconds: a timestamp before it, read as epoch
/// milliseconds, is most likely epoch seconds (plausibility rule (b)).
pub const YEAR_2000_MS: Millis = 946_684_800_000;

pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let b = s.trim().as_bytes();
    let year = digits(b, 0, 4)? as i64;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset_min: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') => {
            if b.len() != i + 6 || b[i + 3] != b':' {
                return None;
            }
            let oh = digits(b, i + 1, 2)? as i64;
            let om = digits(b, i + 4, 2)? as i64;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 60 + om;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs =
        days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64 - offset_min * 60;
    Some(secs * 1000 + millis)
}

/// Parses a `ts` value written as text: RFC 3339, or an integer of epoch milliseconds.
pub fn parse_ts_text(s: &str) -> Option<Millis> {
    let t = s.trim();
    if !t.is_empty()
        && t.bytes()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == b'-'))
        && t != "-"
    {
        return t.parse::<i64>().ok();
    }
    parse_rfc3339(t)
}

/// Formats epoch milliseconds as RFC 3339 UTC with milliseconds: `2026-03-02T12:14:00.000Z`.
pub fn format_rfc3339(ms: Millis) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let h = rem / 3_600_000;
    let mi = rem / 60_000 % 60;
    let s = rem / 1000 % 60;
    let milli = rem % 1000;
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `HH:MM` (or `HH:MM:SS.mmm` when not on a whole minute) of an instant, for people.
pub fn format_clock(ms: Millis) -> String {
    let rem = ms.rem_euclid(86_400_000);
    let h = rem / 3_600_000;
    let mi = rem / 60_000 % 60;
    if rem % 60_000 == 0 {
        format!("{h:02}:{mi:02}")
    } else {
        format!("{h:02}:{mi:02}:{:02}.{:03}", rem / 1000 % 60, rem % 1000)
    }
}

/// Parses a duration such as `90s`, `30m`, `2h`, `1h30m`, `500ms` or `1d` to milliseconds.
pub fn parse_duration(s: &str) -> Option<Millis> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// Formats milliseconds as the shortest duration string `parse_duration` reads back.
pub fn format_duration(ms: Millis) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let mut s = ms / 1000;
    let mut out = String::new();
    for (unit, len) in [("h", 3600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        let t = parse_rfc3339("2026-03-02T10:00:00Z").unwrap();
        assert_eq!(format_rfc3339(t), "2026-03-02T10:00:00.000Z");
        assert_eq!(t, 1_772_445_600_000);
        assert_eq!(
            parse_rfc3339("2026-03-02T12:00:00.1239+02:00").unwrap(),
            t + 123
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z").unwrap(), -1);
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(parse_ts_text("1772445600000"), Some(t));
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-03-02T10:00:00",
            "2026-03-02T25:00:00Z",
            "2026-03-02T10:00:00.Z",
            "yesterday",
            "",
            "2026-03-02T10:00:00+0200",
        ] {
            assert_eq!(parse_ts_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(120_000), "2m");
        assert_eq!(
            format_clock(parse_rfc3339("2026-03-02T12:14:00Z").unwrap()),
            "12:14"
        );
    }
}
