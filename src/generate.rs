//! Seeded dataset generator: this module owns the `[generate]` table of scenario files
//! ([`GenSpec`] and its [`Fault`]s) and turns it, with the rollout plan taken from the
//! policy ([`GenPlan`]), into a realistic in-memory [`Dataset`]: Poisson request
//! arrivals split between cohorts by the stage weights, log-normal latencies per
//! endpoint, probes with JSON payloads, and optional infra, security, logs and pages
//! streams, with faults injected in given spans. Generation is byte-for-byte
//! deterministic for a seed: every stream draws from its own ChaCha8 stream seeded with
//! `seed_from_u64`, only raw 64-bit words are taken from it (all distributions are
//! sampled here), and no clock, thread RNG or hash-map order is involved.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Deserializer};

use crate::input::{
    Cohort, Dataset, InfraRow, LogRow, Millis, PageKind, PageRow, ProbeRow, RequestRow,
    SecurityKind, SecurityRow, Source,
};
use crate::time::{format_rfc3339, parse_duration, parse_rfc3339};

/// One stage of the rollout plan (taken from the policy by the caller).
#[derive(Clone, Debug)]
pub struct StagePlan {
    pub name: String,
    pub duration_ms: i64,
    pub weight: f64,
}

/// The part of the policy the generator needs: stages run back to back from `start`,
/// and the probe targets with their interval.
#[derive(Clone, Debug)]
pub struct GenPlan {
    pub stages: Vec<StagePlan>,
    pub probe_targets: Vec<String>,
    pub probe_interval_ms: i64,
}

/// The `[generate]` table of a scenario file. Every field but `seed` has a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenSpec {
    pub seed: u64,
    /// The rollout start T0 (RFC 3339; a TOML datetime is accepted too).
    #[serde(default = "default_start", deserialize_with = "de_instant")]
    pub start: String,
    /// Also generate traffic this long before T0 (e.g. for a security baseline).
    #[serde(default = "zero_duration")]
    pub lead: String,
    /// Also generate traffic this long after the last stage.
    #[serde(default = "zero_duration")]
    pub tail: String,
    /// Real requests per second, both cohorts together.
    #[serde(default = "default_rps")]
    pub rps: f64,
    /// Requests per second with `source = synthetic` (cohort canary).
    #[serde(default)]
    pub synthetic_rps: f64,
    /// The endpoint mix; `None` means [`default_endpoints`].
    #[serde(default)]
    pub endpoints: Option<Vec<EndpointSpec>>,
    #[serde(default = "default_base_5xx")]
    pub base_5xx: f64,
    #[serde(default = "default_base_4xx_nonauth")]
    pub base_4xx_nonauth: f64,
    #[serde(default = "default_base_auth_4xx")]
    pub base_auth_4xx: f64,
    /// `false` leaves the probes stream out even when `streams` lists it.
    #[serde(default = "yes")]
    pub probes: bool,
    /// Optional streams to emit: `probes`, `infra`, `security`, `logs`, `pages`.
    #[serde(default = "default_streams")]
    pub streams: Vec<String>,
    #[serde(default)]
    pub faults: Vec<Fault>,
}

impl GenSpec {
    /// A spec with every default and the given seed.
    pub fn new(seed: u64) -> Self {
        GenSpec {
            seed,
            start: default_start(),
            lead: zero_duration(),
            tail: zero_duration(),
            rps: default_rps(),
            synthetic_rps: 0.0,
            endpoints: None,
            base_5xx: default_base_5xx(),
            base_4xx_nonauth: default_base_4xx_nonauth(),
            base_auth_4xx: default_base_auth_4xx(),
            probes: true,
            streams: default_streams(),
            faults: Vec::new(),
        }
    }
}

/// One endpoint of the request mix: its share of requests and its latency profile
/// (a log-normal fitted to the median and the 95th percentile).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub path: String,
    pub share: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
}

/// The default endpoint mix. About 3 % of its requests take longer than 120 ms, so the
/// mixture's p95 (about 105 ms) stays under the `full` stage's 120 ms Go limit even in
/// the small windows at a stage's start, and no outlier prefix nears 200 ms.
pub fn default_endpoints() -> Vec<EndpointSpec> {
    [
        ("/api/ttv/summary", 0.35, 45.0, 95.0),
        ("/api/search", 0.25, 55.0, 105.0),
        ("/api/listings/{id}", 0.20, 40.0, 95.0),
        ("/api/security/sessions", 0.08, 60.0, 130.0),
        ("/api/infra/health", 0.07, 25.0, 70.0),
        ("/api/admin/users", 0.05, 75.0, 160.0),
    ]
    .into_iter()
    .map(|(path, share, median_ms, p95_ms)| EndpointSpec {
        path: path.to_string(),
        share,
        median_ms,
        p95_ms,
    })
    .collect()
}

fn default_start() -> String {
    "2026-03-02T10:00:00Z".to_string()
}
fn zero_duration() -> String {
    "0s".to_string()
}
fn default_rps() -> f64 {
    20.0
}
// Low enough that a clean canary at 5 % of 20 requests/s (about 1 request/s) rarely
// breaches the 0.5 % and 1 % window limits or the 99.9 % stage availability by chance.
fn default_base_5xx() -> f64 {
    0.00005
}
fn default_base_4xx_nonauth() -> f64 {
    0.0005
}
fn default_base_auth_4xx() -> f64 {
    0.01
}
fn yes() -> bool {
    true
}
fn default_streams() -> Vec<String> {
    vec!["probes".to_string()]
}

/// Reads an instant written as a string or as a TOML datetime.
fn de_instant<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Instant {
        Text(String),
        Toml(toml::value::Datetime),
    }
    Ok(match Instant::deserialize(d)? {
        Instant::Text(s) => s,
        Instant::Toml(dt) => dt.to_string(),
    })
}

/// What a [`Fault`] does. Names are the `kind` values of `[[generate.faults]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    #[serde(rename = "error_5xx")]
    Error5xx,
    #[serde(rename = "error_4xx")]
    Error4xx,
    #[serde(rename = "auth_4xx")]
    Auth4xx,
    LatencyShift,
    LatencyTail,
    EndpointLatency,
    ProbeStatus,
    ProbeSchema,
    ProbeGap,
    SyntheticBurst,
    TrafficDrop,
    CanaryShare,
    CpuSaturation,
    MemoryLeak,
    SlowDb,
    QueueBacklog,
    WafSpike,
    CredentialStuffing,
    PiiLeak,
    NoCache,
    SitemapDrop,
    Noindex,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Error5xx => "error_5xx",
            FaultKind::Error4xx => "error_4xx",
            FaultKind::Auth4xx => "auth_4xx",
            FaultKind::LatencyShift => "latency_shift",
            FaultKind::LatencyTail => "latency_tail",
            FaultKind::EndpointLatency => "endpoint_latency",
            FaultKind::ProbeStatus => "probe_status",
            FaultKind::ProbeSchema => "probe_schema",
            FaultKind::ProbeGap => "probe_gap",
            FaultKind::SyntheticBurst => "synthetic_burst",
            FaultKind::TrafficDrop => "traffic_drop",
            FaultKind::CanaryShare => "canary_share",
            FaultKind::CpuSaturation => "cpu_saturation",
            FaultKind::MemoryLeak => "memory_leak",
            FaultKind::SlowDb => "slow_db",
            FaultKind::QueueBacklog => "queue_backlog",
            FaultKind::WafSpike => "waf_spike",
            FaultKind::CredentialStuffing => "credential_stuffing",
            FaultKind::PiiLeak => "pii_leak",
            FaultKind::NoCache => "no_cache",
            FaultKind::SitemapDrop => "sitemap_drop",
            FaultKind::Noindex => "noindex",
        }
    }

    /// The kind-specific fields: (required, optional).
    fn fields(self) -> (&'static [&'static str], &'static [&'static str]) {
        use FaultKind::*;
        match self {
            Error5xx | Error4xx | Auth4xx => (&["rate"], &["cohort"]),
            LatencyShift | TrafficDrop => (&["factor"], &["cohort"]),
            LatencyTail => (&["share", "min_ms", "max_ms"], &["cohort"]),
            EndpointLatency => (&["prefix", "factor"], &["cohort"]),
            ProbeStatus => (&["target"], &["status", "every", "count"]),
            ProbeSchema => (&["target"], &["mode", "every", "count"]),
            ProbeGap => (&["target"], &[]),
            SyntheticBurst => (&["rps"], &[]),
            CanaryShare | NoCache => (&["share"], &[]),
            CpuSaturation => (&["level"], &["cohort"]),
            MemoryLeak => (&["to"], &["cohort"]),
            SlowDb => (&["p95_ms"], &["cohort"]),
            QueueBacklog => (&["depth"], &["cohort"]),
            WafSpike | CredentialStuffing => (&["per_min"], &[]),
            PiiLeak => (&["per_min", "pii"], &[]),
            SitemapDrop | Noindex => (&["path"], &[]),
        }
    }

    /// The optional stream the fault acts on, if it is not `requests`.
    fn stream(self) -> Option<&'static str> {
        use FaultKind::*;
        match self {
            ProbeStatus | ProbeSchema | ProbeGap => Some("probes"),
            CpuSaturation | MemoryLeak | SlowDb | QueueBacklog => Some("infra"),
            WafSpike | CredentialStuffing => Some("security"),
            PiiLeak => Some("logs"),
            NoCache | SitemapDrop | Noindex => Some("pages"),
            _ => None,
        }
    }
}

