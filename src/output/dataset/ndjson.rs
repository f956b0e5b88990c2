//! The NDJSON encoding: one JSON object per row and line, nulls as `null`, numbers and
//! booleans bare, strings (timestamps included) as JSON strings.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::{Cell, Chunks, Rows, WriteError};

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn write_ndjson<R: Rows, C: AsRef<[R]>>(
    w: &mut BufWriter<&mut File>,
    chunks: Chunks<'_, C>,
    path: &Path,
) -> Result<(), WriteError> {
    let names: Vec<String> = R::fields().iter().map(|f| f.name().clone()).collect();
    let mut line = String::new();
    for chunk in chunks {
        let chunk = chunk?;
        let mut cells = Vec::with_capacity(names.len());
        for row in chunk.as_ref() {
            cells.clear();
            row.cells(&mut cells);
            line.clear();
            line.push('{');
            for (i, (name, cell)) in names.iter().zip(&cells).enumerate() {
                if i > 0 {
                    line.push(',');
                }
                push_json_str(&mut line, name);
                line.push(':');
                match cell {
                    Cell::Null => line.push_str("null"),
                    Cell::Str(s) => push_json_str(&mut line, s),
                    Cell::Owned(s) => push_json_str(&mut line, s),
                    Cell::Raw(s) => line.push_str(s),
                }
            }
            line.push_str("}\n");
            w.write_all(line.as_bytes())
                .map_err(|source| WriteError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::fixtures::sample;
    use super::super::{Format, write_dataset};

    #[test]
    fn ndjson_first_lines() {
        let tmp = tempfile::tempdir().unwrap();
        write_dataset(&sample(), tmp.path(), Format::Ndjson).unwrap();
        let text = fs::read_to_string(tmp.path().join("requests.ndjson")).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"ts":"2026-03-02T10:00:00.007Z","endpoint":"/api/search","cohort":"canary","source":"real","status":200,"latency_ms":123.456,"user_id":"usr_00000","region":"eu-west-1","method":"GET"}"#
        );
        let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert!(second["user_id"].is_null());
        assert_eq!(second["latency_ms"], serde_json::json!(120));
        let probes = fs::read_to_string(tmp.path().join("probes.ndjson")).unwrap();
        let p: serde_json::Value = serde_json::from_str(probes.trim_end()).unwrap();
        assert_eq!(
            p["payload"].as_str().unwrap(),
            r#"{"service":"ttv","note":"a, \"quoted\" one"}"#
        );
        assert_eq!(p["schema_ok"], serde_json::json!(true));
        assert!(!tmp.path().join("logs.ndjson").exists());
    }
}
