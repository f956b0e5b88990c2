//! The columnar fast path for a `funnel` stream in Parquet: decodes the file column by
//! column instead of cell by cell, with the same result as the row-exact reader
//! ([`super::data`]) to the symbol: every row the fast path accepts is one
//! `decode_funnel` would accept with the same values, every other row goes through
//! `decode_funnel` itself (so errors and skips are the row-exact reader's), and strings
//! are interned in the row-exact reader's order.
//!
//! What makes it fast: the low-cardinality string columns (event, cohort, platform, UTM
//! fields, currency, user agent, URL, provider, source) are read as Arrow dictionaries,
//! so each distinct value of a column chunk is interned or parsed once, and a row costs
//! an array lookup per column; the file's row groups are split into one contiguous
//! share per thread, each share decoded and interned into its own symbol table (the
//! first share's table starts as a copy of the caller's), and the shares are merged in
//! file order: each later share's new strings are interned in its own first-appearance
//! order, which is the order a single sequential pass would have met them, so symbols
//! are the same whatever the thread count. User and anonymous ids are only logged
//! here, each share into its own log; the logs are joined in file order and interned
//! when the builder is finished ([`super::symbols::IdLog`]), as for the row-exact
//! reader.
//!
//! A file the fast path does not take (a column of another type than the writers'
//! usual ones, a missing required column, an unreadable footer, a batch that fails to
//! decode) is left to the row-exact reader, which then reports the problem; nothing of
//! the fast path's work is kept in that case.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType, TimestampMillisecondType};
use arrow_array::types::{TimestampNanosecondType, TimestampSecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, LargeStringArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use super::data::{
    COHORT_BASELINE, COHORT_CANARY, COHORT_NONE, Decoded, FLAG_REVENUE, FLAG_TEST_MODE,
    FUNNEL_COLUMNS, FunnelBuilder, FunnelEvent, FunnelEvents, SOURCE_NONE, SOURCE_REAL,
    SOURCE_SYNTHETIC, decimal, decode_funnel,
};
use super::money::iso4217_exponent;
use super::symbols::{NONE, Symbols, fingerprint};
use crate::input::{Cohort, Millis, ReadStats, Source};
use crate::source::arrowfile::{ArrowTable, row_group_batches};
use crate::source::parquet_guard::PageFacts;
use crate::source::{Cell, InputError, OnError, RowLoc, RowProblem, handle_row};

/// Rows per decoded batch (as the row-exact reader).
const BATCH_ROWS: usize = 8192;

/// Column indices of [`FUNNEL_COLUMNS`].
const TS: usize = 0;
const EVENT: usize = 1;
const USER: usize = 2;
const ANON: usize = 3;
const COHORT: usize = 4;
const PLATFORM: usize = 5;
const UTM_SOURCE: usize = 6;
const UTM_MEDIUM: usize = 7;
const REVENUE: usize = 9;
const CURRENCY: usize = 10;
const TEST_MODE: usize = 12;
const USER_AGENT: usize = 13;
const PAGE_URL: usize = 14;
const PROVIDER: usize = 15;
const MESSAGE: usize = 16;
const SOURCE: usize = 17;

/// String columns read as dictionaries: few distinct values per column chunk. Ids and
/// message ids are nearly all distinct and are read as plain text.
const DICTIONARY_COLUMNS: [usize; 11] = [
    EVENT, COHORT, PLATFORM, UTM_SOURCE, UTM_MEDIUM, 8, CURRENCY, USER_AGENT, PAGE_URL, PROVIDER,
    SOURCE,
];

/// Whether the fast path reads a column of this type (the types Parquet writers give
/// these columns); any other type leaves the file to the row-exact reader.
fn fast_type(column: usize, dt: &DataType) -> bool {
    match column {
        TS => matches!(dt, DataType::Timestamp(_, _)),
        REVENUE => *dt == DataType::Float64,
        TEST_MODE => *dt == DataType::Boolean,
        _ => matches!(dt, DataType::Utf8 | DataType::LargeUtf8),
    }
}

/// The file the fast path reads, and how.
#[derive(Clone, Copy)]
struct FastFile<'a> {
    path: &'a Path,
    /// The file's schema with the dictionary hints.
    schema: &'a Arc<Schema>,
    /// Which of [`FUNNEL_COLUMNS`] the file has.
    present: &'a [bool],
    on_error: OnError,
}

