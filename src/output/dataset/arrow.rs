//! The Arrow IPC encoding: an Arrow IPC file of record batches of at most
//! [`BATCH_ROWS`](super::BATCH_ROWS) rows.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::columns::{batches, schema};
use super::{Chunks, Rows, WriteError};

pub(super) fn write_arrow<R: Rows, C: AsRef<[R]>>(
    w: &mut BufWriter<&mut File>,
    chunks: Chunks<'_, C>,
    path: &Path,
) -> Result<(), WriteError> {
    let arrow_err = |source| WriteError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let schema = schema::<R>();
    let mut writer = arrow_ipc::writer::FileWriter::try_new(w, &schema).map_err(arrow_err)?;
    for chunk in chunks {
        let chunk = chunk?;
        for batch in batches(chunk.as_ref(), &schema) {
            writer
                .write(&batch.map_err(arrow_err)?)
                .map_err(arrow_err)?;
        }
    }
    writer.finish().map_err(arrow_err)
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use arrow_array::{Array, RecordBatch};

    use super::super::fixtures::{more_than_one_batch, ts_values};
    use super::super::{Format, write_dataset};

    #[test]
    fn round_trips_in_record_batches() {
        let ds = more_than_one_batch();
        let want: Vec<i64> = ds.requests.iter().map(|r| r.ts).collect();
        let tmp = tempfile::tempdir().unwrap();

        write_dataset(&ds, tmp.path(), Format::Arrow).unwrap();
        let file = File::open(tmp.path().join("requests.arrow")).unwrap();
        let reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
        assert_eq!(reader.num_batches(), 2);
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(ts_values(&batches), want);
        let user = batches[0].column_by_name("user_id").unwrap();
        assert_eq!(user.null_count(), 0);
        let file = File::open(tmp.path().join("logs.arrow")).unwrap();
        let reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
        assert_eq!(reader.schema().fields().len(), 4);
        assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 0);
        let file = File::open(tmp.path().join("infra.arrow")).unwrap();
        let batch = arrow_ipc::reader::FileReader::try_new(file, None)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert!(batch.column_by_name("db_p95_ms").unwrap().is_null(0));
    }
}
