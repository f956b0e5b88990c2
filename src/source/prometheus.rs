//! Prometheus `query_range` responses (the JSON of `/api/v1/query_range`, result type
//! `matrix`) as the `infra` stream: the manifest's `[infra_prometheus]` section names
//! one response file per column (`cpu`, `mem_free`, and optionally `db_p95_ms`,
//! `queue_depth`), the label that names the host and, optionally, the label and values
//! that make a host canary. Samples of the files are joined by host and timestamp into
//! rows, in timestamp order (host order on ties). `NaN`, `+Inf` and `-Inf` are absent
//! values, as is a step a series lacks; a row whose `cpu` or `mem_free` is absent while
//! the other column has a value is a missing required value (an error, or a counted skip
//! under `--on-error skip`); a step absent from every file is no row.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::cell::Cell;
use super::{ColumnSpec, InputError, OnError, ReadStats, RowFn, RowLoc, RowProblem, Table};
use crate::input::Millis;

/// The keys of the `[infra_prometheus]` section.
pub const KEYS: &[&str] = &[
    "cpu",
    "mem_free",
    "db_p95_ms",
    "queue_depth",
    "host_label",
    "cohort_label",
    "canary_values",
];

/// The infra columns a response file may fill, in the stream's column order.
const COLUMNS: [&str; 4] = ["cpu", "mem_free", "db_p95_ms", "queue_depth"];

/// A parsed `[infra_prometheus]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromInfraSpec {
    /// Per column of [`COLUMNS`], its response file (resolved against the dataset).
    pub files: [Option<PathBuf>; 4],
    pub host_label: String,
    /// The label and values that make a host canary; `None`: no cohort column.
    pub cohort: Option<(String, Vec<String>)>,
}

impl PromInfraSpec {
    /// Reads the section; the problem is worded for "[infra_prometheus]: ...".
    pub fn from_toml(dir: &Path, t: &toml::Table) -> Result<Self, String> {
        if let Some(key) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let near = crate::suggest::nearest(key, KEYS.iter().copied())
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown key `{key}` ({near}the section's keys are {})",
                KEYS.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let text = |k: &str| -> Result<Option<String>, String> {
            match t.get(k) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_string()))
                    .ok_or_else(|| format!("`{k}` must be a string, found {}", v.type_str())),
            }
        };
        let mut files: [Option<PathBuf>; 4] = Default::default();
        for (i, c) in COLUMNS.iter().enumerate() {
            files[i] = text(c)?.map(|f| dir.join(f));
        }
        for required in ["cpu", "mem_free"] {
            if t.get(required).is_none() {
                return Err(format!(
                    "`{required}` is missing: name the query_range response file of the column, e.g. {required} = \"{required}.json\""
                ));
            }
        }
        let host_label = text("host_label")?.unwrap_or_else(|| "instance".into());
        let cohort = match (text("cohort_label")?, t.get("canary_values")) {
            (None, None) => None,
            (Some(l), Some(v)) => {
                let values = v
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|x| x.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or("`canary_values` must be a list of strings")?;
                Some((l, values))
            }
            _ => {
                return Err(
                    "`cohort_label` and `canary_values` go together: the label whose value says the host's build, and the values meaning canary".into(),
                );
            }
        };
        Ok(Self {
            files,
            host_label,
            cohort,
        })
    }

    /// The file of the `cpu` column (the stream's file in reports).
    pub fn main_file(&self) -> &Path {
        self.files[0].as_deref().unwrap_or(Path::new("cpu.json"))
    }
}

/// One joined row: per column a value (absent: `None`), and whether the host is canary.
type Row = ([Option<f64>; 4], bool);

