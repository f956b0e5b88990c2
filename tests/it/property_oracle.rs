//! Property test: the engine against the naive reference evaluator of `tests/it/oracle`
//! (written from the rollout contract alone) on small random datasets under a shrunk
//! policy (stages of 20, 10-12, 15 and 15 minutes, so holds and sustained triggers
//! actually happen). Timestamps pile up on tick and stage boundaries, latencies on the
//! thresholds, probe failures come in runs of 1 to 4, and the optional streams come and
//! go. Besides agreement with the oracle, the engine must not depend on the request
//! batch size nor on the order of the requests. A few deterministic regression tests
//! pin boundary cases.
//!
//! `PROPTEST_CASES` sets the number of cases (default 128); `ORACLE_STATS=1` prints how
//! far each case's rollout got; `ORACLE_DUMP=FILE` writes the minimal failing dataset.

use crate::oracle;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use rehearse::app::replay::replay_dataset;
use rehearse::engine::Run;
use rehearse::input::{
    Cohort, Dataset, InfraRow, LogRow, Millis, PageKind, PageRow, ProbeRow, RequestRow,
    SecurityKind, SecurityRow, Source,
};
use rehearse::policy::{Policy, PolicyBuilder};
use rehearse::verdict::{Gate, GateState, Outcome, Verdict, VerdictEvent};

/// 2026-03-02T10:00:00Z.
const T0: Millis = 1_772_445_600_000;
const MIN: Millis = 60_000;

/// The shrunk policy of the property test.
fn policy(ramp5_min: i64, min_requests: u64, endpoint_min: u64, period: &str) -> Policy {
    PolicyBuilder::new()
        .set("stages.synthetic.duration=20m")
        .and_then(|b| b.set(&format!("stages.ramp-5.duration={ramp5_min}m")))
        .and_then(|b| b.set("stages.ramp-25.duration=15m"))
        .and_then(|b| b.set("stages.full.duration=15m"))
        .and_then(|b| b.set(&format!("rollout.min_requests={min_requests}")))
        .and_then(|b| b.set(&format!("endpoints.min_requests={endpoint_min}")))
        .and_then(|b| b.set(&format!("budget.period={period}")))
        .and_then(|b| b.build())
        .expect("the shrunk policy is valid")
}

fn total_min(p: &Policy) -> i64 {
    p.stages.iter().map(|s| s.duration_ms).sum::<i64>() / MIN
}

// ---------------------------------------------------------------------------------------
// Raw generated values (small integers that shrink towards the plain cases) and the
// deterministic construction of a dataset from them.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Knobs {
    ramp5_min: i64,
    min_requests: u64,
    endpoint_min: u64,
    period: u8,
    /// `split % 4`: canary share 50 % but none in the synthetic stage (0, 3), 50 %
    /// everywhere (1), the stage weight (2); `split / 3 % 3`: how often latencies sit exactly on
    /// a threshold (never, 1/64, 1/16); `split / 9 % 4`: error statuses (none, about 1/256
    /// each, 1/128 each, none).
    split: u8,
    /// Bad periods: (start minute, length in minutes, kind, intensity %).
    regimes: Vec<(u8, u8, u8, u8)>,
}

/// A request: (timestamp selector, timestamp mode, latency selector, status selector,
/// cohort selector, source selector, endpoint selector, regime roll).
type RawReq = (u32, u8, u16, u8, u8, u8, u8, u8);

#[derive(Clone, Debug)]
struct RawProbes {
    extra_target: bool,
    /// How often a minute has no probe: never, 4/256, 12/256; `15 (mod 16)`: the
    /// `security` target has no probe at all.
    miss: u8,
    /// Per target and minute: presence/jitter selector and a pass flavour.
    minutes: Vec<(u8, u8)>,
    /// Failure runs: (target, start minute, length 1..=4, flavour).
    runs: Vec<(u8, u8, u8, u8)>,
    /// Sparse schema failures: (target, start minute, count, every n minutes).
    sparse: Option<(u8, u8, u8, u8)>,
    /// Duplicate rows at the same timestamp: (index selector, fails).
    dups: Vec<(u16, bool)>,
    /// Move a few probes to the end of the file (unsorted input).
    unsorted: Vec<u16>,
}

/// An infra sample: (timestamp selector, cohort selector, cpu, mem, db, queue).
type RawInfra = (u32, u8, u8, u8, u8, u8);

#[derive(Clone, Debug)]
struct RawInfraStream {
    bad_pct: u8,
    bad_window: (u8, u8),
    rows: Vec<RawInfra>,
}

#[derive(Clone, Debug)]
struct RawSecurity {
    /// `% 4`: no pre-T0 events (0), the earliest exactly at T0 - 60m (1), a millisecond
    /// before (2) or after (3); `/ 4`: the kind of that earliest event.
    pre_mode: u8,
    /// Pre-T0 `waf_block` and `auth_failure` counts, or (when `near`) counts placed on the
    /// spike rule's boundary for the first burst's rate, shifted by the delta.
    pre_counts: (u16, u16),
    near: Option<i8>,
    background: Vec<(u32, u8)>,
    /// Bursts: (start minute, length in minutes, events per minute, kind).
    bursts: Vec<(u8, u8, u8, u8)>,
}

#[derive(Clone, Debug)]
struct RawLogs {
    rows: Vec<(u32, u8)>,
    /// A PII line every `every` minutes from `start` for `len` minutes.
    burst: Option<(u8, u8, u8)>,
}

/// A page: (timestamp selector, kind, bad roll, which field is bad, value selector, test_mode).
type RawPage = (u32, u8, u8, u8, u8, u8);

#[derive(Clone, Debug)]
struct RawPages {
    bad_pct: u8,
    /// The one field a bad row spoils in this case (so a single rule decides).
    field: u8,
    rows: Vec<RawPage>,
}

#[derive(Clone, Debug)]
struct Case {
    knobs: Knobs,
    requests: Vec<RawReq>,
    probes: Option<RawProbes>,
    infra: Option<RawInfraStream>,
    security: Option<RawSecurity>,
    logs: Option<RawLogs>,
    pages: Option<RawPages>,
}

