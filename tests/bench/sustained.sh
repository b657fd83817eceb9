#!/usr/bin/env bash
# tests/bench/sustained.sh -- part of `make bench` (BENCH_ONLY=sustained): does archiving keep
# up with a bulk load at this machine's full WAL rate (issue #15)? For each archive_command in
# turn, a bulk INSERT workload (pgbench, 2 clients, rows of 200 bytes, synchronous_commit off)
# runs for BENCH_SUSTAINED_SECONDS (default 60) while the `.ready` files in
# pg_wal/archive_status are counted every 0.25 s. Prints, per contestant: the WAL written per
# second, the peak and the mean `.ready` backlog, and how long the archiver needed after the
# load to catch up. Issue #15's target: the peak stays under 8 segments, on local and on S3.
# Contestants: pgpitr archive-push one segment a call and with --jobs 4, and the archive
# module (pgpitr.jobs = 4; PGPITR_MODULE, default module/pgpitr.so beside PGPITR_BIN), on a
# local repository and on the S3 test server over TLS; and pgBackRest async (process-max 2) on
# each, for comparison. It asserts nothing about time.
#
# Environment:
#   PGPITR_BIN                pgpitr binary (set by `make bench`)
#   BENCH_SUSTAINED_SECONDS   load duration per contestant (default 60)
#   BENCH_SUSTAINED_S3=0      local repository only
#   S3_TEST_SERVER, S3_TEST_SERVER_CACHE   as for tests/bench/s3.sh
#   BENCH_KEEP=1              keep the work directory
# When run as root, setup happens as root and everything else runs as the `postgres` OS user.
# Ports: PostgreSQL 44000-44499, S3 server 46500-46999 (probed). Every process started is
# stopped by pid at exit.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
DURATION=${BENCH_SUSTAINED_SECONDS:-60}
WITH_S3=${BENCH_SUSTAINED_S3:-1}
BUCKET=bench
S3_PORT_LOW=46500 S3_PORT_HIGH=46999
SOURCE_PORT_LOW=44000 SOURCE_PORT_HIGH=44499

BENCH_LOG=bench-sustained
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"

stop_all() {
  stop_postmaster "$W/pgdata"
  pkill -KILL -f "pgbackrest --config=$W/" 2>/dev/null || true
  [ -e "$W/s3/state/server.pid" ] && "$S3_TOOL" stop --state-dir "$W/s3/state" >/dev/null 2>&1
  return 0
}

outer() {
  local cache=""
  need_commands pgbackrest pgbench node
  S3_TOOL=""
  if [ "$WITH_S3" = 1 ]; then
    S3_TOOL=$(s3_tool)
    cache=${S3_TEST_SERVER_CACHE:-$(cd "$(dirname "$SELF")/../.." && pwd)/build/s3-test-server}
    S3_TEST_SERVER_CACHE=$cache "$S3_TOOL" install >&2 || die "cannot install the S3 test server"
  fi
  local mod=${PGPITR_MODULE:-$(dirname "${PGPITR_BIN:-.}")/module/pgpitr.so}
  [ -f "$mod" ] || log "no archive module at $mod (make module): its rows will be skipped"
  [ -f "$mod" ] && export BENCH_EXTRA_BINS="pgpitr.so=$mod"
  outer_run pgpitr-bench-sustained "pgpitr contestants will be skipped" \
    BENCH_SUSTAINED_SECONDS="$DURATION" BENCH_SUSTAINED_S3="$WITH_S3" S3_TOOL="$S3_TOOL" \
    S3_TEST_SERVER_CACHE="$cache"
}

PGBIN=""; PORT=""; PGPITR=""; SOCK=""
PSQL_USER=postgres

make_cluster() {
  log "initdb"
  "$PGBIN/initdb" -D "$W/pgdata" -U postgres -A trust --no-sync >"$W/log/initdb.log" 2>&1 \
    || { cat "$W/log/initdb.log" >&2; die "initdb failed"; }
  cat >>"$W/pgdata/postgresql.conf" <<EOF
log_line_prefix = '%m [%p] '
shared_buffers = '256MB'
max_wal_size = '4GB'
checkpoint_timeout = '1d'
synchronous_commit = off
autovacuum = off
wal_level = replica
archive_mode = on
archive_command = ''
EOF
  start_source
  psql_q "CREATE TABLE bulk (id bigint, pad text)"
  printf "INSERT INTO bulk SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g;\n" \
    >"$W/bulk.sql"
}

