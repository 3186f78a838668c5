#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis that `make test` talks to are up; start them if they are down.
# Fails loudly (exit 1, with what was tried) when it cannot: tests never run against nothing.
set -u

PG_HOST=${PG_HOST:-127.0.0.1}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 30); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "ОШИБКА: $name не отвечает после запуска (проверка: $*)" >&2
  return 1
}

pg_up() { pg_isready -h "$PG_HOST" -p 5432 -q; }
redis_up() { [ "$(redis-cli -h "$REDIS_HOST" -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up; then
  echo "PostgreSQL не отвечает на $PG_HOST:5432 — запускаю…"
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ] || ! command -v pg_ctlcluster >/dev/null; then
    echo "ОШИБКА: PostgreSQL не установлен (нет /etc/postgresql или pg_ctlcluster)" >&2
    exit 1
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL pg_up || exit 1
fi

if ! redis_up; then
  echo "Redis не отвечает на $REDIS_HOST:6379 — запускаю…"
  if ! command -v redis-server >/dev/null; then
    echo "ОШИБКА: redis-server не установлен" >&2
    exit 1
  fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_for Redis redis_up || exit 1
fi
echo "PostgreSQL и Redis работают."
