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

    fn filter(self) -> Expr {
        match self {
            Scope::Included => col("excluded").not(),
            Scope::All => lit(true),
            Scope::Excluded => col("excluded"),
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

/// The person table as a polars frame: one row per person.
pub fn persons_frame(a: &FunnelAnalysis, syms: &Symbols) -> PolarsResult<DataFrame> {
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
        Column::new("person_id".into(), names(&p.key)),
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
    for k in 1..STEPS {
        let dt: Vec<Option<i64>> = (0..n)
            .map(|i| {
                let (a, b) = (p.step_ts[k - 1][i], p.step_ts[k][i]);
                (a != UNREACHED && b != UNREACHED).then(|| b.saturating_sub(a))
            })
            .collect();
        cols.push(Column::new(format!("dt_{k}").into(), dt));
    }
    DataFrame::new(n, cols)
}

/// The purchases as a polars frame, with each purchase's person.
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
            .cast(DataType::Float64)
            .median()
            .alias(format!("median_ms_{k}"))
    }));
    v.push(len().cast(DataType::UInt64).alias("persons"));
    v
}

fn u64_at(df: &DataFrame, name: &str, i: usize) -> PolarsResult<u64> {
    Ok(df
        .column(name)?
        .cast(&DataType::UInt64)?
        .u64()?
        .get(i)
        .unwrap_or(0))
}

fn f64_at(df: &DataFrame, name: &str, i: usize) -> PolarsResult<Option<f64>> {
    Ok(df.column(name)?.cast(&DataType::Float64)?.f64()?.get(i))
}

fn str_at(df: &DataFrame, name: &str, i: usize) -> PolarsResult<Option<String>> {
    Ok(df
        .column(name)?
        .cast(&DataType::String)?
        .str()?
        .get(i)
        .map(str::to_string))
}

fn steps_of(df: &DataFrame, i: usize) -> PolarsResult<Vec<StepRow>> {
    let mut out = Vec::with_capacity(STEPS);
    let mut prev: Option<u64> = None;
    for (k, name) in STEP_NAMES.iter().enumerate() {
        let persons = u64_at(df, &format!("reach_{k}"), i)?;
        let median = if k == 0 {
            None
        } else {
            f64_at(df, &format!("median_ms_{k}"), i)?.map(|ms| ms / 1000.0)
        };
        out.push(StepRow {
            name,
            persons,
            conversion_from_previous: prev.and_then(|p| (p > 0).then(|| persons as f64 / p as f64)),
            drop_off: prev.map(|p| p.saturating_sub(persons)),
            median_s_from_previous: median,
        });
        prev = Some(persons);
    }
    Ok(out)
}

fn grouped(persons: &DataFrame, scope: Scope, by: &str) -> PolarsResult<Vec<GroupFunnel>> {
    let df = persons
        .clone()
        .lazy()
        .filter(scope.filter())
        .group_by([col(by)])
        .agg(funnel_aggs())
        .sort([by], SortMultipleOptions::default().with_nulls_last(true))
        .collect()?;
    (0..df.height())
        .map(|i| {
            Ok(GroupFunnel {
                value: str_at(&df, by, i)?,
                steps: steps_of(&df, i)?,
            })
        })
        .collect()
}