/// One `[[generate.faults]]` entry. `stage` names a stage of the plan; `at` and
/// `duration` are relative to its start (`duration` defaults to the rest of the stage),
/// and the span is half-open like a stage: `(start + at, start + at + duration]`.
/// Which other fields a kind takes is checked by [`generate`]; a field that does not
/// apply to the kind is an error.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    pub stage: String,
    #[serde(default = "zero_duration")]
    pub at: String,
    pub duration: Option<String>,
    /// `canary` (default), `baseline` or `all`: whose requests or hosts are affected.
    pub cohort: Option<String>,
    pub rate: Option<f64>,
    pub factor: Option<f64>,
    pub share: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub prefix: Option<String>,
    pub target: Option<String>,
    /// `probe_status`: the status returned (default 503).
    pub status: Option<u16>,
    /// Probe faults: the 1st, (1+n)th, (1+2n)th ... probe of the target in the span fail.
    pub every: Option<u32>,
    /// Probe faults: at most this many probes fail.
    pub count: Option<u32>,
    /// `probe_schema`: `missing_field` (default) or `wrong_type`.
    pub mode: Option<String>,
    pub rps: Option<f64>,
    pub level: Option<f64>,
    pub to: Option<f64>,
    pub p95_ms: Option<f64>,
    pub depth: Option<f64>,
    pub per_min: Option<f64>,
    /// `pii_leak`: `email`, `card`, `ssn`, `phone` or `iban`.
    pub pii: Option<String>,
    pub path: Option<String>,
}

impl Fault {
    /// A fault of `kind` over the whole of `stage`, with no kind-specific field set.
    pub fn new(kind: FaultKind, stage: &str) -> Self {
        Fault {
            kind,
            stage: stage.to_string(),
            at: zero_duration(),
            duration: None,
            cohort: None,
            rate: None,
            factor: None,
            share: None,
            min_ms: None,
            max_ms: None,
            prefix: None,
            target: None,
            status: None,
            every: None,
            count: None,
            mode: None,
            rps: None,
            level: None,
            to: None,
            p95_ms: None,
            depth: None,
            per_min: None,
            pii: None,
            path: None,
        }
    }

    fn present_fields(&self) -> Vec<&'static str> {
        let flags = [
            ("cohort", self.cohort.is_some()),
            ("rate", self.rate.is_some()),
            ("factor", self.factor.is_some()),
            ("share", self.share.is_some()),
            ("min_ms", self.min_ms.is_some()),
            ("max_ms", self.max_ms.is_some()),
            ("prefix", self.prefix.is_some()),
            ("target", self.target.is_some()),
            ("status", self.status.is_some()),
            ("every", self.every.is_some()),
            ("count", self.count.is_some()),
            ("mode", self.mode.is_some()),
            ("rps", self.rps.is_some()),
            ("level", self.level.is_some()),
            ("to", self.to.is_some()),
            ("p95_ms", self.p95_ms.is_some()),
            ("depth", self.depth.is_some()),
            ("per_min", self.per_min.is_some()),
            ("pii", self.pii.is_some()),
            ("path", self.path.is_some()),
        ];
        flags
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| name)
            .collect()
    }
}

/// Why a [`GenSpec`] (with its plan) cannot be generated. `field` is the path inside
/// the `[generate]` table, such as `faults[2].rate`.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("generate.{field} = {value} is not usable: {fix}")]
    Invalid {
        field: String,
        value: String,
        fix: String,
    },
    #[error("generate.{field} = {value:?} names no stage of the rollout plan; use one of {known}")]
    UnknownStage {
        field: String,
        value: String,
        known: String,
    },
    #[error("generate.faults[{index}]: a `{kind}` fault needs the field `{missing}`; add it")]
    MissingField {
        index: usize,
        kind: &'static str,
        missing: &'static str,
    },
    #[error(
        "generate.faults[{index}]: the field `{field}` does not apply to a `{kind}` fault (it takes {allowed}); remove it"
    )]
    FieldNotForKind {
        index: usize,
        kind: &'static str,
        field: &'static str,
        allowed: String,
    },
    #[error("the rollout plan cannot be generated: {0}")]
    Plan(String),
}

fn invalid(field: impl Into<String>, value: impl std::fmt::Display, fix: &str) -> GenError {
    GenError::Invalid {
        field: field.into(),
        value: value.to_string(),
        fix: fix.to_string(),
    }
}

// ---------------------------------------------------------------------------------
// Randomness: only raw words are taken from ChaCha8; every distribution is sampled here.

/// Separate ChaCha streams, so enabling one output stream never shifts another.
mod rng_stream {
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
}

struct Rand(ChaCha8Rng);

