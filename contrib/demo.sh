#!/usr/bin/env bash
# The main job on an embedded default: a throwaway PostgreSQL 15 cluster archives its WAL
# into a throwaway local repository with pgpitr while pgbench writes, then a copy of the
# cluster is recovered purely from the archive (restore_command = pgpitr archive-get) and
# compared with the source. Prints a JSON report. Leaves nothing running, removes its files
# (unless PGPITR_DEMO_KEEP=1).
#
# Until `pgpitr backup` lands the base copy is taken with pg_basebackup -X none, so every
# byte of WAL the recovery needs has to come out of the pgpitr archive.
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

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
start_pg() { # datadir port
  as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$1.log" -o "-p $2 -k $work" -w start >/dev/null
  pids+=("$(head -1 "$1/postmaster.pid")")
}
psql_at() { as_pg "$PG_BIN/psql" -X -q -At -h "$work" -p "$1" -d postgres -c "$2"; }
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
archive_mode = on
archive_command = '$work/pgpitr --repo $work/repo archive-push %p'
wal_level = replica
CONF
start_pg "$work/src" "$port"
t0=$(date +%s.%N)
as_pg "$PG_BIN/pg_basebackup" -h "$work" -p "$port" -D "$work/restore" -X none -c fast
echo "demo: pgbench workload" >&2
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -i -s 10 -q postgres >/dev/null 2>&1
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -T 10 -c 2 postgres >/dev/null 2>&1
expected=$(psql_at "$port" "SELECT md5(string_agg(aid::text || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts")
last=$(psql_at "$port" "SELECT pg_walfile_name(pg_switch_wal())")
archived_upto_last() {
  local w; w=$(psql_at "$port" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
  [[ "$w" > "$last" || "$w" == "$last" ]]
}
wait_for "archiving of $last" archived_upto_last
archived=$(psql_at "$port" "SELECT archived_count FROM pg_stat_archiver")
failed=$(psql_at "$port" "SELECT failed_count FROM pg_stat_archiver")
t_archive=$(date +%s.%N)

echo "demo: recover a copy from the archive (restore_command = pgpitr archive-get)" >&2
rport=$(free_port)
touch "$work/restore/recovery.signal"
cat >>"$work/restore/postgresql.conf" <<CONF
archive_mode = off
restore_command = '$work/pgpitr --repo $work/repo archive-get %f "%p"'
recovery_target_action = promote
CONF
[ "$(id -u)" -eq 0 ] && chown postgres: "$work/restore/recovery.signal"
start_pg "$work/restore" "$rport"
promoted() { [ "$(psql_at "$rport" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; }
wait_for "recovery to finish" promoted
got=$(psql_at "$rport" "SELECT md5(string_agg(aid::text || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts")
t_end=$(date +%s.%N)
objects=$(find "$work/repo/archive" -type f | wc -l)
repo_bytes=$(du -sb "$work/repo" | cut -f1)
status=passed; [ "$got" = "$expected" ] && [ "$failed" = 0 ] || status=failed
cat <<JSON
{
  "status": "$status",
  "pgpitr": "$("$work/pgpitr" version)",
  "archived_wal_files": $archived,
  "archive_failures": $failed,
  "repository_objects": $objects,
  "repository_bytes": $repo_bytes,
  "source_accounts_md5": "$expected",
  "recovered_accounts_md5": "$got",
  "archive_seconds": $(awk -v a="$t_archive" -v b="$t0" 'BEGIN{printf "%.1f", a-b}'),
  "recovery_seconds": $(awk -v a="$t_end" -v b="$t_archive" 'BEGIN{printf "%.1f", a-b}')
}
JSON
[ "$status" = passed ]