/// What one share of the file decoded, with its own symbol tables.
struct Share {
    symbols: Symbols,
    builder: FunnelBuilder,
    stats: ReadStats,
    /// A row error under `--on-error fail`: the share stopped there.
    failed: Option<InputError>,
}

/// Reads a Parquet `funnel` file column by column into `b`, interning into `symbols`
/// (the ids are logged in `b`, interned when it is finished); `Ok(None)` when the fast path does not take the file (then nothing was
/// changed and the caller reads it row by row).
pub(crate) fn read_funnel_parquet(
    path: &Path,
    on_error: OnError,
    symbols: &mut Symbols,
    b: &mut FunnelBuilder,
) -> Result<Option<ReadStats>, InputError> {
    let Some((schema, present)) = fast_schema(path) else {
        return Ok(None);
    };
    let threads = rayon::current_num_threads().max(1);
    let Ok(parts) = ArrowTable::parquet_parts(path, threads) else {
        return Ok(None);
    };
    let file = FastFile {
        path,
        schema: &schema,
        present: &present,
        on_error,
    };
    let shares: Vec<Option<Share>> = {
        use rayon::prelude::*;
        let start = &*symbols;
        parts
            .into_par_iter()
            .enumerate()
            .map(|(k, part)| {
                // The first share starts from the caller's tables (its symbols are then
                // final); later ones from the same, and are renumbered when merged.
                read_share(&file, part, k == 0, start.clone())
            })
            .collect()
    };
    let mut stats = ReadStats {
        present: present.clone(),
        ..Default::default()
    };
    let mut first = true;
    for share in shares {
        let Some(share) = share else {
            // A batch did not decode: the row-exact reader says where.
            return Ok(None);
        };
        stats.rows += share.stats.rows;
        stats.skipped += share.stats.skipped;
        if stats.first_skip.is_none() {
            stats.first_skip = share.stats.first_skip;
        }
        if let Some(e) = share.failed {
            return Err(e);
        }
        if first {
            *symbols = share.symbols;
            *b = share.builder;
            first = false;
        } else {
            let sym_map = symbols.intern_all_from(&share.symbols);
            b.append(share.builder, &sym_map);
        }
    }
    Ok(Some(stats))
}

/// Whether the fast path reads this Parquet `funnel` file (its columns are of the types
/// it reads and the required ones are there); reading may still leave it to the
/// row-exact reader if a batch fails to decode.
pub fn reads_columnar(path: &Path) -> bool {
    fast_schema(path).is_some()
}

/// The file's schema with the dictionary hints, and which columns it has, when every
/// funnel column it has is of a type the fast path reads and the required ones are
/// there.
fn fast_schema(path: &Path) -> Option<(Arc<Schema>, Vec<bool>)> {
    let file = File::open(path).ok()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
    let schema = builder.schema();
    let mut present = vec![false; FUNNEL_COLUMNS.len()];
    for (i, c) in FUNNEL_COLUMNS.iter().enumerate() {
        if let Some(f) = schema.fields().iter().find(|f| f.name() == c.name) {
            if !fast_type(i, f.data_type()) {
                return None;
            }
            present[i] = true;
        }
    }
    if !present[TS] || !present[EVENT] || (!present[USER] && !present[ANON]) {
        return None;
    }
    // Any string type: polars records its strings as `LargeUtf8` (or `Utf8View`) in
    // the schema it stores; the column is dictionary-encoded in the file all the same,
    // and read as a dictionary gives the same values.
    let hinted = with_dictionaries(schema, &DICTIONARY_COLUMNS);
    Some((hinted, present))
}