/// Reads one response file into `rows`, keyed by (timestamp, host).
fn read_file(
    spec: &PromInfraSpec,
    col: usize,
    path: &Path,
    rows: &mut BTreeMap<(Millis, String), Row>,
) -> Result<(), InputError> {
    let err = |p: String| InputError::file(path, p);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut super::text::open_raw(path)?, &mut text)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "not JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    if v["status"] != "success" {
        return Err(err(format!(
            "the response's status is {} (expected \"success\"): {}",
            v["status"], v["error"]
        )));
    }
    if v["data"]["resultType"] != "matrix" {
        return Err(err(format!(
            "data.resultType is {}; a query_range response (matrix) is expected",
            v["data"]["resultType"]
        )));
    }
    let result = v["data"]["result"]
        .as_array()
        .ok_or_else(|| err("data.result is not a list".into()))?;
    for (i, series) in result.iter().enumerate() {
        let metric = &series["metric"];
        let host = metric[&spec.host_label].as_str().ok_or_else(|| {
            err(format!(
                "series {} ({metric}) has no label `{}` (set host_label to the label naming the host)",
                i + 1,
                spec.host_label
            ))
        })?;
        let canary = spec.cohort.as_ref().is_some_and(|(label, values)| {
            metric[label]
                .as_str()
                .is_some_and(|v| values.iter().any(|c| c == v))
        });
        let values = series["values"]
            .as_array()
            .ok_or_else(|| err(format!("series {} ({metric}) has no `values` list", i + 1)))?;
        for (j, pair) in values.iter().enumerate() {
            let at = || format!("series {} ({metric}), value {}", i + 1, j + 1);
            let (Some(t), Some(x)) = (pair[0].as_f64(), pair[1].as_str()) else {
                return Err(err(format!(
                    "{}: {pair} is not [unix seconds, \"value\"]",
                    at()
                )));
            };
            let ts = (t * 1000.0).round() as Millis;
            let value = match x {
                "NaN" | "+Inf" | "-Inf" | "Inf" => None,
                other => Some(
                    other
                        .parse::<f64>()
                        .map_err(|_| err(format!("{}: `{other}` is not a number", at())))?,
                ),
            };
            let row = rows
                .entry((ts, host.to_string()))
                .or_insert(([None; 4], canary));
            row.0[col] = value.filter(|v| v.is_finite());
        }
    }
    Ok(())
}

/// The [`Table`] adapter over the response files.
pub struct PromInfraTable {
    spec: PromInfraSpec,
}

impl PromInfraTable {
    pub fn open(spec: &PromInfraSpec) -> Result<Self, InputError> {
        for p in spec.files.iter().flatten() {
            if !p.is_file() {
                return Err(InputError::file(
                    p,
                    "the query_range response named in dataset.toml's [infra_prometheus] does not exist",
                ));
            }
        }
        Ok(Self { spec: spec.clone() })
    }
}

