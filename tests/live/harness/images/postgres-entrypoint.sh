#!/bin/sh
# What the official postgres image's docker-entrypoint.sh does, with Debian's binaries: as root,
# hand PGDATA and the socket directory to postgres (999) and run again as postgres; as postgres,
# on an empty PGDATA: initdb with POSTGRES_PASSWORD, a temporary server (unix socket only, with
# the server's own arguments), POSTGRES_DB, /docker-entrypoint-initdb.d/*.sh|*.sql, stop; then
# exec the server. Only what the harness's team services use is emulated.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown 999:999 "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA"
  chmod 03775 /var/run/postgresql
  exec setpriv --reuid 999 --regid 999 --clear-groups -- /bin/sh "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$pwfile"
  initdb --username="${POSTGRES_USER:-postgres}" --pwfile="$pwfile" -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  # The image's postgresql.conf.sample has listen_addresses = '*'.
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  shift
  opts="-c listen_addresses='' -p 5432"
  for a in "$@"; do opts="$opts '$a'"; done
  set -- postgres "$@"
  pg_ctl -D "$PGDATA" -o "$opts" -w -t 60 start >/dev/null
  export PGUSER="${POSTGRES_USER:-postgres}" PGHOST=/var/run/postgresql
  db=${POSTGRES_DB:-$PGUSER}
  if [ "$db" != postgres ]; then psql -v ON_ERROR_STOP=1 -q -d postgres -c "CREATE DATABASE \"$db\""; fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "running $f"; . "$f" ;;
      *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 -q -d "$db" -f "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
  unset PGUSER PGHOST
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
