//! Bounds what a Parquet file's page headers can make the Parquet library allocate.
//! The library trusts each page header: it reserves (and for Snappy and LZ4 zeroes) the
//! uncompressed size the header claims, and sizes a dictionary by the value count it
//! claims, before any byte of the page is decoded; a 3.8 KB file claiming a huge
//! dictionary made it allocate 2.9 GB. [`check_pages`] walks the page headers of the
//! column chunks about to be read (a few bytes each: page bodies are skipped, not read,
//! but for the two codecs below) and refuses, naming the file, row group, column, page
//! and value, a page whose sizes or counts cannot be right or exceed [`MAX_PAGE_BYTES`].
//! The page header is Thrift's compact encoding; this module reads just enough of it,
//! itself, with bounded work and memory (the Parquet library keeps its own header type
//! private).
//!
//! Two codecs the library inflates to their end, whatever size the page claims: GZIP,
//! and the LZ4 frame format it falls back to for the deprecated LZ4 codec. For those
//! column chunks the page bodies are also read and inflated here, through the same
//! decoders streaming into a fixed buffer that is thrown away, and a page whose data
//! inflates past the uncompressed size its header claims is refused before the library
//! inflates it (a 1 MiB GZIP page can hold 1 GiB). Other codecs' pages stay skipped.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use parquet::basic::{Compression, Type as PhysicalType};
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
    /// Data page v2 only: the uncompressed level bytes leading its body, and whether
    /// the rest is compressed (when absent it is).
    def_levels: Option<i32>,
    rep_levels: Option<i32>,
    is_compressed: Option<bool>,
    /// The encoding of a data page's values (v1 or v2).
    encoding: Option<i32>,
}

const DATA_PAGE: i32 = 0;
const DICTIONARY_PAGE: i32 = 2;
const DATA_PAGE_V2: i32 = 3;

/// The encodings of dictionary keys: `PLAIN_DICTIONARY` (the old name) and
/// `RLE_DICTIONARY`.
const DICTIONARY_ENCODINGS: [i32; 2] = [2, 8];

/// What the page walk learnt on the way, besides that the pages are sound.
#[derive(Debug, Default)]
pub struct PageFacts {
    /// The (row group, leaf column) chunks whose every data page is dictionary-encoded.
    pub dictionary_encoded: Vec<(usize, usize)>,
}

/// Checks every page header of the column chunks of `row_groups` (all when `None`)
/// whose top-level column is one of `columns` (those the reader is about to decode):
/// each page must lie inside its chunk, claim at most [`MAX_PAGE_BYTES`] uncompressed,
/// a dictionary no more values than its bytes can hold, and a data page of a flat
/// column no more values than its row group has rows; and, when the chunk's codec is
/// one the library inflates to its end ([`Unbounded`]), each page's data must not
/// inflate past the size its header claims.
pub fn check_pages(
    path: &Path,
    meta: &ParquetMetaData,
    row_groups: Option<&[usize]>,
    columns: &[ColumnSpec],
) -> Result<PageFacts, InputError> {
    let io = |e: std::io::Error| InputError::file(path, format!("cannot read: {e}"));
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut r = BufReader::with_capacity(4 << 10, file);
    let groups = meta.row_groups();
    let all: Vec<usize> = (0..groups.len()).collect();
    let mut facts = PageFacts::default();
    for &g in row_groups.unwrap_or(&all) {
        let Some(group) = groups.get(g) else {
            continue;
        };
        for (leaf, chunk) in group.columns().iter().enumerate() {
            let root = chunk.column_path().parts().first().map(String::as_str);
            if !columns.iter().any(|c| Some(c.name) == root) {
                continue;
            }
            let dictionary = check_chunk(&mut r, len, chunk, group.num_rows()).map_err(|why| {
                InputError::file(
                    path,
                    format!(
                        "the Parquet file is corrupt: row group {g}, column `{}`: {why} (the file is damaged; write it again)",
                        chunk.column_path().string()
                    ),
                )
            })?;
            if dictionary {
                facts.dictionary_encoded.push((g, leaf));
            }
        }
    }
    Ok(facts)
}

