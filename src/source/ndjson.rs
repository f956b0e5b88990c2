//! NDJSON adapter (`.ndjson`, `.jsonl`): one JSON object per line, blank lines ignored.
//! Each line is scanned once; only the requested keys are kept, as borrowed raw values,
//! so a row costs no allocation unless a string holds escapes.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{
    Cell, ColumnSpec, InputError, MAX_COLUMNS, OnError, ReadStats, RowFn, RowLoc, RowProblem,
    Table, check_columns, handle_row,
};

pub struct NdjsonTable {
    path: PathBuf,
    reader: BufReader<File>,
}

impl NdjsonTable {
    pub fn open(path: &Path) -> Result<Self, InputError> {
        let file =
            File::open(path).map_err(|e| InputError::file(path, format!("cannot open: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
        })
    }
}

/// Interprets a raw JSON value as a cell.
pub(crate) fn raw_to_cell(raw: &RawValue) -> Result<Cell<'_>, String> {
    let t = raw.get().trim();
    match t.as_bytes().first() {
        Some(b'"') => {
            let inner = &t[1..t.len() - 1];
            if !inner.contains('\\') {
                Ok(if inner.is_empty() {
                    Cell::Null
                } else {
                    Cell::Str(Cow::Borrowed(inner))
                })
            } else {
                let s: String = serde_json::from_str(t).map_err(|e| e.to_string())?;
                Ok(if s.is_empty() {
                    Cell::Null
                } else {
                    Cell::Str(Cow::Owned(s))
                })
            }
        }
        Some(b'n') => Ok(Cell::Null),
        Some(b't') => Ok(Cell::Bool(true)),
        Some(b'f') => Ok(Cell::Bool(false)),
        Some(b'{' | b'[') => Ok(Cell::Json(t)),
        Some(_) => Ok(Cell::Num(t)),
        None => Ok(Cell::Null),
    }
}

/// Collects the requested keys of one JSON object as raw values.
struct RowSeed<'c, 'a> {
    columns: &'c [ColumnSpec],
    out: &'c mut [Option<&'a RawValue>; MAX_COLUMNS],
}

impl<'de, 'c> DeserializeSeed<'de> for RowSeed<'c, 'de> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'c> Visitor<'de> for RowSeed<'c, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.columns.iter().position(|c| c.name == key) {
                Some(i) => {
                    let v: &'de RawValue = map.next_value()?;
                    self.out[i] = Some(v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

impl Table for NdjsonTable {
    fn for_each_row(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        f: &mut RowFn<'_>,
    ) -> Result<ReadStats, InputError> {
        check_columns(columns);
        let path = self.path.clone();
        let mut stats = ReadStats {
            present: vec![false; columns.len()],
            ..Default::default()
        };
        let mut line = String::new();
        let mut line_no = 0u64;
        let mut any_row = false;
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line).map_err(|e| {
                InputError::file(&path, format!("read error at line {}: {e}", line_no + 1))
            })?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let text = if line_no == 1 {
                line.trim_start_matches('\u{feff}')
            } else {
                &line
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            any_row = true;
            let mut raws: [Option<&RawValue>; MAX_COLUMNS] = [None; MAX_COLUMNS];
            let parsed = {
                let mut de = serde_json::Deserializer::from_str(text);
                RowSeed {
                    columns,
                    out: &mut raws,
                }
                .deserialize(&mut de)
                .and_then(|()| de.end())
            };
            let result = match parsed {
                Err(e) => Err(RowProblem::new("*", format!("not a JSON object: {e}"))),
                Ok(()) => {
                    let mut cells: [Cell; MAX_COLUMNS] = std::array::from_fn(|_| Cell::Null);
                    let mut bad = None;
                    for (i, raw) in raws.iter().enumerate().take(columns.len()) {
                        if let Some(raw) = raw {
                            stats.present[i] = true;
                            match raw_to_cell(raw) {
                                Ok(c) => cells[i] = c,
                                Err(e) => {
                                    bad = Some(RowProblem::new(columns[i].name, e));
                                    break;
                                }
                            }
                        }
                    }
                    match bad {
                        Some(p) => Err(p),
                        None => f(&cells[..columns.len()]),
                    }
                }
            };
            handle_row(result, &path, RowLoc::Line(line_no), on_error, &mut stats)?;
        }
        if !any_row {
            return Err(InputError::file(&path, "the file holds no JSON rows"));
        }
        Ok(stats)
    }
}
