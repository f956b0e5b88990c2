//! CSV adapter: a header row names the columns; fields are text, an empty field is an
//! absent value. A row with more or fewer fields than the header is a row problem naming
//! its line (a shifted column is never guessed at). Rows are read into one reused
//! record, so nothing is allocated per row.
//! A large file can be read in byte ranges on several threads ([`csv_parts`]): the
//! ranges start at line ends outside quoted fields, each reader gets the file's header
//! and numbers its lines from the line its range starts on, so rows and errors are
//! those of one reader over the whole file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::text::{LineBounded, Text, TextFile, open_text, read_error};
use super::{
    Cell, ColumnSpec, InputError, MAX_COLUMNS, OnError, ReadStats, RowFn, RowLoc, RowProblem,
    Table, handle_row,
};

/// The most columns a CSV header may have: far more than any stream's columns, few
/// enough that a header cannot make every row's field table large.
pub const MAX_HEADER_COLUMNS: usize = 10_000;

pub struct CsvTable {
    path: PathBuf,
    /// A whole file is a range without end (one concrete reader type for both, which
    /// keeps the record loop inlined).
    reader: csv::Reader<std::io::Take<BufReader<Text>>>,
    /// A range's reader: the file's header, and the lines before the range.
    range: Option<(csv::ByteRecord, u64)>,
    /// Bytes before what the CSV parser reads (a byte-order mark).
    skipped: u64,
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
        let file = open_text(path, true)?;
        let mut buffered = BufReader::with_capacity(1 << 20, file);
        // A byte-order mark goes before the CSV parser sees the header, so a quoted
        // first column name (`\u{feff}"ts",...`) is still unquoted.
        let mut skipped = 0;
        if buffered
            .fill_buf()
            .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?
            .starts_with(b"\xEF\xBB\xBF")
        {
            buffered.consume(3);
            skipped = 3;
        }
        let reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(buffered.take(u64::MAX));
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            range: None,
            skipped,
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
        // A range holds plain lines (no quotes): each is bounded on its own.
        let text = LineBounded::new(TextFile::Plain(file), false, part.lines_before);
        let body = BufReader::with_capacity(1 << 20, text).take(part.end - part.start);
        let reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(body);
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            range: Some((header, part.lines_before)),
            skipped: 0,
        })
    }
}

