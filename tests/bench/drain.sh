#!/usr/bin/env bash
# tests/bench/drain.sh -- part of `make bench` (BENCH_ONLY=drain): how fast PostgreSQL's own
# archiver drains a backlog of ready WAL segments through each archive_command (issue #15),
# side by side in one run, on a local repository, on the S3 test server over TLS, and on the
# same server through tests/tools/s3-fault-proxy.js adding BENCH_DRAIN_DELAY_MS (default 20) of
# latency to every request (over TLS too, with a certificate of its own):
#   pgpitr archive-push (one segment a call), pgpitr archive-push --jobs 4 (pushing ahead),
#   the pgpitr archive module (archive_library, pgpitr.jobs = 4: no process per segment),
#   pgBackRest archive-push with archive-async and process-max 2;
# and, for the local repository, the floor of issue #15: `zstd -1 -T2` over the same segments.
# Prints seconds, segments and MiB per second, the CPU time a segment cost (the archiver
# process's own and its archive_commands', from /proc: steady on a loaded machine, where wall
# clock is not; pgBackRest's asynchronous process is not the archiver's child and is left out),
# and the ratios the issue sets targets for. It asserts nothing about time.
#
# Design: one throwaway cluster with archive_mode on and an empty archive_command (PostgreSQL
# keeps every segment ready and archives nothing), wal_keep_size and max_wal_size large enough
# that no segment is recycled. pgbench writes until BENCH_DRAIN_SEGMENTS segments of real WAL
# are ready. Then, for each contestant in turn, into a repository of its own: every one of
# those segments marked ready again (.done renamed back to .ready), the contestant's state
# cleared (pgpitr's push records, pgBackRest's spool), archive_command set to the contestant
# (ALTER SYSTEM + pg_reload_conf, which also wakes the archiver; for the module archive_library
# and its pgpitr.* settings, which makes the archiver restart with it) and the clock started; it stops
# when the last of the segments is marked done. The archiver is PostgreSQL's: the same
# directory scans, the same one-call-at-a-time loop as in production. Each contestant's last
# segment is then fetched back from its repository and compared.
#
# Environment:
#   PGPITR_BIN             pgpitr binary (set by `make bench`); if unset, pgpitr is skipped
#   PGPITR_MODULE          the archive module (default: module/pgpitr.so beside PGPITR_BIN);
#                          if absent, the module's columns are skipped
#   BENCH_DRAIN_SEGMENTS   ready segments to drain (default 200, 3.2 GB of WAL in pg_wal)
#   BENCH_DRAIN_SCALE      pgbench scale of the source (default 10)
#   BENCH_DRAIN_S3=0       local repository only
#   BENCH_DRAIN_DELAY_MS   latency the proxy adds per request (default 20; 0: no proxy run)
#   BENCH_DRAIN_IDS        only these contestants (space-separated ids: l_p1 l_p4 l_pm l_br,
#                          s_* and p_* likewise; default all)
#   S3_TEST_SERVER, S3_TEST_SERVER_CACHE   as for tests/bench/s3.sh
#   BENCH_KEEP=1           keep the work directory (path printed)
#   TMPDIR                 where the work directory is made (needs ~2 x the WAL)
# When run as root, setup happens as root and everything else runs as the `postgres` OS user.
# Ports: PostgreSQL 43000-43999, S3 server 46000-46499 (probed; BENCH_S3_PORT_LOW/HIGH move
# the S3 range, for runs beside other benches or tests). Every process started is
# stopped by pid at exit.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
NSEG=${BENCH_DRAIN_SEGMENTS:-200}
SCALE=${BENCH_DRAIN_SCALE:-10}
WITH_S3=${BENCH_DRAIN_S3:-1}
DELAY_MS=${BENCH_DRAIN_DELAY_MS:-20}
SEG=16777216
BUCKET=bench
S3_PORT_LOW=${BENCH_S3_PORT_LOW:-46000} S3_PORT_HIGH=${BENCH_S3_PORT_HIGH:-46499}
SOURCE_PORT_LOW=43000 SOURCE_PORT_HIGH=43999

BENCH_LOG=bench-drain
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"

