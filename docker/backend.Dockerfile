# The backend API (crates/backend). Build from the repository root:
#   docker build --network host -f docker/backend.Dockerfile -t workcell/backend .
# Runs the embedded migrations at start-up (RUN_MIGRATIONS=true) as a non-root user.

# ---- build: this stage is byte-for-byte the same in backend, executor-manager and executor
# Dockerfiles, so the classic builder compiles the workspace once and the other two images reuse the
# cached layers (see docs/deployment.md, "Images").
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
RUN cargo build --release --locked -p backend -p executor-manager -p executor \
 && mkdir -p /out \
 && cp target/release/backend target/release/executor-manager target/release/executor /out/

# ---- runtime: Debian slim, CA certificates (rustls loads the system roots), one binary
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/workcell --shell /usr/sbin/nologin workcell
COPY --from=build /out/backend /usr/local/bin/backend
COPY docker/healthcheck.sh /usr/local/bin/healthcheck
USER workcell
WORKDIR /var/lib/workcell
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=6 CMD ["/usr/local/bin/healthcheck"]
CMD ["/usr/local/bin/backend"]
