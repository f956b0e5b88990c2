//! A dataset directory: its manifest (`dataset.toml`, whose `start` is T0) and at most
//! one file per stream, in any of the five encodings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Encoding, InputError};
use crate::input::{Millis, Stream};
use crate::time::parse_rfc3339;

/// What a dataset directory holds.
#[derive(Clone, Debug)]
pub struct DatasetDir {
    pub dir: PathBuf,
    /// The manifest's `start`, when it has one.
    pub start: Option<Millis>,
    pub notes: Option<String>,
    /// One file per present stream.
    pub streams: BTreeMap<Stream, (PathBuf, Encoding)>,
    /// The manifest's `[access_log]` section: the `requests` stream is read from a
    /// web-server access log (its entry in `streams` has [`Encoding::AccessLog`]).
    pub access_log: Option<crate::source::accesslog::AccessLogSpec>,
    /// The manifest's `[infra_prometheus]` section: the `infra` stream is read from
    /// Prometheus `query_range` responses (its entry in `streams` has
    /// [`Encoding::PrometheusMatrix`]).
    pub infra_prometheus: Option<crate::source::prometheus::PromInfraSpec>,
}

impl DatasetDir {
    pub fn open(dir: &Path) -> Result<Self, InputError> {
        let ds_err = |p: String| InputError::Dataset {
            dir: dir.to_path_buf(),
            problem: p,
        };
        if !dir.is_dir() {
            return Err(ds_err("not a dataset directory (expected a directory holding dataset.toml and stream files)".into()));
        }
        let mut streams: BTreeMap<Stream, (PathBuf, Encoding)> = BTreeMap::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| ds_err(format!("cannot list: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            let Some((stream, enc)) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(stream_file)
            else {
                continue;
            };
            if !path.is_file() {
                continue;
            }
            if let Some((other, _)) = streams.get(&stream) {
                return Err(ds_err(format!(
                    "two files for the stream `{}`: {} and {}; keep one",
                    stream.as_str(),
                    other.file_name().unwrap_or_default().to_string_lossy(),
                    path.file_name().unwrap_or_default().to_string_lossy()
                )));
            }
            streams.insert(stream, (path, enc));
        }
        let manifest = dir.join("dataset.toml");
        let Manifest {
            start,
            notes,
            access_log,
            infra_prometheus,
        } = if manifest.is_file() {
            read_manifest(&manifest)?
        } else {
            Manifest::default()
        };
        if let Some(spec) = &access_log {
            if let Some((other, _)) = streams.get(&Stream::Requests) {
                return Err(ds_err(format!(
                    "two sources for the stream `requests`: {} and the access log {} named in dataset.toml; keep one",
                    other.file_name().unwrap_or_default().to_string_lossy(),
                    spec.file.display()
                )));
            }
            streams.insert(Stream::Requests, (spec.file.clone(), Encoding::AccessLog));
        }
        if let Some(spec) = &infra_prometheus {
            if let Some((other, _)) = streams.get(&Stream::Infra) {
                return Err(ds_err(format!(
                    "two sources for the stream `infra`: {} and the Prometheus responses named in dataset.toml's [infra_prometheus]; keep one",
                    other.file_name().unwrap_or_default().to_string_lossy()
                )));
            }
            streams.insert(
                Stream::Infra,
                (spec.main_file().to_path_buf(), Encoding::PrometheusMatrix),
            );
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            start,
            notes,
            streams,
            access_log,
            infra_prometheus,
        })
    }

    /// Opens a present stream's file with its adapter (the access log's for `requests`
    /// when the manifest names one).
    pub fn open_stream(
        &self,
        stream: Stream,
        batch_rows: usize,
    ) -> Result<Option<Box<dyn super::Table>>, InputError> {
        let Some((path, enc)) = self.streams.get(&stream) else {
            return Ok(None);
        };
        if *enc == Encoding::AccessLog
            && let Some(spec) = &self.access_log
        {
            return Ok(Some(Box::new(super::accesslog::AccessLogTable::open(
                spec,
            )?)));
        }
        if *enc == Encoding::PrometheusMatrix
            && let Some(spec) = &self.infra_prometheus
        {
            return Ok(Some(Box::new(super::prometheus::PromInfraTable::open(
                spec,
            )?)));
        }
        super::open_table(path, *enc, batch_rows).map(Some)
    }