stop_all() {
  stop_postmaster "$W/pgdata"
  pkill -KILL -f "pgbackrest --config=$W/" 2>/dev/null || true
  [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null
  [ -e "$W/s3/state/server.pid" ] && "$S3_TOOL" stop --state-dir "$W/s3/state" >/dev/null 2>&1
  return 0
}

outer() {
  local cache=""
  need_commands pgbackrest pgbench zstd node
  S3_TOOL=""
  if [ "$WITH_S3" = 1 ]; then
    S3_TOOL=$(s3_tool)
    cache=${S3_TEST_SERVER_CACHE:-$(cd "$(dirname "$SELF")/../.." && pwd)/build/s3-test-server}
    S3_TEST_SERVER_CACHE=$cache "$S3_TOOL" install >&2 || die "cannot install the S3 test server"
  fi
  local extra mod=${PGPITR_MODULE:-$(dirname "${PGPITR_BIN:-.}")/module/pgpitr.so}
  extra="$(cd "$(dirname "$SELF")/../tools" && pwd)/s3-fault-proxy.js"
  [ -f "$mod" ] && extra="$extra pgpitr.so=$mod"
  [ -f "$mod" ] || log "no archive module at $mod (make module): its columns will be skipped"
  BENCH_EXTRA_BINS="$extra" \
    outer_run pgpitr-bench-drain "pgpitr contestants will be skipped" BENCH_DRAIN_SEGMENTS="$NSEG" \
    BENCH_DRAIN_SCALE="$SCALE" BENCH_DRAIN_S3="$WITH_S3" BENCH_DRAIN_DELAY_MS="$DELAY_MS" \
    BENCH_DRAIN_IDS="${BENCH_DRAIN_IDS:-}" \
    S3_TOOL="$S3_TOOL" S3_TEST_SERVER_CACHE="$cache" BENCH_S3_PORT_LOW="$S3_PORT_LOW" \
    BENCH_S3_PORT_HIGH="$S3_PORT_HIGH"
}

PGBIN=""; PORT=""; PGPITR=""; SOCK=""
PSQL_USER=postgres


# The source, with NSEG segments of pgbench WAL ready and nothing archived.
make_backlog() {
  log "initdb, pgbench -i -s $SCALE, then pgbench until $NSEG segments are ready"
  "$PGBIN/initdb" -D "$W/pgdata" -U postgres -A trust --no-sync >"$W/log/initdb.log" 2>&1 \
    || { cat "$W/log/initdb.log" >&2; die "initdb failed"; }
  cat >>"$W/pgdata/postgresql.conf" <<EOF
log_line_prefix = '%m [%p] '
shared_buffers = '128MB'
max_wal_size = '16GB'
wal_keep_size = '16GB'
checkpoint_timeout = '1d'
synchronous_commit = off
autovacuum = off
wal_level = replica
archive_mode = on
archive_command = ''
EOF
  start_source
  "$PGBIN/pgbench" -h "$W/sock" -p "$PORT" -U postgres -i -q -s "$SCALE" postgres \
    >"$W/log/pgbench.log" 2>&1 || die "pgbench -i failed"
  local ready=0
  while [ "$ready" -lt "$NSEG" ]; do
    "$PGBIN/pgbench" -h "$W/sock" -p "$PORT" -U postgres -n -c 4 -j 2 -T 5 postgres \
      >>"$W/log/pgbench.log" 2>&1 || die "pgbench failed"
    psql_q "CHECKPOINT"   # full-page images again, as in production after checkpoints
    ready=$(find "$W/pgdata/pg_wal/archive_status" -name '*.ready' | wc -l)
  done
  psql_q "SELECT pg_switch_wal()" >/dev/null
  mapfile -t READY < <(cd "$W/pgdata/pg_wal/archive_status" && ls -1 \
    | sed -n 's/^\([0-9A-F]\{24\}\)\.ready$/\1/p' | sort | head -n "$NSEG")
  log "${#READY[@]} segments ready: ${READY[0]} .. ${READY[-1]}"
}

# --- contestants -----------------------------------------------------------------------------
declare -A LABEL=() CMD=() GET=() SECS=() FAILED=() MOD=() CPU=()
add() {  # ID LABEL ARCHIVE_COMMAND GET_COMMAND (with %f %p)
  LABEL[$1]=$2; CMD[$1]=$3; GET[$1]=$4; IDS+=("$1")
}
# add_mod ID LABEL REPO CONFIG GET_COMMAND: the archive module into REPO, with pgpitr.config
# CONFIG (may be empty) and pgpitr.jobs = 4; skipped without the module
add_mod() {
  [ -f "$W/bin/pgpitr.so" ] || return 0
  LABEL[$1]=$2; MOD[$1]="$3|$4"; GET[$1]=$5; IDS+=("$1")
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
  IDS=()
  add l_p1 "local: pgpitr archive-push" "$p --repo $W/repos/l_p1 archive-push %p" \
    "$p --repo $W/repos/l_p1 archive-get %f %p"
  add l_p4 "local: pgpitr archive-push --jobs 4" "$p --repo $W/repos/l_p4 archive-push --jobs 4 %p" \
    "$p --repo $W/repos/l_p4 archive-get %f %p"
  add_mod l_pm "local: pgpitr archive module, jobs 4" "$W/repos/l_pm" "" \
    "$p --repo $W/repos/l_pm archive-get %f %p"
  add l_br "local: pgbackrest async, process-max 2" \
    "pgbackrest --config=$W/pgbr/local.conf --stanza=bench archive-push %p" \
    "pgbackrest --config=$W/pgbr/local.conf --stanza=bench --no-archive-async archive-get %f %p"
  [ "$WITH_S3" = 1 ] || return 0
  write_s3_configs "$W/pgbr/local.conf"
  local c="$p --config $W/pgpitr-s3.conf --repo s3://$BUCKET"
  add s_p1 "S3 TLS: pgpitr archive-push" "$c/s_p1 archive-push %p" "$c/s_p1 archive-get %f %p"
  add s_p4 "S3 TLS: pgpitr archive-push --jobs 4" "$c/s_p4 archive-push --jobs 4 %p" \
    "$c/s_p4 archive-get %f %p"
  add_mod s_pm "S3 TLS: pgpitr archive module, jobs 4" "s3://$BUCKET/s_pm" "$W/pgpitr-s3.conf" \
    "$c/s_pm archive-get %f %p"
  add s_br "S3 TLS: pgbackrest async, process-max 2" \
    "pgbackrest --config=$W/pgbr/s3.conf --stanza=bench archive-push %p" \
    "pgbackrest --config=$W/pgbr/s3.conf --stanza=bench --no-archive-async archive-get %f %p"
  [ "$DELAY_MS" -gt 0 ] || return 0
  start_proxy
  write_proxy_configs /pgbackrest-proxy
  c="$p --config $W/pgpitr-proxy.conf --repo s3://$BUCKET"
  local t="S3 TLS +${DELAY_MS} ms"
  add p_p1 "$t: pgpitr archive-push" "$c/p_p1 archive-push %p" "$c/p_p1 archive-get %f %p"
  add p_p4 "$t: pgpitr archive-push --jobs 4" "$c/p_p4 archive-push --jobs 4 %p" \
    "$c/p_p4 archive-get %f %p"
  add_mod p_pm "$t: pgpitr archive module, jobs 4" "s3://$BUCKET/p_pm" "$W/pgpitr-proxy.conf" \
    "$c/p_pm archive-get %f %p"
  add p_br "$t: pgbackrest async, process-max 2" \
    "pgbackrest --config=$W/pgbr/proxy.conf --stanza=bench archive-push %p" \
    "pgbackrest --config=$W/pgbr/proxy.conf --stanza=bench --no-archive-async archive-get %f %p"
}

# archiver_cpu_ms PID: CPU time (ms) of the archiver process PID so far, all its threads, and
# the archive_commands it waited for (utime, stime, cutime, cstime of /proc/PID/stat).
archiver_cpu_ms() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15 + $16 + $17) * 1000 / hz }' \
    "/proc/$1/stat" 2>/dev/null || echo 0
}

