//! The fold: every input event lands in the per-tick aggregate of the tick interval
//! holding it, `(T0 + (k-1) tick, T0 + k tick]`. Aggregates are exact counters
//! (threshold bands for latencies), so the fold is O(1) per event, does not depend on
//! row order for request gates, and its memory is bounded by the rollout's tick count,
//! not by the data volume. Probes are kept (they are few) to be replayed in order.

use std::sync::Arc;

use crate::input::{
    EventSink, InfraSample, Millis, PageEvent, PageKind, ProbeEvent, RequestBatch, SecurityKind,
    Stream,
};
use crate::pii::PiiDetector;
use crate::sketch::Sketch;

use super::eval::judge::BaselineErrors;
use super::odds::{BaselineCounts, class, status_class};
use super::schema::SchemaSet;
use super::{Setup, StageCheck};

/// Latency thresholds (us) worth counting for live tuning: every 5 ms up to 2 s.
pub fn tuning_grid() -> Vec<u64> {
    (1..=400).map(|i| i * 5_000).collect()
}

/// Counter slots of one tick interval's request aggregate.
pub(crate) mod slot {
    /// Canary real requests.
    pub const N: usize = 0;
    pub const E5XX: usize = 1;
    pub const E4XX: usize = 2;
    /// Real requests of every cohort.
    pub const REAL_ALL: usize = 3;
    /// Synthetic requests (ignored by every gate, counted for the report).
    pub const SYNTHETIC: usize = 4;
    /// First latency band of the canary real requests.
    pub const BANDS: usize = 5;
}

/// How a probe fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    Pass,
    /// Status other than 200.
    Status,
    /// Status 200 with a payload failing its schema (or `schema_ok = false`).
    Schema,
}

#[derive(Clone, Debug)]
pub struct ProbeRec {
    pub ts: Millis,
    pub target: u16,
    pub status: u16,
    pub result: ProbeResult,
    /// Index into `Folded::probe_details` for schema failures.
    pub detail: u32,
}

/// Per-stage page findings (counts by reason, and a first example of each).
#[derive(Clone, Debug, Default)]
pub struct PageStage {
    pub cache_breaches: u64,
    pub cache_example: Option<String>,
    pub seo_status: u64,
    pub seo_canonical: u64,
    pub seo_robots: u64,
    pub seo_sitemap: u64,
    pub seo_prerendered: u64,
    pub seo_examples: Vec<(u8, String)>,
}

/// Everything folded from a dataset: the per-tick aggregates of every stream.
pub struct Folded {
    pub t0: Millis,
    pub tick_ms: Millis,
    pub ticks: usize,
    /// Latency band thresholds (us), sorted and distinct.
    pub bands: Vec<u64>,
    pub n_prefixes: usize,
    /// Counters per tick interval, `stride` of them each.
    pub stride: usize,
    pub counters: Vec<u64>,
    /// Display sketch of canary real latencies per tick interval.
    pub sketches: Vec<Option<Sketch>>,
    /// The baseline's real requests within the rollout by status class and latency
    /// band, for the odds of a false stop (a fixed-size table, not per tick).
    pub baseline: BaselineCounts,
    /// Events outside `(T0, end]` per stream.
    pub outside: [u64; 8],
    /// Of those, events before 2000-01-01 per stream (epoch seconds read as milliseconds).
    pub before_2000: [u64; 8],
    /// Rows seen per stream.
    pub rows: [u64; 8],
    pub present: [bool; 8],
    pub probes: Vec<ProbeRec>,
    pub probe_targets: Vec<String>,
    pub probe_details: Vec<String>,
    pub infra: Vec<Vec<InfraSample>>,
    pub infra_has_cohort: bool,
    pub infra_has_db: bool,
    pub infra_has_queue: bool,
    /// `waf_block`, `auth_failure` counts per tick interval.
    pub security: Vec<[u64; 2]>,
    /// `rate_limited` security events per tick interval (no gate judges them; the
    /// ship-room dashboard charts them beside the WAF blocks).
    pub rate_limited: Vec<u64>,
    /// Per kind, events in `[T0 - baseline, T0)`.
    pub security_pre: [u64; 2],
    pub security_earliest: Option<Millis>,
    /// Log lines with PII per tick interval.
    pub pii: Vec<u64>,
    /// First redacted PII findings: (ts, kinds, redacted line).
    pub pii_examples: Vec<(Millis, String, String)>,
    pub pages: Vec<PageStage>,
    pub page_cols: PageColumns,
    /// The stage-end checks over streams the fold does not hold (the analytics gates
    /// over funnel and ledger events), when any applies.
    pub stage_checks: Option<Arc<dyn StageCheck>>,
    /// The baseline's errors per tick interval, for the canary judge.
    pub baseline_errors: BaselineErrors,
    pii_detector: Option<PiiDetector>,
    /// Per-batch tallies of the requests, settled into the counters above at the end
    /// of each [`Folded::add_requests`].
    scratch: Scratch,
    schemas: SchemaSet,
    prefixes: Vec<String>,
    stage_ends: Vec<Millis>,
    security_baseline_ms: Millis,
}