    /// Sets the synthetic user-agent markers the access log uses when the manifest
    /// names none (the policy's `analytics.synthetic_user_agents`).
    pub fn set_policy_markers(&mut self, markers: &[String]) {
        if let Some(spec) = &mut self.access_log {
            spec.policy_markers = markers.to_vec();
        }
    }
}

/// The stream and encoding of a stream file's name: `STREAM.EXT` with one of the five
/// extensions, or `STREAM.EXT.gz` for the text encodings (CSV, NDJSON).
pub fn stream_file(name: &str) -> Option<(Stream, Encoding)> {
    let (body, gz) = match name.rsplit_once('.') {
        Some((body, "gz")) => (body, true),
        _ => (name, false),
    };
    let (stem, ext) = body.rsplit_once('.')?;
    let stream = Stream::ALL.into_iter().find(|s| s.as_str() == stem)?;
    let enc = Encoding::from_extension(ext)?;
    if gz && !matches!(enc, Encoding::Csv | Encoding::Ndjson) {
        return None;
    }
    Some((stream, enc))
}

/// The keys a manifest may hold.
pub const MANIFEST_KEYS: &[&str] = &["start", "notes", "access_log", "infra_prometheus", "label"];

/// What a manifest says.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    pub start: Option<Millis>,
    pub notes: Option<String>,
    pub access_log: Option<crate::source::accesslog::AccessLogSpec>,
    pub infra_prometheus: Option<crate::source::prometheus::PromInfraSpec>,
}

/// Compression extensions rehearse does not read, with the command that undoes each.
const COMPRESSED: &[(&str, &str)] = &[
    ("gz", "gunzip"),
    ("zst", "unzstd"),
    ("bz2", "bunzip2"),
    ("xz", "unxz"),
    ("zip", "unzip"),
];

impl DatasetDir {
    /// For a stream the directory lacks: the files in it that look like the stream's
    /// (its name in other case, singular or plural, compressed, another extension), each
    /// with why it was not read, as "; found ..." to add to the error. Empty when none.
    pub fn lookalikes(&self, stream: Stream) -> String {
        let want = stream.as_str();
        let singular = want.strip_suffix('s').unwrap_or(want);
        let mut entries: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        let why: Vec<String> = entries
            .iter()
            .filter_map(|name| {
                let (stem, rest) = name.split_once('.').unwrap_or((name, ""));
                let lower = stem.to_lowercase();
                if lower != want && lower != singular && lower != format!("{want}s") {
                    return None;
                }
                let exts: Vec<&str> = rest.split('.').collect();
                let ext = exts.first().copied().unwrap_or("");
                let known = Encoding::from_extension(&ext.to_lowercase()).is_some();
                let reason = if let Some((c, cmd)) = exts
                    .last()
                    .and_then(|l| COMPRESSED.iter().find(|(c, _)| l.eq_ignore_ascii_case(c)))
                {
                    if *c == "gz" && lower == want && stem == want {
                        format!(
                            "only CSV and NDJSON files are read gzip-compressed; Parquet and Arrow files compress inside (decompress it: {cmd} {name})"
                        )
                    } else if *c == "gz" {
                        format!(
                            "the stream's file is named `{want}` (rename it to {want}.{}.gz)",
                            ext.to_lowercase()
                        )
                    } else {
                        format!(
                            "of compressed files only gzip (`.gz`) is read (decompress it: {cmd} {name}, or recompress it with gzip)"
                        )
                    }
                } else if lower != want {
                    format!(
                        "the stream's file is named `{want}` (rename it to {want}.{})",
                        ext.to_lowercase()
                    )
                } else if stem != want || (known && Encoding::from_extension(ext).is_none()) {
                    format!(
                        "file names are lower case (rename it to {want}.{})",
                        ext.to_lowercase()
                    )
                } else if !known || exts.len() > 1 {
                    format!(
                        "`.{rest}` is not one of the encodings (csv, ndjson, jsonl, parquet, arrow)"
                    )
                } else {
                    return None;
                };
                Some(format!("`{name}`: {reason}"))
            })
            .collect();
        if why.is_empty() {
            String::new()
        } else {
            format!("; found {}", why.join("; "))
        }
    }
}