impl Table for PromInfraTable {
    fn for_each_row(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        f: &mut RowFn<'_>,
    ) -> Result<ReadStats, InputError> {
        let mut rows = BTreeMap::new();
        for (i, p) in self.spec.files.iter().enumerate() {
            if let Some(p) = p {
                read_file(&self.spec, i, p, &mut rows)?;
            }
        }
        let present: Vec<bool> = columns
            .iter()
            .map(|c| match COLUMNS.iter().position(|x| *x == c.name) {
                Some(i) => self.spec.files[i].is_some(),
                None => c.name == "ts" || (c.name == "cohort" && self.spec.cohort.is_some()),
            })
            .collect();
        let mut stats = ReadStats {
            present: present.clone(),
            ..ReadStats::default()
        };
        for (n, ((ts, host), (values, canary))) in rows.iter().enumerate() {
            // A step no required column has is no sample at all.
            if values[0].is_none() && values[1].is_none() {
                continue;
            }
            let missing = [0, 1].into_iter().find(|&i| values[i].is_none());
            let result = match missing {
                Some(i) => {
                    let file = self.spec.files[i].clone().unwrap_or_default();
                    let problem = format!(
                        "missing required value: {} has no value (a missing step, NaN or Inf) for {}=\"{host}\" at {}",
                        file.file_name().unwrap_or_default().to_string_lossy(),
                        self.spec.host_label,
                        crate::time::format_rfc3339(*ts)
                    );
                    Err(RowProblem::new(COLUMNS[i], problem))
                }
                None => {
                    let cells: Vec<Cell> = columns
                        .iter()
                        .map(|c| match c.name {
                            "ts" => Cell::Ts(*ts),
                            "cohort" if self.spec.cohort.is_some() => {
                                Cell::Str(if *canary { "canary" } else { "baseline" }.into())
                            }
                            name => match COLUMNS.iter().position(|x| *x == name) {
                                Some(i) => values[i].map_or(Cell::Null, Cell::Float),
                                None => Cell::Null,
                            },
                        })
                        .collect();
                    f(&cells)
                }
            };
            super::handle_row(
                result,
                self.spec.main_file(),
                RowLoc::Row(n as u64 + 1),
                on_error,
                &mut stats,
            )?;
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path, extra: &str) -> PromInfraSpec {
        let t: toml::Table = toml::from_str(&format!(
            "cpu = \"cpu.json\"\nmem_free = \"mem.json\"\n{extra}"
        ))
        .unwrap();
        PromInfraSpec::from_toml(dir, &t).unwrap()
    }

    /// A series for the test responses: host, `track` label, (seconds, value) pairs.
    type Series<'a> = (&'a str, &'a str, &'a [(f64, &'a str)]);

    fn matrix(series: &[Series]) -> String {
        let result: Vec<String> = series
            .iter()
            .map(|(host, track, values)| {
                let v: Vec<String> = values
                    .iter()
                    .map(|(t, x)| format!("[{t},\"{x}\"]"))
                    .collect();
                format!(
                    "{{\"metric\":{{\"instance\":\"{host}\",\"track\":\"{track}\"}},\"values\":[{}]}}",
                    v.join(",")
                )
            })
            .collect();
        format!(
            "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{}]}}}}",
            result.join(",")
        )
    }

    fn rows(
        t: &mut PromInfraTable,
        on_error: OnError,
    ) -> Result<(Vec<String>, ReadStats), InputError> {
        let cols = [
            ColumnSpec::required("ts"),
            ColumnSpec::required("cpu"),
            ColumnSpec::required("mem_free"),
            ColumnSpec::optional("cohort"),
        ];
        let mut out = Vec::new();
        let stats = t.for_each_row(&cols, on_error, &mut |c: &[Cell]| {
            out.push(format!("{:?}", c));
            Ok(())
        })?;
        Ok((out, stats))
    }

    #[test]
    fn files_join_by_host_and_time_and_nan_is_absent() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("cpu.json"),
            matrix(&[
                ("b:9100", "canary", &[(60.0, "0.5"), (120.0, "NaN")]),
                ("a:9100", "stable", &[(60.0, "0.25"), (120.0, "0.3")]),
            ]),
        )
        .unwrap();
        std::fs::write(
            d.path().join("mem.json"),
            matrix(&[
                ("a:9100", "stable", &[(60.0, "0.7"), (120.0, "0.6")]),
                ("b:9100", "canary", &[(60.0, "0.4"), (120.0, "+Inf")]),
            ]),
        )
        .unwrap();
        let s = spec(
            d.path(),
            "cohort_label = \"track\"\ncanary_values = [\"canary\"]",
        );
        let mut t = PromInfraTable::open(&s).unwrap();
        let (r, stats) = rows(&mut t, OnError::Fail).unwrap();
        assert_eq!(
            r,
            [
                "[Ts(60000), Float(0.25), Float(0.7), Str(\"baseline\")]",
                "[Ts(60000), Float(0.5), Float(0.4), Str(\"canary\")]",
                "[Ts(120000), Float(0.3), Float(0.6), Str(\"baseline\")]",
            ]
        );
        assert_eq!(stats.present, [true, true, true, true]);
    }

    #[test]
    fn a_step_missing_from_one_required_file_is_an_error_or_a_skip() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("cpu.json"),
            matrix(&[("a", "x", &[(60.0, "0.5"), (120.0, "0.5")])]),
        )
        .unwrap();
        std::fs::write(
            d.path().join("mem.json"),
            matrix(&[("a", "x", &[(60.0, "0.5")])]),
        )
        .unwrap();
        let s = spec(d.path(), "");
        let e = rows(&mut PromInfraTable::open(&s).unwrap(), OnError::Fail)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "cpu.json: row 2, column `mem_free`: missing required value: mem.json has no value"
            ) && e.contains("instance=\"a\" at 1970-01-01T00:02:00.000Z"),
            "{e}"
        );
        let (r, stats) = rows(&mut PromInfraTable::open(&s).unwrap(), OnError::Skip).unwrap();
        assert_eq!((r.len(), stats.skipped), (1, 1));
        assert_eq!(stats.present, [true, true, true, false]);
    }

    #[test]
    fn bad_responses_and_sections_are_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("cpu.json"),
            "{\"status\":\"error\",\"error\":\"bad query\"}",
        )
        .unwrap();
        std::fs::write(d.path().join("mem.json"), matrix(&[])).unwrap();
        let e = rows(
            &mut PromInfraTable::open(&spec(d.path(), "")).unwrap(),
            OnError::Skip,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cpu.json") && e.contains("bad query"), "{e}");
        std::fs::write(
            d.path().join("cpu.json"),
            matrix(&[("a", "x", &[(60.0, "1")])]).replace("instance", "host"),
        )
        .unwrap();
        let e = rows(
            &mut PromInfraTable::open(&spec(d.path(), "")).unwrap(),
            OnError::Skip,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("has no label `instance`"), "{e}");
        let t: toml::Table = toml::from_str("cpu = \"c\"\nmemfree = \"m\"").unwrap();
        let e = PromInfraSpec::from_toml(d.path(), &t).unwrap_err();
        assert!(e.contains("did you mean `mem_free`"), "{e}");
        let t: toml::Table =
            toml::from_str("cpu = \"c\"\nmem_free = \"m\"\ncohort_label = \"t\"").unwrap();
        assert!(
            PromInfraSpec::from_toml(d.path(), &t)
                .unwrap_err()
                .contains("go together")
        );
    }
}
