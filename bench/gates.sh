#!/usr/bin/env bash
# The request-gate benchmark against the strongest peer: `rehearse run` beside DuckDB SQL
# (bench/duckdb_peer.py) on the same files, in one run, in CPU seconds (user + system,
# so other load on the machine does not blur the ratio) and wall seconds.
#
#   bench/gates.sh [RPS]        default 1000: about 20 M requests (bench/load.toml)
#   bench/gates.sh --scenarios  only the peer's self-check on the incident scenarios
#
# Steps: build the release binary (or use $REHEARSE_BIN); generate the dataset with
# `rehearse generate` as Parquet and CSV; rewrite the Parquet file with polars (zstd),
# pyarrow (snappy) and DuckDB (its default) (bench/writers.py); on every file check
# that the peer's verdict equals rehearse's (bench/compare_gates.py) before timing
# anything; then BENCH_RUNS (default 5) paired runs of each, alternating, medians.
# The decode floor (examples/decode_floor.rs: the same Parquet library decoding just
# the six columns, nothing else) is timed the same way. Data under ${BENCH_DIR:-target/bench}.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
RUNS=${BENCH_RUNS:-5}
T0_MS=1772445600000
mkdir -p "$BENCH_DIR"
if [ -n "${REHEARSE_BIN:-}" ]; then
  BIN=$REHEARSE_BIN
  FLOOR=${FLOOR_BIN:-}
else
  cargo build --release --quiet --bin rehearse --example decode_floor
  BIN=target/release/rehearse
  FLOOR=target/release/examples/decode_floor
fi
VENV="$BENCH_DIR/peer-venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet duckdb==2.0.1 pyarrow==26.0.1 polars==1.44.2
fi
PY="$VENV/bin/python"

check() { # DATASET_DIR REQUESTS_FILE: the peer must give rehearse's verdict
  "$BIN" run "$1" --json > "$BENCH_DIR/rehearse.json" 2>/dev/null || true
  "$PY" bench/duckdb_peer.py "$2" $T0_MS > "$BENCH_DIR/peer.json"
  "$PY" bench/compare_gates.py "$BENCH_DIR/rehearse.json" "$BENCH_DIR/peer.json"
}

if [ "${1:-}" = "--scenarios" ]; then
  for s in 02-5xx-sustained 03-4xx-nonauth-sustained 04-latency-p95 05-latency-p99 \
    07-5xx-burst-short 12-low-traffic 13-full-stage-slo 15-demo-checkout-5xx \
    20-budget-burn-leak 22-budget-burn-late 23-endpoint-latency-admin; do
    d="$BENCH_DIR/scenarios/$s"
    [ -f "$d/requests.csv" ] || "$BIN" generate "scenarios/$s.toml" --out "$d" --format csv --force > /dev/null 2>&1
    echo "$s"
    check "$d" "$d/requests.csv"
  done
  exit 0
fi

rps=${1:-1000}
scen="$BENCH_DIR/gates-$rps.toml"
sed "s/^rps = .*/rps = $rps.0/" bench/load.toml > "$scen"
for fmt in parquet csv; do
  d="$BENCH_DIR/g-$rps-$fmt"
  [ -f "$d/requests.$fmt" ] || "$BIN" generate "$scen" --out "$d" --format $fmt --force 2>/dev/null
done
"$PY" bench/writers.py "$BENCH_DIR/g-$rps-parquet" "$BENCH_DIR/g-$rps-writers"

# One timed run: "wall cpu peak_kb" (cpu = user + system seconds).
timed() {
  /usr/bin/time -f "%e %U %S %M" -o "$BENCH_DIR/time.txt" "$@" > /dev/null 2> "$BENCH_DIR/err.txt" || true
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$BENCH_DIR/time.txt"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

printf "%-8s %10s | %8s %8s %7s | %8s %8s %7s | %7s | %8s\n" file requests rh_wall rh_cpu rh_MB duck_wall duck_cpu duck_MB cpu_x floor_cpu
for w in polars pyarrow duckdb csv; do
  if [ "$w" = csv ]; then d="$BENCH_DIR/g-$rps-csv"; f="$d/requests.csv"; else d="$BENCH_DIR/g-$rps-writers/$w"; f="$d/requests.parquet"; fi
  check "$d" "$f" > /dev/null || { echo "$w: the peer disagrees with rehearse; not timed" >&2; check "$d" "$f"; exit 1; }
  rows=$("$PY" -c "import json; r=json.load(open('$BENCH_DIR/rehearse.json')); print(sum(i['rows'] for i in r['inputs'] if i['stream'] == 'requests'))")
  : > "$BENCH_DIR/rh.txt"; : > "$BENCH_DIR/duck.txt"; : > "$BENCH_DIR/floor.txt"
  for _ in $(seq "$RUNS"); do
    RAYON_NUM_THREADS=2 timed "$BIN" run "$d" --json >> "$BENCH_DIR/rh.txt"
    timed "$PY" bench/duckdb_peer.py "$f" $T0_MS --threads 2 >> "$BENCH_DIR/duck.txt"
    if [ -n "$FLOOR" ] && [ "$w" != csv ]; then timed "$FLOOR" "$f" 2 >> "$BENCH_DIR/floor.txt"; fi
  done
  rw=$(awk '{print $1}' "$BENCH_DIR/rh.txt" | median); rc=$(awk '{print $2}' "$BENCH_DIR/rh.txt" | median)
  rm=$(awk '{print $3}' "$BENCH_DIR/rh.txt" | sort -n | tail -1)
  dw=$(awk '{print $1}' "$BENCH_DIR/duck.txt" | median); dc=$(awk '{print $2}' "$BENCH_DIR/duck.txt" | median)
  dm=$(awk '{print $3}' "$BENCH_DIR/duck.txt" | sort -n | tail -1)
  fc=$( [ -s "$BENCH_DIR/floor.txt" ] && awk '{print $2}' "$BENCH_DIR/floor.txt" | median || echo -)
  printf "%-8s %10s | %8s %8s %7s | %8s %8s %7s | %6.1fx | %8s\n" "$w" "$rows" "$rw" "$rc" $((rm / 1024)) "$dw" "$dc" $((dm / 1024)) \
    "$("$PY" -c "print($dc / $rc if $rc > 0 else 0)")" "$fc"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
