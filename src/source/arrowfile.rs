//! Parquet and Arrow IPC adapter. Both yield Arrow record batches of bounded size; each
//! requested column is normalised once per batch (strings to `Utf8`, integers to
//! `Int64`, floats to `Float64`, timestamps to epoch milliseconds) and rows are then
//! read by index, without allocation per row. The requests stream has a columnar fast
//! path ([`Table::for_each_request`]): string columns are read as dictionaries and
//! parsed once per distinct value, numbers are taken straight from typed arrays, and
//! only a row the fast path cannot decode goes through the row-exact cell decoder.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{ArrowError, DataType, Schema, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use super::{
    Cell, ColumnSpec, InputError, MAX_COLUMNS, OnError, ReadStats, RequestFn, RequestRow, RowFn,
    RowLoc, RowProblem, Table, check_columns, handle_row,
};
use crate::input::{Cohort, Millis, Source};
use crate::input::{RequestBatch, prefix_index};

pub(crate) type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>;

/// The batches of Parquet row groups `groups` (each read with its reader metadata,
/// which holds the schema hints, and the columns of its mask; `batch_rows` rows at
/// most), over a footer parsed once: one reader per row group, so that no batch spans
/// two of them (a dictionary column's batch that did would hold two dictionaries, which
/// the reader merges by expanding and hashing every value). A reader that cannot be
/// built is an error item.
pub(crate) fn row_group_batches(
    file: File,
    batch_rows: usize,
    groups: Vec<(usize, ArrowReaderMetadata, ProjectionMask)>,
) -> BatchIter {
    Box::new(
        groups
            .into_iter()
            .flat_map(move |(g, meta, mask)| -> BatchIter {
                let reader = file
                    .try_clone()
                    .map_err(|e| ArrowError::IoError(e.to_string(), e))
                    .and_then(|f| {
                        ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta)
                            .with_batch_size(batch_rows)
                            .with_projection(mask)
                            .with_row_groups(vec![g])
                            .build()
                            .map_err(|e| ArrowError::ExternalError(Box::new(e)))
                    });
                match reader {
                    Ok(r) => Box::new(r),
                    Err(e) => Box::new(std::iter::once(Err(e))),
                }
            }),
    )
}

/// A batch iterator whose panics (the Parquet and Arrow readers assert on some kinds of
/// damaged data instead of returning an error) end the iteration with an error, so a
/// corrupt file is an input error naming it, not a crash.
struct Guarded(Option<BatchIter>);

impl Iterator for Guarded {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let inner = self.0.as_mut()?;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.next())) {
            Ok(item) => item,
            Err(panic) => {
                self.0 = None;
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Some(Err(ArrowError::ParseError(format!(
                    "the data is damaged (the reader failed: {why}); write the file again"
                ))))
            }
        }
    }
}

enum Kind {
    Parquet,
    Ipc,
}

pub struct ArrowTable {
    path: PathBuf,
    kind: Kind,
    batch_rows: usize,
    /// Parquet only: read just these row groups, numbering rows from `first_row + 1`.
    part: Option<(Vec<usize>, u64)>,
    /// Parquet only: read the requested `Utf8` columns as dictionaries.
    dictionaries: bool,
}

/// A contiguous share of a Parquet file's row groups, for parallel reading.
#[derive(Clone, Debug)]
pub struct Part {
    pub row_groups: Vec<usize>,
    /// Rows of the file before this share (its rows are numbered from here + 1).
    pub first_row: u64,
}

impl ArrowTable {
    pub fn open_parquet(path: &Path, batch_rows: usize) -> Result<Self, InputError> {
        Ok(Self {
            path: path.to_path_buf(),
            kind: Kind::Parquet,
            batch_rows: batch_rows.max(1),
            part: None,
            dictionaries: false,
        })
    }
    pub fn open_ipc(path: &Path, batch_rows: usize) -> Result<Self, InputError> {
        Ok(Self {
            path: path.to_path_buf(),
            kind: Kind::Ipc,
            batch_rows: batch_rows.max(1),
            part: None,
            dictionaries: false,
        })
    }

    /// A reader of one share of a Parquet file's row groups.
    pub fn open_parquet_part(path: &Path, batch_rows: usize, part: Part) -> Self {
        Self {
            path: path.to_path_buf(),
            kind: Kind::Parquet,
            batch_rows: batch_rows.max(1),
            part: Some((part.row_groups, part.first_row)),
            dictionaries: false,
        }
    }

