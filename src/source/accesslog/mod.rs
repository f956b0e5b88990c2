//! Web-server access logs as the `requests` stream: the manifest's `[access_log]`
//! section (which file, which format — nginx `log_format`, Envoy default or custom, AWS
//! ALB — and the mapping rules for cohort and source), and the [`Table`] adapter that
//! reads the log line by line (plain or `.gz`) and hands each line over as one request:
//! `ts` is when the request completed, `endpoint` the path without its query, `cohort`
//! from a field's value, `source` synthetic when the user agent holds a marker.

pub mod format;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use regex::Regex;

use super::cell::Cell;
use super::{
    ColumnSpec, InputError, OnError, ReadStats, RequestFn, RequestRow, RowFn, RowLoc, RowProblem,
    Table, handle_row,
};
use crate::input::{Cohort, Millis, Source, prefix_index};
use crate::time::parse_rfc3339;
use format::{ALB_FIELDS, Template};

/// The synthetic user-agent markers when neither the manifest nor the policy names any
/// (the default policy's `analytics.synthetic_user_agents`).
pub const DEFAULT_MARKERS: &[&str] = &["SyntheticCanary", "DatadogSynthetics"];

/// The keys of the `[access_log]` section.
pub const KEYS: &[&str] = &[
    "file",
    "format",
    "log_format",
    "cohort",
    "cohort_field",
    "canary_values",
    "canary_regex",
    "synthetic_user_agents",
];

/// Which server wrote the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    Nginx,
    Envoy,
    Alb,
}

/// How a request's cohort is found.
#[derive(Clone, Debug)]
pub enum CohortRule {
    /// Every request is of this cohort.
    All(Cohort),
    /// Canary when the field's value is one of these (for a list such as nginx's
    /// `$upstream_addr` after retries, `10.0.0.1:80, 10.0.0.2:80`, when its last
    /// element — the server that answered — is), else baseline.
    Values { field: usize, values: Vec<String> },
    /// Canary when the regex matches the field's value anywhere, else baseline.
    Regex { field: usize, regex: Regex },
}

