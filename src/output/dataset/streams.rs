//! The columns of each of the eight streams a [`Dataset`](crate::input::Dataset) holds:
//! for every row type, its Arrow fields, its text cells (CSV, NDJSON) and its Arrow
//! arrays (Parquet, Arrow IPC), in the same column order, as `dataset-format.md`
//! describes them; and which values no encoding can carry.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array};
use arrow_schema::{DataType, Field};

use super::columns::{
    latency_array, opt_bool_array, opt_str_array, status_array, str_array, ts_array, ts_field,
};
use super::{Cell, Rows, format_latency_ms};
use crate::input::{
    FunnelRow, InfraRow, LedgerRow, LogRow, PageRow, ProbeRow, RequestRow, SecurityRow, Stream,
};
use crate::time::format_rfc3339;

fn ts_cell<'a>(ts: i64) -> Cell<'a> {
    Cell::Owned(format_rfc3339(ts))
}

fn opt_str(v: &Option<String>) -> Cell<'_> {
    match v {
        Some(s) => Cell::Str(s),
        None => Cell::Null,
    }
}

fn opt_bool<'a>(v: Option<bool>) -> Cell<'a> {
    match v {
        Some(b) => Cell::Raw(b.to_string()),
        None => Cell::Null,
    }
}

fn opt_f64<'a>(v: Option<f64>) -> Cell<'a> {
    match v {
        Some(x) => Cell::Raw(x.to_string()),
        None => Cell::Null,
    }
}

impl Rows for RequestRow {
    const STREAM: Stream = Stream::Requests;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("endpoint", DataType::Utf8, false),
            Field::new("cohort", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("status", DataType::Int32, false),
            Field::new("latency_ms", DataType::Float64, false),
            Field::new("user_id", DataType::Utf8, true),
            Field::new("region", DataType::Utf8, true),
            Field::new("method", DataType::Utf8, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.endpoint));
        out.push(Cell::Str(self.cohort.as_str()));
        out.push(Cell::Str(self.source.as_str()));
        out.push(Cell::Raw(self.status.to_string()));
        out.push(Cell::Raw(format_latency_ms(self.latency_us)));
        out.push(opt_str(&self.user_id));
        out.push(opt_str(&self.region));
        out.push(opt_str(&self.method));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.endpoint),
            str_array(rows, |r| r.cohort.as_str()),
            str_array(rows, |r| r.source.as_str()),
            status_array(rows, |r| r.status),
            latency_array(rows, |r| r.latency_us),
            opt_str_array(rows, |r| r.user_id.as_deref()),
            opt_str_array(rows, |r| r.region.as_deref()),
            opt_str_array(rows, |r| r.method.as_deref()),
        ]
    }
}

impl Rows for ProbeRow {
    const STREAM: Stream = Stream::Probes;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("target", DataType::Utf8, false),
            Field::new("status", DataType::Int32, false),
            Field::new("latency_ms", DataType::Float64, false),
            Field::new("payload", DataType::Utf8, true),
            Field::new("schema_ok", DataType::Boolean, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.target));
        out.push(Cell::Raw(self.status.to_string()));
        out.push(Cell::Raw(format_latency_ms(self.latency_us)));
        out.push(opt_str(&self.payload));
        out.push(opt_bool(self.schema_ok));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.target),
            status_array(rows, |r| r.status),
            latency_array(rows, |r| r.latency_us),
            opt_str_array(rows, |r| r.payload.as_deref()),
            opt_bool_array(rows, |r| r.schema_ok),
        ]
    }
}

