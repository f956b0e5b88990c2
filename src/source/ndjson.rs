//! NDJSON adapter (`.ndjson`, `.jsonl`): one JSON object per line, blank lines ignored.
//! Each line is scanned once; only the requested keys are kept, as borrowed raw values,
//! so a row costs no allocation unless a string holds escapes.

use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::text::{Text, open_text, read_error};
use super::{
    Cell, ColumnSpec, InputError, MAX_COLUMNS, OnError, ReadStats, RowFn, RowLoc, RowProblem,
    Table, check_columns, handle_row,
};

pub struct NdjsonTable {
    path: PathBuf,
    reader: BufReader<Text>,
}

impl NdjsonTable {
    pub fn open(path: &Path) -> Result<Self, InputError> {
        let file = open_text(path, false)?;
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

/// A file-level error for the first required column that no row of the file has.
fn missing_column(path: &Path, columns: &[ColumnSpec], present: &[bool]) -> Result<(), InputError> {
    match columns
        .iter()
        .zip(present)
        .find(|(c, p)| c.required && !**p)
    {
        Some((c, _)) => {
            let keys = first_keys(path);
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            Err(InputError::file(
                path,
                format!(
                    "required column `{}` is missing: no row has the key{}",
                    c.name,
                    super::column_hint(c.name, &keys)
                ),
            ))
        }
        None => Ok(()),
    }
}

/// Lines read for the keys a missing-column hint may point to.
const HINT_LINES: usize = 100;

/// The top-level keys of the file's first JSON object lines, in first-seen order (for
/// the hint of a missing column only; unreadable lines are passed over).
fn first_keys(path: &Path) -> Vec<String> {
    let Ok(file) = open_text(path, false) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = Vec::new();
    for line in BufReader::new(file).lines().take(HINT_LINES) {
        let Ok(line) = line else { break };
        let text = line.trim_start_matches('\u{feff}').trim();
        if let Ok(obj) =
            serde_json::from_str::<std::collections::BTreeMap<String, IgnoredAny>>(text)
        {
            // BTreeMap order is by name: stable whatever the file's key order.
            for k in obj.into_keys() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    keys
}

impl NdjsonTable {
    /// The error to report for the first bad row `e` (at `line_no`, under
    /// `--on-error fail`): a required column that no row of the file has is a file-level
    /// error and wins over it, so the rest of the file is read for its keys alone.
    fn first_error(
        &mut self,
        e: InputError,
        columns: &[ColumnSpec],
        present: &mut [bool],
        line_no: u64,
    ) -> InputError {
        if let Err(file) = self
            .scan_keys(columns, present, line_no)
            .and_then(|()| missing_column(&self.path, columns, present))
        {
            return file;
        }
        e
    }

    /// Reads the rest of the file after line `line_no`, noting which requested keys
    /// appear; lines that are not JSON objects are passed over.
    fn scan_keys(
        &mut self,
        columns: &[ColumnSpec],
        present: &mut [bool],
        mut line_no: u64,
    ) -> Result<(), InputError> {
        let mut line = Vec::new();
        while present.iter().zip(columns).any(|(p, c)| c.required && !*p) {
            line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .map_err(|e| InputError::file(&self.path, read_error(&e, line_no + 1)))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let Ok(text) = std::str::from_utf8(&line) else {
                continue;
            };
            let mut raws: [Option<&RawValue>; MAX_COLUMNS] = [None; MAX_COLUMNS];
            let mut de = serde_json::Deserializer::from_str(text.trim());
            let seed = RowSeed {
                columns,
                out: &mut raws,
            };
            if seed.deserialize(&mut de).is_ok() {
                for (p, raw) in present.iter_mut().zip(raws.iter()) {
                    *p |= raw.is_some();
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
        let mut line = Vec::new();
        let mut line_no = 0u64;
        let mut any_row = false;
        loop {
            line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .map_err(|e| InputError::file(&path, read_error(&e, line_no + 1)))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            // Invalid UTF-8 spoils its line only: a row error, skippable.
            let text = match std::str::from_utf8(&line) {
                Ok(t) => t,
                Err(e) => {
                    any_row = true;
                    let bad = Err(RowProblem::new("*", format!("not UTF-8 text: {e}")));
                    if let Err(e) =
                        handle_row(bad, &path, RowLoc::Line(line_no), on_error, &mut stats)
                    {
                        return Err(self.first_error(e, columns, &mut stats.present, line_no));
                    }
                    continue;
                }
            };
            let text = if line_no == 1 {
                text.trim_start_matches('\u{feff}')
            } else {
                text
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
                    for (p, raw) in stats.present.iter_mut().zip(raws.iter()) {
                        *p |= raw.is_some();
                    }
                    for (i, raw) in raws.iter().enumerate().take(columns.len()) {
                        if let Some(raw) = raw {
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
            if let Err(e) = handle_row(result, &path, RowLoc::Line(line_no), on_error, &mut stats) {
                return Err(self.first_error(e, columns, &mut stats.present, line_no));
            }
        }
        if !any_row {
            return Err(InputError::file(&path, "the file holds no JSON rows"));
        }
        missing_column(&path, columns, &stats.present)?;
        Ok(stats)
    }
}
