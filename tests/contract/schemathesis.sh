#!/usr/bin/env bash
# Contract test: schemathesis generates requests from openapi.yaml against a server
# started here on loopback, with every check (a 5xx; an answer the document does not
# describe in status, content type, body or headers; a refusal of valid data or an
# acceptance of invalid data; a wrong 405 or Allow header; ...) and every phase.
#
#   tests/contract/schemathesis.sh [BINARY]     (default: target/debug/explaind)
#
# Two runs, each on a fresh server holding the demo model: the stateful phase
# first follows the document's links (the model list and a registration lead to
# the operations on a model, a started job to its status), then the examples,
# coverage and fuzzing phases, which delete that model along the way. Settings
# per operation: tests/contract/schemathesis.toml. Needs schemathesis (PyPI).
# Bounded by --max-examples (per operation, and scenarios of the stateful phase);
# about a minute on two cores. (--max-time would make fuzzing run until it is spent.)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/debug/explaind}
PORT=${PORT:-18190}
EXAMPLES=${EXAMPLES:-60}
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null || true' EXIT

run() {
  local phases=$1
  "$BIN" --addr "127.0.0.1:$PORT" > "/tmp/explaind-schemathesis-$phases.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    curl -sf "127.0.0.1:$PORT/readyz" > /dev/null && break
    sleep 0.1
  done
  local status=0
  st --config-file tests/contract/schemathesis.toml run openapi.yaml \
    --url "http://127.0.0.1:$PORT" --phases "$phases" --checks all \
    --max-examples "$EXAMPLES" --seed "${SEED:-1}" --no-color \
    > "/tmp/explaind-schemathesis-$phases.out" 2>&1 || status=$?
  tail -n 25 "/tmp/explaind-schemathesis-$phases.out"
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
  return "$status"
}

failed=0
run stateful || failed=1
run examples,coverage,fuzzing || failed=1
exit "$failed"
