//! The columnar Parquet reader of the `funnel` stream (`src/analytics/columnar.rs`)
//! against the row-exact reader on the same rows: the same events, symbols in the same
//! order, the same ids, the same duplicates, and the same errors and skips for bad rows,
//! whatever the thread count and however the file is cut into row groups.
//!
//! The row-exact reader is made to read the same rows by storing `ts` as plain Int64
//! epoch milliseconds, a type the columnar path leaves to it (both read it as the same
//! instant); the columnar path reads the file with `ts` as a Parquet timestamp.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
};
use arrow_array::{TimestampMillisecondArray, TimestampNanosecondArray};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rehearse::analytics::AnalyticsData;
use rehearse::analytics::columnar::reads_columnar;
use rehearse::app::scenario::gen_plan;
use rehearse::generate::{FunnelSpec, generate_funnel};
use rehearse::input::FunnelRow;
use rehearse::policy::Policy;
use rehearse::source::OnError;

const T0: i64 = 1_772_445_600_000;

/// The funnel columns as text (and `ts`, `revenue`, `test_mode` typed), so tests can
/// put values the readers reject into them.
#[derive(Clone)]
struct Columns {
    ts: Vec<Option<i64>>,
    text: Vec<(&'static str, Vec<Option<String>>)>,
    revenue: Vec<Option<f64>>,
    test_mode: Vec<Option<bool>>,
}

impl Columns {
    fn of(rows: &[FunnelRow]) -> Self {
        let col = |name: &'static str, f: &dyn Fn(&FunnelRow) -> Option<String>| {
            (name, rows.iter().map(f).collect::<Vec<_>>())
        };
        Columns {
            ts: rows.iter().map(|r| Some(r.ts)).collect(),
            text: vec![
                col("event", &|r| Some(r.event.clone())),
                col("user_id", &|r| r.user_id.clone()),
                col("anonymous_id", &|r| r.anonymous_id.clone()),
                col("cohort", &|r| r.cohort.map(|c| c.as_str().to_string())),
                col("platform", &|r| r.platform.clone()),
                col("utm_source", &|r| r.utm_source.clone()),
                col("utm_medium", &|r| r.utm_medium.clone()),
                col("utm_campaign", &|r| r.utm_campaign.clone()),
                col("currency", &|r| r.currency.clone()),
                col("order_id", &|r| r.order_id.clone()),
                col("user_agent", &|r| r.user_agent.clone()),
                col("page_url", &|r| r.page_url.clone()),
                col("provider_id", &|r| r.provider_id.clone()),
                col("message_id", &|r| r.message_id.clone()),
                col("source", &|r| r.source.map(|s| s.as_str().to_string())),
            ],
            revenue: rows.iter().map(|r| r.revenue).collect(),
            test_mode: rows.iter().map(|r| r.test_mode).collect(),
        }
    }

    /// Gives the high-cardinality dictionary columns (URL, user agent, provider) only
    /// values of the first rows, and marks some later rows as test mode, so that later
    /// decoded batches meet no new dictionary value and need no interning before they
    /// are decoded column by column.
    fn settle(&mut self) {
        for (name, col) in &mut self.text {
            if matches!(*name, "page_url" | "user_agent" | "provider_id") {
                for i in 2_000..col.len() {
                    col[i] = col[i % 2_000].clone();
                }
            }
        }
        for i in (9_000..self.test_mode.len()).step_by(97) {
            self.test_mode[i] = Some(true);
        }
    }

    fn set(&mut self, name: &str, row: usize, v: Option<&str>) {
        let col = &mut self.text.iter_mut().find(|(n, _)| *n == name).unwrap().1;
        col[row] = v.map(str::to_string);
    }