const ENDPOINTS: [&str; 10] = [
    "/api/ttv/score",
    "/api/ttv/score",
    "/api/checkout",
    "/",
    "/api/security/scan",
    "/api/infra/hosts",
    "/api/admin/users",
    "/api/Security/scan",
    "/api/securityx",
    "/api/admin",
];
const NEAR_LATENCIES: [u64; 15] = [
    119_999, 120_000, 120_001, 199_999, 200_000, 200_001, 249_999, 250_000, 250_001, 599_999,
    600_000, 600_001, 0, 1, 1_000_000,
];

/// Minute offset of the timestamp space: timestamps run over `T0 - 2m .. end + 2m`.
fn ts_in_span(sel: u32, total: i64) -> Millis {
    let span = (total + 4) * MIN;
    T0 - 2 * MIN + (sel as i64 % span)
}

/// A timestamp: on a tick boundary, a millisecond off one, or anywhere.
fn ts_of(sel: u32, mode: u8, total: i64) -> Millis {
    let k = (sel as i64 % (total + 5)) - 2;
    match mode % 6 {
        0 => T0 + k * MIN,
        1 => T0 + k * MIN + if sel % 2 == 0 { 1 } else { -1 },
        _ => ts_in_span(sel, total),
    }
}

fn weight_at(p: &Policy, ts: Millis) -> f64 {
    p.stages
        .iter()
        .find(|s| T0 + s.start_ms < ts && ts <= T0 + s.start_ms + s.duration_ms)
        .map_or(0.5, |s| s.weight)
}

/// The regime kinds active at `ts` (with their intensity).
fn regimes_at(knobs: &Knobs, ts: Millis) -> Vec<(u8, u8)> {
    knobs
        .regimes
        .iter()
        .filter(|(start, len, _, _)| {
            let a = T0 + *start as i64 * MIN;
            a < ts && ts <= a + *len as i64 * MIN
        })
        .map(|&(_, _, kind, intensity)| (kind % 6, intensity))
        .collect()
}

fn build_requests(p: &Policy, c: &Case) -> Vec<RequestRow> {
    let total = total_min(p);
    c.requests
        .iter()
        .map(
            |&(ts_sel, mode, lat_sel, status_sel, cohort_sel, source_sel, ep_sel, roll)| {
                let ts = ts_of(ts_sel, mode, total);
                let canary = match c.knobs.split % 4 {
                    0 | 3 => cohort_sel % 2 == 0 && weight_at(p, ts) > 0.0,
                    1 => cohort_sel % 2 == 0,
                    _ => (cohort_sel as f64 / 256.0) < weight_at(p, ts),
                };
                let status_sel = match c.knobs.split / 9 % 4 {
                    0 | 3 => 255,
                    1 => status_sel | 1,
                    _ => status_sel % 128,
                };
                let spice = [u16::MAX, 64, 16][c.knobs.split as usize / 3 % 3];
                let source = if source_sel % 8 == 7 {
                    Source::Synthetic
                } else {
                    Source::Real
                };
                let endpoint = ENDPOINTS[ep_sel as usize % ENDPOINTS.len()];
                let mut status: u16 = match status_sel {
                    0 => 404,
                    1 => 401,
                    2 => 403,
                    3 => 500,
                    4 => 422,
                    5 => 401,
                    6 => 302,
                    7 => 503,
                    _ => 200,
                };
                let mut latency_us: u64 = if lat_sel % spice == 0 {
                    NEAR_LATENCIES[(lat_sel / spice) as usize % NEAR_LATENCIES.len()]
                } else {
                    5_000 + (lat_sel as u64 * 7) % 105_000
                };
                for (kind, intensity) in regimes_at(&c.knobs, ts) {
                    if roll % 100 >= intensity % 101 {
                        continue;
                    }
                    match kind {
                        0 => status = [500, 503, 599, 502][roll as usize % 4],
                        1 => status = [404, 400, 422, 499][roll as usize % 4],
                        2 => latency_us = [200_001, 250_000, 250_001, 300_000][roll as usize % 4],
                        3 => latency_us = [600_000, 600_001, 900_000][roll as usize % 3],
                        4 if endpoint.starts_with("/api/security/")
                            || endpoint.starts_with("/api/infra/")
                            || endpoint.starts_with("/api/admin/") =>
                        {
                            latency_us = [250_000, 250_001, 400_000][roll as usize % 3]
                        }
                        5 => status = if roll % 2 == 0 { 401 } else { 403 },
                        _ => {}
                    }
                }
                RequestRow {
                    ts,
                    endpoint: endpoint.to_string(),
                    cohort: if canary {
                        Cohort::Canary
                    } else {
                        Cohort::Baseline
                    },
                    source,
                    status,
                    latency_us,
                    user_id: None,
                    region: None,
                    method: None,
                }
            },
        )
        .collect()
}

fn probe(ts: Millis, target: &str, fails: bool, flavour: u8) -> ProbeRow {
    let (status, schema_ok) = if fails {
        match flavour % 4 {
            0 => (500, None),
            1 => (200, Some(false)),
            2 => (503, Some(false)),
            _ => (404, Some(true)),
        }
    } else {
        match flavour % 3 {
            0 => (200, None),
            1 => (200, Some(true)),
            // A failed schema on a non-200 probe is no schema failure, but the probe fails.
            _ => (200, None),
        }
    };
    ProbeRow {
        ts,
        target: target.to_string(),
        status,
        latency_us: 40_000,
        payload: None,
        schema_ok,
    }
}