/// Decodes one share (`first`: the file's first); `None` when a batch fails to decode (or the reader panics).
fn read_share(
    file: &FastFile,
    part: crate::source::arrowfile::Part,
    first: bool,
    symbols: Symbols,
) -> Option<Share> {
    let FastFile {
        path,
        schema,
        present,
        on_error,
    } = *file;
    let file = File::open(path).ok()?;
    let meta =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new().with_schema(schema.clone()))
            .ok()?;
    let wanted: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| FUNNEL_COLUMNS.iter().any(|c| c.name == f.name()))
        .map(|(i, _)| i)
        .collect();
    let rows_of = |groups: &mut dyn Iterator<Item = usize>| -> usize {
        let rows: u64 = groups
            .filter_map(|g| meta.metadata().row_groups().get(g))
            .map(|g| g.num_rows().max(0) as u64)
            .sum();
        rows.min(1 << 31) as usize
    };
    let own_rows = rows_of(&mut part.row_groups.iter().copied());
    // The first share's builder becomes the file's: room for every row.
    let rows = if first {
        rows_of(&mut (0..meta.metadata().num_row_groups()))
    } else {
        own_rows
    };
    // The page checks every Parquet reader runs before the library decodes a page: a
    // share they refuse goes to the row-exact reader, which runs them again and names
    // the page.
    let facts = crate::source::parquet_guard::check_pages(
        path,
        meta.metadata(),
        Some(&part.row_groups),
        &FUNNEL_COLUMNS,
    )
    .ok()?;
    // The ids read as dictionaries where every data page of theirs is
    // dictionary-encoded (the reader then gives the keys and the dictionary, instead of
    // copying each row's text out of it); elsewhere as the strings they are.
    let ids_hinted = ArrowReaderMetadata::try_new(
        meta.metadata().clone(),
        ArrowReaderOptions::new().with_schema(with_dictionaries(schema, &[USER, ANON])),
    )
    .ok();
    let groups = part
        .row_groups
        .iter()
        .map(|&g| {
            let reader_meta = match &ids_hinted {
                Some(m) if ids_all_dictionary(&meta, g, &facts) => m.clone(),
                _ => meta.clone(),
            };
            (g, reader_meta, group_mask(&meta, &wanted, g))
        })
        .collect();
    let mut share = Share {
        symbols,
        builder: FunnelBuilder::new(),
        stats: ReadStats {
            present: present.to_vec(),
            ..Default::default()
        },
        failed: None,
    };
    share.builder.reserve(rows);
    share.builder.expect_rows(own_rows);
    let mut caches: [DictCache; FUNNEL_COLUMNS.len()] = std::array::from_fn(|_| DictCache::new());
    let mut row_no = part.first_row;
    // One reader per row group (the caches below then last a whole column chunk).
    let mut batches = row_group_batches(file, BATCH_ROWS, groups);
    loop {
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| batches.next()));
        let batch = match next {
            Ok(None) => break,
            Ok(Some(Ok(batch))) => batch,
            Ok(Some(Err(_))) | Err(_) => return None,
        };
        let cols = BatchCols::of(&batch)?;
        if let Err(e) = decode_batch(&cols, &mut caches, path, on_error, &mut row_no, &mut share) {
            share.failed = Some(e);
            break;
        }
    }
    Some(share)
}

/// Whether `f` is one of `columns` (indices of [`FUNNEL_COLUMNS`]).
fn is_one_of(f: &Field, columns: &[usize]) -> bool {
    columns.iter().any(|&c| FUNNEL_COLUMNS[c].name == f.name())
}

/// The leaf column of top-level field `root`, when it is a flat column (one leaf).
fn leaf_of(meta: &ArrowReaderMetadata, root: usize) -> Option<usize> {
    let descr = meta.parquet_schema();
    let mut leaves = (0..descr.num_columns()).filter(|&l| descr.get_column_root_idx(l) == root);
    match (leaves.next(), leaves.next()) {
        (Some(leaf), None) => Some(leaf),
        _ => None,
    }
}

