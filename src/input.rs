//! The input event streams, shared by every layer: one row type per stream, the closed
//! value lists of the dataset format, the stream names, the in-memory dataset, and the
//! [`EventSink`] every reader pushes decoded events into (columnar request batches and
//! one call per other event). Readers and the generator produce these values; the
//! engine's fold implements the sink. Neither side imports the other.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC. Every instant in `rehearse` is one of these.
pub type Millis = i64;

/// Which build served a request (or ran on a host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Cohort {
    Canary,
    Baseline,
}

impl Cohort {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "canary" => Some(Self::Canary),
            "baseline" => Some(Self::Baseline),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canary => "canary",
            Self::Baseline => "baseline",
        }
    }
}

/// Whether a request came from a real user or a synthetic client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Real,
    Synthetic,
}

impl Source {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "real" => Some(Self::Real),
            "synthetic" => Some(Self::Synthetic),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Real => "real",
            Self::Synthetic => "synthetic",
        }
    }
}

/// The `kind` of a `security` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SecurityKind {
    WafBlock,
    AuthFailure,
    RateLimited,
}

impl SecurityKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "waf_block" => Some(Self::WafBlock),
            "auth_failure" => Some(Self::AuthFailure),
            "rate_limited" => Some(Self::RateLimited),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WafBlock => "waf_block",
            Self::AuthFailure => "auth_failure",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// The `kind` of a `pages` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum PageKind {
    Seo,
    Api,
    App,
}

impl PageKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "seo" => Some(Self::Seo),
            "api" => Some(Self::Api),
            "app" => Some(Self::App),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seo => "seo",
            Self::Api => "api",
            Self::App => "app",
        }
    }
}

/// One row of the `requests` stream. `latency_us` is `latency_ms` read at microsecond
/// resolution (rounded half-up), as the contract compares it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRow {
    pub ts: Millis,
    pub endpoint: String,
    pub cohort: Cohort,
    pub source: Source,
    pub status: u16,
    pub latency_us: u64,
    pub user_id: Option<String>,
    pub region: Option<String>,
    pub method: Option<String>,
}

/// One row of the `probes` stream.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeRow {
    pub ts: Millis,
    pub target: String,
    pub status: u16,
    pub latency_us: u64,
    /// The JSON body as text.
    pub payload: Option<String>,
    pub schema_ok: Option<bool>,
}

/// One row of the `infra` stream. `cpu` and `mem_free` are fractions in 0..1.
#[derive(Clone, Debug, PartialEq)]
pub struct InfraRow {
    pub ts: Millis,
    pub cpu: f64,
    pub mem_free: f64,
    pub host: Option<String>,
    pub cohort: Option<Cohort>,
    pub db_p95_ms: Option<f64>,
    pub queue_depth: Option<f64>,
}

/// One row of the `security` stream.
#[derive(Clone, Debug, PartialEq)]
pub struct SecurityRow {
    pub ts: Millis,
    pub kind: SecurityKind,
    pub source_ip: Option<String>,
    pub rule: Option<String>,
}

/// One row of the `logs` stream.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRow {
    pub ts: Millis,
    pub message: String,
    pub service: Option<String>,
    pub level: Option<String>,
}

/// One row of the `pages` stream.
#[derive(Clone, Debug, PartialEq)]
pub struct PageRow {
    pub ts: Millis,
    pub path: String,
    pub kind: PageKind,
    pub status: u16,
    pub cache_control: String,
    pub test_mode: Option<bool>,
    pub canonical: Option<String>,
    pub robots: Option<String>,
    pub in_sitemap: Option<bool>,
    pub prerendered: Option<bool>,
}

/// The `kind` of a `ledger` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
    Booking,
    Payout,
}

impl LedgerKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "booking" => Some(Self::Booking),
            "payout" => Some(Self::Payout),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booking => "booking",
            Self::Payout => "payout",
        }
    }
}

