//! KPI rollups over the person table of an analysis, counted directly over its integer
//! codes (the `persons` and `purchases` tables of `--out` are polars frames): funnel step counts,
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
use super::symbols::{NONE, Names, Symbols};

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
pub fn persons_frame(a: &FunnelAnalysis, syms: &Symbols, ids: &Names) -> PolarsResult<DataFrame> {
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

/// The counts of one group of persons (a scope, or a platform or cohort within one).
#[derive(Clone, Default)]
struct Counts {
    persons: u64,
    paying: u64,
    reach: [u64; STEPS],
    median_ms: [Option<f64>; STEPS],
}

/// Lists of values (the cells), each reordered by bucket of a histogram over all of
/// them (by the values' high bits), so that the median of any union of cells is found
/// without copying them together: the bucket holding each middle rank comes from the
/// cells' cumulative bucket counts, and only that bucket's values are gathered and
/// ordered. The median of an even count is the mean of the two middle values (as
/// polars computes it: exact for integers below 2^53).
struct Bucketed {
    lo: i64,
    shift: u32,
    /// Each cell's values, bucket after bucket.
    values: Vec<Vec<i64>>,
    /// Per cell, where each bucket starts in its values (one more: the end).
    starts: Vec<Vec<u32>>,
}

impl Bucketed {
    /// Buckets of the histogram (at most).
    const BUCKETS: usize = 1 << 12;

    fn new(cells: Vec<Vec<i64>>) -> Self {
        let (lo, hi) = cells
            .iter()
            .flatten()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        // Offsets from `lo`, in u64: the whole i64 range fits.
        let span = if lo > hi { 0 } else { hi.abs_diff(lo) };
        let mut shift = 0;
        while (span >> shift) >= Self::BUCKETS as u64 {
            shift += 1;
        }
        let buckets = if lo > hi {
            0
        } else {
            (span >> shift) as usize + 1
        };
        let mut b = Bucketed {
            lo,
            shift,
            values: Vec::with_capacity(cells.len()),
            starts: Vec::with_capacity(cells.len()),
        };
        for cell in cells {
            let mut starts = vec![0u32; buckets + 1];
            for &v in &cell {
                starts[b.bucket_of(v) + 1] += 1;
            }
            for k in 1..starts.len() {
                starts[k] += starts[k - 1];
            }
            let mut next = starts.clone();
            let mut ordered = vec![0i64; cell.len()];
            for &v in &cell {
                let slot = &mut next[b.bucket_of(v)];
                ordered[*slot as usize] = v;
                *slot += 1;
            }
            b.values.push(ordered);
            b.starts.push(starts);
        }
        b
    }

    #[inline]
    fn bucket_of(&self, v: i64) -> usize {
        (v.abs_diff(self.lo) >> self.shift) as usize
    }

    /// The median of the union of `cells` (indices); `None` when they are empty.
    /// `scratch` holds one bucket's values.
    fn median(&self, cells: &[usize], scratch: &mut Vec<i64>) -> Option<f64> {
        let m: usize = cells.iter().map(|&c| self.values[c].len()).sum();
        if m == 0 {
            return None;
        }
        let below = |b: usize| -> usize { cells.iter().map(|&c| self.starts[c][b] as usize).sum() };
        // The value of 0-based rank `r` in the union.
        let mut at = |r: usize| -> i64 {
            // The last bucket with fewer than `r + 1` values below it holds rank `r`.
            let buckets = self.starts[cells[0]].len() - 1;
            let (mut lo, mut hi) = (0, buckets - 1);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if below(mid) <= r {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            scratch.clear();
            for &c in cells {
                let s = &self.starts[c];
                scratch.extend_from_slice(&self.values[c][s[lo] as usize..s[lo + 1] as usize]);
            }
            *scratch.select_nth_unstable(r - below(lo)).1
        };
        let upper = at(m / 2) as f64;
        if m % 2 == 1 {
            return Some(upper);
        }
        let lower = at(m / 2 - 1) as f64;
        Some(lower + (upper - lower) * 0.5)
    }
}

/// The time from step `k - 1` to step `k` on person `i`'s best chain, when reached.
#[inline]
fn delta(a: &FunnelAnalysis, k: usize, i: usize) -> Option<i64> {
    let (from, to) = (a.persons.step_ts[k - 1][i], a.persons.step_ts[k][i]);
    (from != UNREACHED && to != UNREACHED).then(|| to.saturating_sub(from))
}

/// Every rollup, counted directly over the person and purchase tables (integer codes;
/// names are attached to the few result rows). Scopes, groups and medians are those
/// of a `group_by` over the person table: a group exists when it has a person.
pub fn rollups(a: &FunnelAnalysis, syms: &Symbols) -> PolarsResult<Rollups> {
    let p = &a.persons;
    let n = p.len();
    // Group slots: per scope, overall, then one per platform and per cohort code met.
    let scope_of = |i: usize| if a.excluded[i] { 2 } else { 0 };
    let mut platform_slot: Vec<u32> = vec![NONE; syms.len() + 1];
    let mut platforms: Vec<u32> = Vec::new();
    let mut cohort_slot = [NONE; 256];
    let mut cohorts: Vec<u8> = Vec::new();
    let slot_of_platform = |code: u32| -> usize {
        if code == NONE {
            syms.len()
        } else {
            code as usize
        }
    };
    let mut person_groups: Vec<[u32; 2]> = Vec::with_capacity(n);
    for i in 0..n {
        let ps = &mut platform_slot[slot_of_platform(p.platform[i])];
        if *ps == NONE {
            *ps = platforms.len() as u32;
            platforms.push(p.platform[i]);
        }
        let cs = &mut cohort_slot[p.cohort[i] as usize];
        if *cs == NONE {
            *cs = cohorts.len() as u32;
            cohorts.push(p.cohort[i]);
        }
        person_groups.push([*ps, *cs]);
    }
    // counts[scope][0] overall, [1 + platform], [1 + platforms + cohort].
    let groups = 1 + platforms.len() + cohorts.len();
    let index =
        |g: [u32; 2]| -> [usize; 3] { [0, 1 + g[0] as usize, 1 + platforms.len() + g[1] as usize] };
    // Medians, one step at a time, in parallel with the counts: per step, the times
    // of each cell (excluded or not, platform, cohort), each time in one cell; a
    // group's median is that of the union of its cells.
    let (n_platforms, n_cohorts) = (platforms.len(), cohorts.len());
    let cell_of = |i: usize| {
        let [ps, cs] = person_groups[i];
        (usize::from(a.excluded[i]) * n_platforms + ps as usize) * n_cohorts + cs as usize
    };
    let step_medians = |k: usize| -> [Vec<Option<f64>>; 3] {
        let mut cells: Vec<Vec<i64>> = vec![Vec::new(); 2 * n_platforms * n_cohorts];
        for i in 0..n {
            if let Some(dt) = delta(a, k, i) {
                cells[cell_of(i)].push(dt);
            }
        }
        let cells = Bucketed::new(cells);
        let mut scratch = Vec::new();
        std::array::from_fn(|s| {
            (0..groups)
                .map(|g| {
                    let of_group: Vec<usize> = (0..cells.values.len())
                        .filter(|&c| {
                            // The cell's scope and groups, as a person's in it.
                            let scope = if c >= n_platforms * n_cohorts { 2 } else { 0 };
                            let pg = [
                                ((c / n_cohorts) % n_platforms) as u32,
                                (c % n_cohorts) as u32,
                            ];
                            (s == 1 || s == scope) && index(pg).contains(&g)
                        })
                        .collect();
                    cells.median(&of_group, &mut scratch)
                })
                .collect()
        })
    };
    let count = || {
        let mut counts: [Vec<Counts>; 3] = std::array::from_fn(|_| vec![Counts::default(); groups]);
        for (i, &pg) in person_groups.iter().enumerate() {
            let paying = p.paying(i);
            let furthest = p.furthest[i];
            for s in [1, scope_of(i)] {
                for g in index(pg) {
                    let c = &mut counts[s][g];
                    c.persons += 1;
                    c.paying += u64::from(paying);
                    for k in 0..STEPS {
                        c.reach[k] += u64::from(furthest >= k as i8);
                    }
                }
            }
        }
        counts
    };
    // Revenue per scope and currency code, and per touch: purchases with both. Per
    // scope and model (first, last touch): persons and conversions per source code,
    // and revenue per (source code, currency code).
    let codes = syms.len() + 1;
    type PerCode = [[Vec<(u64, u64)>; 2]; 3];
    type Money = [[BTreeMap<(u32, u32), i64>; 2]; 3];
    let sums = || -> (PerCode, Money, [BTreeMap<u32, i64>; 3]) {
        let pu = &a.purchases;
        let mut revenue_by: [BTreeMap<u32, i64>; 3] = Default::default();
        let mut per_code: PerCode =
            std::array::from_fn(|_| std::array::from_fn(|_| vec![(0, 0); codes]));
        let mut money: Money = Default::default();
        for i in 0..n {
            let paying = p.paying(i);
            for s in [1, scope_of(i)] {
                for (model, code) in [(0, p.first_touch[i]), (1, p.last_touch[i])] {
                    if model == 1 && !paying {
                        continue;
                    }
                    let e = &mut per_code[s][model][slot_of_platform(code)];
                    e.0 += 1;
                    e.1 += u64::from(paying);
                }
            }
        }
        for j in 0..pu.person.len() {
            let currency = pu.currency[j];
            if !pu.has_revenue[j] || currency == NONE {
                continue;
            }
            let i = pu.person[j] as usize;
            let v = pu.revenue_minor[j];
            for s in [1, scope_of(i)] {
                let e = revenue_by[s].entry(currency).or_insert(0);
                *e = e.wrapping_add(v);
                for (model, code) in [(0, p.first_touch[i]), (1, p.last_touch[i])] {
                    let e = money[s][model].entry((code, currency)).or_insert(0);
                    *e = e.wrapping_add(v);
                }
            }
        }
        (per_code, money, revenue_by)
    };
    // The medians, the counts and the sums side by side.
    let ((medians, mut counts), (per_code, money, revenue_by)) = rayon::join(
        || {
            rayon::join(
                || {
                    use rayon::prelude::*;
                    (1..STEPS)
                        .into_par_iter()
                        .map(step_medians)
                        .collect::<Vec<_>>()
                },
                count,
            )
        },
        sums,
    );
    for (k, m) in (1..STEPS).zip(medians) {
        for (s, per_group) in m.into_iter().enumerate() {
            for (g, v) in per_group.into_iter().enumerate() {
                counts[s][g].median_ms[k] = v;
            }
        }
    }

    let touch_name = |code: u32| syms.opt_name(code).unwrap_or(DIRECT).to_string();
    let mut out = Rollups {
        funnel: std::array::from_fn(|_| FunnelReport::empty()),
        kpis: std::array::from_fn(|_| Kpis::empty()),
        attribution: Default::default(),
    };

    for s in 0..3 {
        for model in 0..2 {
            // A `utm_source` spelled "(direct)" shares its row with the persons without
            // one (two codes, one name): add up, never overwrite.
            let mut rows: BTreeMap<String, TouchRow> = BTreeMap::new();
            for (slot, &(persons, conversions)) in per_code[s][model].iter().enumerate() {
                if persons == 0 {
                    continue;
                }
                let code = if slot == syms.len() {
                    NONE
                } else {
                    slot as u32
                };
                let name = touch_name(code);
                let r = rows.entry(name.clone()).or_insert_with(|| TouchRow {
                    utm_source: name,
                    persons: 0,
                    conversions: 0,
                    revenue_minor: BTreeMap::new(),
                });
                r.persons += persons;
                r.conversions += conversions;
            }
            for (&(code, currency), &v) in &money[s][model] {
                if let Some(r) = rows.get_mut(&touch_name(code)) {
                    let e = r
                        .revenue_minor
                        .entry(syms.name(currency).to_string())
                        .or_insert(0);
                    *e = e.wrapping_add(v);
                }
            }
            let v: Vec<TouchRow> = rows.into_values().collect();
            if model == 0 {
                out.attribution[s].first_touch = v;
            } else {
                out.attribution[s].last_touch = v;
            }
        }
    }

    let name_of_platform = |code: u32| syms.opt_name(code).map(str::to_string);
    for s in 0..3 {
        let c = &counts[s];
        if c[0].persons == 0 && s != 1 {
            continue;
        }
        out.funnel[s].persons = c[0].persons;
        out.funnel[s].steps = steps_from(&c[0].reach, &c[0].median_ms);
        out.kpis[s] = Kpis::with(
            c[0].persons,
            c[0].reach[0],
            c[0].paying,
            revenue_by[s]
                .iter()
                .map(|(&c, &v)| (syms.name(c).to_string(), v))
                .collect(),
        );
        let group = |slot: usize, value: Option<String>| GroupFunnel {
            value,
            steps: steps_from(&c[slot].reach, &c[slot].median_ms),
        };
        let mut by_platform: Vec<GroupFunnel> = (0..platforms.len())
            .filter(|&g| c[1 + g].persons > 0)
            .map(|g| group(1 + g, name_of_platform(platforms[g])))
            .collect();
        let mut by_cohort: Vec<GroupFunnel> = (0..cohorts.len())
            .filter(|&g| c[1 + platforms.len() + g].persons > 0)
            .map(|g| {
                group(
                    1 + platforms.len() + g,
                    cohort_name(cohorts[g]).map(str::to_string),
                )
            })
            .collect();
        for g in [&mut by_platform, &mut by_cohort] {
            // By value, nulls last.
            g.sort_by(|a, b| match (&a.value, &b.value) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
        }
        out.funnel[s].by_platform = by_platform;
        out.funnel[s].by_cohort = by_cohort;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The naive model: the median of `v` (reordered); the mean of the two middle values for an even count
    /// (as polars computes it: exact for integers below 2^53).
    fn median(v: &mut [i64]) -> Option<f64> {
        let m = v.len();
        if m == 0 {
            return None;
        }
        let (lower, upper, _) = v.select_nth_unstable(m / 2);
        let upper = *upper as f64;
        if m % 2 == 1 {
            return Some(upper);
        }
        let lower = lower.iter().copied().max().unwrap_or_default() as f64;
        Some(lower + (upper - lower) * 0.5)
    }

    proptest! {
        /// The median of a union of cells is the naive median of the cells
        /// concatenated, for narrow and wide value ranges, repeats, negatives and even
        /// counts, whichever cells are taken.
        #[test]
        fn the_union_median_is_the_median_of_the_concatenation(
            lists in prop::collection::vec(
                prop::collection::vec(
                    prop_oneof![
                        -5i64..5,
                        0i64..100_000_000,
                        Just(i64::MAX),
                        Just(i64::MIN),
                        any::<i64>(),
                    ],
                    0..40,
                ),
                1..7,
            ),
            taken in prop::collection::vec(any::<bool>(), 7),
        ) {
            let cells: Vec<usize> = (0..lists.len()).filter(|&c| taken[c]).collect();
            let mut all: Vec<i64> = cells.iter().flat_map(|&c| lists[c].clone()).collect();
            let got = Bucketed::new(lists.clone()).median(&cells, &mut Vec::new());
            prop_assert_eq!(got, median(&mut all));
        }
    }
}