    /// Splits a Parquet file's row groups into at most `n` contiguous shares of
    /// similar row counts.
    pub fn parquet_parts(path: &Path, n: usize) -> Result<Vec<Part>, InputError> {
        let file =
            File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
        let b = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| InputError::file(path, format!("not a readable Parquet file: {e}")))?;
        check_footer(path, b.metadata())?;
        let groups: Vec<u64> = b
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows().max(0) as u64)
            .collect();
        let total: u64 = groups.iter().sum();
        let n = n.max(1).min(groups.len().max(1));
        let mut parts: Vec<Part> = Vec::with_capacity(n);
        let mut cur = Part {
            row_groups: Vec::new(),
            first_row: 0,
        };
        let mut acc = 0u64;
        for (i, rows) in groups.iter().enumerate() {
            cur.row_groups.push(i);
            acc += rows;
            let target = total * (parts.len() as u64 + 1) / n as u64;
            if acc >= target && parts.len() + 1 < n {
                let next = Part {
                    row_groups: Vec::new(),
                    first_row: acc,
                };
                parts.push(std::mem::replace(&mut cur, next));
            }
        }
        parts.push(cur);
        Ok(parts)
    }

    /// Opens the batch iterator, projected to the requested columns, and the file schema.
    fn batches(&self, columns: &[ColumnSpec]) -> Result<(BatchIter, Schema), InputError> {
        let path = &self.path;
        let file =
            File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
        match self.kind {
            Kind::Parquet => {
                let unreadable = |e: parquet::errors::ParquetError| {
                    InputError::file(path, format!("not a readable Parquet file: {e}"))
                };
                // The footer is parsed once; every row group's reader shares it.
                let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                    .map_err(unreadable)?;
                check_footer(path, meta.metadata())?;
                super::parquet_guard::check_pages(
                    path,
                    meta.metadata(),
                    self.part.as_ref().map(|p| p.0.as_slice()),
                    columns,
                )?;
                let schema = meta.schema().as_ref().clone();
                // Read the requested string columns as dictionaries: Parquet stores them
                // dictionary-encoded, and a decoder can then parse each distinct value
                // once (a column read as a dictionary gives the same values).
                let meta = if self.dictionaries {
                    let hinted = Schema::new_with_metadata(
                        schema
                            .fields()
                            .iter()
                            .map(|f| {
                                // Any string type: polars, for one, records its
                                // strings as `LargeUtf8` or `Utf8View` in the schema it
                                // stores, and the column is dictionary-encoded all the
                                // same.
                                if matches!(
                                    f.data_type(),
                                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                                ) && columns.iter().any(|c| c.name == f.name())
                                {
                                    std::sync::Arc::new(f.as_ref().clone().with_data_type(
                                        DataType::Dictionary(
                                            Box::new(DataType::Int32),
                                            Box::new(DataType::Utf8),
                                        ),
                                    ))
                                } else {
                                    f.clone()
                                }
                            })
                            .collect::<Vec<_>>(),
                        schema.metadata().clone(),
                    );
                    ArrowReaderMetadata::try_new(
                        meta.metadata().clone(),
                        ArrowReaderOptions::new().with_schema(std::sync::Arc::new(hinted)),
                    )
                    .map_err(unreadable)?
                } else {
                    meta
                };
                let wanted: Vec<usize> = schema
                    .fields()
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| columns.iter().any(|c| c.name == f.name()))
                    .map(|(i, _)| i)
                    .collect();
                let mask = ProjectionMask::roots(meta.parquet_schema(), wanted);
                let groups: Vec<_> = match &self.part {
                    Some((groups, _)) => groups.clone(),
                    None => (0..meta.metadata().num_row_groups()).collect(),
                }
                .into_iter()
                .map(|g| (g, meta.clone(), mask.clone()))
                .collect();
                let per_group = row_group_batches(file, self.batch_rows, groups);
                Ok((Box::new(Guarded(Some(Box::new(per_group)))), schema))
            }
            Kind::Ipc => {
                let mut r = BufReader::new(file);
                let mut magic = [0u8; 6];
                let is_file = r.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
                r.seek(SeekFrom::Start(0))
                    .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
                if is_file {
                    check_ipc_footer(path)?;
                    super::ipc_guard::check_file(path)?;
                    let reader = arrow_ipc::reader::FileReader::try_new(r, None).map_err(|e| {
                        InputError::file(path, format!("not a readable Arrow IPC file: {e}"))
                    })?;
                    let schema = reader.schema().as_ref().clone();
                    Ok((Box::new(Guarded(Some(Box::new(reader)))), schema))
                } else {
                    super::ipc_guard::check_stream(path)?;
                    let reader =
                        arrow_ipc::reader::StreamReader::try_new(r, None).map_err(|e| {
                            InputError::file(path, format!("not a readable Arrow IPC file: {e}"))
                        })?;
                    let schema = reader.schema().as_ref().clone();
                    Ok((Box::new(Guarded(Some(Box::new(reader)))), schema))
                }
            }
        }
    }
}