declare -A LABEL=() CMD=() MOD=() PEAK=() MEAN=() RATE=() CATCHUP=() FAILED=()
IDS=()
add() { LABEL[$1]=$2; CMD[$1]=$3; IDS+=("$1"); }
# add_mod ID LABEL REPO CONFIG: the archive module (pgpitr.jobs = 4); skipped without it
add_mod() {
  [ -f "$W/bin/pgpitr.so" ] || return 0
  LABEL[$1]=$2; MOD[$1]="$3|$4"; IDS+=("$1")
}

write_configs() {
  mkdir -p "$W/repos" "$W/pgbr"
  cat >"$W/pgbr/local.conf" <<EOF
[global]
repo1-path=$W/repos/l_br
$(pgbr_common_settings)
archive-async=y
process-max=2

[bench]
pg1-path=$W/pgdata
pg1-socket-path=$W/sock
pg1-port=$PORT
pg1-user=postgres
EOF
  local p=$W/bin/pgpitr
  add l_p1 "local: pgpitr archive-push" "$p --repo $W/repos/l_p1 archive-push %p"
  add l_p4 "local: pgpitr archive-push --jobs 4" "$p --repo $W/repos/l_p4 archive-push --jobs 4 %p"
  add_mod l_pm "local: pgpitr archive module, jobs 4" "$W/repos/l_pm" ""
  add l_br "local: pgbackrest async, process-max 2" \
    "pgbackrest --config=$W/pgbr/local.conf --stanza=bench archive-push %p"
  [ "$WITH_S3" = 1 ] || return 0
  write_s3_configs "$W/pgbr/local.conf"
  local c="$p --config $W/pgpitr-s3.conf --repo s3://$BUCKET"
  add s_p1 "S3 TLS: pgpitr archive-push" "$c/s_p1 archive-push %p"
  add s_p4 "S3 TLS: pgpitr archive-push --jobs 4" "$c/s_p4 archive-push --jobs 4 %p"
  add_mod s_pm "S3 TLS: pgpitr archive module, jobs 4" "s3://$BUCKET/s_pm" "$W/pgpitr-s3.conf"
  add s_br "S3 TLS: pgbackrest async, process-max 2" \
    "pgbackrest --config=$W/pgbr/s3.conf --stanza=bench archive-push %p"
}

set_archive_command() {
  psql_q "ALTER SYSTEM SET archive_command = '$1'" >/dev/null
  psql_q "SELECT pg_reload_conf()" >/dev/null
}

ready_count() { find "$W/pgdata/pg_wal/archive_status" -name '*.ready' | wc -l; }

# Until nothing is ready (the archiver caught up), at most 10 minutes; seconds taken.
catch_up() {
  local t0=$EPOCHREALTIME i
  for ((i = 0; i < 12000; i++)); do
    [ "$(ready_count)" -eq 0 ] && break
    psql_q "SELECT pg_reload_conf()" >/dev/null   # wakes an archiver waiting after failures
    sleep 0.05
  done
  [ "$(ready_count)" -eq 0 ] || return 1
  awk -v a="${t0/./}" -v b="${EPOCHREALTIME/./}" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'
}

