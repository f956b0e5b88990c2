"""The analyst's way, for comparison: the request gates of one rollout computed with
Python polars from the same Parquet or CSV file (windowed group-by per tick and
stage), timed in the same run as `rehearse run`. Prints one line:
`peer <seconds> <ticks with data> <ticks breaching 5xx> <ticks breaching p95>`.
"""

import sys
import time

import polars as pl

T0_MS = int(sys.argv[2])
path = sys.argv[1]
start = time.perf_counter()
scan = pl.scan_parquet(path) if path.endswith(".parquet") else pl.scan_csv(path, try_parse_dates=True)
stages = [(0, 120, 200.0), (120, 150, 200.0), (150, 210, 200.0), (210, 330, 120.0)]
df = (
    scan.filter((pl.col("cohort") == "canary") & (pl.col("source") == "real"))
    .with_columns(
        ms=pl.col("ts").cast(pl.Datetime("ms")).dt.epoch("ms") - T0_MS,
    )
    .with_columns(tick_interval=((pl.col("ms") - 1) // 60_000))
    .filter((pl.col("ms") > 0) & (pl.col("tick_interval") < 330))
    .collect()
)
rows = []
for first, last, go_p95 in stages:
    part = df.filter((pl.col("tick_interval") >= first) & (pl.col("tick_interval") < last))
    for k in range(first + 1, last + 1):
        lo = max(k - 5, first)
        w = part.filter((pl.col("tick_interval") >= lo) & (pl.col("tick_interval") < k))
        n = w.height
        if n < 100:
            rows.append((k, n, None, None, None))
            continue
        agg = w.select(
            e5=(pl.col("status").is_between(500, 599)).sum(),
            p95=pl.col("latency_ms").sort().gather((pl.len() * 0.95).ceil().cast(pl.Int64) - 1).first(),
            p99=pl.col("latency_ms").sort().gather((pl.len() * 0.99).ceil().cast(pl.Int64) - 1).first(),
        ).row(0)
        rows.append((k, n, agg[0] / n, agg[1], agg[2]))
elapsed = time.perf_counter() - start
with_data = sum(1 for r in rows if r[2] is not None)
b5 = sum(1 for r in rows if r[2] is not None and r[2] >= 0.005)
b95 = sum(1 for r in rows if r[3] is not None and r[3] > 250)
print(f"peer {elapsed:.2f} {with_data} {b5} {b95}")
