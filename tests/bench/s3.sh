#!/usr/bin/env bash
# tests/bench/s3.sh -- part of `make bench`: pgpitr and pgBackRest side by side against the same
# S3 repository server, in one run: the local S3 test server (../shared/tools/s3-test-server,
# s3rver on loopback that checks SigV4 signatures) over TLS, which pgBackRest requires, with its
# CA file given to both tools. Both use zstd level 1, as in the local benchmarks. Figures:
#   archive-push and archive-get ms per 16 MiB segment of real pgbench WAL;
#   full backup of the bench database, pgpitr --jobs 2 vs pgbackrest process-max 2;
#   restore of the files + recovery to the end of the archive: pgpitr restore and archive-get
#   with its prefetcher (the default), pgbackrest restore process-max 2 and archive-get with
#   archive-async (as tests/bench/restore.sh);
#   peak RSS of pgpitr backup and restore (/usr/bin/time -v), next to the bound of issue #12:
#   64 MiB + jobs x s3-part-size.
# Prints figures only; it asserts nothing about time.
#
# Design: one throwaway cluster (pgbench -i loaded with wal_level = minimal, then restarted
# with archive_command pushing every segment to both S3 repositories). Backups run
# BENCH_S3_ROUNDS times each, order rotated per round, after a CHECKPOINT; a pgpitr backup
# starts from an empty object store: its objects/ and backup/ keys are removed first (straight
# from the server's data directory, like backup.sh's rm of a local repository; its archived WAL
# stays). Then pgbench writes at least BENCH_S3_SEGMENTS segments; those completed segments
# (plus one warm-up, not counted) are pushed one by one by each tool, starting tool rotated
# per segment, into repositories of their own on the same server, then fetched back and
# compared. Then each restore contestant restores into a fresh directory and recovers all the
# archived WAL through the same restore_command wrapper as restore.sh; the data is checked.
# Every call is timed alone ($EPOCHREALTIME around /usr/bin/time, which adds the same one
# fork+exec to everyone) and /usr/bin/time -v gives its CPU time and peak RSS.
#
# Environment:
#   PGPITR_BIN          pgpitr binary (set by `make bench`); if unset, pgpitr is skipped
#   BENCH_S3_SCALE      pgbench scale (default 20, ~300 MB)
#   BENCH_S3_SEGMENTS   counted segments for archive-push/get, and at least that much WAL
#                       replayed by the restores (default 24)
#   BENCH_S3_ROUNDS     rounds of backups and of restores (default 2)
#   S3_TEST_SERVER      the s3-test-server script (default: looked for beside the checkout)
#   S3_TEST_SERVER_CACHE  its npm install (default: build/s3-test-server of this checkout;
#                       installed there by the outer part when missing)
#   BENCH_KEEP=1        keep the work directory (path printed)
#   TMPDIR              where the work directory is made
# When run as root, setup happens as root and everything else (the S3 server too) runs as the
# `postgres` OS user. Ports: PostgreSQL 41000-42000 (probed), S3 server 46500-46999 (probed).
# Every process started is stopped by pid at exit.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
SCALE=${BENCH_S3_SCALE:-20}
NSEG=${BENCH_S3_SEGMENTS:-24}
ROUNDS=${BENCH_S3_ROUNDS:-2}
SEG=16777216
BUCKET=bench
PART_MIB=16   # s3-part-size given to pgpitr; the RSS bound is 64 MiB + jobs x this
JOBS=2

BENCH_LOG=bench-s3
SOURCE_PORT_LOW=41000 SOURCE_PORT_HIGH=42000
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"

