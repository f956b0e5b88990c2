//! The gates over the `infra` stream: CPU and memory headroom, database latency (p95
//! of the window's samples) and a queue backlog sustained for the sustain span; the
//! canary's hosts only when the stream has a `cohort` column.

use crate::gate::Gate;
use crate::input::Millis;
use crate::time::format_clock;
use crate::verdict::{GateState, GateTick};

use super::{TickCx, TickOut, nearest_rank, state_of};

/// Infra state carried from tick to tick.
#[derive(Default)]
pub(super) struct InfraState {
    /// Ticks in a row the queue depth was above its limit, and since when.
    pub queue_run: u32,
    pub queue_since: Millis,
    /// Reused sample buffer.
    scratch: Vec<f64>,
}

/// CPU, memory, database latency and queue depth over the window.
pub(super) fn headroom(cx: &TickCx, st: &mut InfraState, out: &mut TickOut) {
    let (p, f, t) = (cx.p, cx.f, cx.t);
    let inf = &p.infra;
    let ev = cx.is_eval(Gate::CpuHeadroom);
    let use_cohort = f.infra_has_cohort;
    let samples = || {
        (cx.lo..cx.k)
            .flat_map(|j| f.infra[j].iter())
            .filter(|s| !use_cohort || s.canary)
    };
    let scratch = &mut st.scratch;
    scratch.clear();
    scratch.extend(samples().map(|s| s.cpu));
    let cpu = nearest_rank(scratch, p.q95);
    scratch.clear();
    scratch.extend(samples().map(|s| s.mem_free));
    let mem = nearest_rank(scratch, p.q05);
    scratch.clear();
    scratch.extend(samples().map(|s| s.db).filter(|v| !v.is_nan()));
    let db = nearest_rank(scratch, p.q95);
    let queue = samples()
        .map(|s| s.queue)
        .filter(|v| !v.is_nan())
        .reduce(f64::max);
    let gs = |e: bool, v: Option<f64>, breach: bool| {
        if !e {
            GateState::NotEvaluated
        } else {
            state_of(v.is_some(), breach)
        }
    };
    let cpu_b = cpu.is_some_and(|v| v >= inf.cpu_p95);
    out.push(
        Gate::CpuHeadroom,
        gs(ev, cpu, cpu_b),
        cpu,
        Some(inf.cpu_p95),
        false,
    );
    let mem_b = mem.is_some_and(|v| v <= inf.mem_free_p5);
    out.push(
        Gate::MemoryHeadroom,
        gs(ev, mem, mem_b),
        mem,
        Some(inf.mem_free_p5),
        false,
    );
    let db_b = db.is_some_and(|v| v >= inf.db_p95_ms);
    out.push(
        Gate::DbLatency,
        gs(cx.is_eval(Gate::DbLatency), db, db_b),
        db,
        Some(inf.db_p95_ms),
        false,
    );
    let q_over = queue.is_some_and(|v| v > inf.queue_depth);
    if q_over {
        if st.queue_run == 0 {
            st.queue_since = t;
        }
        st.queue_run += 1;
    } else {
        st.queue_run = 0;
    }
    let q_b = st.queue_run as usize >= p.sustain_ticks;
    let q_eval = cx.is_eval(Gate::QueueBacklog);
    out.gates.push(GateTick {
        gate: Gate::QueueBacklog,
        state: gs(q_eval, queue, q_b),
        value: queue,
        threshold: Some(inf.queue_depth),
        trigger: false,
        sustain: if q_eval { st.queue_run } else { 0 },
    });
    out.detail(
        Gate::CpuHeadroom,
        ">=",
        "p95 of cpu samples in the window".into(),
    );
    out.detail(
        Gate::MemoryHeadroom,
        "<=",
        "p5 of mem_free samples in the window".into(),
    );
    out.detail(
        Gate::DbLatency,
        ">=",
        "p95 of db_p95_ms samples in the window".into(),
    );
    out.detail(
        Gate::QueueBacklog,
        ">",
        format!(
            "max queue_depth above the limit for {} ticks since {}",
            st.queue_run,
            format_clock(st.queue_since)
        ),
    );
}
