//! The `probes` stream: one probe per target per interval from T0, jittered inside its
//! slot, with a log-normal latency and a JSON payload per target. Probe faults make
//! probes fail with a status, drift the payload's schema, or leave a gap.

use super::plan::{CompiledScenario, Effect, SchemaMode};
use super::rng::{grid, lognormal_fit, stream};
use crate::input::{Millis, ProbeRow};
use crate::time::format_rfc3339;

/// The service version the probes report and the health-check log lines mention.
pub(super) const VERSION: &str = "2.14.0";

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The body of a healthy (or schema-drifted) probe response of `target`.
fn probe_payload(target: &str, drift: Option<SchemaMode>, v: [f64; 3], ts: Millis) -> String {
    match target {
        "ttv" => {
            let ttv = (700.0 + 300.0 * v[0]).round() as u64;
            let canary = (ttv as f64 * (0.97 + 0.06 * v[1])).round() as u64;
            let samples = 800 + (v[2] * 400.0) as u64;
            let field = match drift {
                None => format!("\"time_to_value_ms\":{ttv},"),
                Some(SchemaMode::MissingField) => String::new(),
                Some(SchemaMode::WrongType) => format!("\"time_to_value_ms\":\"{ttv}\","),
            };
            format!(
                "{{\"service\":\"ttv\",\"version\":\"{VERSION}\",{field}\"cohorts\":[{{\"cohort\":\"canary\",\"p50_ms\":{canary},\"samples\":{c_samples}}},{{\"cohort\":\"baseline\",\"p50_ms\":{ttv},\"samples\":{samples}}}],\"generated_at\":\"{}\"}}",
                format_rfc3339(ts),
                c_samples = samples / 10,
            )
        }
        "security" => {
            let sessions = 100 + (v[0] * 60.0) as u64;
            let field = match drift {
                None => format!("\"sessions_active\":{sessions},"),
                Some(SchemaMode::MissingField) => String::new(),
                Some(SchemaMode::WrongType) => format!("\"sessions_active\":\"{sessions}\","),
            };
            format!(
                "{{\"service\":\"security\",\"version\":\"{VERSION}\",{field}\"mfa_enforced\":true,\"alerts\":[]}}"
            )
        }
        other => {
            let field = match drift {
                None => "\"status\":\"ok\",".to_string(),
                Some(SchemaMode::MissingField) => String::new(),
                Some(SchemaMode::WrongType) => "\"status\":1,".to_string(),
            };
            format!(
                "{{\"service\":{},\"version\":\"{VERSION}\",{field}\"uptime_s\":{}}}",
                json_str(other),
                3600 + (v[0] * 86_400.0) as u64
            )
        }
    }
}