impl ArrowTable {
    /// Opens the batches (string columns as dictionaries when `dictionaries`), checks
    /// the requested columns, and returns the stats to fill and the row number before
    /// the first row.
    fn open_rows(
        &mut self,
        columns: &[ColumnSpec],
        dictionaries: bool,
    ) -> Result<(BatchIter, ReadStats, u64), InputError> {
        check_columns(columns);
        self.dictionaries = dictionaries;
        let opened = self.batches(columns);
        self.dictionaries = false;
        let (batches, schema) = opened?;
        let stats = ReadStats {
            present: present_columns(&self.path, &schema, columns)?,
            ..Default::default()
        };
        let row_no = self.part.as_ref().map_or(0, |(_, first)| *first);
        Ok((batches, stats, row_no))
    }

    /// A decoded batch, or the error naming the rows read before it.
    fn batch(
        &self,
        batch: Result<RecordBatch, ArrowError>,
        row_no: u64,
    ) -> Result<RecordBatch, InputError> {
        batch.map_err(|e| {
            InputError::file(
                &self.path,
                format!("cannot decode a batch after row {row_no}: {e}"),
            )
        })
    }

    /// Hands every row of `batch` to `f` as cells (each column normalised once).
    fn cell_rows(
        &self,
        batch: &RecordBatch,
        columns: &[ColumnSpec],
        on_error: OnError,
        row_no: &mut u64,
        stats: &mut ReadStats,
        f: &mut RowFn<'_>,
    ) -> Result<(), InputError> {
        let mut cols = Vec::with_capacity(columns.len());
        for c in columns {
            cols.push(match batch.schema().index_of(c.name) {
                Ok(idx) => normalise(batch.column(idx)).map_err(|e| {
                    InputError::file(&self.path, format!("column `{}` {e}", c.name))
                })?,
                Err(_) => Col::Missing,
            });
        }
        for i in 0..batch.num_rows() {
            *row_no += 1;
            let mut cells: [Cell; MAX_COLUMNS] = std::array::from_fn(|_| Cell::Null);
            for (j, col) in cols.iter().enumerate() {
                cells[j] = cell_at(col, i);
            }
            let result: Result<(), RowProblem> = f(&cells[..columns.len()]);
            handle_row(result, &self.path, RowLoc::Row(*row_no), on_error, stats)?;
        }
        Ok(())
    }
}

/// One requested column of one batch, normalised.
enum Col {
    Missing,
    Str(StringArray),
    Int(Int64Array),
    Float(Float64Array),
    Bool(BooleanArray),
    /// Raw values and the divisor to milliseconds (or multiplier when negative).
    Ts(Int64Array, i64),
}

fn type_supported(dt: &DataType) -> bool {
    use DataType::*;
    matches!(
        dt,
        Null | Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float16
            | Float32
            | Float64
            | Decimal128(_, _)
            | Decimal256(_, _)
            | Utf8
            | LargeUtf8
            | Utf8View
            | Timestamp(_, _)
            | Date32
            | Date64
    ) || matches!(dt, Dictionary(_, v) if type_supported(v))
}