# Helpers started in the background (as in restore.sh): pgpitr's prefetcher and pgBackRest's
# async archive-get, found by executable and configuration path; only this work directory's.
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
wait_strays() {  # up to $1 s for them to end by themselves, then TERM, then KILL
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

# What both cleanup traps stop: the source and any restored server, the helpers, the S3 server
# (by its state directory: the tool kills only the pid it recorded there, if still its server).
stop_all() {
  local d
  for d in "$W/pgdata" "$W"/restore/*/; do stop_postmaster "${d%/}"; done
  wait_strays 0
  [ -e "$W/s3/state/server.pid" ] && "$S3_TOOL" stop --state-dir "$W/s3/state" >/dev/null 2>&1
  return 0
}

# ---------------------------------------------------------------------------------------------
# Outer part: dependencies, the S3 test server's npm install, work directory, privilege drop.
# ---------------------------------------------------------------------------------------------

outer() {
  local cache
  need_commands pgbackrest pgbench node openssl zstd curl
  [ -x /usr/bin/time ] || need_commands /usr/bin/time
  [ -x /usr/bin/time ] || die "/usr/bin/time is needed (package time)"
  S3_TOOL=$(s3_tool)
  cache=${S3_TEST_SERVER_CACHE:-$(cd "$(dirname "$SELF")/../.." && pwd)/build/s3-test-server}
  # Installed here, by whoever runs make: the inner part (maybe `postgres`) only reads it.
  S3_TEST_SERVER_CACHE=$cache "$S3_TOOL" install >&2 || die "cannot install the S3 test server"
  outer_run pgpitr-bench-s3 "pgpitr contestants will be skipped" BENCH_S3_SCALE="$SCALE" \
    BENCH_S3_SEGMENTS="$NSEG" BENCH_S3_ROUNDS="$ROUNDS" S3_TOOL="$S3_TOOL" S3_TEST_SERVER_CACHE="$cache"
}

# ---------------------------------------------------------------------------------------------
# Inner part: runs as an unprivileged user inside $W.
# ---------------------------------------------------------------------------------------------
PGBIN=""; PORT=""; PGPITR=""; PCONF=""; CONF=""; DATA_BYTES=0
PSQL_USER=postgres
CHECK_SQL="SELECT (SELECT count(*) FROM pgbench_history) || '/' || (SELECT sum(abalance) FROM pgbench_accounts)"



# Both tools' configuration: same server, bucket, CA file; zstd level 1. pgBackRest 2.45 checks
# only the DNS names of the certificate's subjectAltName (IP:127.0.0.1 is not enough): it is
# given "localhost", which the test server's certificate names too.
write_configs() {
  PCONF=$W/pgpitr.conf
  ( umask 077; {
    printf '[global]\nrepo = s3://%s/pgpitr\n' "$BUCKET"
    pgpitr_s3_settings
    printf 's3-part-size = %sMiB\ncompress = zstd\ncompress-level = 1\n' "$PART_MIB"
  } >"$PCONF" )
  mkdir -p "$W/pgbr/lock" "$W/pgbr/log" "$W/pgbr/spool"
  CONF=$W/pgbr/pgbackrest.conf
  ( umask 077; cat >"$CONF" <<EOF
[global]
repo1-type=s3
repo1-path=/pgbackrest
repo1-s3-bucket=$BUCKET
repo1-s3-endpoint=localhost
repo1-s3-port=$S3_TEST_PORT
repo1-s3-uri-style=path
repo1-s3-region=$S3_TEST_REGION
repo1-s3-key=$S3_TEST_ACCESS_KEY
repo1-s3-key-secret=$S3_TEST_SECRET_KEY
repo1-s3-ca-file=$S3_TEST_CA_FILE
repo1-retention-full=99
$(pgbr_common_settings)
archive-async=n
start-fast=y

[bench]
pg1-path=$W/pgdata
pg1-socket-path=$W/sock
pg1-user=postgres
EOF
  )
}
pgp() { "$PGPITR" --config "$PCONF" "$@"; }
pgbr() { pgbackrest --config="$CONF" --stanza=bench "$@"; }



# The stanzas: the archive/backup repository and the one the per-segment pushes go to.
stanzas() {
  PGBR_OK=1
  if ! pgbr stanza-create >"$W/log/pgbr-stanza.log" 2>&1 ||
     ! pgbr --repo1-path=/pgbackrest-push stanza-create >>"$W/log/pgbr-stanza.log" 2>&1; then
    tail -n 5 "$W/log/pgbr-stanza.log" >&2
    log "pgbackrest stanza-create failed; pgbackrest contestants will be skipped"
    PGBR_OK=0
    # archive with pgpitr alone, else nothing is archived at all
    [ -n "$PGPITR" ] || die "neither pgpitr nor pgbackrest can run"
    psql_q "ALTER SYSTEM SET archive_command = '$PGPITR --config $PCONF archive-push %p'"
    psql_q "SELECT pg_reload_conf()" >/dev/null
  fi
}

wait_archived() {  # switch WAL, wait until that segment is archived (by both tools)
  local last
  last=$(psql_q "SELECT pg_walfile_name(pg_switch_wal())")
  for _ in $(seq 1 1800); do [ -e "$W/pgdata/pg_wal/archive_status/$last.done" ] && break; sleep 0.1; done
  [ -e "$W/pgdata/pg_wal/archive_status/$last.done" ] || die "segment $last was not archived: $(tail -n 3 "$W/log/source.log")"
  echo "$last"
}

# --- timing ------------------------------------------------------------------------------------
declare -A LABEL=(
  [pgpitr]="pgpitr zstd-1" [pgbr]="pgbackrest zst-1" [floor]="floor: zstd-1 + curl, 1 request"
  [b_pgpitr]="pgpitr backup --jobs 2" [b_pgbr]="pgbackrest backup process-max 2"
  [r_pgpitr]="pgpitr, prefetch spool (default)" [r_pgbr]="pgbackrest, archive-async, process-max 2"
)
declare -A FAILED=() MED=()

# timed KEY CMD...: run CMD under /usr/bin/time -v, output to out/KEY.*; appends wall-clock
# us, user+sys us and peak RSS KiB to times/KEY{,.cpu,.rss}. Returns CMD's status.
timed() {
  local key=$1 t0 t1 rc=0 tv="$W/out/$1.time"
  shift
  t0=$EPOCHREALTIME
  /usr/bin/time -v -o "$tv" "$@" >"$W/out/$key.stdout" 2>"$W/out/$key.stderr" || rc=$?
  t1=$EPOCHREALTIME
  [ "$rc" -eq 0 ] || return "$rc"
  echo $(( ${t1/./} - ${t0/./} )) >>"$W/times/$key"
  awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { m = $2 }
    END { printf "%d\n", (u + s) * 1e6 > "/dev/stdout"; printf "%d\n", m > "/dev/stderr" }' "$tv" \
    >>"$W/times/$key.cpu" 2>>"$W/times/$key.rss"
}
fail_once() {  # KEY REASON: remember the first failure of KEY, show its stderr
  [ -n "${FAILED[$1]:-}" ] && return 0
  FAILED[$1]=$2
  log "$1 FAILED: $2"
  [ -s "$W/out/$1.stderr" ] && sed -n '1,5s/^/bench-s3:   | /p' "$W/out/$1.stderr" >&2
  return 0
}

# stats FILE [DIV] -> "median mean min max count" (values / DIV, default 1000: us -> ms)
stats() {
  sort -n "$1" | awk -v d="${2:-1000}" '{ a[NR] = $1; s += $1 } END {
    if (NR == 0) { print "- - - - 0"; exit }
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
    printf "%.1f %.1f %.1f %.1f %d\n", m/d, s/NR/d, a[1]/d, a[NR]/d, NR }'
}
maximum() { sort -n "$1" | tail -n 1; }

# --- 1. full backups --------------------------------------------------------------------------
run_b_pgpitr() {
  rm -rf "$W/s3/data/$BUCKET/pgpitr/objects" "$W/s3/data/$BUCKET/pgpitr/backup"
  psql_q "CHECKPOINT"
  timed b_pgpitr "$PGPITR" --config "$PCONF" backup --pg-conn "host=$W/sock port=$PORT user=postgres" \
    --jobs "$JOBS" --output json
}
run_b_pgbr() { psql_q "CHECKPOINT"; timed b_pgbr pgbackrest --config="$CONF" --stanza=bench backup --type=full --process-max="$JOBS"; }

bench_backups() {
  local ids=() r k n
  [ -n "$PGPITR" ] && ids+=(b_pgpitr)
  [ "$PGBR_OK" = 1 ] && ids+=(b_pgbr)
  n=${#ids[@]}
  for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < n; k++)); do
      local id=${ids[$(( (r - 1 + k) % n ))]}
      [ -z "${FAILED[$id]:-}" ] || continue
      "run_$id" || fail_once "$id" "exit status $? in round $r"
      [ -n "${FAILED[$id]:-}" ] || log "  backup round $r: ${LABEL[$id]} $(tail -n 1 "$W/times/$id" | us_s) s"
    done
  done
  [ -z "${FAILED[b_pgpitr]:-}" ] || PGPITR=""   # nothing to restore from
  [ -z "${FAILED[b_pgbr]:-}" ] || PGBR_OK=0
}
us_s() { awk '{ printf "%.2f", $1 / 1e6 }'; }

# --- 2. WAL for archive-push/get and for the restores -----------------------------------------
make_wal() {
  local start_lsn made=0 t0=$SECONDS need last
  start_lsn=$(psql_q "SELECT pg_current_wal_lsn()")
  need=$(( (NSEG + 3) * SEG ))
  log "pgbench until $((NSEG + 3)) segments of WAL follow the backups"
  while :; do
    "$PGBIN/pgbench" -h "$W/sock" -p "$PORT" -U postgres -n -c 4 -j 2 -T 10 postgres \
      >>"$W/log/pgbench-run.log" 2>&1 || { tail -n 20 "$W/log/pgbench-run.log" >&2; die "pgbench failed"; }
    made=$(psql_q "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$start_lsn')::bigint")
    [ "$made" -ge "$need" ] && break
    psql_q "CHECKPOINT"   # full-page images again, as in production after checkpoints
    [ $((SECONDS - t0)) -ge 300 ] && { log "stopping pgbench after 300 s"; break; }
  done
  EXPECT=$(psql_q "$CHECK_SQL")
  last=$(wait_archived)
  log "pgbench: $((SECONDS - t0)) s, $((made / 1048576)) MiB of WAL; last archived segment $last"
  stop_postmaster "$W/pgdata"
  # Completed segments of the run, not the one pg_switch_wal() closed (zero padding).
  mapfile -t SEGS < <(cd "$W/pgdata/pg_wal/archive_status" && ls -1 \
    | sed -n 's/^\([0-9A-F]\{24\}\)\.done$/\1/p' | sort | awk -v last="$last" '$1 < last' \
    | tail -n $((NSEG + 1)))
  [ "${#SEGS[@]}" -ge 2 ] || die "only ${#SEGS[@]} completed segments"
}

# --- 3. archive-push / archive-get, segment by segment ----------------------------------------
push_pgpitr() { timed "$1" "$PGPITR" --config "$PCONF" --repo "s3://$BUCKET/push-pgpitr" archive-push "$2"; }
push_pgbr()   { timed "$1" pgbackrest --config="$CONF" --stanza=bench --repo1-path=/pgbackrest-push archive-push "$2"; }
get_pgpitr()  { timed "$1" "$PGPITR" --config "$PCONF" --repo "s3://$BUCKET/push-pgpitr" archive-get "$2" "$3"; }
get_pgbr()    { timed "$1" pgbackrest --config="$CONF" --stanza=bench --repo1-path=/pgbackrest-push archive-get "$2" "$3"; }
# The floor: zstd -1 and one signed PUT by the curl CLI on a new TLS connection (no Content-MD5,
# no check before or after); back: one GET and zstd -d. Settings: the exported S3_TEST_*.
push_floor()  { timed "$1" "$W/bin/floor.sh" put "$2" "$W/out/floor.zst"; }
get_floor()   { timed "$1" "$W/bin/floor.sh" get "$2" "$3"; }
write_floor() {
  cat >"$W/bin/floor.sh" <<'EOF'
#!/bin/bash
set -eo pipefail
url="$S3_TEST_ENDPOINT/$S3_TEST_BUCKET/push-floor/$(basename "$2").zst"
s3() { curl -sS --fail --cacert "$S3_TEST_CA_FILE" --aws-sigv4 "aws:amz:$S3_TEST_REGION:s3" \
         --user "$S3_TEST_ACCESS_KEY:$S3_TEST_SECRET_KEY" "$@" "$url"; }
if [ "$1" = put ]; then
  zstd -1 -q -f -o "$3" "$2"
  s3 -H "x-amz-content-sha256: $(sha256sum <"$3" | cut -d' ' -f1)" -T "$3" -o /dev/null
else
  s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" | zstd -d -q -f -o "$3"
fi
EOF
  chmod 0755 "$W/bin/floor.sh"
}

bench_segments() {  # ids...
  local ids=("$@") i k n id name key dest
  n=${#ids[@]}
  mkdir -p "$W/segs" "$W/get"
  for name in "${SEGS[@]}"; do cp "$W/pgdata/pg_wal/$name" "$W/segs/$name"; done
  log "archive-push then archive-get: ${#SEGS[@]} segments (first is warm-up) x $n tools"
  for phase in push get; do
    for i in "${!SEGS[@]}"; do
      name=${SEGS[$i]}
      for ((k = 0; k < n; k++)); do
        id=${ids[$(( (i + k) % n ))]}
        key=$phase.$id
        [ "$i" -eq 0 ] && key=warm.$key
        [ -z "${FAILED[$phase.$id]:-}" ] || continue
        if [ "$phase" = push ]; then
          "push_$id" "$key" "$W/segs/$name" || fail_once "$phase.$id" "exit status $? on $name"
        else
          dest=$W/get/$id.RECOVERYXLOG
          rm -f "$dest"
          "get_$id" "$key" "$name" "$dest" || { fail_once "$phase.$id" "exit status $? on $name"; continue; }
          cmp -s "$dest" "$W/segs/$name" || fail_once "$phase.$id" "fetched $name differs from the original"
        fi
      done
    done
  done
  return 0
}

# --- 4. restore + recovery ---------------------------------------------------------------------
restore_r_pgpitr() { timed r_pgpitr "$PGPITR" --config "$PCONF" restore --pgdata "$1" --jobs "$JOBS"; }
restore_r_pgbr()   { mkdir -p "$1" && chmod 0700 "$1" && timed r_pgbr pgbackrest --config="$CONF" --stanza=bench restore --pg1-path="$1" --process-max="$JOBS"; }
cmd_r_pgpitr() { printf '%s --config %s archive-get %%f "%%p"' "$PGPITR" "$PCONF"; }
cmd_r_pgbr()   { printf 'pgbackrest --config=%s --stanza=bench --pg1-path=%s --archive-async --process-max=%s archive-get %%f "%%p"' "$CONF" "$1" "$JOBS"; }

# recover ID ROUND: restore (timed), start with the common restore_command wrapper, wait for
# the promotion, check the data, record recovery / redo / in-command figures, clean up.
recover() {
  local id=$1 r=$2 d="$W/restore/$1" calls="$W/out/calls.$1.$2" slog="$W/out/server.$1.$2.log"
  local port ts te redo incmd ncalls got
  rm -rf "$d" "$W/pgbr/spool/archive"
  "restore_$id" "$d" || { fail_once "$id" "restore failed (exit $?)"; return 0; }
  : >"$calls"
  port=$(pick_port 41000 42000)
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
  "$PGBIN/pg_ctl" -D "$d" -l "$slog" -W start >/dev/null
  for _ in $(seq 1 6000); do   # up to 10 min
    grep -q 'database system is ready to accept connections' "$slog" 2>/dev/null && break
    [ -e "$d/postmaster.pid" ] || { sleep 0.5; [ -e "$d/postmaster.pid" ] || break; }
    sleep 0.1
  done
  if ! grep -q 'database system is ready to accept connections' "$slog"; then
    fail_once "$id" "recovery did not finish (see $slog)"; tail -n 5 "$slog" >&2
    stop_postmaster "$d"; return 0
  fi
  got=$(PORT=$port psql_q "$CHECK_SQL")
  [ "$got" = "$EXPECT" ] || fail_once "$id" "wrong data after recovery: $got, expected $EXPECT"
  stop_postmaster "$d"
  wait_strays 10
  ts=$(log_ms "$slog" 'starting PostgreSQL')
  te=$(log_ms "$slog" 'database system is ready to accept connections')
  redo=$(sed -n 's/.*redo done at .* elapsed: \([0-9.]*\) s.*/\1/p' "$slog" | head -n 1)
  read -r incmd ncalls < <(awk '{ s += $2 - $1; n++ } END { printf "%.3f %d\n", s, n }' "$calls")
  echo $(( (te - ts) * 1000 )) >>"$W/times/$id.recovery"
  awk -v r="${redo:-0}" 'BEGIN { printf "%d\n", r * 1e6 }' >>"$W/times/$id.redo"
  awk -v s="$incmd" 'BEGIN { printf "%d\n", s * 1e6 }' >>"$W/times/$id.incmd"
  echo "$ncalls" >>"$W/times/$id.calls"
  log "  restore round $r: ${LABEL[$id]}: files $(tail -n 1 "$W/times/$id" | us_s) s, recovery $(echo $(( (te - ts) * 1000 )) | us_s) s, $ncalls restore_command calls"
  rm -rf "$d"
}

bench_restores() {
  local ids=() r k n
  [ -n "$PGPITR" ] && ids+=(r_pgpitr)
  [ "$PGBR_OK" = 1 ] && ids+=(r_pgbr)
  n=${#ids[@]}
  [ "$n" -gt 0 ] || return 0
  write_wrapper
  for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < n; k++)); do
      local id=${ids[$(( (r - 1 + k) % n ))]}
      [ -z "${FAILED[$id]:-}" ] && recover "$id" "$r"
    done
  done
  return 0
}

