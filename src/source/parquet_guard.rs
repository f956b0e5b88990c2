//! Bounds what a Parquet file's page headers can make the Parquet library allocate.
//! The library trusts each page header: it reserves (and for Snappy and LZ4 zeroes) the
//! uncompressed size the header claims, and sizes a dictionary by the value count it
//! claims, before any byte of the page is decoded; a 3.8 KB file claiming a huge
//! dictionary made it allocate 2.9 GB. [`check_pages`] walks the page headers of the
//! column chunks about to be read (a few bytes each: page bodies are skipped, not read)
//! and refuses, naming the file, row group, column, page and value, a page whose sizes
//! or counts cannot be right or exceed [`MAX_PAGE_BYTES`]. The page header is Thrift's
//! compact encoding; this module reads just enough of it, itself, with bounded work
//! and memory (the Parquet library keeps its own header type private).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use parquet::basic::Type as PhysicalType;
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};

use super::{ColumnSpec, InputError};

/// The most a single page may claim uncompressed: 128 MiB. Writers cut pages at about
/// 1 MiB by default (Arrow, pyarrow, Spark, DuckDB); a dictionary page may be larger
/// but rarely more than a few MiB. With it, what one page makes the library allocate
/// is bounded by a small multiple of this (the page, and its decoded dictionary).
pub const MAX_PAGE_BYTES: i64 = 128 << 20;

/// Thrift nesting deeper than this in a page header is refused (real headers nest
/// three deep: header, data page header, statistics).
const MAX_DEPTH: u32 = 16;

/// What a page header says, as far as the bounds need.
#[derive(Debug, Default)]
struct PageHeader {
    kind: Option<i32>,
    uncompressed: Option<i32>,
    compressed: Option<i32>,
    /// `num_values` of the data page (v1 or v2) or dictionary page header.
    num_values: Option<i32>,
    /// Data page v2 only.
    num_rows: Option<i32>,
    num_nulls: Option<i32>,
}

const DATA_PAGE: i32 = 0;
const DICTIONARY_PAGE: i32 = 2;
const DATA_PAGE_V2: i32 = 3;

/// Checks every page header of the column chunks of `row_groups` (all when `None`)
/// whose top-level column is one of `columns` (those the reader is about to decode):
/// each page must lie inside its chunk, claim at most [`MAX_PAGE_BYTES`] uncompressed,
/// a dictionary no more values than its bytes can hold, and a data page of a flat
/// column no more values than its row group has rows.
pub fn check_pages(
    path: &Path,
    meta: &ParquetMetaData,
    row_groups: Option<&[usize]>,
    columns: &[ColumnSpec],
) -> Result<(), InputError> {
    let io = |e: std::io::Error| InputError::file(path, format!("cannot read: {e}"));
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut r = BufReader::with_capacity(4 << 10, file);
    let groups = meta.row_groups();
    let all: Vec<usize> = (0..groups.len()).collect();
    for &g in row_groups.unwrap_or(&all) {
        let Some(group) = groups.get(g) else {
            continue;
        };
        for chunk in group.columns() {
            let root = chunk.column_path().parts().first().map(String::as_str);
            if !columns.iter().any(|c| Some(c.name) == root) {
                continue;
            }
            check_chunk(&mut r, len, chunk, group.num_rows()).map_err(|why| {
                InputError::file(
                    path,
                    format!(
                        "the Parquet file is corrupt: row group {g}, column `{}`: {why} (the file is damaged; write it again)",
                        chunk.column_path().string()
                    ),
                )
            })?;
        }
    }
    Ok(())
}