/// Walks one column chunk's pages; the error says which page and what is wrong.
/// `true` when it has data pages and each holds dictionary keys.
fn check_chunk(
    r: &mut BufReader<File>,
    file_len: u64,
    chunk: &ColumnChunkMetaData,
    group_rows: i64,
) -> Result<bool, String> {
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
    let codec = Unbounded::of(chunk.compression());
    r.seek(SeekFrom::Start(start))
        .map_err(|e| format!("cannot read: {e}"))?;
    let mut at = start;
    let mut page = 0u64;
    let (mut data_pages, mut dictionary_keys) = (0u64, 0u64);
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
        if matches!(kind, DATA_PAGE | DATA_PAGE_V2) {
            data_pages += 1;
            if header
                .encoding
                .is_some_and(|e| DICTIONARY_ENCODINGS.contains(&e))
            {
                dictionary_keys += 1;
            }
        }
        // The bytes of a v2 data page's levels, which lead its body uncompressed.
        let mut levels = 0;
        if kind == DATA_PAGE_V2 {
            let rows = header.num_rows.unwrap_or(0);
            let nulls = header.num_nulls.unwrap_or(0);
            if rows < 0 || i64::from(rows) > group_rows.max(0) || nulls < 0 || nulls > values {
                return Err(bad(format!(
                    "the data page claims {rows} rows and {nulls} nulls of {values} values in a row group of {group_rows} rows"
                )));
            }
            let def = header.def_levels.unwrap_or(0);
            let rep = header.rep_levels.unwrap_or(0);
            levels = i64::from(def) + i64::from(rep);
            if def < 0 || rep < 0 || levels > i64::from(uncompressed.min(compressed)) {
                return Err(bad(format!(
                    "the data page claims {def} + {rep} bytes of levels in a page of {compressed} bytes ({uncompressed} uncompressed)"
                )));
            }
        }
        // What the library inflates: the page's data after any levels, unless a v2
        // header says it is stored plain, or nothing is left to inflate (it skips
        // those); it never decodes an index page (type 1).
        let inflated = i64::from(uncompressed) - levels;
        match codec {
            Some(codec)
                if matches!(kind, DATA_PAGE | DICTIONARY_PAGE | DATA_PAGE_V2)
                    && header.is_compressed.unwrap_or(true)
                    && inflated > 0 =>
            {
                r.seek_relative(levels)
                    .map_err(|e| format!("cannot read: {e}"))?;
                let data = (i64::from(compressed) - levels) as u64;
                check_inflation(r, codec, data, uncompressed, levels).map_err(bad)?;
            }
            _ => r
                .seek_relative(compressed as i64)
                .map_err(|e| format!("cannot read: {e}"))?,
        }
        at += used + compressed as u64;
        page += 1;
    }
    Ok(data_pages > 0 && dictionary_keys == data_pages)
}

/// Inflates the `data` compressed bytes of a page at `r` (its levels, `levels` bytes of
/// the `uncompressed` it claims, already passed) within the rest of the claim, and
/// leaves `r` at the page's end.
fn check_inflation(
    r: &mut BufReader<File>,
    codec: Unbounded,
    data: u64,
    uncompressed: i32,
    levels: i64,
) -> Result<(), String> {
    let inflated = i64::from(uncompressed) - levels;
    let mut body = r.take(data);
    let outcome = codec.inflate(&mut body, inflated as u64);
    let rest = body.limit();
    r.seek_relative(rest as i64)
        .map_err(|e| format!("cannot read: {e}"))?;
    let claim = if levels > 0 {
        format!("{uncompressed} bytes uncompressed ({inflated} after its {levels} bytes of levels)")
    } else {
        format!("{uncompressed} bytes uncompressed")
    };
    let name = codec.name();
    match outcome {
        Inflated::Within => Ok(()),
        Inflated::Past => Err(format!(
            "the page header claims {claim}, but its {name} data inflates past that (a decompression bomb?); rehearse stopped inflating it there"
        )),
        Inflated::Damaged(e) => Err(format!(
            "the page header claims {claim}, but its {name} data cannot be inflated: {e}"
        )),
    }
}

/// A codec whose pages the Parquet library inflates to their end, whatever size the
/// page header claims (it checks the size only afterwards); the others stop at the
/// claim (Snappy, raw LZ4, ZSTD), or are not compiled in (Brotli, refused by the
/// library before a page is read; LZO, never supported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unbounded {
    /// GZIP: every gzip member of the page, read to the end.
    Gzip,
    /// The deprecated LZ4 codec: the library first tries the Hadoop framing (bounded
    /// by the claim), and when that fails reads the page's first LZ4 frame to its end
    /// (what old parquet-rs wrote), then the page as a raw LZ4 block (bounded).
    Lz4,
}

