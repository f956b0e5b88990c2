//! Text stream files, plain or gzip-compressed (`requests.csv.gz`, `funnel.ndjson.gz`,
//! as web servers rotate their logs): one reader type for both, so the CSV and NDJSON
//! adapters keep one concrete reader. Concatenated gzip members (what `cat a.gz b.gz`
//! and many log rotators produce) are read as one stream. Decompression streams through
//! a fixed buffer, so memory does not grow with the inflated size.

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

/// Opens a text file, through a gzip decoder when its name ends in `.gz`.
pub fn open_text(path: &Path) -> Result<TextFile, InputError> {
    let file = File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
    Ok(if is_gzip(path) {
        TextFile::Gzip(Box::new(MultiGzDecoder::new(file)))
    } else {
        TextFile::Plain(file)
    })
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
        open_text(&p).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "ts,status\n1,200\n2,500\n");
    }

    #[test]
    fn plain_files_are_read_as_they_are() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("requests.csv");
        std::fs::write(&p, "ts\n1\n").unwrap();
        let mut s = String::new();
        open_text(&p).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "ts\n1\n");
        assert!(is_gzip(Path::new("a.csv.GZ")) && !is_gzip(Path::new("a.csv")));
    }

    #[test]
    fn a_corrupt_gzip_file_is_a_read_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("requests.csv.gz");
        std::fs::write(&p, b"ts,status\n1,200\n").unwrap();
        let mut s = String::new();
        assert!(open_text(&p).unwrap().read_to_string(&mut s).is_err());
    }
}