/// Whether `dt` is one of Arrow's string types.
fn string_type(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// `schema` with the string columns among `columns` (indices of [`FUNNEL_COLUMNS`])
/// read as dictionaries.
fn with_dictionaries(schema: &Schema, columns: &[usize]) -> Arc<Schema> {
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|f| {
            if is_one_of(f, columns) && string_type(f.data_type()) {
                Arc::new(f.as_ref().clone().with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                )))
            } else {
                f.clone()
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Whether every data page of row group `g`'s id columns is dictionary-encoded, as
/// the page walk found. A page that is not would make the reader hash every value of
/// the batch back into a dictionary (slower, with the same values).
fn ids_all_dictionary(meta: &ArrowReaderMetadata, g: usize, facts: &PageFacts) -> bool {
    let descr = meta.parquet_schema();
    (0..descr.num_columns())
        .filter(|&l| {
            let root = descr.get_column_root_idx(l);
            meta.schema()
                .fields()
                .get(root)
                .is_some_and(|f| is_one_of(f, &[USER, ANON]))
        })
        .all(|l| facts.dictionary_encoded.contains(&(g, l)))
}

/// The columns of `wanted` (indices of the file's fields) that row group `g` is read
/// with: all but the optional ones its statistics say hold only nulls there. Such a
/// column reads as missing, which decodes as a null in every row does; and the
/// Parquet reader gives an all-null chunk of a dictionary column (whose dictionary is
/// empty) as plain values that it hashes, value by value, back into a dictionary.
fn group_mask(meta: &ArrowReaderMetadata, wanted: &[usize], g: usize) -> ProjectionMask {
    let fields = meta.schema().fields();
    let group = meta.metadata().row_group(g);
    let rows = group.num_rows();
    let all_null = |root: usize| {
        let required = fields.get(root).is_some_and(|f| is_one_of(f, &[TS, EVENT]));
        let Some(leaf) = leaf_of(meta, root) else {
            return false;
        };
        !required
            && rows > 0
            && group
                .column(leaf)
                .statistics()
                .and_then(|s| s.null_count_opt())
                .is_some_and(|n| n == rows as u64)
    };
    let read: Vec<usize> = wanted.iter().copied().filter(|&i| !all_null(i)).collect();
    ProjectionMask::roots(meta.parquet_schema(), read)
}

/// A string column of one batch.
enum Str {
    Missing,
    Plain(StringArray),
    /// `LargeUtf8` as written (polars): read in place, not cast to `Utf8` first.
    LargePlain(LargeStringArray),
    Dict {
        keys: arrow_array::PrimitiveArray<Int32Type>,
        values: StringArray,
    },
}

impl Str {
    fn of(a: Option<&ArrayRef>) -> Option<Self> {
        let Some(a) = a else {
            return Some(Str::Missing);
        };
        Some(match a.data_type() {
            DataType::Utf8 => Str::Plain(a.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Str::LargePlain(a.as_string::<i64>().clone()),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = a.as_dictionary::<Int32Type>();
                Str::Dict {
                    keys: d.keys().clone(),
                    values: d.values().as_string::<i32>().clone(),
                }
            }
            _ => return None,
        })
    }

    /// Row `i`'s text; `None` when null or empty (absent, as in the row-exact cells).
    #[inline]
    fn text(&self, i: usize) -> Option<&str> {
        let s = match self {
            Str::Missing => return None,
            Str::Plain(a) => {
                if a.is_null(i) {
                    return None;
                }
                a.value(i)
            }
            Str::LargePlain(a) => {
                if a.is_null(i) {
                    return None;
                }
                a.value(i)
            }
            Str::Dict { keys, values } => {
                if keys.is_null(i) {
                    return None;
                }
                let k = keys.value(i) as usize;
                if values.is_null(k) {
                    return None;
                }
                values.value(k)
            }
        };
        (!s.is_empty()).then_some(s)
    }

    /// Row `i`'s dictionary key, when the column is a dictionary and the key is set.
    #[inline]
    fn key(&self, i: usize) -> Option<usize> {
        match self {
            Str::Dict { keys, .. } if !keys.is_null(i) => Some(keys.value(i) as usize),
            _ => None,
        }
    }

    fn cell(&self, i: usize) -> Cell<'_> {
        match self.text(i) {
            Some(s) => Cell::Str(Cow::Borrowed(s)),
            None => Cell::Null,
        }
    }
}

/// Not yet looked at (a value no symbol or code takes).
const UNSET: u32 = u32::MAX - 1;

/// Per dictionary value of a column: its symbol or code, filled as rows meet it. It
/// holds the dictionary it describes, so the next batch of the same column chunk
/// (which shares the dictionary) reuses it.
struct DictCache {
    dictionary: Option<StringArray>,
    codes: Vec<u32>,
    /// How many of `codes` are still [`UNSET`].
    unset: usize,
}

impl DictCache {
    fn new() -> Self {
        Self {
            dictionary: None,
            codes: Vec::new(),
            unset: 0,
        }
    }

    /// Readies the cache for `col` (cleared when its dictionary is another one).
    fn prepare(&mut self, col: &Str) {
        let Str::Dict { values, .. } = col else {
            return;
        };
        let same = self.dictionary.as_ref().is_some_and(|d| {
            d.len() == values.len()
                && d.values().as_ptr() == values.values().as_ptr()
                && d.offsets().inner().inner().as_ptr() == values.offsets().inner().inner().as_ptr()
        });
        if !same {
            self.dictionary = Some(values.clone());
            self.codes.clear();
            self.codes.resize(values.len(), UNSET);
            self.unset = values.len();
        }
    }

    /// The symbol of row `i` of `col` ([`NONE`] when absent), interned on first sight.
    #[inline]
    fn symbol(&mut self, col: &Str, i: usize, symbols: &mut Symbols) -> u32 {
        if let Some(k) = col.key(i) {
            let c = self.codes[k];
            if c != UNSET {
                return c;
            }
            let s = col.text(i).map_or(NONE, |t| symbols.intern(t));
            self.codes[k] = s;
            self.unset -= 1;
            return s;
        }
        col.text(i).map_or(NONE, |t| symbols.intern(t))
    }

    /// The code of row `i` of `col` by `parse` (cached per dictionary value): `NONE`
    /// when absent, `UNSET` when `parse` rejects the value.
    #[inline]
    fn code(&mut self, col: &Str, i: usize, parse: impl Fn(&str) -> Option<u8>) -> u32 {
        let of = |t: Option<&str>| match t {
            None => NONE,
            Some(t) => parse(t).map_or(UNSET - 1, u32::from),
        };
        let v = if let Some(k) = col.key(i) {
            let c = self.codes[k];
            if c != UNSET {
                c
            } else {
                let c = of(col.text(i));
                self.codes[k] = c;
                self.unset -= 1;
                c
            }
        } else {
            of(col.text(i))
        };
        if v == UNSET - 1 { UNSET } else { v }
    }
}

/// The funnel columns of one batch.
struct BatchCols {
    ts: Option<Vec<Option<Millis>>>,
    strs: Vec<Str>,
    revenue: Option<Float64Array>,
    test_mode: Option<BooleanArray>,
    rows: usize,
}

impl BatchCols {
    fn of(batch: &RecordBatch) -> Option<Self> {
        let col = |i: usize| batch.column_by_name(FUNNEL_COLUMNS[i].name);
        let ts = match col(TS) {
            None => None,
            Some(a) => Some(timestamps(a)?),
        };
        let mut strs = Vec::with_capacity(FUNNEL_COLUMNS.len());
        for i in 0..FUNNEL_COLUMNS.len() {
            strs.push(match i {
                TS | REVENUE | TEST_MODE => Str::Missing,
                _ => Str::of(col(i))?,
            });
        }
        let revenue = match col(REVENUE) {
            None => None,
            Some(a) => Some(
                a.as_primitive_opt::<arrow_array::types::Float64Type>()?
                    .clone(),
            ),
        };
        let test_mode = match col(TEST_MODE) {
            None => None,
            Some(a) => Some(a.as_boolean_opt()?.clone()),
        };
        Some(Self {
            ts,
            strs,
            revenue,
            test_mode,
            rows: batch.num_rows(),
        })
    }

    /// Row `i` as the row-exact reader's cells.
    fn cells(&self, i: usize) -> [Cell<'_>; 18] {
        std::array::from_fn(|c| match c {
            TS => match self.ts.as_ref().and_then(|t| t[i]) {
                Some(v) => Cell::Ts(v),
                None => Cell::Null,
            },
            REVENUE => match &self.revenue {
                Some(a) if !a.is_null(i) => Cell::Float(a.value(i)),
                _ => Cell::Null,
            },
            TEST_MODE => match &self.test_mode {
                Some(a) if !a.is_null(i) => Cell::Bool(a.value(i)),
                _ => Cell::Null,
            },
            _ => self.strs[c].cell(i),
        })
    }
}

/// A timestamp column in epoch milliseconds, converted as the row-exact reader does.
fn timestamps(a: &ArrayRef) -> Option<Vec<Option<Millis>>> {
    fn conv<T: arrow_array::types::ArrowPrimitiveType<Native = i64>>(
        a: &ArrayRef,
        f: impl Fn(i64) -> i64,
    ) -> Option<Vec<Option<Millis>>> {
        let p = a.as_primitive_opt::<T>()?;
        Some(p.iter().map(|v| v.map(&f)).collect())
    }
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            conv::<TimestampSecondType>(a, |v| v.saturating_mul(1000))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => conv::<TimestampMillisecondType>(a, |v| v),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            conv::<TimestampMicrosecondType>(a, |v| v.div_euclid(1000))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            conv::<TimestampNanosecondType>(a, |v| v.div_euclid(1_000_000))
        }
        _ => None,
    }
}

