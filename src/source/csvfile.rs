//! CSV adapter: a header row names the columns; fields are text, an empty field is an
//! absent value. Rows are read into one reused record, so nothing is allocated per row.
//! A large file can be read in byte ranges on several threads ([`csv_parts`]): the
//! ranges start at line ends outside quoted fields, each reader gets the file's header
//! and numbers its lines from the line its range starts on, so rows and errors are
//! those of one reader over the whole file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{
    Cell, ColumnSpec, InputError, MAX_COLUMNS, OnError, ReadStats, RowFn, RowLoc, RowProblem,
    Table, handle_row,
};

pub struct CsvTable {
    path: PathBuf,
    /// A whole file is a range without end (one concrete reader type for both, which
    /// keeps the record loop inlined).
    reader: csv::Reader<std::io::Take<BufReader<File>>>,
    /// A range's reader: the file's header, and the lines before the range.
    range: Option<(csv::ByteRecord, u64)>,
}

/// A byte range of a CSV file holding whole records, for parallel reading.
#[derive(Clone, Debug)]
pub struct CsvPart {
    pub start: u64,
    pub end: u64,
    /// Lines of the file before `start` (the header's included).
    pub lines_before: u64,
}

impl CsvTable {
    pub fn open(path: &Path) -> Result<Self, InputError> {
        let file =
            File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
        let mut buffered = BufReader::with_capacity(1 << 20, file);
        // A byte-order mark goes before the CSV parser sees the header, so a quoted
        // first column name (`\u{feff}"ts",...`) is still unquoted.
        if buffered
            .fill_buf()
            .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?
            .starts_with(b"\xEF\xBB\xBF")
        {
            buffered.consume(3);
        }
        let reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(buffered.take(u64::MAX));
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            range: None,
        })
    }

    /// A reader of one part of a file (from [`csv_parts`]).
    pub fn open_part(path: &Path, part: &CsvPart) -> Result<Self, InputError> {
        let header = {
            let mut whole = Self::open(path)?;
            whole
                .reader
                .byte_headers()
                .map_err(|e| InputError::file(path, format!("cannot read the CSV header: {e}")))?
                .clone()
        };
        let mut file =
            File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
        file.seek(SeekFrom::Start(part.start))
            .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
        let body = BufReader::with_capacity(1 << 20, file).take(part.end - part.start);
        let reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(body);
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            range: Some((header, part.lines_before)),
        })
    }
}

/// Splits a CSV file into at most `n` byte ranges of similar size, each starting after a
/// line end; the first starts after the header line. `None` when the file holds a
/// double quote anywhere: a quoted field may span lines, and such a file is read by one
/// reader from the start. One pass over the bytes (vectorisable counts, no parsing).
pub fn csv_parts(path: &Path, n: usize) -> Result<Option<Vec<CsvPart>>, InputError> {
    let io = |e: std::io::Error| InputError::file(path, format!("cannot read: {e}"));
    let len = std::fs::metadata(path).map_err(io)?.len();
    let mut r = File::open(path).map_err(io)?;
    let n = n.max(1) as u64;
    // (offset just after a line end, lines before that offset): after the header, then
    // after the first line end past each target offset.
    let mut cuts: Vec<(u64, u64)> = Vec::new();
    let mut targets = (1..n).map(|i| len * i / n).peekable();
    let (mut base, mut lines) = (0u64, 0u64);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let got = r.read(&mut buf).map_err(io)?;
        if got == 0 {
            break;
        }
        let chunk = &buf[..got];
        if chunk.contains(&b'"') {
            return Ok(None);
        }
        let mut from = 0usize;
        loop {
            // The next offset this chunk must cut at: after the header, or a target.
            let want = if cuts.is_empty() {
                Some(0)
            } else {
                targets.peek().copied()
            };
            let Some(want) = want else { break };
            let lo = (want.saturating_sub(base) as usize).max(from);
            if lo >= got {
                break;
            }
            match chunk[lo..].iter().position(|&b| b == b'\n') {
                None => break,
                Some(k) => {
                    let at = lo + k + 1;
                    let before = lines + chunk[..at].iter().filter(|&&b| b == b'\n').count() as u64;
                    cuts.push((base + at as u64, before));
                    while targets.peek().is_some_and(|t| *t < base + at as u64) {
                        targets.next();
                    }
                    from = at;
                }
            }
        }
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        base += got as u64;
    }
    if cuts.is_empty() {
        // No line end after the header: nothing to split.
        return Ok(None);
    }
    let parts = cuts
        .iter()
        .enumerate()
        .map(|(i, &(start, lines_before))| CsvPart {
            start,
            end: cuts.get(i + 1).map_or(len, |c| c.0),
            lines_before,
        })
        .collect();
    Ok(Some(parts))
}

impl Table for CsvTable {
    fn for_each_row(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        f: &mut RowFn<'_>,
    ) -> Result<ReadStats, InputError> {
        let path = self.path.clone();
        let (headers, lines_before) = match &self.range {
            Some((h, before)) => (h.clone(), *before),
            None => (
                self.reader
                    .byte_headers()
                    .map_err(|e| {
                        InputError::file(&path, format!("cannot read the CSV header: {e}"))
                    })?
                    .clone(),
                0,
            ),
        };
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(InputError::file(&path, "the file has no CSV header"));
        }
        let names: Vec<&[u8]> = headers.iter().collect();
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
                    let line = lines_before + e.position().map_or(0, |p| p.line());
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
            let line = lines_before + record.position().map_or(0, |p| p.line());
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
