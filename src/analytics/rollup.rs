//! KPI rollups in polars over the person table of an analysis: funnel step counts,
//! conversions and median step times (overall, per platform, per cohort), first- and
//! last-touch attribution of conversions and revenue, revenue per currency, ARPU, ARPPU
//! and free -> paid. Each rollup runs in three scopes: `included` (the KPI view, after
//! exclusion), `all` (without exclusion) and `excluded` (the excluded traffic alone).

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use super::analysis::FunnelAnalysis;
use super::data::{COHORT_BASELINE, COHORT_CANARY, STEP_NAMES};
use super::funnel::{STEPS, UNREACHED};
use super::symbols::{NONE, Symbols};

/// The label of persons without any UTM source.
pub const DIRECT: &str = "(direct)";

/// Which persons a rollup covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// After exclusion: the KPI view.
    Included,
    /// Without exclusion.
    All,
    /// Only the excluded persons.
    Excluded,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Included, Scope::All, Scope::Excluded];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Included => "included",
            Scope::All => "all",
            Scope::Excluded => "excluded",
        }
    }
}

pub fn cohort_name(c: u8) -> Option<&'static str> {
    match c {
        COHORT_CANARY => Some("canary"),
        COHORT_BASELINE => Some("baseline"),
        _ => None,
    }
}

/// The person table as a polars frame with names, one row per person: the
/// `persons.parquet` table.
pub fn persons_frame(a: &FunnelAnalysis, syms: &Symbols, ids: &Symbols) -> PolarsResult<DataFrame> {
    let p = &a.persons;
    let n = p.len();
    let names = |v: &[u32]| -> Vec<Option<&str>> { v.iter().map(|&s| syms.opt_name(s)).collect() };
    let paying: Vec<bool> = (0..n).map(|i| p.paying(i)).collect();
    let first_touch: Vec<&str> = p
        .first_touch
        .iter()
        .map(|&s| syms.opt_name(s).unwrap_or(DIRECT))
        .collect();
    let last_touch: Vec<Option<&str>> = (0..n)
        .map(|i| paying[i].then(|| syms.opt_name(p.last_touch[i]).unwrap_or(DIRECT)))
        .collect();
    let opt_ts = |v: &[i64]| -> Vec<Option<i64>> {
        v.iter().map(|&t| (t != UNREACHED).then_some(t)).collect()
    };
    let mut cols = vec![
        Column::new("person".into(), (0..n as u32).collect::<Vec<u32>>()),
        Column::new(
            "person_id".into(),
            p.key.iter().map(|&s| ids.opt_name(s)).collect::<Vec<_>>(),
        ),
        Column::new("platform".into(), names(&p.platform)),
        Column::new(
            "cohort".into(),
            p.cohort.iter().map(|&c| cohort_name(c)).collect::<Vec<_>>(),
        ),
        Column::new("synthetic".into(), p.synthetic.clone()),
        Column::new("canary_only".into(), p.canary_only.clone()),
        Column::new("excluded".into(), a.excluded.clone()),
        Column::new(
            "furthest".into(),
            p.furthest
                .iter()
                .map(|&f| i32::from(f))
                .collect::<Vec<i32>>(),
        ),
        Column::new(
            "furthest_step".into(),
            p.furthest
                .iter()
                .map(|&f| (f >= 0).then(|| STEP_NAMES[f as usize]))
                .collect::<Vec<_>>(),
        ),
        Column::new("first_touch".into(), first_touch),
        Column::new("last_touch".into(), last_touch),
        Column::new("paying".into(), paying),
        Column::new("first_purchase_ms".into(), opt_ts(&p.first_purchase)),
        Column::new("first_event_ms".into(), p.first_ts.clone()),
        Column::new("events".into(), p.events.clone()),
    ];
    for (name, ts) in STEP_NAMES.iter().zip(&p.step_ts) {
        cols.push(Column::new(format!("{name}_ms").into(), opt_ts(ts)));
    }
    for (k, dt) in deltas(a).into_iter().enumerate() {
        cols.push(Column::new(format!("dt_{}", k + 1).into(), dt));
    }
    DataFrame::new(n, cols)
}

/// Per step 1..5, the time from the previous step on each person's best chain.
fn deltas(a: &FunnelAnalysis) -> Vec<Vec<Option<i64>>> {
    let p = &a.persons;
    (1..STEPS)
        .map(|k| {
            p.step_ts[k - 1]
                .iter()
                .zip(&p.step_ts[k])
                .map(|(&a, &b)| (a != UNREACHED && b != UNREACHED).then(|| b.saturating_sub(a)))
                .collect()
        })
        .collect()
}