fn build_probes(p: &Policy, rp: &RawProbes) -> Vec<ProbeRow> {
    let total = total_min(p);
    let mut targets = vec!["ttv", "security"];
    if rp.extra_target {
        targets.push("checkout");
    }
    let minutes = (total + 2) as usize;
    let mut rows = Vec::new();
    for m in 0..minutes {
        for (ti, target) in targets.iter().enumerate() {
            let (sel, flavour) = rp
                .minutes
                .get((ti * minutes + m) % rp.minutes.len().max(1))
                .copied()
                .unwrap_or((100, 0));
            if sel < [0, 4, 12][rp.miss as usize % 3]
                || (rp.miss % 16 == 15 && *target == "security")
            {
                continue; // a missing minute
            }
            let jitter = if sel % 8 == 0 {
                (sel as i64 * 131) % 45_000
            } else {
                0
            };
            let ts = T0 + m as i64 * MIN + jitter;
            let mut fails = false;
            let mut fl = flavour;
            for &(rt, start, len, rflav) in &rp.runs {
                let len = 1 + len % 4;
                if rt as usize % targets.len() == ti
                    && (start as usize..start as usize + len as usize).contains(&m)
                {
                    fails = true;
                    fl = rflav;
                }
            }
            if let Some((st, start, count, every)) = rp.sparse {
                let every = 2 + every as usize % 5;
                let start = start as usize;
                if st as usize % targets.len() == ti
                    && m >= start
                    && (m - start) % every == 0
                    && (m - start) / every < count as usize % 12
                {
                    fails = true;
                    fl = 1;
                }
            }
            rows.push(probe(ts, target, fails, fl));
        }
    }
    for &(sel, fails) in &rp.dups {
        if rows.is_empty() {
            break;
        }
        let i = sel as usize % rows.len();
        let copy = probe(rows[i].ts, &rows[i].target.clone(), fails, sel as u8);
        rows.insert(i + 1, copy);
    }
    for &sel in &rp.unsorted {
        if rows.is_empty() {
            break;
        }
        let i = sel as usize % rows.len();
        let r = rows.remove(i);
        rows.push(r);
    }
    rows
}

fn build_infra(p: &Policy, ri: &RawInfraStream) -> Vec<InfraRow> {
    let total = total_min(p);
    const CPU_BAD: [f64; 6] = [0.599_999_999, 0.6, 0.600_000_001, 0.7, 0.95, 0.6];
    const MEM_BAD: [f64; 5] = [0.299_999_999, 0.3, 0.300_000_001, 0.1, 0.3];
    const DB_BAD: [Option<f64>; 5] = [Some(49.999), Some(50.0), Some(50.001), Some(90.0), None];
    const Q_BAD: [Option<f64>; 6] = [
        Some(999.9),
        Some(1000.0),
        Some(1000.1),
        Some(1001.0),
        Some(5000.0),
        None,
    ];
    ri.rows
        .iter()
        .map(|&(ts_sel, cohort_sel, cpu, mem, db, q)| {
            let ts = ts_of(ts_sel, (ts_sel % 3) as u8, total);
            let a = T0 + ri.bad_window.0 as i64 * MIN;
            let in_bad = a < ts && ts <= a + ri.bad_window.1 as i64 * MIN;
            let pct = if in_bad { 90 } else { ri.bad_pct % 4 };
            let bad = |sel: u8| (sel % 100) < pct;
            InfraRow {
                ts,
                cpu: if bad(cpu) {
                    CPU_BAD[cpu as usize % CPU_BAD.len()]
                } else {
                    0.1 + (cpu % 40) as f64 / 100.0
                },
                mem_free: if bad(mem) {
                    MEM_BAD[mem as usize % MEM_BAD.len()]
                } else {
                    0.35 + (mem % 50) as f64 / 100.0
                },
                host: None,
                cohort: match cohort_sel % 4 {
                    0 | 1 => Some(Cohort::Canary),
                    2 => Some(Cohort::Baseline),
                    _ => None,
                },
                db_p95_ms: if bad(db) {
                    DB_BAD[db as usize % DB_BAD.len()]
                } else if db % 9 == 0 {
                    None
                } else {
                    Some(5.0 + (db % 40) as f64)
                },
                queue_depth: if bad(q) {
                    Q_BAD[q as usize % Q_BAD.len()]
                } else if q % 9 == 0 {
                    None
                } else {
                    Some((q as f64) * 3.0)
                },
            }
        })
        .collect()
}

fn sec_kind(sel: u8) -> SecurityKind {
    match sel % 3 {
        0 => SecurityKind::WafBlock,
        1 => SecurityKind::AuthFailure,
        _ => SecurityKind::RateLimited,
    }
}

fn sec_row(ts: Millis, kind: SecurityKind) -> SecurityRow {
    SecurityRow {
        ts,
        kind,
        source_ip: None,
        rule: None,
    }
}

fn build_security(p: &Policy, rs: &RawSecurity) -> Vec<SecurityRow> {
    let total = total_min(p);
    let mut rows = Vec::new();
    let base = T0 - 60 * MIN;
    let first = match rs.pre_mode % 4 {
        0 => None,
        1 => Some(base),
        2 => Some(base - 1),
        _ => Some(base + 1),
    };
    if let Some(first) = first {
        rows.push(sec_row(first, sec_kind(rs.pre_mode / 4)));
        let span = T0 - first - 1;
        // A window of L minutes at r events per minute breaches when 5r > 3nL/60, that is
        // n < 20r: `near` puts n right there.
        let rate0 = rs.bursts.first().map_or(6, |b| 3 + (b.2 % 7) as i64);
        for (kind, sel) in [
            (SecurityKind::WafBlock, rs.pre_counts.0),
            (SecurityKind::AuthFailure, rs.pre_counts.1),
        ] {
            let n = match rs.near {
                Some(d) => (20 * rate0 + (d % 3) as i64).max(0),
                None => sel as i64 % 200,
            };
            for i in 0..n {
                rows.push(sec_row(first + 1 + (i * 7919 * 13) % span, kind));
            }
        }
        // Events exactly at T0 are in neither the baseline nor a stage.
        rows.push(sec_row(T0, SecurityKind::WafBlock));
    }
    for &(sel, kind) in &rs.background {
        rows.push(sec_row(ts_of(sel, kind, total), sec_kind(kind)));
    }
    for &(start, len, rate, kind) in &rs.bursts {
        for m in 0..(len % 20) as i64 {
            for j in 0..(3 + rate % 7) as i64 {
                let ts = T0 + (start as i64 + m) * MIN + (j * 9_973 + start as i64) % MIN;
                rows.push(sec_row(ts, sec_kind(kind)));
            }
        }
    }
    rows
}

const CLEAN_LOGS: [&str; 6] = [
    "request served in 12 ms",
    "user 12345 logged in",
    "order 4242-4242 shipped",
    "version 1.2.3 deployed",
    "retrying call to pkg@1.2.3",
    "build 2026-03-02 ok",
];
const PII_LOGS: [&str; 5] = [
    "contact jane.doe@example.com about the refund",
    "card 4242 4242 4242 4242 declined",
    "ssn 123-45-6789 on file",
    "call +14155552671 back",
    "iban GB82 WEST 1234 5698 7654 32 updated",
];