/// Where each value the requests stream needs is found among a line's fields.
#[derive(Clone, Debug)]
struct Fields {
    ts: TsField,
    /// The request line (`GET /p?q HTTP/1.1`), or a URI or path (query cut off).
    endpoint: (usize, EndpointKind),
    status: usize,
    latency: LatencyField,
    user_agent: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
enum TsField {
    NginxMsec(usize),
    NginxIso(usize),
    NginxLocal(usize),
    /// Envoy: `%START_TIME%` plus `%DURATION%` (milliseconds).
    EnvoyStart {
        start: usize,
        duration: usize,
    },
    AlbTime,
}

#[derive(Clone, Copy, Debug)]
enum EndpointKind {
    RequestLine,
    Uri,
}

#[derive(Clone, Copy, Debug)]
enum LatencyField {
    /// nginx `$request_time`: seconds with millisecond resolution.
    Seconds(usize),
    /// nginx `$upstream_response_time`: a list of seconds (`-` for none), summed.
    SecondsList(usize),
    /// Envoy `%DURATION%`: whole milliseconds.
    Millis(usize),
    /// ALB: the three processing times, summed; `-1` in any is "no response".
    Alb,
}

/// A parsed `[access_log]` section.
#[derive(Clone, Debug)]
pub struct AccessLogSpec {
    /// The log file, resolved against the dataset directory.
    pub file: PathBuf,
    pub kind: LogKind,
    template: Option<Template>,
    fields: Fields,
    cohort: CohortRule,
    /// The synthetic markers the manifest names; `None` to take the policy's.
    pub markers: Option<Vec<String>>,
    /// The markers the policy gives when the manifest names none.
    pub policy_markers: Vec<String>,
}

fn names(list: &[&str]) -> String {
    list.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn string_list(v: &toml::Value, key: &str) -> Result<Vec<String>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("`{key}` must be a list of strings"))?;
    arr.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{key}` must be a list of strings, found {x}"))
        })
        .collect()
}

impl AccessLogSpec {
    /// Reads the `[access_log]` table of a manifest in `dir`. The problem is worded for
    /// "key `access_log`: ...".
    pub fn from_toml(dir: &Path, t: &toml::Table) -> Result<Self, String> {
        if let Some(key) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let near = crate::suggest::nearest(key, KEYS.iter().copied())
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown key `{key}` ({near}the section's keys are {})",
                names(KEYS)
            ));
        }
        let get_str = |k: &str| -> Result<Option<&str>, String> {
            match t.get(k) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(Some)
                    .ok_or_else(|| format!("`{k}` must be a string, found {}", v.type_str())),
            }
        };
        let file = get_str("file")?
            .ok_or("`file` is missing: name the log file, e.g. file = \"access.log.gz\"")?;
        let kind = match get_str("format")? {
            Some("nginx") => LogKind::Nginx,
            Some("envoy") => LogKind::Envoy,
            Some("alb") => LogKind::Alb,
            Some(other) => {
                return Err(format!(
                    "`format = \"{other}\"` is not one of \"nginx\", \"envoy\", \"alb\""
                ));
            }
            None => return Err("`format` is missing: \"nginx\", \"envoy\" or \"alb\"".into()),
        };
        let log_format = get_str("log_format")?;
        let template = match (kind, log_format) {
            (LogKind::Nginx, Some(f)) => {
                Some(format::nginx(f).map_err(|e| format!("`log_format`: {e}"))?)
            }
            (LogKind::Nginx, None) => {
                return Err("`log_format` is missing: paste the nginx `log_format` string the log was written with".into());
            }
            (LogKind::Envoy, f) => Some(
                format::envoy(f.unwrap_or(format::ENVOY_DEFAULT))
                    .map_err(|e| format!("`log_format`: {e}"))?,
            ),
            (LogKind::Alb, Some(_)) => {
                return Err("`log_format` does not apply to ALB logs, whose fields are positional (remove it)".into());
            }
            (LogKind::Alb, None) => None,
        };
        let fields = match (&template, kind) {
            (Some(t), LogKind::Nginx) => nginx_fields(t)?,
            (Some(t), _) => envoy_fields(t)?,
            (None, _) => alb_fields(),
        };
        let field_of = |name: &str| -> Result<usize, String> {
            match &template {
                Some(t) => t.field_index(name).ok_or_else(|| {
                    format!(
                        "`cohort_field = \"{name}\"` is not in the format (its fields: {})",
                        t.fields().collect::<Vec<_>>().join(" ")
                    )
                }),
                None => ALB_FIELDS.iter().position(|f| *f == name).ok_or_else(|| {
                    format!(
                        "`cohort_field = \"{name}\"` is not an ALB field (they are {})",
                        names(ALB_FIELDS)
                    )
                }),
            }
        };
        let cohort = match (
            get_str("cohort")?,
            get_str("cohort_field")?,
            t.get("canary_values"),
            get_str("canary_regex")?,
        ) {
            (Some(c), None, None, None) => {
                CohortRule::All(Cohort::parse(c).ok_or_else(|| {
                    format!("`cohort = \"{c}\"` is not \"canary\" or \"baseline\"")
                })?)
            }
            (None, Some(f), Some(v), None) => CohortRule::Values {
                field: field_of(f)?,
                values: string_list(v, "canary_values")?,
            },
            (None, Some(f), None, Some(r)) => CohortRule::Regex {
                field: field_of(f)?,
                regex: Regex::new(r).map_err(|e| format!("`canary_regex`: {e}"))?,
            },
            _ => {
                return Err("say which requests the canary served: either `cohort = \"canary\"` (or \"baseline\") for the whole log, or `cohort_field` with one of `canary_values` (a list) or `canary_regex`".into());
            }
        };
        let markers = t
            .get("synthetic_user_agents")
            .map(|v| string_list(v, "synthetic_user_agents"))
            .transpose()?;
        Ok(Self {
            file: dir.join(file),
            kind,
            template,
            fields,
            cohort,
            markers,
            policy_markers: DEFAULT_MARKERS.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn markers(&self) -> &[String] {
        self.markers.as_deref().unwrap_or(&self.policy_markers)
    }

    /// The name of field `i` for error messages.
    fn field_name(&self, i: usize) -> &str {
        match &self.template {
            Some(t) => t.fields().nth(i).unwrap_or("?"),
            None => ALB_FIELDS.get(i).copied().unwrap_or("?"),
        }
    }
}

fn need(t: &Template, names: &[&str], what: &str) -> Result<usize, String> {
    names
        .iter()
        .find_map(|n| t.field_index(n))
        .ok_or_else(|| format!("`log_format` has none of {} ({what})", names.join(", ")))
}

fn nginx_fields(t: &Template) -> Result<Fields, String> {
    let ts = if let Some(i) = t.field_index("$msec") {
        TsField::NginxMsec(i)
    } else if let Some(i) = t.field_index("$time_iso8601") {
        TsField::NginxIso(i)
    } else if let Some(i) = t.field_index("$time_local") {
        TsField::NginxLocal(i)
    } else {
        return Err("`log_format` has none of $msec, $time_iso8601, $time_local (when the request completed)".into());
    };
    let endpoint = if let Some(i) = t.field_index("$request_uri") {
        (i, EndpointKind::Uri)
    } else if let Some(i) = t.field_index("$request") {
        (i, EndpointKind::RequestLine)
    } else {
        (need(t, &["$uri"], "the request path")?, EndpointKind::Uri)
    };
    let latency = if let Some(i) = t.field_index("$request_time") {
        LatencyField::Seconds(i)
    } else {
        LatencyField::SecondsList(need(
            t,
            &["$request_time", "$upstream_response_time"],
            "the latency",
        )?)
    };
    Ok(Fields {
        ts,
        endpoint,
        status: need(t, &["$status"], "the response status")?,
        latency,
        user_agent: t.field_index("$http_user_agent"),
    })
}

fn envoy_fields(t: &Template) -> Result<Fields, String> {
    let start = need(t, &["%START_TIME%"], "when the request started")?;
    let duration = need(t, &["%DURATION%"], "the request's duration")?;
    Ok(Fields {
        ts: TsField::EnvoyStart { start, duration },
        endpoint: (
            need(
                t,
                &[
                    "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                    "%REQ(:PATH)%",
                    "%PATH%",
                ],
                "the request path",
            )?,
            EndpointKind::Uri,
        ),
        status: need(t, &["%RESPONSE_CODE%"], "the response status")?,
        latency: LatencyField::Millis(duration),
        user_agent: t.field_index("%REQ(USER-AGENT)%"),
    })
}

fn alb_fields() -> Fields {
    let at = |n: &str| ALB_FIELDS.iter().position(|f| *f == n).unwrap_or(0);
    Fields {
        ts: TsField::AlbTime,
        endpoint: (at("request"), EndpointKind::RequestLine),
        status: at("elb_status_code"),
        latency: LatencyField::Alb,
        user_agent: Some(at("user_agent")),
    }
}

/// One access log line as a request (the endpoint borrowed from the line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRequest<'l> {
    pub ts: Millis,
    pub endpoint: &'l str,
    pub cohort: Cohort,
    pub source: Source,
    pub status: u16,
    pub latency_us: u64,
}

