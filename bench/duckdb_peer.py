"""The strongest peer we know for the request gates: DuckDB SQL, written the way a
strong analyst would write it, over the same Parquet or CSV file `rehearse run` reads.

One scan folds every real request into per-minute counters (GROUP BY the tick
interval, with FILTER clauses): all real requests, canary requests, canary 5xx and
non-auth 4xx, canary requests slower than each latency limit of the default policy
(120, 200, 250 and 600 ms) and, per outlier endpoint prefix, its requests and those
slower than 250 ms. Window functions over the ~330 interval rows then give the
5-minute windows clipped at the stage start (ROWS 4 PRECEDING, partitioned by stage),
the cumulative error-budget burn, and the 11-tick sustained triggers. A latency
percentile is decided the way `rehearse` decides it, from counts: nearest-rank p95 >
L exactly when more than `n - ceil(0.95 n)` requests are slower than L. No range join,
no per-tick sort.

Exact for latencies with at most three decimals (what `rehearse generate`, and the
writers' copies of its files, hold), since `rehearse` compares whole microseconds.

Usage: duckdb_peer.py REQUESTS_FILE T0_MS [--threads N]
Prints one JSON object: the outcome, the rollback (instant in ms since the epoch,
stage, triggers), each stage's verdict and reasons, and per request gate its number
of breaching ticks over the judged ticks, plus `seconds` (wall time of the query and
the verdict walk, not of the interpreter's start).
"""

import json
import sys
import time

import duckdb

path = sys.argv[1]
T0_MS = int(sys.argv[2])
threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else None
TICK = 60_000
# The default policy: (name, first interval, end interval, canary weight, Go p95 limit ms).
STAGES = [
    ("synthetic", 0, 120, 0.0, 200),
    ("ramp-5", 120, 150, 0.05, 200),
    ("ramp-25", 150, 210, 0.25, 200),
    ("full", 210, 330, 1.0, 120),
]
TICKS = STAGES[-1][2]
PREFIXES = ["/api/security/", "/api/infra/", "/api/admin/"]
MIN_REQ, MIN_PREFIX, SUSTAIN = 100, 20, 11

if path.endswith(".parquet"):
    source = f"read_parquet('{path}')"
else:
    source = (
        f"read_csv('{path}', header = true, columns = {{'ts': 'TIMESTAMPTZ', 'endpoint': 'VARCHAR', "
        "'cohort': 'VARCHAR', 'source': 'VARCHAR', 'status': 'INTEGER', 'latency_ms': 'DOUBLE', "
        "'user_id': 'VARCHAR', 'region': 'VARCHAR', 'method': 'VARCHAR'})"
    )
stage_case = " ".join(f"WHEN g.i < {end} THEN {si}" for si, (_, _, end, _, _) in enumerate(STAGES))
go_case = " ".join(f"WHEN {si} THEN wa{go}" for si, (_, _, _, _, go) in enumerate(STAGES))
prefix_aggs = ",\n      ".join(
    f"count(*) FILTER (WHERE canary AND starts_with(endpoint, '{p}')) AS n_p{j},\n      "
    f"count(*) FILTER (WHERE canary AND starts_with(endpoint, '{p}') AND latency_ms > 250) AS a_p{j}"
    for j, p in enumerate(PREFIXES)
)
prefix_windows = ",\n    ".join(
    f"sum(n_p{j}) OVER w AS wn_p{j}, sum(a_p{j}) OVER w AS wa_p{j}" for j in range(len(PREFIXES))
)


def above(n: str, a: str, q: int) -> str:
    """Nearest-rank q-th percentile above the limit, from the count above it (integers only)."""
    return f"({a} > {n} - ({q} * {n} + 99) // 100)"


