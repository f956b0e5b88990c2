//! The analytics report of `rehearse funnel` (contract section 8): the JSON document,
//! the terminal summary with every KPI side by side with and without exclusion, and the
//! report's tables as Parquet files for notebooks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use super::analysis::{FunnelAnalysis, StepTest, TrackingGap};
use super::b2b::{ProviderFlow, provider_flow};
use super::data::{AnalyticsData, AnalyticsInput, STEP_NAMES};
use super::ledger::{LedgerReport, check as check_ledger};
use super::money::iso4217_exponent;
use super::policy::AnalyticsPolicy;
use super::rollup::{
    Attribution, FunnelReport, Kpis, OtherEvents, Scope, StepRow, other_events, persons_frame,
    purchases_frame, rollups,
};
use crate::time::format_duration;

/// Why the report could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the analytics computation failed: {0}")]
    Polars(#[from] PolarsError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the Parquet table {}: {source}", path.display())]
    Parquet { path: PathBuf, source: PolarsError },
}

/// Person counts (contract section 8).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PersonCounts {
    pub total: u64,
    /// Persons with at least one synthetic event.
    pub synthetic: u64,
    /// Canary-only persons that are not synthetic.
    pub canary_only: u64,
    /// Persons in KPI rollups.
    pub included: u64,
}

/// Which streams and columns the data has.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Streams {
    pub funnel: bool,
    pub ledger: bool,
    /// Whether the funnel data has the ground-truth `source` column.
    pub source_column: bool,
}

/// Identity stitching and delivery duplicates.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IdentitySummary {
    /// Anonymous ids stitched to a user id.
    pub stitched_anonymous_ids: u64,
    /// Rows dropped as delivery duplicates (a repeated `messageId`).
    pub duplicates_dropped: u64,
}

/// KPIs side by side.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KpiSet {
    pub included: Kpis,
    pub without_exclusion: Kpis,
    pub excluded: Kpis,
}

/// The report of `rehearse funnel --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalyticsReport {
    pub dataset: String,
    pub inputs: Vec<AnalyticsInput>,
    pub streams: Streams,
    pub policy: AnalyticsPolicy,
    pub persons: PersonCounts,
    pub identity: IdentitySummary,
    /// Over included persons.
    pub funnel: FunnelReport,
    /// Over every person.
    pub funnel_without_exclusion: FunnelReport,
    /// Over the excluded persons alone.
    pub funnel_excluded: FunnelReport,
    pub revenue_minor: BTreeMap<String, i64>,
    pub revenue_minor_without_exclusion: BTreeMap<String, i64>,
    pub kpis: KpiSet,
    pub attribution: Attribution,
    pub attribution_without_exclusion: Attribution,
    pub other_events: Vec<OtherEvents>,
    /// Events with `source = synthetic` of persons not excluded; `null` without a
    /// `source` column.
    pub leaked_events: Option<u64>,
    pub tracking_gaps: Vec<TrackingGap>,
    /// Every step test, gap or not.
    pub tracking_tests: Vec<StepTest>,
    pub fee_violations: u64,
    pub ledger: LedgerReport,
    pub provider_flow: ProviderFlow,
    /// Rows dropped as delivery duplicates (a repeated `messageId`), all files.
    pub duplicates_dropped: u64,
}