/// Decimal seconds (`0.123`, `12`, up to microsecond digits; more are rounded half-up)
/// in microseconds.
fn seconds_us(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut us: u64 = int.parse::<u64>().ok()?.checked_mul(1_000_000)?;
    let digits = frac.as_bytes();
    let mut scale = 100_000;
    for d in digits.iter().take(6) {
        us = us.checked_add(u64::from(d - b'0') * scale)?;
        scale /= 10;
    }
    if digits.len() > 6 && digits[6] >= b'5' {
        us = us.checked_add(1)?;
    }
    Some(us)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// nginx `$time_local`: `05/Dec/2026:11:05:32 +0000`.
fn time_local(s: &str) -> Option<Millis> {
    let (dt, off) = s.split_once(' ')?;
    let mut p = dt.splitn(3, '/');
    let day = p.next()?;
    let name = p.next()?;
    let mon = MONTHS.iter().position(|m| *m == name)? + 1;
    let rest = p.next()?;
    let (year, time) = rest.split_once(':')?;
    if off.len() != 5 || !off.is_ascii() {
        return None;
    }
    parse_rfc3339(&format!(
        "{year}-{mon:02}-{day}T{time}{}:{}",
        &off[..3],
        &off[3..]
    ))
}

/// The path of a URI (`/p?q`, `http://host/p?q`) without query or fragment.
fn path_of(uri: &str) -> &str {
    let uri = match uri.find("://") {
        Some(i) => {
            let after = &uri[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => uri,
    };
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    &uri[..end]
}

impl AccessLogSpec {
    /// Decodes one line (already split into fields) into a request; a problem names
    /// the field.
    fn decode<'l>(&self, v: &[&'l str]) -> Result<LogRequest<'l>, RowProblem> {
        let get = |i: usize| -> Result<&str, RowProblem> {
            v.get(i).copied().ok_or_else(|| {
                RowProblem::new(
                    self.field_name(i),
                    format!("the line has {} fields, this is field {}", v.len(), i + 1),
                )
            })
        };
        let bad = |i: usize, what: String| RowProblem::new(self.field_name(i), what);
        // Latency first: ALB's `-1` changes the status.
        let (latency_us, no_response) = match self.fields.latency {
            LatencyField::Seconds(i) => {
                let s = get(i)?;
                (
                    seconds_us(s)
                        .ok_or_else(|| bad(i, format!("`{s}` is not a number of seconds")))?,
                    false,
                )
            }
            LatencyField::SecondsList(i) => {
                let s = get(i)?;
                let mut sum = 0u64;
                for part in s.split([',', ':']).map(str::trim) {
                    if part == "-" {
                        continue;
                    }
                    sum = seconds_us(part)
                        .and_then(|us| sum.checked_add(us))
                        .ok_or_else(|| {
                            bad(i, format!("`{part}` in `{s}` is not a number of seconds"))
                        })?;
                }
                (sum, false)
            }
            LatencyField::Millis(i) => {
                let s = get(i)?;
                let us = s
                    .parse::<u64>()
                    .ok()
                    .and_then(|ms| ms.checked_mul(1000))
                    .ok_or_else(|| bad(i, format!("`{s}` is not whole milliseconds")))?;
                (us, false)
            }
            LatencyField::Alb => {
                let mut sum = 0u64;
                let mut none = false;
                for i in 5..8 {
                    let s = get(i)?;
                    if s == "-1" {
                        none = true;
                    } else {
                        sum = seconds_us(s)
                            .and_then(|us| sum.checked_add(us))
                            .ok_or_else(|| bad(i, format!("`{s}` is not a number of seconds")))?;
                    }
                }
                if none { (0, true) } else { (sum, false) }
            }
        };
        let ts = match self.fields.ts {
            TsField::NginxMsec(i) => {
                let s = get(i)?;
                seconds_us(s)
                    .map(|us| (us / 1000) as Millis)
                    .ok_or_else(|| bad(i, format!("`{s}` is not epoch seconds")))?
            }
            TsField::NginxIso(i) => {
                let s = get(i)?;
                parse_rfc3339(s).ok_or_else(|| bad(i, format!("`{s}` is not an ISO 8601 time")))?
            }
            TsField::NginxLocal(i) => {
                let s = get(i)?;
                time_local(s).ok_or_else(|| {
                    bad(
                        i,
                        format!("`{s}` is not a time such as 05/Dec/2026:11:05:32 +0000"),
                    )
                })?
            }
            TsField::EnvoyStart { start, duration } => {
                let s = get(start)?;
                let t = parse_rfc3339(s).ok_or_else(|| {
                    bad(
                        start,
                        format!("`{s}` is not an RFC 3339 time (Envoy's default START_TIME form)"),
                    )
                })?;
                let d = get(duration)?;
                d.parse::<i64>()
                    .ok()
                    .and_then(|ms| t.checked_add(ms))
                    .ok_or_else(|| bad(duration, format!("`{d}` is not whole milliseconds")))?
            }
            TsField::AlbTime => {
                let s = get(1)?;
                parse_rfc3339(s).ok_or_else(|| bad(1, format!("`{s}` is not an ISO 8601 time")))?
            }
        };
        let si = self.fields.status;
        let status_text = get(si)?;
        let status = match status_text.parse::<u16>() {
            Ok(s @ 100..=599) => s,
            // Envoy writes 0 when no response was sent; ALB `-` with `-1` times.
            Ok(0) if self.kind == LogKind::Envoy => 502,
            _ if no_response => 502,
            _ => {
                return Err(bad(
                    si,
                    format!("`{status_text}` is not an HTTP status in 100..=599"),
                ));
            }
        };
        let status = if no_response && status < 500 {
            502
        } else {
            status
        };
        let latency_us = if self.kind == LogKind::Envoy && status_text == "0" {
            0
        } else {
            latency_us
        };
        let (ei, ek) = self.fields.endpoint;
        let e = get(ei)?;
        let uri = match ek {
            EndpointKind::Uri => e,
            EndpointKind::RequestLine => e.split(' ').nth(1).ok_or_else(|| {
                bad(
                    ei,
                    format!("`{e}` is not a request line such as `GET /path HTTP/1.1`"),
                )
            })?,
        };
        let endpoint = path_of(uri);
        if endpoint.is_empty() || endpoint == "-" {
            return Err(bad(ei, format!("`{e}` has no path")));
        }
        let source = match self.fields.user_agent {
            Some(i) => {
                let ua = get(i)?;
                if self.markers().iter().any(|m| ua.contains(m.as_str())) {
                    Source::Synthetic
                } else {
                    Source::Real
                }
            }
            None => Source::Real,
        };
        let cohort = match &self.cohort {
            CohortRule::All(c) => *c,
            CohortRule::Values { field, values } => {
                let s = get(*field)?;
                // `$upstream_addr` separates retries with `, ` and internal redirects
                // with ` : `; the last address answered.
                let last = s.rsplit(", ").next().unwrap_or(s);
                let last = last.rsplit(" : ").next().unwrap_or(last);
                if values.iter().any(|x| x == s || x == last) {
                    Cohort::Canary
                } else {
                    Cohort::Baseline
                }
            }
            CohortRule::Regex { field, regex } => {
                if regex.is_match(get(*field)?) {
                    Cohort::Canary
                } else {
                    Cohort::Baseline
                }
            }
        };
        Ok(LogRequest {
            ts,
            endpoint,
            cohort,
            source,
            status,
            latency_us,
        })
    }

    /// Decodes one raw line.
    pub fn parse_line<'l>(
        &self,
        line: &'l str,
        buf: &mut Vec<&'l str>,
    ) -> Result<LogRequest<'l>, RowProblem> {
        let split = match &self.template {
            Some(t) => t.split(line, buf),
            None => format::alb_split(line, buf).and_then(|()| {
                if buf.len() < 13 {
                    Err(format!(
                        "an ALB entry has at least 13 fields (up to `request`), this line has {}",
                        buf.len()
                    ))
                } else {
                    Ok(())
                }
            }),
        };
        split.map_err(|e| RowProblem::new("line", e))?;
        self.decode(buf)
    }
}

