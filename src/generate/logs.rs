//! The `logs` stream: PII-free service log lines, about two a second, and during a
//! PII-leak fault extra lines carrying an email address, card number, SSN, phone
//! number or IBAN.

use std::fmt::Write as _;

use super::plan::{CompiledScenario, Effect, Pii};
use super::probes::VERSION;
use super::rng::{Rand, poisson, stream};
use crate::input::LogRow;

const LOG_LINES_PER_MS: f64 = 2.0 / 1000.0;
const ROUTES: [&str; 6] = [
    "/api/ttv/summary",
    "/api/search",
    "/api/listings/{id}",
    "/api/security/sessions",
    "/api/infra/health",
    "/api/admin/users",
];

/// A PII-free service log line: (service, level, message). Numbers stay short and ids
/// are hex with letters every four characters, so no detector can match.
fn log_line(rng: &mut Rand) -> (&'static str, &'static str, String) {
    let pick = rng.u01();
    let route = *rng.pick(&ROUTES);
    let n = rng.below(1000);
    let d = 5 + rng.below(400);
    let small = 1 + rng.below(5);
    let trace = rng.hex_id(16);
    let flag = rng.u01() < 0.5;
    let mut m = String::with_capacity(96);
    let (service, level) = match pick {
        p if p < 0.40 => {
            let method = if flag { "GET" } else { "POST" };
            let _ = write!(
                m,
                "request completed method={method} route={route} status=200 duration_ms={d} trace={trace}"
            );
            ("gateway", "INFO")
        }
        p if p < 0.50 => {
            let cohort = if flag { "canary" } else { "baseline" };
            let _ = write!(
                m,
                "time-to-value computed cohort={cohort} p50_ms={} samples={n}",
                600 + d
            );
            ("ttv-api", "INFO")
        }
        p if p < 0.58 => {
            let _ = write!(
                m,
                "session refreshed session=s_{} ttl_s=3600",
                rng.hex_id(12)
            );
            ("security-api", "INFO")
        }
        p if p < 0.62 => {
            let reason = if flag {
                "invalid_password"
            } else {
                "unknown_user"
            };
            let _ = write!(
                m,
                "login failed reason={reason} attempt={small} trace={trace}"
            );
            ("security-api", "WARN")
        }
        p if p < 0.72 => {
            let cache = if flag { "hit" } else { "miss" };
            let _ = write!(m, "query served hits={n} cache={cache} duration_ms={d}");
            ("search", "INFO")
        }
        p if p < 0.77 => {
            let _ = write!(m, "listing cache refreshed entries={} took_ms={d}", n * 10);
            ("listings", "INFO")
        }
        p if p < 0.81 => {
            let job = *rng.pick(&["ttv-rollup", "session-sweeper", "sitemap-builder"]);
            let _ = write!(m, "job {job} finished in {d} ms");
            ("scheduler", "INFO")
        }
        p if p < 0.87 => {
            let _ = write!(
                m,
                "upstream slow route={route} duration_ms={} threshold_ms=250",
                250 + d
            );
            ("gateway", "WARN")
        }
        p if p < 0.89 => {
            let status = if flag { 502 } else { 503 };
            let _ = write!(
                m,
                "upstream error route={route} status={status} retry={small} trace={trace}"
            );
            ("gateway", "ERROR")
        }
        p if p < 0.94 => {
            let _ = write!(
                m,
                "db pool stats active={} idle={} waiting={}",
                n % 20,
                d % 20,
                small - 1
            );
            ("ttv-api", "DEBUG")
        }
        p if p < 0.97 => {
            let name = if flag { "new-ttv-card" } else { "fast-search" };
            let variant = if n % 2 == 0 { "on" } else { "off" };
            let _ = write!(m, "feature flag evaluated flag={name} variant={variant}");
            ("gateway", "DEBUG")
        }
        _ => {
            let _ = write!(
                m,
                "health check ok version={VERSION} uptime_s={}",
                n * 97 + d
            );
            ("infra-health", "INFO")
        }
    };
    (service, level, m)
}

const NAMES: [&str; 5] = [
    "jane.doe",
    "john.smith",
    "maria.garcia",
    "li.wei",
    "a.kowalski",
];
const MAIL_DOMAINS: [&str; 3] = ["example.com", "example.org", "mail.example.net"];
/// Well-known test card numbers (Luhn-valid, never issued), as people paste them.
const CARDS: [&str; 4] = [
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "4242424242424242",
    "3782 822463 10005",
];

