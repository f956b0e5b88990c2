"""The analyst's way, for comparison: the request-stream gates of one rollout under the
default policy, computed with Python polars from the same Parquet or CSV file and timed
in the same run as `rehearse run`. It computes what `rehearse` computes from the
requests stream, the way an analyst would: a filtered scan, then a windowed
aggregation per tick and stage (5-minute windows clipped at the stage start):

- per tick, over canary real requests: count, 5xx and non-auth 4xx rates, nearest-rank
  p95 and p99, and the p95 of each outlier endpoint prefix with >= 20 requests;
- per tick, the error-budget burn (canary real 5xx against all real requests since T0,
  scaled to 30 days at 99.9 %);
- per stage, availability and the observed canary share of real requests;
- the Go breaches and the sustained (11-tick) triggers from those values.

Prints one line:
`peer <seconds> <ticks with data> <5xx> <4xx> <p95 go> <p95 trig> <p99> <burn> <endpoint> <first trigger tick or ->`
where each gate column is its number of breaching ticks.
"""

import sys
import time

import polars as pl

T0_MS = int(sys.argv[2])
path = sys.argv[1]
TICK = 60_000
MIN_REQ = 100
PREFIXES = ["/api/security/", "/api/infra/", "/api/admin/"]
# (first tick interval, end tick interval, canary weight, Go p95 limit ms)
STAGES = [(0, 120, 0.0, 200.0), (120, 150, 0.05, 200.0), (150, 210, 0.25, 200.0), (210, 330, 1.0, 120.0)]
TICKS = STAGES[-1][1]


def nearest_rank(col: str, q: float) -> pl.Expr:
    return pl.col(col).sort().gather((pl.len() * q).ceil().cast(pl.Int64) - 1).first()


start = time.perf_counter()
scan = pl.scan_parquet(path) if path.endswith(".parquet") else pl.scan_csv(path, try_parse_dates=True)
real = (
    scan.filter(pl.col("source") == "real")
    .with_columns(ms=pl.col("ts").cast(pl.Datetime("ms")).dt.epoch("ms") - T0_MS)
    .filter((pl.col("ms") > 0) & (pl.col("ms") <= TICKS * TICK))
    .with_columns(interval=((pl.col("ms") - 1) // TICK).cast(pl.Int32))
)
# Budget and traffic split need every real request; the windows only the canary ones.
per_interval = (
    real.group_by("interval")
    .agg(
        all_real=pl.len(),
        canary=(pl.col("cohort") == "canary").sum(),
        canary_5xx=((pl.col("cohort") == "canary") & pl.col("status").is_between(500, 599)).sum(),
    )
    .collect()
)
canary = (
    real.filter(pl.col("cohort") == "canary")
    .with_columns(
        prefix=pl.coalesce(
            [pl.when(pl.col("endpoint").str.starts_with(p)).then(pl.lit(i)) for i, p in enumerate(PREFIXES)]
        )
    )
    .select("interval", "status", "latency_ms", "prefix")
    .collect()
)
counts = {r["interval"]: r for r in per_interval.iter_rows(named=True)}

rows = []  # per tick: (stage index, n, e5, e4, p95, p99, burn, endpoint p95 breach)
cum_real = cum_5xx = 0
for si, (first, last, weight, go_p95) in enumerate(STAGES):
    part = canary.filter(pl.col("interval").is_between(first, last - 1))
    for k in range(first + 1, last + 1):
        c = counts.get(k - 1)
        if c:
            cum_real += c["all_real"]
            cum_5xx += c["canary_5xx"]
        burn = None
        if cum_real >= MIN_REQ:
            burn = cum_5xx * (k * TICK) / (0.001 * cum_real * 30 * 86_400_000)
        w = part.filter(pl.col("interval").is_between(max(k - 5, first), k - 1))
        n = w.height
        if n < MIN_REQ:
            rows.append((si, n, None, None, None, None, burn, False))
            continue
        agg = w.select(
            e5=pl.col("status").is_between(500, 599).sum(),
            e4=(pl.col("status").is_between(400, 499) & ~pl.col("status").is_in([401, 403])).sum(),
            p95=nearest_rank("latency_ms", 0.95),
            p99=nearest_rank("latency_ms", 0.99),
        ).row(0)
        by_prefix = (
            w.filter(pl.col("prefix").is_not_null())
            .group_by("prefix")
            .agg(n=pl.len(), p95=nearest_rank("latency_ms", 0.95))
            .filter(pl.col("n") >= 20)
        )
        endpoint = by_prefix.height > 0 and by_prefix["p95"].max() > 250.0
        rows.append((si, n, agg[0] / n, agg[1] / n, agg[2], agg[3], burn, endpoint))

stage_stats = []
for first, last, weight, _ in STAGES:
    part = canary.filter(pl.col("interval").is_between(first, last - 1))
    n = part.height
    e5 = part.select(pl.col("status").is_between(500, 599).sum()).item()
    real_n = sum(counts[i]["all_real"] for i in range(first, last) if i in counts)
    can_n = sum(counts[i]["canary"] for i in range(first, last) if i in counts)
    availability = 1 - e5 / n if n >= MIN_REQ else None
    drift = real_n >= 1000 and abs(can_n / real_n - weight) > 0.02
    stage_stats.append((availability, drift))

go_p95 = [STAGES[r[0]][3] for r in rows]
gates = {
    "5xx": [r[2] is not None and r[2] >= 0.005 for r in rows],
    "4xx": [r[3] is not None and r[3] >= 0.01 for r in rows],
    "p95_go": [r[4] is not None and r[4] > g for r, g in zip(rows, go_p95)],
    "p95_trig": [r[4] is not None and r[4] > 250.0 for r in rows],
    "p99": [r[5] is not None and r[5] > 600.0 for r in rows],
    "burn": [r[6] is not None and r[6] > 0.10 for r in rows],
    "endpoint": [r[7] for r in rows],
}
first_trigger = None
for name in ["5xx", "4xx", "p95_trig", "p99", "burn"]:
    run = 0
    for k, (hit, r) in enumerate(zip(gates[name], rows)):
        new_stage = k > 0 and rows[k - 1][0] != r[0]
        run = (0 if new_stage else run) + 1 if hit else 0
        if run >= 11:
            first_trigger = k + 1 if first_trigger is None else min(first_trigger, k + 1)
            break
elapsed = time.perf_counter() - start
with_data = sum(1 for r in rows if r[2] is not None)
breaches = " ".join(str(sum(gates[g])) for g in gates)
print(f"peer {elapsed:.2f} {with_data} {breaches} {first_trigger if first_trigger else '-'}")