/// Walks one column chunk's pages; the error says which page and what is wrong.
fn check_chunk(
    r: &mut BufReader<File>,
    file_len: u64,
    chunk: &ColumnChunkMetaData,
    group_rows: i64,
) -> Result<(), String> {
    let start = chunk
        .dictionary_page_offset()
        .unwrap_or(chunk.data_page_offset());
    let size = chunk.compressed_size();
    let (Ok(start), Ok(size)) = (u64::try_from(start), u64::try_from(size)) else {
        return Err(format!("the chunk claims {size} bytes at offset {start}"));
    };
    let end = start
        .checked_add(size)
        .filter(|&e| e <= file_len)
        .ok_or_else(|| {
            format!("the chunk claims {size} bytes at offset {start} of a {file_len}-byte file")
        })?;
    let flat = chunk.column_descr().max_rep_level() == 0;
    let min_width = min_value_bits(chunk);
    r.seek(SeekFrom::Start(start))
        .map_err(|e| format!("cannot read: {e}"))?;
    let mut at = start;
    let mut page = 0u64;
    while at < end {
        let mut h = HeaderReader {
            r: &mut *r,
            left: end - at,
            used: 0,
        };
        let header = h
            .page_header()
            .map_err(|why| format!("page {page} at offset {at}: {why}"))?;
        let used = h.used;
        let bad = |what: String| format!("page {page} at offset {at}: {what}");
        let (Some(kind), Some(uncompressed), Some(compressed)) =
            (header.kind, header.uncompressed, header.compressed)
        else {
            return Err(bad("the page header lacks its type or sizes".into()));
        };
        let room = end - at - used;
        if compressed < 0 || compressed as u64 > room {
            return Err(bad(format!(
                "the page header claims {compressed} bytes, but {room} bytes of the chunk follow it"
            )));
        }
        if !(0..=MAX_PAGE_BYTES).contains(&i64::from(uncompressed)) {
            return Err(bad(format!(
                "the page header claims {uncompressed} bytes uncompressed, more than the {MAX_PAGE_BYTES} bytes (128 MiB) rehearse reads in one page"
            )));
        }
        let values = header.num_values.unwrap_or(0);
        if values < 0 {
            return Err(bad(format!("the page header claims {values} values")));
        }
        match kind {
            DICTIONARY_PAGE => {
                // A dictionary page holds its values plainly encoded: each takes at
                // least `min_width` bits of the uncompressed page.
                let most = i64::from(uncompressed) * 8 / min_width;
                if i64::from(values) > most {
                    return Err(bad(format!(
                        "the dictionary page claims {values} values in {uncompressed} bytes (at most {most} fit)"
                    )));
                }
            }
            DATA_PAGE | DATA_PAGE_V2 if flat && i64::from(values) > group_rows => {
                return Err(bad(format!(
                    "the data page claims {values} values in a row group of {group_rows} rows"
                )));
            }
            _ => {}
        }
        if kind == DATA_PAGE_V2 {
            let rows = header.num_rows.unwrap_or(0);
            let nulls = header.num_nulls.unwrap_or(0);
            if rows < 0 || i64::from(rows) > group_rows.max(0) || nulls < 0 || nulls > values {
                return Err(bad(format!(
                    "the data page claims {rows} rows and {nulls} nulls of {values} values in a row group of {group_rows} rows"
                )));
            }
        }
        r.seek_relative(compressed as i64)
            .map_err(|e| format!("cannot read: {e}"))?;
        at += used + compressed as u64;
        page += 1;
    }
    Ok(())
}

/// The fewest bits one plainly encoded value of the chunk's type takes (a byte array's
/// 4-byte length prefix included).
fn min_value_bits(chunk: &ColumnChunkMetaData) -> i64 {
    let d = chunk.column_descr();
    match d.physical_type() {
        PhysicalType::BOOLEAN => 1,
        PhysicalType::INT32 | PhysicalType::FLOAT | PhysicalType::BYTE_ARRAY => 32,
        PhysicalType::INT64 | PhysicalType::DOUBLE => 64,
        PhysicalType::INT96 => 96,
        PhysicalType::FIXED_LEN_BYTE_ARRAY => i64::from(d.type_length().max(1)) * 8,
    }
}

/// Reads one Thrift compact-encoded page header, at most `left` bytes of it.
struct HeaderReader<'a> {
    r: &'a mut BufReader<File>,
    left: u64,
    used: u64,
}

// Thrift compact protocol type codes.
const T_TRUE: u8 = 1;
const T_FALSE: u8 = 2;
const T_BYTE: u8 = 3;
const T_I16: u8 = 4;
const T_I32: u8 = 5;
const T_I64: u8 = 6;
const T_DOUBLE: u8 = 7;
const T_BINARY: u8 = 8;
const T_LIST: u8 = 9;
const T_SET: u8 = 10;
const T_MAP: u8 = 11;
const T_STRUCT: u8 = 12;

