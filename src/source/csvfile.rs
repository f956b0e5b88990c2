//! CSV adapter: a header row names the columns; fields are text, an empty field is an
//! absent value. Rows are read into one reused record, so nothing is allocated per row.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::{
    Cell, ColumnSpec, InputError, MAX_COLUMNS, OnError, ReadStats, RowFn, RowLoc, RowProblem,
    Table, handle_row,
};

pub struct CsvTable {
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
}

impl CsvTable {
    pub fn open(path: &Path) -> Result<Self, InputError> {
        let file =
            File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
        let reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(BufReader::with_capacity(1 << 20, file));
        Ok(Self {
            path: path.to_path_buf(),
            reader,
        })
    }
}

impl Table for CsvTable {
    fn for_each_row(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        f: &mut RowFn<'_>,
    ) -> Result<ReadStats, InputError> {
        let path = self.path.clone();
        let headers = self
            .reader
            .byte_headers()
            .map_err(|e| InputError::file(&path, format!("cannot read the CSV header: {e}")))?
            .clone();
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(InputError::file(&path, "the file has no CSV header"));
        }
        let names: Vec<&[u8]> = headers
            .iter()
            .map(|h| {
                // A UTF-8 byte-order mark before the first header is not part of the name.
                h.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(h)
            })
            .collect();
        let mut index = Vec::with_capacity(columns.len());
        for c in columns {
            let found = names
                .iter()
                .position(|h| h.trim_ascii() == c.name.as_bytes());
            if found.is_none() && c.required {
                return Err(InputError::file(
                    &path,
                    format!("required column `{}` is missing from the header", c.name),
                ));
            }
            index.push(found);
        }
        let mut stats = ReadStats {
            present: index.iter().map(Option::is_some).collect(),
            ..Default::default()
        };
        let mut record = csv::ByteRecord::new();
        loop {
            match self.reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    let problem = RowProblem::new("*", format!("unreadable CSV: {e}"));
                    handle_row(
                        Err(problem),
                        &path,
                        RowLoc::Line(line),
                        on_error,
                        &mut stats,
                    )?;
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        return Err(InputError::file(&path, format!("read error: {e}")));
                    }
                    continue;
                }
            }
            let line = record.position().map_or(0, |p| p.line());
            // Skip blank lines the way most CSV tools do.
            if record.len() == 1 && record[0].is_empty() {
                continue;
            }
            let result =
                row_cells(&record, &index, columns).and_then(|cells| f(&cells[..columns.len()]));
            handle_row(result, &path, RowLoc::Line(line), on_error, &mut stats)?;
        }
        Ok(stats)
    }
}

/// The record's requested fields as cells, in a stack array (no allocation per row).
fn row_cells<'r>(
    record: &'r csv::ByteRecord,
    index: &[Option<usize>],
    columns: &[ColumnSpec],
) -> Result<[Cell<'r>; MAX_COLUMNS], RowProblem> {
    let mut cells: [Cell<'r>; MAX_COLUMNS] = std::array::from_fn(|_| Cell::Null);
    for (i, idx) in index.iter().enumerate() {
        if let Some(b) = idx.and_then(|j| record.get(j)) {
            if !b.is_empty() {
                cells[i] = match std::str::from_utf8(b) {
                    Ok(s) => Cell::Str(Cow::Borrowed(s)),
                    Err(_) => {
                        return Err(RowProblem::new(
                            columns[i].name,
                            "the value is not valid UTF-8",
                        ));
                    }
                };
            }
        }
    }
    Ok(cells)
}