fn ts_sel_pick(sel: u32) -> usize {
    (sel / 7) as usize
}

fn build_logs(p: &Policy, rl: &RawLogs) -> Vec<LogRow> {
    let total = total_min(p);
    let log = |ts: Millis, message: &str| LogRow {
        ts,
        message: message.to_string(),
        service: None,
        level: None,
    };
    let mut rows: Vec<LogRow> = rl
        .rows
        .iter()
        .map(|&(sel, msg)| {
            let message = if msg == 0 {
                PII_LOGS[ts_sel_pick(sel) % PII_LOGS.len()]
            } else {
                CLEAN_LOGS[msg as usize % CLEAN_LOGS.len()]
            };
            log(ts_of(sel, msg, total), message)
        })
        .collect();
    if let Some((start, len, every)) = rl.burst {
        let every = 1 + every as i64 % 6;
        let mut m = start as i64;
        while m <= start as i64 + len as i64 % 25 {
            rows.push(log(T0 + m * MIN, PII_LOGS[m as usize % PII_LOGS.len()]));
            m += every;
        }
    }
    rows
}

fn build_pages(p: &Policy, rp: &RawPages) -> Vec<PageRow> {
    let total = total_min(p);
    const CACHE: [&str; 10] = [
        "no-cache",
        "No-Store",
        "private, no-cache=\"set-cookie\"",
        "public,no-store",
        " NO-CACHE ",
        // Not the directives:
        "no-cachex",
        "x-no-store",
        "max-age=0, must-revalidate",
        "public, max-age=60",
        "",
    ];
    const ROBOTS: [&str; 8] = [
        "noindex",
        "NoIndex, follow",
        "none",
        "index,nofollow,NONE",
        "max-image-preview:none",
        "nonexistent",
        "index, follow",
        "noindexer",
    ];
    rp.rows
        .iter()
        .map(|&(ts_sel, kind, roll, field, val, tm)| {
            let kind = match kind % 3 {
                0 => PageKind::Seo,
                1 => PageKind::Api,
                _ => PageKind::App,
            };
            let mut row = PageRow {
                ts: ts_of(ts_sel, (kind as u8).wrapping_add(roll), total),
                path: "/p".into(),
                kind,
                status: 200,
                cache_control: "public, max-age=60".into(),
                test_mode: match tm % 3 {
                    0 => None,
                    1 => Some(false),
                    _ => Some(true),
                },
                canonical: Some("https://example.com/p".into()),
                robots: Some("index, follow".into()),
                in_sitemap: Some(true),
                prerendered: if tm % 5 == 0 { None } else { Some(true) },
            };
            if roll % 100 < rp.bad_pct % 20 {
                match (field / 128).wrapping_add(rp.field) % 6 {
                    0 => row.cache_control = CACHE[val as usize % CACHE.len()].into(),
                    1 => row.status = [404, 301, 500, 200][val as usize % 4],
                    2 => {
                        row.canonical = [None, Some(String::new()), Some("https://x/".to_string())]
                            [val as usize % 3]
                            .clone()
                    }
                    3 => row.robots = Some(ROBOTS[val as usize % ROBOTS.len()].into()),
                    4 => row.in_sitemap = [Some(false), None, Some(true)][val as usize % 3],
                    _ => row.prerendered = [Some(false), None, Some(true)][val as usize % 3],
                }
            }
            row
        })
        .collect()
}

fn build(c: &Case) -> (Policy, Dataset) {
    let period = ["30d", "30d", "30d", "1d", "6h", "2h"][c.knobs.period as usize % 6];
    let p = policy(
        c.knobs.ramp5_min,
        c.knobs.min_requests,
        c.knobs.endpoint_min,
        period,
    );
    let ds = Dataset {
        start: Some(T0),
        requests: build_requests(&p, c),
        probes: c.probes.as_ref().map(|r| build_probes(&p, r)),
        infra: c.infra.as_ref().map(|r| build_infra(&p, r)),
        security: c.security.as_ref().map(|r| build_security(&p, r)),
        logs: c.logs.as_ref().map(|r| build_logs(&p, r)),
        pages: c.pages.as_ref().map(|r| build_pages(&p, r)),
        funnel: None,
        ledger: None,
    };
    (p, ds)
}

// ---------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        10i64..=12,
        5u64..=20,
        3u64..=20,
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec((0u8..62, 1u8..25, any::<u8>(), 0u8..=100), 0..=2),
    )
        .prop_map(
            |(ramp5_min, min_requests, endpoint_min, period, split, regimes)| Knobs {
                ramp5_min,
                min_requests,
                endpoint_min,
                period,
                split,
                regimes,
            },
        )
}

fn requests() -> impl Strategy<Value = Vec<RawReq>> {
    let row = || {
        (
            any::<u32>(),
            any::<u8>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        )
    };
    prop_oneof![
        1 => prop::collection::vec(row(), 50..=400),
        5 => prop::collection::vec(row(), 1500..=3000),
    ]
}

fn probes() -> impl Strategy<Value = RawProbes> {
    (
        (prop::bool::weighted(0.2), any::<u8>()),
        prop::collection::vec((any::<u8>(), any::<u8>()), 1..200),
        prop_oneof![
            2 => Just(Vec::new()),
            1 => prop::collection::vec((any::<u8>(), 0u8..64, any::<u8>(), any::<u8>()), 1..3)
        ],
        prop::option::weighted(0.15, (any::<u8>(), 0u8..60, any::<u8>(), any::<u8>())),
        prop::collection::vec((any::<u16>(), prop::bool::weighted(0.2)), 0..3),
        prop::collection::vec(any::<u16>(), 0..2),
    )
        .prop_map(
            |((extra_target, miss), minutes, runs, sparse, dups, unsorted)| RawProbes {
                extra_target,
                miss,
                minutes,
                runs,
                sparse,
                dups,
                unsorted,
            },
        )
}

