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

use super::text::{
    LineBounded, LineTooLong, MAX_LINE_BYTES, Text, TextFile, open_text, read_error,
};
use super::{
    Cell, ColumnSpec, InputError, MAX_COLUMNS, OnError, ReadStats, RowFn, RowLoc, RowProblem,
    Table, handle_row,
};
use crate::input::Millis;

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
        let (index, mut stats, fields, lines_before) = self.header(columns)?;
        if self.range.is_some() {
            let slot_of = slots(&index);
            self.plain_lines(lines_before, on_error, &mut stats, |line| {
                plain_row(line, &slot_of, columns, fields, f)
            })?;
            return Ok(stats);
        }
        self.parsed_rows(
            &index,
            columns,
            fields,
            lines_before,
            on_error,
            &mut stats,
            f,
        )?;
        Ok(stats)
    }

    /// A range of plain lines (the parallel reading of a large file) has a fast path:
    /// a line whose requested fields are in the common shapes (RFC 3339 UTC timestamp
    /// with milliseconds, a known cohort and source, a three-digit status, a latency
    /// with at most three decimals) is decoded straight from its bytes; any other line
    /// goes through the cells, so rows, errors and skips stay those of `for_each_row`.
    fn for_each_request(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        prefixes: &[String],
        f: &mut super::RequestFn<'_>,
    ) -> Result<ReadStats, InputError> {
        let (index, mut stats, fields, lines_before) = self.header(columns)?;
        if self.range.is_none() || columns.len() != 6 {
            let mut cells = |c: &[Cell]| f(super::RequestRow::Cells(c));
            self.parsed_rows(
                &index,
                columns,
                fields,
                lines_before,
                on_error,
                &mut stats,
                &mut cells,
            )?;
            return Ok(stats);
        }
        let slot_of = slots(&index);
        let mut hours = HourCache::default();
        self.plain_lines(lines_before, on_error, &mut stats, |line| {
            let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(row) = fast_request(trimmed, &slot_of, fields, prefixes, &mut hours) {
                return Some(f(row));
            }
            plain_row(line, &slot_of, columns, fields, &mut |c: &[Cell]| {
                f(super::RequestRow::Cells(c))
            })
        })?;
        Ok(stats)
    }
}

/// Per field of a line, the requested column slot it holds (`usize::MAX`: none), up to
/// the last requested field.
fn slots(index: &[Option<usize>]) -> Vec<usize> {
    let wanted = index.iter().flatten().max().map_or(0, |m| m + 1);
    let mut slot_of = vec![usize::MAX; wanted];
    for (i, idx) in index.iter().enumerate() {
        if let Some(j) = idx {
            slot_of[*j] = i;
        }
    }
    slot_of
}

/// The epoch milliseconds of the last `YYYY-MM-DDTHH` seen: consecutive rows mostly
/// share the hour, so a timestamp costs its minutes, seconds and milliseconds.
#[derive(Default)]
struct HourCache {
    key: [u8; 13],
    base: Option<Millis>,
}

