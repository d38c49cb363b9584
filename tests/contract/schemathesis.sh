#!/usr/bin/env bash
# Contract test: schemathesis generates requests from openapi.yaml against a server
# started here on loopback, and fails on any 5xx or any answer the document does not
# describe (status, content type, body schema, headers).
#
#   tests/contract/schemathesis.sh [BINARY]     (default: target/debug/explaind)
#
# Needs schemathesis (PyPI). Bounded: --max-examples per operation, one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/debug/explaind}
PORT=${PORT:-18190}
EXAMPLES=${EXAMPLES:-60}
"$BIN" --addr "127.0.0.1:$PORT" > /tmp/explaind-schemathesis.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "127.0.0.1:$PORT/readyz" > /dev/null && break
  sleep 0.1
done
st run openapi.yaml --url "http://127.0.0.1:$PORT" \
  --max-examples "$EXAMPLES" --seed "${SEED:-1}" --no-color \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  | tee /tmp/explaind-schemathesis.out | tail -n 25
