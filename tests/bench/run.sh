#!/usr/bin/env bash
# tests/bench/run.sh -- `make bench`: archive-push / archive-get cost per 16 MiB segment of real
# pgbench WAL, pgpitr side by side with plain tools (cp, zstd) and pgBackRest, in one run on the
# same segments. Prints figures only; it asserts nothing about time.
#
# Design: a throwaway cluster makes real WAL (pgbench -i, then pgbench until enough WAL exists);
# BENCH_SEGMENTS completed segments (plus one warm-up segment that is pushed and fetched but not
# counted) are copied out of pg_wal. Then, segment by segment, every contestant runs once, the
# starting contestant rotating per segment, so page cache and disk state favour no one. Each call
# is timed alone with bash's $EPOCHREALTIME (no extra fork inside the timed region).
#
# Environment:
#   PGPITR_BIN                 pgpitr binary (set by `make bench`); if unset, pgpitr is skipped
#   BENCH_SEGMENTS             counted segments (default 24)
#   BENCH_PGBENCH_SCALE        pgbench -i scale (default 20)
#   BENCH_PGBENCH_MAX_SECONDS  upper bound on the pgbench run (default 60); segments it does not
#                              fill come from pgbench -i
#   BENCH_KEEP=1               keep the work directory (path printed)
#   BENCH_ONLY=archive|backup|restore|s3|chunk|manifest|drain|sustained|crypto|encryption
#                              run only this one,
#                              tests/bench/backup.sh (base backups), tests/bench/restore.sh
#                              (restore + replay), tests/bench/manifest.sh (memory on a
#                              million-file manifest; GEN_MANIFEST_BIN, set by make),
#                              tests/bench/s3.sh (the same against an S3 repository, with
#                              pgBackRest) or tests/bench/chunk-size.sh (what chunked storage
#                              would store per chunk size; CHUNKSTAT_BIN, set by make) or
#                              tests/bench/drain.sh (PostgreSQL's archiver draining a backlog
#                              of ready segments, local and S3, with pgBackRest) or
#                              tests/bench/sustained.sh (the .ready backlog under a bulk load
#                              at the full WAL rate) or crypto (the encryption filters' MB/s
#                              beside SHA-256 and zstd; CRYPTOBENCH_BIN, set by make) or
#                              tests/bench/encryption.sh (archive-push, archive-get, backup
#                              and restore on a plain and an encrypted repository); all ten
#                              by default
#   TMPDIR                     where the work directory is made (it must be a real disk for
#                              fsync figures to mean anything)
# When run as root, setup happens as root and everything else runs as the `postgres` OS user
# (postgres refuses to run as root), including every timed command, so no runuser overhead is timed.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
N=${BENCH_SEGMENTS:-24}
SCALE=${BENCH_PGBENCH_SCALE:-20}
PGBENCH_MAX=${BENCH_PGBENCH_MAX_SECONDS:-60}
SEG=16777216

BENCH_LOG=bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"

# ---------------------------------------------------------------------------------------------
# Outer part: dependencies, work directory, privilege drop. Runs as whoever called make.
# ---------------------------------------------------------------------------------------------
outer() {
  need_commands pgbackrest zstd pgbench
  outer_run pgpitr-bench "pgpitr contestants will be skipped" BENCH_SEGMENTS="$N" \
    BENCH_PGBENCH_SCALE="$SCALE" BENCH_PGBENCH_MAX_SECONDS="$PGBENCH_MAX"
}

# ---------------------------------------------------------------------------------------------
# Inner part: runs as an unprivileged user inside $W.
# ---------------------------------------------------------------------------------------------
PGBIN=""; PORT=""; PGPITR=""; CONF=""; CPU_MS=0