fn parse_cohort(s: &str) -> Option<u8> {
    Cohort::parse(s).map(|c| match c {
        Cohort::Canary => COHORT_CANARY,
        Cohort::Baseline => COHORT_BASELINE,
    })
}

fn parse_source(s: &str) -> Option<u8> {
    Source::parse(s).map(|c| match c {
        Source::Real => SOURCE_REAL,
        Source::Synthetic => SOURCE_SYNTHETIC,
    })
}

/// Decodes the rows of one batch in order: a row the fast checks accept is built from
/// the cached per-value symbols and codes, any other goes through `decode_funnel` on its
/// cells (the row-exact reader's errors and skips). An error only under `fail`.
fn decode_batch(
    cols: &BatchCols,
    caches: &mut [DictCache; 18],
    path: &Path,
    on_error: OnError,
    row_no: &mut u64,
    share: &mut Share,
) -> Result<(), InputError> {
    for (c, cache) in caches.iter_mut().enumerate() {
        cache.prepare(&cols.strs[c]);
    }
    let Share {
        symbols,
        builder,
        stats,
        ..
    } = share;
    let first = builder.columns().len();
    if settle_new_values(cols, caches, symbols)
        && decode_columns(cols, caches, symbols, builder.columns())
    {
        let s = &cols.strs;
        builder.log_rows(first, |i| {
            (
                s[USER].text(i),
                s[ANON].text(i),
                s[MESSAGE].text(i).map(fingerprint),
            )
        });
        *row_no += cols.rows as u64;
        stats.rows += cols.rows as u64;
        return Ok(());
    }
    let s = &cols.strs;
    for i in 0..cols.rows {
        *row_no += 1;
        let fast = fast_row(cols, caches, symbols, i);
        let result = match fast {
            Some(event) => {
                builder.add(&Decoded {
                    event,
                    user: s[USER].text(i).map(Cow::Borrowed),
                    anon: s[ANON].text(i).map(Cow::Borrowed),
                });
                Ok(())
            }
            None => {
                let cells = cols.cells(i);
                match decode_funnel(&cells, symbols) {
                    Ok(d) => {
                        builder.add(&d);
                        Ok(())
                    }
                    Err((c, p)) => Err(RowProblem::new(FUNNEL_COLUMNS[c].name, p)),
                }
            }
        };
        handle_row(result, path, RowLoc::Row(*row_no), on_error, stats)?;
    }
    Ok(())
}

