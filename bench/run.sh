#!/usr/bin/env bash
# End-to-end benchmark of `rehearse run` (release build): generates datasets with
# `rehearse generate` (bench/load.toml at several request rates), replays them and
# prints events/s, wall-clock, peak RSS and the ratio to real time; times the Python
# polars peer (bench/peer.py) on the same files in the same run. Each time is the median
# of BENCH_RUNS runs (default 3), each peak the largest. Usage:
#   bench/run.sh [RPS ...]            default: 50 500 1000 (about 1 M, 10 M, 20 M requests)
# Data goes to ${BENCH_DIR:-target/bench}; nothing is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
RATES=("$@")
[ ${#RATES[@]} -eq 0 ] && RATES=(50 500 1000)
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
  "$BENCH_DIR/venv/bin/pip" install --quiet polars==1.44.2
fi
PY="$BENCH_DIR/venv/bin/python"
T0_MS=1772445600000
ROLLOUT_S=19800

RUNS=${BENCH_RUNS:-3}

measure() { # prints "seconds peak_kb": the median wall-clock of $RUNS runs, the largest peak
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/err.txt" || true
    cat "$BENCH_DIR/time.txt"
  done | sort -n | awk '{w[NR] = $1; if ($2 > m) m = $2} END {print w[int((NR + 1) / 2)], m}'
}

printf "%-8s %-8s %-8s %12s %9s %10s %12s %10s %9s %9s\n" rps format threads events wall_s peak_MB events_per_s x_realtime peer_s peer_x
for rps in "${RATES[@]}"; do
  scen="$BENCH_DIR/load-$rps.toml"
  sed "s/^rps = .*/rps = $rps.0/" bench/load.toml > "$scen"
  for fmt in parquet csv; do
    dir="$BENCH_DIR/d-$rps-$fmt"
    if [ ! -f "$dir/requests.$fmt" ]; then
      $BIN generate "$scen" --out "$dir" --format "$fmt" --force 2>/dev/null
    fi
    events=$($BIN run "$dir" --json | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(sum(i["rows"] for i in r["inputs"]))')
    for threads in 1 2; do
      read -r wall kb < <(RAYON_NUM_THREADS=$threads measure "$BIN" run "$dir" --json)
      eps=$("$PY" -c "print(f'{$events/$wall:,.0f}' if $wall > 0 else 'inf')")
      xrt=$("$PY" -c "print(f'{$ROLLOUT_S/$wall:,.0f}' if $wall > 0 else 'inf')")
      peer="-"; ratio="-"
      if [ "$threads" = 2 ]; then
        read -r pwall pkb < <(measure "$PY" bench/peer.py "$dir/requests.$fmt" $T0_MS)
        peer="$pwall (${pkb}KB)"
        ratio=$("$PY" -c "print(f'{$pwall/$wall:.1f}x' if $wall > 0 else '-')")
      fi
      printf "%-8s %-8s %-8s %12s %9s %10s %12s %10s %9s %9s\n" "$rps" "$fmt" "$threads" "$events" "$wall" "$((kb / 1024))" "$eps" "$xrt" "$peer" "$ratio"
    done
  done
done
