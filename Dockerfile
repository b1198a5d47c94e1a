# drift-check: a batch image with the binary, CA certificates and an ssh client
# (gix's ssh transport runs `ssh`). No HEALTHCHECK: it is a CronJob's job.
#
# Build arguments (defaults: the public images; scripts/build-image makes
# local ones from Debian packages when no registry is reachable):
#   BUILDER_IMAGE  Rust toolchain (the edition 2024 crate needs rustc 1.85+)
#   RUNTIME_IMAGE  Debian bookworm
#   BINARY         `build` (default) compiles in the first stage; `prebuilt`
#                  takes ./drift-check from the build context instead (the
#                  image test, with the binary its test run built). Stages a
#                  build does not need are skipped (BuildKit, buildah).
ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG BINARY=build

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin drift-check \
    && strip target/release/drift-check \
    && mkdir -p /out && cp target/release/drift-check /out/drift-check

FROM scratch AS prebuilt
COPY drift-check /out/drift-check

FROM ${BINARY} AS binary

FROM ${RUNTIME_IMAGE} AS runtime
# OpenSSH refuses to run for a uid without a passwd entry: give 65532 one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 65532 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin drift-check
COPY --from=binary /out/drift-check /usr/local/bin/drift-check
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/drift-check"]
CMD ["run", "--config", "/etc/drift-check/drift-check.yaml"]