/// Reads `start` (a TOML string or datetime; a datetime without offset is read as UTC),
/// `notes` and the `[access_log]` section from a manifest; any other key is an error
/// naming it and the known keys.
pub fn read_manifest(path: &Path) -> Result<Manifest, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| InputError::file(path, format!("not valid TOML: {e}")))?;
    if let Some(key) = table.keys().find(|k| !MANIFEST_KEYS.contains(&k.as_str())) {
        let near = crate::suggest::nearest(key, MANIFEST_KEYS.iter().copied())
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        return Err(InputError::file(
            path,
            format!(
                "unknown key `{key}` ({near}the manifest's keys are {}; put other notes in `notes`)",
                MANIFEST_KEYS
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let start = match table.get("start") {
        None => None,
        Some(toml::Value::String(s)) => Some(parse_manifest_time(s).ok_or_else(|| {
            InputError::file(
                path,
                format!(
                    "key `start`: `{s}` is not an RFC 3339 timestamp such as 2026-03-02T10:00:00Z"
                ),
            )
        })?),
        Some(toml::Value::Datetime(d)) => {
            let s = d.to_string();
            Some(parse_manifest_time(&s).ok_or_else(|| {
                InputError::file(
                    path,
                    format!(
                        "key `start`: `{s}` needs a date and a time, e.g. 2026-03-02T10:00:00Z"
                    ),
                )
            })?)
        }
        Some(other) => {
            return Err(InputError::file(
                path,
                format!(
                    "key `start`: expected a timestamp string, found {}",
                    other.type_str()
                ),
            ));
        }
    };
    let notes = table
        .get("notes")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let access_log = match table.get("access_log") {
        None => None,
        Some(toml::Value::Table(t)) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            Some(
                crate::source::accesslog::AccessLogSpec::from_toml(dir, t)
                    .map_err(|p| InputError::file(path, format!("[access_log]: {p}")))?,
            )
        }
        Some(other) => {
            return Err(InputError::file(
                path,
                format!(
                    "key `access_log`: expected a table ([access_log] with file, format, ...), found {}",
                    other.type_str()
                ),
            ));
        }
    };
    let infra_prometheus = match table.get("infra_prometheus") {
        None => None,
        Some(toml::Value::Table(t)) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            Some(
                crate::source::prometheus::PromInfraSpec::from_toml(dir, t)
                    .map_err(|p| InputError::file(path, format!("[infra_prometheus]: {p}")))?,
            )
        }
        Some(other) => {
            return Err(InputError::file(
                path,
                format!(
                    "key `infra_prometheus`: expected a table ([infra_prometheus] with cpu, mem_free, ...), found {}",
                    other.type_str()
                ),
            ));
        }
    };
    Ok(Manifest {
        start,
        notes,
        access_log,
        infra_prometheus,
    })
}

fn parse_manifest_time(s: &str) -> Option<Millis> {
    parse_rfc3339(s).or_else(|| parse_rfc3339(&format!("{s}Z")))
}

/// The keys of a manifest's `[label]` table (`rehearse tune`'s truth about a dataset).
pub const LABEL_KEYS: &[&str] = &["kind", "stage", "fault_start", "stop_by"];

/// What a dataset is known to hold, for `rehearse tune`: an incident the rollout should
/// stop, or a clean rollout it should let through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Label {
    /// A fault began at `fault_start`; the rollout should be stopped (held or rolled
    /// back) in `stage` at the latest, and by `stop_by` when given (otherwise by that
    /// stage's end).
    Incident {
        stage: String,
        fault_start: Millis,
        stop_by: Option<Millis>,
    },
    /// Nothing is wrong: every stop is a false stop.
    Clean,
}

