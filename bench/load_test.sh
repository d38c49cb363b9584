#!/usr/bin/env bash
# Load test: explaind's explain route on loopback, driven by wrk, at and above saturation.
# For each model: a fresh server on 127.0.0.1, wrk for DURATION seconds at each connection
# count, then throughput, p50/p99 latency, answers by status and the server's peak RSS.
#
#   bench/load_test.sh                       # both models below, levels "8 64 512"
#   MODELS=house-prices bench/load_test.sh   # one of them
#   DURATION=5 LEVELS="64" ROUTE=healthz bench/load_test.sh   # the bare HTTP stack
#   BINARY=/tmp/explaind-old bench/load_test.sh   # another build (no cargo build then)
#
# Models:
#   house-prices  the demo linear model, one house per request (bench/explain.lua)
#   big-xgb       XGBoost, 500 trees of depth 6 on 20 features (bench/compare_trees.py's
#                 model: same data, same parameters), trained here with xgboost from PyPI
#                 into $WORK (never committed), registered with PUT, one row per request
#
# Needs wrk (Debian package `wrk`), and for big-xgb python3 with numpy and xgboost.
# Every run is bounded: DURATION seconds per level, loopback only. The script fails if any
# answer is other than 200 or a 503 with Retry-After (load shedding).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
PORT=${PORT:-18181}
MODELS=${MODELS:-"house-prices big-xgb"}
LEVELS=${LEVELS:-"8 64 512"}
ROUTE=${ROUTE:-explain}
WORK=${WORK:-/tmp/explaind-load}
mkdir -p "$WORK"

if [ -z "${BINARY:-}" ]; then
  cargo build --release --quiet --bin explaind
  BINARY=target/release/explaind
fi
echo "uptime: $(uptime)"
echo "cpus=$(nproc) duration=${DURATION}s levels=$LEVELS server_threads=default"

big_xgb_document() {
  local doc="$WORK/big-xgb.put.json"
  [ -s "$doc" ] || python3 - "$doc" <<'EOF'
import json, sys
import numpy as np
import xgboost as xgb

F = 20
rng = np.random.default_rng(1)  # bench/compare_trees.py's training data, data(20000, 1)
x = rng.normal(size=(20000, F))
y = x[:, 0] * 2 + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + np.abs(x[:, 4]) + 0.3 * rng.normal(size=20000)
x[rng.random(x.shape) < 0.02] = np.nan
bst = xgb.train({"max_depth": 6, "eta": 0.05, "nthread": 2, "seed": 0},
                xgb.DMatrix(x, label=y), num_boost_round=500)
model = json.loads(bst.save_raw("json"))
with open(sys.argv[1], "w") as f:
    json.dump({"kind": "xgboost", "feature_names": [f"f{j}" for j in range(F)], "model": model,
               "description": "load test: 500 trees of depth 6 on 20 features"}, f)
EOF
  echo "$doc"
}

run_model() {
  local model=$1 body=""
  "$BINARY" --addr "127.0.0.1:$PORT" --log-format json ${EXTRA_ARGS:-} \
    > "$WORK/server-$model.log" 2>&1 &
  local pid=$!
  trap "kill $pid 2>/dev/null || true" EXIT
  for _ in $(seq 100); do
    curl -sf "127.0.0.1:$PORT/readyz" > /dev/null && break
    sleep 0.1
  done
  case $model in
    house-prices) ;;
    big-xgb)
      local doc
      doc=$(big_xgb_document)
      curl -sf -X PUT "127.0.0.1:$PORT/models/big-xgb" -H 'content-type: application/json' \
        --data-binary "@$doc" -o /dev/null -w "registered big-xgb: %{http_code} ($(du -k "$doc" | cut -f1) KiB)\n"
      body='{"instances":[[0.3,-1.2,0.8,0.1,-0.5,1.1,0.0,-0.7,0.4,2.0,-0.2,0.6,-1.5,0.9,0.05,-0.3,1.4,-0.8,0.2,0.7]]}'
      ;;
    *) echo "unknown model $model" >&2; exit 2 ;;
  esac
  local url="http://127.0.0.1:$PORT/models/$model/explain" method=POST
  if [ "$ROUTE" = healthz ]; then url="http://127.0.0.1:$PORT/healthz" method=GET; fi
  echo "=== model=$model route=$ROUTE"
  for c in $LEVELS; do
    local threads=$(( c < 2 ? c : 2 ))
    local out
    out=$(EXPLAIN_BODY=$body WRK_METHOD=$method wrk -t"$threads" -c"$c" -d"${DURATION}s" --latency \
      -s bench/explain.lua "$url")
    echo "--- connections=$c"
    grep -E "statuses|p50_ms|Socket errors" <<< "$out"
    local bad
    bad=$(grep statuses <<< "$out" | tr ' ' '\n' | grep '=' | grep -vE '^(200|503)=' || true)
    if [ -n "$bad" ] || grep -q "503_without_retry_after" <<< "$out"; then
      echo "FAIL: answers other than 200 and shed 503s: $bad" >&2
      exit 1
    fi
  done
  echo "peak_rss_kib=$(grep VmHWM "/proc/$pid/status" | awk '{print $2}')"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  trap - EXIT
}

for m in $MODELS; do run_model "$m"; done