run_one() {  # ID
  local id=$1 conf="" lsn0 lsn1 pid samples=0 sum=0 peak=0 n
  case $id in
    l_br) conf=$W/pgbr/local.conf ;;
    s_br) conf=$W/pgbr/s3.conf ;;
  esac
  if [ -n "$conf" ]; then
    pgbackrest --config="$conf" --stanza=bench stanza-create >"$W/log/$id.stanza" 2>&1 ||
      { FAILED[$id]="stanza-create failed: $(tail -n 1 "$W/log/$id.stanza")"; return 0; }
  fi
  psql_q "TRUNCATE bulk" >/dev/null
  if [ -n "${MOD[$id]:-}" ]; then
    set_archive_command ""
    set_module "${MOD[$id]%%|*}" "${MOD[$id]#*|}"
  else
    set_archive_command "${CMD[$id]}"
  fi
  psql_q "CHECKPOINT" >/dev/null
  psql_q "SELECT pg_switch_wal()" >/dev/null
  catch_up >/dev/null || { FAILED[$id]="the first segment was not archived"; return 0; }
  lsn0=$(psql_q "SELECT pg_current_wal_lsn()")
  "$PGBIN/pgbench" -h "$W/sock" -p "$PORT" -U postgres -n -c 2 -j 2 -T "$DURATION" \
    -f "$W/bulk.sql" postgres >"$W/log/$id.pgbench" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    n=$(ready_count)
    samples=$((samples + 1)); sum=$((sum + n))
    [ "$n" -gt "$peak" ] && peak=$n
    sleep 0.25
  done
  wait "$pid" || { FAILED[$id]="pgbench failed: $(tail -n 1 "$W/log/$id.pgbench")"; return 0; }
  lsn1=$(psql_q "SELECT pg_current_wal_lsn()")
  RATE[$id]=$(psql_q "SELECT round(pg_wal_lsn_diff('$lsn1', '$lsn0') / 1048576.0 / $DURATION, 1)")
  PEAK[$id]=$peak
  MEAN[$id]=$(awk -v s="$sum" -v n="$samples" 'BEGIN { printf "%.1f", n ? s / n : 0 }')
  CATCHUP[$id]=$(catch_up) || { FAILED[$id]="not caught up 10 minutes after the load"; }
  set_archive_command ""
  [ -n "${MOD[$id]:-}" ] && set_module "" ""
  log "  ${LABEL[$id]}: ${RATE[$id]} MiB/s of WAL, peak $peak ready, caught up ${CATCHUP[$id]:-?} s after"
}

report() {
  echo
  echo "pgpitr sustained bench: a bulk INSERT load (2 clients) for $DURATION s per contestant;"
  echo ".ready files counted every 0.25 s; zstd level 1"
  host_line
  echo "tools: $(pgbackrest version); $("$PGPITR" --version 2>/dev/null | head -n 1)"
  echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '\n%-44s %10s %10s %10s %12s\n' "contestant" "WAL MiB/s" "peak .ready" "mean" "catch-up s"
  local id
  for id in "${IDS[@]}"; do
    if [ -n "${FAILED[$id]:-}" ]; then printf '%-44s %s\n' "${LABEL[$id]}" "FAILED (${FAILED[$id]})"; continue; fi
    printf '%-44s %10s %10s %10s %12s\n' "${LABEL[$id]}" "${RATE[$id]}" "${PEAK[$id]}" \
      "${MEAN[$id]}" "${CATCHUP[$id]}"
  done
  echo
  echo "target (issue #15): peak .ready under 8 segments"
  for id in l_p4 l_pm s_p4 s_pm; do
    if [ -z "${PEAK[$id]:-}" ] || [ -n "${FAILED[$id]:-}" ]; then continue; fi
    printf '  %-44s peak %s: %s\n' "${LABEL[$id]}" "${PEAK[$id]}" \
      "$([ "${PEAK[$id]}" -lt 8 ] && echo met || echo "NOT met")"
  done
}

inner() {
  inner_start log sock s3
  SOCK=$W/sock
  PGBIN=$(pg_bindir 15)
  [ -x "$W/bin/pgpitr" ] && PGPITR=$W/bin/pgpitr || die "no pgpitr binary (PGPITR_BIN)"
  local t0=$SECONDS id
  [ "$WITH_S3" = 1 ] && start_s3
  make_cluster
  write_configs
  LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
  for id in "${IDS[@]}"; do run_one "$id"; done
  report
  echo
  log "done in $((SECONDS - t0)) s"
}

if [ "${BENCH_INNER:-0}" = 1 ]; then inner; else outer; fi