start_cluster() {
  local try p
  for try in 1 2 3 4 5; do
    p=""
    for _ in $(seq 1 100); do
      p=$((41000 + RANDOM % 1001))
      port_free "$p" && [ ! -e "$W/.s.PGSQL.$p" ] && break
      p=""
    done
    [ -n "$p" ] || die "no free port in 41000-42000"
    PORT=$p
    if "$PGBIN/pg_ctl" -D "$W/pgdata" -l "$W/log/postgres.log" -w -t 60 \
         -o "-p $PORT -k $W -c listen_addresses=127.0.0.1" start >/dev/null; then
      return 0
    fi
    log "postgres did not start on port $PORT (attempt $try), retrying"
  done
  tail -n 20 "$W/log/postgres.log" >&2 || true
  die "cannot start postgres"
}

make_segments() {
  log "initdb + pgbench -i -s $SCALE (making real WAL)"
  "$PGBIN/initdb" -D "$W/pgdata" -A trust --no-sync >"$W/log/initdb.log" 2>&1 \
    || { cat "$W/log/initdb.log" >&2; die "initdb failed"; }
  cat >>"$W/pgdata/postgresql.conf" <<EOF
archive_mode = on
archive_command = '/bin/true'
wal_keep_size = '8GB'
max_wal_size = '2GB'
synchronous_commit = off
checkpoint_timeout = '30s'
autovacuum = off
EOF
  start_cluster
  "$PGBIN/pgbench" -h "$W" -p "$PORT" -i -q -s "$SCALE" postgres >"$W/log/pgbench-init.log" 2>&1 \
    || { tail -n 20 "$W/log/pgbench-init.log" >&2; die "pgbench -i failed"; }
  psql_q "CHECKPOINT"   # the run's WAL then starts with full-page images, as in production

  local start_lsn need made=0 t0=$SECONDS
  start_lsn=$(psql_q "SELECT pg_current_wal_lsn()")
  need=$(( (N + 3) * SEG ))
  while :; do
    "$PGBIN/pgbench" -h "$W" -p "$PORT" -n -c 4 -j 2 -T 10 postgres >>"$W/log/pgbench-run.log" 2>&1 \
      || { tail -n 20 "$W/log/pgbench-run.log" >&2; die "pgbench run failed"; }
    made=$(psql_q "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$start_lsn')::bigint")
    [ "$made" -ge "$need" ] && break
    [ $((SECONDS - t0)) -ge "$PGBENCH_MAX" ] && break
  done
  log "pgbench run: $((SECONDS - t0)) s, $((made / 1048576)) MiB of WAL"

  local last i name
  last=$(psql_q "SELECT pg_walfile_name(pg_switch_wal())")
  for i in $(seq 1 300); do [ -e "$W/pgdata/pg_wal/archive_status/$last.done" ] && break; sleep 0.1; done
  [ -e "$W/pgdata/pg_wal/archive_status/$last.done" ] || die "segment $last was not archived"
  # Completed (archived) segments only, and not the one pg_switch_wal() closed: its tail is
  # zero padding, which would flatter every compressor.
  mapfile -t SEGS < <(cd "$W/pgdata/pg_wal/archive_status" && ls -1 \
    | sed -n 's/^\([0-9A-F]\{24\}\)\.done$/\1/p' | sort | awk -v last="$last" '$1 < last' \
    | tail -n $((N + 1)))
  [ "${#SEGS[@]}" -eq $((N + 1)) ] || die "only ${#SEGS[@]} completed segments, need $((N + 1))"
  mkdir -p "$W/segs"
  for name in "${SEGS[@]}"; do
    [ "$(stat -c %s "$W/pgdata/pg_wal/$name")" -eq "$SEG" ] || die "segment $name is not 16 MiB"
    cp "$W/pgdata/pg_wal/$name" "$W/segs/$name"
  done
  sync -f "$W/segs/${SEGS[0]}"
  local from_run
  from_run=$(psql_q "SELECT count(*) FROM unnest(ARRAY['$(IFS=,; echo "${SEGS[*]}" | sed "s/,/','/g")']) s
                     WHERE s >= pg_walfile_name('$start_lsn')")
  log "segments ${SEGS[0]} .. ${SEGS[-1]} (first is warm-up; $from_run of $((N + 1)) from the pgbench run, $((N + 1 - from_run)) from pgbench -i)"
}

setup_pgbackrest() {
  mkdir -p "$W/repo/pgbackrest" "$W/pgbr/lock" "$W/pgbr/log" "$W/pgbr/spool" "$W/pgbr/conf.d"
  CONF=$W/pgbr/pgbackrest.conf
  cat >"$CONF" <<EOF
[global]
repo1-path=$W/repo/pgbackrest
$(pgbr_common_settings)
archive-async=n

[bench]
pg1-path=$W/pgdata
pg1-port=$PORT
pg1-socket-path=$W
EOF
  if ! pgbackrest --config="$CONF" --config-include-path="$W/pgbr/conf.d" --stanza=bench \
         stanza-create >"$W/log/pgbackrest-stanza.log" 2>&1; then
    cat "$W/log/pgbackrest-stanza.log" >&2
    log "pgbackrest stanza-create failed; pgbackrest contestants will be skipped"
    return 1
  fi
}

# --- contestants ------------------------------------------------------------------------------
# push_<id> PATH NAME ; get_<id> NAME DEST. Output of a failing call is kept for the report.
pgbr() { pgbackrest --config="$CONF" --config-include-path="$W/pgbr/conf.d" --stanza=bench "$@"; }

push_pgpitr_zstd1() { "$PGPITR" --repo "$W/repo/pgpitr_zstd1" archive-push --compress zstd --compress-level 1 "$1"; }
push_pgpitr_zstd3() { "$PGPITR" --repo "$W/repo/pgpitr_zstd3" archive-push --compress zstd --compress-level 3 "$1"; }
push_pgpitr_lz4()   { "$PGPITR" --repo "$W/repo/pgpitr_lz4" archive-push --compress lz4 "$1"; }
push_pgpitr_none()  { "$PGPITR" --repo "$W/repo/pgpitr_none" archive-push --compress none "$1"; }
push_cp_fsync()     { cp "$1" "$W/repo/cp_fsync/$2" && sync "$W/repo/cp_fsync/$2"; }
push_zstd1_fsync()  { zstd -1 -q -f -o "$W/repo/zstd1_fsync/$2.zst" "$1" && sync "$W/repo/zstd1_fsync/$2.zst"; }
push_pgbackrest()   { pgbr archive-push "$1"; }

get_pgpitr_zstd1()  { "$PGPITR" --repo "$W/repo/pgpitr_zstd1" archive-get "$1" "$2"; }
get_pgpitr_lz4()    { "$PGPITR" --repo "$W/repo/pgpitr_lz4" archive-get "$1" "$2"; }
get_pgpitr_none()   { "$PGPITR" --repo "$W/repo/pgpitr_none" archive-get "$1" "$2"; }
get_zstd_d_fsync()  { zstd -d -q -f -o "$2" "$W/repo/zstd1_fsync/$1.zst" && sync "$2"; }
get_cp_fsync()      { cp "$W/repo/cp_fsync/$1" "$2" && sync "$2"; }
get_pgbackrest()    { pgbr archive-get "$1" "$2"; }

declare -A LABEL=(
  [pgpitr_zstd1]="pgpitr zstd-1" [pgpitr_zstd3]="pgpitr zstd-3" [pgpitr_lz4]="pgpitr lz4"
  [pgpitr_none]="pgpitr none" [cp_fsync]="cp + fsync" [zstd1_fsync]="zstd -1 + fsync"
  [pgbackrest]="pgbackrest zst-1" [zstd_d_fsync]="zstd -d + fsync"
)
# A get contestant reads the repository its push counterpart wrote.
declare -A GET_FROM=(
  [pgpitr_zstd1]=pgpitr_zstd1 [pgpitr_lz4]=pgpitr_lz4 [pgpitr_none]=pgpitr_none
  [zstd_d_fsync]=zstd1_fsync [cp_fsync]=cp_fsync [pgbackrest]=pgbackrest
)
declare -A FAILED=()   # "push:id" / "get:id" -> reason

mark_failed() {  # phase id reason outfile
  FAILED[$1:$2]=$3
  log "${LABEL[$2]} $1 FAILED: $3"
  [ -s "$4" ] && sed -n '1,5s/^/bench:   | /p' "$4" >&2
  return 0
}

# timed PHASE ID SEGINDEX ARGS... : run ${PHASE}_${ID} ARGS; unless warm-up, record wall-clock
# microseconds and CPU milliseconds. Only the call itself is inside the timed region.
timed() {
  local phase=$1 id=$2 idx=$3 t0 t1 c0 rc=0 out="$W/out/$1.$2"
  shift 3
  children_cpu_ms; c0=$CPU_MS
  t0=$EPOCHREALTIME
  "${phase}_$id" "$@" >"$out" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  children_cpu_ms
  if [ "$rc" -ne 0 ]; then
    mark_failed "$phase" "$id" "exit status $rc on segment ${SEGS[$idx]}" "$out"
    return 0
  fi
  [ "$idx" -eq 0 ] && return 0
  echo $(( ${t1/./} - ${t0/./} )) >>"$W/times/$phase.$id"
  echo $(( (CPU_MS - c0) * 1000 )) >>"$W/times/$phase.$id.cpu"
}

run_phase() {  # phase ids...
  local phase=$1 i k n id name dest start
  shift
  local ids=("$@")
  n=${#ids[@]}
  for i in "${!SEGS[@]}"; do
    name=${SEGS[$i]}
    start=$(( i % n ))
    for ((k = 0; k < n; k++)); do
      id=${ids[$(( (start + k) % n ))]}
      [ -z "${FAILED[$phase:$id]:-}" ] || continue
      if [ "$phase" = push ]; then
        timed push "$id" "$i" "$W/segs/$name" "$name"
      else
        dest=$W/get/$id/RECOVERYXLOG
        rm -f "$dest"
        timed get "$id" "$i" "$name" "$dest"
        [ -n "${FAILED[get:$id]:-}" ] && continue
        cmp -s "$dest" "$W/segs/$name" \
          || mark_failed get "$id" "restored $name differs from the original" /dev/null
      fi
    done
  done
}

# stats FILE -> "median mean min max total_us count"
stats() {
  sort -n "$1" | awk '{a[NR]=$1; s+=$1} END {
    if (NR == 0) { print "- - - - 0 0"; exit }
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
    printf "%.1f %.1f %.1f %.1f %d %d\n", m/1000, s/NR/1000, a[1]/1000, a[NR]/1000, s, NR }'
}

declare -A MED=()   # "phase:id" -> median ms

print_table() {  # phase ids...
  local phase=$1 id med mean min max total cnt cpu mbs size ratio
  shift
  if [ "$phase" = push ]; then
    printf '\n%-18s %8s %8s %8s %8s %8s %8s %9s %7s\n' "archive-push" "median" "mean" "min" "max" "cpu med" "MB/s" "repo MiB" "ratio"
  else
    printf '\n%-18s %8s %8s %8s %8s %8s %8s\n' "archive-get" "median" "mean" "min" "max" "cpu med" "MB/s"
  fi
  for id in "$@"; do
    if [ -n "${FAILED[$phase:$id]:-}" ]; then
      printf '%-18s %s\n' "${LABEL[$id]}" "FAILED (${FAILED[$phase:$id]})"
      continue
    fi
    read -r med mean min max total cnt < <(stats "$W/times/$phase.$id")
    read -r cpu _ < <(stats "$W/times/$phase.$id.cpu")
    MED[$phase:$id]=$med
    MED[$phase:$id:cpu]=$cpu
    mbs=$(awk -v c="$cnt" -v t="$total" -v s="$SEG" 'BEGIN { printf "%.0f", t ? c*s/t : 0 }')
    if [ "$phase" = push ]; then
      size=$(du -sb "$W/repo/$id" | cut -f1)
      ratio=$(awk -v z="$size" -v r="$(( ${#SEGS[@]} * SEG ))" 'BEGIN { printf "%.3f", z/r }')
      printf '%-18s %8s %8s %8s %8s %8s %8s %9s %7s\n' "${LABEL[$id]}" "$med" "$mean" "$min" "$max" "$cpu" "$mbs" \
        "$(awk -v z="$size" 'BEGIN { printf "%.1f", z/1048576 }')" "$ratio"
    else
      printf '%-18s %8s %8s %8s %8s %8s %8s\n' "${LABEL[$id]}" "$med" "$mean" "$min" "$max" "$cpu" "$mbs"
    fi
  done
}

print_ratio() {  # label num_key den_key target
  local a=${MED[$2]:-} b=${MED[$3]:-}
  if [ -z "$a" ] || [ -z "$b" ]; then
    printf '  %-48s %s\n' "$1" "n/a (a contestant failed)"; return 0
  fi
  awk -v a="$a" -v b="$b" -v l="$1" -v t="$4" 'BEGIN {
    r = a / b; split(t, tt, " "); ok = (tt[1] == "<=") ? (r <= tt[2]) : (r >= tt[2])
    printf "  %-48s %6.3f   (target %s: %s)\n", l, r, t, ok ? "met" : "NOT met" }'
}