# --- report ------------------------------------------------------------------------------------
med_of() { stats "$1" "${2:-1000}" | cut -d' ' -f1; }

print_segments() {  # phase ids...
  local phase=$1 id med mean min max cpu rss
  shift
  printf '\n%-34s %8s %8s %8s %8s %8s %8s\n' "archive-$phase, ms per segment" "median" "mean" "min" "max" "cpu med" "RSS MiB"
  for id in "$@"; do
    if [ -n "${FAILED[$phase.$id]:-}" ]; then printf '%-34s %s\n' "${LABEL[$id]}" "FAILED (${FAILED[$phase.$id]})"; continue; fi
    read -r med mean min max _ < <(stats "$W/times/$phase.$id")
    cpu=$(med_of "$W/times/$phase.$id.cpu")
    rss=$(awk -v k="$(maximum "$W/times/$phase.$id.rss")" 'BEGIN { printf "%.1f", k / 1024 }')
    MED[$phase.$id]=$med
    printf '%-34s %8s %8s %8s %8s %8s %8s\n' "${LABEL[$id]}" "$med" "$mean" "$min" "$max" "$cpu" "$rss"
  done
}

print_backups() {
  local id s cpu rss
  printf '\n%-34s %8s %8s %8s %12s\n' "full backup to S3" "seconds" "MB/s" "cpu s" "peak RSS MiB"
  for id in b_pgpitr b_pgbr; do
    [ -e "$W/times/$id" ] || [ -n "${FAILED[$id]:-}" ] || continue
    if [ -n "${FAILED[$id]:-}" ]; then printf '%-34s %s\n' "${LABEL[$id]}" "FAILED (${FAILED[$id]})"; continue; fi
    s=$(med_of "$W/times/$id" 1); cpu=$(med_of "$W/times/$id.cpu" 1)
    rss=$(maximum "$W/times/$id.rss")
    MED[$id]=$s
    RSS[$id]=$rss
    awk -v l="${LABEL[$id]}" -v s="$s" -v c="$cpu" -v b="$DATA_BYTES" -v k="$rss" 'BEGIN {
      printf "%-34s %8.2f %8.0f %8.2f %12.1f\n", l, s / 1e6, b / s, c / 1e6, k / 1024 }'
  done
}