/// The purchases as a polars frame with names: the `purchases.parquet` table.
pub fn purchases_frame(a: &FunnelAnalysis, syms: &Symbols) -> PolarsResult<DataFrame> {
    let pu = &a.purchases;
    let n = pu.person.len();
    DataFrame::new(
        n,
        vec![
            Column::new("person".into(), pu.person.clone()),
            Column::new("ts_ms".into(), pu.ts.clone()),
            Column::new(
                "currency".into(),
                pu.currency
                    .iter()
                    .map(|&c| syms.opt_name(c))
                    .collect::<Vec<_>>(),
            ),
            Column::new("revenue_minor".into(), pu.revenue_minor.clone()),
            Column::new("has_revenue".into(), pu.has_revenue.clone()),
        ],
    )
}

/// The person table with integer codes only (symbols; [`NONE`] for null), which is
/// what the rollups group by; names are attached to the few result rows afterwards.
fn person_codes(a: &FunnelAnalysis) -> PolarsResult<DataFrame> {
    let p = &a.persons;
    let n = p.len();
    let mut cols = vec![
        Column::new("excluded".into(), a.excluded.clone()),
        Column::new("platform".into(), p.platform.clone()),
        Column::new(
            "cohort".into(),
            p.cohort.iter().map(|&c| u32::from(c)).collect::<Vec<u32>>(),
        ),
        Column::new(
            "furthest".into(),
            p.furthest
                .iter()
                .map(|&f| i32::from(f))
                .collect::<Vec<i32>>(),
        ),
        Column::new(
            "paying".into(),
            p.first_purchase
                .iter()
                .map(|&t| t != UNREACHED)
                .collect::<Vec<bool>>(),
        ),
        Column::new("first_touch".into(), p.first_touch.clone()),
        Column::new("last_touch".into(), p.last_touch.clone()),
    ];
    for (k, dt) in deltas(a).into_iter().enumerate() {
        cols.push(Column::new(format!("dt_{}", k + 1).into(), dt));
    }
    DataFrame::new(n, cols)
}

/// Purchases with revenue and currency, with their person's codes.
fn revenue_codes(a: &FunnelAnalysis) -> PolarsResult<DataFrame> {
    let pu = &a.purchases;
    let p = &a.persons;
    let keep: Vec<usize> = (0..pu.person.len())
        .filter(|&i| pu.has_revenue[i] && pu.currency[i] != NONE)
        .collect();
    let person = |i: usize| pu.person[i] as usize;
    DataFrame::new(
        keep.len(),
        vec![
            Column::new(
                "excluded".into(),
                keep.iter()
                    .map(|&i| a.excluded[person(i)])
                    .collect::<Vec<bool>>(),
            ),
            Column::new(
                "currency".into(),
                keep.iter().map(|&i| pu.currency[i]).collect::<Vec<u32>>(),
            ),
            Column::new(
                "revenue_minor".into(),
                keep.iter()
                    .map(|&i| pu.revenue_minor[i])
                    .collect::<Vec<i64>>(),
            ),
            Column::new(
                "first_touch".into(),
                keep.iter()
                    .map(|&i| p.first_touch[person(i)])
                    .collect::<Vec<u32>>(),
            ),
            Column::new(
                "last_touch".into(),
                keep.iter()
                    .map(|&i| p.last_touch[person(i)])
                    .collect::<Vec<u32>>(),
            ),
        ],
    )
}

/// One step of a funnel table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRow {
    pub name: &'static str,
    pub persons: u64,
    /// Persons at this step over persons at the previous one.
    pub conversion_from_previous: Option<f64>,
    /// Persons at the previous step who did not reach this one.
    pub drop_off: Option<u64>,
    /// Median time from the previous step, in seconds, on each person's best chain.
    pub median_s_from_previous: Option<f64>,
}

/// A funnel of one group (a platform or a cohort value).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupFunnel {
    /// The platform or cohort; `null` for persons whose earliest event had none.
    pub value: Option<String>,
    pub steps: Vec<StepRow>,
}

/// A funnel over one scope: overall, per platform and per cohort.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunnelReport {
    /// Persons in the scope (with or without a visit).
    pub persons: u64,
    pub steps: Vec<StepRow>,
    pub by_platform: Vec<GroupFunnel>,
    pub by_cohort: Vec<GroupFunnel>,
}

impl FunnelReport {
    /// A funnel without persons.
    pub fn empty() -> Self {
        FunnelReport {
            persons: 0,
            steps: steps_from(&[0; STEPS], &[None; STEPS]),
            by_platform: Vec::new(),
            by_cohort: Vec::new(),
        }
    }
}

