//! Text stream files, plain or gzip-compressed (`requests.csv.gz`, `funnel.ndjson.gz`,
//! as web servers rotate their logs): one reader type for both, so the CSV and NDJSON
//! adapters keep one concrete reader. Concatenated gzip members (what `cat a.gz b.gz`
//! and many log rotators produce) are read as one stream. Decompression streams through
//! a fixed buffer, so memory does not grow with the inflated size. Every line (a CSV
//! row) is bounded ([`MAX_LINE_BYTES`]), so no input makes a reader hold more than that
//! of one row.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::InputError;

/// An open text file, decompressed on the fly when it is gzip.
pub enum TextFile {
    Plain(File),
    Gzip(Box<MultiGzDecoder<File>>),
}

impl Read for TextFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            TextFile::Plain(f) => f.read(buf),
            TextFile::Gzip(g) => g.read(buf),
        }
    }
}

/// Whether the file name ends in `.gz` (any case).
pub fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Opens a text file, through a gzip decoder when its name ends in `.gz`, with lines
/// bounded to [`MAX_LINE_BYTES`] (CSV rows: quoted line ends do not end a row).
pub fn open_text(path: &Path, csv: bool) -> Result<Text, InputError> {
    let file = File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
    let file = if is_gzip(path) {
        TextFile::Gzip(Box::new(MultiGzDecoder::new(file)))
    } else {
        TextFile::Plain(file)
    };
    Ok(LineBounded::new(file, csv, 0))
}

/// Opens a file, through a gzip decoder when its name ends in `.gz`, without a line
/// bound: for whole documents (a Prometheus response is one JSON value, often one line).
pub fn open_raw(path: &Path) -> Result<TextFile, InputError> {
    let file = File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
    Ok(if is_gzip(path) {
        TextFile::Gzip(Box::new(MultiGzDecoder::new(file)))
    } else {
        TextFile::Plain(file)
    })
}

/// A text file as the readers read it.
pub type Text = LineBounded<TextFile>;

/// The longest row (line) a text reader accepts: 16 MiB. A longer one is a read error
/// naming its line, so a file without line ends (or a compressed file that inflates to
/// one endless line) cannot make a reader hold more than this in one row.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// A reader that fails once a line (a CSV row, whose quoted fields may hold line ends)
/// grows past a bound, before the reader above it buffers more of it.
pub struct LineBounded<R> {
    inner: R,
    /// CSV: line ends inside double quotes do not end a row.
    csv: bool,
    in_quotes: bool,
    /// Bytes of the current row so far.
    run: usize,
    /// Line ends seen (plus the lines before a range's start).
    lines: u64,
    /// The line the current row started on (1-based).
    row_line: u64,
    max: usize,
    /// The reader above bounds its lines itself ([`LineBounded::bounded_above`]).
    unscanned: bool,
}

impl<R> LineBounded<R> {
    /// `lines_before`: the lines before the first byte `inner` gives (for line numbers).
    pub fn new(inner: R, csv: bool, lines_before: u64) -> Self {
        Self::with_max(inner, csv, lines_before, MAX_LINE_BYTES)
    }

    /// [`LineBounded::new`] with another bound (tests).
    pub fn with_max(inner: R, csv: bool, lines_before: u64, max: usize) -> Self {
        Self {
            inner,
            csv,
            in_quotes: false,
            run: 0,
            lines: lines_before,
            row_line: lines_before + 1,
            max,
            unscanned: false,
        }
    }

    /// Stops the scan: the reader above finds the line ends itself and fails a line
    /// longer than [`MAX_LINE_BYTES`] with [`LineTooLong`] (a range of plain lines,
    /// whose rows are its lines), so the bytes are not searched twice.
    pub fn bounded_above(&mut self) {
        self.unscanned = true;
    }

    fn scan(&mut self, chunk: &[u8]) -> io::Result<()> {
        let mut last = 0;
        let check = |this: &mut Self, upto: usize, last: usize| -> io::Result<()> {
            this.run += upto - last;
            if this.run > this.max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    LineTooLong {
                        line: this.row_line,
                        max: this.max,
                    },
                ));
            }
            Ok(())
        };
        if self.csv {
            for i in memchr::memchr2_iter(b'\n', b'"', chunk) {
                check(self, i, last)?;
                last = i;
                if chunk[i] == b'"' {
                    self.in_quotes = !self.in_quotes;
                    continue;
                }
                self.lines += 1;
                if !self.in_quotes {
                    self.run = 0;
                    self.row_line = self.lines + 1;
                }
            }
        } else {
            for i in memchr::memchr_iter(b'\n', chunk) {
                check(self, i, last)?;
                last = i;
                self.lines += 1;
                self.run = 0;
                self.row_line = self.lines + 1;
            }
        }
        check(self, chunk.len(), last)
    }
}

impl<R: Read> Read for LineBounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.unscanned {
            self.scan(&buf[..n])?;
        }
        Ok(n)
    }
}

/// The error of a row longer than the bound.
#[derive(Debug)]
pub struct LineTooLong {
    pub line: u64,
    pub max: usize,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the row on line {} is longer than {} MiB, the most rehearse reads in one row (a file without line ends, a binary file, or an unclosed double quote?)",
            self.line,
            self.max >> 20
        )
    }
}

impl std::error::Error for LineTooLong {}

/// The message of a read error: a [`LineTooLong`] as it is (it names its line), others
/// after "read error at line N".
pub fn read_error(e: &io::Error, line: u64) -> String {
    match e.get_ref().and_then(|r| r.downcast_ref::<LineTooLong>()) {
        Some(t) => t.to_string(),
        None => format!("read error at line {line}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn concatenated_members_read_as_one_stream() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("requests.csv.gz");
        let mut bytes = gz(b"ts,status\n1,200\n");
        bytes.extend(gz(b"2,500\n"));
        std::fs::write(&p, bytes).unwrap();
        let mut s = String::new();
        open_text(&p, false)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "ts,status\n1,200\n2,500\n");
    }

    #[test]
    fn plain_files_are_read_as_they_are() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("requests.csv");
        std::fs::write(&p, "ts\n1\n").unwrap();
        let mut s = String::new();
        open_text(&p, false)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "ts\n1\n");
        assert!(is_gzip(Path::new("a.csv.GZ")) && !is_gzip(Path::new("a.csv")));
    }

    #[test]
    fn a_corrupt_gzip_file_is_a_read_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("requests.csv.gz");
        std::fs::write(&p, b"ts,status\n1,200\n").unwrap();
        let mut s = String::new();
        assert!(
            open_text(&p, false)
                .unwrap()
                .read_to_string(&mut s)
                .is_err()
        );
    }
}
