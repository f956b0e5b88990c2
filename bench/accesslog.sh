#!/usr/bin/env bash
# Access-log benchmark (release build): writes gzip-compressed nginx access logs of
# LINES lines each with examples/nginx_log.rs (a dataset directory whose manifest has an
# `[access_log]` section), replays each with `rehearse run --json`, and prints wall and
# CPU seconds, lines per second and peak RSS, next to the decompression floor (`gzip -dc`
# to /dev/null, the least any reader of the file pays). A bounded reader shows the same
# peak RSS at every size. Usage:
#   bench/accesslog.sh [LINES ...]      default: 10000000 100000000
# Data goes to ${BENCH_DIR:-target/bench}/al-LINES (about 17 bytes per line gzipped:
# 1.7 GB for 100 M lines); nothing is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(10000000 100000000)
mkdir -p "$BENCH_DIR"
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin rehearse --example nginx_log
BIN=${REHEARSE_BIN:-$TARGET/release/rehearse}
GEN=$TARGET/release/examples/nginx_log

printf "%-11s %8s %8s %8s %8s %11s %8s %9s %9s\n" lines gz_MB wall_s user_s sys_s lines_per_s peak_MB floor_s verdict
for n in "${SIZES[@]}"; do
  dir="$BENCH_DIR/al-$n"
  [ -f "$dir/access.log.gz" ] || "$GEN" "$dir" "$n" 7
  gz_mb=$(( $(stat -c %s "$dir/access.log.gz") / 1000000 ))
  /usr/bin/time -f "%e %U %S %M" -o "$BENCH_DIR/time.txt" "$BIN" run "$dir" --json >"$BENCH_DIR/al-$n.json" 2>/dev/null || true
  read -r wall user sys kb < <(tail -n 1 "$BENCH_DIR/time.txt")
  /usr/bin/time -f "%e" -o "$BENCH_DIR/floor.txt" sh -c "gzip -dc '$dir/access.log.gz' >/dev/null"
  floor=$(cat "$BENCH_DIR/floor.txt")
  rows=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(i["rows"] for i in r["inputs"]))' "$BENCH_DIR/al-$n.json")
  outcome=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outcome"])' "$BENCH_DIR/al-$n.json")
  [ "$rows" = "$n" ] || { echo "read $rows rows of $n" >&2; exit 1; }
  printf "%-11s %8s %8s %8s %8s %11.0f %8d %9s %9s\n" "$n" "$gz_mb" "$wall" "$user" "$sys" \
    "$(python3 -c "print($n / $wall)")" $((kb / 1024)) "$floor" "$outcome"
done