print_restores() {
  local id files rec redo incmd calls rss
  printf '\n%-40s %8s %9s %7s %6s %9s %6s %9s\n' "restore from S3 + recovery" "files s" "recovery" "redo s" "calls" "in cmd s" "wait" "RSS MiB"
  for id in r_pgpitr r_pgbr; do
    [ -e "$W/times/$id.recovery" ] || [ -n "${FAILED[$id]:-}" ] || continue
    if [ -n "${FAILED[$id]:-}" ]; then printf '%-40s %s\n' "${LABEL[$id]}" "FAILED (${FAILED[$id]})"; continue; fi
    files=$(med_of "$W/times/$id" 1); rec=$(med_of "$W/times/$id.recovery" 1)
    redo=$(med_of "$W/times/$id.redo" 1); incmd=$(med_of "$W/times/$id.incmd" 1)
    calls=$(med_of "$W/times/$id.calls" 1); rss=$(maximum "$W/times/$id.rss")
    MED[$id]=$rec; MED[$id.files]=$files; RSS[$id]=$rss
    awk -v l="${LABEL[$id]}" -v f="$files" -v r="$rec" -v d="$redo" -v c="$calls" -v i="$incmd" -v k="$rss" 'BEGIN {
      printf "%-40s %8.2f %9.2f %7.2f %6d %9.2f %5.0f%% %9.1f\n", l, f / 1e6, r / 1e6, d / 1e6, c, i / 1e6, r ? 100 * i / r : 0, k / 1024 }'
  done
}

