# syntax=docker/dockerfile:1
# duckgate image: `docker build -t duckgate .` then
#   docker run -p 6432:6432 -p 9187:9187 -e DUCKGATE_UPSTREAM=postgres://user:pass@host:5432/db duckgate
# Without DUCKGATE_UPSTREAM duckgate starts its embedded PostgreSQL with demo data under the data dir.

# ---- build: full dependency tree (TypeScript), compile to dist/, then drop the dev dependencies ----
FROM node:20-slim AS build
WORKDIR /app
# Lockfile first: the install layer is reused until the dependencies change. `npm install`, not `npm ci`:
# the lock lists only the Linux builds of DuckDB's optional platform packages (see README).
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: node:20-slim (glibc, which the DuckDB and embedded PostgreSQL binaries need) ----
FROM node:20-slim
ENV NODE_ENV=production \
    DUCKGATE_DATA_DIR=/var/lib/duckgate
WORKDIR /app
# Non-root: the embedded PostgreSQL refuses to run as root, and a proxy has no need of it.
RUN groupadd --system duckgate \
 && useradd --system --gid duckgate --home-dir /var/lib/duckgate --create-home --shell /usr/sbin/nologin duckgate
# package.json carries "type": "module", which dist/ needs to load as ES modules.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY rules ./rules
USER duckgate
VOLUME ["/var/lib/duckgate"]
EXPOSE 6432 9187
# The slim image has no curl: ask Node itself (global fetch, Node >= 18).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9187/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/duckgate.js"]
CMD ["start", "--listen", "0.0.0.0:6432", "--http", "0.0.0.0:9187"]