fn infra() -> impl Strategy<Value = RawInfraStream> {
    (
        prop_oneof![2 => Just(0u8), 1 => 1u8..4],
        prop_oneof![Just((0u8, 0u8)), (0u8..64, 1u8..24)],
        prop::collection::vec(
            (
                any::<u32>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
            ),
            0..300,
        ),
    )
        .prop_map(|(bad_pct, bad_window, rows)| RawInfraStream {
            bad_pct,
            bad_window,
            rows,
        })
}

fn security() -> impl Strategy<Value = RawSecurity> {
    (
        any::<u8>(),
        (any::<u16>(), any::<u16>()),
        prop::option::weighted(0.5, -2i8..=2),
        prop::collection::vec((any::<u32>(), any::<u8>()), 0..60),
        prop::collection::vec((0u8..62, 1u8..20, any::<u8>(), any::<u8>()), 0..3),
    )
        .prop_map(
            |(pre_mode, pre_counts, near, background, bursts)| RawSecurity {
                pre_mode,
                pre_counts,
                near,
                background,
                bursts,
            },
        )
}

fn logs() -> impl Strategy<Value = RawLogs> {
    (
        prop::collection::vec((any::<u32>(), any::<u8>()), 0..80),
        prop::option::weighted(0.3, (0u8..62, any::<u8>(), any::<u8>())),
    )
        .prop_map(|(rows, burst)| RawLogs { rows, burst })
}