inner() {
  inner_start log out times get
  PGBIN=$(pg_bindir "")   # the newest installed PostgreSQL

  local push_ids=() get_ids=() id pgpitr_ok=0 pgbr_ok=1 t0=$SECONDS
  if [ -x "$W/bin/pgpitr" ]; then
    PGPITR=$W/bin/pgpitr
    if "$PGPITR" --help >/dev/null 2>&1; then pgpitr_ok=1
    else log "pgpitr --help failed; pgpitr contestants will be skipped"; fi
  else
    log "no pgpitr binary (PGPITR_BIN unset or not executable); pgpitr contestants skipped"
  fi

  make_segments
  setup_pgbackrest || pgbr_ok=0
  # The timed phases do not need the server (pgbackrest reads pg_control from pg1-path);
  # stopping it keeps its background work out of the measurements.
  stop_postmaster "$W/pgdata"

  [ "$pgpitr_ok" = 1 ] && push_ids+=(pgpitr_zstd1 pgpitr_zstd3 pgpitr_lz4 pgpitr_none)
  push_ids+=(cp_fsync zstd1_fsync)
  [ "$pgbr_ok" = 1 ] && push_ids+=(pgbackrest)
  for id in "${push_ids[@]}"; do mkdir -p "$W/repo/$id"; done

  LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
  log "archive-push: ${#SEGS[@]} segments x ${#push_ids[@]} contestants, interleaved"
  run_phase push "${push_ids[@]}"

  [ "$pgpitr_ok" = 1 ] && get_ids+=(pgpitr_zstd1 pgpitr_lz4 pgpitr_none)
  get_ids+=(zstd_d_fsync cp_fsync)
  [ "$pgbr_ok" = 1 ] && get_ids+=(pgbackrest)
  for id in "${get_ids[@]}"; do
    mkdir -p "$W/get/$id"
    [ -z "${FAILED[push:${GET_FROM[$id]}]:-}" ] \
      || FAILED[get:$id]="its push contestant ${LABEL[${GET_FROM[$id]}]} failed"
  done
  log "archive-get: ${#SEGS[@]} segments x ${#get_ids[@]} contestants, interleaved"
  run_phase get "${get_ids[@]}"

  echo
  echo "pgpitr bench: ms per 16 MiB segment of real pgbench WAL (scale $SCALE), $N segments after 1 warm-up,"
  echo "each contestant once per segment, starting contestant rotated per segment"
  host_line
  echo "tools: $(zstd -V | sed 's/^\*\*\* //; s/, by.*//'); $(pgbackrest version); $([ "$pgpitr_ok" = 1 ] && "$PGPITR" --version 2>/dev/null | head -n 1 || echo 'pgpitr n/a')"
  echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the host skews all contestants)"
  echo "median/mean/min/max: wall-clock ms per call; cpu med: median user+sys ms of the call's processes"
  echo "MB/s = 10^6 bytes of WAL per second of summed call time; repo ratio = repo bytes / raw bytes (incl. warm-up)"
  print_table push "${push_ids[@]}"
  print_table get "${get_ids[@]}"
  echo
  echo "targets (median wall-clock ms per segment):"
  print_ratio "push: pgpitr zstd-1 / (zstd -1 + fsync)" push:pgpitr_zstd1 push:zstd1_fsync "<= 1.15"
  print_ratio "push: pgbackrest / pgpitr zstd-1" push:pgbackrest push:pgpitr_zstd1 ">= 1.5"
  print_ratio "get:  pgpitr zstd / (zstd -d + fsync)" get:pgpitr_zstd1 get:zstd_d_fsync "<= 1.10"
  echo "same ratios on median CPU ms (user+sys, all threads; less sensitive to a busy host):"
  print_ratio "push: pgpitr zstd-1 / (zstd -1 + fsync)" push:pgpitr_zstd1:cpu push:zstd1_fsync:cpu "<= 1.15"
  print_ratio "push: pgbackrest / pgpitr zstd-1" push:pgbackrest:cpu push:pgpitr_zstd1:cpu ">= 1.5"
  print_ratio "get:  pgpitr zstd / (zstd -d + fsync)" get:pgpitr_zstd1:cpu get:zstd_d_fsync:cpu "<= 1.10"
  echo
  log "done in $((SECONDS - t0)) s"
}