/// The dictionary columns [`fast_row`] reads, whose values [`settle_new_values`] settles.
const SETTLED: [usize; 10] = [
    EVENT, CURRENCY, PLATFORM, UTM_SOURCE, UTM_MEDIUM, USER_AGENT, PAGE_URL, PROVIDER, COHORT,
    SOURCE,
];

/// Interns the dictionary values this batch meets for the first time, as the row loop
/// would: in row order, each row through [`fast_row`] (its event is dropped), so that
/// the symbols are numbered as if the row loop had run and [`decode_columns`] can take
/// the batch. Only the rows that meet a value with no code yet are looked at. `false`
/// when a string column is not a dictionary or such a row fails the fast checks: the
/// row loop then takes the batch from its start, and interns again only what it would
/// have interned anyway (a symbol keeps its number).
fn settle_new_values(
    cols: &BatchCols,
    caches: &mut [DictCache; 18],
    symbols: &mut Symbols,
) -> bool {
    let s = &cols.strs;
    if SETTLED
        .iter()
        .any(|&c| !matches!(s[c], Str::Dict { .. } | Str::Missing))
    {
        return false;
    }
    let mut open = [0usize; SETTLED.len()];
    let mut n = 0;
    for c in SETTLED {
        if caches[c].unset > 0 && matches!(s[c], Str::Dict { .. }) {
            open[n] = c;
            n += 1;
        }
    }
    let unset = |caches: &[DictCache; 18], c: usize, i: usize| {
        s[c].key(i)
            .is_some_and(|k| caches[c].codes.get(k).is_some_and(|&v| v == UNSET))
    };
    let mut i = 0;
    while n > 0 && i < cols.rows {
        if open[..n].iter().any(|&c| unset(caches, c, i)) {
            if fast_row(cols, caches, symbols, i).is_none() {
                return false;
            }
            // Columns whose every value now has a code need no more looking at.
            let mut k = 0;
            while k < n {
                if caches[open[k]].unset == 0 {
                    open[k] = open[n - 1];
                    n -= 1;
                } else {
                    k += 1;
                }
            }
        }
        i += 1;
    }
    true
}

