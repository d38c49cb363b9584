#!/usr/bin/env bash
# Load test: explaind's explain route on loopback, driven by wrk, at and above saturation.
# Reports throughput, p50/p99 latency, status counts and the server's peak RSS.
#
#   bench/load_test.sh                 # house-price model
#   MODEL=big-xgb MODEL_FILE=... bench/load_test.sh   # another model (see docs/load-test.md)
#
# Needs wrk (Debian package `wrk`). Every run is bounded: DURATION seconds per level.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
PORT=${PORT:-18181}
MODEL=${MODEL:-house-prices}
LEVELS=${LEVELS:-"8 64 512"}

cargo build --release --quiet
./target/release/explaind --addr "127.0.0.1:$PORT" --log-format json ${EXTRA_ARGS:-} > /tmp/explaind-load.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "127.0.0.1:$PORT/readyz" > /dev/null && break
  sleep 0.1
done
if [ -n "${SETUP:-}" ]; then eval "$SETUP"; fi

echo "model=$MODEL duration=${DURATION}s cpus=$(nproc) server_threads=default"
for c in $LEVELS; do
  threads=$(( c < 2 ? c : 2 ))
  echo "--- connections=$c"
  wrk -t"$threads" -c"$c" -d"${DURATION}s" --latency -s bench/explain.lua \
    "http://127.0.0.1:$PORT/models/$MODEL/explain" | grep -E "statuses|p50_ms|Socket errors"
done
echo "peak_rss_kib=$(grep VmHWM /proc/$PID/status | awk '{print $2}')"
