#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: repeatable on a loaded
# machine where wall-clock throughput moves by tens of percent. Starts the release
# binary under callgrind on loopback, sends WARMUP requests, zeroes the counters, sends
# REQUESTS more over one keep-alive connection, and prints instructions per request
# (server side, all threads) and the top functions by inclusive cost.
#
#   bench/callgrind.sh                      # POST /models/house-prices/explain
#   ROUTE=/healthz bench/callgrind.sh       # GET, the HTTP stack alone
#   BINARY=/tmp/explaind-old bench/callgrind.sh
#
# Needs valgrind (Debian package). Loopback only; stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18182}
REQUESTS=${REQUESTS:-2000}
WARMUP=${WARMUP:-200}
ROUTE=${ROUTE:-/models/house-prices/explain}
OUT=${OUT:-/tmp/explaind-callgrind}
mkdir -p "$OUT"
if [ -z "${BINARY:-}" ]; then
  cargo build --release --quiet --bin explaind
  BINARY=target/release/explaind
fi
rm -f "$OUT"/callgrind.out.*
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \
  "$BINARY" --addr "127.0.0.1:$PORT" --log-format json > "$OUT/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
send() {
  python3 - "$PORT" "$ROUTE" "$1" <<'PY'
import http.client, sys
port, route, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = (b'{"instances":[{"lotsize":5850,"bedrooms":3,"bathrooms":1,"stories":2,"driveway":1,'
        b'"recreation":0,"fullbase":1,"gasheat":0,"aircon":0,"garage":1,"prefer":0}]}')
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(n):
    if route == "/healthz":
        c.request("GET", route)
    else:
        c.request("POST", route, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
}
for _ in $(seq 600); do
  curl -sf "127.0.0.1:$PORT/readyz" > /dev/null && break
  sleep 0.2
done
send "$WARMUP"
callgrind_control -z "$PID" > /dev/null 2>&1
send "$REQUESTS"
callgrind_control -d "$PID" > /dev/null 2>&1
kill "$PID"; wait "$PID" 2>/dev/null || true; trap - EXIT
dump="$OUT/callgrind.out.$PID.1"
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
echo "route=$ROUTE requests=$REQUESTS instructions_per_request=$(( total / REQUESTS ))"
callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | sed -n '/file:function/,$p' | head -${TOP:-40} > "$OUT/top.txt"
echo "top functions (inclusive): $OUT/top.txt; dump: $dump"
