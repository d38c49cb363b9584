# syntax=docker/dockerfile:1
# explaind: a static binary on an empty base image, run as a non-root user. It listens
# on all interfaces, so it needs access tokens (EXPLAIND_ADMIN_TOKENS / _READER_TOKENS
# or EXPLAIND_TOKENS_FILE) or an explicit EXPLAIND_ALLOW_UNAUTHENTICATED=true. As a
# sidecar in the application's network namespace, set EXPLAIND_ADDR=127.0.0.1:8080 and
# it needs none (docker-compose.yml, deploy/sidecar/).
#
# The binary comes from one of two stages, chosen with --build-arg BINARY_SOURCE:
#   source (default)  compiled here from the repository, static with musl;
#   host              a static binary already built on the host and placed at
#                     target/static/explaind (see tests/container/build.sh), for
#                     machines that cannot pull a Rust base image.
ARG BINARY_SOURCE=source

# --- binary, compiled from source -------------------------------------------------------
FROM rust:1.95-alpine AS binary-source
RUN apk add --no-cache musl-dev=~1
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# bench/ is a workspace member: its manifest and sources must be present, but only
# explaind is built.
COPY bench/Cargo.toml ./bench/Cargo.toml
COPY bench/src ./bench/src
COPY data ./data
COPY static ./static
RUN cargo build --release --locked -p explaind \
    && install -D -m 0755 target/release/explaind /out/explaind

# --- binary, built on the host -----------------------------------------------------------
FROM scratch AS binary-host
COPY target/static/explaind /out/explaind

# --- runtime: nothing but the binary -------------------------------------------------------
# hadolint ignore=DL3006
FROM binary-${BINARY_SOURCE} AS binary

FROM scratch AS runtime
COPY --from=binary /out/explaind /explaind
COPY --chown=65532:65532 deploy/container/models /models
USER 65532:65532
ENV EXPLAIND_ADDR=0.0.0.0:8080 \
    EXPLAIND_MODEL_DIR=/models \
    EXPLAIND_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/models"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/explaind", "--healthcheck"]
ENTRYPOINT ["/explaind"]
