//! The decode floor of a Parquet requests file, for `docs/performance.md`: the time to
//! decompress and decode just the six columns `rehearse run` reads (timestamps,
//! endpoint, cohort, source, status, latency; strings kept as dictionaries, as the
//! replay reads them) with the same Parquet library, on the same threads, doing nothing
//! with the values but counting rows. Whatever `rehearse run` spends above this is its
//! own work.
//!
//! `cargo run --release --example decode_floor -- FILE [THREADS]`

use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

use arrow_schema::{DataType, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use rayon::prelude::*;

const COLUMNS: [&str; 6] = ["ts", "endpoint", "cohort", "source", "status", "latency_ms"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: decode_floor FILE [THREADS]")?
        .clone();
    let threads: usize = args.get(2).map_or(Ok(2), |t| t.parse())?;
    let started = Instant::now();
    let meta = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?;
    let schema = meta.schema().clone();
    let groups = meta.metadata().num_row_groups();
    drop(meta);
    let hinted = Arc::new(Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| {
                if matches!(
                    f.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) && COLUMNS.contains(&f.name().as_str())
                {
                    Arc::new(f.as_ref().clone().with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(DataType::Utf8),
                    )))
                } else {
                    f.clone()
                }
            })
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    ));
    let wanted: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| COLUMNS.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let shares: Vec<Vec<usize>> = (0..threads)
        .map(|t| {
            (0..groups)
                .filter(|g| g * threads / groups.max(1) == t)
                .collect()
        })
        .collect();
    let rows: usize = pool.install(|| {
        shares
            .par_iter()
            .map(|share| -> usize {
                if share.is_empty() {
                    return 0;
                }
                let b = ParquetRecordBatchReaderBuilder::try_new_with_options(
                    File::open(&path).expect("open"),
                    ArrowReaderOptions::new().with_schema(hinted.clone()),
                )
                .expect("parquet");
                let mask = ProjectionMask::roots(b.parquet_schema(), wanted.clone());
                b.with_projection(mask)
                    .with_batch_size(8192)
                    .with_row_groups(share.clone())
                    .build()
                    .expect("reader")
                    .map(|batch| batch.expect("batch").num_rows())
                    .sum()
            })
            .sum()
    });
    println!(
        "{path}: {rows} rows, {groups} row groups, {threads} threads, {:.3} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
