#!/bin/sh
# The stand-in chart's postgresql-0 on the real node: PostgreSQL 12 as CircleCI Server's internal
# one. First start: initdb (superuser postgres, its password from POSTGRES_PASSWORD, md5 as
# PostgreSQL 12 stores it), listening on every address with password logins. With
# POSTGRES_HOST_AUTH_METHOD=trust (as the official image takes it: a scratch server), no
# password and trusted logins.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
BIN=/opt/postgresql/bin
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ "${POSTGRES_HOST_AUTH_METHOD:-}" = trust ]; then
    "$BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 > /dev/null
    method=trust
  else
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    "$BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth=md5 -E UTF8 --locale=C.UTF-8 > /dev/null
    rm -f "$pwfile"
    method=md5
  fi
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all 0.0.0.0/0 $method" >> "$PGDATA/pg_hba.conf"
fi
exec "$BIN/postgres" -D "$PGDATA"
