# PostgreSQL from Debian's own package on debian:bookworm-slim, for machines that cannot pull the
# `postgres` image (POSTGRES_IMAGE=workcell/postgres-local:<tag> in .env). It honours what the
# compose file gives the official image: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, data in
# /var/lib/postgresql/data, port 5432, pg_isready for the health check.
#
#   docker build -f docker/postgres-local.Dockerfile -t workcell/postgres-local:dev docker
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-local-entrypoint.sh /usr/local/bin/postgres-local-entrypoint.sh
RUN mkdir -p "$PGDATA" /var/run/postgresql \
 && chown -R postgres:postgres "$PGDATA" /var/run/postgresql \
 && chmod 0700 "$PGDATA"
USER postgres
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=5s --retries=30 CMD pg_isready -h 127.0.0.1 -U "${POSTGRES_USER:-postgres}"
ENTRYPOINT ["sh", "/usr/local/bin/postgres-local-entrypoint.sh"]