/// What inflating a page's data, at most one byte past its claim, found.
#[derive(Debug)]
enum Inflated {
    /// It inflates to the claim or less (the library checks the exact size itself).
    Within,
    /// It inflates past the claim.
    Past,
    /// GZIP data that is not gzip, or damaged: the library fails on it too.
    Damaged(std::io::Error),
}

impl Unbounded {
    fn of(codec: Compression) -> Option<Self> {
        match codec {
            Compression::GZIP(_) => Some(Unbounded::Gzip),
            Compression::LZ4 => Some(Unbounded::Lz4),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unbounded::Gzip => "GZIP",
            Unbounded::Lz4 => "LZ4 frame",
        }
    }

    /// Inflates `data` as the library does, into a small buffer that is discarded,
    /// stopping one byte past `claim`. The decoders are the library's own (flate2's
    /// `MultiGzDecoder`, lz4_flex's `FrameDecoder`); their state is bounded (a 32 KiB
    /// window, an LZ4 block of at most 4 MiB) whatever the page.
    fn inflate(self, data: &mut impl Read, claim: u64) -> Inflated {
        let mut sink = std::io::sink();
        let inflated = match self {
            Unbounded::Gzip => std::io::copy(
                &mut flate2::read::MultiGzDecoder::new(data).take(claim + 1),
                &mut sink,
            ),
            Unbounded::Lz4 => {
                // A page that is not LZ4 frames (the Hadoop framing or a raw block,
                // which the library reads within the claim) fails at its first bytes:
                // that is not damage here.
                match std::io::copy(
                    &mut lz4_flex::frame::FrameDecoder::new(data).take(claim + 1),
                    &mut sink,
                ) {
                    Err(_) => Ok(0),
                    n => n,
                }
            }
        };
        match inflated {
            Ok(n) if n > claim => Inflated::Past,
            Ok(_) => Inflated::Within,
            Err(e) => Inflated::Damaged(e),
        }
    }
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
                5 | 7 | 8 if ty == T_STRUCT => self.sub_header(id, &mut h)?,
                _ => self.value(ty, 1)?,
            }
        }
        Ok(h)
    }

    /// A data page (`kind` 5), dictionary page (7) or data page v2 (8) header:
    /// `num_values` is field 1 of each; a data page has its `encoding` in field 2; a v2
    /// header has `num_nulls` (2), `num_rows` (3), `encoding` (4), the byte lengths of
    /// its definition (5) and repetition (6) levels, and `is_compressed` (7).
    fn sub_header(&mut self, kind: i16, h: &mut PageHeader) -> Result<(), String> {
        let v2 = kind == 8;
        let mut last = 0;
        while let Some((id, ty)) = self.field(last)? {
            last = id;
            match id {
                1 => h.num_values = self.i32(ty, "num_values")?,
                2 if kind == 5 => h.encoding = self.i32(ty, "encoding")?,
                2 if v2 => h.num_nulls = self.i32(ty, "num_nulls")?,
                4 if v2 => h.encoding = self.i32(ty, "encoding")?,
                3 if v2 => h.num_rows = self.i32(ty, "num_rows")?,
                5 if v2 => h.def_levels = self.i32(ty, "definition_levels_byte_length")?,
                6 if v2 => h.rep_levels = self.i32(ty, "repetition_levels_byte_length")?,
                // A boolean field's value is its type code.
                7 if v2 && matches!(ty, T_TRUE | T_FALSE) => h.is_compressed = Some(ty == T_TRUE),
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

    /// A data page v2 header (Thrift compact) of a flat INT64 column: `levels` bytes of
    /// definition levels lead its body, and the rest is compressed when `compressed_data`.
    fn data_page_v2(
        uncompressed: i64,
        compressed: i64,
        values: i64,
        levels: i64,
        compressed_data: bool,
    ) -> Vec<u8> {
        let mut h = vec![0x15];
        h.extend(zigzag(3));
        h.push(0x15);
        h.extend(zigzag(uncompressed));
        h.push(0x15);
        h.extend(zigzag(compressed));
        // Field 8 (delta 5), a struct: num_values, num_nulls, num_rows, encoding, the
        // definition and repetition levels' byte lengths, then is_compressed.
        h.push(0x5c);
        for v in [values, 0, values, 0, levels, 0] {
            h.push(0x15);
            h.extend(zigzag(v));
        }
        h.push(if compressed_data { 0x11 } else { 0x12 });
        h.extend([0, 0]);
        h
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).expect("compresses");
        e.finish().expect("compresses")
    }

    fn lz4_frame(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
        e.write_all(bytes).expect("compresses");
        e.finish().expect("compresses")
    }

    /// One data page of `data` compressed to `body`, claiming `claim` bytes.
    fn page(claim: usize, body: &[u8]) -> Vec<u8> {
        let mut file = data_page(claim as i64, body.len() as i64, 10);
        file.extend(body);
        file
    }

    /// Checks `bytes` as one column chunk of `rows` rows taking the whole file.
    fn check(bytes: &[u8], rows: i64) -> Result<(), String> {
        check_codec(bytes, rows, Compression::UNCOMPRESSED)
    }

    /// Checks `bytes` as one column chunk of `rows` rows compressed with `codec`.
    fn check_codec(bytes: &[u8], rows: i64, codec: Compression) -> Result<(), String> {
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
            .set_compression(codec)
            .build()
            .expect("chunk metadata");
        let mut r = BufReader::new(File::open(&path).expect("opens"));
        check_chunk(&mut r, bytes.len() as u64, &chunk, rows).map(|_| ())
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

    #[test]
    fn gzip_pages_inflating_to_their_claim_pass_and_one_byte_more_is_refused() {
        let gz = Compression::GZIP(Default::default());
        let data = vec![b'7'; 5000];
        let mut file = page(5000, &gzip(&data));
        // A second page of two gzip members, as the library reads them.
        let mut members = gzip(&data[..3000]);
        members.extend(gzip(&data[3000..]));
        file.extend(page(5000, &members));
        assert_eq!(check_codec(&file, 20, gz), Ok(()));

        let mut file = page(5000, &gzip(&data));
        let second = file.len();
        file.extend(page(4999, &members));
        assert_eq!(
            check_codec(&file, 20, gz),
            Err(format!(
                "page 1 at offset {second}: the page header claims 4999 bytes uncompressed, but its GZIP data inflates past that (a decompression bomb?); rehearse stopped inflating it there"
            ))
        );
    }

    #[test]
    fn a_gigabyte_gzip_page_claiming_a_kilobyte_is_refused_at_the_kilobyte() {
        // 1 GiB of zeros in about 1 MiB: 256 gzip members of 4 MiB each.
        let member = gzip(&vec![0; 4 << 20]);
        let bomb: Vec<u8> = (0..256).flat_map(|_| member.iter().copied()).collect();
        assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
        let file = page(1024, &bomb);
        let err =
            check_codec(&file, 20, Compression::GZIP(Default::default())).expect_err("refused");
        assert!(
            err.starts_with("page 0 at offset 0: the page header claims 1024 bytes uncompressed, but its GZIP data inflates past that"),
            "{err}"
        );
    }

    #[test]
    fn damaged_gzip_is_refused_naming_the_page() {
        let mut body = gzip(&[b'7'; 5000]);
        body[12] ^= 0xff;
        body.truncate(body.len() - 4);
        let err = check_codec(
            &page(5000, &body),
            20,
            Compression::GZIP(Default::default()),
        )
        .expect_err("refused");
        assert!(
            err.starts_with("page 0 at offset 0: the page header claims 5000 bytes uncompressed, but its GZIP data cannot be inflated: "),
            "{err}"
        );
    }

    #[test]
    fn lz4_frames_past_their_claim_are_refused_and_other_lz4_is_left_to_the_library() {
        let data = vec![b'7'; 70_000];
        // Within the claim.
        let file = page(70_000, &lz4_frame(&data));
        assert_eq!(check_codec(&file, 20, Compression::LZ4), Ok(()));
        // Past it.
        let err = check_codec(&page(69_999, &lz4_frame(&data)), 20, Compression::LZ4)
            .expect_err("refused");
        assert_eq!(
            err,
            "page 0 at offset 0: the page header claims 69999 bytes uncompressed, but its LZ4 frame data inflates past that (a decompression bomb?); rehearse stopped inflating it there"
        );
        // The library reads the first frame only (its read loop ends at the frame's end
        // mark, where the decoder's `read` returns 0), and so does the check: a second
        // frame past the claim is not inflated by either.
        let mut frames = lz4_frame(&data[..30_000]);
        frames.extend(lz4_frame(&data[30_000..]));
        assert_eq!(
            check_codec(&page(30_000, &frames), 20, Compression::LZ4),
            Ok(())
        );
        // The Hadoop framing (what parquet-rs and parquet-cpp write) and a raw block are
        // not frames: the library reads them within the claim, so they pass, as does
        // anything else the frame decoder refuses.
        let block = lz4_flex::block::compress(&data);
        let mut hadoop = (data.len() as u32).to_be_bytes().to_vec();
        hadoop.extend((block.len() as u32).to_be_bytes());
        hadoop.extend(&block);
        let mut file = page(10, &hadoop);
        file.extend(page(10, &block));
        file.extend(page(10, &[0x04, 0x22, 0x4d, 0x18, 0xff]));
        assert_eq!(check_codec(&file, 20, Compression::LZ4), Ok(()));
    }

    #[test]
    fn v2_pages_inflate_after_their_levels_and_only_when_compressed() {
        let gz = Compression::GZIP(Default::default());
        let data = gzip(&[b'7'; 1000]);
        let body = |levels: usize| {
            let mut b = vec![0u8; levels];
            b.extend(&data);
            b
        };
        // 24 bytes of levels then 1000 inflated: a claim of 1024 holds it, 1023 not.
        let mut file = data_page_v2(1024, 24 + data.len() as i64, 10, 24, true);
        file.extend(body(24));
        assert_eq!(check_codec(&file, 20, gz), Ok(()));
        let mut file = data_page_v2(1023, 24 + data.len() as i64, 10, 24, true);
        file.extend(body(24));
        let err = check_codec(&file, 20, gz).expect_err("refused");
        assert!(
            err.contains("claims 1023 bytes uncompressed (999 after its 24 bytes of levels), but its GZIP data inflates past that"),
            "{err}"
        );
        // Stored plain (`is_compressed` false): the library does not inflate it.
        let mut file = data_page_v2(1023, 24 + data.len() as i64, 10, 24, false);
        file.extend(body(24));
        assert_eq!(check_codec(&file, 20, gz), Ok(()));
        // Levels longer than the page.
        let mut file = data_page_v2(20, 24 + data.len() as i64, 10, 24, true);
        file.extend(body(24));
        let err = check_codec(&file, 20, gz).expect_err("refused");
        assert!(
            err.ends_with(&format!(
                "the data page claims 24 + 0 bytes of levels in a page of {} bytes (20 uncompressed)",
                24 + data.len()
            )),
            "{err}"
        );
    }

    #[test]
    fn pages_of_codecs_bounded_by_the_library_are_not_read() {
        // A body that is no codec's data, claiming less than its own size: skipped for
        // every codec but GZIP (refused as damaged here) and LZ4 (not a frame).
        let file = page(4, &[7; 100]);
        for codec in [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::LZ4_RAW,
            Compression::ZSTD(Default::default()),
            Compression::LZ4,
        ] {
            assert_eq!(check_codec(&file, 20, codec), Ok(()), "{codec:?}");
        }
        let err =
            check_codec(&file, 20, Compression::GZIP(Default::default())).expect_err("refused");
        assert!(err.contains("its GZIP data cannot be inflated"), "{err}");
    }

    /// The walk tells the chunks whose data pages all hold dictionary keys, in data
    /// page v1 and v2 files: a column written without a dictionary, or one whose
    /// dictionary overflowed into plain pages, is not among them.
    #[test]
    fn the_walk_finds_the_chunks_of_dictionary_keys_only() {
        use arrow_array::{ArrayRef, RecordBatch, StringArray};
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::{WriterProperties, WriterVersion};
        use parquet::file::reader::FileReader;
        let rows = 5_000;
        let few: Vec<String> = (0..rows).map(|i| format!("v{}", i % 7)).collect();
        let many: Vec<String> = (0..rows).map(|i| format!("unique-value-{i:08}")).collect();
        let text = |v: &Vec<String>| Arc::new(StringArray::from(v.clone())) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            ("dict", text(&few)),
            ("plain", text(&few)),
            ("overflow", text(&many)),
        ])
        .unwrap();
        for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
            let props = WriterProperties::builder()
                .set_writer_version(version)
                .set_max_row_group_row_count(Some(2_500))
                .set_data_page_row_count_limit(500)
                .set_write_batch_size(500)
                .set_dictionary_page_size_limit(1_024)
                .set_column_dictionary_enabled(ColumnPath::from("plain"), false)
                .build();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.parquet");
            let mut w =
                ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props))
                    .unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let reader =
                parquet::file::reader::SerializedFileReader::new(File::open(&path).unwrap())
                    .unwrap();
            let columns = [
                ColumnSpec::required("dict"),
                ColumnSpec::required("plain"),
                ColumnSpec::required("overflow"),
            ];
            let facts = check_pages(&path, reader.metadata(), None, &columns).unwrap();
            assert_eq!(facts.dictionary_encoded, [(0, 0), (1, 0)], "{version:?}");
        }
    }
}
