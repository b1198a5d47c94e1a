# drift-check: a batch image with the binary, CA certificates and an ssh client
# (gix's ssh transport runs `ssh`). No HEALTHCHECK: it is a CronJob's job.
#
# Build arguments (defaults: the public images; scripts/build-image makes
# local ones from Debian packages when no registry is reachable):
#   BUILDER_IMAGE  Rust toolchain (the edition 2024 crate needs rustc 1.85+)
#   RUNTIME_IMAGE  Debian bookworm
#
# Targets: the last stage, `runtime`, is the image (the binary compiled in
# `build`); `--target prebuilt` is the same image with ./drift-check of the
# build context instead (the image test, with the binary its test run built;
# the compile stage is skipped: BuildKit and buildah build only the stages a
# target needs).
ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin drift-check \
    && strip target/release/drift-check \
    && mkdir -p /out && cp target/release/drift-check /out/drift-check

FROM ${RUNTIME_IMAGE} AS runtime-base
# OpenSSH refuses to run for a uid without a passwd entry: give 65532 one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 65532 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin drift-check
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/drift-check"]
CMD ["run", "--config", "/etc/drift-check/drift-check.yaml"]

FROM runtime-base AS prebuilt
COPY drift-check /usr/local/bin/drift-check

FROM runtime-base AS runtime
COPY --from=build /out/drift-check /usr/local/bin/drift-check