fn normalise(a: &ArrayRef) -> Result<Col, String> {
    use DataType::*;
    let cast =
        |to: &DataType| arrow_cast::cast(a, to).map_err(|e| format!("cannot read as {to}: {e}"));
    Ok(match a.data_type() {
        Null => Col::Missing,
        Boolean => Col::Bool(a.as_boolean().clone()),
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => {
            Col::Int(cast(&Int64)?.as_primitive::<Int64Type>().clone())
        }
        Float16 | Float32 | Float64 | Decimal128(_, _) | Decimal256(_, _) => {
            Col::Float(cast(&Float64)?.as_primitive::<Float64Type>().clone())
        }
        Utf8 | LargeUtf8 | Utf8View => Col::Str(cast(&Utf8)?.as_string::<i32>().clone()),
        Timestamp(unit, _) => {
            let div = match unit {
                TimeUnit::Second => -1000,
                TimeUnit::Millisecond => 1,
                TimeUnit::Microsecond => 1000,
                TimeUnit::Nanosecond => 1_000_000,
            };
            Col::Ts(cast(&Int64)?.as_primitive::<Int64Type>().clone(), div)
        }
        Date32 => Col::Ts(
            cast(&Int32)?
                .as_primitive::<arrow_array::types::Int32Type>()
                .unary(|d| d as i64),
            -86_400_000,
        ),
        Date64 => Col::Ts(cast(&Int64)?.as_primitive::<Int64Type>().clone(), 1),
        Dictionary(_, v) => {
            let flat =
                arrow_cast::cast(a, v).map_err(|e| format!("cannot decode dictionary: {e}"))?;
            normalise(&flat)?
        }
        other => return Err(format!("has the unsupported type {other}")),
    })
}

/// Which requested columns the file has; a missing required column or an unsupported
/// type is a file error.
fn present_columns(
    path: &Path,
    schema: &Schema,
    columns: &[ColumnSpec],
) -> Result<Vec<bool>, InputError> {
    let mut present = Vec::with_capacity(columns.len());
    for c in columns {
        match schema.fields().iter().find(|f| f.name() == c.name) {
            Some(field) if !type_supported(field.data_type()) => {
                return Err(InputError::file(
                    path,
                    format!(
                        "column `{}` has the unsupported type {}",
                        c.name,
                        field.data_type()
                    ),
                ));
            }
            Some(_) => present.push(true),
            None if c.required => {
                return Err(InputError::file(
                    path,
                    format!(
                        "required column `{}` is missing{}",
                        c.name,
                        super::column_hint(
                            c.name,
                            &schema
                                .fields()
                                .iter()
                                .map(|f| f.name().as_str())
                                .collect::<Vec<_>>()
                        )
                    ),
                ));
            }
            None => present.push(false),
        }
    }
    Ok(present)
}

/// A string column of one batch: plain text, or dictionary keys into text values.
enum StrCol {
    Plain(StringArray),
    Dict {
        /// The dictionary's own nulls (of its keys).
        nulls: Option<arrow_buffer::NullBuffer>,
        keys: Keys,
        values: StringArray,
    },
}

/// A dictionary column's keys: the `Int32` keys the reader asks Parquet for, as they
/// are (no copy), or any other key type widened once.
enum Keys {
    I32(arrow_buffer::ScalarBuffer<i32>),
    Other(Vec<usize>),
}

impl Keys {
    #[inline]
    fn get(&self, i: usize) -> usize {
        match self {
            // Keys index the dictionary's values: the reader checked them, so they are
            // non-negative (a null's key is 0).
            Keys::I32(k) => k[i] as usize,
            // (a null's key is never used: callers check the nulls first.)
            Keys::Other(k) => k[i],
        }
    }
}

