#!/usr/bin/env bash
# Benchmark of `rehearse funnel` (release build) beside a DuckDB SQL peer computing the
# same funnel (bench/duckdb_funnel.py), on 10 M funnel events from Parquet written by
# polars (zstd), pyarrow (snappy) and DuckDB (its default). The first pair of runs on
# each file is also the check: the peer's counts (persons, exclusion, stitching, every
# funnel step per platform and cohort with its medians, revenue, first and last touch)
# must equal those of `rehearse funnel --json`, else the script stops before printing
# any figure. Per writer, BENCH_RUNS (default 5) paired runs (rehearse, then the peer,
# then the decode floor), each under
# /usr/bin/time: the median wall and CPU (user + sys) seconds, the largest peak RSS, and
# the ratio of the peer's CPU seconds to rehearse's. The decode floor is pyarrow reading
# just the columns the funnel needs (strings as dictionaries), nothing computed.
# Threads: BENCH_THREADS (default 2) for all three. Usage: bench/funnel.sh
# Data goes to ${BENCH_DIR:-target/funnelbench}; nothing is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/funnelbench}
RUNS=${BENCH_RUNS:-5}
THREADS=${BENCH_THREADS:-2}
mkdir -p "$BENCH_DIR"
# REHEARSE_BIN runs an already built binary (e.g. a copy of a release build) instead.
if [ -n "${REHEARSE_BIN:-}" ]; then
  BIN=$REHEARSE_BIN
else
  cargo build --release --quiet
  BIN=target/release/rehearse
fi
if [ ! -x "$BENCH_DIR/venv/bin/python" ]; then
  python3 -m venv "$BENCH_DIR/venv"
  "$BENCH_DIR/venv/bin/pip" install --quiet duckdb==2.0.1 pyarrow==26.0.1 polars==1.44.2 \
    || "$BENCH_DIR/venv/bin/pip" install --quiet duckdb pyarrow polars
fi
PY="$BENCH_DIR/venv/bin/python"
if [ ! -f "$BENCH_DIR/gen/funnel.parquet" ]; then
  $BIN generate bench/funnel.toml --out "$BENCH_DIR/gen" --format parquet
fi
if [ ! -f "$BENCH_DIR/duckdb/funnel.parquet" ]; then
  "$PY" bench/funnel_data.py "$BENCH_DIR/gen" "$BENCH_DIR"
fi
WRITERS=(polars pyarrow duckdb)
export RAYON_NUM_THREADS=$THREADS

one() { # one timed run, stdout to $OUT (default /dev/null): appends "wall cpu peak_kb" to $LOG
  /usr/bin/time -f "%e %U %S %M" -o "$BENCH_DIR/time.txt" "$@" >"${OUT:-/dev/null}" 2>"$BENCH_DIR/err.txt" \
    || { cat "$BENCH_DIR/err.txt" >&2; exit 1; }
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$BENCH_DIR/time.txt" >> "$LOG"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

FLOOR_PY='
import sys, pyarrow.parquet as pq
cols = ["ts", "event", "user_id", "anonymous_id", "cohort", "platform", "utm_source",
        "utm_medium", "utm_campaign", "revenue", "currency", "order_id", "test_mode",
        "user_agent", "page_url", "provider_id", "message_id", "source"]
f = pq.ParquetFile(sys.argv[1])
cols = [c for c in cols if c in f.schema_arrow.names]
strs = [c for c in cols if c not in ("ts", "revenue", "test_mode")]
t = pq.read_table(sys.argv[1], columns=cols, read_dictionary=strs, use_threads=True)
print(t.num_rows)
'
printf "%-8s %-11s %7s %7s %8s %9s %8s %8s %6s %9s %8s\n" writer load wall_s cpu_s peak_MB peer_wall peer_cpu peer_MB cpu_x floor_cpu floor_wl
for w in "${WRITERS[@]}"; do
  dir="$BENCH_DIR/$w"
  r="$BENCH_DIR/r-$w.txt"; p="$BENCH_DIR/p-$w.txt"; f="$BENCH_DIR/f-$w.txt"
  : > "$r"; : > "$p"; : > "$f"
  load=$(cut -d' ' -f1 /proc/loadavg)
  for run in $(seq "$RUNS"); do
    # The first pair is also the check: the peer's counts must equal rehearse's.
    OUT="$BENCH_DIR/report-$w.json" LOG="$r" one "$BIN" funnel "$dir" --json
    OUT="$BENCH_DIR/counts-duckdb-$w.json" LOG="$p" one "$PY" bench/duckdb_funnel.py "$dir/funnel.parquet" --threads "$THREADS"
    if [ "$run" = 1 ]; then
      "$PY" bench/funnel_counts.py < "$BENCH_DIR/report-$w.json" > "$BENCH_DIR/counts-rehearse-$w.json"
      if ! cmp -s "$BENCH_DIR/counts-rehearse-$w.json" "$BENCH_DIR/counts-duckdb-$w.json"; then
        echo "$w: the DuckDB peer's funnel differs from rehearse's:" >&2
        diff <("$PY" -m json.tool "$BENCH_DIR/counts-rehearse-$w.json") \
             <("$PY" -m json.tool "$BENCH_DIR/counts-duckdb-$w.json") >&2 || true
        exit 1
      fi
      echo "$w: the peer's funnel counts equal rehearse's" >&2
    fi
    OMP_NUM_THREADS=$THREADS ARROW_NUM_THREADS=$THREADS LOG="$f" one "$PY" -c "$FLOOR_PY" "$dir/funnel.parquet"
  done
  load="$load-$(cut -d' ' -f1 /proc/loadavg)"
  rw=$(cut -d' ' -f1 "$r" | median); rc=$(cut -d' ' -f2 "$r" | median)
  rm=$(cut -d' ' -f3 "$r" | sort -n | tail -1)
  pw=$(cut -d' ' -f1 "$p" | median); pc=$(cut -d' ' -f2 "$p" | median)
  pm=$(cut -d' ' -f3 "$p" | sort -n | tail -1)
  fw=$(cut -d' ' -f1 "$f" | median); fc=$(cut -d' ' -f2 "$f" | median)
  ratio=$(awk -v p="$pc" -v r="$rc" 'BEGIN {printf "%.1fx", (r > 0 ? p / r : 0)}')
  printf "%-8s %-11s %7s %7s %8s %9s %8s %8s %6s %9s %8s\n" "$w" "$load" "$rw" "$rc" "$((rm / 1024))" \
    "$pw" "$pc" "$((pm / 1024))" "$ratio" "$fc" "$fw"
done
