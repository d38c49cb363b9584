#!/usr/bin/env bash
# Container test: build the Dockerfile's final stage with buildah from a static binary
# built on this host (base images cannot be pulled here), then start it with its own
# command and address, as `docker run` would: without tokens it must refuse to listen
# on all interfaces; with tokens it serves there (port 8080 of this host, which must
# be free) and refuses requests without one. Then with the sidecar's settings (loopback,
# no tokens, port $PORT). Checks the non-root user and the healthcheck; reports the size.
#
#   tests/container/build.sh
#
# Needs buildah (Debian), run as root; uses --isolation chroot and the vfs driver so
# no daemon or kernel overlay support is needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=localhost/explaind:test

echo "== static binary (glibc, +crt-static)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked \
  --target x86_64-unknown-linux-gnu --target-dir target/static-build --quiet
mkdir -p target/static
cp target/static-build/x86_64-unknown-linux-gnu/release/explaind target/static/explaind
if ldd target/static/explaind 2>&1 | grep -q "=>"; then
  echo "binary is not static"; ldd target/static/explaind; exit 1
fi

echo "== buildah bud (final stage, binary from the host)"
buildah --storage-driver vfs bud --isolation chroot --layers=false -q --format docker \
  --build-arg BINARY_SOURCE=host --target runtime -t "$IMAGE" -f Dockerfile . > /dev/null
buildah --storage-driver vfs images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$IMAGE"

echo "== start it as built: the image's own command, address and user"
ctr=$(buildah --storage-driver vfs from "$IMAGE")
RUN_PID=
cleanup() {
  stop
  buildah --storage-driver vfs rm "$ctr" > /dev/null 2>&1 || true
}
stop() {
  if [ -n "$RUN_PID" ]; then
    kill "$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
    RUN_PID=
  fi
}
trap cleanup EXIT
inspect() { buildah --storage-driver vfs inspect --format "$1" "$IMAGE"; }
user=$(inspect '{{.OCIv1.Config.User}}')
[ "$user" = "65532:65532" ] || { echo "image user is '$user', expected 65532:65532"; exit 1; }
health=$(inspect '{{.Docker.Config.Healthcheck.Test}}')
case "$health" in *--healthcheck*) echo "healthcheck in image: $health" ;; *) echo "no healthcheck in image"; exit 1 ;; esac
# The default command (ENTRYPOINT, then CMD) and the default address (ENV
# EXPLAIND_ADDR), as `docker run IMAGE` would start them; buildah run applies the
# image's environment.
read -r -a command <<< "$(inspect '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}{{range .OCIv1.Config.Cmd}}{{.}} {{end}}')"
addr=$(inspect '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' | sed -n 's/^EXPLAIND_ADDR=//p')
port=${addr##*:}
echo "default command: ${command[*]}; default address: $addr"
run() {  # run ENV... : the default command in the container, in the background
  local env=()
  for e in "$@"; do env+=(--env "$e"); done
  buildah --storage-driver vfs run --isolation chroot --network host "${env[@]}" "$ctr" \
    "${command[@]}" > /tmp/explaind-container.log 2>&1 &
  RUN_PID=$!
}
wait_ready() {  # wait_ready PORT
  for _ in $(seq 100); do
    curl -sf "127.0.0.1:$1/readyz" > /dev/null && return 0
    sleep 0.1
  done
  echo "no answer on port $1"; cat /tmp/explaind-container.log; exit 1
}
body='{"instances":[[5850,3,1,2,1,0,1,0,0,1,0]]}'

echo "-- as built, with no tokens: refuses to listen on $addr"
run
for _ in $(seq 100); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$RUN_PID" 2>/dev/null; then echo "it started without tokens on $addr"; exit 1; fi
wait "$RUN_PID" && { echo "it exited 0 without tokens"; exit 1; }
RUN_PID=
grep -q "refusing to listen" /tmp/explaind-container.log || { cat /tmp/explaind-container.log; exit 1; }
echo "refused: $(grep -o 'refusing to listen[^:]*' /tmp/explaind-container.log)"

echo "-- as built, with tokens (option 2, a service of its own): serves on $addr"
run EXPLAIND_ADMIN_TOKENS=container-admin-token EXPLAIND_READER_TOKENS=container-reader-token
wait_ready "$port"
grep -q "\"addr\":\"$addr\"" /tmp/explaind-container.log \
  || { echo "not listening on $addr"; cat /tmp/explaind-container.log; exit 1; }
curl -sf "127.0.0.1:$port/readyz"; echo
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "127.0.0.1:$port/models/house-prices/predict" \
  -H 'content-type: application/json' -d "$body")
[ "$code" = 401 ] || { echo "predict without a token: $code, expected 401"; exit 1; }
curl -sf -X POST "127.0.0.1:$port/models/house-prices/predict" -H 'content-type: application/json' \
  -H 'authorization: Bearer container-reader-token' -d "$body"; echo
buildah --storage-driver vfs run --isolation chroot --network host "$ctr" /explaind --healthcheck \
  && echo "healthcheck: ok"
stop

echo "-- the sidecar's settings (option 1): loopback, no tokens"
SIDECAR_PORT=${PORT:-18280}
run "EXPLAIND_ADDR=127.0.0.1:$SIDECAR_PORT"
wait_ready "$SIDECAR_PORT"
curl -sf -X POST "127.0.0.1:$SIDECAR_PORT/models/house-prices/predict" \
  -H 'content-type: application/json' -d "$body"; echo
buildah --storage-driver vfs run --isolation chroot --network host \
  --env "EXPLAIND_ADDR=127.0.0.1:$SIDECAR_PORT" "$ctr" /explaind --healthcheck && echo "healthcheck: ok"
stop
echo "container test passed"
