#!/usr/bin/env bash
# The main job on an embedded default: a throwaway PostgreSQL 15 cluster archives its WAL into a
# throwaway local repository with pgpitr, `pgpitr backup` takes a base backup, pgbench writes,
# and then `pgpitr drill` proves the repository brings the cluster back: it restores the backup
# into a private server, replays the archive to its newest segment, promotes, checks (the
# source's pgbench_accounts checksum through --check-sql, pg_amcheck, row counts) and tears it
# down. `pgpitr verify` re-reads the repository before the drill and `pgpitr info` shows what
# can be recovered after it (both on stderr). Prints the drill's JSON report (docs/drill-report.schema.json) on stdout; exits 0 only
# when the drill passed. Leaves nothing running, removes its files (unless PGPITR_DEMO_KEEP=1).
# Runs as root on a fresh Debian 12 machine (installs what is missing, builds, and runs
# PostgreSQL and pgpitr as the postgres OS user) or as an ordinary user.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/contrib/install-deps.sh"
make -C "$top" -s >/dev/null
PGPITR_BIN=${PGPITR_BIN:-$top/build/pgpitr}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

work=$(mktemp -d /tmp/pgpitr-demo.XXXXXX)
chmod 755 "$work"
pids=()
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
  [ "${PGPITR_DEMO_KEEP:-0}" = 1 ] && echo "demo: kept $work" >&2 && return
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres: "$work"
install -m 0755 "$PGPITR_BIN" "$work/pgpitr"
pgpitr() { as_pg "$work/pgpitr" --repo "$work/repo" "$@"; }

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
psql_at() { as_pg "$PG_BIN/psql" -X -q -At -h "$work" -p "$port" -d postgres -c "$1"; }
wait_for() { # description, command...
  local what=$1; shift
  for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
  echo "demo: timed out waiting for $what" >&2; return 1
}

echo "demo: initdb + archive_command = pgpitr archive-push" >&2
as_pg "$PG_BIN/initdb" -D "$work/src" -A trust -U postgres >/dev/null
port=$(free_port)
cat >>"$work/src/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$work'
archive_mode = on
archive_command = '$work/pgpitr --repo $work/repo archive-push %p'
wal_level = replica
CONF
as_pg "$PG_BIN/pg_ctl" -D "$work/src" -l "$work/src.log" -w start >/dev/null
pids+=("$(head -1 "$work/src/postmaster.pid")")

echo "demo: pgpitr backup" >&2
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -i -s 10 -q postgres >/dev/null 2>&1
pgpitr backup --pg-conn "host=$work port=$port user=postgres" >&2

echo "demo: pgbench workload after the backup" >&2
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -T 10 -c 2 postgres >/dev/null 2>&1
expected=$(psql_at "SELECT md5(string_agg(aid::text || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts")
last=$(psql_at "SELECT pg_walfile_name(pg_switch_wal())")
archived_upto_last() {
  local w; w=$(psql_at "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
  [[ "$w" > "$last" || "$w" == "$last" ]]
}
wait_for "archiving of $last" archived_upto_last
[ "$(psql_at "SELECT failed_count FROM pg_stat_archiver")" = 0 ] ||
  { echo "demo: archive_command failed (see $work/src.log)" >&2; exit 1; }

echo "demo: pgpitr verify (re-read every object, check WAL continuity)" >&2
pgpitr verify >&2 || { echo "demo: verify found problems" >&2; exit 1; }

echo "demo: pgpitr drill (restore + replay + checks in a throwaway server)" >&2
cat >"$work/checks.sql" <<SQL
-- name: pgbench_accounts is row for row what the source had
-- expect: $expected
SELECT md5(string_agg(aid::text || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts;
SQL
chmod 644 "$work/checks.sql"
rc=0
pgpitr drill --amcheck --check-sql "$work/checks.sql" --workdir "$work/drill" --output json || rc=$?
[ "$rc" -eq 0 ] || echo "demo: the drill failed (exit $rc)" >&2
echo "demo: pgpitr info (what can be recovered, with the drill just run)" >&2
pgpitr info >&2 || rc=$?
exit "$rc"