fn steps_from(reach: &[u64; STEPS], median_ms: &[Option<f64>; STEPS]) -> Vec<StepRow> {
    (0..STEPS)
        .map(|k| {
            let prev = (k > 0).then(|| reach[k - 1]);
            StepRow {
                name: STEP_NAMES[k],
                persons: reach[k],
                conversion_from_previous: prev
                    .and_then(|p| (p > 0).then(|| reach[k] as f64 / p as f64)),
                drop_off: prev.map(|p| p.saturating_sub(reach[k])),
                median_s_from_previous: median_ms[k].map(|ms| ms / 1000.0),
            }
        })
        .collect()
}

fn funnel_aggs() -> Vec<Expr> {
    let mut v: Vec<Expr> = (0..STEPS)
        .map(|k| {
            col("furthest")
                .gt_eq(lit(k as i32))
                .cast(DataType::UInt64)
                .sum()
                .alias(format!("reach_{k}"))
        })
        .collect();
    v.extend((1..STEPS).map(|k| {
        col(format!("dt_{k}"))
            .median()
            .cast(DataType::Float64)
            .alias(format!("median_ms_{k}"))
    }));
    v.push(len().cast(DataType::UInt64).alias("persons"));
    v.push(col("paying").cast(DataType::UInt64).sum().alias("paying"));
    v
}

/// Typed access to the few rows of an aggregate.
struct Rows<'a>(&'a DataFrame);

impl Rows<'_> {
    fn len(&self) -> usize {
        self.0.height()
    }
    fn u64(&self, name: &str, i: usize) -> PolarsResult<u64> {
        Ok(self
            .0
            .column(name)?
            .cast(&DataType::UInt64)?
            .u64()?
            .get(i)
            .unwrap_or(0))
    }
    fn i64(&self, name: &str, i: usize) -> PolarsResult<i64> {
        Ok(self
            .0
            .column(name)?
            .cast(&DataType::Int64)?
            .i64()?
            .get(i)
            .unwrap_or(0))
    }
    fn u32(&self, name: &str, i: usize) -> PolarsResult<u32> {
        Ok(self
            .0
            .column(name)?
            .cast(&DataType::UInt32)?
            .u32()?
            .get(i)
            .unwrap_or(NONE))
    }
    fn f64(&self, name: &str, i: usize) -> PolarsResult<Option<f64>> {
        Ok(self.0.column(name)?.cast(&DataType::Float64)?.f64()?.get(i))
    }
    /// The scope of row `i` of an aggregate grouped by `excluded` (or of all persons).
    fn scope(&self, i: usize) -> PolarsResult<Scope> {
        match self.0.column("excluded") {
            Err(_) => Ok(Scope::All),
            Ok(c) => Ok(if c.bool()?.get(i).unwrap_or(false) {
                Scope::Excluded
            } else {
                Scope::Included
            }),
        }
    }
}

/// One funnel row of an aggregate: persons, paying persons, steps.
struct FunnelRow {
    persons: u64,
    paying: u64,
    reach: [u64; STEPS],
    median_ms: [Option<f64>; STEPS],
}

fn funnel_row(r: &Rows, i: usize) -> PolarsResult<FunnelRow> {
    let mut reach = [0; STEPS];
    let mut median_ms = [None; STEPS];
    for k in 0..STEPS {
        reach[k] = r.u64(&format!("reach_{k}"), i)?;
        if k > 0 {
            median_ms[k] = r.f64(&format!("median_ms_{k}"), i)?;
        }
    }
    Ok(FunnelRow {
        persons: r.u64("persons", i)?,
        paying: r.u64("paying", i)?,
        reach,
        median_ms,
    })
}

/// Runs `query` over all persons and grouped by `excluded`, each row with its scope.
fn per_scope(
    frame: &DataFrame,
    by: &[&str],
    filter: Option<Expr>,
    aggs: Vec<Expr>,
) -> PolarsResult<Vec<DataFrame>> {
    let base = || {
        let lf = frame.clone().lazy();
        match &filter {
            Some(f) => lf.filter(f.clone()),
            None => lf,
        }
    };
    let keys = |with_scope: bool| -> Vec<Expr> {
        let mut k: Vec<Expr> = by.iter().map(|b| col(*b)).collect();
        if with_scope {
            k.insert(0, col("excluded"));
        }
        k
    };
    let all = if by.is_empty() {
        base().select(aggs.clone())
    } else {
        base().group_by(keys(false)).agg(aggs.clone())
    };
    let split = base().group_by(keys(true)).agg(aggs);
    collect_all([all, split])
}