/// Every probe of the scenario, in timestamp order.
pub(super) fn probes(sc: &CompiledScenario) -> Vec<ProbeRow> {
    let mut rng = sc.rng(stream::PROBES);
    let jitter_max = (sc.probe_interval / 2).clamp(1, 400) as u64;
    // Per fault: probes of its target seen in its span, and failures injected.
    let mut seen = vec![0u32; sc.faults.len()];
    let mut failed = vec![0u32; sc.faults.len()];
    let mut rows = Vec::new();
    for slot_end in grid(sc.t0, sc.t0, sc.end, sc.probe_interval) {
        for target in &sc.targets {
            let ts = slot_end - rng.below(jitter_max) as Millis;
            let z = rng.normal();
            let v = [rng.u01(), rng.u01(), rng.u01()];
            let (median, p95) = match target.as_str() {
                "ttv" => (85.0, 190.0),
                "security" => (55.0, 130.0),
                _ => (60.0, 150.0),
            };
            let (mu, sigma) = lognormal_fit(median, p95);
            let latency_us = ((mu + sigma * z).exp() * 1000.0)
                .round()
                .clamp(1000.0, 60_000_000.0) as u64;

            let mut gap = false;
            let mut status = 200u16;
            let mut drift = None;
            for (i, f) in sc.faults.iter().enumerate() {
                if !f.contains(ts) {
                    continue;
                }
                match &f.effect {
                    Effect::ProbeGap { target: t } if t == target => gap = true,
                    Effect::ProbeStatus {
                        target: t,
                        status: s,
                        every,
                        count,
                    } if t == target => {
                        let j = seen[i];
                        seen[i] += 1;
                        if j % every == 0 && count.is_none_or(|c| failed[i] < c) {
                            failed[i] += 1;
                            status = *s;
                        }
                    }
                    Effect::ProbeSchema {
                        target: t,
                        mode,
                        every,
                        count,
                    } if t == target => {
                        let j = seen[i];
                        seen[i] += 1;
                        if j % every == 0 && count.is_none_or(|c| failed[i] < c) {
                            failed[i] += 1;
                            drift = Some(*mode);
                        }
                    }
                    _ => {}
                }
            }
            if gap {
                continue;
            }
            let (payload, schema_ok) = if status == 200 {
                (probe_payload(target, drift, v, ts), Some(drift.is_none()))
            } else {
                (
                    format!(
                        "{{\"error\":\"upstream unavailable\",\"status\":{status},\"service\":{}}}",
                        json_str(target)
                    ),
                    None,
                )
            };
            rows.push(ProbeRow {
                ts,
                target: target.clone(),
                status,
                latency_us,
                payload: Some(payload),
                schema_ok,
            });
        }
    }
    rows.sort_by_key(|r| r.ts);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::test_support::{MIN, T0, plan, spec, statuses};
    use crate::generate::{Fault, FaultKind, generate};

    #[test]
    fn probe_cadence_is_one_per_target_per_minute() {
        let ds = generate(&spec(5, 1.0), &plan()).unwrap();
        let probes = ds.probes.unwrap();
        for target in ["ttv", "security"] {
            let ts: Vec<Millis> = probes
                .iter()
                .filter(|p| p.target == target)
                .map(|p| p.ts)
                .collect();
            assert_eq!(ts.len(), 330);
            for (k, t) in ts.iter().enumerate() {
                let slot_end = T0 + (k as Millis + 1) * MIN;
                assert!(*t > slot_end - MIN && *t <= slot_end, "{target} #{k}");
            }
        }
        assert!(
            probes
                .iter()
                .all(|p| p.status == 200 && p.schema_ok == Some(true))
        );
        for p in &probes {
            let v: serde_json::Value = serde_json::from_str(p.payload.as_deref().unwrap()).unwrap();
            assert_eq!(v["service"], serde_json::json!(p.target));
        }
    }

    #[test]
    fn probe_status_every_third() {
        let mut s = spec(5, 1.0);
        let mut f = Fault::new(FaultKind::ProbeStatus, "synthetic");
        f.target = Some("ttv".into());
        f.status = Some(503);
        f.every = Some(3);
        f.at = "10m".into();
        f.duration = Some("9m".into());
        s.faults.push(f.clone());
        let ds = generate(&s, &plan()).unwrap();
        let st = statuses(&ds, "ttv");
        // Probes 11..=19 (0-based 10..=18) are in the span; the 1st, 4th, 7th fail.
        let failing: Vec<usize> = (0..st.len()).filter(|&i| st[i] != 200).collect();
        assert_eq!(failing, vec![10, 13, 16]);
        assert!(st.iter().all(|&s| s == 200 || s == 503));
        assert!(statuses(&ds, "security").iter().all(|&s| s == 200));

        // A second fault one minute later builds "fail, fail, pass"; count caps it.
        let mut g = f.clone();
        g.at = "11m".into();
        g.count = Some(2);
        s.faults.push(g);
        let ds = generate(&s, &plan()).unwrap();
        let st = statuses(&ds, "ttv");
        let failing: Vec<usize> = (0..st.len()).filter(|&i| st[i] != 200).collect();
        assert_eq!(failing, vec![10, 11, 13, 14, 16]);
        let p = ds
            .probes
            .as_ref()
            .unwrap()
            .iter()
            .find(|p| p.status == 503)
            .unwrap();
        assert_eq!(p.schema_ok, None);
    }

    #[test]
    fn probe_schema_and_gap() {
        let mut s = spec(5, 1.0);
        let mut f = Fault::new(FaultKind::ProbeSchema, "synthetic");
        f.target = Some("security".into());
        f.mode = Some("wrong_type".into());
        f.count = Some(2);
        s.faults.push(f);
        let mut g = Fault::new(FaultKind::ProbeGap, "ramp-5");
        g.target = Some("ttv".into());
        g.at = "5m".into();
        g.duration = Some("5m".into());
        s.faults.push(g);
        let ds = generate(&s, &plan()).unwrap();
        let probes = ds.probes.unwrap();
        let bad: Vec<&ProbeRow> = probes
            .iter()
            .filter(|p| p.schema_ok == Some(false))
            .collect();
        assert_eq!(bad.len(), 2);
        assert!(
            bad.iter()
                .all(|p| p.status == 200 && p.target == "security")
        );
        assert!(
            bad[0]
                .payload
                .as_deref()
                .unwrap()
                .contains("\"sessions_active\":\"")
        );
        assert_eq!(probes.iter().filter(|p| p.target == "ttv").count(), 325);
    }
}