/// Splits a CSV file into at most `n` byte ranges of similar size, each starting after a
/// line end; the first starts after the header line. `None` when the file holds a
/// double quote anywhere (a quoted field may span lines), a carriage return that does
/// not end a line (the CSV parser ends a record there), or starts with a line end (the
/// header would not be line 1): such a file is read by one reader from the start. So a
/// range holds plain lines, whose fields are split at commas alone ([`CsvTable`] reads
/// them without the CSV parser). One pass over the bytes (vectorisable, no parsing).
pub fn csv_parts(path: &Path, n: usize) -> Result<Option<Vec<CsvPart>>, InputError> {
    use rayon::prelude::*;
    let io = |e: std::io::Error| InputError::file(path, format!("cannot read: {e}"));
    let len = std::fs::metadata(path).map_err(io)?.len();
    let n = n.max(1) as u64;
    // Scan n slices of the file in parallel, then cut after the first line end at or
    // after each slice start (the first cut after the header line).
    let bounds: Vec<(u64, u64)> = (0..n).map(|i| (len * i / n, len * (i + 1) / n)).collect();
    let scans = bounds
        .par_iter()
        .map(|&(a, b)| scan_slice(path, a, b).map_err(io))
        .collect::<Result<Vec<_>, _>>()?;
    let spoiled = scans.iter().any(|s| s.spoiled)
        || scans
            .first()
            .and_then(|s| s.first)
            .is_some_and(|b| b == b'\n' || b == b'\r')
        || scans
            .windows(2)
            .any(|w| w[0].last == Some(b'\r') && w[1].first != Some(b'\n'))
        || scans.iter().rev().find_map(|s| s.last) == Some(b'\r');
    if spoiled {
        return Ok(None);
    }
    // (offset just after a line end, lines before that offset)
    let mut cuts: Vec<(u64, u64)> = Vec::new();
    let mut lines = 0u64;
    for (i, s) in scans.iter().enumerate() {
        if let Some(nl) = s.first_nl {
            let cut = nl + 1;
            // The header's cut, then one per slice start; a slice without a line end
            // gives its cut to the next slice that has one.
            if cuts.last().is_none_or(|&(c, _)| cut > c) && (i > 0 || cuts.is_empty()) {
                cuts.push((cut, lines + 1));
            }
        }
        lines += s.newlines;
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

/// What [`csv_parts`] needs of one slice `[a, b)` of a file.
struct SliceScan {
    /// A double quote, or a carriage return followed by something other than a line feed.
    spoiled: bool,
    newlines: u64,
    /// The offset of the slice's first line feed.
    first_nl: Option<u64>,
    first: Option<u8>,
    last: Option<u8>,
}

fn scan_slice(path: &Path, a: u64, b: u64) -> std::io::Result<SliceScan> {
    let mut r = File::open(path)?;
    r.seek(SeekFrom::Start(a))?;
    let mut r = r.take(b - a);
    let mut s = SliceScan {
        spoiled: false,
        newlines: 0,
        first_nl: None,
        first: None,
        last: None,
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut base = a;
    loop {
        let got = r.read(&mut buf)?;
        if got == 0 {
            return Ok(s);
        }
        let chunk = &buf[..got];
        s.first.get_or_insert(chunk[0]);
        if s.last == Some(b'\r') && chunk[0] != b'\n' {
            s.spoiled = true;
        }
        s.last = Some(chunk[got - 1]);
        s.spoiled |= memchr::memchr(b'"', chunk).is_some()
            || memchr::memchr_iter(b'\r', chunk)
                .any(|i| chunk.get(i + 1).is_some_and(|&b| b != b'\n'));
        if s.spoiled {
            return Ok(s);
        }
        if s.first_nl.is_none() {
            s.first_nl = memchr::memchr(b'\n', chunk).map(|i| base + i as u64);
        }
        s.newlines += memchr::memchr_iter(b'\n', chunk).count() as u64;
        base += got as u64;
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
        if headers.len() > MAX_HEADER_COLUMNS {
            return Err(InputError::file(
                &path,
                format!(
                    "the header has {} columns, more than the {MAX_HEADER_COLUMNS} rehearse reads (is the first line a header? a stream has at most {MAX_COLUMNS} columns of its own)",
                    headers.len()
                ),
            ));
        }
        let names: Vec<&[u8]> = headers.iter().collect();
        let texts: Vec<&str> = names
            .iter()
            .map(|h| std::str::from_utf8(h.trim_ascii()).unwrap_or(""))
            .collect();
        let mut index = Vec::with_capacity(columns.len());
        for c in columns {
            let found = names
                .iter()
                .position(|h| h.trim_ascii() == c.name.as_bytes());
            if found.is_none() && c.required {
                let known: Vec<&str> = columns.iter().map(|c| c.name).collect();
                if let Some(hint) = super::delimiter_hint(&texts, &known) {
                    return Err(InputError::file(&path, hint));
                }
                return Err(InputError::file(
                    &path,
                    format!(
                        "required column `{}` is missing from the header{}",
                        c.name,
                        super::column_hint(c.name, &texts)
                    ),
                ));
            }
            index.push(found);
        }
        let mut stats = ReadStats {
            present: index.iter().map(Option::is_some).collect(),
            ..Default::default()
        };
        if self.range.is_some() {
            let fields = headers.len();
            self.plain_lines(
                &index,
                columns,
                fields,
                lines_before,
                on_error,
                &mut stats,
                f,
            )?;
            return Ok(stats);
        }
        let mut record = csv::ByteRecord::new();
        loop {
            match self.reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    if let csv::ErrorKind::Io(io) = e.kind() {
                        let line = lines_before + e.position().map_or(1, |p| self.line_of(p));
                        return Err(InputError::file(&path, read_error(io, line)));
                    }
                    let line = lines_before + e.position().map_or(0, |p| self.line_of(p));
                    let problem = RowProblem::new("*", format!("unreadable CSV: {e}"));
                    handle_row(
                        Err(problem),
                        &path,
                        RowLoc::Line(line),
                        on_error,
                        &mut stats,
                    )?;
                    continue;
                }
            }
            // Skip blank lines the way most CSV tools do.
            if record.len() == 1 && record[0].is_empty() {
                continue;
            }
            let result = if record.len() == headers.len() {
                row_cells(&record, &index, columns).and_then(|cells| f(&cells[..columns.len()]))
            } else {
                Err(field_count_problem(record.len(), headers.len()))
            };
            if result.is_ok() {
                stats.rows += 1;
                continue;
            }
            // Only a bad row needs its line number.
            let line = lines_before + record.position().map_or(0, |p| self.line_of(p));
            handle_row(result, &path, RowLoc::Line(line), on_error, &mut stats)?;
        }
        Ok(stats)
    }
}

impl CsvTable {
    /// The physical line (1-based) a record starts on. The parser's own count is the
    /// line it stood on when it began the record, before passing over the line end of
    /// a `\r\n` and any blank lines, so those are counted here from the file's bytes.
    fn line_of(&self, pos: &csv::Position) -> u64 {
        let mut line = pos.line();
        let Ok(mut file) = File::open(&self.path) else {
            return line;
        };
        if file
            .seek(SeekFrom::Start(pos.byte() + self.skipped))
            .is_err()
        {
            return line;
        }
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = file.read(&mut buf) {
            for &b in &buf[..n] {
                match b {
                    b'\n' => line += 1,
                    b'\r' => {}
                    _ => return line,
                }
            }
        }
        line
    }

    /// Reads a range of plain lines (see [`csv_parts`]: no quote, no bare carriage
    /// return) without the CSV parser: a line ends at `\n` (a `\r` before it is dropped),
    /// fields end at commas, and blank lines are passed over, which is what the parser
    /// makes of such lines, with the same line numbers. A line with another number of
    /// fields than the header's `fields` is a row problem, as it is for the parser.
    #[allow(clippy::too_many_arguments)]
    fn plain_lines(
        &mut self,
        index: &[Option<usize>],
        columns: &[ColumnSpec],
        fields: usize,
        lines_before: u64,
        on_error: OnError,
        stats: &mut ReadStats,
        f: &mut RowFn<'_>,
    ) -> Result<(), InputError> {
        // Per field of a line, the requested column it holds (if any).
        let wanted = index.iter().flatten().max().map_or(0, |m| m + 1);
        let mut slot_of = vec![usize::MAX; wanted];
        for (i, idx) in index.iter().enumerate() {
            if let Some(j) = idx {
                slot_of[*j] = i;
            }
        }
        let reader = self.reader.get_mut();
        let io =
            |e: std::io::Error, line: u64| InputError::file(&self.path, read_error(&e, line + 1));
        // A line is read in place from the reader's buffer; one that spans two fills
        // of it is gathered in `carry`.
        let mut carry: Vec<u8> = Vec::new();
        let mut line_no = lines_before;
        loop {
            let buf = reader.fill_buf().map_err(|e| io(e, line_no))?;
            if buf.is_empty() {
                if !carry.is_empty() {
                    line_no += 1;
                    if let Some(result) = plain_row(&carry, &slot_of, columns, fields, f) {
                        handle_row(result, &self.path, RowLoc::Line(line_no), on_error, stats)?;
                    }
                }
                break;
            }
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', buf) {
                line_no += 1;
                let result = if carry.is_empty() {
                    plain_row(&buf[start..end], &slot_of, columns, fields, f)
                } else {
                    carry.extend_from_slice(&buf[start..end]);
                    let r = plain_row(&carry, &slot_of, columns, fields, f);
                    carry.clear();
                    r
                };
                if let Some(result) = result {
                    handle_row(result, &self.path, RowLoc::Line(line_no), on_error, stats)?;
                }
                start = end + 1;
            }
            carry.extend_from_slice(&buf[start..]);
            let n = buf.len();
            reader.consume(n);
        }
        Ok(())
    }
}