fn pages() -> impl Strategy<Value = RawPages> {
    (
        prop_oneof![2 => Just(0u8), 1 => 1u8..20],
        any::<u8>(),
        prop::collection::vec(
            (
                any::<u32>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
            ),
            0..60,
        ),
    )
        .prop_map(|(bad_pct, field, rows)| RawPages {
            bad_pct,
            field,
            rows,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        knobs(),
        requests(),
        prop::option::weighted(0.8, probes()),
        prop::option::weighted(0.5, infra()),
        prop::option::weighted(0.5, security()),
        prop::option::weighted(0.5, logs()),
        prop::option::weighted(0.4, pages()),
    )
        .prop_map(
            |(knobs, requests, probes, infra, security, logs, pages)| Case {
                knobs,
                requests,
                probes,
                infra,
                security,
                logs,
                pages,
            },
        )
}

// ---------------------------------------------------------------------------------------
// Comparison.
// ---------------------------------------------------------------------------------------

fn run_engine(p: &Policy, ds: &Dataset, batch: usize) -> Run {
    let setup = rehearse::app::setup(p.clone()).expect("no schema files");
    replay_dataset(&setup, ds, None, batch).expect("replay").run
}

/// The decisions of a run: outcome, rollback, verdicts and reasons, and per tick the
/// request count and each gate's state and trigger flag.
type Decisions = (
    Outcome,
    Option<(Millis, usize, Vec<Gate>)>,
    Vec<(Verdict, Vec<Gate>)>,
    Vec<(u32, Millis, usize, u64, Vec<(Gate, GateState, bool)>)>,
);

fn decisions(run: &Run) -> Decisions {
    let ticks = run
        .events
        .iter()
        .filter_map(|e| match e {
            VerdictEvent::Tick(t) => Some((
                t.k,
                t.at,
                t.stage,
                t.requests,
                t.gates
                    .iter()
                    .map(|g| (g.gate, g.state, g.trigger))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    (
        run.outcome,
        run.rollback.clone(),
        run.stages
            .iter()
            .map(|s| (s.verdict, s.reasons.clone()))
            .collect(),
        ticks,
    )
}

/// Compares the engine with the oracle; the error names the first difference.
fn compare(p: &Policy, ds: &Dataset, run: &Run) -> Result<(), String> {
    let o = oracle::evaluate(p, ds, T0);
    let mut errs = Vec::new();
    // The engine reports every tick up to the judgement (rollback instant or the end of
    // the last stage it ran).
    let stop = match &o.rollback {
        Some((at, _, _)) => *at,
        None => {
            let last = o
                .stages
                .iter()
                .rposition(|s| s.verdict != Verdict::NotRun)
                .unwrap_or(0);
            T0 + p.stages[last].start_ms + p.stages[last].duration_ms
        }
    };
    let expected: Vec<u32> = o
        .ticks
        .iter()
        .filter(|t| t.at <= stop)
        .map(|t| t.k)
        .collect();
    let emitted: Vec<u32> = run
        .events
        .iter()
        .filter_map(|e| match e {
            VerdictEvent::Tick(t) => Some(t.k),
            _ => None,
        })
        .collect();
    if emitted != expected {
        errs.push(format!(
            "ticks emitted: engine {}..={} ({} ticks), oracle expects 1..={}",
            emitted.first().unwrap_or(&0),
            emitted.last().unwrap_or(&0),
            emitted.len(),
            expected.len()
        ));
    }
    if run.outcome != o.outcome {
        errs.push(format!(
            "outcome: engine {:?}, oracle {:?}",
            run.outcome, o.outcome
        ));
    }
    if run.rollback != o.rollback {
        errs.push(format!(
            "rollback: engine {:?}, oracle {:?}",
            run.rollback, o.rollback
        ));
    }
    for (i, (s, os)) in run.stages.iter().zip(&o.stages).enumerate() {
        if s.verdict != os.verdict || s.reasons != os.reasons {
            errs.push(format!(
                "stage {i} ({}): engine {:?} {:?}, oracle {:?} {:?}",
                s.name, s.verdict, s.reasons, os.verdict, os.reasons
            ));
        }
    }
    if run.stages.len() != o.stages.len() {
        errs.push(format!(
            "stage count: engine {}, oracle {}",
            run.stages.len(),
            o.stages.len()
        ));
    }
    for e in &run.events {
        let VerdictEvent::Tick(t) = e else { continue };
        let Some(ot) = o.ticks.iter().find(|x| x.k == t.k) else {
            errs.push(format!("tick {}: not a tick of the oracle", t.k));
            continue;
        };
        if (t.at, t.stage, t.requests) != (ot.at, ot.stage, ot.requests) {
            errs.push(format!(
                "tick {}: engine at/stage/requests {:?}, oracle {:?}",
                t.k,
                (t.at, t.stage, t.requests),
                (ot.at, ot.stage, ot.requests)
            ));
        }
        for (gate, &(state, trig)) in &ot.gates {
            let (es, et) = t
                .gates
                .iter()
                .find(|g| g.gate == *gate)
                .map_or((GateState::NotEvaluated, false), |g| (g.state, g.trigger));
            if (es, et) != (state, trig) {
                errs.push(format!(
                    "tick {} ({}) {}: engine {:?}/trigger {}, oracle {:?}/trigger {}",
                    t.k,
                    (t.at - T0) / 1000,
                    gate.as_str(),
                    es,
                    et,
                    state,
                    trig
                ));
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        let n = errs.len();
        errs.truncate(12);
        Err(format!("{n} difference(s):\n  {}", errs.join("\n  ")))
    }
}

/// A deterministic shuffle (xorshift) of the requests.
fn shuffled(ds: &Dataset, seed: u64) -> Dataset {
    let mut out = ds.clone();
    let mut x = seed | 1;
    for i in (1..out.requests.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        out.requests.swap(i, j);
    }
    out
}

/// With `ORACLE_STATS` set, one line per case on stderr: how far the rollout got and why
/// (to check that the strategies reach every stage and gate).
fn print_stats(run: &Run) {
    let stage = run.stages.iter().position(|s| s.verdict != Verdict::Go);
    let reasons: Vec<&str> = stage.map_or(Vec::new(), |i| {
        run.stages[i].reasons.iter().map(|g| g.as_str()).collect()
    });
    let mut breached = std::collections::BTreeSet::new();
    for e in &run.events {
        if let VerdictEvent::Tick(t) = e {
            breached.extend(
                t.gates
                    .iter()
                    .filter(|g| g.state == GateState::Breach)
                    .map(|g| g.gate.as_str()),
            );
        }
    }
    eprintln!(
        "STAT {} at stage {stage:?} {reasons:?}; breached at ticks: {breached:?}",
        run.outcome.as_str()
    );
}

fn check_case(c: &Case) -> Result<(), TestCaseError> {
    let (p, ds) = build(c);
    let run = run_engine(&p, &ds, 8192);
    if std::env::var_os("ORACLE_STATS").is_some() {
        print_stats(&run);
    }
    compare(&p, &ds, &run).map_err(TestCaseError::fail)?;
    let base = decisions(&run);
    for batch in [1, 7] {
        let other = run_engine(&p, &ds, batch);
        prop_assert_eq!(
            decisions(&other),
            base.clone(),
            "batch size {} changes the decisions",
            batch
        );
        prop_assert_eq!(
            &other.events,
            &run.events,
            "batch size {} changes the events",
            batch
        );
    }
    let sh = shuffled(&ds, ds.requests.len() as u64 * 2_654_435_761);
    let other = run_engine(&p, &sh, 8192);
    prop_assert_eq!(
        decisions(&other),
        base,
        "shuffling the requests changes the decisions"
    );
    prop_assert_eq!(
        &other.events,
        &run.events,
        "shuffling the requests changes the events"
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(128)
}

#[test]
fn engine_agrees_with_the_oracle() {
    let config = Config {
        cases: cases(),
        max_shrink_iters: 400,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |c| check_case(&c));
    if let Err(e) = result {
        if let proptest::test_runner::TestError::Fail(msg, c) = &e {
            if let Ok(path) = std::env::var("ORACLE_DUMP") {
                let (p, ds) = build(c);
                let _ = std::fs::write(path, format!("{:#?}\n{:#?}\n", p.stages, ds));
            }
            panic!(
                "{msg}\n(minimal case: {} requests; set ORACLE_DUMP=FILE to write the dataset)",
                c.requests.len()
            );
        }
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic regressions.
// ---------------------------------------------------------------------------------------

fn req(ts: Millis, status: u16, latency_us: u64) -> RequestRow {
    RequestRow {
        ts,
        endpoint: "/api/ttv/score".into(),
        cohort: Cohort::Canary,
        source: Source::Real,
        status,
        latency_us,
        user_id: None,
        region: None,
        method: None,
    }
}

fn small_policy() -> Policy {
    policy(10, 5, 20, "30d")
}

fn assert_agrees(p: &Policy, ds: &Dataset) -> Run {
    let run = run_engine(p, ds, 8192);
    if let Err(e) = compare(p, ds, &run) {
        panic!("{e}");
    }
    run
}

fn policy_with(sets: &[&str]) -> Policy {
    let mut b = PolicyBuilder::new();
    for s in [
        "stages.synthetic.duration=20m",
        "stages.ramp-5.duration=10m",
        "stages.ramp-25.duration=15m",
        "stages.full.duration=15m",
        "rollout.min_requests=5",
    ]
    .iter()
    .chain(sets)
    {
        b = b.set(s).expect("valid --set");
    }
    b.build().expect("valid policy")
}

/// The state of `gate` at tick `k` as the engine reported it.
fn tick_state(run: &Run, k: u32, gate: Gate) -> Option<GateState> {
    run.events.iter().find_map(|e| match e {
        VerdictEvent::Tick(t) if t.k == k => {
            t.gates.iter().find(|g| g.gate == gate).map(|g| g.state)
        }
        _ => None,
    })
}

fn verdicts(run: &Run) -> Vec<(Verdict, Vec<Gate>)> {
    run.stages
        .iter()
        .map(|s| (s.verdict, s.reasons.clone()))
        .collect()
}

/// Ten fast canary real requests half a second before every tick from `from` to `to`.
fn steady(from: i64, to: i64) -> Vec<RequestRow> {
    (from..=to)
        .flat_map(|k| (0..10).map(move |_| req(T0 + k * MIN - 500, 200, 50_000)))
        .collect()
}

/// Windows are `(t - 5m, t]`: requests exactly on tick 5 count at ticks 5 to 9, not at 10;
/// requests exactly at T0 count nowhere.
#[test]
fn windows_are_half_open() {
    let p = small_policy();
    let mut requests = Vec::new();
    for k in 0..=60i64 {
        for _ in 0..5 {
            requests.push(req(T0 + k * MIN, 200, 50_000));
        }
    }
    for _ in 0..40 {
        requests.push(req(T0, 200, 900_000));
        requests.push(req(T0 + 5 * MIN, 200, 210_000));
    }
    let ds = Dataset {
        start: Some(T0),
        requests,
        ..Dataset::default()
    };
    let run = assert_agrees(&p, &ds);
    assert_eq!(tick_state(&run, 1, Gate::LatencyP95), Some(GateState::Ok));
    assert_eq!(tick_state(&run, 4, Gate::LatencyP95), Some(GateState::Ok));
    assert_eq!(
        tick_state(&run, 5, Gate::LatencyP95),
        Some(GateState::Breach)
    );
    assert_eq!(
        tick_state(&run, 9, Gate::LatencyP95),
        Some(GateState::Breach)
    );
    assert_eq!(tick_state(&run, 10, Gate::LatencyP95), Some(GateState::Ok));
}

/// Latency exactly at the trigger threshold does not breach; one microsecond above does.
#[test]
fn latency_threshold_is_strict() {
    let p = small_policy();
    for (lat, expect_rollback) in [(250_000, false), (250_001, true)] {
        let requests: Vec<_> = steady(1, 60)
            .into_iter()
            .map(|r| RequestRow {
                latency_us: lat,
                ..r
            })
            .collect();
        let ds = Dataset {
            start: Some(T0),
            requests,
            ..Dataset::default()
        };
        let run = assert_agrees(&p, &ds);
        assert_eq!(
            run.outcome == Outcome::Rollback,
            expect_rollback,
            "latency {lat}"
        );
        if expect_rollback {
            // 11 consecutive ticks in the synthetic stage: ticks 1..=11.
            assert_eq!(run.rollback.as_ref().map(|r| r.0), Some(T0 + 11 * MIN));
        }
    }
}

/// A sustained run never crosses a stage boundary: slow from tick 16 on, the p95 trigger
/// cannot fire at tick 26 (6 ticks of the synthetic stage + 5 of ramp-5) but fires at
/// tick 31, the last tick of an 11-minute ramp-5.
#[test]
fn sustain_restarts_at_a_stage_boundary() {
    let p = policy_with(&[
        "stages.synthetic.go_p95_ms=1000",
        "stages.ramp-5.duration=11m",
    ]);
    let requests: Vec<_> = steady(1, 60)
        .into_iter()
        .map(|r| {
            if r.ts > T0 + 15 * MIN {
                RequestRow {
                    latency_us: 300_000,
                    ..r
                }
            } else {
                r
            }
        })
        .collect();
    let ds = Dataset {
        start: Some(T0),
        requests,
        ..Dataset::default()
    };
    let run = assert_agrees(&p, &ds);
    assert_eq!(
        run.rollback,
        Some((T0 + 31 * MIN, 1, vec![Gate::LatencyP95]))
    );
    assert_eq!(run.stages[0].verdict, Verdict::Go);
}

/// `budget_burn` compares strictly: with a 1 h period, 500 real requests and 3 canary 5xx
/// in the first minute sit exactly on the 10 % burn (ok); 4 breach.
#[test]
fn budget_burn_boundary() {
    let p = policy_with(&["budget.period=1h"]);
    for (bad, state) in [(3, GateState::Ok), (4, GateState::Breach)] {
        let mut requests = Vec::new();
        for i in 0..500i64 {
            let mut r = req(T0 + 1 + i * 100, 200, 50_000);
            if i < bad {
                r.status = 500;
            } else {
                r.cohort = Cohort::Baseline;
            }
            requests.push(r);
        }
        let ds = Dataset {
            start: Some(T0),
            requests,
            ..Dataset::default()
        };
        let run = assert_agrees(&p, &ds);
        assert_eq!(
            tick_state(&run, 1, Gate::BudgetBurn),
            Some(state),
            "{bad} errors"
        );
    }
}

/// Availability is breached strictly below the limit: 99 of 100 at 0.99 holds nothing.
#[test]
fn availability_boundary() {
    let p = policy_with(&[
        "go.availability=0.99",
        "go.error_rate_5xx=0.5",
        "triggers.error_rate_5xx=0.5",
    ]);
    for (bad, expect) in [
        (1, (Verdict::Go, vec![])),
        (2, (Verdict::Hold, vec![Gate::Availability])),
    ] {
        let mut requests: Vec<_> = steady(21, 30);
        for r in requests.iter_mut().take(bad) {
            r.status = 503;
        }
        let ds = Dataset {
            start: Some(T0),
            requests,
            ..Dataset::default()
        };
        let run = assert_agrees(&p, &ds);
        assert_eq!(verdicts(&run)[1], expect, "{bad} errors");
    }
}

/// `insufficient_data`: one tick of ten without data is exactly 10 % (go), two hold.
#[test]
fn insufficient_data_boundary() {
    let p = small_policy();
    for (gap, verdict) in [(1, Verdict::Go), (2, Verdict::Hold)] {
        let requests: Vec<_> = steady(1, 60)
            .into_iter()
            .filter(|r| !(T0 + 20 * MIN < r.ts && r.ts <= T0 + (20 + gap) * MIN))
            .collect();
        let ds = Dataset {
            start: Some(T0),
            requests,
            ..Dataset::default()
        };
        let run = assert_agrees(&p, &ds);
        assert_eq!(run.stages[1].verdict, verdict, "{gap} empty minutes");
    }
}

/// Probe coverage: a gap of exactly two intervals is fine, a millisecond more breaches.
#[test]
fn probe_coverage_gap_boundary() {
    let p = small_policy();
    for (shift, verdict) in [(0, Verdict::Go), (1, Verdict::Hold)] {
        let mut probes = Vec::new();
        for m in 1..=60i64 {
            for target in ["ttv", "security"] {
                if target == "ttv" && m == 10 {
                    continue;
                }
                let ts = T0 + m * MIN + if target == "ttv" && m == 11 { shift } else { 0 };
                probes.push(probe(ts, target, false, 0));
            }
        }
        let ds = Dataset {
            start: Some(T0),
            requests: steady(1, 60),
            probes: Some(probes),
            ..Dataset::default()
        };
        let run = assert_agrees(&p, &ds);
        assert_eq!(run.stages[0].verdict, verdict, "shift {shift}");
    }
}

/// Probes are walked in timestamp order even when the rows are not sorted.
#[test]
fn probe_order_is_by_timestamp() {
    let p = small_policy();
    let mut probes = Vec::new();
    for m in 1..=60i64 {
        for target in ["ttv", "security"] {
            probes.push(probe(
                T0 + m * MIN,
                target,
                target == "ttv" && (5..=7).contains(&m),
                0,
            ));
        }
    }
    // Move ttv's failure at minute 6 to the end of the rows.
    let i = probes
        .iter()
        .position(|p| p.target == "ttv" && p.ts == T0 + 6 * MIN)
        .unwrap();
    let late = probes.remove(i);
    probes.push(late);
    let ds = Dataset {
        start: Some(T0),
        requests: steady(1, 60),
        probes: Some(probes),
        ..Dataset::default()
    };
    let run = assert_agrees(&p, &ds);
    assert_eq!(
        run.rollback,
        Some((T0 + 7 * MIN, 0, vec![Gate::ProbeFailures]))
    );
}

/// Three consecutive probe failures across the synthetic/ramp boundary fire at the third
/// probe's timestamp; a probe at T0 takes no part.
#[test]
fn probe_failures_cross_a_stage_boundary() {
    let p = small_policy();
    let mut probes = Vec::new();
    for m in 0..=60i64 {
        for target in ["ttv", "security"] {
            let fails = target == "ttv" && (19..=21).contains(&m);
            probes.push(probe(T0 + m * MIN, target, fails, 0));
        }
    }
    let requests: Vec<_> = (1..=60i64)
        .flat_map(|k| (0..10).map(move |_| req(T0 + k * MIN - 500, 200, 50_000)))
        .collect();
    let ds = Dataset {
        start: Some(T0),
        requests,
        probes: Some(probes),
        ..Dataset::default()
    };
    let run = assert_agrees(&p, &ds);
    assert_eq!(
        run.rollback,
        Some((T0 + 21 * MIN, 1, vec![Gate::ProbeFailures]))
    );
}

/// Ties in probe timestamps keep file order: fail, fail, pass at the same instant resets.
#[test]
fn probe_ties_keep_file_order() {
    let p = small_policy();
    let mut probes = Vec::new();
    for m in 1..=60i64 {
        for target in ["ttv", "security"] {
            probes.push(probe(T0 + m * MIN, target, false, 0));
        }
    }
    probes.push(probe(T0 + 5 * MIN + 1, "ttv", true, 0));
    probes.push(probe(T0 + 5 * MIN + 1, "ttv", true, 1));
    probes.push(probe(T0 + 5 * MIN + 1, "ttv", false, 0));
    probes.push(probe(T0 + 5 * MIN + 2, "ttv", true, 2));
    let requests: Vec<_> = (1..=60i64)
        .flat_map(|k| (0..10).map(move |_| req(T0 + k * MIN - 500, 200, 50_000)))
        .collect();
    let mut ds = Dataset {
        start: Some(T0),
        requests,
        probes: Some(probes),
        ..Dataset::default()
    };
    assert_agrees(&p, &ds);
    // Now the pass comes first: three failures in a row.
    let probes = ds.probes.as_mut().unwrap();
    let n = probes.len();
    probes.swap(n - 4, n - 2);
    let run = assert_agrees(&p, &ds);
    assert_eq!(run.rollback.as_ref().map(|r| r.0), Some(T0 + 5 * MIN + 2));
}

/// The security baseline: an event exactly at T0 - 60m is the "at or before" case and
/// is counted in `[T0 - 60m, T0)`; 120 baseline events against 30 in a 5-minute window is
/// exactly 3x (ok). A millisecond later, the first-stage baseline applies (breach).
#[test]
fn security_baseline_boundary() {
    let p = small_policy();
    for (first, state) in [
        (T0 - 60 * MIN, GateState::Ok),
        (T0 - 60 * MIN + 1, GateState::Breach),
    ] {
        let mut security: Vec<_> = (0..120)
            .map(|i| sec_row(first + i * 20_000, SecurityKind::WafBlock))
            .collect();
        for j in 0..30 {
            security.push(sec_row(
                T0 + 5 * MIN + 5_000 + j * 10_000,
                SecurityKind::WafBlock,
            ));
        }
        let ds = Dataset {
            start: Some(T0),
            requests: steady(1, 60),
            security: Some(security),
            ..Dataset::default()
        };
        let run = assert_agrees(&p, &ds);
        assert_eq!(
            tick_state(&run, 10, Gate::SecurityWafSpike),
            Some(state),
            "first event at {}",
            first - T0
        );
    }
}

/// Section 2 makes a window below `min_requests` canary real requests "no data for every
/// request metric"; section 8 exempts only `budget_burn` from that minimum. So 30 slow
/// `/api/admin/` requests in a window of 30 (below 100) breach nothing.
#[test]
fn endpoint_gate_needs_the_window_minimum() {
    let p = policy(10, 100, 20, "30d");
    let requests: Vec<_> = (0..30)
        .map(|i| RequestRow {
            endpoint: "/api/admin/users".into(),
            ..req(T0 + 4 * MIN + 1 + i * 1000, 200, 300_000)
        })
        .collect();
    let ds = Dataset {
        start: Some(T0),
        requests,
        ..Dataset::default()
    };
    let run = run_engine(&p, &ds, 8192);
    assert_eq!(
        tick_state(&run, 5, Gate::EndpointLatencyP95),
        Some(GateState::NoData)
    );
    assert_eq!(run.stages[0].verdict, Verdict::Go);
    assert_agrees(&p, &ds);
}

/// A sustained trigger and the third probe failure at the same instant are both reported.
#[test]
fn simultaneous_triggers_are_all_reported() {
    let p = policy_with(&["stages.synthetic.go_p95_ms=1000"]);
    let requests: Vec<_> = steady(1, 60)
        .into_iter()
        .map(|r| RequestRow {
            latency_us: 700_000,
            ..r
        })
        .collect();
    let mut probes = Vec::new();
    for m in 1..=60i64 {
        for target in ["ttv", "security"] {
            probes.push(probe(
                T0 + m * MIN,
                target,
                target == "security" && (9..=11).contains(&m),
                1,
            ));
        }
    }
    let ds = Dataset {
        start: Some(T0),
        requests,
        probes: Some(probes),
        ..Dataset::default()
    };
    let run = assert_agrees(&p, &ds);
    assert_eq!(
        run.rollback,
        Some((
            T0 + 11 * MIN,
            0,
            vec![Gate::LatencyP95, Gate::LatencyP99, Gate::ProbeFailures]
        ))
    );
}