# `make bench` runs this archive-push/get benchmark, then tests/bench/backup.sh (base backups),
# tests/bench/restore.sh, tests/bench/s3.sh, tests/bench/chunk-size.sh, tests/bench/manifest.sh,
# tests/bench/drain.sh, tests/bench/sustained.sh, cryptobench and tests/bench/encryption.sh.
if [ "${BENCH_INNER:-0}" = 1 ]; then
  inner
else
  # BENCH_ONLY=archive|backup|restore|s3|chunk|manifest|drain|sustained|crypto|encryption runs
  # just that one;
  # unset, all.
  case "${BENCH_ONLY:-}" in ""|archive) outer ;; esac
  case "${BENCH_ONLY:-}" in ""|backup) bash "$(dirname "$SELF")/backup.sh" ;; esac
  case "${BENCH_ONLY:-}" in ""|restore) bash "$(dirname "$SELF")/restore.sh" ;; esac
  case "${BENCH_ONLY:-}" in ""|s3) bash "$(dirname "$SELF")/s3.sh" ;; esac
  case "${BENCH_ONLY:-}" in ""|chunk) bash "$(dirname "$SELF")/chunk-size.sh" ;; esac
  case "${BENCH_ONLY:-}" in ""|manifest) bash "$(dirname "$SELF")/manifest.sh" ;; esac
  case "${BENCH_ONLY:-}" in ""|drain) bash "$(dirname "$SELF")/drain.sh" ;; esac
  case "${BENCH_ONLY:-}" in ""|sustained) bash "$(dirname "$SELF")/sustained.sh" ;; esac
  # the encryption filters beside SHA-256 and zstd (tests/tools/cryptobench.c; ~2 s)
  case "${BENCH_ONLY:-}" in ""|crypto) "${CRYPTOBENCH_BIN:?CRYPTOBENCH_BIN is set by make bench}" ;; esac
  # plain vs encrypted repository: push, get, backup, restore (~2.5 min)
  case "${BENCH_ONLY:-}" in ""|encryption) bash "$(dirname "$SELF")/encryption.sh" ;; esac
fi