/// One plain line without its `\n`: `None` for a blank line (no row), else what `f`
/// makes of its cells.
fn plain_row(
    line: &[u8],
    slot_of: &[usize],
    columns: &[ColumnSpec],
    fields: usize,
    f: &mut RowFn<'_>,
) -> Option<Result<(), RowProblem>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return None;
    }
    let got = memchr::memchr_iter(b',', line).count() + 1;
    if got != fields {
        return Some(Err(field_count_problem(got, fields)));
    }
    Some(plain_cells(line, slot_of, columns).and_then(|c| f(&c[..columns.len()])))
}

/// The requested fields of a plain line (`slot_of`: per field, its column slot) as
/// cells, exactly as [`row_cells`] gives them for the parsed record.
fn plain_cells<'r>(
    line: &'r [u8],
    slot_of: &[usize],
    columns: &[ColumnSpec],
) -> Result<[Cell<'r>; MAX_COLUMNS], RowProblem> {
    let mut cells: [Cell<'r>; MAX_COLUMNS] = std::array::from_fn(|_| Cell::Null);
    // One UTF-8 check for the whole line; commas are ASCII, so its fields are `str`
    // slices. A line that fails is checked field by field: only requested ones count.
    if let Ok(text) = std::str::from_utf8(line) {
        let ends = memchr::memchr_iter(b',', line).chain(std::iter::once(line.len()));
        let mut start = 0;
        for (&i, end) in slot_of.iter().zip(ends) {
            if i != usize::MAX && end > start {
                cells[i] = Cell::Str(Cow::Borrowed(&text[start..end]));
            }
            start = end + 1;
        }
        return Ok(cells);
    }
    for (j, field) in line.split(|&b| b == b',').take(slot_of.len()).enumerate() {
        let i = slot_of[j];
        if i != usize::MAX && !field.is_empty() {
            cells[i] = text_cell(field, &columns[i])?;
        }
    }
    Ok(cells)
}

/// The problem of a row whose field count is not the header's: pandas and polars refuse
/// such a row too, as it usually means a shifted column, so its values are not guessed.
fn field_count_problem(got: usize, header: usize) -> RowProblem {
    let fix = if got > header {
        "a value holding an unquoted comma, or a stray delimiter? quote such values"
    } else {
        "a missing value? leave an empty field between commas for an absent value"
    };
    RowProblem::new(
        "*",
        format!("the row has {got} fields but the header has {header} ({fix})"),
    )
}

/// A non-empty CSV field as a text cell; not UTF-8 is a problem of its column.
fn text_cell<'r>(field: &'r [u8], column: &ColumnSpec) -> Result<Cell<'r>, RowProblem> {
    match std::str::from_utf8(field) {
        Ok(s) => Ok(Cell::Str(Cow::Borrowed(s))),
        Err(_) => Err(RowProblem::new(column.name, "the value is not valid UTF-8")),
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
        if let Some(b) = idx.and_then(|j| record.get(j))
            && !b.is_empty()
        {
            cells[i] = text_cell(b, &columns[i])?;
        }
    }
    Ok(cells)
}