print_ratio() {  # label num_key den_key [target]
  local a=${MED[$2]:-} b=${MED[$3]:-}
  if [ -z "$a" ] || [ -z "$b" ]; then printf '  %-56s %s\n' "$1" "n/a"; return 0; fi
  awk -v a="$a" -v b="$b" -v l="$1" -v t="${4:-}" 'BEGIN {
    r = a / b
    if (t == "") { printf "  %-56s %6.2f\n", l, r; exit }
    split(t, tt, " "); ok = (tt[1] == "<=") ? (r <= tt[2]) : (r >= tt[2])
    printf "  %-56s %6.2f   (target %s: %s)\n", l, r, t, ok ? "met" : "NOT met" }'
}

print_rss() {  # label id
  local k=${RSS[$2]:-} bound=$(( 64 + JOBS * PART_MIB ))
  if [ -z "$k" ]; then printf '  %-56s %s\n' "$1" "n/a"; return 0; fi
  awk -v l="$1" -v k="$k" -v b="$bound" -v j="$JOBS" -v p="$PART_MIB" 'BEGIN {
    printf "  %-56s %6.1f MiB (bound 64 MiB + %d x %d MiB = %d MiB: %s)\n", l, k / 1024, j, p, b, (k / 1024 <= b) ? "within" : "OVER" }'
}