    /// Writes `funnel.parquet` in `dir`: `ts` as a timestamp (`columnar`) in ms or ns,
    /// or as Int64 milliseconds; row groups of `group_rows`; strings as `LargeUtf8`
    /// (as polars writes them) when `large`; dictionaries of at most `dictionary`
    /// bytes (a column whose dictionary grows past it goes on in plain pages; with a
    /// large one, every page of the ids holds dictionary keys).
    fn write(&self, dir: &Path, ts: Ts, group_rows: usize, large: bool, dictionary: usize) {
        let mut cols: Vec<(&str, ArrayRef)> = vec![(
            "ts",
            match ts {
                Ts::Millis => Arc::new(TimestampMillisecondArray::from(self.ts.clone())),
                Ts::Nanos => Arc::new(TimestampNanosecondArray::from(
                    self.ts
                        .iter()
                        .map(|t| t.map(|t| t * 1_000_000 + 999_999))
                        .collect::<Vec<_>>(),
                )),
                Ts::Int => Arc::new(Int64Array::from(self.ts.clone())),
            },
        )];
        for (name, v) in &self.text {
            let text: ArrayRef = if large {
                Arc::new(LargeStringArray::from(v.clone()))
            } else {
                Arc::new(StringArray::from(v.clone()))
            };
            cols.push((name, text));
        }
        cols.push((
            "revenue",
            Arc::new(Float64Array::from(self.revenue.clone())),
        ));
        cols.push((
            "test_mode",
            Arc::new(BooleanArray::from(self.test_mode.clone())),
        ));
        let batch = RecordBatch::try_from_iter(cols).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows))
            .set_dictionary_page_size_limit(dictionary)
            .build();
        let file = std::fs::File::create(dir.join("funnel.parquet")).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
}

#[derive(Clone, Copy)]
enum Ts {
    Millis,
    Nanos,
    Int,
}

fn rows(users_per_hour: f64) -> Vec<FunnelRow> {
    let spec = FunnelSpec {
        users_per_hour,
        synthetic_per_hour: 20.0,
        providers: 12,
        bookings_per_hour: 20.0,
        no_ledger: true,
        ..Default::default()
    };
    generate_funnel(&spec, &gen_plan(&Policy::default_policy()), T0, 7)
        .unwrap()
        .0
}

/// Everything a load produced, as text: symbols and ids in order, every event column,
/// the inputs without the file name; or the error.
fn loaded(dir: &Path, on_error: OnError, threads: usize) -> String {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    match pool.install(|| AnalyticsData::load(dir, on_error)) {
        Err(e) => format!("error: {e}"),
        Ok(None) => "none".into(),
        Ok(Some(d)) => {
            let names = |s: &rehearse::analytics::symbols::Symbols| {
                (0..s.len() as u32)
                    .map(|i| s.name(i).to_string())
                    .collect::<Vec<_>>()
            };
            let id_names = |s: &rehearse::analytics::symbols::Names| {
                (0..s.len() as u32)
                    .map(|i| s.name(i).to_string())
                    .collect::<Vec<_>>()
            };
            format!(
                "symbols {:?}\nids {:?}\nfunnel {:?}\ninputs {:?}\nhas_source {}",
                names(&d.symbols),
                id_names(&d.ids),
                d.funnel,
                d.inputs,
                d.has_source
            )
        }
    }
}

/// Loads `cols` through the row-exact reader and through the columnar one (with
/// several row-group sizes and thread counts) and checks they agree; returns the
/// row-exact result.
fn same_as_row_exact(cols: &Columns, on_error: OnError) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("funnel.parquet");
    cols.write(dir.path(), Ts::Int, 1 << 20, false, 4096);
    assert!(!reads_columnar(&file));
    let reference = loaded(dir.path(), on_error, 1);
    for (ts, group_rows, large, dictionary) in [
        (Ts::Millis, 1 << 20, false, 4096),
        (Ts::Millis, 997, false, 4096),
        (Ts::Nanos, 4096, false, 4096),
        (Ts::Millis, 997, true, 4096),
        (Ts::Millis, 12_000, true, 4096),
        (Ts::Millis, 12_000, true, 1 << 24),
        (Ts::Millis, 1 << 20, false, 1 << 24),
    ] {
        cols.write(dir.path(), ts, group_rows, large, dictionary);
        assert!(reads_columnar(&file));
        for threads in [1, 2, 3] {
            let got = loaded(dir.path(), on_error, threads);
            assert!(
                got == reference,
                "row groups of {group_rows}, large strings {large}, dictionaries of {dictionary} bytes, {threads} threads:\n{}\nvs the row-exact reader\n{}",
                &got[..got.len().min(2000)],
                &reference[..reference.len().min(2000)]
            );
        }
    }
    reference
}