/// A built report and the frames behind its tables.
pub struct Analytics {
    pub report: AnalyticsReport,
    tables: Vec<(&'static str, DataFrame)>,
    /// The analysis behind the person-level tables, built when they are written.
    analysis: Option<FunnelAnalysis>,
}

/// Builds the report over every row of the data.
pub fn analyze(
    data: &AnalyticsData,
    policy: &AnalyticsPolicy,
    dataset: &str,
) -> Result<Analytics, ReportError> {
    let syms = &data.symbols;
    let mut tables: Vec<(&'static str, DataFrame)> = Vec::new();
    let fa = FunnelAnalysis::new(data, policy, None);
    let mut report = AnalyticsReport {
        dataset: dataset.to_string(),
        inputs: data.inputs.clone(),
        streams: Streams {
            funnel: data.funnel.is_some(),
            ledger: data.ledger.is_some(),
            source_column: data.has_source,
        },
        policy: policy.clone(),
        persons: PersonCounts::default(),
        identity: IdentitySummary {
            stitched_anonymous_ids: 0,
            duplicates_dropped: data.inputs.iter().map(|i| i.duplicates).sum(),
        },
        funnel: FunnelReport::empty(),
        funnel_without_exclusion: FunnelReport::empty(),
        funnel_excluded: FunnelReport::empty(),
        revenue_minor: BTreeMap::new(),
        revenue_minor_without_exclusion: BTreeMap::new(),
        kpis: KpiSet {
            included: Kpis::empty(),
            without_exclusion: Kpis::empty(),
            excluded: Kpis::empty(),
        },
        attribution: Attribution::default(),
        attribution_without_exclusion: Attribution::default(),
        other_events: Vec::new(),
        leaked_events: None,
        tracking_gaps: Vec::new(),
        tracking_tests: Vec::new(),
        fee_violations: 0,
        ledger: LedgerReport::default(),
        duplicates_dropped: data.inputs.iter().map(|i| i.duplicates).sum(),
        provider_flow: provider_flow(
            data,
            data.funnel.as_ref().map_or(0, |f| f.len()),
            data.ledger.as_ref().map_or(0, |l| l.len()),
        ),
    };
    if let (Some(fa), Some(ev)) = (&fa, &data.funnel) {
        let p = &fa.persons;
        let synthetic = p.synthetic.iter().filter(|s| **s).count() as u64;
        let canary_only = (0..p.len())
            .filter(|&i| p.canary_only[i] && !p.synthetic[i])
            .count() as u64;
        report.persons = PersonCounts {
            total: p.len() as u64,
            synthetic,
            canary_only,
            included: fa.excluded.iter().filter(|e| !**e).count() as u64,
        };
        report.identity.stitched_anonymous_ids = fa.identity.stitched_anonymous_ids;
        let r = rollups(fa, syms)?;
        let (f, k, a) = r.get(Scope::Included);
        report.funnel = f.clone();
        report.kpis.included = k.clone();
        report.revenue_minor = k.revenue_minor.clone();
        report.attribution = a.clone();
        let (f, k, a) = r.get(Scope::All);
        report.funnel_without_exclusion = f.clone();
        report.kpis.without_exclusion = k.clone();
        report.revenue_minor_without_exclusion = k.revenue_minor.clone();
        report.attribution_without_exclusion = a.clone();
        let (f, k, _) = r.get(Scope::Excluded);
        report.funnel_excluded = f.clone();
        report.kpis.excluded = k.clone();
        report.other_events = other_events(fa, ev, syms);
        report.leaked_events = fa.leaked_events;
        report.tracking_gaps = fa.gaps();
        report.tracking_tests = fa.step_tests.clone();
    }
    if let Some(l) = &data.ledger {
        let lc = check_ledger(l, l.len(), syms, policy)?;
        report.fee_violations = lc.report.fee_violations;
        report.ledger = lc.report;
        tables.push(("ledger_transactions", lc.transactions));
    }
    tables.push(("funnel", funnel_table(&report)?));
    tables.push(("kpis", kpi_table(&report)?));
    tables.push(("attribution", attribution_table(&report)?));
    tables.push(("tracking", tracking_table(&report)?));
    tables.push(("other_events", other_events_table(&report)?));
    tables.push(("provider_flow", provider_table(&report)?));
    Ok(Analytics {
        report,
        tables,
        analysis: fa,
    })
}

fn funnel_table(r: &AnalyticsReport) -> PolarsResult<DataFrame> {
    let mut scope = Vec::new();
    let mut dimension = Vec::new();
    let mut value: Vec<Option<String>> = Vec::new();
    let mut step = Vec::new();
    let mut step_index = Vec::new();
    let mut persons = Vec::new();
    let mut conv = Vec::new();
    let mut drop = Vec::new();
    let mut median = Vec::new();
    let scopes = [
        ("included", &r.funnel),
        ("all", &r.funnel_without_exclusion),
        ("excluded", &r.funnel_excluded),
    ];
    for (s, f) in scopes {
        let mut groups: Vec<(&str, Option<String>, &Vec<StepRow>)> =
            vec![("overall", None, &f.steps)];
        groups.extend(
            f.by_platform
                .iter()
                .map(|g| ("platform", g.value.clone(), &g.steps)),
        );
        groups.extend(
            f.by_cohort
                .iter()
                .map(|g| ("cohort", g.value.clone(), &g.steps)),
        );
        for (dim, val, steps) in groups {
            for (k, row) in steps.iter().enumerate() {
                scope.push(s);
                dimension.push(dim);
                value.push(val.clone());
                step.push(row.name);
                step_index.push(k as u32);
                persons.push(row.persons);
                conv.push(row.conversion_from_previous);
                drop.push(row.drop_off);
                median.push(row.median_s_from_previous);
            }
        }
    }
    DataFrame::new(
        scope.len(),
        vec![
            Column::new("scope".into(), scope),
            Column::new("dimension".into(), dimension),
            Column::new("value".into(), value),
            Column::new("step".into(), step),
            Column::new("step_index".into(), step_index),
            Column::new("persons".into(), persons),
            Column::new("conversion_from_previous".into(), conv),
            Column::new("drop_off".into(), drop),
            Column::new("median_s_from_previous".into(), median),
        ],
    )
}

fn kpi_table(r: &AnalyticsReport) -> PolarsResult<DataFrame> {
    let mut scope: Vec<&str> = Vec::new();
    let mut persons: Vec<u64> = Vec::new();
    let mut visitors: Vec<u64> = Vec::new();
    let mut paying: Vec<u64> = Vec::new();
    let mut free_to_paid: Vec<Option<f64>> = Vec::new();
    let mut currency: Vec<Option<String>> = Vec::new();
    let mut revenue: Vec<Option<i64>> = Vec::new();
    let mut arpu: Vec<Option<f64>> = Vec::new();
    let mut arppu: Vec<Option<f64>> = Vec::new();
    for (s, k) in [
        ("included", &r.kpis.included),
        ("all", &r.kpis.without_exclusion),
        ("excluded", &r.kpis.excluded),
    ] {
        let mut currencies: Vec<Option<&String>> = k.revenue_minor.keys().map(Some).collect();
        if currencies.is_empty() {
            currencies.push(None);
        }
        for c in currencies {
            scope.push(s);
            persons.push(k.persons);
            visitors.push(k.visitors);
            paying.push(k.paying_persons);
            free_to_paid.push(k.free_to_paid);
            currency.push(c.cloned());
            revenue.push(c.and_then(|c| k.revenue_minor.get(c).copied()));
            arpu.push(c.and_then(|c| k.arpu_minor.get(c).copied()));
            arppu.push(c.and_then(|c| k.arppu_minor.get(c).copied()));
        }
    }
    DataFrame::new(
        scope.len(),
        vec![
            Column::new("scope".into(), scope),
            Column::new("persons".into(), persons),
            Column::new("visitors".into(), visitors),
            Column::new("paying_persons".into(), paying),
            Column::new("free_to_paid".into(), free_to_paid),
            Column::new("currency".into(), currency),
            Column::new("revenue_minor".into(), revenue),
            Column::new("arpu_minor".into(), arpu),
            Column::new("arppu_minor".into(), arppu),
        ],
    )
}

fn attribution_table(r: &AnalyticsReport) -> PolarsResult<DataFrame> {
    let mut scope = Vec::new();
    let mut model = Vec::new();
    let mut source = Vec::new();
    let mut persons = Vec::new();
    let mut conversions = Vec::new();
    let mut currency: Vec<Option<String>> = Vec::new();
    let mut revenue: Vec<Option<i64>> = Vec::new();
    for (s, a) in [
        ("included", &r.attribution),
        ("all", &r.attribution_without_exclusion),
    ] {
        for (m, rows) in [
            ("first_touch", &a.first_touch),
            ("last_touch", &a.last_touch),
        ] {
            for row in rows {
                let mut cur: Vec<(Option<String>, Option<i64>)> = row
                    .revenue_minor
                    .iter()
                    .map(|(c, v)| (Some(c.clone()), Some(*v)))
                    .collect();
                if cur.is_empty() {
                    cur.push((None, None));
                }
                for (c, v) in cur {
                    scope.push(s);
                    model.push(m);
                    source.push(row.utm_source.clone());
                    persons.push(row.persons);
                    conversions.push(row.conversions);
                    currency.push(c);
                    revenue.push(v);
                }
            }
        }
    }
    DataFrame::new(
        scope.len(),
        vec![
            Column::new("scope".into(), scope),
            Column::new("model".into(), model),
            Column::new("utm_source".into(), source),
            Column::new("persons".into(), persons),
            Column::new("conversions".into(), conversions),
            Column::new("currency".into(), currency),
            Column::new("revenue_minor".into(), revenue),
        ],
    )
}

fn tracking_table(r: &AnalyticsReport) -> PolarsResult<DataFrame> {
    let t = &r.tracking_tests;
    DataFrame::new(
        t.len(),
        vec![
            Column::new("step".into(), t.iter().map(|t| t.step).collect::<Vec<_>>()),
            Column::new(
                "canary_n".into(),
                t.iter().map(|t| t.canary_n).collect::<Vec<_>>(),
            ),
            Column::new(
                "canary_x".into(),
                t.iter().map(|t| t.canary_x).collect::<Vec<_>>(),
            ),
            Column::new(
                "baseline_n".into(),
                t.iter().map(|t| t.baseline_n).collect::<Vec<_>>(),
            ),
            Column::new(
                "baseline_x".into(),
                t.iter().map(|t| t.baseline_x).collect::<Vec<_>>(),
            ),
            Column::new("z".into(), t.iter().map(|t| t.z).collect::<Vec<_>>()),
            Column::new("gap".into(), t.iter().map(|t| t.gap).collect::<Vec<_>>()),
        ],
    )
}

fn other_events_table(r: &AnalyticsReport) -> PolarsResult<DataFrame> {
    let o = &r.other_events;
    DataFrame::new(
        o.len(),
        vec![
            Column::new(
                "event".into(),
                o.iter().map(|o| o.event.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "platform".into(),
                o.iter().map(|o| o.platform.as_deref()).collect::<Vec<_>>(),
            ),
            Column::new(
                "events".into(),
                o.iter().map(|o| o.events).collect::<Vec<_>>(),
            ),
            Column::new(
                "events_included".into(),
                o.iter().map(|o| o.events_included).collect::<Vec<_>>(),
            ),
            Column::new(
                "persons".into(),
                o.iter().map(|o| o.persons).collect::<Vec<_>>(),
            ),
        ],
    )
}

fn provider_table(r: &AnalyticsReport) -> PolarsResult<DataFrame> {
    let s = &r.provider_flow.steps;
    DataFrame::new(
        s.len(),
        vec![
            Column::new("step".into(), s.iter().map(|s| s.name).collect::<Vec<_>>()),
            Column::new(
                "providers".into(),
                s.iter().map(|s| s.providers).collect::<Vec<_>>(),
            ),
            Column::new(
                "conversion_from_previous".into(),
                s.iter()
                    .map(|s| s.conversion_from_previous)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "median_s_from_previous".into(),
                s.iter()
                    .map(|s| s.median_s_from_previous)
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

impl Analytics {
    /// Writes every table as `<name>.parquet` and the report as `report.json` into
    /// `dir` (created if needed); returns the files written. `data` is the data the
    /// report was built from (for the names of the person-level tables).
    pub fn write_tables(
        &mut self,
        data: &AnalyticsData,
        dir: &Path,
    ) -> Result<Vec<PathBuf>, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        if let Some(fa) = self.analysis.take() {
            self.tables
                .push(("persons", persons_frame(&fa, &data.symbols, &data.ids)?));
            self.tables
                .push(("purchases", purchases_frame(&fa, &data.symbols)?));
        }
        let mut written = Vec::new();
        for (name, df) in &mut self.tables {
            let path = dir.join(format!("{name}.parquet"));
            let file = std::fs::File::create(&path).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            ParquetWriter::new(file)
                .with_compression(ParquetCompression::Snappy)
                .finish(df)
                .map_err(|source| ReportError::Parquet {
                    path: path.clone(),
                    source,
                })?;
            written.push(path);
        }
        let path = dir.join("report.json");
        crate::output::write_atomic(&path, to_json(&self.report).as_bytes()).map_err(|source| {
            ReportError::Write {
                path: path.clone(),
                source,
            }
        })?;
        written.push(path);
        Ok(written)
    }
}

/// The report as pretty JSON with a final newline.
pub fn to_json(r: &AnalyticsReport) -> String {
    let mut s =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// An amount of minor units in major units (`123456` USD is `1234.56`).
pub fn major(minor: i64, currency: &str) -> String {
    let e = iso4217_exponent(currency);
    if e == 0 {
        return minor.to_string();
    }
    let div = 10i128.pow(e);
    let m = i128::from(minor);
    let sign = if m < 0 { "-" } else { "" };
    let a = m.abs();
    format!("{sign}{}.{:0width$}", a / div, a % div, width = e as usize)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(
        || "-".into(),
        |s| format_duration((s.round() as i64).saturating_mul(1000)),
    )
}

fn step_cells(row: &StepRow) -> String {
    format!(
        "{:>8} {:>7} {:>8}",
        row.persons,
        pct(row.conversion_from_previous),
        secs(row.median_s_from_previous)
    )
}

/// The terminal summary.
pub fn human(r: &AnalyticsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "rehearse funnel  {}", r.dataset);
    let inputs: Vec<String> = r
        .inputs
        .iter()
        .map(|i| {
            let mut t = format!("{} {} rows", i.file, i.rows);
            if i.segment {
                t.push_str(" (Segment export)");
            }
            if i.duplicates > 0 {
                let _ = write!(t, ", {} duplicates dropped", i.duplicates);
            }
            if i.skipped > 0 {
                let _ = write!(t, ", {} skipped", i.skipped);
            }
            t
        })
        .collect();
    let _ = writeln!(s, "inputs: {}", inputs.join("; "));
    for i in r.inputs.iter().filter(|i| i.skipped > 0) {
        if let Some(first) = &i.first_skip {
            let _ = writeln!(s, "  first skipped row of {}: {first}", i.file);
        }
    }
    if r.streams.funnel {
        let p = &r.persons;
        let mut excl = Vec::new();
        if r.policy.exclude_synthetic {
            excl.push("synthetic");
        }
        if r.policy.exclude_canary_only {
            excl.push("canary-only");
        }
        let _ = writeln!(
            s,
            "persons: {} total, {} synthetic, {} canary-only, {} included (excluded: {}); {} anonymous ids stitched",
            p.total,
            p.synthetic,
            p.canary_only,
            p.included,
            if excl.is_empty() {
                "none".to_string()
            } else {
                excl.join(", ")
            },
            r.identity.stitched_anonymous_ids
        );
        let _ = writeln!(
            s,
            "\nB2C funnel (window {})      {:^25} {:^25} {:^25}",
            r.policy.conversion_window, "included", "without exclusion", "excluded"
        );
        let _ = writeln!(
            s,
            "  {:<24} {:>8} {:>7} {:>8} {:>8} {:>7} {:>8} {:>8} {:>7} {:>8}",
            "step",
            "persons",
            "conv",
            "median",
            "persons",
            "conv",
            "median",
            "persons",
            "conv",
            "median"
        );
        for (k, name) in STEP_NAMES.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {:<24} {} {} {}",
                name,
                step_cells(&r.funnel.steps[k]),
                step_cells(&r.funnel_without_exclusion.steps[k]),
                step_cells(&r.funnel_excluded.steps[k])
            );
        }
        for (title, inc, all) in [
            (
                "platform",
                &r.funnel.by_platform,
                &r.funnel_without_exclusion.by_platform,
            ),
            (
                "cohort",
                &r.funnel.by_cohort,
                &r.funnel_without_exclusion.by_cohort,
            ),
        ] {
            let _ = writeln!(
                s,
                "\nper {title} (persons included / without exclusion, conversion from visit)"
            );
            for g in all {
                let label = g.value.as_deref().unwrap_or("(none)");
                let included = inc.iter().find(|x| x.value == g.value);
                let mut line = format!("  {label:<12}");
                for (k, row) in g.steps.iter().enumerate() {
                    let i = included.map_or(0, |x| x.steps[k].persons);
                    let _ = write!(line, " {} {}/{}", row.name, i, row.persons);
                }
                let v = included.map_or(0, |x| x.steps[0].persons);
                let p = included.map_or(0, |x| x.steps[4].persons);
                if v > 0 {
                    let _ = write!(line, "  ({:.1}%)", p as f64 * 100.0 / v as f64);
                }
                let _ = writeln!(s, "{line}");
            }
        }
        let (i, a) = (&r.kpis.included, &r.kpis.without_exclusion);
        let _ = writeln!(
            s,
            "\nKPIs                       {:>20} {:>20}",
            "included", "without exclusion"
        );
        let _ = writeln!(
            s,
            "  persons                  {:>20} {:>20}",
            i.persons, a.persons
        );
        let _ = writeln!(
            s,
            "  visitors                 {:>20} {:>20}",
            i.visitors, a.visitors
        );
        let _ = writeln!(
            s,
            "  paying persons           {:>20} {:>20}",
            i.paying_persons, a.paying_persons
        );
        let _ = writeln!(
            s,
            "  free -> paid             {:>20} {:>20}",
            pct(i.free_to_paid),
            pct(a.free_to_paid)
        );
        let currencies: std::collections::BTreeSet<&String> = i
            .revenue_minor
            .keys()
            .chain(a.revenue_minor.keys())
            .collect();
        for c in currencies {
            let money = |m: &BTreeMap<String, i64>| m.get(c).map_or("-".into(), |v| major(*v, c));
            let per = |m: &BTreeMap<String, f64>| {
                m.get(c).map_or("-".into(), |v| major(v.round() as i64, c))
            };
            let _ = writeln!(
                s,
                "  revenue {c:<16} {:>20} {:>20}",
                money(&i.revenue_minor),
                money(&a.revenue_minor)
            );
            let _ = writeln!(
                s,
                "  ARPU {c:<19} {:>20} {:>20}",
                per(&i.arpu_minor),
                per(&a.arpu_minor)
            );
            let _ = writeln!(
                s,
                "  ARPPU {c:<18} {:>20} {:>20}",
                per(&i.arppu_minor),
                per(&a.arppu_minor)
            );
        }
        let _ = writeln!(
            s,
            "\nattribution (included)     first touch: persons conv  |  last touch: conv  revenue"
        );
        let mut sources: Vec<&str> = r
            .attribution
            .first_touch
            .iter()
            .map(|t| t.utm_source.as_str())
            .chain(
                r.attribution
                    .last_touch
                    .iter()
                    .map(|t| t.utm_source.as_str()),
            )
            .collect();
        sources.sort_unstable();
        sources.dedup();
        for src in sources {
            let f = r
                .attribution
                .first_touch
                .iter()
                .find(|t| t.utm_source == src);
            let l = r
                .attribution
                .last_touch
                .iter()
                .find(|t| t.utm_source == src);
            let rev = l.map_or(String::new(), |l| {
                l.revenue_minor
                    .iter()
                    .map(|(c, v)| format!("{} {c}", major(*v, c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let _ = writeln!(
                s,
                "  {src:<24} {:>20} {:>5}  |  {:>16}  {rev}",
                f.map_or(0, |f| f.persons),
                f.map_or(0, |f| f.conversions),
                l.map_or(0, |l| l.conversions),
            );
        }
        if !r.other_events.is_empty() {
            let _ = writeln!(
                s,
                "\nother events per platform (events, of included persons)"
            );
            for o in &r.other_events {
                let _ = writeln!(
                    s,
                    "  {:<24} {:<10} {:>8} {:>8}",
                    o.event,
                    o.platform.as_deref().unwrap_or("(none)"),
                    o.events,
                    o.events_included
                );
            }
        }
        let _ = writeln!(s);
        match r.leaked_events {
            Some(n) => {
                let _ = writeln!(
                    s,
                    "exclusion: {n} leaked synthetic events (ground-truth `source` column)"
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "exclusion: leak check not evaluated (no `source` column)"
                );
            }
        }
        if r.tracking_gaps.is_empty() {
            let _ = writeln!(s, "tracking gaps: none");
        }
        for g in &r.tracking_gaps {
            match r.tracking_tests.iter().find(|t| t.step == g.step) {
                Some(t) => {
                    let _ = writeln!(
                        s,
                        "tracking gap: {} z = {:.2} (canary {}/{} vs baseline {}/{})",
                        g.step,
                        t.z.unwrap_or(f64::NAN),
                        t.canary_x,
                        t.canary_n,
                        t.baseline_x,
                        t.baseline_n
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "tracking gap: {}: {} purchases without revenue or currency",
                        g.step,
                        g.events.unwrap_or(0)
                    );
                }
            }
        }
    }
    if r.streams.ledger {
        let l = &r.ledger;
        let _ = writeln!(
            s,
            "ledger: {} transactions ({} bookings, {} payouts): fee violations {}, unbalanced {}, duplicate payouts {}, overdrawn providers {}",
            l.transactions,
            l.bookings,
            l.payouts,
            r.fee_violations,
            l.unbalanced_txns,
            l.duplicate_payouts,
            l.overdrawn_providers
        );
        for (what, ids) in [
            ("fee violations", &l.examples.fee_violations),
            ("unbalanced", &l.examples.unbalanced_txns),
            ("duplicate payout ids", &l.examples.duplicate_payouts),
            ("overdrawn", &l.examples.overdrawn_providers),
        ] {
            if !ids.is_empty() {
                let _ = writeln!(s, "  {what}: {}", ids.join(", "));
            }
        }
        let fees: Vec<String> = l
            .fees_minor
            .iter()
            .map(|(c, v)| format!("{} {c}", major(*v, c)))
            .collect();
        if !fees.is_empty() {
            let _ = writeln!(s, "  platform fees captured: {}", fees.join(", "));
        }
    }
    let steps: Vec<String> = r
        .provider_flow
        .steps
        .iter()
        .map(|st| match st.conversion_from_previous {
            Some(c) => format!("{} {} ({:.1}%)", st.name, st.providers, c * 100.0),
            None => format!("{} {}", st.name, st.providers),
        })
        .collect();
    if r.provider_flow
        .steps
        .first()
        .is_some_and(|s| s.providers > 0)
    {
        let _ = writeln!(s, "provider flow: {}", steps.join(" -> "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_units() {
        assert_eq!(major(123_456, "USD"), "1234.56");
        assert_eq!(major(-5, "EUR"), "-0.05");
        assert_eq!(major(1200, "JPY"), "1200");
        assert_eq!(major(1234, "BHD"), "1.234");
    }
}