endpoint_breach = " OR ".join(
    f"(wn_p{j} >= {MIN_PREFIX} AND {above(f'wn_p{j}', f'wa_p{j}', 95)})" for j in range(len(PREFIXES))
)
query = f"""
WITH real AS (
  SELECT (epoch_ms(ts) - {T0_MS} - 1) // {TICK} AS i, cohort = 'canary' AS canary,
         status, latency_ms, endpoint
  FROM {source}
  WHERE source = 'real' AND epoch_ms(ts) > {T0_MS} AND epoch_ms(ts) <= {T0_MS + TICKS * TICK}
), per_interval AS (
  SELECT i,
      count(*) AS all_real,
      count(*) FILTER (WHERE canary) AS n,
      count(*) FILTER (WHERE canary AND status BETWEEN 500 AND 599) AS e5,
      count(*) FILTER (WHERE canary AND status BETWEEN 400 AND 499 AND status NOT IN (401, 403)) AS e4,
      count(*) FILTER (WHERE canary AND latency_ms > 120) AS a120,
      count(*) FILTER (WHERE canary AND latency_ms > 200) AS a200,
      count(*) FILTER (WHERE canary AND latency_ms > 250) AS a250,
      count(*) FILTER (WHERE canary AND latency_ms > 600) AS a600,
      {prefix_aggs}
  FROM real GROUP BY i
), grid AS (
  SELECT g.i, CASE {stage_case} END AS stage, p.* EXCLUDE (i)
  FROM range(0, {TICKS}) g(i) LEFT JOIN per_interval p ON p.i = g.i
), windows AS (
  SELECT i + 1 AS tick, stage,
    coalesce(sum(n) OVER w, 0) AS wn, sum(e5) OVER w AS we5, sum(e4) OVER w AS we4,
    sum(a120) OVER w AS wa120, sum(a200) OVER w AS wa200, sum(a250) OVER w AS wa250,
    sum(a600) OVER w AS wa600,
    {prefix_windows},
    coalesce(sum(all_real) OVER (ORDER BY i), 0) AS cum_real,
    coalesce(sum(e5) OVER (ORDER BY i), 0) AS cum_e5,
    coalesce(sum(n) OVER (PARTITION BY stage), 0) AS stage_n,
    coalesce(sum(e5) OVER (PARTITION BY stage), 0) AS stage_e5
  FROM grid
  WINDOW w AS (PARTITION BY stage ORDER BY i ROWS BETWEEN 4 PRECEDING AND CURRENT ROW)
), flags AS (
  SELECT tick, stage, stage_n, stage_e5, wn >= {MIN_REQ} AS data,
    wn >= {MIN_REQ} AND we5 * 1000 >= 5 * wn AS f5xx,
    wn >= {MIN_REQ} AND we4 * 100 >= wn AS f4xx,
    wn >= {MIN_REQ} AND {above('wn', f'CASE stage {go_case} END', 95)} AS fp95go,
    wn >= {MIN_REQ} AND {above('wn', 'wa250', 95)} AS fp95,
    wn >= {MIN_REQ} AND {above('wn', 'wa600', 99)} AS fp99,
    cum_real >= {MIN_REQ} AND 100 * cum_e5 * tick > 432 * cum_real AS fburn,
    wn >= {MIN_REQ} AND ({endpoint_breach}) AS fendpoint
  FROM windows
)
SELECT tick, stage, f5xx, f4xx, fp95go, fp95, fp99, fburn, fendpoint,
  -- a sustained trigger: its condition held at the last 11 ticks, all in this stage
  count(*) OVER s = {SUSTAIN} AND bool_and(f5xx) OVER s AS t5xx,
  count(*) OVER s = {SUSTAIN} AND bool_and(f4xx) OVER s AS t4xx,
  count(*) OVER s = {SUSTAIN} AND bool_and(fp95) OVER s AS tp95,
  count(*) OVER s = {SUSTAIN} AND bool_and(fp99) OVER s AS tp99,
  count(*) OVER s = {SUSTAIN} AND bool_and(fburn) OVER s AS tburn,
  stage_n, stage_e5, sum(data::INT) OVER (PARTITION BY stage) AS stage_with_data,
  count(*) OVER (PARTITION BY stage) AS stage_ticks
FROM flags
WINDOW s AS (PARTITION BY stage ORDER BY tick ROWS BETWEEN {SUSTAIN - 1} PRECEDING AND CURRENT ROW)
ORDER BY tick
"""

start = time.perf_counter()
con = duckdb.connect()
if threads:
    con.execute(f"SET threads = {threads}")
rows = con.execute(query).fetchall()

GATES = ["error_rate_5xx", "error_rate_4xx_nonauth", "latency_p95", "latency_p99", "budget_burn", "endpoint_latency_p95", "availability", "insufficient_data"]
breaches = {g: 0 for g in GATES}
stages = []
rollback = None
outcome = "complete"
for si, (name, _, _, weight, _) in enumerate(STAGES):
    ticks = [r for r in rows if r[1] == si]
    reasons = []
    for r in ticks:
        (tick, _, f5, f4, p95go, p95, p99, burn, endpoint, t5, t4, tp95, tp99, tburn) = r[:14]
        # Go gates count their breaching ticks (latency_p99 is a trigger only).
        for g, hit in zip(GATES, [f5, f4, p95go, False, burn, endpoint]):
            if hit:
                breaches[g] += 1
                if g not in reasons:
                    reasons.append(g)
        triggers = ["error_rate_5xx", "error_rate_4xx_nonauth", "latency_p95", "latency_p99", "budget_burn"]
        fired = [g for g, t in zip(triggers, [t5, t4, tp95, tp99, tburn]) if t]
        if fired:
            # A firing counts once more for its gate; the stage's reasons are the triggers.
            for g in fired:
                breaches[g] += 1
            rollback = {"at_ms": T0_MS + tick * TICK, "stage": name, "triggers": fired}
            break
    if rollback:
        stages.append({"name": name, "verdict": "rollback", "reasons": rollback["triggers"]})
        outcome = "rollback"
        break
    n, e5, with_data, nticks = ticks[-1][14:]
    if n >= MIN_REQ and e5 * 1000 > n:
        breaches["availability"] += 1
        reasons.append("availability")
    if weight > 0 and (nticks - with_data) * 10 > nticks:
        breaches["insufficient_data"] += 1
        reasons.append("insufficient_data")
    stages.append({"name": name, "verdict": "hold" if reasons else "go", "reasons": reasons})
    if reasons:
        outcome = "hold"
        break
elapsed = time.perf_counter() - start
print(json.dumps({"outcome": outcome, "rollback": rollback, "stages": stages, "breaches": breaches, "seconds": round(elapsed, 3)}))
