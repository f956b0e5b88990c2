//! Progress on stderr for long work: scenarios checked, rows generated, rows read by a
//! replay (`run`, `sweep`, `funnel` and the terminal UI's loading). Drawn only when
//! stderr is a terminal, so piped and redirected output never carries it, and cleared
//! when the work ends, so the terminal keeps only the results. [`Watched`] counts the
//! events a reader pushes into the fold without changing what the fold sees.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

use crate::input::{
    EventSink, InfraSample, Millis, PageEvent, ProbeEvent, RequestBatch, SecurityKind, Stream,
};

/// Per-event pushes counted locally before they are added to the bar.
const FLUSH_EVERY: u64 = 8192;

/// A progress line on stderr, or nothing when stderr is not a terminal.
#[derive(Clone)]
pub struct Progress(ProgressBar);

impl Progress {
    /// Whether progress is drawn at all: stderr is a terminal and `REHEARSE_PROGRESS`
    /// is not `never`.
    pub fn visible() -> bool {
        std::io::stderr().is_terminal()
            && std::env::var("REHEARSE_PROGRESS").map_or(true, |v| v != "never")
    }

    /// A bar over `len` steps counted in `unit` (`3/67 scenarios`).
    pub fn bar(len: u64, unit: &str) -> Self {
        let style = ProgressStyle::with_template(&format!(
            "{{spinner}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{elapsed}}  {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        Self::start(ProgressBar::new(len).with_style(style))
    }

    /// A counter of `unit` with its rate, for work whose total is unknown
    /// (`reading requests.parquet  12,582,912 rows  8.1M rows/s`).
    pub fn counter(unit: &str) -> Self {
        let style = ProgressStyle::with_template(&format!(
            "{{spinner}} {{msg}}  {{human_pos}} {unit}  {{per_sec}}  {{elapsed}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        Self::start(ProgressBar::no_length().with_style(style))
    }

    /// A spinner with a message, for one step whose size is unknown.
    pub fn spinner(msg: impl Into<String>) -> Self {
        let style = ProgressStyle::with_template("{spinner} {msg}  {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let p = Self::start(ProgressBar::no_length().with_style(style));
        p.set_message(msg);
        p
    }

    /// A bar that draws nothing.
    pub fn hidden() -> Self {
        Self(ProgressBar::hidden())
    }

    fn start(bar: ProgressBar) -> Self {
        if !Self::visible() {
            return Self::hidden();
        }
        // Clones share the bar; when the last is dropped (an error path included) the
        // line is cleared.
        let bar = bar.with_finish(ProgressFinish::AndClear);
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(bar)
    }

    pub fn is_hidden(&self) -> bool {
        self.0.is_hidden()
    }

    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    pub fn set_message(&self, msg: impl Into<String>) {
        if !self.0.is_hidden() {
            self.0.set_message(msg.into());
        }
    }

    /// Removes the line (the work is done, or failed and its error follows).
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// An [`EventSink`] that forwards every call to `inner` and counts the events on a
/// progress line (the fold's result is the same with or without it).
pub struct Watched<S> {
    pub inner: S,
    progress: Progress,
    pending: u64,
}

impl<S> Watched<S> {
    pub fn new(inner: S, progress: Progress) -> Self {
        Self {
            inner,
            progress,
            pending: 0,
        }
    }

    #[inline]
    fn one(&mut self) {
        self.pending += 1;
        if self.pending == FLUSH_EVERY {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.progress.inc(self.pending);
        self.pending = 0;
    }

    /// The wrapped sink, with the last events counted.
    pub fn into_inner(mut self) -> S {
        self.flush();
        self.inner
    }
}

impl<S: EventSink> EventSink for Watched<S> {
    fn begin(&mut self, stream: Stream) {
        self.flush();
        self.progress
            .set_message(format!("reading {}", stream.as_str()));
        self.inner.begin(stream);
    }
    fn requests(&mut self, batch: &RequestBatch) {
        self.inner.requests(batch);
        self.progress.inc(batch.len() as u64);
    }
    fn probe(&mut self, p: ProbeEvent<'_>) {
        self.inner.probe(p);
        self.one();
    }
    fn infra(&mut self, ts: Millis, s: InfraSample) {
        self.inner.infra(ts, s);
        self.one();
    }
    fn security(&mut self, ts: Millis, kind: SecurityKind) {
        self.inner.security(ts, kind);
        self.one();
    }
    fn log(&mut self, ts: Millis, message: &str) {
        self.inner.log(ts, message);
        self.one();
    }
    fn page(&mut self, p: PageEvent<'_>) {
        self.inner.page(p);
        self.one();
    }
    fn columns(&mut self, stream: Stream, has: &dyn Fn(&str) -> bool) {
        self.flush();
        self.inner.columns(stream, has);
    }
    fn outside(&self, stream: Stream) -> u64 {
        self.inner.outside(stream)
    }
    fn before_2000(&self, stream: Stream) -> u64 {
        self.inner.before_2000(stream)
    }
    fn prefixes(&self) -> &[String] {
        self.inner.prefixes()
    }
    fn request_part(&self) -> Self {
        Self::new(self.inner.request_part(), self.progress.clone())
    }
    fn merge_requests(&mut self, part: &Self) {
        self.inner.merge_requests(&part.inner);
    }
}
