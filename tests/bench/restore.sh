#!/usr/bin/env bash
# tests/bench/restore.sh -- part of `make bench`: restore + WAL replay to the newest point of a
# pgbench cluster, in one run on the same backup and the same archived WAL:
#   pgpitr restore + recovery through archive-get with the prefetch spool (the default),
#   the same with prefetching off (--spool-size 0: one fetch per restore_command call),
#   pgbackrest restore + recovery through archive-get with archive-async=y, process-max=2,
#   the replay limit: the same WAL already uncompressed on local disk, restore_command = cp;
# and with BENCH_RESTORE_S3=1 (the default) the same WAL fetched from the S3 test server over TLS
# (issue #15): pgpitr with prefetch, then through tests/tools/s3-fault-proxy.js adding
# BENCH_RESTORE_DELAY_MS (default 20) to every request: pgpitr with prefetch, pgpitr without,
# pgbackrest archive-async process-max 2. Each row shows its recovery time as a multiple of the
# replay limit.
# Prints figures only; it asserts nothing about time.
#
# Design: one throwaway cluster (pgbench -i loaded with wal_level = minimal, then restarted with
# wal_level = replica and archive_command pushing every segment to both the pgpitr and the
# pgBackRest repository), a pgpitr backup and a pgbackrest full backup, then pgbench until at
# least BENCH_RESTORE_SEGMENTS segments of WAL follow the backups. The archived segments are
# also copied uncompressed for the cp contestant. With S3, archive_command also pushes every
# segment into a pgpitr and a pgBackRest repository on the S3 test server (directly, not through
# the proxy); the S3 contestants restore the data files from the local repositories (the same
# backups: only where WAL comes from differs) and fetch WAL from S3, the proxied ones through the
# proxy, which logs every request (the "requests" figure of their log lines). Every contestant
# then restores into a fresh
# directory and starts PostgreSQL on it (archive_mode = off, so nothing is written back into a
# repository) with the same restore_command wrapper: a bash script that runs the real command and
# logs its start and end ($EPOCHREALTIME, no fork), so the wrapper's cost (~2 ms a call) is the
# same for everyone. Recovery time = server log timestamps from "starting PostgreSQL" to "ready
# to accept connections" after the promotion at the end of the archive; redo = PostgreSQL's own
# "redo done ... elapsed"; in restore_command = the sum of the wrapper's call durations, and its
# share of the recovery time is how long replay waited on fetching. Contestants run
# BENCH_RESTORE_ROUNDS times, order rotated per round; the table shows the median.
#
# Environment:
#   PGPITR_BIN               pgpitr binary (set by `make bench`); if unset, pgpitr is skipped
#   BENCH_RESTORE_SCALE      pgbench scale (default 20, ~300 MB)
#   BENCH_RESTORE_SEGMENTS   WAL segments after the backup, at least (default 64)
#   BENCH_RESTORE_ROUNDS     rounds (default 3)
#   BENCH_RESTORE_MAX_SECONDS  upper bound on the pgbench run that makes the WAL (default 240;
#                            10 s pgbench runs with a CHECKPOINT between them)
#   BENCH_RESTORE_S3=0       local repository contestants only
#   BENCH_RESTORE_DELAY_MS   latency the proxy adds per request (default 20; 0: no proxy rows)
#   S3_TEST_SERVER, S3_TEST_SERVER_CACHE   as for tests/bench/s3.sh
#   BENCH_KEEP=1             keep the work directory (path printed)
#   TMPDIR                   where the work directory is made
# When run as root, setup happens as root and everything else runs as the `postgres` OS user.
# Ports: PostgreSQL 48000-48999, S3 server 47000-47499 (probed; BENCH_S3_PORT_LOW/HIGH move
# the S3 range). Every process started is stopped by pid at exit.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
SCALE=${BENCH_RESTORE_SCALE:-20}
NSEG=${BENCH_RESTORE_SEGMENTS:-64}
ROUNDS=${BENCH_RESTORE_ROUNDS:-3}
MAXSEC=${BENCH_RESTORE_MAX_SECONDS:-240}
WITH_S3=${BENCH_RESTORE_S3:-1}
DELAY_MS=${BENCH_RESTORE_DELAY_MS:-20}
SEG=16777216
BUCKET=bench
S3_PORT_LOW=${BENCH_S3_PORT_LOW:-47000} S3_PORT_HIGH=${BENCH_S3_PORT_HIGH:-47499}
SOURCE_PORT_LOW=48000 SOURCE_PORT_HIGH=48999