/// The funnel of one scope.
pub fn funnel(persons: &DataFrame, scope: Scope) -> PolarsResult<FunnelReport> {
    let df = persons
        .clone()
        .lazy()
        .filter(scope.filter())
        .select(funnel_aggs())
        .collect()?;
    Ok(FunnelReport {
        persons: u64_at(&df, "persons", 0)?,
        steps: steps_of(&df, 0)?,
        by_platform: grouped(persons, scope, "platform")?,
        by_cohort: grouped(persons, scope, "cohort")?,
    })
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

/// Purchases with revenue and currency, joined to their persons.
fn revenue_lazy(persons: &DataFrame, purchases: &DataFrame) -> LazyFrame {
    purchases
        .clone()
        .lazy()
        .filter(col("has_revenue").and(col("currency").is_not_null()))
        .inner_join(persons.clone().lazy(), col("person"), col("person"))
}

fn currency_map(df: &DataFrame, key: &str, value: &str) -> PolarsResult<BTreeMap<String, i64>> {
    let mut m = BTreeMap::new();
    for i in 0..df.height() {
        if let Some(c) = str_at(df, key, i)? {
            let v = df
                .column(value)?
                .cast(&DataType::Int64)?
                .i64()?
                .get(i)
                .unwrap_or(0);
            m.insert(c, v);
        }
    }
    Ok(m)
}

pub fn kpis(persons: &DataFrame, purchases: &DataFrame, scope: Scope) -> PolarsResult<Kpis> {
    let counts = persons
        .clone()
        .lazy()
        .filter(scope.filter())
        .select([
            len().cast(DataType::UInt64).alias("persons"),
            col("furthest")
                .gt_eq(lit(0))
                .cast(DataType::UInt64)
                .sum()
                .alias("visitors"),
            col("paying").cast(DataType::UInt64).sum().alias("paying"),
        ])
        .collect()?;
    let revenue = revenue_lazy(persons, purchases)
        .filter(scope.filter())
        .group_by([col("currency")])
        .agg([col("revenue_minor").sum().alias("revenue_minor")])
        .collect()?;
    let persons_n = u64_at(&counts, "persons", 0)?;
    let visitors = u64_at(&counts, "visitors", 0)?;
    let paying = u64_at(&counts, "paying", 0)?;
    let revenue_minor = currency_map(&revenue, "currency", "revenue_minor")?;
    let per = |n: u64| -> BTreeMap<String, f64> {
        revenue_minor
            .iter()
            .filter(|_| n > 0)
            .map(|(c, v)| (c.clone(), *v as f64 / n as f64))
            .collect()
    };
    Ok(Kpis {
        persons: persons_n,
        visitors,
        paying_persons: paying,
        free_to_paid: (visitors > 0).then(|| paying as f64 / visitors as f64),
        arpu_minor: per(persons_n),
        arppu_minor: per(paying),
        revenue_minor,
    })
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
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attribution {
    pub first_touch: Vec<TouchRow>,
    pub last_touch: Vec<TouchRow>,
}

fn touch(
    persons: &DataFrame,
    purchases: &DataFrame,
    scope: Scope,
    key: &str,
) -> PolarsResult<Vec<TouchRow>> {
    let mut base = persons.clone().lazy().filter(scope.filter());
    if key == "last_touch" {
        base = base.filter(col("paying"));
    }
    let counts = base
        .group_by([col(key)])
        .agg([
            len().cast(DataType::UInt64).alias("persons"),
            col("paying")
                .cast(DataType::UInt64)
                .sum()
                .alias("conversions"),
        ])
        .sort([key], SortMultipleOptions::default())
        .collect()?;
    let revenue = revenue_lazy(persons, purchases)
        .filter(scope.filter())
        .group_by([col(key), col("currency")])
        .agg([col("revenue_minor").sum().alias("revenue_minor")])
        .collect()?;
    let mut rev: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for i in 0..revenue.height() {
        if let (Some(src), Some(cur)) =
            (str_at(&revenue, key, i)?, str_at(&revenue, "currency", i)?)
        {
            let v = revenue
                .column("revenue_minor")?
                .cast(&DataType::Int64)?
                .i64()?
                .get(i)
                .unwrap_or(0);
            rev.entry(src).or_default().insert(cur, v);
        }
    }
    let mut rows = Vec::with_capacity(counts.height());
    for i in 0..counts.height() {
        let src = str_at(&counts, key, i)?.unwrap_or_else(|| DIRECT.to_string());
        rows.push(TouchRow {
            revenue_minor: rev.remove(&src).unwrap_or_default(),
            utm_source: src,
            persons: u64_at(&counts, "persons", i)?,
            conversions: u64_at(&counts, "conversions", i)?,
        });
    }
    Ok(rows)
}

pub fn attribution(
    persons: &DataFrame,
    purchases: &DataFrame,
    scope: Scope,
) -> PolarsResult<Attribution> {
    Ok(Attribution {
        first_touch: touch(persons, purchases, scope, "first_touch")?,
        last_touch: touch(persons, purchases, scope, "last_touch")?,
    })
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