/// The symbols (or codes) of a dictionary column's rows appended to `out`, from the codes its
/// cache holds ([`NONE`] for a null or absent value); `false` when the column is not a
/// dictionary or a row's value has no code yet (the row loop would intern it).
fn map_codes(col: &Str, cache: &DictCache, rows: usize, out: &mut Vec<u32>) -> bool {
    let first = out.len();
    match col {
        Str::Missing => {
            out.resize(first + rows, NONE);
            true
        }
        Str::Dict { keys, .. } => {
            let codes = &cache.codes;
            let code = |k: i32| codes.get(k as usize).copied().unwrap_or(UNSET);
            match keys.nulls().filter(|n| n.null_count() > 0) {
                None => out.extend(keys.values().iter().map(|&k| code(k))),
                Some(nulls) => out.extend(
                    keys.values()
                        .iter()
                        .zip(nulls.iter())
                        .map(|(&k, valid)| if valid { code(k) } else { NONE }),
                ),
            }
            !out[first..].contains(&UNSET)
        }
        Str::Plain(_) | Str::LargePlain(_) => false,
    }
}

/// Appends the whole batch to `out` column by column when every row passes the fast
/// checks and every dictionary value its rows use was met before, so that no symbol
/// is interned (the row loop would give the same rows and symbols); `false` leaves the
/// batch to the row loop, with `out` and `symbols` as they were.
fn decode_columns(
    cols: &BatchCols,
    caches: &[DictCache; 18],
    symbols: &Symbols,
    out: &mut FunnelEvents,
) -> bool {
    let before = out.len();
    let done = append_columns(cols, caches, symbols, out);
    if !done {
        out.truncate(before);
    }
    done
}

/// [`decode_columns`], which takes the rows back when this is `false`.
fn append_columns(
    cols: &BatchCols,
    caches: &[DictCache; 18],
    symbols: &Symbols,
    out: &mut FunnelEvents,
) -> bool {
    let rows = cols.rows;
    let first = out.len();
    let s = &cols.strs;
    let Some(ts) = &cols.ts else {
        return false;
    };
    if ts.iter().any(Option::is_none) {
        return false;
    }
    out.ts.extend(ts.iter().map(|t| t.unwrap_or_default()));
    let symbol_columns: [(usize, &mut Vec<u32>); 8] = [
        (EVENT, &mut out.event),
        (PLATFORM, &mut out.platform),
        (UTM_SOURCE, &mut out.utm_source),
        (UTM_MEDIUM, &mut out.utm_medium),
        (CURRENCY, &mut out.currency),
        (USER_AGENT, &mut out.user_agent),
        (PAGE_URL, &mut out.page_url),
        (PROVIDER, &mut out.provider),
    ];
    for (c, v) in symbol_columns {
        if !map_codes(&s[c], &caches[c], rows, v) {
            return false;
        }
    }
    // Every row needs an event name (a null or empty one has no symbol).
    if out.event[first..].contains(&NONE) {
        return false;
    }
    let mut codes = Vec::with_capacity(rows);
    for (c, none, v) in [
        (COHORT, COHORT_NONE, &mut out.cohort),
        (SOURCE, SOURCE_NONE, &mut out.source),
    ] {
        codes.clear();
        if !map_codes(&s[c], &caches[c], rows, &mut codes) || codes.contains(&(UNSET - 1)) {
            return false;
        }
        v.extend(
            codes
                .iter()
                .map(|&c| if c == NONE { none } else { c as u8 }),
        );
    }
    // An id on every row.
    if (0..rows).any(|i| s[USER].text(i).is_none() && s[ANON].text(i).is_none()) {
        return false;
    }
    out.user.resize(first + rows, NONE);
    out.anon.resize(first + rows, NONE);
    out.flags.resize(first + rows, 0);
    out.revenue_minor.resize(first + rows, 0);
    if let Some(a) = &cols.test_mode {
        for (i, v) in a.iter().enumerate() {
            if v == Some(true) {
                out.flags[first + i] |= FLAG_TEST_MODE;
            }
        }
    }
    if let Some(a) = &cols.revenue
        && a.null_count() < rows
    {
        for i in 0..rows {
            if a.is_null(i) {
                continue;
            }
            let Some(Some(d)) = decimal(&Cell::Float(a.value(i))).ok() else {
                return false;
            };
            out.flags[first + i] |= FLAG_REVENUE;
            let currency = out.currency[first + i];
            if currency != NONE {
                match d.to_minor(iso4217_exponent(symbols.name(currency))) {
                    Some(v) => out.revenue_minor[first + i] = v,
                    None => return false,
                }
            }
        }
    }
    true
}