/// One row of the `funnel` stream: a product analytics event (`visit`, `search`, ...,
/// `credit_purchase`, B2B provider events, `abandon`, `retry`, ...). `revenue` is in
/// major units of `currency`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FunnelRow {
    pub ts: Millis,
    pub event: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub cohort: Option<Cohort>,
    pub platform: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub revenue: Option<f64>,
    pub currency: Option<String>,
    pub order_id: Option<String>,
    pub test_mode: Option<bool>,
    pub user_agent: Option<String>,
    pub page_url: Option<String>,
    pub provider_id: Option<String>,
    pub message_id: Option<String>,
    /// Ground truth of generated data: whether the event came from a real or synthetic user.
    pub source: Option<Source>,
}

/// One row of the `ledger` stream: one double-entry line of a booking or payout
/// transaction, amounts in integer minor units (an absent amount is 0).
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerRow {
    pub ts: Millis,
    pub txn_id: String,
    pub entry_id: String,
    pub account: String,
    pub debit_minor: Option<i64>,
    pub credit_minor: Option<i64>,
    pub currency: String,
    pub kind: LedgerKind,
    pub order_id: Option<String>,
    pub provider_id: Option<String>,
    pub payout_id: Option<String>,
}

/// The streams a dataset directory may hold, in the order of `dataset-format.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Requests,
    Probes,
    Infra,
    Security,
    Logs,
    Pages,
    Funnel,
    Ledger,
}

impl Stream {
    pub const ALL: [Stream; 8] = [
        Stream::Requests,
        Stream::Probes,
        Stream::Infra,
        Stream::Security,
        Stream::Logs,
        Stream::Pages,
        Stream::Funnel,
        Stream::Ledger,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Requests => "requests",
            Stream::Probes => "probes",
            Stream::Infra => "infra",
            Stream::Security => "security",
            Stream::Logs => "logs",
            Stream::Pages => "pages",
            Stream::Funnel => "funnel",
            Stream::Ledger => "ledger",
        }
    }
}

/// A whole dataset held in memory: what the generator produces and what
/// `rehearse check` replays without touching the disk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    /// The manifest's `start` (T0), when known.
    pub start: Option<Millis>,
    pub requests: Vec<RequestRow>,
    /// `None` when the stream is absent (its gates are `not_evaluated`).
    pub probes: Option<Vec<ProbeRow>>,
    /// `None` when the stream is absent (its gates are `not_evaluated`).
    pub infra: Option<Vec<InfraRow>>,
    pub security: Option<Vec<SecurityRow>>,
    pub logs: Option<Vec<LogRow>>,
    pub pages: Option<Vec<PageRow>>,
    /// Product analytics events; `None` when the stream is absent.
    pub funnel: Option<Vec<FunnelRow>>,
    /// Booking and payout ledger lines; `None` when the stream is absent.
    pub ledger: Option<Vec<LedgerRow>>,
}

/// What reading one stream produced besides its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Rows handed to the decoder and accepted.
    pub rows: u64,
    /// Rows skipped under `--on-error skip`.
    pub skipped: u64,
    /// The first skipped row's error, for the report.
    pub first_skip: Option<String>,
    /// Which of the requested columns the file has (by index into the request).
    pub present: Vec<bool>,
}

/// What was read from one stream file (or generated stream).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInput {
    pub stream: Stream,
    pub file: String,
    pub stats: ReadStats,
    /// Rows outside `(T0, end of the last stage]`.
    pub outside: u64,
    /// Of those, rows timed before 2000-01-01 (likely epoch seconds read as milliseconds).
    pub before_2000: u64,
}

/// Columnar batch of requests, already reduced to what gates read.
#[derive(Clone, Debug, Default)]
pub struct RequestBatch {
    pub ts: Vec<Millis>,
    pub canary: Vec<bool>,
    pub real: Vec<bool>,
    pub status: Vec<u16>,
    pub latency_us: Vec<u64>,
    /// Index of the outlier prefix the endpoint starts with, or `u8::MAX`.
    pub prefix: Vec<u8>,
}

