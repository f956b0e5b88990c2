//! The gate over the `logs` stream: any log line in the window with personal data
//! (the detector runs in the fold; the first findings are kept, redacted, as evidence).

use crate::gate::Gate;
use crate::time::format_clock;

use super::{TickCx, TickOut};

/// PII in the window's log lines.
pub(super) fn pii(cx: &TickCx, out: &mut TickOut) {
    let f = cx.f;
    let c: u64 = (cx.lo..cx.k).map(|j| f.pii[j]).sum();
    let breach = out.any_finding(cx, Gate::PiiInLogs, c);
    let ex = if breach {
        f.pii_examples
            .iter()
            .find(|(ts, _, _)| f.interval(*ts).is_some_and(|j| j >= cx.lo && j < cx.k))
            .map(|(ts, kinds, red)| format!("{kinds} at {}: {red}", format_clock(*ts)))
            .unwrap_or_default()
    } else {
        String::new()
    };
    out.detail(Gate::PiiInLogs, ">", ex);
}