/// Row `i` decoded when it passes every check of `decode_funnel` without a problem
/// (else `None`, with no symbol interned that `decode_funnel` would not intern too).
#[inline]
fn fast_row(
    cols: &BatchCols,
    caches: &mut [DictCache; 18],
    symbols: &mut Symbols,
    i: usize,
) -> Option<FunnelEvent> {
    let s = &cols.strs;
    // Checks without side effects first, in `decode_funnel`'s order.
    let ts = cols.ts.as_ref()?[i]?;
    s[EVENT].text(i)?;
    if s[USER].text(i).is_none() && s[ANON].text(i).is_none() {
        return None;
    }
    let cohort = match caches[COHORT].code(&s[COHORT], i, parse_cohort) {
        NONE => COHORT_NONE,
        UNSET => return None,
        c => c as u8,
    };
    let source = match caches[SOURCE].code(&s[SOURCE], i, parse_source) {
        NONE => SOURCE_NONE,
        UNSET => return None,
        c => c as u8,
    };
    let revenue = match &cols.revenue {
        Some(a) if !a.is_null(i) => Some(decimal(&Cell::Float(a.value(i))).ok()??),
        _ => None,
    };
    // Interning, in `decode_funnel`'s order: event, currency, then the rest.
    let event = caches[EVENT].symbol(&s[EVENT], i, symbols);
    let currency = caches[CURRENCY].symbol(&s[CURRENCY], i, symbols);
    let mut flags = 0u8;
    let mut revenue_minor = 0;
    if let Some(d) = revenue {
        flags |= FLAG_REVENUE;
        if currency != NONE {
            // Out of range: `decode_funnel` interns the same two symbols, then fails.
            revenue_minor = d.to_minor(iso4217_exponent(symbols.name(currency)))?;
        }
    }
    if let Some(a) = &cols.test_mode
        && !a.is_null(i)
        && a.value(i)
    {
        flags |= FLAG_TEST_MODE;
    }
    Some(FunnelEvent {
        ts,
        event,
        user: NONE,
        anon: NONE,
        cohort,
        platform: caches[PLATFORM].symbol(&s[PLATFORM], i, symbols),
        utm_source: caches[UTM_SOURCE].symbol(&s[UTM_SOURCE], i, symbols),
        utm_medium: caches[UTM_MEDIUM].symbol(&s[UTM_MEDIUM], i, symbols),
        revenue_minor,
        currency,
        user_agent: caches[USER_AGENT].symbol(&s[USER_AGENT], i, symbols),
        page_url: caches[PAGE_URL].symbol(&s[PAGE_URL], i, symbols),
        provider: caches[PROVIDER].symbol(&s[PROVIDER], i, symbols),
        source,
        flags,
        message: s[MESSAGE].text(i).map(fingerprint),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{StringArray, TimestampMillisecondArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    #[test]
    fn a_row_group_leaves_out_the_optional_columns_it_holds_only_nulls_of() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("funnel.parquet");
        let text = |v: [Option<&str>; 4]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            (
                "ts",
                Arc::new(TimestampMillisecondArray::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
            ("event", text([Some("visit"); 4])),
            ("user_id", text([Some("u1"), Some("u2"), None, None])),
            ("anonymous_id", text([None, None, Some("a3"), Some("a4")])),
            ("provider_id", text([Some("p1"), None, None, None])),
            ("utm_source", text([None, None, None, Some("ads")])),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(2))
            .build();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props))
            .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let (schema, _) = fast_schema(&path).unwrap();
        let meta = ArrowReaderMetadata::load(
            &File::open(&path).unwrap(),
            ArrowReaderOptions::new().with_schema(schema),
        )
        .unwrap();
        let read = |g: usize| {
            let mask = group_mask(&meta, &[0, 1, 2, 3, 4, 5], g);
            (0..6)
                .filter(|&i| mask.leaf_included(i))
                .collect::<Vec<_>>()
        };
        // Group 0: `anonymous_id` and `utm_source` are all null; group 1: `user_id` and
        // `provider_id`. `ts` and `event` are always read.
        assert_eq!(read(0), [0, 1, 2, 4]);
        assert_eq!(read(1), [0, 1, 3, 5]);
    }
}