/// The [`Table`] adapter over an access log file.
pub struct AccessLogTable {
    spec: AccessLogSpec,
}

impl AccessLogTable {
    pub fn open(spec: &AccessLogSpec) -> Result<Self, InputError> {
        if !spec.file.is_file() {
            return Err(InputError::file(
                &spec.file,
                "the access log named by dataset.toml's [access_log] `file` does not exist",
            ));
        }
        Ok(Self { spec: spec.clone() })
    }

    /// Every non-blank line, decoded, with its 1-based line number.
    fn each(
        &mut self,
        on_error: OnError,
        f: &mut dyn FnMut(&LogRequest<'_>) -> Result<(), RowProblem>,
    ) -> Result<ReadStats, InputError> {
        let path = self.spec.file.clone();
        let mut reader = BufReader::with_capacity(1 << 16, super::text::open_text(&path, false)?);
        let mut stats = ReadStats {
            present: vec![true; 6],
            ..ReadStats::default()
        };
        let mut raw = Vec::new();
        // The fields' buffer, kept between lines (emptied, its allocation reused).
        let mut spare: Vec<&'static str> = Vec::with_capacity(32);
        let mut n = 0u64;
        loop {
            raw.clear();
            let got = reader
                .read_until(b'\n', &mut raw)
                .map_err(|e| InputError::file(&path, format!("cannot read: {e}")))?;
            if got == 0 {
                break;
            }
            n += 1;
            let text = String::from_utf8_lossy(&raw);
            let line = text.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            let mut fields: Vec<&str> =
                std::mem::take(&mut spare).into_iter().map(|_| "").collect();
            let r = self
                .spec
                .parse_line(line, &mut fields)
                .and_then(|req| f(&req));
            fields.clear();
            spare = fields.into_iter().map(|_| "").collect();
            handle_row(r, &path, RowLoc::Line(n), on_error, &mut stats)?;
        }
        Ok(stats)
    }
}

impl Table for AccessLogTable {
    fn for_each_row(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        f: &mut RowFn<'_>,
    ) -> Result<ReadStats, InputError> {
        let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
        self.each(on_error, &mut |r| {
            let cells: Vec<Cell> = names
                .iter()
                .map(|n| match *n {
                    "ts" => Cell::Int(r.ts),
                    "endpoint" => Cell::Str(r.endpoint.into()),
                    "cohort" => Cell::Str(r.cohort.as_str().into()),
                    "source" => Cell::Str(r.source.as_str().into()),
                    "status" => Cell::Int(i64::from(r.status)),
                    "latency_ms" => Cell::Float(r.latency_us as f64 / 1000.0),
                    _ => Cell::Null,
                })
                .collect();
            f(&cells)
        })
    }

