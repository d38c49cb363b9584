# syntax=docker/dockerfile:1
# explaind: a static (musl) binary on an empty base image, run as a non-root user.

# --- build: compile a fully static binary -----------------------------------------------
FROM rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev=~1
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY data ./data
RUN cargo build --release --locked \
    && install -D -m 0755 target/release/explaind /out/explaind \
    && install -d -m 0755 -o 65532 -g 65532 /out/models

# --- runtime: nothing but the binary ------------------------------------------------------
FROM scratch AS runtime
COPY --from=build /out/explaind /explaind
COPY --from=build --chown=65532:65532 /out/models /models
USER 65532:65532
ENV EXPLAIND_ADDR=0.0.0.0:8080 \
    EXPLAIND_MODEL_DIR=/models \
    EXPLAIND_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/models"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/explaind", "--healthcheck"]
ENTRYPOINT ["/explaind"]
