#!/usr/bin/env bash
# Container test: build the Dockerfile's final stage with buildah from a static binary
# built on this host (base images cannot be pulled here), start it, and check that it
# answers as a non-root user from an empty base image. Reports the image size.
#
#   tests/container/build.sh
#
# Needs buildah (Debian), run as root; uses --isolation chroot and the vfs driver so
# no daemon or kernel overlay support is needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=localhost/explaind:test
PORT=${PORT:-18280}

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

echo "== start it"
ctr=$(buildah --storage-driver vfs from "$IMAGE")
cleanup() {
  kill "${RUN_PID:-0}" 2>/dev/null || true
  buildah --storage-driver vfs rm "$ctr" > /dev/null 2>&1 || true
}
trap cleanup EXIT
user=$(buildah --storage-driver vfs inspect --format '{{.OCIv1.Config.User}}' "$IMAGE")
[ "$user" = "65532:65532" ] || { echo "image user is '$user', expected 65532:65532"; exit 1; }
health=$(buildah --storage-driver vfs inspect --format '{{.Docker.Config.Healthcheck.Test}}' "$IMAGE")
case "$health" in *--healthcheck*) echo "healthcheck in image: $health" ;; *) echo "no healthcheck in image"; exit 1 ;; esac
buildah --storage-driver vfs run --isolation chroot --network host \
  --env EXPLAIND_ADDR="127.0.0.1:$PORT" "$ctr" /explaind > /tmp/explaind-container.log 2>&1 &
RUN_PID=$!
for _ in $(seq 100); do
  curl -sf "127.0.0.1:$PORT/readyz" > /dev/null && break
  sleep 0.1
done
curl -sf "127.0.0.1:$PORT/readyz"; echo
curl -sf -X POST "127.0.0.1:$PORT/models/house-prices/predict" -H 'content-type: application/json' \
  -d '{"instances":[[5850,3,1,2,1,0,1,0,0,1,0]]}'; echo
buildah --storage-driver vfs run --isolation chroot --network host \
  --env EXPLAIND_ADDR="127.0.0.1:$PORT" "$ctr" /explaind --healthcheck && echo "healthcheck: ok"
echo "container test passed"