impl HourCache {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` exactly (what most writers emit for UTC), else `None`
    /// (the cell decoder then reads it, with every other form and the errors).
    fn ts(&mut self, t: &[u8]) -> Option<Millis> {
        if t.len() != 24 || t[13] != b':' || t[16] != b':' || t[19] != b'.' || t[23] != b'Z' {
            return None;
        }
        let d = |i: usize| -> Option<i64> {
            let c = t[i].wrapping_sub(b'0');
            (c < 10).then_some(c as i64)
        };
        let minute = d(14)? * 10 + d(15)?;
        let second = d(17)? * 10 + d(18)?;
        let milli = d(20)? * 100 + d(21)? * 10 + d(22)?;
        if minute > 59 || second > 59 {
            return None;
        }
        if self.base.is_none() || self.key != t[..13] {
            // The hour through the full parser, once per hour of data.
            let mut whole = [0u8; 24];
            whole[..13].copy_from_slice(&t[..13]);
            whole[13..].copy_from_slice(b":00:00.000Z");
            let text = std::str::from_utf8(&whole).ok()?;
            self.base = Some(crate::time::parse_ts_text(text)?);
            self.key.copy_from_slice(&t[..13]);
        }
        Some(self.base? + minute * 60_000 + second * 1000 + milli)
    }
}

/// A latency in milliseconds with at most three decimals and at most nine integer
/// digits (`47.65`, `120`, `0.5`), as exact microseconds; `None` for anything else.
fn fast_latency_us(t: &[u8]) -> Option<u64> {
    let (int, frac) = match memchr::memchr(b'.', t) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, &t[t.len()..]),
    };
    if int.is_empty() || int.len() > 9 || frac.len() > 3 {
        return None;
    }
    let mut us: u64 = 0;
    for &b in int {
        let c = b.wrapping_sub(b'0');
        if c > 9 {
            return None;
        }
        us = us * 10 + c as u64;
    }
    us *= 1000;
    let mut scale = 100;
    for &b in frac {
        let c = b.wrapping_sub(b'0');
        if c > 9 {
            return None;
        }
        us += c as u64 * scale;
        scale /= 10;
    }
    Some(us)
}

/// Calls `f` with the position of every comma of `line`, in order. Eight bytes at a
/// time (a word's comma bytes found with exact carry-free arithmetic), as the fields of
/// a request line are short: a vector search restarted for each of them costs more
/// than it finds.
#[inline]
fn for_each_comma(line: &[u8], f: &mut impl FnMut(usize)) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const COMMAS: u64 = 0x2c2c_2c2c_2c2c_2c2c;
    let mut words = line.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8])) ^ COMMAS;
        // High bit set in exactly the bytes of x that are zero (the commas).
        let mut hits = !(((x & LOW7) + LOW7) | x | LOW7);
        while hits != 0 {
            f(at + (hits.trailing_zeros() / 8) as usize);
            hits &= hits - 1;
        }
        at += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b',' {
            f(at + i);
        }
    }
}

/// One plain line (without `\r\n`) of the requests stream decoded from its bytes, when
/// every requested field has a common shape (see [`CsvTable::for_each_request`]);
/// `None` sends the line through the cells.
fn fast_request<'a, 'c>(
    line: &[u8],
    slot_of: &[usize],
    fields: usize,
    prefixes: &[String],
    hours: &mut HourCache,
) -> Option<super::RequestRow<'a, 'c>> {
    use crate::input::{Cohort, Source};
    let mut got: [&[u8]; 6] = [&[]; 6];
    let mut start = 0;
    let mut field = 0;
    let mut cut = |end: usize| {
        if let Some(&slot) = slot_of.get(field)
            && slot < 6
        {
            got[slot] = &line[start..end];
        }
        field += 1;
        start = end + 1;
    };
    for_each_comma(line, &mut cut);
    cut(line.len());
    if field != fields {
        return None;
    }
    let [ts, endpoint, cohort, source, status, latency] = got;
    let ts = hours.ts(ts)?;
    let cohort = match cohort {
        b"canary" => Cohort::Canary,
        b"baseline" => Cohort::Baseline,
        _ => return None,
    };
    let source = match source {
        b"real" => Source::Real,
        b"synthetic" => Source::Synthetic,
        _ => return None,
    };
    let status = match status {
        &[a, b, c] if (b'1'..=b'5').contains(&a) && b.is_ascii_digit() && c.is_ascii_digit() => {
            (a - b'0') as u16 * 100 + (b - b'0') as u16 * 10 + (c - b'0') as u16
        }
        _ => return None,
    };
    let latency_us = fast_latency_us(latency)?;
    // Non-ASCII (maybe not UTF-8) goes through the cells, which check it.
    if endpoint.is_empty() || !endpoint.is_ascii() {
        return None;
    }
    let prefix = crate::input::prefix_index_bytes(prefixes, endpoint);
    Some(super::RequestRow::Decoded {
        ts,
        cohort,
        source,
        status,
        latency_us,
        prefix,
    })
}

impl CsvTable {
    /// Reads the header (the file's, or a range's copy of it), finds the requested
    /// columns and refuses a missing required one: the column index per request, the
    /// stats to fill, the header's field count and the lines before the first row.
    #[allow(clippy::type_complexity)]
    fn header(
        &mut self,
        columns: &[ColumnSpec],
    ) -> Result<(Vec<Option<usize>>, ReadStats, usize, u64), InputError> {
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
        let stats = ReadStats {
            present: index.iter().map(Option::is_some).collect(),
            ..Default::default()
        };
        Ok((index, stats, headers.len(), lines_before))
    }

    /// The rows of a whole file, through the CSV parser.
    #[allow(clippy::too_many_arguments)]
    fn parsed_rows(
        &mut self,
        index: &[Option<usize>],
        columns: &[ColumnSpec],
        fields: usize,
        lines_before: u64,
        on_error: OnError,
        stats: &mut ReadStats,
        f: &mut RowFn<'_>,
    ) -> Result<(), InputError> {
        let path = self.path.clone();
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
                    handle_row(Err(problem), &path, RowLoc::Line(line), on_error, stats)?;
                    continue;
                }
            }
            // Skip blank lines the way most CSV tools do.
            if record.len() == 1 && record[0].is_empty() {
                continue;
            }
            let result = if record.len() == fields {
                row_cells(&record, index, columns).and_then(|cells| f(&cells[..columns.len()]))
            } else {
                Err(field_count_problem(record.len(), fields))
            };
            if result.is_ok() {
                stats.rows += 1;
                continue;
            }
            // Only a bad row needs its line number.
            let line = lines_before + record.position().map_or(0, |p| self.line_of(p));
            handle_row(result, &path, RowLoc::Line(line), on_error, stats)?;
        }
        Ok(())
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
    /// return) without the CSV parser: a line ends at `\n` (a `\r` before it is dropped
    /// by `row`), fields end at commas, and blank lines are passed over, which is what
    /// the parser makes of such lines, with the same line numbers. `row` decodes one
    /// line (`None`: a blank line, no row).
    fn plain_lines(
        &mut self,
        lines_before: u64,
        on_error: OnError,
        stats: &mut ReadStats,
        mut row: impl FnMut(&[u8]) -> Option<Result<(), RowProblem>>,
    ) -> Result<(), InputError> {
        let reader = self.reader.get_mut();
        // This loop bounds the lines (below), so the reader under it need not scan.
        reader.get_mut().get_mut().bounded_above();
        let io =
            |e: std::io::Error, line: u64| InputError::file(&self.path, read_error(&e, line + 1));
        let too_long = |line: u64| {
            let e = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                LineTooLong {
                    line,
                    max: MAX_LINE_BYTES,
                },
            );
            InputError::file(&self.path, read_error(&e, line))
        };
        // A line is read in place from the reader's buffer; one that spans two fills
        // of it is gathered in `carry`.
        let mut carry: Vec<u8> = Vec::new();
        let mut line_no = lines_before;
        loop {
            let buf = reader.fill_buf().map_err(|e| io(e, line_no))?;
            if buf.is_empty() {
                if !carry.is_empty() {
                    line_no += 1;
                    if let Some(result) = row(&carry) {
                        handle_row(result, &self.path, RowLoc::Line(line_no), on_error, stats)?;
                    }
                }
                break;
            }
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', buf) {
                line_no += 1;
                let result = if carry.is_empty() {
                    row(&buf[start..end])
                } else {
                    carry.extend_from_slice(&buf[start..end]);
                    if carry.len() > MAX_LINE_BYTES {
                        return Err(too_long(line_no));
                    }
                    let r = row(&carry);
                    carry.clear();
                    r
                };
                if let Some(result) = result {
                    handle_row(result, &self.path, RowLoc::Line(line_no), on_error, stats)?;
                }
                start = end + 1;
            }
            carry.extend_from_slice(&buf[start..]);
            if carry.len() > MAX_LINE_BYTES {
                return Err(too_long(line_no + 1));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The word-at-a-time comma search finds what a byte-by-byte one finds, with
        /// every byte value around the commas (0x2c's neighbours, high bytes).
        #[test]
        fn commas_are_found_like_a_byte_scan(line in proptest::collection::vec(
            proptest::prop_oneof![proptest::strategy::Just(b','), proptest::num::u8::ANY],
            0..70,
        )) {
            let mut got = Vec::new();
            for_each_comma(&line, &mut |i| got.push(i));
            let want: Vec<usize> = line.iter().enumerate().filter(|(_, b)| **b == b',').map(|(i, _)| i).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