/// The fold's per-batch request tallies: per tick, a row of counts indexed by
/// `(canary * class::COUNT + status class) * bands + band`, then the synthetic requests.
#[derive(Default)]
struct Scratch {
    counts: Vec<u64>,
    dirty: Vec<bool>,
    touched: Vec<usize>,
}

impl Scratch {
    /// Counts per tick over `nb` latency bands.
    fn width(nb: usize) -> usize {
        2 * class::COUNT * nb + 1
    }

    /// Sizes the table (once; it is all zeros between batches).
    fn fit(&mut self, ticks: usize, width: usize) {
        if self.counts.len() != ticks * width {
            self.counts = vec![0; ticks * width];
            self.dirty = vec![false; ticks];
        }
    }

    #[inline]
    fn touch(&mut self, k: usize) {
        if !self.dirty[k] {
            self.dirty[k] = true;
            self.touched.push(k);
        }
    }
}

/// Which optional `pages` columns the stream has.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageColumns {
    pub test_mode: bool,
    pub canonical: bool,
    pub robots: bool,
    pub in_sitemap: bool,
    pub prerendered: bool,
}

pub(crate) fn stream_idx(s: Stream) -> usize {
    Stream::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

impl Folded {
    pub fn new(setup: &Setup, t0: Millis) -> Self {
        Self::with_extra_bands(setup, t0, &[])
    }

    /// Like [`Folded::new`], also counting latencies against `extra` thresholds (us), so
    /// that policies with those latency limits can be re-evaluated exactly from these
    /// aggregates (live tuning, sweeps).
    pub fn with_extra_bands(setup: &Setup, t0: Millis, extra: &[u64]) -> Self {
        let p = &setup.policy;
        let mut bands: Vec<u64> = p.stages.iter().map(|s| s.go_p95_us).collect();
        bands.extend([
            p.trig_p95_us,
            p.trig_p99_us,
            p.endpoint_p95_us,
            p.ticket_p95_us,
        ]);
        bands.extend_from_slice(extra);
        bands.sort_unstable();
        bands.dedup();
        let nb = bands.len() + 1;
        let n_prefixes = p.outlier_prefixes.len();
        let stride = slot::BANDS + nb + n_prefixes * (1 + nb);
        let ticks = p.total_ticks();
        Folded {
            t0,
            tick_ms: p.tick_ms,
            ticks,
            bands,
            n_prefixes,
            stride,
            counters: vec![0; stride * ticks],
            sketches: vec![None; ticks],
            baseline: BaselineCounts::new(nb),
            outside: [0; 8],
            before_2000: [0; 8],
            rows: [0; 8],
            present: [false; 8],
            probes: Vec::new(),
            probe_targets: Vec::new(),
            probe_details: Vec::new(),
            infra: vec![Vec::new(); ticks],
            infra_has_cohort: false,
            infra_has_db: false,
            infra_has_queue: false,
            security: vec![[0; 2]; ticks],
            rate_limited: vec![0; ticks],
            security_pre: [0; 2],
            security_earliest: None,
            pii: vec![0; ticks],
            pii_examples: Vec::new(),
            pages: vec![PageStage::default(); p.stages.len()],
            page_cols: PageColumns::default(),
            stage_checks: None,
            baseline_errors: BaselineErrors::new(ticks),
            pii_detector: None,
            scratch: Scratch::default(),
            schemas: setup.schemas.clone(),
            prefixes: p.outlier_prefixes.clone(),
            stage_ends: p.stages.iter().map(|s| t0 + s.end_ms()).collect(),
            security_baseline_ms: p.security_baseline_ms,
        }
    }

    /// Counts an event of stream slot `si` outside the rollout, and whether it predates 2000.
    #[inline]
    fn count_outside(&mut self, si: usize, ts: Millis) {
        self.outside[si] += 1;
        if ts < crate::time::YEAR_2000_MS {
            self.before_2000[si] += 1;
        }
    }

    /// The 0-based tick interval holding `ts`, if inside `(T0, end]`.
    #[inline]
    pub fn interval(&self, ts: Millis) -> Option<usize> {
        // Saturating: a timestamp far outside the rollout stays outside it.
        let d = ts.saturating_sub(self.t0);
        if d <= 0 {
            return None;
        }
        let i = ((d - 1) / self.tick_ms) as usize;
        (i < self.ticks).then_some(i)
    }

    /// Band index of a latency: the number of band thresholds strictly below it.
    #[inline]
    fn band(&self, latency_us: u64) -> usize {
        if self.bands.len() <= 12 {
            // A handful of thresholds: a branch-free linear scan beats a binary search.
            let mut b = 0;
            for &t in &self.bands {
                b += (latency_us > t) as usize;
            }
            b
        } else {
            self.bands.partition_point(|&t| t < latency_us)
        }
    }

    /// Whether every latency limit of `policy` is a band of these aggregates (and the
    /// stage plan matches), so [`crate::engine::evaluate`] gives exact verdicts for it.
    pub fn supports(&self, policy: &crate::policy::Policy) -> bool {
        let has = |t: u64| self.bands.binary_search(&t).is_ok();
        policy.stages.iter().all(|s| has(s.go_p95_us))
            && [
                policy.trig_p95_us,
                policy.trig_p99_us,
                policy.endpoint_p95_us,
                policy.ticket_p95_us,
            ]
            .into_iter()
            .all(has)
            && policy.total_ticks() == self.ticks
            && policy.tick_ms == self.tick_ms
            && policy.outlier_prefixes == self.prefixes
            && policy.security_baseline_ms == self.security_baseline_ms
            && policy
                .stages
                .iter()
                .map(|s| self.t0 + s.end_ms())
                .eq(self.stage_ends.iter().copied())
    }

    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// An empty aggregate with the same configuration, to fold a share of the requests
    /// on another thread; combine with [`Folded::merge_requests`].
    pub fn request_part(&self) -> Folded {
        Folded {
            t0: self.t0,
            tick_ms: self.tick_ms,
            ticks: self.ticks,
            bands: self.bands.clone(),
            n_prefixes: self.n_prefixes,
            stride: self.stride,
            counters: vec![0; self.counters.len()],
            sketches: vec![None; self.ticks],
            baseline: BaselineCounts::new(self.bands.len() + 1),
            outside: [0; 8],
            before_2000: [0; 8],
            rows: [0; 8],
            present: [false; 8],
            probes: Vec::new(),
            probe_targets: Vec::new(),
            probe_details: Vec::new(),
            infra: Vec::new(),
            infra_has_cohort: false,
            infra_has_db: false,
            infra_has_queue: false,
            security: Vec::new(),
            rate_limited: Vec::new(),
            security_pre: [0; 2],
            security_earliest: None,
            pii: Vec::new(),
            pii_examples: Vec::new(),
            pages: Vec::new(),
            page_cols: PageColumns::default(),
            stage_checks: None,
            baseline_errors: BaselineErrors::new(self.ticks),
            pii_detector: None,
            scratch: Scratch::default(),
            schemas: self.schemas.clone(),
            prefixes: self.prefixes.clone(),
            stage_ends: self.stage_ends.clone(),
            security_baseline_ms: self.security_baseline_ms,
        }
    }

    /// Adds the request aggregates of a part (sums are order-independent, so the
    /// result does not depend on how the requests were split).
    pub fn merge_requests(&mut self, part: &Folded) {
        for (a, b) in self.counters.iter_mut().zip(&part.counters) {
            *a += *b;
        }
        for (a, b) in self.sketches.iter_mut().zip(&part.sketches) {
            if let Some(b) = b {
                a.get_or_insert_with(Sketch::default).merge(b);
            }
        }
        self.baseline.merge(&part.baseline);
        self.baseline_errors.merge(&part.baseline_errors);
        let ri = stream_idx(Stream::Requests);
        self.rows[ri] += part.rows[ri];
        self.outside[ri] += part.outside[ri];
        self.before_2000[ri] += part.before_2000[ri];
    }

    /// Folds a batch of requests. Each real row costs one increment in a per-tick
    /// table over (cohort, status class, latency band), plus the outlier prefix and the
    /// display sketch for a canary row; the table is settled into the counters, the
    /// baseline's table and its per-tick errors once per batch, for the ticks it
    /// touched (one or two when rows come in time order), so no row branches on its
    /// status or cohort for counters it does not need.
    pub fn add_requests(&mut self, b: &RequestBatch) {
        let ri = stream_idx(Stream::Requests);
        self.rows[ri] += b.len() as u64;
        let nb = self.bands.len() + 1;
        let width = Scratch::width(nb);
        let synthetic = width - 1;
        self.scratch.fit(self.ticks, width);
        // Rows come mostly in time order: the last row's interval `(lo, lo + tick]`
        // usually holds the next one too, which spares a division per row.
        let (mut lo, mut hi, mut last) = (Millis::MAX, Millis::MIN, 0usize);
        for i in 0..b.len() {
            let ts = b.ts[i];
            let k = if ts > lo && ts <= hi {
                last
            } else {
                let Some(k) = self.interval(ts) else {
                    self.count_outside(ri, ts);
                    continue;
                };
                lo = self.t0 + (k as Millis) * self.tick_ms;
                hi = lo + self.tick_ms;
                last = k;
                self.scratch.touch(k);
                k
            };
            let (real, canary) = (b.real[i], b.canary[i]);
            let st = b.status[i];
            let lat = b.latency_us[i];
            let band = self.band(lat);
            let class = status_class(st);
            let cell = if real {
                (usize::from(canary) * class::COUNT + class) * nb + band
            } else {
                synthetic
            };
            self.scratch.counts[k * width + cell] += 1;
            if real & canary {
                let p = b.prefix[i] as usize;
                if p < self.n_prefixes {
                    let pb = k * self.stride + slot::BANDS + nb + p * (1 + nb);
                    self.counters[pb] += 1;
                    self.counters[pb + 1 + band] += 1;
                }
                self.sketches[k]
                    .get_or_insert_with(Sketch::default)
                    .add(lat);
            }
        }
        self.settle(nb);
    }

    /// Moves the scratch tallies of the touched ticks into the counters and clears them.
    fn settle(&mut self, nb: usize) {
        let width = Scratch::width(nb);
        let mut touched = std::mem::take(&mut self.scratch.touched);
        for &k in &touched {
            self.scratch.dirty[k] = false;
            let row = &mut self.scratch.counts[k * width..(k + 1) * width];
            let c = &mut self.counters[k * self.stride..(k + 1) * self.stride];
            c[slot::SYNTHETIC] += row[width - 1];
            let mut real = 0;
            let mut baseline_errors = [0u64; 2];
            for class in 0..class::COUNT {
                for band in 0..nb {
                    let base = row[class * nb + band];
                    let can = row[(class::COUNT + class) * nb + band];
                    real += base + can;
                    self.baseline.add_n(class, band, base);
                    c[slot::N] += can;
                    c[slot::BANDS + band] += can;
                    match class {
                        class::E5XX => {
                            c[slot::E5XX] += can;
                            baseline_errors[0] += base;
                        }
                        class::E4XX => {
                            c[slot::E4XX] += can;
                            baseline_errors[1] += base;
                        }
                        _ => {}
                    }
                }
            }
            c[slot::REAL_ALL] += real;
            self.baseline_errors
                .add_counts(k, baseline_errors[0], baseline_errors[1]);
            row.fill(0);
        }
        touched.clear();
        self.scratch.touched = touched;
    }

    /// Folds one probe. Schema validation happens here, with the policy's schemas.
    fn add_probe(&mut self, p: ProbeEvent<'_>) {
        let ProbeEvent {
            ts,
            target,
            status,
            payload,
            schema_ok,
        } = p;
        let pi = stream_idx(Stream::Probes);
        self.rows[pi] += 1;
        if self.interval(ts).is_none() {
            self.count_outside(pi, ts);
            return;
        }
        let t = match self.probe_targets.iter().position(|x| x == target) {
            Some(t) => t,
            None => {
                self.probe_targets.push(target.to_string());
                self.probe_targets.len() - 1
            }
        } as u16;
        let mut detail = u32::MAX;
        let result = if status != 200 {
            ProbeResult::Status
        } else {
            let verdict = match (payload, self.schemas.get(target)) {
                (Some(p), Some(schema)) => schema.check(p),
                _ => match schema_ok {
                    Some(false) => Err("schema_ok is false".to_string()),
                    _ => Ok(()),
                },
            };
            match verdict {
                Ok(()) => ProbeResult::Pass,
                Err(why) => {
                    if self.probe_details.len() < 1000 {
                        detail = self.probe_details.len() as u32;
                        self.probe_details.push(why);
                    }
                    ProbeResult::Schema
                }
            }
        };
        self.probes.push(ProbeRec {
            ts,
            target: t,
            status,
            result,
            detail,
        });
    }

    /// Folds one infra sample.
    fn add_infra(&mut self, ts: Millis, s: InfraSample) {
        let ii = stream_idx(Stream::Infra);
        self.rows[ii] += 1;
        match self.interval(ts) {
            Some(k) => self.infra[k].push(s),
            None => self.count_outside(ii, ts),
        }
    }

    /// Folds one security event (every event counts toward the baseline's "earliest").
    fn add_security(&mut self, ts: Millis, kind: SecurityKind) {
        let si = stream_idx(Stream::Security);
        self.rows[si] += 1;
        self.security_earliest = Some(self.security_earliest.map_or(ts, |e| e.min(ts)));
        let idx = match kind {
            SecurityKind::WafBlock => Some(0),
            SecurityKind::AuthFailure => Some(1),
            SecurityKind::RateLimited => None,
        };
        match self.interval(ts) {
            Some(k) => match idx {
                Some(i) => self.security[k][i] += 1,
                None => self.rate_limited[k] += 1,
            },
            None => {
                self.count_outside(si, ts);
                if let Some(i) = idx
                    && ts < self.t0
                    && ts >= self.t0 - self.security_baseline_ms
                {
                    self.security_pre[i] += 1;
                }
            }
        }
    }

    /// Folds one log line.
    fn add_log(&mut self, ts: Millis, message: &str) {
        let li = stream_idx(Stream::Logs);
        self.rows[li] += 1;
        let Some(k) = self.interval(ts) else {
            self.count_outside(li, ts);
            return;
        };
        let det = self.pii_detector.get_or_insert_with(PiiDetector::new);
        if det.contains_pii(message) {
            self.pii[k] += 1;
            if self.pii_examples.len() < 20 {
                let matches = det.find_all(message);
                let mut kinds: Vec<&str> = matches.iter().map(|m| m.kind.as_str()).collect();
                kinds.dedup();
                let red = crate::pii::redact_message(det, message);
                self.pii_examples.push((ts, kinds.join(","), red));
            }
        }
    }

    /// Folds one `pages` row.
    fn add_page(&mut self, p: PageEvent<'_>) {
        let PageEvent {
            ts,
            path,
            kind,
            status,
            cache_control,
            test_mode,
            canonical,
            robots,
            in_sitemap,
            prerendered,
        } = p;
        let gi = stream_idx(Stream::Pages);
        self.rows[gi] += 1;
        if self.interval(ts).is_none() {
            self.count_outside(gi, ts);
            return;
        }
        let Some(stage) = self.stage_ends.iter().position(|&e| ts <= e) else {
            return;
        };
        let ps = &mut self.pages[stage];
        if kind != PageKind::Api && test_mode != Some(true) && has_no_cache(cache_control) {
            ps.cache_breaches += 1;
            if ps.cache_example.is_none() {
                ps.cache_example = Some(format!(
                    "{path} ({kind}) cache-control: {cache_control}",
                    kind = kind.as_str()
                ));
            }
        }
        if kind == PageKind::Seo {
            let mut note = |reason: u8, what: String| {
                if ps.seo_examples.iter().all(|(r, _)| *r != reason) {
                    ps.seo_examples.push((reason, what));
                }
            };
            if status != 200 {
                ps.seo_status += 1;
                note(0, format!("{path} status {status}"));
            }
            if canonical.is_none_or(str::is_empty) {
                ps.seo_canonical += 1;
                note(1, format!("{path} has no canonical"));
            }
            if robots.is_some_and(robots_blocks) {
                ps.seo_robots += 1;
                note(2, format!("{path} robots: {}", robots.unwrap_or_default()));
            }
            if in_sitemap == Some(false) {
                ps.seo_sitemap += 1;
                note(3, format!("{path} is not in the sitemap"));
            }
            if prerendered == Some(false) {
                ps.seo_prerendered += 1;
                note(4, format!("{path} is not prerendered"));
            }
        }
    }

    /// The canary real requests folded over every tick, and the displayed value (us) of
    /// each of their latency percentiles `pcts` (nearest rank, all ticks' display
    /// sketches merged); `None` for a percentile when no canary request was folded.
    pub fn canary_latency_percentiles(&self, pcts: &[u64]) -> (u64, Vec<Option<u64>>) {
        let n: u64 = (0..self.ticks)
            .map(|k| self.interval_counters(k)[slot::N])
            .sum();
        let mut all = Sketch::default();
        for s in self.sketches.iter().flatten() {
            all.merge(s);
        }
        let values = pcts
            .iter()
            .map(|p| all.value_at_rank((n * p).div_ceil(100)))
            .collect();
        (n, values)
    }

    /// The counters of tick interval `k` (0-based).
    pub fn interval_counters(&self, k: usize) -> &[u64] {
        &self.counters[k * self.stride..(k + 1) * self.stride]
    }

    /// Sorts probes by timestamp, file order on ties.
    pub fn finish(&mut self) {
        self.probes.sort_by_key(|p| p.ts);
    }
}

impl EventSink for Folded {
    fn begin(&mut self, stream: Stream) {
        self.present[stream_idx(stream)] = true;
    }
    fn requests(&mut self, batch: &RequestBatch) {
        self.add_requests(batch);
    }
    fn probe(&mut self, p: ProbeEvent<'_>) {
        self.add_probe(p);
    }
    fn infra(&mut self, ts: Millis, s: InfraSample) {
        self.add_infra(ts, s);
    }
    fn security(&mut self, ts: Millis, kind: SecurityKind) {
        self.add_security(ts, kind);
    }
    fn log(&mut self, ts: Millis, message: &str) {
        self.add_log(ts, message);
    }
    fn page(&mut self, p: PageEvent<'_>) {
        self.add_page(p);
    }
    fn columns(&mut self, stream: Stream, has: &dyn Fn(&str) -> bool) {
        match stream {
            Stream::Infra => {
                self.infra_has_cohort = has("cohort");
                self.infra_has_db = has("db_p95_ms");
                self.infra_has_queue = has("queue_depth");
            }
            Stream::Pages => {
                self.page_cols = PageColumns {
                    test_mode: has("test_mode"),
                    canonical: has("canonical"),
                    robots: has("robots"),
                    in_sitemap: has("in_sitemap"),
                    prerendered: has("prerendered"),
                };
            }
            _ => {}
        }
    }
    fn outside(&self, stream: Stream) -> u64 {
        self.outside[stream_idx(stream)]
    }
    fn before_2000(&self, stream: Stream) -> u64 {
        self.before_2000[stream_idx(stream)]
    }
    fn prefixes(&self) -> &[String] {
        &self.prefixes
    }
    fn request_part(&self) -> Self {
        Folded::request_part(self)
    }
    fn merge_requests(&mut self, part: &Self) {
        Folded::merge_requests(self, part)
    }
}

/// `no-cache` or `no-store` as a directive (case-insensitive, with or without a value).
pub fn has_no_cache(cache_control: &str) -> bool {
    cache_control.split(',').any(|d| {
        let name = d.split('=').next().unwrap_or("").trim();
        name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store")
    })
}

/// A `robots` value holding the token `noindex` or `none` (case-insensitive).
pub fn robots_blocks(robots: &str) -> bool {
    robots
        .split(|c: char| c == ',' || c.is_whitespace())
        .any(|t| t.eq_ignore_ascii_case("noindex") || t.eq_ignore_ascii_case("none"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_and_robots_tokens() {
        assert!(has_no_cache("public, No-Cache"));
        assert!(has_no_cache("no-cache=\"Set-Cookie\""));
        assert!(has_no_cache("NO-STORE"));
        assert!(!has_no_cache("public, max-age=300"));
        assert!(!has_no_cache("no-transform"));
        assert!(robots_blocks("NOINDEX, follow"));
        assert!(robots_blocks("none"));
        assert!(!robots_blocks("index, follow"));
        assert!(!robots_blocks("noindexing"));
    }
}