fn collect_all<const N: usize>(lfs: [LazyFrame; N]) -> PolarsResult<Vec<DataFrame>> {
    lfs.into_iter().map(|lf| lf.collect()).collect()
}

fn scope_index(s: Scope) -> usize {
    match s {
        Scope::Included => 0,
        Scope::All => 1,
        Scope::Excluded => 2,
    }
}

/// Revenue and per-person KPIs of one scope; amounts in minor units per currency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Kpis {
    pub persons: u64,
    /// Persons who reached `visit`.
    pub visitors: u64,
    /// Persons with at least one `credit_purchase`.
    pub paying_persons: u64,
    /// Paying persons over visitors.
    pub free_to_paid: Option<f64>,
    pub revenue_minor: BTreeMap<String, i64>,
    /// Revenue over persons, per currency.
    pub arpu_minor: BTreeMap<String, f64>,
    /// Revenue over paying persons, per currency.
    pub arppu_minor: BTreeMap<String, f64>,
}

impl Kpis {
    /// KPIs without persons.
    pub fn empty() -> Self {
        Kpis {
            persons: 0,
            visitors: 0,
            paying_persons: 0,
            free_to_paid: None,
            revenue_minor: BTreeMap::new(),
            arpu_minor: BTreeMap::new(),
            arppu_minor: BTreeMap::new(),
        }
    }

    fn with(persons: u64, visitors: u64, paying: u64, revenue: BTreeMap<String, i64>) -> Self {
        let per = |n: u64| -> BTreeMap<String, f64> {
            revenue
                .iter()
                .filter(|_| n > 0)
                .map(|(c, v)| (c.clone(), *v as f64 / n as f64))
                .collect()
        };
        Kpis {
            persons,
            visitors,
            paying_persons: paying,
            free_to_paid: (visitors > 0).then(|| paying as f64 / visitors as f64),
            arpu_minor: per(persons),
            arppu_minor: per(paying),
            revenue_minor: revenue,
        }
    }
}

/// One UTM source's share of a touch model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TouchRow {
    pub utm_source: String,
    /// Persons attributed (first touch: every person; last touch: paying persons).
    pub persons: u64,
    /// Paying persons attributed.
    pub conversions: u64,
    pub revenue_minor: BTreeMap<String, i64>,
}

/// First- and last-touch attribution of one scope.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Attribution {
    pub first_touch: Vec<TouchRow>,
    pub last_touch: Vec<TouchRow>,
}

/// Every rollup of an analysis, per scope (`included`, `all`, `excluded`).
pub struct Rollups {
    pub funnel: [FunnelReport; 3],
    pub kpis: [Kpis; 3],
    pub attribution: [Attribution; 3],
}

impl Rollups {
    pub fn get(&self, s: Scope) -> (&FunnelReport, &Kpis, &Attribution) {
        let i = scope_index(s);
        (&self.funnel[i], &self.kpis[i], &self.attribution[i])
    }
}