impl Rows for InfraRow {
    const STREAM: Stream = Stream::Infra;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("cpu", DataType::Float64, false),
            Field::new("mem_free", DataType::Float64, false),
            Field::new("host", DataType::Utf8, true),
            Field::new("cohort", DataType::Utf8, true),
            Field::new("db_p95_ms", DataType::Float64, true),
            Field::new("queue_depth", DataType::Float64, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Raw(self.cpu.to_string()));
        out.push(Cell::Raw(self.mem_free.to_string()));
        out.push(opt_str(&self.host));
        out.push(match self.cohort {
            Some(c) => Cell::Str(c.as_str()),
            None => Cell::Null,
        });
        out.push(opt_f64(self.db_p95_ms));
        out.push(opt_f64(self.queue_depth));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.cpu))),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.mem_free),
            )),
            opt_str_array(rows, |r| r.host.as_deref()),
            opt_str_array(rows, |r| r.cohort.map(|c| c.as_str())),
            Arc::new(rows.iter().map(|r| r.db_p95_ms).collect::<Float64Array>()),
            Arc::new(rows.iter().map(|r| r.queue_depth).collect::<Float64Array>()),
        ]
    }
    fn check(&self) -> Result<(), (&'static str, f64)> {
        let values = [
            ("cpu", Some(self.cpu)),
            ("mem_free", Some(self.mem_free)),
            ("db_p95_ms", self.db_p95_ms),
            ("queue_depth", self.queue_depth),
        ];
        for (column, value) in values {
            if let Some(v) = value.filter(|v| !v.is_finite()) {
                return Err((column, v));
            }
        }
        Ok(())
    }
}

impl Rows for SecurityRow {
    const STREAM: Stream = Stream::Security;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("kind", DataType::Utf8, false),
            Field::new("source_ip", DataType::Utf8, true),
            Field::new("rule", DataType::Utf8, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(self.kind.as_str()));
        out.push(opt_str(&self.source_ip));
        out.push(opt_str(&self.rule));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| r.kind.as_str()),
            opt_str_array(rows, |r| r.source_ip.as_deref()),
            opt_str_array(rows, |r| r.rule.as_deref()),
        ]
    }
}

impl Rows for LogRow {
    const STREAM: Stream = Stream::Logs;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("message", DataType::Utf8, false),
            Field::new("service", DataType::Utf8, true),
            Field::new("level", DataType::Utf8, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.message));
        out.push(opt_str(&self.service));
        out.push(opt_str(&self.level));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.message),
            opt_str_array(rows, |r| r.service.as_deref()),
            opt_str_array(rows, |r| r.level.as_deref()),
        ]
    }
}

impl Rows for PageRow {
    const STREAM: Stream = Stream::Pages;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("path", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("status", DataType::Int32, false),
            Field::new("cache_control", DataType::Utf8, false),
            Field::new("test_mode", DataType::Boolean, true),
            Field::new("canonical", DataType::Utf8, true),
            Field::new("robots", DataType::Utf8, true),
            Field::new("in_sitemap", DataType::Boolean, true),
            Field::new("prerendered", DataType::Boolean, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.path));
        out.push(Cell::Str(self.kind.as_str()));
        out.push(Cell::Raw(self.status.to_string()));
        out.push(Cell::Str(&self.cache_control));
        out.push(opt_bool(self.test_mode));
        out.push(opt_str(&self.canonical));
        out.push(opt_str(&self.robots));
        out.push(opt_bool(self.in_sitemap));
        out.push(opt_bool(self.prerendered));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.path),
            str_array(rows, |r| r.kind.as_str()),
            status_array(rows, |r| r.status),
            str_array(rows, |r| &r.cache_control),
            opt_bool_array(rows, |r| r.test_mode),
            opt_str_array(rows, |r| r.canonical.as_deref()),
            opt_str_array(rows, |r| r.robots.as_deref()),
            opt_bool_array(rows, |r| r.in_sitemap),
            opt_bool_array(rows, |r| r.prerendered),
        ]
    }
}

