#!/usr/bin/env bash
# A PostgreSQL hot standby of the local primary, on this machine: for the read-replica test and for trying
# DATABASE_READ_URL by hand (docs/operations.md). Idempotent: `up` does nothing when the standby already
# streams, so a test can call it every run.
#
#   scripts/replica.sh up      # make it (pg_basebackup -R from 127.0.0.1:5432) and start it on $REPLICA_PORT
#   scripts/replica.sh down    # stop it and delete its data directory
#   scripts/replica.sh status  # exit 0 if it runs and is in recovery
#
# The primary must let a replication connection in: Debian's pg_hba.conf has "host all all 127.0.0.1/32 trust",
# and "all" does not cover replication, so `up` adds "host replication all 127.0.0.1/32 trust" (once) and
# reloads the primary. That needs write access to the primary's pg_hba.conf (root or postgres).
set -euo pipefail

PRIMARY_HOST=${PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
VERSION=${PG_VERSION:-$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)}
VERSION=${VERSION:-15}
BIN=/usr/lib/postgresql/$VERSION/bin
DIR=${REPLICA_DIR:-/var/lib/postgresql/$VERSION/replica-$REPLICA_PORT}

as_postgres() {  # the server refuses to run as root
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

primary_sql() { psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -XtAc "$1"; }

in_recovery() {
  [ "$(psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -XtAc 'select pg_is_in_recovery()' 2>/dev/null)" = t ]
}

allow_replication() {
  local hba
  hba=$(primary_sql 'show hba_file')
  if ! grep -Eq "^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32" "$hba"; then
    if [ ! -w "$hba" ]; then
      echo "ОШИБКА: нет права записи в $hba, чтобы разрешить репликацию (запустите от root или postgres)" >&2
      exit 1
    fi
    printf '\n# scripts/replica.sh: a hot standby on this machine streams from here\nhost replication all 127.0.0.1/32 trust\n' >>"$hba"
    primary_sql 'select pg_reload_conf()' >/dev/null
    sleep 0.5
  fi
}

up() {
  if in_recovery; then echo "Реплика уже работает на порту $REPLICA_PORT."; return 0; fi
  [ -x "$BIN/pg_ctl" ] || { echo "ОШИБКА: нет $BIN/pg_ctl (PostgreSQL $VERSION)" >&2; exit 1; }
  allow_replication
  if [ -f "$DIR/postmaster.pid" ]; then as_postgres "$BIN/pg_ctl" -D "$DIR" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$DIR"
  mkdir -p "$DIR" && chown postgres:postgres "$DIR" && chmod 700 "$DIR"
  # -R writes standby.signal and primary_conninfo; -X stream brings the WAL written during the copy.
  as_postgres "$BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$DIR" -R -X stream -c fast
  # Debian keeps postgresql.conf and pg_hba.conf in /etc, not in the data directory: the standby gets its own.
  as_postgres tee "$DIR/postgresql.conf" >/dev/null <<CONF
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/var/run/postgresql'
hot_standby = on
hot_standby_feedback = on
max_connections = 100
shared_buffers = 64MB
fsync = off
CONF
  as_postgres tee "$DIR/pg_hba.conf" >/dev/null <<HBA
local all all trust
host all all 127.0.0.1/32 trust
HBA
  as_postgres touch "$DIR/pg_ident.conf"
  as_postgres "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null
  for _ in $(seq 1 60); do in_recovery && break; sleep 0.5; done
  in_recovery || { echo "ОШИБКА: реплика не поднялась, см. $DIR/server.log" >&2; exit 1; }
  echo "Реплика работает: postgresql://postgres@127.0.0.1:$REPLICA_PORT (горячий резерв $PRIMARY_HOST:$PRIMARY_PORT)."
}

down() {
  if [ -f "$DIR/postmaster.pid" ]; then as_postgres "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null || true; fi
  rm -rf "$DIR"
  echo "Реплика на порту $REPLICA_PORT остановлена."
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) in_recovery ;;
  *) echo "использование: $0 up|down|status" >&2; exit 2 ;;
esac
