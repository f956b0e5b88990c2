//! The in-memory dataset (what the generator produces and `rehearse check` replays) as
//! a source: its streams pushed into an [`EventSink`] through the same calls and the
//! same columnar request batches as files.

use crate::input::{
    Cohort, Dataset, EventSink, InfraSample, PageEvent, ProbeEvent, ReadStats, RequestBatch,
    Stream, StreamInput, prefix_index,
};

/// Pushes an in-memory dataset's streams (but funnel and ledger) into `f`.
pub fn push_dataset<S: EventSink>(ds: &Dataset, f: &mut S, batch_rows: usize) -> Vec<StreamInput> {
    let batch_rows = batch_rows.max(1);
    let mut inputs = Vec::new();
    let mut record = |f: &mut S, stream: Stream, rows: u64| {
        f.columns(stream, &|_| true);
        inputs.push(StreamInput {
            stream,
            file: format!("(generated {})", stream.as_str()),
            stats: ReadStats {
                rows,
                ..Default::default()
            },
            outside: f.outside(stream),
            before_2000: f.before_2000(stream),
        });
    };
    f.begin(Stream::Requests);
    let prefixes = f.prefixes().to_vec();
    let mut batch = RequestBatch::with_capacity(batch_rows);
    for r in &ds.requests {
        batch.push(
            r.ts,
            r.cohort,
            r.source,
            r.status,
            r.latency_us,
            prefix_index(&prefixes, &r.endpoint),
        );
        if batch.len() >= batch_rows {
            f.requests(&batch);
            batch.clear();
        }
    }
    f.requests(&batch);
    record(f, Stream::Requests, ds.requests.len() as u64);
    if let Some(probes) = &ds.probes {
        f.begin(Stream::Probes);
        for p in probes {
            f.probe(ProbeEvent {
                ts: p.ts,
                target: &p.target,
                status: p.status,
                payload: p.payload.as_deref(),
                schema_ok: p.schema_ok,
            });
        }
        record(f, Stream::Probes, probes.len() as u64);
    }
    if let Some(infra) = &ds.infra {
        f.begin(Stream::Infra);
        for r in infra {
            f.infra(
                r.ts,
                InfraSample {
                    cpu: r.cpu,
                    mem_free: r.mem_free,
                    db: r.db_p95_ms.unwrap_or(f64::NAN),
                    queue: r.queue_depth.unwrap_or(f64::NAN),
                    canary: r.cohort == Some(Cohort::Canary),
                },
            );
        }
        record(f, Stream::Infra, infra.len() as u64);
    }
    if let Some(sec) = &ds.security {
        f.begin(Stream::Security);
        for r in sec {
            f.security(r.ts, r.kind);
        }
        record(f, Stream::Security, sec.len() as u64);
    }
    if let Some(logs) = &ds.logs {
        f.begin(Stream::Logs);
        for r in logs {
            f.log(r.ts, &r.message);
        }
        record(f, Stream::Logs, logs.len() as u64);
    }
    if let Some(pages) = &ds.pages {
        f.begin(Stream::Pages);
        for r in pages {
            f.page(PageEvent {
                ts: r.ts,
                path: &r.path,
                kind: r.kind,
                status: r.status,
                cache_control: &r.cache_control,
                test_mode: r.test_mode,
                canonical: r.canonical.as_deref(),
                robots: r.robots.as_deref(),
                in_sitemap: r.in_sitemap,
                prerendered: r.prerendered,
            });
        }
        record(f, Stream::Pages, pages.len() as u64);
    }
    inputs
}