BENCH_LOG=bench-restore
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"

# Helpers started for us in the background: pgpitr's prefetcher (its executable is our copy of
# pgpitr) and pgBackRest's async archive-get (its command line names our configuration).
# Printed by pid; only processes that belong to this work directory.
stray_pids() {
  local p exe cmd
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    if [ "$exe" = "$W/bin/pgpitr" ] || { [[ "$exe" == */pgbackrest ]] && [[ "$cmd" == *"$W/pgbr/"* ]]; }; then
      printf '%s\n' "${p#/proc/}"
    fi
  done
  return 0
}
stop_strays() {  # wait up to $1 s for them to end by themselves, then TERM, then KILL
  local pids
  for _ in $(seq 1 $(( ${1:-0} * 10 ))); do [ -z "$(stray_pids)" ] && return 0; sleep 0.1; done
  pids=$(stray_pids)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  sleep 1
  pids=$(stray_pids)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

# What both cleanup traps stop: the source server, any restored server, the helpers, the proxy
# and the S3 server (by its state directory: the tool kills only the pid it recorded there).
stop_all() {
  local d
  for d in "$W/pgdata" "$W"/restore/*/; do stop_postmaster "${d%/}"; done
  stop_strays 0
  [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null
  [ -e "$W/s3/state/server.pid" ] && "$S3_TOOL" stop --state-dir "$W/s3/state" >/dev/null 2>&1
  return 0
}

# ---------------------------------------------------------------------------------------------
# Outer part: dependencies, work directory, privilege drop.
# ---------------------------------------------------------------------------------------------
outer() {
  local cache=""
  need_commands pgbackrest pgbench
  S3_TOOL=""
  if [ "$WITH_S3" = 1 ]; then
    need_commands node openssl
    S3_TOOL=$(s3_tool)
    cache=${S3_TEST_SERVER_CACHE:-$(cd "$(dirname "$SELF")/../.." && pwd)/build/s3-test-server}
    S3_TEST_SERVER_CACHE=$cache "$S3_TOOL" install >&2 || die "cannot install the S3 test server"
  fi
  BENCH_EXTRA_BINS="$(cd "$(dirname "$SELF")/../tools" && pwd)/s3-fault-proxy.js" \
    outer_run pgpitr-bench-restore "pgpitr will be skipped" BENCH_RESTORE_SCALE="$SCALE" \
    BENCH_RESTORE_SEGMENTS="$NSEG" BENCH_RESTORE_ROUNDS="$ROUNDS" BENCH_RESTORE_MAX_SECONDS="$MAXSEC" \
    BENCH_RESTORE_S3="$WITH_S3" BENCH_RESTORE_DELAY_MS="$DELAY_MS" S3_TOOL="$S3_TOOL" \
    S3_TEST_SERVER_CACHE="$cache" BENCH_S3_PORT_LOW="$S3_PORT_LOW" BENCH_S3_PORT_HIGH="$S3_PORT_HIGH"
}

# ---------------------------------------------------------------------------------------------
# Inner part: runs as an unprivileged user inside $W.
# ---------------------------------------------------------------------------------------------
PGBIN=""; PORT=""; PGPITR=""; CONF=""; DATA_BYTES=0; WAL_SEGS=0
PSQL_USER=postgres
# What a correct recovery must show: every transaction of the pgbench run.
CHECK_SQL="SELECT (SELECT count(*) FROM pgbench_history) || '/' || (SELECT sum(abalance) FROM pgbench_accounts)"

pgbr() { pgbackrest --config="$CONF" --stanza=bench "$@"; }


setup_pgbackrest() {
  mkdir -p "$W/repo/pgbackrest" "$W/pgbr/lock" "$W/pgbr/log" "$W/pgbr/spool"
  CONF=$W/pgbr/pgbackrest.conf
  cat >"$CONF" <<EOF
[global]
repo1-path=$W/repo/pgbackrest
repo1-retention-full=99
$(pgbr_common_settings)
start-fast=y

[bench]
pg1-path=$W/pgdata
pg1-socket-path=$W/sock
pg1-user=postgres
EOF
}


make_backups() {
  PGBR_OK=1
  # archive_command pushes into the S3 repositories too, before the backups wait for WAL
  if [ "$WITH_S3" = 1 ]; then
    write_s3_configs "$CONF"
    if [ "$DELAY_MS" -gt 0 ]; then start_proxy; write_proxy_configs /pgbackrest; fi
    pgbackrest --config="$W/pgbr/s3.conf" --stanza=bench stanza-create >"$W/log/pgbr-stanza-s3.log" 2>&1 ||
      die "pgbackrest stanza-create on S3 failed: $(tail -n 3 "$W/log/pgbr-stanza-s3.log")"
  fi
  if ! pgbr stanza-create >"$W/log/pgbr-stanza.log" 2>&1 ||
     ! pgbr backup --type=full --process-max=2 >"$W/log/pgbr-backup.log" 2>&1; then
    tail -n 5 "$W/log/pgbr-stanza.log" "$W/log/pgbr-backup.log" >&2 || true
    log "pgbackrest stanza-create/backup failed; the pgbackrest contestant is skipped"
    PGBR_OK=0
  fi
  if [ -n "$PGPITR" ] && ! "$PGPITR" --repo "$W/repo/pgpitr" backup \
       --pg-conn "host=$W/sock port=$PORT user=postgres" --jobs 2 >"$W/log/pgpitr-backup.log" 2>&1; then
    tail -n 5 "$W/log/pgpitr-backup.log" >&2
    log "pgpitr backup failed; the pgpitr contestants are skipped"
    PGPITR=""
  fi
}

make_wal() {
  local t0=$SECONDS last
  log "pgbench until $NSEG segments of WAL follow the backups"
  pgbench_until_wal $(( (NSEG + 1) * SEG )) "$MAXSEC"
  last=$WAL_LAST
  EXPECT=$(psql_q "$CHECK_SQL")
  log "pgbench: $((SECONDS - t0)) s, $((WAL_MADE / 1048576)) MiB of WAL; last archived segment $last"
  stop_postmaster "$W/pgdata"
  # The archived WAL, uncompressed, for the cp contestant (the replay limit).
  mkdir -p "$W/walcopy"
  local f
  for f in "$W/pgdata/pg_wal/archive_status/"*.done; do
    f=$(basename "$f" .done)
    cp "$W/pgdata/pg_wal/$f" "$W/walcopy/$f"
  done
  WAL_SEGS=$(find "$W/walcopy" -name '[0-9A-F]*' ! -name '*.*' | wc -l)
}

# --- contestants ------------------------------------------------------------------------------
# restore_<id> DIR: restore the files into DIR (timed); cmd_<id> DIR: the restore_command.
restore_pgpitr() { "$PGPITR" --repo "$W/repo/pgpitr" restore --pgdata "$1" --jobs 2 >"$W/out/restore.out" 2>&1; }
restore_pgbr()   { mkdir -p "$1" && chmod 0700 "$1" && pgbr restore --pg1-path="$1" --process-max=2 >"$W/out/restore.out" 2>&1; }
restore_pgpitr_on()  { restore_pgpitr "$@"; }
restore_pgpitr_off() { restore_pgpitr "$@"; }
restore_pgbr_async() { restore_pgbr "$@"; }
restore_local_cp()   { if [ -n "$PGPITR" ]; then restore_pgpitr "$@"; else restore_pgbr "$@"; fi; }
cmd_pgpitr_on()  { printf '%s --repo %s archive-get %%f "%%p"' "$PGPITR" "$W/repo/pgpitr"; }
cmd_pgpitr_off() { printf '%s --repo %s archive-get --spool-size 0 %%f "%%p"' "$PGPITR" "$W/repo/pgpitr"; }
cmd_pgbr_async() { printf 'pgbackrest --config=%s --stanza=bench --pg1-path=%s --archive-async --process-max=2 archive-get %%f "%%p"' "$CONF" "$1"; }
cmd_local_cp()   { printf 'cp %s/%%f "%%p"' "$W/walcopy"; }
# S3: the data files from the local repositories, WAL from S3 (s3_: direct, p_: through the proxy)
restore_s3_pgpitr()    { restore_pgpitr "$@"; }
restore_p_pgpitr()     { restore_pgpitr "$@"; }
restore_p_pgpitr_off() { restore_pgpitr "$@"; }
restore_p_pgbr_async() { restore_pgbr "$@"; }
cmd_s3_pgpitr()    { printf '%s --config %s --repo s3://%s/pgpitr archive-get %%f "%%p"' "$PGPITR" "$W/pgpitr-s3.conf" "$BUCKET"; }
cmd_p_pgpitr()     { printf '%s --config %s --repo s3://%s/pgpitr archive-get %%f "%%p"' "$PGPITR" "$W/pgpitr-proxy.conf" "$BUCKET"; }
cmd_p_pgpitr_off() { printf '%s --config %s --repo s3://%s/pgpitr archive-get --spool-size 0 %%f "%%p"' "$PGPITR" "$W/pgpitr-proxy.conf" "$BUCKET"; }
cmd_p_pgbr_async() { printf 'pgbackrest --config=%s --stanza=bench --pg1-path=%s --archive-async --process-max=2 archive-get %%f "%%p"' "$W/pgbr/proxy.conf" "$1"; }

declare -A LABEL=(
  [pgpitr_on]="pgpitr, prefetch spool (default)"
  [pgpitr_off]="pgpitr, prefetch off (--spool-size 0)"
  [pgbr_async]="pgbackrest, archive-async, process-max 2"
  [local_cp]="replay limit: cp from local disk"
  [s3_pgpitr]="S3 TLS: pgpitr, prefetch spool"
  [p_pgpitr]="S3 TLS +${DELAY_MS} ms: pgpitr, prefetch spool"
  [p_pgpitr_off]="S3 TLS +${DELAY_MS} ms: pgpitr, prefetch off"
  [p_pgbr_async]="S3 TLS +${DELAY_MS} ms: pgbackrest async, pmax 2"
)
declare -A FAILED=() MED=()

# run_one ID ROUND: restore, start, wait until promoted, record figures, stop, clean up.
run_one() {
  local id=$1 r=$2 d="$W/restore/$1" calls="$W/out/calls.$1.$2" slog="$W/out/server.$1.$2.log"
  local t0 t1 rc=0 port ts te redo incmd ncalls req0=0 req=""
  [ -z "${FAILED[$id]:-}" ] || return 0
  rm -rf "$d" "$W/pgbr/spool/archive" "$W/pgbr/spool-p/archive"
  t0=$EPOCHREALTIME
  "restore_$id" "$d" || rc=$?
  t1=$EPOCHREALTIME
  if [ "$rc" -ne 0 ]; then
    FAILED[$id]="restore failed: $(tail -n 1 "$W/out/restore.out")"; log "${LABEL[$id]}: ${FAILED[$id]}"; return 0
  fi
  echo $(( ${t1/./} - ${t0/./} )) >>"$W/times/$id.files"
  : >"$calls"
  port=$(pick_port "$SOURCE_PORT_LOW" "$SOURCE_PORT_HIGH")
  cat >>"$d/postgresql.auto.conf" <<EOF
# bench: same settings for every contestant
restore_command = '$W/bin/timed.sh $calls $("cmd_$id" "$d")'
archive_mode = off
port = $port
unix_socket_directories = '$W/sock'
listen_addresses = ''
log_line_prefix = '%m [%p] '
logging_collector = off
EOF
  [ -e "$W/log/proxy.log" ] && req0=$(wc -l <"$W/log/proxy.log")
  "$PGBIN/pg_ctl" -D "$d" -l "$slog" -W start >/dev/null
  for _ in $(seq 1 6000); do   # up to 10 min
    grep -q 'database system is ready to accept connections' "$slog" 2>/dev/null && break
    [ -e "$d/postmaster.pid" ] || { sleep 0.5; [ -e "$d/postmaster.pid" ] || break; }
    sleep 0.1
  done
  if ! grep -q 'database system is ready to accept connections' "$slog"; then
    FAILED[$id]="recovery did not finish (see $slog)"; log "${LABEL[$id]}: ${FAILED[$id]}"
    tail -n 5 "$slog" >&2; stop_postmaster "$d"; return 0
  fi
  PORT=$port
  local got
  got=$(psql_q "$CHECK_SQL")
  [ "$got" = "$EXPECT" ] || { FAILED[$id]="wrong data after recovery: $got, expected $EXPECT"; log "${LABEL[$id]}: ${FAILED[$id]}"; }
  stop_postmaster "$d"
  stop_strays 10
  # requests through the proxy during this recovery (only p_ contestants use it)
  [[ $id == p_* ]] && req=", $(( $(wc -l <"$W/log/proxy.log") - req0 )) requests through the proxy"
  ts=$(log_ms "$slog" 'starting PostgreSQL')
  te=$(log_ms "$slog" 'database system is ready to accept connections')
  redo=$(sed -n 's/.*redo done at .* elapsed: \([0-9.]*\) s.*/\1/p' "$slog" | head -n 1)
  read -r incmd ncalls < <(awk '{ s += $2 - $1; n++ } END { printf "%.3f %d\n", s, n }' "$calls")
  echo $(( (te - ts) * 1000 )) >>"$W/times/$id.recovery"
  awk -v r="${redo:-0}" 'BEGIN { printf "%d\n", r * 1e6 }' >>"$W/times/$id.redo"
  awk -v s="$incmd" 'BEGIN { printf "%d\n", s * 1e6 }' >>"$W/times/$id.incmd"
  echo "$ncalls" >>"$W/times/$id.calls"
  log "  ${LABEL[$id]} (round $r): files $(us_s $(( ${t1/./} - ${t0/./} ))) s, recovery $(us_s $(( (te - ts) * 1000 ))) s, in restore_command ${incmd} s over $ncalls calls$req"
  rm -rf "$d"
}

us_s() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1e6 }'; }
minimum() { sort -n "$1" | head -n 1; }
median() {  # FILE -> median
  sort -n "$1" | awk '{a[NR]=$1} END { if (NR == 0) { print ""; exit }
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.0f\n", m }'
}

