//! The Parquet encoding: Snappy-compressed, one row group per [`BATCH_ROWS`] rows.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::columns::{batches, schema};
use super::{BATCH_ROWS, Chunks, Rows, WriteError};

pub(super) fn write_parquet<R: Rows, C: AsRef<[R]>>(
    w: &mut BufWriter<&mut File>,
    chunks: Chunks<'_, C>,
    path: &Path,
) -> Result<(), WriteError> {
    let pq_err = |source| WriteError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let schema = schema::<R>();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(BATCH_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(props)).map_err(pq_err)?;
    for chunk in chunks {
        let chunk = chunk?;
        for batch in batches(chunk.as_ref(), &schema) {
            let batch = batch.map_err(|source| WriteError::Arrow {
                path: path.to_path_buf(),
                source,
            })?;
            writer.write(&batch).map_err(pq_err)?;
        }
    }
    writer.close().map_err(pq_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use arrow_array::RecordBatch;
    use arrow_array::cast::AsArray;

    use super::super::fixtures::{more_than_one_batch, ts_values};
    use super::super::{Format, write_dataset};

    #[test]
    fn round_trips_in_row_groups() {
        let ds = more_than_one_batch();
        let want: Vec<i64> = ds.requests.iter().map(|r| r.ts).collect();
        let tmp = tempfile::tempdir().unwrap();

        write_dataset(&ds, tmp.path(), Format::Parquet).unwrap();
        let file = File::open(tmp.path().join("requests.parquet")).unwrap();
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        assert_eq!(builder.metadata().num_row_groups(), 2);
        let batches: Vec<RecordBatch> = builder.build().unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(ts_values(&batches), want);
        let lat = batches[0].column_by_name("latency_ms").unwrap();
        assert_eq!(
            lat.as_primitive::<arrow_array::types::Float64Type>()
                .value(1),
            1.001
        );
        let file = File::open(tmp.path().join("logs.parquet")).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        assert_eq!(reader.schema().fields().len(), 4);
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    }
}
