//! Test fixtures shared by the dataset writers' tests: a small dataset with every kind
//! of value, one whose requests span more than one batch, and the timestamps read back
//! from record batches.

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

use super::BATCH_ROWS;
use crate::input::{
    Cohort, Dataset, InfraRow, PageKind, PageRow, ProbeRow, RequestRow, SecurityKind, SecurityRow,
    Source,
};

pub(super) const T0: i64 = 1_772_445_600_000;

pub(super) fn sample() -> Dataset {
    let requests = (0..5)
        .map(|i| RequestRow {
            ts: T0 + 1000 * i + 7,
            endpoint: "/api/search".into(),
            cohort: if i % 2 == 0 {
                Cohort::Canary
            } else {
                Cohort::Baseline
            },
            source: Source::Real,
            status: if i == 3 { 503 } else { 200 },
            latency_us: [123_456, 120_000, 123_450, 1_000, 999][i as usize],
            user_id: (i != 1).then(|| format!("usr_{i:05}")),
            region: Some("eu-west-1".into()),
            method: Some("GET".into()),
        })
        .collect();
    Dataset {
        start: Some(T0),
        requests,
        probes: Some(vec![ProbeRow {
            ts: T0 + 60_000,
            target: "ttv".into(),
            status: 200,
            latency_us: 84_200,
            payload: Some(r#"{"service":"ttv","note":"a, \"quoted\" one"}"#.into()),
            schema_ok: Some(true),
        }]),
        infra: Some(vec![InfraRow {
            ts: T0 + 10_000,
            cpu: 0.31,
            mem_free: 0.55,
            host: Some("web-canary-1".into()),
            cohort: Some(Cohort::Canary),
            db_p95_ms: None,
            queue_depth: Some(50.0),
        }]),
        security: Some(vec![SecurityRow {
            ts: T0 + 5,
            kind: SecurityKind::WafBlock,
            source_ip: Some("203.0.113.7".into()),
            rule: None,
        }]),
        logs: Some(Vec::new()),
        pages: Some(vec![PageRow {
            ts: T0 + 1,
            path: "/pricing".into(),
            kind: PageKind::Seo,
            status: 200,
            cache_control: "public, max-age=300".into(),
            test_mode: Some(false),
            canonical: Some("https://www.example.com/pricing".into()),
            robots: Some("index, follow".into()),
            in_sitemap: Some(true),
            prerendered: None,
        }]),
        funnel: None,
        ledger: None,
    }
}

pub(super) fn ts_values(batches: &[RecordBatch]) -> Vec<i64> {
    let mut out = Vec::new();
    for b in batches {
        let col = b.column_by_name("ts").unwrap();
        assert_eq!(
            col.data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        out.extend(
            col.as_primitive::<TimestampMillisecondType>()
                .values()
                .iter(),
        );
    }
    out
}

/// [`sample`] with more requests than one record batch or row group holds.
pub(super) fn more_than_one_batch() -> Dataset {
    let mut ds = sample();
    let base = ds.requests[0].clone();
    ds.requests = (0..(BATCH_ROWS as i64 + 10))
        .map(|i| RequestRow {
            ts: T0 + i * 3,
            latency_us: 1000 + i as u64,
            ..base.clone()
        })
        .collect();
    ds
}