    fn for_each_request(
        &mut self,
        _columns: &[ColumnSpec],
        on_error: OnError,
        prefixes: &[String],
        f: &mut RequestFn<'_>,
    ) -> Result<ReadStats, InputError> {
        self.each(on_error, &mut |r| {
            f(RequestRow::Decoded {
                ts: r.ts,
                cohort: r.cohort,
                source: r.source,
                status: r.status,
                latency_us: r.latency_us,
                prefix: prefix_index(prefixes, r.endpoint),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> Result<AccessLogSpec, String> {
        let t: toml::Table = toml::from_str(toml_text).unwrap();
        AccessLogSpec::from_toml(Path::new("/d"), &t)
    }

    fn one<'l>(s: &AccessLogSpec, line: &'l str) -> Result<LogRequest<'l>, RowProblem> {
        let mut buf = Vec::new();
        s.parse_line(line, &mut buf)
    }

    #[test]
    fn nginx_lines_become_requests_completed_at_msec() {
        let s = spec(
            r#"file = "access.log"
format = "nginx"
log_format = '$msec "$request" $status $request_time "$http_user_agent" $upstream_addr'
cohort_field = "$upstream_addr"
canary_values = ["127.0.0.1:8082"]
"#,
        )
        .unwrap();
        assert_eq!(s.file, Path::new("/d/access.log"));
        let r = one(
            &s,
            "1772445600.123 \"GET /api/x?a=1 HTTP/1.1\" 503 0.250 \"curl SyntheticCanary/1\" 10.0.0.9:80, 127.0.0.1:8082",
        )
        .unwrap();
        assert_eq!(
            r,
            LogRequest {
                ts: 1_772_445_600_123,
                endpoint: "/api/x",
                cohort: Cohort::Canary,
                source: Source::Synthetic,
                status: 503,
                latency_us: 250_000,
            }
        );
        let r = one(
            &s,
            "1772445600.5 \"GET / HTTP/1.1\" 200 0.001 \"-\" 127.0.0.1:8081",
        )
        .unwrap();
        assert_eq!(
            (r.cohort, r.source, r.latency_us),
            (Cohort::Baseline, Source::Real, 1000)
        );
        let e = one(&s, "1772445600.5 \"GET / HTTP/1.1\" 2x0 0.001 \"-\" -").unwrap_err();
        assert_eq!(e.column, "$status");
        let e = one(&s, "17x \"GET / HTTP/1.1\" 200 0.001 \"-\" -").unwrap_err();
        assert_eq!(e.column, "$msec");
    }

    #[test]
    fn nginx_time_local_iso_and_upstream_times() {
        let s = spec(
            r#"file = "a.log"
format = "nginx"
log_format = '[$time_local] $request_uri $status "$upstream_response_time" $http_x_cohort'
cohort_field = "$http_x_cohort"
canary_regex = "^can"
"#,
        )
        .unwrap();
        let r = one(
            &s,
            "[02/Mar/2026:11:00:00 +0100] /p?q 200 \"0.010, - : 0.005\" canary-1",
        )
        .unwrap();
        assert_eq!(r.ts, parse_rfc3339("2026-03-02T10:00:00Z").unwrap());
        assert_eq!((r.latency_us, r.cohort), (15_000, Cohort::Canary));
        assert_eq!(r.endpoint, "/p");
        let s = spec("file = \"a\"\nformat = \"nginx\"\nlog_format = '$time_iso8601 $uri $status $request_time'\ncohort = \"baseline\"").unwrap();
        let r = one(&s, "2026-03-02T11:00:00+01:00 /x 404 1.5").unwrap();
        assert_eq!(
            (r.ts, r.latency_us),
            (parse_rfc3339("2026-03-02T10:00:00Z").unwrap(), 1_500_000)
        );
    }

    #[test]
    fn envoy_default_ts_is_start_plus_duration() {
        let s = spec("file = \"e.log\"\nformat = \"envoy\"\ncohort_field = \"%UPSTREAM_HOST%\"\ncanary_values = [\"10.0.2.1:80\"]").unwrap();
        let r = one(&s, "[2016-04-15T20:17:00.310Z] \"POST /api/v1/locations?x HTTP/2\" 204 - 154 0 226 100 \"10.0.35.28\" \"nsq2http\" \"cc21d9b0\" \"locations\" \"10.0.2.1:80\"").unwrap();
        assert_eq!(r.ts, parse_rfc3339("2016-04-15T20:17:00.536Z").unwrap());
        assert_eq!(
            (r.status, r.latency_us, r.cohort),
            (204, 226_000, Cohort::Canary)
        );
        assert_eq!(r.endpoint, "/api/v1/locations");
        let r = one(&s, "[2016-04-15T20:17:00.310Z] \"GET /a HTTP/1.1\" 0 DC 0 0 12 - \"-\" \"-\" \"-\" \"a\" \"-\"").unwrap();
        assert_eq!(
            (r.status, r.latency_us, r.cohort),
            (502, 0, Cohort::Baseline)
        );
        let huge = "[2016-04-15T20:17:00.310Z] \"GET /a HTTP/1.1\" 200 - 0 0 9223372036854775807 - \"-\" \"-\" \"-\" \"a\" \"-\"";
        assert_eq!(one(&s, huge).unwrap_err().column, "%DURATION%");
    }

    #[test]
    fn alb_latency_sums_and_minus_one_is_a_5xx_without_latency() {
        let s = spec("file = \"alb.log.gz\"\nformat = \"alb\"\ncohort_field = \"target_group_arn\"\ncanary_regex = \"targetgroup/canary\"").unwrap();
        let line = "https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 \"GET https://www.example.com:443/api/a?x=1 HTTP/1.1\" \"curl/7.46.0\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/canary/73e2d6bc24d8a067 \"Root=1-58337281-1d84f3d73c47ec4e58577259\" \"www.example.com\" \"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012\" 1 2018-07-02T22:22:48.364000Z \"authenticate,forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\" TID_123";
        let r = one(&s, line).unwrap();
        assert_eq!(r.ts, parse_rfc3339("2018-07-02T22:23:00.186Z").unwrap());
        assert_eq!(
            (r.status, r.latency_us, r.cohort),
            (200, 171_000, Cohort::Canary)
        );
        assert_eq!(r.endpoint, "/api/a");
        let none = "http 2018-07-02T22:23:00.186641Z app/lb/1 192.168.131.39:2817 - -1 -1 -1 460 - 34 0 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - - arn:aws:elasticloadbalancing:us-east-2:1:targetgroup/stable/1 \"Root=1\" \"-\" \"-\" 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"-\" \"-\" \"-\" \"-\"";
        let r = one(&s, none).unwrap();
        assert_eq!(
            (r.status, r.latency_us, r.cohort),
            (502, 0, Cohort::Baseline)
        );
        let e = one(&s, "http 2018").unwrap_err();
        assert_eq!(e.column, "line");
    }

    #[test]
    fn section_errors_name_the_key() {
        let e = spec("file = \"a\"\nformat = \"nginx\"\nlog_fromat = 'x'").unwrap_err();
        assert!(
            e.contains("unknown key `log_fromat`") && e.contains("did you mean `log_format`"),
            "{e}"
        );
        let e = spec(
            "file = \"a\"\nformat = \"nginx\"\nlog_format = '$msec $status'\ncohort = \"canary\"",
        )
        .unwrap_err();
        assert!(e.contains("the request path"), "{e}");
        let e = spec("file = \"a\"\nformat = \"alb\"\ncohort_field = \"tg\"\ncanary_values = []")
            .unwrap_err();
        assert!(e.contains("not an ALB field"), "{e}");
        let e = spec("file = \"a\"\nformat = \"envoy\"").unwrap_err();
        assert!(e.contains("which requests the canary served"), "{e}");
        let e = spec("file = \"a\"\nformat = \"iis\"\ncohort = \"canary\"").unwrap_err();
        assert!(e.contains("\"iis\""), "{e}");
    }

    #[test]
    fn seconds_are_read_to_the_microsecond() {
        assert_eq!(seconds_us("0.123"), Some(123_000));
        assert_eq!(seconds_us("12"), Some(12_000_000));
        assert_eq!(seconds_us("0.0000015"), Some(2));
        assert_eq!(seconds_us("-1"), None);
        assert_eq!(seconds_us("1e3"), None);
        assert_eq!(seconds_us("18446744073709.999999"), None);
        assert_eq!(seconds_us("99999999999999999999"), None);
        assert_eq!(time_local("05/Dec/2026:11:05:32 +é00"), None);
        assert_eq!(path_of("https://h:443/a/b?c#d"), "/a/b");
        assert_eq!(path_of("https://h"), "/");
    }
}
