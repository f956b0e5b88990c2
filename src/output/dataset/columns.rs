//! Arrow fields and arrays built from rows, shared by every stream's description, and the
//! schema and record batches (at most [`BATCH_ROWS`] rows each) that the Parquet and
//! Arrow IPC writers write.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use super::{BATCH_ROWS, Rows};

pub(super) fn ts_field() -> Field {
    Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    )
}

pub(super) fn ts_array<R>(rows: &[R], ts: impl Fn(&R) -> i64) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(rows.iter().map(ts)).with_timezone("UTC"))
}

pub(super) fn str_array<'a, R: 'a>(rows: &'a [R], f: impl Fn(&'a R) -> &'a str) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
}

pub(super) fn opt_str_array<'a, R: 'a>(
    rows: &'a [R],
    f: impl Fn(&'a R) -> Option<&'a str>,
) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<StringArray>())
}

pub(super) fn opt_bool_array<R>(rows: &[R], f: impl Fn(&R) -> Option<bool>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<BooleanArray>())
}

pub(super) fn status_array<R>(rows: &[R], f: impl Fn(&R) -> u16) -> ArrayRef {
    Arc::new(Int32Array::from_iter_values(
        rows.iter().map(|r| i32::from(f(r))),
    ))
}

pub(super) fn latency_array<R>(rows: &[R], f: impl Fn(&R) -> u64) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(
        rows.iter().map(|r| f(r) as f64 / 1000.0),
    ))
}

pub(super) fn schema<R: Rows>() -> SchemaRef {
    Arc::new(Schema::new(R::fields()))
}

pub(super) fn batches<'a, R: Rows>(
    rows: &'a [R],
    schema: &'a SchemaRef,
) -> impl Iterator<Item = Result<RecordBatch, ArrowError>> + 'a {
    rows.chunks(BATCH_ROWS)
        .map(move |chunk| RecordBatch::try_new(schema.clone(), R::arrays(chunk)))
}