print_row() {  # id
  local id=$1 files rec best redo incmd calls share limit x
  if [ -n "${FAILED[$id]:-}" ]; then printf '%-46s %s\n' "${LABEL[$id]}" "FAILED (${FAILED[$id]})"; return 0; fi
  files=$(median "$W/times/$id.files"); rec=$(median "$W/times/$id.recovery")
  best=$(minimum "$W/times/$id.recovery")
  redo=$(median "$W/times/$id.redo"); incmd=$(median "$W/times/$id.incmd"); calls=$(median "$W/times/$id.calls")
  MED[$id]=$rec
  MED[$id:files]=$files
  share=$(awk -v a="$incmd" -v b="$rec" 'BEGIN { printf "%.0f%%", b ? 100 * a / b : 0 }')
  limit=""
  [ -z "${FAILED[local_cp]:-}" ] && [ -e "$W/times/local_cp.recovery" ] && limit=$(median "$W/times/local_cp.recovery")
  x=$(awk -v a="$rec" -v b="$limit" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }')
  printf '%-46s %8s %9s %6s %7s %6s %9s %6s %7s\n' "${LABEL[$id]}" "$(us_s "$files")" "$(us_s "$rec")" \
    "$(us_s "$best")" "$(us_s "$redo")" "$calls" "$(us_s "$incmd")" "$share" "$x"
}

