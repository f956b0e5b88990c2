//! The gates over the `probes` stream: payload schema failures over the window, the
//! probe-failure trigger (consecutive failures of one target, which may fire between
//! ticks), and at each stage's end the probe coverage of every target.

use crate::gate::Gate;
use crate::input::Millis;
use crate::policy::Policy;
use crate::time::{format_clock, format_duration};
use crate::verdict::Evidence;

use super::super::fold::{Folded, ProbeResult};
use super::{Finding, TickCx, TickOut};

/// Schema failures per tick interval.
pub(super) fn schema_failures_per_interval(f: &Folded) -> Vec<u64> {
    let mut schema_fail = vec![0u64; f.ticks];
    for pr in &f.probes {
        if pr.result == ProbeResult::Schema
            && let Some(k) = f.interval(pr.ts)
        {
            schema_fail[k] += 1;
        }
    }
    schema_fail
}

/// Schema failures in the window.
pub(super) fn schema(cx: &TickCx, schema_fail: &[u64], out: &mut TickOut) {
    let (f, lo, k) = (cx.f, cx.lo, cx.k);
    let c: u64 = (lo..k).map(|j| schema_fail[j]).sum();
    let breach = out.any_finding(cx, Gate::SchemaFailures, c);
    let first_detail = if breach {
        f.probes
            .iter()
            .find(|pr| {
                pr.result == ProbeResult::Schema
                    && f.interval(pr.ts).is_some_and(|j| j >= lo && j < k)
            })
            .map(|pr| {
                let why = f
                    .probe_details
                    .get(pr.detail as usize)
                    .cloned()
                    .unwrap_or_default();
                format!(
                    "target {} at {}: {why}",
                    f.probe_targets[pr.target as usize],
                    format_clock(pr.ts)
                )
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    out.detail(Gate::SchemaFailures, ">", first_detail);
}

/// The first target whose probes leave a gap longer than allowed in the stage `(s, e]`.
pub(super) fn stage_end(p: &Policy, f: &Folded, s: Millis, e: Millis) -> Option<Finding> {
    p.probe_targets.iter().find_map(|target| {
        coverage_gap(p, f, target, s, e).map(|(gap, detail)| Finding {
            gate: Gate::ProbeCoverage,
            value: Some(gap as f64 / 1000.0),
            threshold: Some(p.probe_max_gap_ms as f64 / 1000.0),
            op: ">",
            detail,
        })
    })
}

/// The earliest instant some target's probes failed `consecutive` times in a row,
/// with the targets failing then and the evidence.
pub(crate) fn first_probe_firing(
    p: &Policy,
    f: &Folded,
) -> Option<(Millis, Vec<String>, Evidence)> {
    let nt = f.probe_targets.len();
    let mut run = vec![0u32; nt];
    let mut since = vec![0 as Millis; nt];
    let mut last_status = vec![0u16; nt];
    let mut last_why = vec![u32::MAX; nt];
    let mut first: Vec<Option<Millis>> = vec![None; nt];
    for pr in &f.probes {
        let t = pr.target as usize;
        if first[t].is_some() {
            continue;
        }
        if pr.result == ProbeResult::Pass {
            run[t] = 0;
            continue;
        }
        if run[t] == 0 {
            since[t] = pr.ts;
        }
        run[t] += 1;
        last_status[t] = pr.status;
        last_why[t] = if pr.result == ProbeResult::Schema {
            pr.detail
        } else {
            u32::MAX
        };
        if run[t] >= p.probe_consecutive {
            first[t] = Some(pr.ts);
        }
    }
    let at = first.iter().flatten().min().copied()?;
    let targets: Vec<usize> = (0..nt).filter(|&t| first[t] == Some(at)).collect();
    let names: Vec<String> = targets
        .iter()
        .map(|&t| f.probe_targets[t].clone())
        .collect();
    let detail = targets
        .iter()
        .map(|&t| {
            let why = match f.probe_details.get(last_why[t] as usize) {
                Some(w) => format!(", schema: {w}"),
                None => String::new(),
            };
            format!(
                "target {}: {} consecutive failures since {} (last status {}{why})",
                f.probe_targets[t],
                p.probe_consecutive,
                format_clock(since[t]),
                last_status[t]
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let since_min = targets.iter().map(|&t| since[t]).min();
    Some((
        at,
        names,
        Evidence {
            gate: Gate::ProbeFailures,
            value: Some(p.probe_consecutive as f64),
            threshold: Some(p.probe_consecutive as f64),
            op: ">=".into(),
            since: since_min,
            ticks: 0,
            detail,
        },
    ))
}

/// The first coverage gap of a target in a stage longer than allowed: (gap ms, words).
fn coverage_gap(
    p: &Policy,
    f: &Folded,
    target: &str,
    s: Millis,
    e: Millis,
) -> Option<(Millis, String)> {
    let ti = f.probe_targets.iter().position(|x| x == target);
    let times: Vec<Millis> = match ti {
        Some(ti) => f
            .probes
            .iter()
            .filter(|pr| pr.target as usize == ti && pr.ts > s && pr.ts <= e)
            .map(|pr| pr.ts)
            .collect(),
        None => Vec::new(),
    };
    if times.is_empty() {
        return Some((e - s, format!("target {target} has no probe in the stage")));
    }
    let mut prev = s;
    for &t in times.iter().chain(std::iter::once(&e)) {
        if t - prev > p.probe_max_gap_ms {
            return Some((
                t - prev,
                format!(
                    "target {target}: no probe from {} to {} ({})",
                    format_clock(prev),
                    format_clock(t),
                    format_duration(t - prev)
                ),
            ));
        }
        prev = t;
    }
    None
}