/// Reads the `[label]` table of a manifest, if it has one. Its keys are `kind`
/// (`incident` or `clean`), and for an incident `stage`, `fault_start` and optionally
/// `stop_by` (timestamps as `start` takes them); any other key, a missing one or a bad
/// value is an error naming it.
pub fn read_label(path: &Path) -> Result<Option<Label>, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| InputError::file(path, format!("not valid TOML: {e}")))?;
    let Some(label) = table.get("label") else {
        return Ok(None);
    };
    let bad = |m: String| InputError::file(path, m);
    let label = label.as_table().ok_or_else(|| {
        bad(format!(
            "key `label`: expected a table ([label]), found {}",
            label.type_str()
        ))
    })?;
    if let Some(key) = label.keys().find(|k| !LABEL_KEYS.contains(&k.as_str())) {
        let near = crate::suggest::nearest(key, LABEL_KEYS.iter().copied())
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        return Err(bad(format!(
            "unknown key `label.{key}` ({near}a label's keys are {})",
            LABEL_KEYS
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let time = |key: &str| -> Result<Option<Millis>, InputError> {
        match label.get(key) {
            None => Ok(None),
            Some(v) => {
                let s = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Datetime(d) => d.to_string(),
                    other => {
                        return Err(bad(format!(
                            "key `label.{key}`: expected a timestamp string, found {}",
                            other.type_str()
                        )));
                    }
                };
                parse_manifest_time(&s).map(Some).ok_or_else(|| {
                    bad(format!(
                        "key `label.{key}`: `{s}` is not an RFC 3339 timestamp such as 2026-03-02T12:40:00Z"
                    ))
                })
            }
        }
    };
    let kind = match label.get("kind") {
        Some(toml::Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(bad(format!(
                "key `label.kind`: expected \"incident\" or \"clean\", found {}",
                other.type_str()
            )));
        }
        None => {
            return Err(bad(
                "key `label.kind` is missing: write kind = \"incident\" or kind = \"clean\"".into(),
            ));
        }
    };
    match kind {
        "clean" => {
            if let Some(key) = ["stage", "fault_start", "stop_by"]
                .iter()
                .find(|k| label.contains_key(**k))
            {
                return Err(bad(format!(
                    "key `label.{key}`: a clean dataset has no fault; remove it or write kind = \"incident\""
                )));
            }
            Ok(Some(Label::Clean))
        }
        "incident" => {
            let stage = match label.get("stage") {
                Some(toml::Value::String(s)) if !s.is_empty() => s.clone(),
                Some(other) => {
                    return Err(bad(format!(
                        "key `label.stage`: expected a stage name such as \"ramp-25\", found {other}"
                    )));
                }
                None => {
                    return Err(bad(
                        "key `label.stage` is missing: an incident names the stage that should stop it, e.g. stage = \"ramp-25\"".into(),
                    ));
                }
            };
            let fault_start = time("fault_start")?.ok_or_else(|| {
                bad("key `label.fault_start` is missing: an incident says when its fault began, e.g. fault_start = \"2026-03-02T12:40:00Z\"".into())
            })?;
            let stop_by = time("stop_by")?;
            if let Some(by) = stop_by
                && by < fault_start
            {
                return Err(bad(
                    "key `label.stop_by`: it is before `label.fault_start`; the rollout must be stopped after the fault begins".into(),
                ));
            }
            Ok(Some(Label::Incident {
                stage,
                fault_start,
                stop_by,
            }))
        }
        other => Err(bad(format!(
            "key `label.kind`: `{other}` is neither \"incident\" nor \"clean\""
        ))),
    }
}