#[test]
fn the_columnar_reader_gives_the_row_exact_readers_events_and_symbols() {
    // More rows than one decoded batch (8,192), so that the later batches of a large
    // row group are decoded column by column.
    let rows = rows(1_000.0);
    assert!(rows.len() > 17_000, "{}", rows.len());
    let mut cols = Columns::of(&rows);
    cols.settle();
    // Empty strings are absent, a repeated message id is a delivery duplicate.
    cols.set("platform", 3, Some(""));
    cols.set("utm_source", 4, Some(""));
    let dup = cols
        .text
        .iter()
        .find(|(n, _)| *n == "message_id")
        .unwrap()
        .1[10]
        .clone();
    cols.set("message_id", 2000, dup.as_deref());
    // Optional columns with nothing but nulls in whole row groups (their statistics
    // say so, and the columnar reader leaves them out of those groups).
    for i in 4_000..10_000 {
        for name in ["provider_id", "currency", "utm_source"] {
            cols.set(name, i, None);
        }
        cols.revenue[i] = None;
        cols.test_mode[i] = None;
    }
    let got = same_as_row_exact(&cols, OnError::Fail);
    assert!(got.contains("duplicates: 1"), "{}", &got[got.len() - 400..]);
    assert!(got.contains(&format!("rows: {}", rows.len())));
}

#[test]
fn bad_rows_fail_and_skip_exactly_as_in_the_row_exact_reader() {
    let rows = rows(3_500.0);
    let n = rows.len();
    assert!(n > 7 * 8_192, "{n}");
    let mut cols = Columns::of(&rows);
    cols.settle();
    let purchase = (60..n)
        .find(|&i| rows[i].event == "credit_purchase" && rows[i].currency.is_some())
        .unwrap();
    // One bad value of each kind, spread over the row groups; each bad row also
    // carries strings seen nowhere else, so the symbols of skipped rows show.
    cols.set("cohort", 50, Some("Canary"));
    cols.set("event", 50, Some("only-in-a-skipped-row"));
    cols.set("source", n / 3, Some("bot"));
    cols.set("event", n / 2, Some(""));
    cols.set("user_id", n / 2 + 1, None);
    cols.set("anonymous_id", n / 2 + 1, None);
    cols.ts[n / 2 + 2] = None;
    cols.revenue[purchase] = Some(5e17); // a decimal, out of range in cents
    cols.set("currency", purchase, Some("XYZ-only-here"));
    cols.revenue[n - 5] = Some(f64::NAN);
    cols.set("currency", n - 5, Some("JPY"));
    cols.set("platform", n - 5, Some("only-before-a-bad-revenue"));
    // And one of each, alone in a later batch of a large row group (batches of
    // 8,192 rows), which would otherwise be decoded column by column.
    let late = |k: usize| (k + 1) * 8_192 + 1_000;
    cols.set("cohort", late(0), Some("Canary"));
    cols.set("source", late(1), Some("bot"));
    cols.set("event", late(2), None);
    cols.set("user_id", late(3), None);
    cols.set("anonymous_id", late(3), None);
    cols.ts[late(4)] = None;
    let late_purchase = (late(5)..n)
        .find(|&i| rows[i].event == "credit_purchase" && rows[i].currency.is_some())
        .unwrap();
    assert!(late_purchase < 7 * 8_192, "{late_purchase}");
    cols.revenue[late_purchase] = Some(f64::INFINITY);
    let skip = same_as_row_exact(&cols, OnError::Skip);
    assert!(
        skip.contains("skipped: 13"),
        "{}",
        &skip[skip.len() - 600..]
    );
    assert!(skip.contains("only-in-a-skipped-row"));
    assert!(skip.contains("XYZ-only-here"));
    let fail = same_as_row_exact(&cols, OnError::Fail);
    assert!(
        fail.starts_with("error: ") && fail.contains("row 51, column `cohort`"),
        "{fail}"
    );
    // Without the first bad row, the first error is further on (a later row group).
    cols.set("cohort", 50, Some("canary"));
    let fail = same_as_row_exact(&cols, OnError::Fail);
    let (row, column) = if purchase < n / 3 {
        (purchase, "revenue")
    } else {
        (n / 3, "source")
    };
    assert!(
        fail.contains(&format!("row {}, column `{column}`", row + 1)),
        "{fail}"
    );
}
