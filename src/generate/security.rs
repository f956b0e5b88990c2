//! The `security` stream: WAF blocks, authentication failures and rate limits as
//! Poisson events from documentation address blocks. A WAF spike or credential stuffing
//! raises its kind's rate, with the attacks coming from a handful of addresses.

use super::plan::{CompiledScenario, Effect};
use super::rng::{poisson, stream};
use crate::input::{Millis, SecurityKind, SecurityRow};

const WAF_RULES: [&str; 5] = [
    "crs-942100-sqli",
    "crs-941100-xss",
    "crs-930120-lfi",
    "crs-913100-scanner",
    "crs-920350-host-header",
];
const AUTH_RULES: [&str; 4] = [
    "invalid_password",
    "unknown_user",
    "mfa_failed",
    "expired_session",
];
const LIMIT_RULES: [&str; 3] = ["login-10-per-min", "api-600-per-min", "search-120-per-min"];
/// Documentation address blocks (RFC 5737): never real hosts.
const NETS: [&str; 3] = ["192.0.2", "198.51.100", "203.0.113"];

/// Every security event of the scenario, in timestamp order.
pub(super) fn security(sc: &CompiledScenario) -> Vec<SecurityRow> {
    let mut rng = sc.rng(stream::SECURITY);
    let breaks: Vec<Millis> = sc.faults.iter().flat_map(|f| [f.from, f.to]).collect();
    let mut rows = Vec::new();
    let kinds = [
        (SecurityKind::WafBlock, 1.0),
        (SecurityKind::AuthFailure, 2.0),
        (SecurityKind::RateLimited, 1.0),
    ];
    for (kind, base_per_min) in kinds {
        // Per piece: the base rate, or the spike's rate while a spike covers it.
        let rate_at = |t: Millis| -> (f64, bool) {
            let mut spike: Option<f64> = None;
            for f in sc.faults.iter().filter(|f| f.contains(t)) {
                match (kind, &f.effect) {
                    (SecurityKind::WafBlock, Effect::WafSpike(r))
                    | (SecurityKind::AuthFailure, Effect::CredentialStuffing(r)) => {
                        spike = Some(spike.map_or(*r, |s: f64| s.max(*r)));
                    }
                    _ => {}
                }
            }
            (spike.unwrap_or(base_per_min), spike.is_some())
        };
        let times = poisson(&mut rng, sc.from, sc.to, &breaks, |t| {
            rate_at(t).0 / 60_000.0
        });
        for ts in times {
            let attack = rate_at(ts).1;
            let ip = if attack {
                // A small botnet: a handful of addresses repeat.
                format!("203.0.113.{}", 60 + rng.below(6))
            } else {
                format!("{}.{}", rng.pick(&NETS), 1 + rng.below(254))
            };
            let rule = match kind {
                SecurityKind::WafBlock => *rng.pick(&WAF_RULES),
                SecurityKind::AuthFailure if attack => {
                    if rng.u01() < 0.6 {
                        "invalid_password"
                    } else {
                        "unknown_user"
                    }
                }
                SecurityKind::AuthFailure => *rng.pick(&AUTH_RULES),
                SecurityKind::RateLimited => *rng.pick(&LIMIT_RULES),
            };
            rows.push(SecurityRow {
                ts,
                kind,
                source_ip: Some(ip),
                rule: Some(rule.to_string()),
            });
        }
    }
    rows.sort_by_key(|r| r.ts);
    rows
}

#[cfg(test)]
mod tests {
    use crate::generate::generate;
    use crate::generate::test_support::{plan, spec};

    #[test]
    fn security_baseline() {
        let mut s = spec(4, 0.0);
        s.streams = vec!["security".into()];
        let sec = generate(&s, &plan()).unwrap().security.unwrap();
        let per_min = sec.len() as f64 / 330.0;
        assert!((per_min - 4.0).abs() < 0.4, "{per_min}");
    }
}
