//! The analytics report of `rehearse funnel` for people and pipelines: the JSON
//! document, the terminal summary with every KPI side by side with and without
//! exclusion (amounts in major units of their currency), and the report's tables as
//! Parquet files plus `report.json` for notebooks (`--out DIR`), each written atomically.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, StringArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use polars::prelude::{DataFrame, DataType, PolarsError, PolarsResult};

use crate::analytics::AnalyticsData;
use crate::analytics::data::STEP_NAMES;
use crate::analytics::money::iso4217_exponent;
use crate::analytics::report::{Analytics, AnalyticsReport, ReportError};
use crate::analytics::rollup::StepRow;
use crate::time::format_duration;

/// Writes every table of the report as `<name>.parquet` and the report as
/// `report.json` into `dir`; returns the files written. `data` is the data the report
/// was built from (for the person-level tables). The files are written into a hidden
/// directory beside `dir` and put in place as a whole ([`super::commit_dir`]), so `dir`
/// holds the previous table set or the new one, never a mix or a part; check the target
/// with [`check_tables_dir`] first.
pub fn write_tables(
    analytics: &mut Analytics,
    data: &AnalyticsData,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Write { path, source }
    };
    let staged = super::stage_dir(dir, ".rehearse-tables-").map_err(io(dir))?;
    let mut written = Vec::new();
    for (name, df) in analytics.tables(data)? {
        let file = format!("{name}.parquet");
        let path = dir.join(&file);
        let bytes = frame_to_parquet(df).map_err(|source| ReportError::Parquet {
            path: path.clone(),
            source,
        })?;
        write_synced(&staged.path().join(&file), &bytes).map_err(io(&path))?;
        written.push(path);
    }
    let path = dir.join("report.json");
    write_synced(
        &staged.path().join("report.json"),
        to_json(&analytics.report).as_bytes(),
    )
    .map_err(io(&path))?;
    written.push(path);
    super::commit_dir(staged, dir).map_err(io(dir))?;
    Ok(written)
}

/// Writes a file of a staged directory and flushes it to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Whether `dir` may receive the funnel tables: it is new, empty, or holds a previous
/// table set only (`*.parquet` files and `report.json`), which is replaced as a whole.
/// A directory holding anything else is refused: replacing it would remove those files.
pub fn check_tables_dir(dir: &Path) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "{}: cannot write the tables there: {e} (give --out a new or empty directory)",
                dir.display()
            ));
        }
    };
    let mut foreign: Vec<String> = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("{}: cannot read the directory: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let table = e.file_type().is_ok_and(|t| t.is_file())
            && (name == "report.json" || name.ends_with(".parquet"));
        if !table {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    Err(format!(
        "{}: the directory holds files that are not funnel tables ({}); --out replaces the directory as a whole, so give it a new or empty directory or one written by `rehearse funnel --out`",
        dir.display(),
        foreign.join(", ")
    ))
}

/// A table as a Snappy-compressed Parquet file, written by the arrow-rs writer the
/// readers already use (polars' own Parquet writer is not built: it would pull in its
/// whole I/O stack). Columns keep their type; a type the tables do not use is written
/// as text.
fn frame_to_parquet(df: &DataFrame) -> PolarsResult<Vec<u8>> {
    // A polars column's values (absent ones as `None`) into an arrow-rs array.
    macro_rules! values {
        ($ca:expr, $array:ty) => {{
            let ca = $ca;
            (0..ca.len()).map(|i| ca.get(i)).collect::<$array>()
        }};
    }
    let mut fields = Vec::with_capacity(df.width());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(df.width());
    for c in df.columns() {
        let s = c.as_materialized_series();
        let array: ArrayRef = match s.dtype() {
            DataType::Boolean => Arc::new(values!(s.bool()?, BooleanArray)),
            DataType::UInt8 => Arc::new(values!(s.u8()?, UInt8Array)),
            DataType::UInt16 => Arc::new(values!(s.u16()?, UInt16Array)),
            DataType::UInt32 => Arc::new(values!(s.u32()?, UInt32Array)),
            DataType::UInt64 => Arc::new(values!(s.u64()?, UInt64Array)),
            DataType::Int8 => Arc::new(values!(s.i8()?, Int8Array)),
            DataType::Int16 => Arc::new(values!(s.i16()?, Int16Array)),
            DataType::Int32 => Arc::new(values!(s.i32()?, Int32Array)),
            DataType::Int64 => Arc::new(values!(s.i64()?, Int64Array)),
            DataType::Float32 => Arc::new(values!(s.f32()?, Float32Array)),
            DataType::Float64 => Arc::new(values!(s.f64()?, Float64Array)),
            DataType::String => Arc::new(values!(s.str()?, StringArray)),
            _ => {
                let t = s.cast(&DataType::String)?;
                Arc::new(values!(t.str()?, StringArray))
            }
        };
        fields.push(Field::new(
            c.name().as_str(),
            array.data_type().clone(),
            true,
        ));
        arrays.push(array);
    }
    let other = |e: &dyn std::fmt::Display| PolarsError::ComputeError(e.to_string().into());
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| other(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut bytes = Vec::new();
    let mut w = ArrowWriter::try_new(&mut bytes, schema, Some(props)).map_err(|e| other(&e))?;
    w.write(&batch).map_err(|e| other(&e))?;
    w.close().map_err(|e| other(&e))?;
    Ok(bytes)
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
            if i.posthog {
                t.push_str(" (PostHog export)");
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