/// Computes every rollup in polars.
pub fn rollups(a: &FunnelAnalysis, syms: &Symbols) -> PolarsResult<Rollups> {
    let persons = person_codes(a)?;
    let revenue = revenue_codes(a)?;
    let mut out = Rollups {
        funnel: std::array::from_fn(|_| FunnelReport::empty()),
        kpis: std::array::from_fn(|_| Kpis::empty()),
        attribution: Default::default(),
    };

    // Revenue per scope and currency.
    let mut revenue_by: [BTreeMap<String, i64>; 3] = Default::default();
    for df in per_scope(
        &revenue,
        &["currency"],
        None,
        vec![col("revenue_minor").sum().alias("revenue_minor")],
    )? {
        let r = Rows(&df);
        for i in 0..r.len() {
            let s = scope_index(r.scope(i)?);
            if let Some(c) = syms.opt_name(r.u32("currency", i)?) {
                revenue_by[s].insert(c.to_string(), r.i64("revenue_minor", i)?);
            }
        }
    }

    // Funnels overall (with the KPI counts), per platform and per cohort.
    for df in per_scope(&persons, &[], None, funnel_aggs())? {
        let r = Rows(&df);
        for i in 0..r.len() {
            let s = scope_index(r.scope(i)?);
            let f = funnel_row(&r, i)?;
            out.funnel[s].persons = f.persons;
            out.funnel[s].steps = steps_from(&f.reach, &f.median_ms);
            out.kpis[s] = Kpis::with(f.persons, f.reach[0], f.paying, revenue_by[s].clone());
        }
    }
    for (dim, label) in [("platform", 0), ("cohort", 1)] {
        let mut groups: [Vec<GroupFunnel>; 3] = Default::default();
        for df in per_scope(&persons, &[dim], None, funnel_aggs())? {
            let r = Rows(&df);
            for i in 0..r.len() {
                let s = scope_index(r.scope(i)?);
                let code = r.u32(dim, i)?;
                let value = if label == 0 {
                    syms.opt_name(code).map(str::to_string)
                } else {
                    cohort_name(code as u8).map(str::to_string)
                };
                let f = funnel_row(&r, i)?;
                groups[s].push(GroupFunnel {
                    value,
                    steps: steps_from(&f.reach, &f.median_ms),
                });
            }
        }
        for (s, mut g) in groups.into_iter().enumerate() {
            // By value, nulls last.
            g.sort_by(|a, b| match (&a.value, &b.value) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
            if label == 0 {
                out.funnel[s].by_platform = g;
            } else {
                out.funnel[s].by_cohort = g;
            }
        }
    }

    // Attribution: persons and conversions per touch, then revenue per touch and currency.
    let touch_name = |code: u32| syms.opt_name(code).unwrap_or(DIRECT).to_string();
    for (key, paying_only) in [("first_touch", false), ("last_touch", true)] {
        let mut rows: [BTreeMap<String, TouchRow>; 3] = Default::default();
        for df in per_scope(
            &persons,
            &[key],
            paying_only.then(|| col("paying")),
            vec![
                len().cast(DataType::UInt64).alias("persons"),
                col("paying")
                    .cast(DataType::UInt64)
                    .sum()
                    .alias("conversions"),
            ],
        )? {
            let r = Rows(&df);
            for i in 0..r.len() {
                let s = scope_index(r.scope(i)?);
                // A `utm_source` spelled "(direct)" shares its row with the persons
                // without one (two groups here, one name): add up, never overwrite.
                let name = touch_name(r.u32(key, i)?);
                let row = rows[s].entry(name.clone()).or_insert_with(|| TouchRow {
                    utm_source: name,
                    persons: 0,
                    conversions: 0,
                    revenue_minor: BTreeMap::new(),
                });
                row.persons += r.u64("persons", i)?;
                row.conversions += r.u64("conversions", i)?;
            }
        }
        for df in per_scope(
            &revenue,
            &[key, "currency"],
            None,
            vec![col("revenue_minor").sum().alias("revenue_minor")],
        )? {
            let r = Rows(&df);
            for i in 0..r.len() {
                let s = scope_index(r.scope(i)?);
                let name = touch_name(r.u32(key, i)?);
                if let (Some(row), Some(c)) =
                    (rows[s].get_mut(&name), syms.opt_name(r.u32("currency", i)?))
                {
                    *row.revenue_minor.entry(c.to_string()).or_default() +=
                        r.i64("revenue_minor", i)?;
                }
            }
        }
        for (s, m) in rows.into_iter().enumerate() {
            let v: Vec<TouchRow> = m.into_values().collect();
            if paying_only {
                out.attribution[s].last_touch = v;
            } else {
                out.attribution[s].first_touch = v;
            }
        }
    }
    Ok(out)
}

/// Counts of the events that are no funnel step (`abandon`, `retry`, provider events,
/// ...) per event name and the event's own platform.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OtherEvents {
    pub event: String,
    pub platform: Option<String>,
    pub events: u64,
    /// Of those, events of included persons.
    pub events_included: u64,
    /// Distinct persons with the event.
    pub persons: u64,
}

pub fn other_events(
    a: &FunnelAnalysis,
    ev: &super::data::FunnelEvents,
    syms: &Symbols,
) -> Vec<OtherEvents> {
    use super::symbols::FxMap;
    let mut counts: FxMap<(u32, u32), (u64, u64, Vec<u32>)> = FxMap::default();
    for i in 0..a.n {
        let p = a.identity.person_of[i];
        if p == NONE || (ev.event[i] as usize) < STEPS {
            continue;
        }
        let e = counts
            .entry((ev.event[i], ev.platform[i]))
            .or_insert((0, 0, Vec::new()));
        e.0 += 1;
        if !a.excluded[p as usize] {
            e.1 += 1;
        }
        e.2.push(p);
    }
    let mut rows: Vec<OtherEvents> = counts
        .into_iter()
        .map(|((event, platform), (events, included, mut persons))| {
            persons.sort_unstable();
            persons.dedup();
            OtherEvents {
                event: syms.name(event).to_string(),
                platform: syms.opt_name(platform).map(str::to_string),
                events,
                events_included: included,
                persons: persons.len() as u64,
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.event, &a.platform).cmp(&(&b.event, &b.platform)));
    rows
}