report() {
  local seg_ids=("$@")
  echo
  echo "pgpitr S3 bench: both tools against the same local S3 test server (s3rver, TLS, SigV4 checked) on"
  echo "loopback; zstd-1; pgbench scale $SCALE, $((DATA_BYTES / 1048576)) MiB data directory; $((${#SEGS[@]} - 1)) segments pushed/fetched"
  echo "(after 1 warm-up); restores replay all WAL archived after the backup (calls: restore_command calls);
backups and restores: median of $ROUNDS rounds"
  host_line
  echo "tools: $(pgbackrest version); $([ -n "$PGPITR" ] && "$PGPITR" --version 2>/dev/null | head -n 1 || echo 'pgpitr n/a'); $(node --version 2>/dev/null | sed 's/^/node /')"
  echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg) (the S3 server shares the CPUs)"
  echo "times are wall clock; cpu: user+sys of the command's processes (not the server's); RSS: peak of the largest"
  echo "process (/usr/bin/time -v; pgbackrest's process-max workers are processes of their own)"
  print_segments push "${seg_ids[@]}"
  print_segments get "${seg_ids[@]}"
  print_backups
  print_restores
  echo
  echo "targets:"
  print_ratio "archive-push: pgbackrest / pgpitr (median ms per segment)" push.pgbr push.pgpitr ">= 1.5"
  print_ratio "backup: pgbackrest process-max 2 / pgpitr --jobs 2" b_pgbr b_pgpitr ">= 1.3"
  print_rss "peak RSS of pgpitr backup --jobs $JOBS" b_pgpitr
  echo "for information:"
  print_ratio "archive-push: pgpitr / floor (zstd -1 + one curl PUT)" push.pgpitr push.floor
  print_ratio "archive-get: pgbackrest / pgpitr (median ms per segment)" get.pgbr get.pgpitr
  print_ratio "archive-get: pgpitr / floor (one curl GET + zstd -d)" get.pgpitr get.floor
  print_ratio "restore files: pgbackrest / pgpitr" r_pgbr.files r_pgpitr.files
  print_ratio "recovery: pgbackrest async / pgpitr prefetch" r_pgbr r_pgpitr
  print_rss "peak RSS of pgpitr restore --jobs $JOBS" r_pgpitr
}

inner() {
  inner_start log out times sock restore s3
  SOCK=$W/sock
  PGBIN=$(pg_bindir 15)
  local t0=$SECONDS seg_ids=()
  declare -gA RSS=()
  if [ -x "$W/bin/pgpitr" ] && "$W/bin/pgpitr" --help >/dev/null 2>&1; then PGPITR=$W/bin/pgpitr
  else log "no usable pgpitr binary (PGPITR_BIN); pgpitr contestants skipped"; fi
  start_s3
  write_configs
  make_source "--config $PCONF" vacuum
  stanzas
  wait_archived >/dev/null
  LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
  log "full backups: $ROUNDS rounds"
  bench_backups
  make_wal
  [ -n "$PGPITR" ] && seg_ids+=(pgpitr)
  [ "$PGBR_OK" = 1 ] && seg_ids+=(pgbr)
  write_floor
  seg_ids+=(floor)
  bench_segments "${seg_ids[@]}"
  log "restores: $ROUNDS rounds"
  bench_restores
  report "${seg_ids[@]}"
  echo
  log "done in $((SECONDS - t0)) s"
}

if [ "${BENCH_INNER:-0}" = 1 ]; then inner; else outer; fi
