//! The analytics report of `rehearse funnel` (contract section 8): the report built
//! over every row, and its tables as Parquet files for notebooks. Its JSON document and
//! terminal summary are written by [`crate::output::funnel`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;
use serde::Serialize;

use super::analysis::{FunnelAnalysis, StepTest, TrackingGap};
use super::b2b::{ProviderFlow, provider_flow};
use super::data::{AnalyticsData, AnalyticsInput};
use super::ledger::{LedgerReport, check as check_ledger};
use super::policy::AnalyticsPolicy;
use super::rollup::{
    Attribution, FunnelReport, Kpis, OtherEvents, Scope, StepRow, other_events, persons_frame,
    purchases_frame, rollups,
};

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
        // The rollups and the other events' counts, side by side.
        let (r, other) = rayon::join(|| rollups(fa, syms), || other_events(fa, ev, syms));
        let r = r?;
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
        report.other_events = other;
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
    /// The report's tables by name, the person-level ones included (built on the first
    /// call from `data`, the data the report was built from).
    pub fn tables(
        &mut self,
        data: &AnalyticsData,
    ) -> Result<&mut [(&'static str, DataFrame)], ReportError> {
        if let Some(fa) = self.analysis.take() {
            self.tables
                .push(("persons", persons_frame(&fa, &data.symbols, &data.ids)?));
            self.tables
                .push(("purchases", purchases_frame(&fa, &data.symbols)?));
        }
        Ok(&mut self.tables)
    }
}
