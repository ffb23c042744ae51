# The web UI (web/, Next.js with `output: "standalone"`). Build from the repository root:
#   docker build --network host -f docker/web.Dockerfile -t workcell/web .
# BACKEND_URL is read at run time (the same-origin /api/v1 proxy), so one image serves any backend.

# ---- dependencies (cached while package*.json stay the same)
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY web/package.json web/package-lock.json* ./
RUN if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

# ---- build
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Inlined into the browser bundle at build time (optional; see docs/configuration.md).
ARG NEXT_PUBLIC_API_URL=
ARG NEXT_PUBLIC_WS_URL=
ENV NEXT_TELEMETRY_DISABLED=1 NEXT_STANDALONE=1
COPY --from=deps /app/node_modules ./node_modules
COPY web/ ./
RUN npm run build && mkdir -p public

# ---- runtime: the standalone server and its static files only
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 HOSTNAME=0.0.0.0 PORT=3000
RUN groupadd --system web && useradd --system --gid web --home-dir /app --shell /usr/sbin/nologin web
COPY --from=build --chown=web:web /app/.next/standalone ./
COPY --from=build --chown=web:web /app/.next/static ./.next/static
COPY --from=build --chown=web:web /app/public ./public
# Records each request's socket peer for the /api/v1 proxy's X-Forwarded-For (see the file).
COPY --from=build --chown=web:web /app/server/client-ip.cjs ./server/client-ip.cjs
USER web
EXPOSE 3000
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--require", "./server/client-ip.cjs", "server.js"]