impl Rows for FunnelRow {
    const STREAM: Stream = Stream::Funnel;
    fn fields() -> Vec<Field> {
        let opt = |name: &str| Field::new(name, DataType::Utf8, true);
        vec![
            ts_field(),
            Field::new("event", DataType::Utf8, false),
            opt("user_id"),
            opt("anonymous_id"),
            opt("cohort"),
            opt("platform"),
            opt("utm_source"),
            opt("utm_medium"),
            opt("utm_campaign"),
            Field::new("revenue", DataType::Float64, true),
            opt("currency"),
            opt("order_id"),
            Field::new("test_mode", DataType::Boolean, true),
            opt("user_agent"),
            opt("page_url"),
            opt("provider_id"),
            opt("message_id"),
            opt("source"),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.event));
        out.push(opt_str(&self.user_id));
        out.push(opt_str(&self.anonymous_id));
        out.push(match self.cohort {
            Some(c) => Cell::Str(c.as_str()),
            None => Cell::Null,
        });
        out.push(opt_str(&self.platform));
        out.push(opt_str(&self.utm_source));
        out.push(opt_str(&self.utm_medium));
        out.push(opt_str(&self.utm_campaign));
        out.push(opt_f64(self.revenue));
        out.push(opt_str(&self.currency));
        out.push(opt_str(&self.order_id));
        out.push(opt_bool(self.test_mode));
        out.push(opt_str(&self.user_agent));
        out.push(opt_str(&self.page_url));
        out.push(opt_str(&self.provider_id));
        out.push(opt_str(&self.message_id));
        out.push(match self.source {
            Some(s) => Cell::Str(s.as_str()),
            None => Cell::Null,
        });
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.event),
            opt_str_array(rows, |r| r.user_id.as_deref()),
            opt_str_array(rows, |r| r.anonymous_id.as_deref()),
            opt_str_array(rows, |r| r.cohort.map(|c| c.as_str())),
            opt_str_array(rows, |r| r.platform.as_deref()),
            opt_str_array(rows, |r| r.utm_source.as_deref()),
            opt_str_array(rows, |r| r.utm_medium.as_deref()),
            opt_str_array(rows, |r| r.utm_campaign.as_deref()),
            Arc::new(rows.iter().map(|r| r.revenue).collect::<Float64Array>()),
            opt_str_array(rows, |r| r.currency.as_deref()),
            opt_str_array(rows, |r| r.order_id.as_deref()),
            opt_bool_array(rows, |r| r.test_mode),
            opt_str_array(rows, |r| r.user_agent.as_deref()),
            opt_str_array(rows, |r| r.page_url.as_deref()),
            opt_str_array(rows, |r| r.provider_id.as_deref()),
            opt_str_array(rows, |r| r.message_id.as_deref()),
            opt_str_array(rows, |r| r.source.map(|s| s.as_str())),
        ]
    }
    fn check(&self) -> Result<(), (&'static str, f64)> {
        match self.revenue {
            Some(v) if !v.is_finite() => Err(("revenue", v)),
            _ => Ok(()),
        }
    }
}

impl Rows for LedgerRow {
    const STREAM: Stream = Stream::Ledger;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("txn_id", DataType::Utf8, false),
            Field::new("entry_id", DataType::Utf8, false),
            Field::new("account", DataType::Utf8, false),
            Field::new("debit_minor", DataType::Int64, true),
            Field::new("credit_minor", DataType::Int64, true),
            Field::new("currency", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("order_id", DataType::Utf8, true),
            Field::new("provider_id", DataType::Utf8, true),
            Field::new("payout_id", DataType::Utf8, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        let int = |v: Option<i64>| match v {
            Some(v) => Cell::Raw(v.to_string()),
            None => Cell::Null,
        };
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.txn_id));
        out.push(Cell::Str(&self.entry_id));
        out.push(Cell::Str(&self.account));
        out.push(int(self.debit_minor));
        out.push(int(self.credit_minor));
        out.push(Cell::Str(&self.currency));
        out.push(Cell::Str(self.kind.as_str()));
        out.push(opt_str(&self.order_id));
        out.push(opt_str(&self.provider_id));
        out.push(opt_str(&self.payout_id));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.txn_id),
            str_array(rows, |r| &r.entry_id),
            str_array(rows, |r| &r.account),
            Arc::new(rows.iter().map(|r| r.debit_minor).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| r.credit_minor).collect::<Int64Array>()),
            str_array(rows, |r| &r.currency),
            str_array(rows, |r| r.kind.as_str()),
            opt_str_array(rows, |r| r.order_id.as_deref()),
            opt_str_array(rows, |r| r.provider_id.as_deref()),
            opt_str_array(rows, |r| r.payout_id.as_deref()),
        ]
    }
}