impl HeaderReader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        if self.left == 0 {
            return Err("the page header runs past the end of its column chunk".into());
        }
        let mut b = [0u8];
        self.r
            .read_exact(&mut b)
            .map_err(|e| format!("cannot read the page header: {e}"))?;
        self.left -= 1;
        self.used += 1;
        Ok(b[0])
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.left {
            return Err(format!(
                "a page header field claims {n} bytes, past the end of its column chunk"
            ));
        }
        self.r
            .seek_relative(n as i64)
            .map_err(|e| format!("cannot read the page header: {e}"))?;
        self.left -= n;
        self.used += n;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a page header integer is longer than 10 bytes".into())
    }

    fn zigzag(&mut self) -> Result<i64, String> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A 32-bit field named `name` (a field of another type is skipped: `None`).
    fn i32(&mut self, ty: u8, name: &str) -> Result<Option<i32>, String> {
        if ty != T_I32 {
            self.value(ty, 0)?;
            return Ok(None);
        }
        let v = self.zigzag()?;
        i32::try_from(v)
            .map(Some)
            .map_err(|_| format!("the page header claims {name} = {v}, past a 32-bit integer"))
    }

    /// Reads a field header: `None` at the struct's end, else (field id, type).
    fn field(&mut self, last: i16) -> Result<Option<(i16, u8)>, String> {
        let b = self.byte()?;
        let ty = b & 0x0f;
        if ty == 0 {
            return Ok(None);
        }
        let delta = i16::from(b >> 4);
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| "a page header field id is out of range")?
        } else {
            last.wrapping_add(delta)
        };
        Ok(Some((id, ty)))
    }

    fn page_header(&mut self) -> Result<PageHeader, String> {
        let mut h = PageHeader::default();
        let mut last = 0;
        while let Some((id, ty)) = self.field(last)? {
            last = id;
            match id {
                1 => h.kind = self.i32(ty, "type")?,
                2 => h.uncompressed = self.i32(ty, "uncompressed_page_size")?,
                3 => h.compressed = self.i32(ty, "compressed_page_size")?,
                // The data page, dictionary page and data page v2 headers.
                5 | 7 | 8 if ty == T_STRUCT => self.sub_header(id == 8, &mut h)?,
                _ => self.value(ty, 1)?,
            }
        }
        Ok(h)
    }

    /// A data page, dictionary page or data page v2 header: `num_values` is field 1 of
    /// each; a v2 header also has `num_nulls` (2) and `num_rows` (3).
    fn sub_header(&mut self, v2: bool, h: &mut PageHeader) -> Result<(), String> {
        let mut last = 0;
        while let Some((id, ty)) = self.field(last)? {
            last = id;
            match id {
                1 => h.num_values = self.i32(ty, "num_values")?,
                2 if v2 => h.num_nulls = self.i32(ty, "num_nulls")?,
                3 if v2 => h.num_rows = self.i32(ty, "num_rows")?,
                _ => self.value(ty, 2)?,
            }
        }
        Ok(())
    }

    /// Skips one value of type `ty`, `depth` structures deep.
    fn value(&mut self, ty: u8, depth: u32) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "the page header nests deeper than {MAX_DEPTH} levels"
            ));
        }
        match ty {
            T_TRUE | T_FALSE => Ok(()),
            T_BYTE => self.byte().map(drop),
            T_I16 | T_I32 | T_I64 => self.varint().map(drop),
            T_DOUBLE => self.skip(8),
            T_BINARY => {
                let n = self.varint()?;
                self.skip(n)
            }
            T_LIST | T_SET => {
                let b = self.byte()?;
                let n = match b >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.elements(n, b & 0x0f, depth)
            }
            T_MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                if n > self.left {
                    return Err(format!(
                        "a page header map claims {n} entries, past the end of its column chunk"
                    ));
                }
                let kv = self.byte()?;
                for _ in 0..n {
                    self.element(kv >> 4, depth)?;
                    self.element(kv & 0x0f, depth)?;
                }
                Ok(())
            }
            T_STRUCT => {
                let mut last = 0;
                while let Some((id, ty)) = self.field(last)? {
                    last = id;
                    self.value(ty, depth + 1)?;
                }
                Ok(())
            }
            other => Err(format!("a page header field has the unknown type {other}")),
        }
    }

    fn elements(&mut self, n: u64, ty: u8, depth: u32) -> Result<(), String> {
        // Every element takes at least one byte, so a count past what is left is a lie
        // (and would otherwise loop long).
        if n > self.left {
            return Err(format!(
                "a page header list claims {n} elements, past the end of its column chunk"
            ));
        }
        for _ in 0..n {
            self.element(ty, depth)?;
        }
        Ok(())
    }

    /// A list, set or map element: booleans take a byte there.
    fn element(&mut self, ty: u8, depth: u32) -> Result<(), String> {
        match ty {
            T_TRUE | T_FALSE => self.byte().map(drop),
            _ => self.value(ty, depth + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parquet::basic::Repetition;
    use parquet::schema::types::{ColumnDescriptor, ColumnPath, Type};

    use super::*;

    fn zigzag(v: i64) -> Vec<u8> {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let b = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    /// A data page header (Thrift compact) of a flat INT64 column.
    fn data_page(uncompressed: i64, compressed: i64, values: i64) -> Vec<u8> {
        let mut h = vec![0x15];
        h.extend(zigzag(0));
        h.push(0x15);
        h.extend(zigzag(uncompressed));
        h.push(0x15);
        h.extend(zigzag(compressed));
        h.extend([0x2c, 0x15]);
        h.extend(zigzag(values));
        h.extend([0, 0]);
        h
    }

    /// Checks `bytes` as one column chunk of `rows` rows taking the whole file.
    fn check(bytes: &[u8], rows: i64) -> Result<(), String> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("t.parquet");
        std::fs::write(&path, bytes).expect("writes");
        let ty = Type::primitive_type_builder("ts", PhysicalType::INT64)
            .with_repetition(Repetition::REQUIRED)
            .build()
            .expect("a type");
        let descr = ColumnDescriptor::new(Arc::new(ty), 0, 0, ColumnPath::from("ts"));
        let chunk = ColumnChunkMetaData::builder(Arc::new(descr))
            .set_data_page_offset(0)
            .set_total_compressed_size(bytes.len() as i64)
            .build()
            .expect("chunk metadata");
        let mut r = BufReader::new(File::open(&path).expect("opens"));
        check_chunk(&mut r, bytes.len() as u64, &chunk, rows)
    }

    #[test]
    fn pages_within_their_chunk_and_the_bound_pass() {
        let mut file = data_page(80, 10, 10);
        file.extend([7; 10]);
        file.extend(data_page(MAX_PAGE_BYTES, 4, 10));
        file.extend([7; 4]);
        assert_eq!(check(&file, 20), Ok(()));
    }

    #[test]
    fn a_page_over_the_bound_is_refused_naming_its_claim() {
        let mut file = data_page(80, 10, 10);
        file.extend([7; 10]);
        let second = file.len();
        file.extend(data_page(MAX_PAGE_BYTES + 1, 4, 10));
        file.extend([7; 4]);
        assert_eq!(
            check(&file, 20),
            Err(format!(
                "page 1 at offset {second}: the page header claims 134217729 bytes uncompressed, more than the 134217728 bytes (128 MiB) rehearse reads in one page"
            ))
        );
    }

    #[test]
    fn a_page_running_past_its_chunk_is_refused() {
        let mut file = data_page(80, 11, 10);
        file.extend([7; 10]);
        let err = check(&file, 20).expect_err("refused");
        assert!(
            err.ends_with("the page header claims 11 bytes, but 10 bytes of the chunk follow it"),
            "{err}"
        );
        // A header cut short by its chunk's end.
        let file = data_page(80, 0, 10);
        let err = check(&file[..file.len() - 1], 20).expect_err("refused");
        assert!(
            err.contains("runs past the end of its column chunk"),
            "{err}"
        );
    }

    #[test]
    fn a_data_page_of_more_values_than_rows_is_refused() {
        let mut file = data_page(80, 10, 21);
        file.extend([7; 10]);
        let err = check(&file, 20).expect_err("refused");
        assert!(
            err.ends_with("the data page claims 21 values in a row group of 20 rows"),
            "{err}"
        );
    }

    #[test]
    fn deep_or_oversized_thrift_is_refused_without_reading_it() {
        // A field the header does not use (id 6) holding structs nested 100 deep.
        let mut file = data_page(80, 0, 1);
        file.pop();
        file.extend([0x1c; 100]);
        let err = check(&file, 20).expect_err("refused");
        assert!(err.contains("nests deeper than 16 levels"), "{err}");
        // A binary field claiming a gigabyte.
        let mut file = data_page(80, 0, 1);
        file.pop();
        file.push(0x18);
        file.extend([0x80, 0x80, 0x80, 0x80, 0x04]);
        let err = check(&file, 20).expect_err("refused");
        assert!(
            err.contains("claims 1073741824 bytes, past the end"),
            "{err}"
        );
    }
}