/// ISO 7064 mod 97 of an alphanumeric string (letters count as 10..35).
fn mod97(s: &str) -> u32 {
    let mut r = 0u32;
    for c in s.chars() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => continue,
        };
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    r
}

/// A valid British IBAN with a random account, grouped in fours.
fn fake_iban(rng: &mut Rand) -> String {
    let bban = format!(
        "WEST{:06}{:08}",
        rng.below(1_000_000),
        rng.below(100_000_000)
    );
    let check = 98 - mod97(&format!("{bban}GB00"));
    let raw = format!("GB{check:02}{bban}");
    let mut out = String::with_capacity(raw.len() + 6);
    for (i, c) in raw.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn pii_line(rng: &mut Rand, pii: Pii) -> (&'static str, &'static str, String) {
    match pii {
        Pii::Email => (
            "notifications",
            "INFO",
            format!(
                "sending receipt to customer {}@{} order=ord_{}",
                rng.pick(&NAMES),
                rng.pick(&MAIL_DOMAINS),
                rng.hex_id(8)
            ),
        ),
        Pii::Card => (
            "payments",
            "WARN",
            format!(
                "payment authorization failed card={} reason=do_not_honor",
                rng.pick(&CARDS)
            ),
        ),
        Pii::Ssn => (
            "kyc",
            "INFO",
            format!(
                "identity verification submitted ssn={:03}-{:02}-{:04}",
                100 + rng.below(566),
                10 + rng.below(90),
                1000 + rng.below(9000)
            ),
        ),
        Pii::Phone => {
            let line = 100 + rng.below(100);
            let phone = if rng.u01() < 0.5 {
                format!("+1415555{line:04}")
            } else {
                format!("(212) 555-{line:04}")
            };
            (
                "notifications",
                "INFO",
                format!("sms one-time code sent to {phone}"),
            )
        }
        Pii::Iban => (
            "payouts",
            "INFO",
            format!("payout scheduled to iban {} currency=EUR", fake_iban(rng)),
        ),
    }
}

/// Every log line of the scenario, in timestamp order.
pub(super) fn logs(sc: &CompiledScenario) -> Vec<LogRow> {
    let mut rng = sc.rng(stream::LOGS);
    let mut rows = Vec::new();
    for ts in poisson(&mut rng, sc.from, sc.to, &[], |_| LOG_LINES_PER_MS) {
        let (service, level, message) = log_line(&mut rng);
        rows.push(LogRow {
            ts,
            message,
            service: Some(service.to_string()),
            level: Some(level.to_string()),
        });
    }
    for (i, f) in sc.faults.iter().enumerate() {
        if let Effect::PiiLeak { per_min, pii } = f.effect {
            let mut r = sc.rng(stream::FAULT_BASE + i as u64);
            let from = f.from.max(sc.from);
            let to = f.to.min(sc.to);
            if from >= to {
                continue;
            }
            for ts in poisson(&mut r, from, to, &[], |_| per_min / 60_000.0) {
                let (service, level, message) = pii_line(&mut r, pii);
                rows.push(LogRow {
                    ts,
                    message,
                    service: Some(service.to_string()),
                    level: Some(level.to_string()),
                });
            }
        }
    }
    rows.sort_by_key(|r| r.ts);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;
    use crate::generate::test_support::{plan, spec};

    fn longest_digit_run(s: &str) -> usize {
        let (mut best, mut run) = (0, 0);
        for c in s.chars() {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            best = best.max(run);
        }
        best
    }

    #[test]
    fn default_logs_hold_no_pii() {
        let mut s = spec(9, 0.0);
        s.streams = vec!["logs".into()];
        let ds = generate(&s, &plan()).unwrap();
        let logs = ds.logs.unwrap();
        // About 2 lines per second over 5.5 h.
        assert!(
            (logs.len() as f64 - 39_600.0).abs() < 800.0,
            "{}",
            logs.len()
        );
        for l in &logs {
            assert!(!l.message.contains('@'), "{}", l.message);
            assert!(!l.message.contains('+'), "{}", l.message);
            assert!(longest_digit_run(&l.message) <= 6, "{}", l.message);
        }
    }

    #[test]
    fn pii_lines_look_real() {
        assert_eq!(mod97("WEST12345698765432GB82"), 1);
        let mut rng = Rand::new(1, 99);
        for _ in 0..20 {
            let iban = fake_iban(&mut rng);
            let compact: String = iban.chars().filter(|c| *c != ' ').collect();
            let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
            assert_eq!(mod97(&rearranged), 1, "{iban}");
        }
        let (_, _, line) = pii_line(&mut rng, Pii::Ssn);
        assert!(line.contains("ssn="));
    }
}
