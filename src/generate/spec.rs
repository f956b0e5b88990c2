//! The `[generate]` table of a scenario file and what comes with it: [`GenSpec`] with its
//! endpoint mix ([`EndpointSpec`]) and [`Fault`]s, the rollout plan taken from the policy
//! ([`GenPlan`]), the errors that name the offending key ([`GenError`]), and the field
//! checks the scenario compiler applies to numbers and durations.

use serde::{Deserialize, Deserializer};

use crate::input::Millis;
use crate::time::parse_duration;

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
    pub(super) fn fields(self) -> (&'static [&'static str], &'static [&'static str]) {
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
    pub(super) fn stream(self) -> Option<&'static str> {
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
/// Which other fields a kind takes is checked by [`generate`](super::generate); a field
/// that does not apply to the kind is an error.
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

    /// The kind-specific fields set on this fault.
    pub(super) fn present_fields(&self) -> Vec<&'static str> {
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

/// A [`GenError::Invalid`] for `field`, saying how to fix it.
pub(super) fn invalid(
    field: impl Into<String>,
    value: impl std::fmt::Display,
    fix: &str,
) -> GenError {
    GenError::Invalid {
        field: field.into(),
        value: value.to_string(),
        fix: fix.to_string(),
    }
}

/// `v` if it is a probability.
pub(super) fn check_rate(field: String, v: f64) -> Result<f64, GenError> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(field, v, "use a probability between 0 and 1"))
    }
}

/// `v` if it is finite and not negative.
pub(super) fn check_nonneg(field: String, v: f64) -> Result<f64, GenError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(field, v, "use a finite number >= 0"))
    }
}

/// `v` if it is finite and positive.
pub(super) fn check_positive(field: String, v: f64) -> Result<f64, GenError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(field, v, "use a finite number > 0"))
    }
}

/// The duration `s` written in `field`, in milliseconds.
pub(super) fn duration_field(field: &str, s: &str) -> Result<Millis, GenError> {
    parse_duration(s).ok_or_else(|| {
        invalid(
            field,
            format!("{s:?}"),
            "write a duration such as \"90s\", \"30m\", \"2h\" or \"1h30m\"",
        )
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::generate::generate;
    use crate::generate::test_support::{MIN, T0, plan, stage_of, statuses};
    use crate::input::{Cohort, PageKind, Source};

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
}
