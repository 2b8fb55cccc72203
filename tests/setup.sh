#!/usr/bin/env bash
# Installs and starts what the tests of both engines need on a fresh Debian
# 12 machine of this kind, and does nothing that is already done. The
# SQLite side is tests/setup-sqlite.sh; for Postgres:
# Debian's PostgreSQL 15 with its server headers, clang for pgrx's bindings,
# cargo-pgrx 0.18.1, its configuration for the system pg_config, the
# running cluster 15/main on port 5432, and password login for the tests
# (role postgres, password postgres, over 127.0.0.1); and Debian's
# PgBouncer, which the pooler tests start on ports of their own (Debian may
# start a pgbouncer service of its own on 6432, which no test uses); and
# Debian's pg_cron, which the retention schedule test preloads in a
# throwaway cluster of its own.
set -euo pipefail

bash "$(dirname "$0")/setup-sqlite.sh"

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PGRX_VERSION=0.18.1

source "$(dirname "$0")/lib.sh"

install_packages postgresql-15 postgresql-client-15 postgresql-server-dev-15 clang libclang-dev pkg-config pgbouncer postgresql-15-cron

if ! cargo pgrx --version 2>/dev/null | grep -q " $PGRX_VERSION\$"; then
  echo "setup: installing cargo-pgrx $PGRX_VERSION"
  cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked
fi

pgrx_config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
if ! grep -q "^pg15 = \"$PG_CONFIG\"" "$pgrx_config" 2>/dev/null; then
  cargo pgrx init --pg15 "$PG_CONFIG"
fi

if ! pg_lsclusters -h 2>/dev/null | grep -q '^15 \+main '; then
  as_root pg_createcluster 15 main
fi
if ! pg_lsclusters -h | grep -q '^15 \+main .* online'; then
  as_root pg_ctlcluster 15 main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p 5432

as_root runuser -u postgres -- psql -Xq -p 5432 -c "ALTER ROLE postgres PASSWORD 'postgres'"
