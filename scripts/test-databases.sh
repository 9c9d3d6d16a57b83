#!/usr/bin/env bash
# Start throwaway PostgreSQL and MariaDB servers on 127.0.0.1 for the test suite, and print
# the two URLs as shell exports. Usage: eval "$(scripts/test-databases.sh start)"; ... stop.
# Runs as root (CI, the dev machine): the servers run as the 'postgres' / 'mysql' users.
set -euo pipefail
ROOT=${TEST_DB_ROOT:-/tmp/mushroom-test-dbs}
PGPORT=${TEST_PG_PORT:-55432}
MYPORT=${TEST_MARIADB_PORT:-53306}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

start() {
  mkdir -p "$ROOT"
  chmod 755 "$ROOT"
  if ! "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PGPORT" -q 2>/dev/null; then
    rm -rf "$ROOT/pg"; mkdir -p "$ROOT/pg"; chown postgres:postgres "$ROOT/pg"
    su postgres -s /bin/sh -c "$PGBIN/initdb -D $ROOT/pg/data -U postgres -A trust -E UTF8 --locale=C.UTF-8" >"$ROOT/pg-init.log" 2>&1
    su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $ROOT/pg/data -l $ROOT/pg/server.log -w -o '-c listen_addresses=127.0.0.1 -p $PGPORT -k $ROOT/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off' start" >/dev/null
    "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE mushroom_staging" >/dev/null
  fi
  if ! mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$MYPORT" -u root ping >/dev/null 2>&1; then
    rm -rf "$ROOT/my"; mkdir -p "$ROOT/my"; chown mysql:mysql "$ROOT/my"
    mariadb-install-db --user=mysql --datadir="$ROOT/my/data" --auth-root-authentication-method=normal >"$ROOT/my-init.log" 2>&1
    mariadbd --user=mysql --datadir="$ROOT/my/data" --bind-address=127.0.0.1 --port="$MYPORT" \
      --socket="$ROOT/my/mariadb.sock" --pid-file="$ROOT/my/mariadb.pid" --skip-name-resolve \
      --innodb-flush-log-at-trx-commit=2 --log-error="$ROOT/my/server.log" >/dev/null 2>&1 &
    for _ in $(seq 1 60); do
      mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$MYPORT" -u root ping >/dev/null 2>&1 && break
      sleep 0.5
    done
    mariadb --protocol=tcp -h 127.0.0.1 -P "$MYPORT" -u root -e \
      "CREATE DATABASE IF NOT EXISTS mushroom_production; CREATE USER IF NOT EXISTS 'mushroom'@'127.0.0.1' IDENTIFIED BY 'mushroom'; GRANT ALL ON *.* TO 'mushroom'@'127.0.0.1'; FLUSH PRIVILEGES;"
  fi
  echo "export TEST_STAGING_DATABASE_URL='postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/mushroom_staging'"
  echo "export TEST_PRODUCTION_DATABASE_URL='mariadb+mariadbconnector://mushroom:mushroom@127.0.0.1:$MYPORT/mushroom_production'"
}

stop() {
  [ -d "$ROOT/pg/data" ] && su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $ROOT/pg/data -m fast stop" >/dev/null 2>&1 || true
  mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$MYPORT" -u root shutdown >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