impl StrCol {
    /// The column as text, or `None` when it is not a string type (the batch then takes
    /// the row-exact path).
    fn of(a: &ArrayRef) -> Option<Self> {
        if let DataType::Dictionary(_, v) = a.data_type() {
            if !matches!(
                **v,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return None;
            }
            let d = a.as_any_dictionary_opt()?;
            if d.values().is_empty() {
                // No values (every key null, or no rows): read it flat.
                return match normalise(a).ok()? {
                    Col::Str(s) => Some(StrCol::Plain(s)),
                    _ => None,
                };
            }
            let values = match normalise(d.values()).ok()? {
                Col::Str(s) => s,
                _ => return None,
            };
            let keys = match a.as_dictionary_opt::<arrow_array::types::Int32Type>() {
                Some(d32) => Keys::I32(d32.keys().values().clone()),
                None => Keys::Other(d.normalized_keys()),
            };
            return Some(StrCol::Dict {
                nulls: a.nulls().cloned(),
                keys,
                values,
            });
        }
        match a.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => match normalise(a).ok()? {
                Col::Str(s) => Some(StrCol::Plain(s)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Row `i`'s text; `None` for a null.
    fn value(&self, i: usize) -> Option<&str> {
        match self {
            StrCol::Plain(a) => (!a.is_null(i)).then(|| a.value(i)),
            StrCol::Dict {
                nulls,
                keys,
                values,
            } => {
                let k = keys.get(i);
                (!nulls.as_ref().is_some_and(|n| n.is_null(i)) && !values.is_null(k))
                    .then(|| values.value(k))
            }
        }
    }

    /// Row `i` as a cell (a null or an empty string is absent, as in [`cell_at`]).
    fn cell(&self, i: usize) -> Cell<'_> {
        match self.value(i) {
            Some(s) if !s.is_empty() => Cell::Str(Cow::Borrowed(s)),
            _ => Cell::Null,
        }
    }

    /// Per dictionary value, its decoding (`None` when absent or invalid), when the
    /// dictionary is not much larger than the batch (else rows are decoded one by one).
    fn codes<T: Copy>(
        &self,
        rows: usize,
        decode: impl Fn(&str) -> Option<T>,
    ) -> Option<Vec<Option<T>>> {
        match self {
            StrCol::Dict { values, .. } if values.len() <= rows.max(256) * 2 => Some(
                (0..values.len())
                    .map(|k| {
                        if values.is_null(k) || values.value(k).is_empty() {
                            None
                        } else {
                            decode(values.value(k))
                        }
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Row `i` decoded, through the per-value `codes` when there are some.
    fn decode<T: Copy>(
        &self,
        i: usize,
        codes: &Option<Vec<Option<T>>>,
        decode: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        match (self, codes) {
            (StrCol::Dict { nulls, keys, .. }, Some(c)) => {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    None
                } else {
                    c[keys.get(i)]
                }
            }
            _ => self.value(i).filter(|s| !s.is_empty()).and_then(decode),
        }
    }
}

/// The per-value codes of a dictionary column, kept while the batches share the
/// dictionary: a Parquet column chunk's dictionary comes with every batch of it, so
/// its values are decoded once per chunk, not once per batch. The cache holds the
/// values array it was computed from, so a buffer it compares against cannot be freed
/// and its address reused.
struct CodesCache<T> {
    values: Option<StringArray>,
    codes: Option<Vec<Option<T>>>,
}

impl<T: Copy> CodesCache<T> {
    fn new() -> Self {
        Self {
            values: None,
            codes: None,
        }
    }

    fn codes(
        &mut self,
        col: &StrCol,
        rows: usize,
        decode: impl Fn(&str) -> Option<T>,
    ) -> &Option<Vec<Option<T>>> {
        let same = match (col, &self.values) {
            (StrCol::Dict { values, .. }, Some(cached)) => {
                values.len() == cached.len()
                    && values.offsets().as_ptr() == cached.offsets().as_ptr()
                    && values.values().as_ptr() == cached.values().as_ptr()
                    && values.nulls().map(|n| n.buffer().as_ptr())
                        == cached.nulls().map(|n| n.buffer().as_ptr())
            }
            _ => false,
        };
        if !same {
            self.codes = col.codes(rows, decode);
            self.values = match (col, &self.codes) {
                (StrCol::Dict { values, .. }, Some(_)) => Some(values.clone()),
                _ => None,
            };
        }
        &self.codes
    }
}

/// The typed columns of a requests batch the fast path reads.
struct RequestCols {
    ts: Col,
    endpoint: StrCol,
    cohort: StrCol,
    source: StrCol,
    status: Col,
    latency: Col,
}

impl RequestCols {
    /// The batch's columns, when every one has a type the fast path reads.
    fn of(batch: &RecordBatch, columns: &[ColumnSpec]) -> Option<Self> {
        let col = |k: usize| batch.column_by_name(columns[k].name);
        let ts = normalise(col(0)?).ok()?;
        let status = normalise(col(4)?).ok()?;
        let latency = normalise(col(5)?).ok()?;
        if !matches!(ts, Col::Ts(..) | Col::Int(_))
            || !matches!(status, Col::Int(_))
            || !matches!(latency, Col::Int(_) | Col::Float(_))
        {
            return None;
        }
        Some(RequestCols {
            ts,
            endpoint: StrCol::of(col(1)?)?,
            cohort: StrCol::of(col(2)?)?,
            source: StrCol::of(col(3)?)?,
            status,
            latency,
        })
    }

    /// The cells of row `i` in [`super::read::REQUEST_COLUMNS`] order.
    fn cells(&self, i: usize) -> [Cell<'_>; 6] {
        [
            cell_at(&self.ts, i),
            self.endpoint.cell(i),
            self.cohort.cell(i),
            self.source.cell(i),
            cell_at(&self.status, i),
            cell_at(&self.latency, i),
        ]
    }
}

/// Decodes a whole batch column by column into `out`: `true` when every row passes the
/// fast path (no null, a known cohort and source, a status in 100..=599, a non-negative
/// finite latency), `false` as soon as one does not, and the batch then goes row by row
/// (so errors and skips stay those of the row-exact decoder). Each column is one tight
/// loop over its values, without a per-row callback.
fn decode_columns(
    cols: &RequestCols,
    cohorts: &Option<Vec<Option<Cohort>>>,
    sources: &Option<Vec<Option<Source>>>,
    endpoints: &Option<Vec<Option<u8>>>,
    out: &mut RequestBatch,
) -> bool {
    out.clear();
    match &cols.ts {
        Col::Ts(a, div) if a.null_count() == 0 => {
            let (v, div) = (a.values(), *div);
            match div {
                1 => out.ts.extend_from_slice(v),
                d if d < 0 => out.ts.extend(v.iter().map(|x| x.saturating_mul(-d))),
                d => out.ts.extend(v.iter().map(|x| x.div_euclid(d))),
            }
        }
        Col::Int(a) if a.null_count() == 0 => out.ts.extend_from_slice(a.values()),
        _ => return false,
    }
    let Col::Int(status) = &cols.status else {
        return false;
    };
    if status.null_count() != 0 || !status.values().iter().all(|s| (100..=599).contains(s)) {
        return false;
    }
    out.status.extend(status.values().iter().map(|&s| s as u16));
    match &cols.latency {
        Col::Float(a) if a.null_count() == 0 => {
            // One branch-free pass that the compiler vectorises; a batch with any value
            // it cannot settle (out of range, near a half microsecond) is redone value by
            // value through the exact conversion.
            if !super::cell::f64_ms_to_us_all(a.values(), &mut out.latency_us) {
                out.latency_us.clear();
                for &v in a.values().iter() {
                    match super::cell::f64_ms_to_us(v) {
                        Ok(us) => out.latency_us.push(us),
                        Err(_) => return false,
                    }
                }
            }
        }
        Col::Int(a) if a.null_count() == 0 => {
            for &v in a.values().iter() {
                match u64::try_from(v).ok().and_then(|v| v.checked_mul(1000)) {
                    Some(us) => out.latency_us.push(us),
                    None => return false,
                }
            }
        }
        _ => return false,
    }
    dict_column(
        &cols.cohort,
        cohorts,
        |c| c == Cohort::Canary,
        &mut out.canary,
    ) && dict_column(&cols.source, sources, |s| s == Source::Real, &mut out.real)
        && dict_column(&cols.endpoint, endpoints, |p| p, &mut out.prefix)
}

/// A dictionary column through its per-value `codes`, mapped by `map` into `out`;
/// `false` when the column is not a dictionary with codes, has a null, or holds a value
/// the codes reject.
fn dict_column<T: Copy, U: Copy>(
    col: &StrCol,
    codes: &Option<Vec<Option<T>>>,
    map: impl Fn(T) -> U,
    out: &mut Vec<U>,
) -> bool {
    let (StrCol::Dict { nulls, keys, .. }, Some(codes)) = (col, codes) else {
        return false;
    };
    if nulls.as_ref().is_some_and(|n| n.null_count() > 0) {
        return false;
    }
    // Usually every dictionary value decodes: map each once, then one gather per row.
    if let Some(values) = codes
        .iter()
        .map(|c| c.map(&map))
        .collect::<Option<Vec<U>>>()
    {
        match keys {
            Keys::I32(k) => out.extend(k.iter().map(|&k| values[k as usize])),
            Keys::Other(k) => out.extend(k.iter().map(|&k| values[k])),
        }
        return true;
    }
    let n = match keys {
        Keys::I32(k) => k.len(),
        Keys::Other(k) => k.len(),
    };
    for i in 0..n {
        match codes[keys.get(i)] {
            Some(v) => out.push(map(v)),
            None => return false,
        }
    }
    true
}

/// A timestamp the fast path takes as is (`None`: leave it to the cell decoder).
fn fast_ts(c: &Col, i: usize) -> Option<Millis> {
    match cell_at(c, i) {
        Cell::Ts(v) | Cell::Int(v) => Some(v),
        _ => None,
    }
}

fn fast_status(c: &Col, i: usize) -> Option<u16> {
    match c {
        Col::Int(a) if !a.is_null(i) && (100..=599).contains(&a.value(i)) => {
            Some(a.value(i) as u16)
        }
        _ => None,
    }
}

fn fast_latency(c: &Col, i: usize) -> Option<u64> {
    match c {
        Col::Int(a) if !a.is_null(i) && a.value(i) >= 0 => (a.value(i) as u64).checked_mul(1000),
        Col::Float(a) if !a.is_null(i) => super::cell::f64_ms_to_us(a.value(i)).ok(),
        _ => None,
    }
}

fn cell_at(col: &Col, i: usize) -> Cell<'_> {
    match col {
        Col::Missing => Cell::Null,
        Col::Str(a) => {
            if a.is_null(i) || a.value(i).is_empty() {
                Cell::Null
            } else {
                Cell::Str(Cow::Borrowed(a.value(i)))
            }
        }
        Col::Int(a) => {
            if a.is_null(i) {
                Cell::Null
            } else {
                Cell::Int(a.value(i))
            }
        }
        Col::Float(a) => {
            if a.is_null(i) {
                Cell::Null
            } else {
                Cell::Float(a.value(i))
            }
        }
        Col::Bool(a) => {
            if a.is_null(i) {
                Cell::Null
            } else {
                Cell::Bool(a.value(i))
            }
        }
        Col::Ts(a, div) => {
            if a.is_null(i) {
                Cell::Null
            } else {
                let v = a.value(i);
                Cell::Ts(if *div < 0 {
                    v.saturating_mul(-div)
                } else {
                    v.div_euclid(*div)
                })
            }
        }
    }
}

impl Table for ArrowTable {
    fn for_each_row(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        f: &mut RowFn<'_>,
    ) -> Result<ReadStats, InputError> {
        let (batches, mut stats, mut row_no) = self.open_rows(columns, false)?;
        for batch in batches {
            let batch = self.batch(batch, row_no)?;
            self.cell_rows(&batch, columns, on_error, &mut row_no, &mut stats, f)?;
        }
        Ok(stats)
    }

    fn for_each_request(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        prefixes: &[String],
        f: &mut RequestFn<'_>,
    ) -> Result<ReadStats, InputError> {
        let (batches, mut stats, mut row_no) = self.open_rows(columns, true)?;
        let mut decoded = RequestBatch::with_capacity(self.batch_rows);
        let parse_cohort = |s: &str| Cohort::parse(s);
        let parse_source = |s: &str| Source::parse(s);
        let parse_prefix = |s: &str| Some(prefix_index(prefixes, s));
        let (mut cohort_codes, mut source_codes, mut endpoint_codes) =
            (CodesCache::new(), CodesCache::new(), CodesCache::new());
        for batch in batches {
            let batch = self.batch(batch, row_no)?;
            let n = batch.num_rows();
            let Some(cols) = RequestCols::of(&batch, columns) else {
                // A type the fast path does not read: every row through the cells.
                let mut cells_of = |c: &[Cell]| f(RequestRow::Cells(c));
                self.cell_rows(
                    &batch,
                    columns,
                    on_error,
                    &mut row_no,
                    &mut stats,
                    &mut cells_of,
                )?;
                continue;
            };
            let cohorts = cohort_codes.codes(&cols.cohort, n, parse_cohort);
            let sources = source_codes.codes(&cols.source, n, parse_source);
            let endpoints = endpoint_codes.codes(&cols.endpoint, n, parse_prefix);
            if n > 0 && decode_columns(&cols, cohorts, sources, endpoints, &mut decoded) {
                match f(RequestRow::Batch(&decoded)) {
                    Ok(()) => stats.rows += n as u64,
                    // A decoded batch is not rejected; were it, its first row is named.
                    Err(p) => handle_row(
                        Err(p),
                        &self.path,
                        RowLoc::Row(row_no + 1),
                        on_error,
                        &mut stats,
                    )?,
                }
                row_no += n as u64;
                continue;
            }
            for i in 0..n {
                row_no += 1;
                let decoded = (|| {
                    Some(RequestRow::Decoded {
                        ts: fast_ts(&cols.ts, i)?,
                        prefix: cols.endpoint.decode(i, endpoints, parse_prefix)?,
                        cohort: cols.cohort.decode(i, cohorts, parse_cohort)?,
                        source: cols.source.decode(i, sources, parse_source)?,
                        status: fast_status(&cols.status, i)?,
                        latency_us: fast_latency(&cols.latency, i)?,
                    })
                })();
                let result = match decoded {
                    Some(row) => f(row),
                    None => f(RequestRow::Cells(&cols.cells(i))),
                };
                handle_row(
                    result,
                    &self.path,
                    RowLoc::Row(row_no),
                    on_error,
                    &mut stats,
                )?;
            }
        }
        Ok(stats)
    }
}

/// Checks the blocks an Arrow IPC file's footer lists against the file: each must lie
/// inside it. The IPC reader allocates what a block claims before reading it, so a
/// footer that lies about a block's length is refused here.
fn check_ipc_footer(path: &Path) -> Result<(), InputError> {
    let io = |e: std::io::Error| InputError::file(path, format!("cannot read: {e}"));
    let corrupt = |why: String| {
        InputError::file(
            path,
            format!(
                "the Arrow IPC footer is corrupt: {why} (the file is truncated or damaged; write it again)"
            ),
        )
    };
    // Only the footer is read: its length and magic in the last 10 bytes, then itself.
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut tail = [0u8; 10];
    if len < 10 {
        return Err(corrupt("the file does not end in the footer".into()));
    }
    file.seek(SeekFrom::Start(len - 10)).map_err(io)?;
    file.read_exact(&mut tail).map_err(io)?;
    if &tail[4..] != b"ARROW1" {
        return Err(corrupt("the file does not end in the footer".into()));
    }
    let footer_len =
        u64::try_from(i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]])).unwrap_or(u64::MAX);
    if footer_len > len - 10 {
        return Err(corrupt(format!(
            "it claims {footer_len} bytes in a {len}-byte file"
        )));
    }
    let mut bytes = vec![0u8; footer_len as usize];
    file.seek(SeekFrom::Start(len - 10 - footer_len))
        .map_err(io)?;
    file.read_exact(&mut bytes).map_err(io)?;
    let footer = arrow_ipc::root_as_footer(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let blocks = footer
        .recordBatches()
        .into_iter()
        .flatten()
        .chain(footer.dictionaries().into_iter().flatten());
    for b in blocks {
        let end = u64::try_from(b.offset())
            .ok()
            .zip(u64::try_from(b.metaDataLength()).ok())
            .zip(u64::try_from(b.bodyLength()).ok())
            .and_then(|((o, m), n)| o.checked_add(m)?.checked_add(n));
        if end.is_none_or(|end| end > len) {
            return Err(corrupt(format!(
                "a block claims {} + {} bytes at offset {} of a {len}-byte file",
                b.metaDataLength(),
                b.bodyLength(),
                b.offset()
            )));
        }
    }
    Ok(())
}

/// Checks what a Parquet footer says of its column chunks against the file: every
/// chunk must lie inside it. The Parquet reader trusts these numbers (a negative one
/// panics it, a huge one makes it allocate), so a footer that lies is refused here.
fn check_footer(
    path: &Path,
    meta: &parquet::file::metadata::ParquetMetaData,
) -> Result<(), InputError> {
    let len = std::fs::metadata(path)
        .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?
        .len();
    for (g, group) in meta.row_groups().iter().enumerate() {
        if group.num_rows() < 0 {
            return Err(InputError::file(
                path,
                format!(
                    "the Parquet footer is corrupt: row group {g} claims {} rows (the file is damaged; write it again)",
                    group.num_rows()
                ),
            ));
        }
        for c in group.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let size = c.compressed_size();
            let inside = u64::try_from(start)
                .ok()
                .zip(u64::try_from(size).ok())
                .and_then(|(a, n)| a.checked_add(n))
                .is_some_and(|end| end <= len);
            if !inside {
                return Err(InputError::file(
                    path,
                    format!(
                        "the Parquet footer is corrupt: row group {g}, column `{}` claims {size} bytes at offset {start} of a {len}-byte file (the file is truncated or damaged; write it again)",
                        c.column_path()
                    ),
                ));
            }
        }
    }
    Ok(())
}
