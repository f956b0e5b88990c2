//! `rehearse schema [STREAM]`: the columns of one stream, or of every stream, as a table
//! or as JSON. The columns and whether each is required are the readers' own column
//! specs (`source::read`'s `*_COLUMNS`, `analytics::data`'s `FUNNEL_COLUMNS` and
//! `LEDGER_COLUMNS`); type, unit and meaning come from `source::columns`, so the command
//! lists exactly what the readers ask for.

use serde::Serialize;

use crate::analytics::data::{FUNNEL_COLUMNS, LEDGER_COLUMNS};
use crate::input::Stream;
use crate::source::ColumnSpec;
use crate::source::columns::{self, ColumnDoc};
use crate::source::read::{
    INFRA_COLUMNS, LOG_COLUMNS, PAGE_COLUMNS, PROBE_COLUMNS, REQUEST_COLUMNS, SECURITY_COLUMNS,
};

use super::{AppError, Output};

/// What `rehearse schema` prints.
#[derive(Clone, Debug)]
pub struct SchemaSettings {
    /// One stream, or every stream when `None`.
    pub stream: Option<Stream>,
    pub json: bool,
}

/// Why `rehearse schema` cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown stream `{0}`; the streams are {streams}", streams = stream_names())]
    UnknownStream(String),
    #[error(
        "column `{column}` of the `{stream}` stream has no description in src/source/columns.rs"
    )]
    Undescribed {
        stream: &'static str,
        column: &'static str,
    },
}

/// The stream names, comma separated, in the format's order.
fn stream_names() -> String {
    Stream::ALL.map(Stream::as_str).join(", ")
}

/// The stream called `name`.
pub fn parse_stream(name: &str) -> Result<Stream, SchemaError> {
    Stream::ALL
        .into_iter()
        .find(|s| s.as_str() == name)
        .ok_or_else(|| SchemaError::UnknownStream(name.to_string()))
}

/// The columns the readers ask for in `stream`, in the order they ask.
pub fn specs(stream: Stream) -> &'static [ColumnSpec] {
    match stream {
        Stream::Requests => &REQUEST_COLUMNS,
        Stream::Probes => &PROBE_COLUMNS,
        Stream::Infra => &INFRA_COLUMNS,
        Stream::Security => &SECURITY_COLUMNS,
        Stream::Logs => &LOG_COLUMNS,
        Stream::Pages => &PAGE_COLUMNS,
        Stream::Funnel => &FUNNEL_COLUMNS,
        Stream::Ledger => &LEDGER_COLUMNS,
    }
}

/// One stream and its columns, as `--json` prints them.
#[derive(Debug, Serialize)]
pub struct StreamSchema {
    pub stream: &'static str,
    pub columns: Vec<ColumnSchema>,
}

/// One column: the reader's spec joined with its description.
#[derive(Debug, Serialize)]
pub struct ColumnSchema {
    pub name: &'static str,
    pub required: bool,
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// The allowed values of a closed list (empty for other types).
    pub values: Vec<&'static str>,
    pub unit: &'static str,
    pub meaning: &'static str,
}

/// The schema of `stream`: every column its reader asks for, described.
pub fn describe(stream: Stream) -> Result<StreamSchema, SchemaError> {
    let columns = specs(stream)
        .iter()
        .map(|spec| {
            let d: &ColumnDoc =
                columns::doc(stream, spec.name).ok_or(SchemaError::Undescribed {
                    stream: stream.as_str(),
                    column: spec.name,
                })?;
            Ok(ColumnSchema {
                name: spec.name,
                required: spec.required,
                ty: d.ty.name(),
                values: d.ty.values(),
                unit: d.unit,
                meaning: d.meaning,
            })
        })
        .collect::<Result<_, SchemaError>>()?;
    Ok(StreamSchema {
        stream: stream.as_str(),
        columns,
    })
}

/// Prints the schema of one stream or of all.
pub fn run(s: &SchemaSettings) -> Result<Output, AppError> {
    let streams: Vec<Stream> = match s.stream {
        Some(one) => vec![one],
        None => Stream::ALL.to_vec(),
    };
    let schemas = streams
        .into_iter()
        .map(describe)
        .collect::<Result<Vec<_>, _>>()
        .map_err(AppError::internal)?;
    let text = if s.json {
        let mut t = serde_json::to_string_pretty(&schemas).map_err(AppError::internal)?;
        t.push('\n');
        t
    } else {
        schemas.iter().map(table).collect::<Vec<_>>().join("\n")
    };
    Ok(Output::new(text, 0))
}

/// A stream's columns as an aligned table under the stream's name.
fn table(s: &StreamSchema) -> String {
    let header = ["column", "presence", "type", "unit", "meaning"];
    let rows: Vec<[String; 5]> = s
        .columns
        .iter()
        .map(|c| {
            let ty = match c.values.as_slice() {
                [] => c.ty.to_string(),
                values => values.join("|"),
            };
            let need = if c.required { "required" } else { "optional" };
            [
                c.name.to_string(),
                need.to_string(),
                ty,
                c.unit.to_string(),
                c.meaning.to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  ", w = width[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = format!(
        "stream {} (file {}.{{csv,ndjson,jsonl,parquet,arrow}})\n",
        s.stream, s.stream
    );
    out.push_str(&line(header));
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column a reader asks for has a description, and every description names a
    /// column a reader asks for: `rehearse schema` cannot drift from the readers.
    #[test]
    fn descriptions_match_the_readers_columns() {
        for stream in Stream::ALL {
            describe(stream).expect("every column is described");
        }
        for d in columns::COLUMN_DOCS {
            assert!(
                specs(d.stream).iter().any(|c| c.name == d.name),
                "src/source/columns.rs describes `{}` of `{}`, which its reader does not ask for",
                d.name,
                d.stream.as_str()
            );
        }
    }

    #[test]
    fn unknown_streams_are_named_with_the_list() {
        assert_eq!(parse_stream("ledger").unwrap(), Stream::Ledger);
        let e = parse_stream("nope").unwrap_err().to_string();
        assert!(
            e.contains("`nope`") && e.contains("requests, probes,"),
            "{e}"
        );
    }
}