impl RequestBatch {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ts: Vec::with_capacity(n),
            canary: Vec::with_capacity(n),
            real: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            latency_us: Vec::with_capacity(n),
            prefix: Vec::with_capacity(n),
        }
    }
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
    pub fn clear(&mut self) {
        self.ts.clear();
        self.canary.clear();
        self.real.clear();
        self.status.clear();
        self.latency_us.clear();
        self.prefix.clear();
    }
    pub fn push(
        &mut self,
        ts: Millis,
        cohort: Cohort,
        source: Source,
        status: u16,
        latency_us: u64,
        prefix: u8,
    ) {
        self.ts.push(ts);
        self.canary.push(cohort == Cohort::Canary);
        self.real.push(source == Source::Real);
        self.status.push(status);
        self.latency_us.push(latency_us);
        self.prefix.push(prefix);
    }
}

/// The outlier prefix index of an endpoint (`u8::MAX` when none matches).
pub fn prefix_index(prefixes: &[String], endpoint: &str) -> u8 {
    prefix_index_bytes(prefixes, endpoint.as_bytes())
}

/// [`prefix_index`] over the endpoint's bytes (a `str` prefix is a byte prefix), for
/// readers that have not made a `str` of it.
#[inline]
pub fn prefix_index_bytes(prefixes: &[String], endpoint: &[u8]) -> u8 {
    prefixes
        .iter()
        .position(|p| endpoint.starts_with(p.as_bytes()))
        .map_or(u8::MAX, |i| i as u8)
}

/// One infra sample as the gates read it.
#[derive(Clone, Copy, Debug)]
pub struct InfraSample {
    pub cpu: f64,
    pub mem_free: f64,
    /// NaN when absent.
    pub db: f64,
    /// NaN when absent.
    pub queue: f64,
    pub canary: bool,
}

/// One probe as decoded.
#[derive(Clone, Copy, Debug)]
pub struct ProbeEvent<'a> {
    pub ts: Millis,
    pub target: &'a str,
    pub status: u16,
    pub payload: Option<&'a str>,
    pub schema_ok: Option<bool>,
}

/// One `pages` row as decoded.
#[derive(Clone, Copy, Debug)]
pub struct PageEvent<'a> {
    pub ts: Millis,
    pub path: &'a str,
    pub kind: PageKind,
    pub status: u16,
    pub cache_control: &'a str,
    pub test_mode: Option<bool>,
    pub canonical: Option<&'a str>,
    pub robots: Option<&'a str>,
    pub in_sitemap: Option<bool>,
    pub prerendered: Option<bool>,
}

/// Where readers push decoded events, stream by stream (ripgrep's `Sink` is the model):
/// `begin`, the stream's events, then `columns` with the optional columns it had. The
/// engine's fold implements it; files and generated datasets push through the same calls.
pub trait EventSink {
    /// A stream starts (it is present in the dataset).
    fn begin(&mut self, stream: Stream);
    fn requests(&mut self, batch: &RequestBatch);
    fn probe(&mut self, p: ProbeEvent<'_>);
    fn infra(&mut self, ts: Millis, s: InfraSample);
    fn security(&mut self, ts: Millis, kind: SecurityKind);
    fn log(&mut self, ts: Millis, message: &str);
    fn page(&mut self, p: PageEvent<'_>);
    /// After a stream's events: whether it had each optional column, by name.
    fn columns(&mut self, stream: Stream, has: &dyn Fn(&str) -> bool);
    /// Events of `stream` outside the rollout so far.
    fn outside(&self, stream: Stream) -> u64;
    /// Of those, events timed before 2000-01-01 (likely epoch seconds).
    fn before_2000(&self, stream: Stream) -> u64;
    /// The endpoint prefixes whose index a request batch carries.
    fn prefixes(&self) -> &[String];
    /// An empty sink of the same configuration, to fold a share of the requests on
    /// another thread; combine with [`EventSink::merge_requests`].
    fn request_part(&self) -> Self
    where
        Self: Sized;
    /// Adds the requests folded by a part (sums commute, so the split never shows).
    fn merge_requests(&mut self, part: &Self)
    where
        Self: Sized;
}
