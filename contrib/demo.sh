#!/usr/bin/env bash
# The main job on an embedded default: a throwaway PostgreSQL 15 cluster archives its WAL into a
# throwaway local repository with pgpitr, `pgpitr backup` takes a base backup, pgbench writes,
# and then `pgpitr drill` proves the repository brings the cluster back: it restores the backup
# into a private server, replays the archive to its newest segment, promotes, checks (the
# source's pgbench_accounts checksum through --check-sql, pg_amcheck, row counts) and tears it
# down. `pgpitr verify` re-reads the repository before the drill and `pgpitr info` shows what
# can be recovered after it (both on stderr). Prints the drill's JSON report (docs/drill-report.schema.json) on stdout; exits 0 only
# when the drill passed. Leaves nothing running, removes its files (unless PGPITR_DEMO_KEEP=1).
#
# --s3: the same job on an S3 repository, s3://pgpitr-demo/demo, in the local S3 test server
# (../shared/tools/s3-test-server, found like tests/integration/s3_lib.sh does; S3_TEST_SERVER
# names it; S3_TEST_SERVER_CACHE passed through to it), started on a free port of
# PGPITR_DEMO_S3_PORTS (LOW-HIGH, default 47000-47499) and stopped by its pid at exit. The S3
# settings and keys go into a configuration file of mode 0600 (the production way, docs/s3.md)
# named with --config on every command, archive_command included, so that the drill's
# restore_command finds them too: nothing S3 is in any process's environment.
# Runs as root on a fresh Debian 12 machine (installs what is missing, builds, and runs
# PostgreSQL and pgpitr as the postgres OS user) or as an ordinary user.
set -euo pipefail
s3=0
case "${1:-}" in
  "") ;;
  --s3) s3=1 ;;
  *) echo "usage: contrib/demo.sh [--s3]" >&2; exit 2 ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/contrib/install-deps.sh"
make -C "$top" -s >/dev/null
PGPITR_BIN=${PGPITR_BIN:-$top/build/pgpitr}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

work=$(mktemp -d /tmp/pgpitr-demo.XXXXXX)
chmod 755 "$work"
pids=()
s3_pid=""
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
  if [ -n "$s3_pid" ]; then  # after the clusters: their archive_command may still be pushing
    kill -TERM "$s3_pid" 2>/dev/null || true
    while kill -0 "$s3_pid" 2>/dev/null; do sleep 0.1; done
  fi
  [ "${PGPITR_DEMO_KEEP:-0}" = 1 ] && echo "demo: kept $work" >&2 && return
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[ "$(id -u)" -eq 0 ] && chown postgres: "$work"
install -m 0755 "$PGPITR_BIN" "$work/pgpitr"

free_port() { # [LOW HIGH], default 20000-39999
  local p low=${1:-20000} high=${2:-39999}
  while :; do
    p=$((low + RANDOM % (high - low + 1)))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# s3_server_tool: the S3 test server's script, where tests/integration/s3_lib.sh looks for it.
s3_server_tool() {
  local c
  for c in "${S3_TEST_SERVER:-}" "$top/../shared/tools/s3-test-server" \
    "$top/../../shared/tools/s3-test-server" /work/shared/tools/s3-test-server; do
    [ -n "$c" ] && [ -x "$c" ] && { printf '%s\n' "$c"; return 0; }
  done
  echo "demo: s3-test-server not found (set S3_TEST_SERVER to its path; looked beside $top)" >&2
  return 1
}

# s3_demo_start: the S3 test server on a free port with bucket pgpitr-demo (data in $work/s3),
# and $work/pgpitr.conf pointing pgpitr at it. A port taken between probe and bind is retried.
s3_demo_start() {
  local tool out p try range=${PGPITR_DEMO_S3_PORTS:-47000-47499}
  tool=$(s3_server_tool)
  mkdir -p "$work/s3"
  for ((try = 0; try < 5; try++)); do
    p=$(free_port "${range%-*}" "${range#*-}")
    # run from the checkout: the tool's npm cache defaults to <git top-level>/build
    if out=$(cd "$top" && "$tool" start --port "$p" --state-dir "$work/s3/state" \
      --dir "$work/s3/data" --bucket pgpitr-demo --fresh 2>"$work/s3/start.err"); then
      # its variables for this shell only: pgpitr must get its settings from the file
      eval "$(sed 's/^export //' <<<"$out")"
      s3_pid=$S3_TEST_PID
      break
    fi
    grep -qi 'in use\|busy\|EADDRINUSE' "$work/s3/start.err" || break
    rm -rf "$work/s3/state" "$work/s3/data"
  done
  [ -n "$s3_pid" ] || { cat "$work/s3/start.err" >&2; echo "demo: cannot start $tool" >&2; return 1; }
  echo "demo: S3 test server at $S3_TEST_ENDPOINT (pid $s3_pid), repository s3://pgpitr-demo/demo" >&2
  (umask 077 && cat >"$work/pgpitr.conf") <<CONF
# pgpitr settings of the demo's S3 repository; mode 0600: it holds the secret key
[global]
repo = s3://pgpitr-demo/demo
s3-endpoint = $S3_TEST_ENDPOINT
s3-region = $S3_TEST_REGION
s3-uri-style = path
s3-key = $S3_TEST_ACCESS_KEY
s3-key-secret = $S3_TEST_SECRET_KEY
CONF
  [ "$(id -u)" -eq 0 ] && chown postgres: "$work/pgpitr.conf"
  repo_args=(--config "$work/pgpitr.conf" --repo s3://pgpitr-demo/demo)
}

repo_args=(--repo "$work/repo")
[ "$s3" -eq 1 ] && s3_demo_start
pgpitr() { as_pg "$work/pgpitr" "${repo_args[@]}" "$@"; }
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
archive_command = '$work/pgpitr ${repo_args[*]} archive-push %p'
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
