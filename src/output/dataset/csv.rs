//! The CSV encoding: a header row of the column names, then one record per row, nulls
//! as empty fields.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::{Cell, Chunks, Rows, WriteError};

pub(super) fn write_csv<R: Rows, C: AsRef<[R]>>(
    w: &mut BufWriter<&mut File>,
    chunks: Chunks<'_, C>,
    path: &Path,
) -> Result<(), WriteError> {
    let csv_err = |source| WriteError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut out = csv::WriterBuilder::new().from_writer(w);
    let fields = R::fields();
    out.write_record(fields.iter().map(|f| f.name().as_str()))
        .map_err(csv_err)?;
    for chunk in chunks {
        let chunk = chunk?;
        let mut cells = Vec::with_capacity(fields.len());
        for row in chunk.as_ref() {
            cells.clear();
            row.cells(&mut cells);
            out.write_record(cells.iter().map(Cell::text))
                .map_err(csv_err)?;
        }
    }
    out.flush().map_err(|source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::fixtures::sample;
    use super::super::{Format, write_dataset};

    #[test]
    fn csv_first_lines() {
        let tmp = tempfile::tempdir().unwrap();
        write_dataset(&sample(), tmp.path(), Format::Csv).unwrap();
        let text = fs::read_to_string(tmp.path().join("requests.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ts,endpoint,cohort,source,status,latency_ms,user_id,region,method"
        );
        assert_eq!(
            lines[1],
            "2026-03-02T10:00:00.007Z,/api/search,canary,real,200,123.456,usr_00000,eu-west-1,GET"
        );
        assert_eq!(
            lines[2],
            "2026-03-02T10:00:01.007Z,/api/search,baseline,real,200,120,,eu-west-1,GET"
        );
        let probes = fs::read_to_string(tmp.path().join("probes.csv")).unwrap();
        let mut reader = csv::Reader::from_reader(probes.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[4], r#"{"service":"ttv","note":"a, \"quoted\" one"}"#);
        assert_eq!(&row[5], "true");
        let logs = fs::read_to_string(tmp.path().join("logs.csv")).unwrap();
        assert_eq!(logs, "ts,message,service,level\n");
        let infra = fs::read_to_string(tmp.path().join("infra.csv")).unwrap();
        assert_eq!(
            infra.lines().nth(1).unwrap(),
            "2026-03-02T10:00:10.000Z,0.31,0.55,web-canary-1,canary,,50"
        );
    }
}
