# drift-check: a batch image with the binary, CA certificates and an ssh client
# (gix's ssh transport runs `ssh`). No HEALTHCHECK: it is a CronJob's job.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin drift-check \
    && strip target/release/drift-check

FROM debian:bookworm-slim AS runtime
# OpenSSH refuses to run for a uid without a passwd entry: give 65532 one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 65532 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin drift-check
COPY --from=build /src/target/release/drift-check /usr/local/bin/drift-check
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/drift-check"]
CMD ["run", "--config", "/etc/drift-check/drift-check.yaml"]
