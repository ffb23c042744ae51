# The executor manager (crates/executor-manager). Build from the repository root:
#   docker build --network host -f docker/executor-manager.Dockerfile -t workcell/executor-manager .
# It starts executor containers through the Docker socket: give its user the socket's group
# (compose: group_add DOCKER_GID). It runs as uid 1000, the default EXECUTOR_USER, so the
# workspaces it hands to executor containers stay its own (no CAP_CHOWN needed).

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

# ---- runtime: Debian slim, CA certificates, iptables, one binary
# iptables installs the executors' egress rules (EXECUTOR_EGRESS_POLICY=restricted). The manager
# runs as uid 1000, so the iptables binary (xtables-nft-multi, behind iptables and
# iptables-restore) gets CAP_NET_ADMIN as a file capability; it takes effect only when the
# container is granted NET_ADMIN (compose: cap_add) and shares the host's network namespace.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates iptables libcap2-bin \
 && setcap cap_net_admin,cap_net_raw+ep "$(readlink -f /usr/sbin/iptables)" \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
RUN useradd --uid 1000 --user-group --create-home --home-dir /var/lib/workcell --shell /usr/sbin/nologin workcell
COPY --from=build /out/executor-manager /usr/local/bin/executor-manager
COPY docker/healthcheck.sh /usr/local/bin/healthcheck
USER workcell
WORKDIR /var/lib/workcell
ENV HOST=0.0.0.0 PORT=8001
EXPOSE 8001
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=6 CMD ["/usr/local/bin/healthcheck"]
CMD ["/usr/local/bin/executor-manager"]
