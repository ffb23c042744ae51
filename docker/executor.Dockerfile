# The executor image (crates/executor): the executor binary, the Claude Code CLI it drives, git and
# CA certificates, user `agent` (uid 1000, the manager's default EXECUTOR_USER), the workspace at
# /workspace. The executor manager starts one container per run from it (EXECUTOR_IMAGE).
# Build from the repository root:
#   docker build --network host -f docker/executor.Dockerfile -t workcell/executor .

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

# ---- the Claude Code CLI: the npm package installs a self-contained native binary
FROM node:20-bookworm-slim AS claude
ARG CLAUDE_CODE_VERSION=2.1.330
RUN npm install --prefix /opt/claude --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
 && cp -L /opt/claude/node_modules/.bin/claude /claude \
 && /claude --version

# ---- runtime
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
RUN useradd --uid 1000 --user-group --create-home --shell /bin/bash agent \
 && mkdir -p /workspace \
 && chown agent:agent /workspace
COPY --from=claude /claude /usr/local/bin/claude
COPY --from=build /out/executor /usr/local/bin/executor
COPY docker/healthcheck.sh /usr/local/bin/healthcheck
ENV CLAUDE_BIN=/usr/local/bin/claude WORKSPACE_PATH=/workspace HOST=0.0.0.0 PORT=8000
USER 1000:1000
WORKDIR /workspace
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/healthcheck"]
CMD ["/usr/local/bin/executor"]