impl Rand {
    fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Rand(rng)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn u01(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1).
    fn open01(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n > 0`), by a 128-bit multiply.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Standard normal by Box–Muller (two uniforms per value).
    fn normal(&mut self) -> f64 {
        let u1 = self.open01();
        let u2 = self.u01();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Exponential with the given mean, by inversion.
    fn exp(&mut self, mean: f64) -> f64 {
        -self.open01().ln() * mean
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Lower-case hex id whose every fourth character is a letter, so it never holds a
    /// run of more than three digits (nothing a PII detector could mistake).
    fn hex_id(&mut self, len: usize) -> String {
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

/// `z` quantile of the standard normal at 0.95.
const Z95: f64 = 1.644_853_626_951_472_2;

/// A log-normal fitted to a median and a 95th percentile: `(mu, sigma)` of `ln x`.
fn lognormal_fit(median: f64, p95: f64) -> (f64, f64) {
    let mu = median.ln();
    (mu, ((p95.ln() - mu) / Z95).max(0.0))
}

/// Arrival instants of a Poisson process on `(from, to]`, with `per_ms(t)` events per
/// millisecond constant between consecutive `breaks` (evaluated at each piece's end),
/// in whole milliseconds (ceiling, so every instant stays inside its piece).
fn poisson(
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
fn grid(t0: Millis, from: Millis, to: Millis, period: Millis) -> impl Iterator<Item = Millis> {
    let first = t0 + (from - t0).div_euclid(period) * period + period;
    (0..)
        .map(move |k| first + k * period)
        .take_while(move |&t| t <= to)
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let m = 10f64.powi(decimals);
    (x * m).round() / m
}

// ---------------------------------------------------------------------------------
// The validated scenario.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Canary,
    Baseline,
    All,
}

impl Scope {
    fn covers(self, cohort: Cohort) -> bool {
        match self {
            Scope::All => true,
            Scope::Canary => cohort == Cohort::Canary,
            Scope::Baseline => cohort == Cohort::Baseline,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SchemaMode {
    MissingField,
    WrongType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pii {
    Email,
    Card,
    Ssn,
    Phone,
    Iban,
}

#[derive(Clone, Debug)]
enum Effect {
    Error5xx(f64),
    Error4xx(f64),
    Auth4xx(f64),
    LatencyShift(f64),
    LatencyTail {
        share: f64,
        min_ms: f64,
        max_ms: f64,
    },
    EndpointLatency {
        prefix: String,
        factor: f64,
    },
    ProbeStatus {
        target: String,
        status: u16,
        every: u32,
        count: Option<u32>,
    },
    ProbeSchema {
        target: String,
        mode: SchemaMode,
        every: u32,
        count: Option<u32>,
    },
    ProbeGap {
        target: String,
    },
    SyntheticBurst {
        rps: f64,
    },
    TrafficDrop(f64),
    CanaryShare(f64),
    CpuSaturation(f64),
    MemoryLeak(f64),
    SlowDb(f64),
    QueueBacklog(f64),
    WafSpike(f64),
    CredentialStuffing(f64),
    PiiLeak {
        per_min: f64,
        pii: Pii,
    },
    NoCache(f64),
    SitemapDrop(String),
    Noindex(String),
}

#[derive(Clone, Debug)]
struct Active {
    /// Span `(from, to]`.
    from: Millis,
    to: Millis,
    scope: Scope,
    effect: Effect,
}

impl Active {
    fn contains(&self, t: Millis) -> bool {
        t > self.from && t <= self.to
    }
    fn applies(&self, t: Millis, cohort: Cohort) -> bool {
        self.contains(t) && self.scope.covers(cohort)
    }
}

#[derive(Clone)]
struct Stage {
    to: Millis,
    weight: f64,
}

#[derive(Clone)]
struct Endpoint {
    path: String,
    /// Cumulative share, normalised to end at 1.
    cum: f64,
    mu: f64,
    sigma: f64,
}

#[derive(Clone)]
struct Scenario {
    seed: u64,
    t0: Millis,
    /// Last stage's end.
    end: Millis,
    /// Generated range `(from, to]`.
    from: Millis,
    to: Millis,
    stages: Vec<Stage>,
    rps: f64,
    synthetic_rps: f64,
    endpoints: Vec<Endpoint>,
    base: [f64; 3],
    probes: bool,
    infra: bool,
    security: bool,
    logs: bool,
    pages: bool,
    targets: Vec<String>,
    probe_interval: Millis,
    faults: Vec<Active>,
}

const STREAM_NAMES: [&str; 5] = ["probes", "infra", "security", "logs", "pages"];

/// The paths of the pages crawl, with their kinds.
const PAGES: [(&str, PageKind); 10] = [
    ("/", PageKind::Seo),
    ("/pricing", PageKind::Seo),
    ("/features", PageKind::Seo),
    ("/blog/canary-releases-explained", PageKind::Seo),
    ("/blog/measuring-time-to-value", PageKind::Seo),
    ("/app/dashboard", PageKind::App),
    ("/app/settings", PageKind::App),
    ("/api/ttv/summary", PageKind::Api),
    ("/api/search", PageKind::Api),
    ("/api/security/sessions", PageKind::Api),
];

fn check_rate(field: String, v: f64) -> Result<f64, GenError> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(field, v, "use a probability between 0 and 1"))
    }
}

fn check_nonneg(field: String, v: f64) -> Result<f64, GenError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(field, v, "use a finite number >= 0"))
    }
}

fn check_positive(field: String, v: f64) -> Result<f64, GenError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(field, v, "use a finite number > 0"))
    }
}

fn duration_field(field: &str, s: &str) -> Result<Millis, GenError> {
    parse_duration(s).ok_or_else(|| {
        invalid(
            field,
            format!("{s:?}"),
            "write a duration such as \"90s\", \"30m\", \"2h\" or \"1h30m\"",
        )
    })
}

impl Scenario {
    fn build(spec: &GenSpec, plan: &GenPlan) -> Result<Self, GenError> {
        let t0 = parse_rfc3339(&spec.start).ok_or_else(|| {
            invalid(
                "start",
                format!("{:?}", spec.start),
                "write an RFC 3339 instant such as \"2026-03-02T10:00:00Z\"",
            )
        })?;
        let lead = duration_field("lead", &spec.lead)?;
        let tail = duration_field("tail", &spec.tail)?;

        if plan.stages.is_empty() {
            return Err(GenError::Plan("it has no stages".into()));
        }
        let mut stages = Vec::with_capacity(plan.stages.len());
        let mut stage_bounds = Vec::with_capacity(plan.stages.len());
        let mut at = t0;
        let mut names = BTreeSet::new();
        for s in &plan.stages {
            if s.duration_ms <= 0 {
                return Err(GenError::Plan(format!(
                    "stage `{}` lasts {} ms; give it a positive duration",
                    s.name, s.duration_ms
                )));
            }
            if !(s.weight.is_finite() && (0.0..=1.0).contains(&s.weight)) {
                return Err(GenError::Plan(format!(
                    "stage `{}` has canary weight {}; use a weight between 0 and 1",
                    s.name, s.weight
                )));
            }
            if !names.insert(s.name.as_str()) {
                return Err(GenError::Plan(format!(
                    "two stages are named `{}`; stage names must be unique",
                    s.name
                )));
            }
            let from = at;
            at += s.duration_ms;
            stages.push(Stage {
                to: at,
                weight: s.weight,
            });
            stage_bounds.push((s.name.as_str(), from, at));
        }
        let end = at;

        let rps = check_nonneg("rps".into(), spec.rps)?;
        let synthetic_rps = check_nonneg("synthetic_rps".into(), spec.synthetic_rps)?;
        let base = [
            check_rate("base_5xx".into(), spec.base_5xx)?,
            check_rate("base_4xx_nonauth".into(), spec.base_4xx_nonauth)?,
            check_rate("base_auth_4xx".into(), spec.base_auth_4xx)?,
        ];
        if base.iter().sum::<f64>() > 1.0 {
            return Err(invalid(
                "base_5xx + base_4xx_nonauth + base_auth_4xx",
                base.iter().sum::<f64>(),
                "the three base error rates must add up to at most 1",
            ));
        }

        let endpoint_specs = spec.endpoints.clone().unwrap_or_else(default_endpoints);
        if endpoint_specs.is_empty() {
            return Err(invalid(
                "endpoints",
                "[]",
                "list at least one endpoint, or leave `endpoints` out for the default mix",
            ));
        }
        let mut total_share = 0.0;
        for (i, e) in endpoint_specs.iter().enumerate() {
            if e.path.is_empty() {
                return Err(invalid(
                    format!("endpoints[{i}].path"),
                    "\"\"",
                    "give the endpoint a path such as \"/api/search\"",
                ));
            }
            total_share += check_nonneg(format!("endpoints[{i}].share"), e.share)?;
            check_positive(format!("endpoints[{i}].median_ms"), e.median_ms)?;
            check_positive(format!("endpoints[{i}].p95_ms"), e.p95_ms)?;
            if e.p95_ms < e.median_ms {
                return Err(invalid(
                    format!("endpoints[{i}].p95_ms"),
                    e.p95_ms,
                    "the 95th percentile cannot be below the median (median_ms)",
                ));
            }
        }
        if total_share <= 0.0 {
            return Err(invalid(
                "endpoints[..].share",
                total_share,
                "give at least one endpoint a positive share",
            ));
        }
        let mut cum = 0.0;
        let endpoints = endpoint_specs
            .iter()
            .map(|e| {
                cum += e.share / total_share;
                let (mu, sigma) = lognormal_fit(e.median_ms, e.p95_ms);
                Endpoint {
                    path: e.path.clone(),
                    cum,
                    mu,
                    sigma,
                }
            })
            .collect();

        let mut enabled = BTreeSet::new();
        for (i, s) in spec.streams.iter().enumerate() {
            if !STREAM_NAMES.contains(&s.as_str()) {
                return Err(invalid(
                    format!("streams[{i}]"),
                    format!("{s:?}"),
                    "use probes, infra, security, logs or pages (requests are always generated)",
                ));
            }
            enabled.insert(s.as_str());
        }
        let probes = spec.probes && enabled.contains("probes");
        if probes && plan.probe_interval_ms <= 0 {
            return Err(GenError::Plan(format!(
                "the probe interval is {} ms; use a positive interval",
                plan.probe_interval_ms
            )));
        }

        let mut faults = Vec::with_capacity(spec.faults.len());
        for (i, f) in spec.faults.iter().enumerate() {
            faults.push(compile_fault(i, f, &stage_bounds, plan, &enabled, probes)?);
        }

        Ok(Scenario {
            seed: spec.seed,
            t0,
            end,
            from: t0 - lead,
            to: end + tail,
            stages,
            rps,
            synthetic_rps,
            endpoints,
            base,
            probes,
            infra: enabled.contains("infra"),
            security: enabled.contains("security"),
            logs: enabled.contains("logs"),
            pages: enabled.contains("pages"),
            targets: plan.probe_targets.clone(),
            probe_interval: plan.probe_interval_ms,
            faults,
        })
    }

    /// The planned canary share at `t`: 0 before T0, the stage's weight during the
    /// rollout, the last stage's weight after it.
    fn weight_at(&self, t: Millis) -> f64 {
        if t <= self.t0 {
            return 0.0;
        }
        self.stages
            .iter()
            .find(|s| t <= s.to)
            .or(self.stages.last())
            .map_or(0.0, |s| s.weight)
    }

    fn rng(&self, stream: u64) -> Rand {
        Rand::new(self.seed, stream)
    }
}

fn compile_fault(
    i: usize,
    f: &Fault,
    stages: &[(&str, Millis, Millis)],
    plan: &GenPlan,
    enabled: &BTreeSet<&str>,
    probes: bool,
) -> Result<Active, GenError> {
    let kind = f.kind.as_str();
    let (required, optional) = f.kind.fields();
    let present = f.present_fields();
    for field in &present {
        if !required.contains(field) && !optional.contains(field) {
            let mut allowed: Vec<&str> = required.iter().chain(optional).copied().collect();
            allowed.extend(["stage", "at", "duration"]);
            return Err(GenError::FieldNotForKind {
                index: i,
                kind,
                field,
                allowed: allowed.join(", "),
            });
        }
    }
    if let Some(missing) = required.iter().find(|r| !present.contains(r)) {
        return Err(GenError::MissingField {
            index: i,
            kind,
            missing,
        });
    }
    if let Some(stream) = f.kind.stream() {
        let on = if stream == "probes" {
            probes
        } else {
            enabled.contains(stream)
        };
        if !on {
            return Err(invalid(
                format!("faults[{i}].kind"),
                format!("{kind:?}"),
                &format!(
                    "this fault acts on the `{stream}` stream, which is not generated; add \"{stream}\" to generate.streams (and keep probes = true for probe faults) or remove the fault"
                ),
            ));
        }
    }

    let &(_, s_from, s_to) = stages
        .iter()
        .find(|(name, _, _)| *name == f.stage)
        .ok_or_else(|| GenError::UnknownStage {
            field: format!("faults[{i}].stage"),
            value: f.stage.clone(),
            known: stages
                .iter()
                .map(|(n, _, _)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let at = duration_field(&format!("faults[{i}].at"), &f.at)?;
    if at >= s_to - s_from {
        return Err(invalid(
            format!("faults[{i}].at"),
            format!("{:?}", f.at),
            &format!(
                "stage `{}` lasts {}; start the fault inside it",
                f.stage,
                crate::time::format_duration(s_to - s_from)
            ),
        ));
    }
    let from = s_from + at;
    let to = match &f.duration {
        Some(d) => {
            let field = format!("faults[{i}].duration");
            let d_ms = duration_field(&field, d)?;
            if d_ms <= 0 {
                return Err(invalid(field, format!("{d:?}"), "use a positive duration"));
            }
            from + d_ms
        }
        None => s_to,
    };
    let scope = match f.cohort.as_deref() {
        None | Some("canary") => Scope::Canary,
        Some("baseline") => Scope::Baseline,
        Some("all") => Scope::All,
        Some(other) => {
            return Err(invalid(
                format!("faults[{i}].cohort"),
                format!("{other:?}"),
                "use \"canary\", \"baseline\" or \"all\"",
            ));
        }
    };

    let fld = |name: &str| format!("faults[{i}].{name}");
    // Required fields are present (checked above); `unwrap_or` only satisfies types.
    let num = |v: Option<f64>| v.unwrap_or(f64::NAN);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let target = |v: &Option<String>| -> Result<String, GenError> {
        let t = text(v);
        if plan.probe_targets.contains(&t) {
            Ok(t)
        } else {
            Err(invalid(
                fld("target"),
                format!("{t:?}"),
                &format!(
                    "use one of the policy's probe targets: {}",
                    plan.probe_targets.join(", ")
                ),
            ))
        }
    };
    let every = match f.every {
        Some(0) => return Err(invalid(fld("every"), 0, "use 1 (every probe) or more")),
        Some(n) => n,
        None => 1,
    };
    if f.count == Some(0) {
        return Err(invalid(
            fld("count"),
            0,
            "use a count of at least 1, or remove the fault",
        ));
    }
    let page_path = |v: &Option<String>| -> Result<String, GenError> {
        let p = text(v);
        if PAGES.iter().any(|(path, _)| *path == p) {
            Ok(p)
        } else {
            let known: Vec<&str> = PAGES.iter().map(|(p, _)| *p).collect();
            Err(invalid(
                fld("path"),
                format!("{p:?}"),
                &format!("use one of the crawled paths: {}", known.join(", ")),
            ))
        }
    };

    let effect = match f.kind {
        FaultKind::Error5xx => Effect::Error5xx(check_rate(fld("rate"), num(f.rate))?),
        FaultKind::Error4xx => Effect::Error4xx(check_rate(fld("rate"), num(f.rate))?),
        FaultKind::Auth4xx => Effect::Auth4xx(check_rate(fld("rate"), num(f.rate))?),
        FaultKind::LatencyShift => {
            Effect::LatencyShift(check_positive(fld("factor"), num(f.factor))?)
        }
        FaultKind::LatencyTail => {
            let share = check_rate(fld("share"), num(f.share))?;
            let min_ms = check_positive(fld("min_ms"), num(f.min_ms))?;
            let max_ms = check_positive(fld("max_ms"), num(f.max_ms))?;
            if max_ms < min_ms {
                return Err(invalid(
                    fld("max_ms"),
                    max_ms,
                    "max_ms must be at least min_ms",
                ));
            }
            Effect::LatencyTail {
                share,
                min_ms,
                max_ms,
            }
        }
        FaultKind::EndpointLatency => {
            let prefix = text(&f.prefix);
            if prefix.is_empty() {
                return Err(invalid(
                    fld("prefix"),
                    "\"\"",
                    "give an endpoint prefix such as \"/api/admin/\"",
                ));
            }
            Effect::EndpointLatency {
                prefix,
                factor: check_positive(fld("factor"), num(f.factor))?,
            }
        }
        FaultKind::ProbeStatus => {
            let status = f.status.unwrap_or(503);
            if !(100..=599).contains(&status) {
                return Err(invalid(
                    fld("status"),
                    status,
                    "use an HTTP status between 100 and 599",
                ));
            }
            Effect::ProbeStatus {
                target: target(&f.target)?,
                status,
                every,
                count: f.count,
            }
        }
        FaultKind::ProbeSchema => {
            let mode = match f.mode.as_deref() {
                None | Some("missing_field") => SchemaMode::MissingField,
                Some("wrong_type") => SchemaMode::WrongType,
                Some(other) => {
                    return Err(invalid(
                        fld("mode"),
                        format!("{other:?}"),
                        "use \"missing_field\" or \"wrong_type\"",
                    ));
                }
            };
            Effect::ProbeSchema {
                target: target(&f.target)?,
                mode,
                every,
                count: f.count,
            }
        }
        FaultKind::ProbeGap => Effect::ProbeGap {
            target: target(&f.target)?,
        },
        FaultKind::SyntheticBurst => Effect::SyntheticBurst {
            rps: check_nonneg(fld("rps"), num(f.rps))?,
        },
        FaultKind::TrafficDrop => Effect::TrafficDrop(check_nonneg(fld("factor"), num(f.factor))?),
        FaultKind::CanaryShare => Effect::CanaryShare(check_rate(fld("share"), num(f.share))?),
        FaultKind::CpuSaturation => Effect::CpuSaturation(check_rate(fld("level"), num(f.level))?),
        FaultKind::MemoryLeak => Effect::MemoryLeak(check_rate(fld("to"), num(f.to))?),
        FaultKind::SlowDb => Effect::SlowDb(check_positive(fld("p95_ms"), num(f.p95_ms))?),
        FaultKind::QueueBacklog => Effect::QueueBacklog(check_nonneg(fld("depth"), num(f.depth))?),
        FaultKind::WafSpike => Effect::WafSpike(check_nonneg(fld("per_min"), num(f.per_min))?),
        FaultKind::CredentialStuffing => {
            Effect::CredentialStuffing(check_nonneg(fld("per_min"), num(f.per_min))?)
        }
        FaultKind::PiiLeak => {
            let pii = match f.pii.as_deref().unwrap_or_default() {
                "email" => Pii::Email,
                "card" => Pii::Card,
                "ssn" => Pii::Ssn,
                "phone" => Pii::Phone,
                "iban" => Pii::Iban,
                other => {
                    return Err(invalid(
                        fld("pii"),
                        format!("{other:?}"),
                        "use \"email\", \"card\", \"ssn\", \"phone\" or \"iban\"",
                    ));
                }
            };
            Effect::PiiLeak {
                per_min: check_nonneg(fld("per_min"), num(f.per_min))?,
                pii,
            }
        }
        FaultKind::NoCache => Effect::NoCache(check_rate(fld("share"), num(f.share))?),
        FaultKind::SitemapDrop => Effect::SitemapDrop(page_path(&f.path)?),
        FaultKind::Noindex => Effect::Noindex(page_path(&f.path)?),
    };
    Ok(Active {
        from,
        to,
        scope,
        effect,
    })
}

/// Generates the dataset `spec` describes over the rollout `plan`. Streams not listed in
/// `spec.streams` (or probes when `spec.probes` is false) are `None`; every stream's
/// rows are in timestamp order.
pub fn generate(spec: &GenSpec, plan: &GenPlan) -> Result<Dataset, GenError> {
    let sc = Scenario::build(spec, plan)?;
    Ok(Dataset {
        start: Some(sc.t0),
        requests: requests(&sc),
        probes: sc.probes.then(|| probes(&sc)),
        infra: sc.infra.then(|| infra(&sc)),
        security: sc.security.then(|| security(&sc)),
        logs: sc.logs.then(|| logs(&sc)),
        pages: sc.pages.then(|| pages(&sc)),
        funnel: None,
        ledger: None,
    })
}

// ---------------------------------------------------------------------------------
// requests

const REGIONS: [(&str, f64); 4] = [
    ("eu-west-1", 0.40),
    ("us-east-1", 0.75),
    ("us-west-2", 0.90),
    ("ap-southeast-2", 1.0),
];
const USER_POOL: f64 = 40_000.0;

/// The fixed set of uniforms one request consumes, so that a fault changes only the
/// rows it touches, never the random sequence of later rows.
struct RequestDraws {
    endpoint: f64,
    status: f64,
    code: f64,
    z: f64,
    tail: f64,
    tail_value: f64,
    user: f64,
    region: f64,
    method: f64,
}

impl RequestDraws {
    fn take(rng: &mut Rand) -> Self {
        RequestDraws {
            endpoint: rng.u01(),
            status: rng.u01(),
            code: rng.u01(),
            z: rng.normal(),
            tail: rng.u01(),
            tail_value: rng.u01(),
            user: rng.u01(),
            region: rng.u01(),
            method: rng.u01(),
        }
    }
}

fn pick_cum(cum: impl Iterator<Item = f64>, u: f64, len: usize) -> usize {
    cum.enumerate()
        .find(|&(_, c)| u < c)
        .map_or(len - 1, |(i, _)| i)
}

fn request_row(
    sc: &Scenario,
    d: &RequestDraws,
    ts: Millis,
    cohort: Cohort,
    source: Source,
    burst_5xx: Option<f64>,
) -> RequestRow {
    let ep = &sc.endpoints[pick_cum(
        sc.endpoints.iter().map(|e| e.cum),
        d.endpoint,
        sc.endpoints.len(),
    )];
    let (mut f5, mut f4, mut fa): (Option<f64>, Option<f64>, Option<f64>) = (None, None, None);
    let mut factor = 1.0;
    let mut tail: Option<f64> = None;
    for f in sc.faults.iter().filter(|f| f.applies(ts, cohort)) {
        let max = |cur: Option<f64>, r: f64| Some(cur.map_or(r, |c: f64| c.max(r)));
        match &f.effect {
            Effect::Error5xx(r) => f5 = max(f5, *r),
            Effect::Error4xx(r) => f4 = max(f4, *r),
            Effect::Auth4xx(r) => fa = max(fa, *r),
            Effect::LatencyShift(x) => factor *= x,
            Effect::EndpointLatency { prefix, factor: x }
                if ep.path.starts_with(prefix.as_str()) =>
            {
                factor *= x
            }
            Effect::LatencyTail {
                share,
                min_ms,
                max_ms,
            } if d.tail < *share => tail = Some(min_ms + d.tail_value * (max_ms - min_ms)),
            _ => {}
        }
    }
    let p5 = burst_5xx.or(f5).unwrap_or(sc.base[0]);
    let p4 = f4.unwrap_or(sc.base[1]);
    let pa = fa.unwrap_or(sc.base[2]);
    let u = d.status;
    let status = if u < p5 {
        match d.code {
            c if c < 0.4 => 500,
            c if c < 0.6 => 502,
            c if c < 0.9 => 503,
            _ => 504,
        }
    } else if u < p5 + p4 {
        match d.code {
            c if c < 0.3 => 400,
            c if c < 0.7 => 404,
            c if c < 0.8 => 409,
            c if c < 0.9 => 422,
            _ => 429,
        }
    } else if u < p5 + p4 + pa {
        if d.code < 0.7 { 401 } else { 403 }
    } else {
        200
    };
    let ms = tail.unwrap_or_else(|| (ep.mu + ep.sigma * d.z).exp() * factor);
    let latency_us = (ms * 1000.0).round().clamp(1000.0, 3_600_000_000.0) as u64;
    let user_id = match source {
        Source::Real => format!("usr_{:05}", (d.user * d.user * USER_POOL) as u64),
        Source::Synthetic => "synthetic-monitor".to_string(),
    };
    let region = REGIONS[pick_cum(REGIONS.iter().map(|r| r.1), d.region, REGIONS.len())].0;
    RequestRow {
        ts,
        endpoint: ep.path.clone(),
        cohort,
        source,
        status,
        latency_us,
        user_id: Some(user_id),
        region: Some(region.to_string()),
        method: Some(if d.method < 0.82 { "GET" } else { "POST" }.to_string()),
    }
}

fn requests(sc: &Scenario) -> Vec<RequestRow> {
    RequestChunks::new(sc.clone(), usize::MAX)
        .flatten()
        .collect()
}

/// The requests of a scenario in timestamp order, in chunks of at most `chunk` rows,
/// generated lazily so that a large dataset never sits in memory whole. Real requests
/// come first on equal timestamps, as a stable sort of (real, then synthetic) would give.
pub struct RequestChunks {
    sc: Scenario,
    chunk: usize,
    arrivals: std::vec::IntoIter<Millis>,
    rng: Rand,
    drops: Vec<usize>,
    bound: f64,
    /// Synthetic requests (few), sorted, merged in as the real ones pass them.
    synthetic: std::iter::Peekable<std::vec::IntoIter<RequestRow>>,
}

impl RequestChunks {
    fn new(sc: Scenario, chunk: usize) -> Self {
        let drops: Vec<usize> = sc
            .faults
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.effect, Effect::TrafficDrop(_)))
            .map(|(i, _)| i)
            .collect();
        // Thinning: arrivals at the highest rate any span can reach, each kept with
        // probability (its rate factor) / bound.
        let bound: f64 = drops
            .iter()
            .filter_map(|&i| match sc.faults[i].effect {
                Effect::TrafficDrop(x) if x > 1.0 => Some(x),
                _ => None,
            })
            .product::<f64>()
            .max(1.0);
        let mut arrivals_rng = sc.rng(rng_stream::ARRIVALS);
        let arrivals = poisson(&mut arrivals_rng, sc.from, sc.to, &[], |_| {
            sc.rps * bound / 1000.0
        });
        let rng = sc.rng(rng_stream::REQUESTS);
        let mut synthetic = synthetic_requests(&sc);
        synthetic.sort_by_key(|r| r.ts);
        RequestChunks {
            chunk: chunk.max(1),
            arrivals: arrivals.into_iter(),
            rng,
            drops,
            bound,
            synthetic: synthetic.into_iter().peekable(),
            sc,
        }
    }

    /// The next real request, if any arrival is left.
    fn next_real(&mut self) -> Option<RequestRow> {
        let sc = &self.sc;
        for ts in self.arrivals.by_ref() {
            let u_cohort = self.rng.u01();
            let u_keep = self.rng.u01();
            let draws = RequestDraws::take(&mut self.rng);
            let share = sc
                .faults
                .iter()
                .filter(|f| f.contains(ts))
                .fold(None, |acc, f| match f.effect {
                    Effect::CanaryShare(s) => Some(s),
                    _ => acc,
                })
                .unwrap_or_else(|| sc.weight_at(ts));
            let cohort = if u_cohort < share {
                Cohort::Canary
            } else {
                Cohort::Baseline
            };
            let keep: f64 = self
                .drops
                .iter()
                .map(|&i| &sc.faults[i])
                .filter(|f| f.applies(ts, cohort))
                .map(|f| match f.effect {
                    Effect::TrafficDrop(x) => x,
                    _ => 1.0,
                })
                .product();
            if u_keep * self.bound >= keep {
                continue;
            }
            return Some(request_row(sc, &draws, ts, cohort, Source::Real, None));
        }
        None
    }
}

impl Iterator for RequestChunks {
    type Item = Vec<RequestRow>;
    fn next(&mut self) -> Option<Vec<RequestRow>> {
        let mut out = Vec::with_capacity(self.chunk.min(65_536));
        while out.len() < self.chunk {
            match self.next_real() {
                Some(real) => {
                    while let Some(s) = self.synthetic.next_if(|s| s.ts < real.ts) {
                        out.push(s);
                    }
                    out.push(real);
                }
                None => {
                    out.extend(self.synthetic.by_ref().take(self.chunk - out.len()));
                    break;
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// Synthetic monitors (from T0, when the canary exists), then synthetic bursts, each
/// from its own random stream.
fn synthetic_requests(sc: &Scenario) -> Vec<RequestRow> {
    let mut rows = Vec::new();
    let mut synth_rng = sc.rng(rng_stream::SYNTHETIC);
    let synth = poisson(&mut synth_rng, sc.t0.max(sc.from), sc.to, &[], |_| {
        sc.synthetic_rps / 1000.0
    });
    for ts in synth {
        let draws = RequestDraws::take(&mut synth_rng);
        rows.push(request_row(
            sc,
            &draws,
            ts,
            Cohort::Canary,
            Source::Synthetic,
            None,
        ));
    }
    for (i, f) in sc.faults.iter().enumerate() {
        if let Effect::SyntheticBurst { rps } = f.effect {
            let mut r = sc.rng(rng_stream::FAULT_BASE + i as u64);
            let from = f.from.max(sc.from);
            let to = f.to.min(sc.to);
            if from >= to {
                continue;
            }
            for ts in poisson(&mut r, from, to, &[], |_| rps / 1000.0) {
                let draws = RequestDraws::take(&mut r);
                rows.push(request_row(
                    sc,
                    &draws,
                    ts,
                    Cohort::Canary,
                    Source::Synthetic,
                    Some(0.5),
                ));
            }
        }
    }
    rows
}

/// Like [`generate`], but leaves `requests` empty and returns them as lazily generated,
/// sorted chunks of at most `chunk` rows (for datasets too large to hold in memory).
pub fn generate_streaming(
    spec: &GenSpec,
    plan: &GenPlan,
    chunk: usize,
) -> Result<(Dataset, RequestChunks), GenError> {
    let sc = Scenario::build(spec, plan)?;
    let ds = Dataset {
        start: Some(sc.t0),
        requests: Vec::new(),
        probes: sc.probes.then(|| probes(&sc)),
        infra: sc.infra.then(|| infra(&sc)),
        security: sc.security.then(|| security(&sc)),
        logs: sc.logs.then(|| logs(&sc)),
        pages: sc.pages.then(|| pages(&sc)),
        funnel: None,
        ledger: None,
    };
    Ok((ds, RequestChunks::new(sc, chunk)))
}

// ---------------------------------------------------------------------------------
// probes

const VERSION: &str = "2.14.0";

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

fn probes(sc: &Scenario) -> Vec<ProbeRow> {
    let mut rng = sc.rng(rng_stream::PROBES);
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

// ---------------------------------------------------------------------------------
// infra

const HOSTS: [(&str, Cohort); 6] = [
    ("web-canary-1", Cohort::Canary),
    ("web-canary-2", Cohort::Canary),
    ("web-canary-3", Cohort::Canary),
    ("web-1", Cohort::Baseline),
    ("web-2", Cohort::Baseline),
    ("web-3", Cohort::Baseline),
];
const INFRA_PERIOD: Millis = 10_000;

/// An AR(1) process around `mean` with stationary standard deviation `sd`.
struct Ar1 {
    mean: f64,
    sd: f64,
    x: f64,
}

impl Ar1 {
    const PHI: f64 = 0.8;
    fn new(mean: f64, sd: f64) -> Self {
        Ar1 { mean, sd, x: mean }
    }
    fn step(&mut self, z: f64) -> f64 {
        let innovation = self.sd * (1.0 - Self::PHI * Self::PHI).sqrt();
        self.x = self.mean + Self::PHI * (self.x - self.mean) + innovation * z;
        self.x
    }
}

fn infra(sc: &Scenario) -> Vec<InfraRow> {
    let mut rng = sc.rng(rng_stream::INFRA);
    let mut state: Vec<[Ar1; 4]> = HOSTS
        .iter()
        .map(|_| {
            [
                Ar1::new(0.30, 0.05),
                Ar1::new(0.55, 0.02),
                Ar1::new(18.0_f64.ln(), 0.12),
                Ar1::new(50.0, 8.0),
            ]
        })
        .collect();
    let mut rows = Vec::new();
    for ts in grid(sc.t0, sc.from, sc.to, INFRA_PERIOD) {
        for (h, (host, cohort)) in HOSTS.iter().enumerate() {
            let z = [
                rng.normal(),
                rng.normal(),
                rng.normal(),
                rng.normal(),
                rng.normal(),
            ];
            let s = &mut state[h];
            let mut cpu = s[0].step(z[0]);
            let mut mem = s[1].step(z[1]);
            let mut db = s[2].step(z[2]).exp();
            let mut queue = s[3].step(z[3]);
            for f in sc.faults.iter().filter(|f| f.applies(ts, *cohort)) {
                match f.effect {
                    Effect::CpuSaturation(level) => cpu = level + 0.02 * z[4],
                    Effect::MemoryLeak(to) => {
                        let p = (ts - f.from) as f64 / (f.to - f.from) as f64;
                        mem = mem * (1.0 - p) + to * p;
                    }
                    Effect::SlowDb(p95) => db = p95 * (0.05 * z[4]).exp(),
                    Effect::QueueBacklog(depth) => queue = depth * (1.0 + 0.05 * z[4]),
                    _ => {}
                }
            }
            cpu = cpu.clamp(0.01, 1.0);
            mem = mem.clamp(0.0, 0.99);
            db = db.max(0.5);
            queue = queue.max(0.0);
            rows.push(InfraRow {
                ts,
                cpu: round_to(cpu, 3),
                mem_free: round_to(mem, 3),
                host: Some(host.to_string()),
                cohort: Some(*cohort),
                db_p95_ms: Some(round_to(db, 1)),
                queue_depth: Some(queue.round()),
            });
        }
    }
    rows
}

// ---------------------------------------------------------------------------------
// security

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

fn security(sc: &Scenario) -> Vec<SecurityRow> {
    let mut rng = sc.rng(rng_stream::SECURITY);
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

// ---------------------------------------------------------------------------------
// logs

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

fn logs(sc: &Scenario) -> Vec<LogRow> {
    let mut rng = sc.rng(rng_stream::LOGS);
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
            let mut r = sc.rng(rng_stream::FAULT_BASE + i as u64);
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

// ---------------------------------------------------------------------------------
// pages

const CRAWL_PERIOD: Millis = 60_000;
const SITE: &str = "https://www.example.com";

fn pages(sc: &Scenario) -> Vec<PageRow> {
    let mut rng = sc.rng(rng_stream::PAGES);
    let mut rows = Vec::new();
    for slot_end in grid(sc.t0, sc.from, sc.to, CRAWL_PERIOD) {
        let crawl_start = slot_end - CRAWL_PERIOD + 1000;
        for (i, (path, kind)) in PAGES.iter().enumerate() {
            let ts = crawl_start + 400 * i as Millis + rng.below(200) as Millis;
            let u_cache = rng.u01();
            if ts <= sc.from || ts > sc.to {
                continue;
            }
            let mut row = match kind {
                PageKind::Seo => PageRow {
                    ts,
                    path: path.to_string(),
                    kind: *kind,
                    status: 200,
                    cache_control: "public, max-age=300".into(),
                    test_mode: Some(false),
                    canonical: Some(format!("{SITE}{path}")),
                    robots: Some("index, follow".into()),
                    in_sitemap: Some(true),
                    prerendered: Some(true),
                },
                PageKind::App => PageRow {
                    ts,
                    path: path.to_string(),
                    kind: *kind,
                    status: 200,
                    cache_control: "public, max-age=300".into(),
                    test_mode: Some(false),
                    canonical: None,
                    robots: Some("noindex, nofollow".into()),
                    in_sitemap: Some(false),
                    prerendered: Some(false),
                },
                PageKind::Api => PageRow {
                    ts,
                    path: path.to_string(),
                    kind: *kind,
                    status: 200,
                    cache_control: "no-store".into(),
                    test_mode: Some(false),
                    canonical: None,
                    robots: None,
                    in_sitemap: None,
                    prerendered: None,
                },
            };
            for f in sc.faults.iter().filter(|f| f.contains(ts)) {
                match &f.effect {
                    Effect::NoCache(share) if *kind == PageKind::Seo && u_cache < *share => {
                        row.cache_control = "no-cache".into();
                    }
                    Effect::SitemapDrop(p) if p == path => row.in_sitemap = Some(false),
                    Effect::Noindex(p) if p == path => row.robots = Some("noindex, follow".into()),
                    _ => {}
                }
            }
            rows.push(row);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default policy's plan (rollout-semantics.md, section 1).
    fn plan() -> GenPlan {
        let stage = |name: &str, minutes: i64, weight: f64| StagePlan {
            name: name.into(),
            duration_ms: minutes * 60_000,
            weight,
        };
        GenPlan {
            stages: vec![
                stage("synthetic", 120, 0.0),
                stage("ramp-5", 30, 0.05),
                stage("ramp-25", 60, 0.25),
                stage("full", 120, 1.0),
            ],
            probe_targets: vec!["ttv".into(), "security".into()],
            probe_interval_ms: 60_000,
        }
    }

    const T0: Millis = 1_772_445_600_000;
    const MIN: Millis = 60_000;

    fn stage_of(t: Millis) -> Option<&'static str> {
        let bounds = [
            ("synthetic", 120),
            ("ramp-5", 150),
            ("ramp-25", 210),
            ("full", 330),
        ];
        if t <= T0 {
            return None;
        }
        bounds
            .iter()
            .find(|(_, end)| t <= T0 + end * MIN)
            .map(|(n, _)| *n)
    }

    fn spec(seed: u64, rps: f64) -> GenSpec {
        GenSpec {
            rps,
            ..GenSpec::new(seed)
        }
    }

    fn sorted<T>(rows: &[T], ts: impl Fn(&T) -> Millis) -> bool {
        rows.windows(2).all(|w| ts(&w[0]) <= ts(&w[1]))
    }

    #[test]
    fn deterministic_for_a_seed() {
        let mut s = spec(7, 2.0);
        s.streams = STREAM_NAMES.iter().map(|s| s.to_string()).collect();
        s.synthetic_rps = 0.2;
        let a = generate(&s, &plan()).unwrap();
        let b = generate(&s, &plan()).unwrap();
        assert_eq!(a, b);
        s.seed = 8;
        let c = generate(&s, &plan()).unwrap();
        assert_ne!(a.requests, c.requests);
        assert_ne!(a.logs, c.logs);
        assert_eq!(a.start, Some(T0));
        assert!(sorted(&a.requests, |r| r.ts));
        assert!(sorted(a.probes.as_ref().unwrap(), |r| r.ts));
        assert!(sorted(a.infra.as_ref().unwrap(), |r| r.ts));
        assert!(sorted(a.security.as_ref().unwrap(), |r| r.ts));
        assert!(sorted(a.logs.as_ref().unwrap(), |r| r.ts));
        assert!(sorted(a.pages.as_ref().unwrap(), |r| r.ts));
        let end = T0 + 330 * MIN;
        assert!(a.requests.iter().all(|r| r.ts > T0 && r.ts <= end));
    }

    #[test]
    fn default_streams_and_volume() {
        let ds = generate(&GenSpec::new(1), &plan()).unwrap();
        assert!(ds.probes.is_some());
        assert!(ds.infra.is_none() && ds.security.is_none());
        assert!(ds.logs.is_none() && ds.pages.is_none());
        // 20 rps over 5.5 h.
        let n = ds.requests.len() as f64;
        assert!((n - 396_000.0).abs() < 3000.0, "{n}");
        assert!(ds.requests.iter().all(|r| r.latency_us >= 1000));
        let mut s = GenSpec::new(1);
        s.probes = false;
        assert!(generate(&s, &plan()).unwrap().probes.is_none());
    }

    #[test]
    fn canary_share_follows_stage_weights() {
        let ds = generate(&spec(3, 20.0), &plan()).unwrap();
        for (stage, weight) in [
            ("synthetic", 0.0),
            ("ramp-5", 0.05),
            ("ramp-25", 0.25),
            ("full", 1.0),
        ] {
            let (mut canary, mut all) = (0.0f64, 0.0f64);
            for r in ds.requests.iter().filter(|r| stage_of(r.ts) == Some(stage)) {
                all += 1.0;
                if r.cohort == Cohort::Canary {
                    canary += 1.0;
                }
            }
            let share = canary / all;
            assert!((share - weight).abs() < 0.006, "{stage}: {share}");
        }
    }

    fn rate_5xx<'a>(rows: impl Iterator<Item = &'a RequestRow>) -> (f64, usize) {
        let (mut bad, mut n) = (0usize, 0usize);
        for r in rows {
            n += 1;
            if (500..=599).contains(&r.status) {
                bad += 1;
            }
        }
        (bad as f64 / n as f64, n)
    }

    #[test]
    fn error_5xx_fault_hits_canary_in_span_only() {
        let mut s = spec(11, 20.0);
        let mut f = Fault::new(FaultKind::Error5xx, "ramp-25");
        f.at = "10m".into();
        f.duration = Some("20m".into());
        f.rate = Some(0.05);
        s.faults.push(f);
        let ds = generate(&s, &plan()).unwrap();
        let (from, to) = (T0 + 160 * MIN, T0 + 180 * MIN);
        let in_span = |r: &&RequestRow| r.ts > from && r.ts <= to;
        let real = |r: &&RequestRow| r.source == Source::Real;
        let (canary_in, n) = rate_5xx(
            ds.requests
                .iter()
                .filter(in_span)
                .filter(real)
                .filter(|r| r.cohort == Cohort::Canary),
        );
        assert!(
            n > 5000 && (canary_in - 0.05).abs() < 0.01,
            "{canary_in} of {n}"
        );
        let (baseline_in, _) = rate_5xx(
            ds.requests
                .iter()
                .filter(in_span)
                .filter(|r| r.cohort == Cohort::Baseline),
        );
        assert!(baseline_in < 0.003, "{baseline_in}");
        let (canary_out, n) = rate_5xx(
            ds.requests
                .iter()
                .filter(|r| !in_span(r))
                .filter(|r| r.cohort == Cohort::Canary),
        );
        assert!(n > 100_000 && canary_out < 0.002, "{canary_out}");
    }

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

    fn statuses(ds: &Dataset, target: &str) -> Vec<u16> {
        ds.probes
            .as_ref()
            .unwrap()
            .iter()
            .filter(|p| p.target == target)
            .map(|p| p.status)
            .collect()
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

    #[test]
    fn unknown_stage_is_named() {
        let mut s = spec(1, 1.0);
        let mut f = Fault::new(FaultKind::Error5xx, "ramp-50");
        f.rate = Some(0.1);
        s.faults.push(f);
        let err = generate(&s, &plan()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, GenError::UnknownStage { .. }));
        assert!(
            msg.contains("faults[0].stage") && msg.contains("ramp-50"),
            "{msg}"
        );
        assert!(msg.contains("`ramp-25`"), "{msg}");
    }

    #[test]
    fn bad_values_are_named() {
        let mut s = spec(1, 1.0);
        let mut f = Fault::new(FaultKind::Error5xx, "full");
        f.rate = Some(1.5);
        s.faults.push(f);
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(
            msg.contains("faults[0].rate") && msg.contains("1.5"),
            "{msg}"
        );

        let mut s = spec(1, 1.0);
        let mut f = Fault::new(FaultKind::LatencyShift, "full");
        f.factor = Some(2.0);
        f.rate = Some(0.1);
        s.faults.push(f);
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(
            msg.contains("`rate`") && msg.contains("latency_shift"),
            "{msg}"
        );

        let mut s = spec(1, 1.0);
        s.faults.push(Fault::new(FaultKind::WafSpike, "full"));
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(msg.contains("`per_min`"), "{msg}");

        let mut s = spec(1, 1.0);
        let mut f = Fault::new(FaultKind::WafSpike, "full");
        f.per_min = Some(20.0);
        s.faults.push(f);
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(msg.contains("security") && msg.contains("streams"), "{msg}");

        let mut s = spec(1, 1.0);
        s.start = "tomorrow".into();
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(
            msg.contains("generate.start") && msg.contains("tomorrow"),
            "{msg}"
        );

        let mut s = spec(1, 1.0);
        s.streams = vec!["funnel".into()];
        let msg = generate(&s, &plan()).unwrap_err().to_string();
        assert!(
            msg.contains("streams[0]") && msg.contains("funnel"),
            "{msg}"
        );
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ScenarioFile {
        generate: GenSpec,
    }

    const EXAMPLE: &str = r#"
[generate]
seed = 42
start = 2026-03-02T10:00:00Z
lead = "60m"
tail = "10m"
rps = 5.0
synthetic_rps = 0.5
base_5xx = 0.0002
streams = ["probes", "infra", "security", "logs", "pages"]
endpoints = [
  { path = "/api/ttv/summary", share = 0.7, median_ms = 40, p95_ms = 90 },
  { path = "/api/admin/users", share = 0.3, median_ms = 70, p95_ms = 160 },
]

[[generate.faults]]
kind = "error_5xx"
stage = "ramp-25"
at = "10m"
duration = "15m"
rate = 0.03

[[generate.faults]]
kind = "endpoint_latency"
stage = "full"
prefix = "/api/admin/"
factor = 3.0
cohort = "all"

[[generate.faults]]
kind = "latency_tail"
stage = "full"
at = "30m"
duration = "10m"
share = 0.1
min_ms = 400
max_ms = 900

[[generate.faults]]
kind = "probe_status"
stage = "synthetic"
at = "30m"
target = "ttv"
status = 503
every = 3
count = 3

[[generate.faults]]
kind = "probe_schema"
stage = "synthetic"
target = "security"
mode = "missing_field"
count = 1

[[generate.faults]]
kind = "synthetic_burst"
stage = "ramp-5"
rps = 2.0

[[generate.faults]]
kind = "traffic_drop"
stage = "ramp-25"
factor = 0.5
cohort = "all"

[[generate.faults]]
kind = "canary_share"
stage = "ramp-5"
at = "10m"
share = 0.1

[[generate.faults]]
kind = "cpu_saturation"
stage = "full"
at = "1h"
duration = "15m"
level = 0.85

[[generate.faults]]
kind = "memory_leak"
stage = "full"
to = 0.2

[[generate.faults]]
kind = "slow_db"
stage = "ramp-25"
p95_ms = 80

[[generate.faults]]
kind = "queue_backlog"
stage = "ramp-25"
depth = 2500

[[generate.faults]]
kind = "waf_spike"
stage = "ramp-5"
per_min = 30

[[generate.faults]]
kind = "credential_stuffing"
stage = "full"
duration = "15m"
per_min = 40

[[generate.faults]]
kind = "pii_leak"
stage = "full"
per_min = 2
pii = "email"

[[generate.faults]]
kind = "no_cache"
stage = "ramp-5"
share = 0.5

[[generate.faults]]
kind = "sitemap_drop"
stage = "full"
path = "/pricing"

[[generate.faults]]
kind = "noindex"
stage = "full"
path = "/blog/canary-releases-explained"
"#;

    #[test]
    fn parses_a_full_generate_table() {
        let file: ScenarioFile = toml::from_str(EXAMPLE).unwrap();
        let s = file.generate;
        assert_eq!(s.seed, 42);
        assert_eq!(s.start, "2026-03-02T10:00:00Z");
        assert_eq!(s.faults.len(), 18);
        assert_eq!(s.faults[3].every, Some(3));
        assert_eq!(s.endpoints.as_ref().unwrap()[1].median_ms, 70.0);
        let ds = generate(&s, &plan()).unwrap();
        assert!(ds.requests.first().unwrap().ts > T0 - 60 * MIN);
        assert!(ds.requests.last().unwrap().ts <= T0 + 340 * MIN);

        let st = statuses(&ds, "ttv");
        let failing: Vec<usize> = (0..st.len()).filter(|&i| st[i] != 200).collect();
        assert_eq!(failing, vec![30, 33, 36]);
        let logs = ds.logs.as_ref().unwrap();
        let leaks = logs.iter().filter(|l| l.message.contains('@')).count();
        assert!((150..=330).contains(&leaks), "{leaks}");
        assert!(
            logs.iter()
                .filter(|l| l.message.contains('@'))
                .all(|l| stage_of(l.ts) == Some("full"))
        );
        let infra = ds.infra.as_ref().unwrap();
        let hot = infra
            .iter()
            .filter(|r| r.cpu > 0.7)
            .all(|r| r.cohort == Some(Cohort::Canary) && stage_of(r.ts) == Some("full"));
        assert!(hot);
        let synth_5xx = ds
            .requests
            .iter()
            .filter(|r| r.source == Source::Synthetic && r.status >= 500)
            .count();
        assert!(synth_5xx > 1000, "{synth_5xx}");
        let pages = ds.pages.as_ref().unwrap();
        assert!(
            pages
                .iter()
                .filter(|p| p.in_sitemap == Some(false) && p.kind == PageKind::Seo)
                .all(|p| p.path == "/pricing" && stage_of(p.ts) == Some("full"))
        );

        let minimal: ScenarioFile =
            toml::from_str("[generate]\nseed = 1\nstart = \"2026-03-02T11:00:00Z\"\n").unwrap();
        assert_eq!(minimal.generate.start, "2026-03-02T11:00:00Z");
        assert_eq!(minimal.generate.streams, vec!["probes".to_string()]);
        assert_eq!(minimal.generate.rps, 20.0);
        let bad = EXAMPLE.replace("rate = 0.03", "rate = 0.03\nfactr = 2.0");
        let err = toml::from_str::<ScenarioFile>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("factr"), "{err}");
        let bad = EXAMPLE.replace("kind = \"noindex\"", "kind = \"no_index\"");
        assert!(toml::from_str::<ScenarioFile>(&bad).is_err());
    }

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

    #[test]
    fn infra_security_and_pages_baselines() {
        let mut s = spec(4, 0.0);
        s.streams = vec!["infra".into(), "security".into(), "pages".into()];
        let ds = generate(&s, &plan()).unwrap();
        let infra = ds.infra.unwrap();
        assert_eq!(infra.len(), 330 * 6 * 6);
        let mean_cpu = infra.iter().map(|r| r.cpu).sum::<f64>() / infra.len() as f64;
        assert!((mean_cpu - 0.30).abs() < 0.02, "{mean_cpu}");
        let sec = ds.security.unwrap();
        let per_min = sec.len() as f64 / 330.0;
        assert!((per_min - 4.0).abs() < 0.4, "{per_min}");
        let pages = ds.pages.unwrap();
        assert_eq!(pages.len(), 330 * 10);
        for p in &pages {
            match p.kind {
                PageKind::Api => assert_eq!(p.cache_control, "no-store"),
                _ => assert_eq!(p.cache_control, "public, max-age=300"),
            }
            if p.kind == PageKind::Seo {
                assert_eq!(
                    p.canonical.as_deref(),
                    Some(format!("{SITE}{}", p.path).as_str())
                );
            }
        }
        assert!(sorted(&pages, |p| p.ts));
    }

    #[test]
    fn lead_and_tail_extend_the_range() {
        let mut s = spec(2, 1.0);
        s.lead = "90s".into();
        s.tail = "1m".into();
        s.streams = vec!["pages".into(), "probes".into()];
        let ds = generate(&s, &plan()).unwrap();
        let first = ds.requests.first().unwrap();
        assert!(first.ts > T0 - 90_000 && first.ts <= T0);
        assert_eq!(first.cohort, Cohort::Baseline);
        let last = ds.requests.last().unwrap().ts;
        assert!(last > T0 + 330 * MIN && last <= T0 + 331 * MIN);
        let pages = ds.pages.unwrap();
        assert!(
            pages
                .iter()
                .all(|p| p.ts > T0 - 90_000 && p.ts <= T0 + 331 * MIN)
        );
        let probes = ds.probes.unwrap();
        assert!(probes.iter().all(|p| p.ts > T0 && p.ts <= T0 + 330 * MIN));
    }
}