set_archive_command() {
  psql_q "ALTER SYSTEM SET archive_command = '$1'" >/dev/null
  psql_q "SELECT pg_reload_conf()" >/dev/null
}

# Holds the archiver, waits for the command it may be running and pgBackRest's async process
# to end, and marks every backlog segment ready again.
reset_backlog() {
  local n
  set_archive_command ""
  [ "${MODULE_ON:-0}" = 1 ] && { set_module "" ""; MODULE_ON=0; }
  for _ in $(seq 1 600); do
    pgrep -f "archive-push" -u "$(id -u)" >/dev/null || break
    sleep 0.1
  done
  for n in "${READY[@]}"; do
    [ -e "$W/pgdata/pg_wal/archive_status/$n.done" ] &&
      mv "$W/pgdata/pg_wal/archive_status/$n.done" "$W/pgdata/pg_wal/archive_status/$n.ready"
  done
  rm -rf "$W/pgdata/pg_wal/pgpitr_push" "$W/pgbr/spool" "$W/pgbr/spool-s3" "$W/pgbr/spool-p"
}

drain() {  # ID
  local id=$1 last=${READY[-1]} t0 t1 got="$W/out/$1.got" f g
  reset_backlog
  local conf=$W/pgbr/local.conf
  [ "${id%%_*}" = s ] && conf=$W/pgbr/s3.conf
  [ "${id%%_*}" = p ] && conf=$W/pgbr/proxy.conf
  case $id in
    *_br) pgbackrest --config="$conf" --stanza=bench stanza-create >"$W/log/$id.stanza" 2>&1 ||
            { FAILED[$id]="stanza-create failed: $(tail -n 1 "$W/log/$id.stanza")"; return 0; } ;;
  esac
  local pid0 cpu0 pid1 cpu1
  pid0=$(archiver_pid)
  cpu0=$(archiver_cpu_ms "$pid0")
  t0=$EPOCHREALTIME
  if [ -n "${MOD[$id]:-}" ]; then
    set_module "${MOD[$id]%%|*}" "${MOD[$id]#*|}"
    MODULE_ON=1
  else
    set_archive_command "${CMD[$id]}"
  fi
  for _ in $(seq 1 36000); do   # 30 min at most
    [ -e "$W/pgdata/pg_wal/archive_status/$last.done" ] && break
    sleep 0.02
  done
  t1=$EPOCHREALTIME
  if [ ! -e "$W/pgdata/pg_wal/archive_status/$last.done" ]; then
    FAILED[$id]="not drained after 30 minutes"; set_archive_command ""; return 0
  fi
  for f in "${READY[@]}"; do
    [ -e "$W/pgdata/pg_wal/archive_status/$f.done" ] || { FAILED[$id]="$f not archived"; return 0; }
  done
  SECS[$id]=$(awk -v a="${t0/./}" -v b="${t1/./}" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
  pid1=$(archiver_pid)
  cpu1=$(archiver_cpu_ms "$pid1")
  # the module's archiver started with it: all its CPU is the drain's
  [ "$pid1" = "$pid0" ] || cpu0=0
  case $id in *_br) ;; *) CPU[$id]=$(( (cpu1 - cpu0) / ${#READY[@]} )) ;; esac
  set_archive_command ""
  [ "${MODULE_ON:-0}" = 1 ] && { set_module "" ""; MODULE_ON=0; }
  g=${GET[$id]//%f/$last}
  g=${g//%p/$got}
  rm -f "$got"
  # shellcheck disable=SC2086  # the command line is split on purpose
  if ! $g >"$W/log/$id.get" 2>&1 || ! cmp -s "$got" "$W/pgdata/pg_wal/$last"; then
    FAILED[$id]="$last fetched back differs or fails (see $W/log/$id.get)"
  fi
  log "  ${LABEL[$id]}: ${SECS[$id]:-?} s"
}

floor_zstd() {
  local t0 t1 files=()
  for f in "${READY[@]}"; do files+=("$W/pgdata/pg_wal/$f"); done
  cat "${files[@]}" >/dev/null   # in the page cache, as for the contestants
  children_cpu_ms
  local c0=$CPU_MS
  t0=$EPOCHREALTIME
  zstd -1 -T2 -q -c "${files[@]}" >/dev/null
  t1=$EPOCHREALTIME
  children_cpu_ms
  CPU[zstd]=$(( (CPU_MS - c0) / ${#READY[@]} ))
  SECS[zstd]=$(awk -v a="${t0/./}" -v b="${t1/./}" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
  LABEL[zstd]="local floor: zstd -1 -T2 over the same segments"
  log "  ${LABEL[zstd]}: ${SECS[zstd]} s"
}

ratio() {  # LABEL NUM DEN [TARGET]
  local a=${SECS[$2]:-} b=${SECS[$3]:-}
  if [ -z "$a" ] || [ -z "$b" ]; then printf '  %-58s %s\n' "$1" "n/a"; return 0; fi
  awk -v a="$a" -v b="$b" -v l="$1" -v t="${4:-}" 'BEGIN {
    r = a / b
    if (t == "") { printf "  %-58s %6.2f\n", l, r; exit }
    split(t, tt, " "); ok = (tt[1] == "<=") ? (r <= tt[2]) : (r >= tt[2])
    printf "  %-58s %6.2f   (target %s: %s)\n", l, r, t, ok ? "met" : "NOT met" }'
}

report() {
  local id mib=$(( ${#READY[@]} * SEG / 1048576 ))
  echo
  echo "pgpitr drain bench: PostgreSQL's archiver drains ${#READY[@]} ready segments ($mib MiB of pgbench WAL)"
  echo "through each archive_command, one after the other, each into a repository of its own; zstd level 1"
  host_line
  echo "tools: $(pgbackrest version); $("$PGPITR" --version 2>/dev/null | head -n 1)"
  echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '\n%-50s %9s %11s %9s %13s\n' "contestant" "seconds" "segments/s" "MiB/s" "CPU ms/seg"
  for id in zstd "${IDS[@]}"; do
    if [ -n "${FAILED[$id]:-}" ]; then printf '%-50s %s\n' "${LABEL[$id]}" "FAILED (${FAILED[$id]})"; continue; fi
    [ -n "${SECS[$id]:-}" ] || continue
    awk -v l="${LABEL[$id]}" -v s="${SECS[$id]}" -v n="${#READY[@]}" -v m="$mib" \
      -v c="${CPU[$id]:--}" 'BEGIN { printf "%-50s %9.2f %11.1f %9.0f %13s\n", l, s, n / s, m / s, c }'
  done
  echo
  echo "targets (issue #15):"
  ratio "local: pgpitr --jobs 4 / zstd -1 -T2" l_p4 zstd "<= 1.2"
  ratio "S3: pgbackrest async process-max 2 / pgpitr --jobs 4" s_br s_p4 ">= 2"
  ratio "S3 +${DELAY_MS} ms: pgbackrest async process-max 2 / pgpitr --jobs 4" p_br p_p4 ">= 2"
  ratio "local: pgpitr archive module / zstd -1 -T2" l_pm zstd "<= 1.2"
  ratio "S3: pgbackrest async process-max 2 / pgpitr archive module" s_br s_pm ">= 2"
  ratio "S3 +${DELAY_MS} ms: pgbackrest async process-max 2 / pgpitr archive module" p_br p_pm ">= 2"
  echo "for information:"
  ratio "local: pgpitr one a call / pgpitr --jobs 4" l_p1 l_p4
  ratio "local: pgbackrest async process-max 2 / pgpitr --jobs 4" l_br l_p4
  ratio "S3: pgpitr one a call / pgpitr --jobs 4" s_p1 s_p4
  ratio "S3 +${DELAY_MS} ms: pgpitr one a call / pgpitr --jobs 4" p_p1 p_p4
  ratio "local: pgpitr --jobs 4 / pgpitr archive module" l_p4 l_pm
  ratio "S3: pgpitr --jobs 4 / pgpitr archive module" s_p4 s_pm
  ratio "S3 +${DELAY_MS} ms: pgpitr --jobs 4 / pgpitr archive module" p_p4 p_pm
}

inner() {
  inner_start log out sock s3
  SOCK=$W/sock
  PGBIN=$(pg_bindir 15)
  [ -x "$W/bin/pgpitr" ] && PGPITR=$W/bin/pgpitr || die "no pgpitr binary (PGPITR_BIN)"
  local t0=$SECONDS id
  [ "$WITH_S3" = 1 ] && start_s3
  make_backlog
  write_configs
  LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
  floor_zstd
  if [ -n "${BENCH_DRAIN_IDS:-}" ]; then
    local keep=() want
    for id in "${IDS[@]}"; do
      for want in $BENCH_DRAIN_IDS; do [ "$id" = "$want" ] && keep+=("$id"); done
    done
    IDS=("${keep[@]}")
  fi
  for id in "${IDS[@]}"; do drain "$id"; done
  reset_backlog
  report
  echo
  log "done in $((SECONDS - t0)) s"
}

if [ "${BENCH_INNER:-0}" = 1 ]; then inner; else outer; fi