print_ratio() {  # label num_key den_key target
  local a=${MED[$2]:-} b=${MED[$3]:-}
  if [ -z "$a" ] || [ -z "$b" ]; then printf '  %-52s %s\n' "$1" "n/a"; return 0; fi
  awk -v a="$a" -v b="$b" -v l="$1" -v t="$4" 'BEGIN {
    r = a / b; split(t, tt, " "); ok = (tt[1] == "<=") ? (r <= tt[2]) : (tt[1] == "<") ? (r < tt[2]) : (r >= tt[2])
    printf "  %-52s %6.2f   (target %s: %s)\n", l, r, t, ok ? "met" : "NOT met" }'
}

inner() {
  inner_start log out times repo sock restore s3
  SOCK=$W/sock
  PGBIN=$(pg_bindir 15)
  local t0=$SECONDS ids=() id r k n
  if [ -x "$W/bin/pgpitr" ] && "$W/bin/pgpitr" restore --help >/dev/null 2>&1; then
    PGPITR=$W/bin/pgpitr
  else
    log "no usable pgpitr binary (PGPITR_BIN); pgpitr contestants skipped"
  fi
  write_wrapper
  setup_pgbackrest
  if [ "$WITH_S3" = 1 ]; then
    start_s3
    # pgpitr's S3 repository, then pgBackRest's (both configurations written by make_backups)
    ARCHIVE_EXTRA="pgbackrest --config=$W/pgbr/s3.conf --stanza=bench archive-push %p"
    [ -n "$PGPITR" ] && ARCHIVE_EXTRA="$PGPITR --config $W/pgpitr-s3.conf --repo s3://$BUCKET/pgpitr archive-push %p && $ARCHIVE_EXTRA"
  fi
  make_source "--repo $W/repo/pgpitr"
  make_backups
  make_wal
  [ -n "$PGPITR" ] && ids+=(pgpitr_on pgpitr_off)
  [ "$PGBR_OK" = 1 ] && ids+=(pgbr_async)
  ids+=(local_cp)
  if [ "$WITH_S3" = 1 ]; then
    [ -n "$PGPITR" ] && ids+=(s3_pgpitr)
    [ -n "$PGPITR" ] && [ "$DELAY_MS" -gt 0 ] && ids+=(p_pgpitr p_pgpitr_off)
    [ "$PGBR_OK" = 1 ] && [ "$DELAY_MS" -gt 0 ] && ids+=(p_pgbr_async)
  fi
  n=${#ids[@]}
  LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
  for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r of $ROUNDS"
    for ((k = 0; k < n; k++)); do run_one "${ids[$(( (r - 1 + k) % n ))]}" "$r"; done
  done

  echo
  echo "pgpitr restore bench: restore + recovery to the end of the archive of a pgbench cluster (scale $SCALE,"
  echo "$((DATA_BYTES / 1048576)) MiB data directory) with $WAL_SEGS archived WAL segments after the backup; median of $ROUNDS rounds"
  host_line
  echo "tools: $("$PGBIN/postgres" --version); $(pgbackrest version); $([ -n "$PGPITR" ] && "$PGPITR" --version 2>/dev/null | head -n 1 || echo 'pgpitr n/a')"
  echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "files: restore of the data files (process-max/jobs 2); recovery: server start -> promoted"
  echo "(log timestamps; best: fastest round); redo: PostgreSQL's 'redo done ... elapsed'; in cmd: time"
  echo "inside restore_command (all calls, through the same bash wrapper for everyone); wait: in cmd /"
  echo "recovery = the share of the recovery that replay spent waiting on fetching."
  echo "Other load on the host moves every figure; 'in cmd' and 'wait' are the least sensitive to it."
  echo "x limit: median recovery / the replay limit's. S3 rows: the S3 test server over TLS (+${DELAY_MS} ms:"
  echo "through the latency proxy, every request); their data files come from the local repositories."
  echo
  printf '%-46s %8s %9s %6s %7s %6s %9s %6s %7s\n' "contestant" "files s" "recovery" "best" "redo s" "calls" "in cmd s" "wait" "x limit"
  for id in "${ids[@]}"; do print_row "$id"; done
  echo
  echo "targets (ratio of median recovery seconds):"
  print_ratio "pgpitr (prefetch) / replay limit (local cp)" pgpitr_on local_cp "<= 1.2"
  print_ratio "pgpitr (prefetch) / pgbackrest async" pgpitr_on pgbr_async "< 1"
  if [ "$WITH_S3" = 1 ] && [ "$DELAY_MS" -gt 0 ]; then
    print_ratio "S3 +${DELAY_MS} ms: pgpitr (prefetch) / replay limit" p_pgpitr local_cp "<= 1.2"
    print_ratio "S3 +${DELAY_MS} ms: pgpitr / pgbackrest async" p_pgpitr p_pgbr_async "< 1"
  fi
  echo "for information:"
  print_ratio "pgpitr prefetch off / pgpitr prefetch on" pgpitr_off pgpitr_on ">= 1"
  [ "$WITH_S3" = 1 ] && print_ratio "S3 TLS: pgpitr (prefetch) / replay limit" s3_pgpitr local_cp "<= 1.2"
  [ "$WITH_S3" = 1 ] && [ "$DELAY_MS" -gt 0 ] &&
    print_ratio "S3 +${DELAY_MS} ms: pgpitr prefetch off / prefetch on" p_pgpitr_off p_pgpitr ">= 1"
  print_ratio "pgpitr restore files / pgbackrest restore files" pgpitr_on:files pgbr_async:files "<= 1"
  echo
  log "done in $((SECONDS - t0)) s"
}

if [ "${BENCH_INNER:-0}" = 1 ]; then inner; else outer; fi
