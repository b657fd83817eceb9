#!/usr/bin/env bash
# tests/bench/manifest.sh -- part of `make bench` (BENCH_ONLY=manifest): wall time and peak RSS
# (/usr/bin/time -v) of info, verify --backup, expire --dry-run and restore on a backup whose
# manifest lists a million files, with the bytes of peak RSS per file listed. Prints figures
# only; it asserts nothing about time or memory.
#
# Design: a tiny cluster (initdb) archives into a pgpitr repository and is backed up once
# (label "base"). tests/tools/gen-manifest.c then fabricates, for each size of
# BENCH_MANIFEST_FILES, a backup "fabN" = base plus N files under pgpitr_fab/ that all share
# the content of base's smallest file (one deduplicated object): verify reads every object and
# the WAL, restore writes every file, as on a real cluster of N files. Each size is measured
# alone (the previous fabricated backup is removed). Then BENCH_MANIFEST_COPIES backups of the
# first size (labels copyK) show that info's memory does not grow with the number of big
# backups. With BENCH_MANIFEST_BEFORE=/path/to/an/older/pgpitr the same commands run with
# that binary too, side by side. Last, a real cluster (BENCH_MANIFEST_TABLES > 0): the tiny
# cluster is backed up without tables, with half that many one-row tables (a file each) and
# with all of them, and backup's peak RSS is printed with the bytes a file between the last
# two (the first thousands of small files fill the worker pool's fixed budget).
#
# Environment:
#   PGPITR_BIN              pgpitr binary (set by `make bench`; required here)
#   GEN_MANIFEST_BIN        the generator (set by `make bench`; required here)
#   BENCH_MANIFEST_FILES    sizes, files listed (default "100000 300000 1000000")
#   BENCH_MANIFEST_RESTORE_MAX  restore only sizes up to this many files (default 100000:
#                           restore writes and syncs every file, ~1.5 ms each here; 0: never)
#   BENCH_MANIFEST_COPIES   big backups for the info-on-many-backups line (default 10)
#   BENCH_MANIFEST_BEFORE   an older pgpitr to compare with (optional)
#   BENCH_MANIFEST_TABLES   tables of the real-cluster backup (default 50000; 0: skip it)
#   BENCH_KEEP=1            keep the work directory (path printed)
#   TMPDIR                  where the work directory is made (needs ~ 1 GB per million files)
# When run as root, setup happens as root and everything else runs as the `postgres` OS user.
# Ports 49000-49999. Every process started is stopped by pid at exit.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
FILES=${BENCH_MANIFEST_FILES:-100000 300000 1000000}
RESTORE_MAX=${BENCH_MANIFEST_RESTORE_MAX:-100000}
COPIES=${BENCH_MANIFEST_COPIES:-10}
TABLES=${BENCH_MANIFEST_TABLES:-50000}

BENCH_LOG=bench-manifest
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"

outer() {
  [ -x /usr/bin/time ] || PGPITR_WITH_BENCH=1 "$(dirname "$SELF")/../../contrib/install-deps.sh"
  [ -x "${GEN_MANIFEST_BIN:-}" ] || die "GEN_MANIFEST_BIN must name the built gen-manifest (make bench)"
  BENCH_EXTRA_BINS="gen-manifest=$GEN_MANIFEST_BIN${BENCH_MANIFEST_BEFORE:+ pgpitr-before=$BENCH_MANIFEST_BEFORE}" \
    outer_run pgpitr-bench-manifest "the benchmark cannot run" BENCH_MANIFEST_FILES="$FILES" \
    BENCH_MANIFEST_RESTORE_MAX="$RESTORE_MAX" BENCH_MANIFEST_COPIES="$COPIES" \
    BENCH_MANIFEST_TABLES="$TABLES"
}

PGBIN=""; PORT=""; PGPITR=""; REPO=""

make_base() {
  "$PGBIN/initdb" -D "$W/pgdata" -U postgres -A trust --no-sync >"$W/log/initdb.log" 2>&1 \
    || { cat "$W/log/initdb.log" >&2; die "initdb failed"; }
  cat >>"$W/pgdata/postgresql.conf" <<EOF
log_line_prefix = '%m [%p] '
wal_level = replica
max_wal_senders = 4
archive_mode = on
archive_command = '$PGPITR --repo $REPO archive-push %p'
EOF
  start_base
  "$PGPITR" --repo "$REPO" backup --pg-conn "host=$W port=$PORT user=postgres" --label base \
    >"$W/log/backup.log" 2>&1 || { tail -n 5 "$W/log/backup.log" >&2; die "backup failed"; }
  local last
  last=$(psql_q "SELECT pg_walfile_name(pg_switch_wal())")
  for _ in $(seq 1 600); do [ -e "$W/pgdata/pg_wal/archive_status/$last.done" ] && break; sleep 0.1; done
  stop_postmaster "$W/pgdata"
}

start_base() {
  local try
  for try in 1 2 3 4 5; do
    PORT=$((49000 + RANDOM % 1000))
    port_free "$PORT" && "$PGBIN/pg_ctl" -D "$W/pgdata" -l "$W/log/source.log" -w -t 120 \
      -o "-p $PORT -k $W -c listen_addresses=''" start >/dev/null && break
    log "postgres did not start on port $PORT (attempt $try)"
    PORT=""
  done
  [ -n "$PORT" ] || die "cannot start postgres"
}

# The real cluster: backup's peak RSS without tables, with TABLES / 2 and with TABLES one-row
# tables (a file each). Small files wait in the worker pool's budget (POOL_BUDGET, 32 MiB,
# src/backup/backup_run.c) which a few thousand new files fill: the bytes a file are the
# slope between the two sizes, both past that.
real_cluster() {
  local conn f0 f1 f2 k0 k1 k2
  start_base
  conn="host=$W port=$PORT user=postgres"
  f0=$(find "$W/pgdata" -type f | wc -l)
  measure pgpitr "$f0" "backup (real cluster)" backup --pg-conn "$conn" --label real0
  k0=$LAST_KIB
  make_tables 0 $((TABLES / 2))
  f1=$(find "$W/pgdata" -type f | wc -l)
  measure pgpitr "$f1" "backup (real cluster)" backup --pg-conn "$conn" --label "real$((TABLES / 2))"
  k1=$LAST_KIB
  make_tables $((TABLES / 2)) "$TABLES"
  f2=$(find "$W/pgdata" -type f | wc -l)
  measure pgpitr "$f2" "backup (real cluster)" backup --pg-conn "$conn" --label "real$TABLES"
  k2=$LAST_KIB
  log "backup of a real cluster: $f0 files $((k0 / 1024)) MiB, $f1 files $((k1 / 1024)) MiB," \
    "$f2 files $((k2 / 1024)) MiB: $(( (k2 - k1) * 1024 / (f2 - f1) )) B a file between the last two"
  stop_postmaster "$W/pgdata"
}

make_tables() {  # FROM TO: one-row tables fab_FROM .. fab_(TO-1), a thousand a transaction
  local b
  for ((b = $1; b < $2; b += 1000)); do
    psql_q "DO \$\$ BEGIN FOR i IN $b..$((b + 999 < $2 - 1 ? b + 999 : $2 - 1)) LOOP
              EXECUTE format('CREATE TABLE fab_%s AS SELECT 1 AS i', i); END LOOP; END \$\$" >/dev/null
  done
  psql_q "CHECKPOINT" >/dev/null
}

# measure BIN FILES WHAT ARGS...: one run under /usr/bin/time -v, one line of the table.
measure() {
  local bin=$1 files=$2 what=$3 rc=0 secs kib
  shift 3
  /usr/bin/time -v -o "$W/tmp/time" "$W/bin/$bin" --repo "$REPO" "$@" >"$W/out/last.out" 2>"$W/out/last.err" || rc=$?
  secs=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$W/tmp/time" |
         awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
  kib=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$W/tmp/time")
  LAST_KIB=$kib
  printf '%-14s %9s  %-26s %8s s %9s MiB %7d B/file  exit %d\n' "$bin" "$files" "$what" "$secs" \
    "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')" $(( kib * 1024 / files )) "$rc"
  [ "$rc" -eq 0 ] || [ "$what" = "verify --backup" ] || tail -n 3 "$W/out/last.err" >&2
}

measure_all() {  # FILES LABEL
  local bin
  for bin in pgpitr pgpitr-before; do
    [ -x "$W/bin/$bin" ] || continue
    measure "$bin" "$1" "info" info
    measure "$bin" "$1" "verify --backup" verify --backup "$2"
    measure "$bin" "$1" "expire --dry-run" expire --dry-run --retain-full 99
    if [ "$1" -le "$RESTORE_MAX" ]; then
      rm -rf "$W/restore"
      measure "$bin" "$1" "restore --backup" restore --backup "$2" --pgdata "$W/restore"
      rm -rf "$W/restore"
    fi
  done
}

inner() {
  inner_start log out tmp
  PGBIN=$(pg_bindir)
  PGPITR=$W/bin/pgpitr
  REPO=$W/repo
  [ -x "$PGPITR" ] || die "PGPITR_BIN is needed"
  make_base
  log "$(host_line)"
  printf '%-14s %9s  %-26s %10s %13s %14s\n' binary files command wall "peak RSS" "RSS/files"
  local n bin prev=""
  for n in $FILES; do
    [ -n "$prev" ] && rm -rf "$REPO/backup/fab$prev"
    "$W/bin/gen-manifest" "$REPO" base "fab$n" "$n" || die "gen-manifest $n failed"
    log "fab$n: manifest of $((n + $(grep -c '"path' "$REPO/backup/base/manifest.json"))) entries, $(( $(stat -c %s "$REPO/backup/fab$n/manifest.json") / 1048576 )) MiB"
    measure_all "$n" "fab$n"
    prev=$n
  done
  rm -rf "$REPO/backup/fab$prev"
  [ "$COPIES" -le 0 ] || many_copies
  # last: the backups it adds would be in every listing above
  [ "$TABLES" -le 0 ] || real_cluster
  return 0
}

many_copies() {   # info on COPIES backups of the first size
  local k small total bin
  small=$(echo "$FILES" | awk '{ print $1 }')
  total=0
  for k in $(seq 1 "$COPIES"); do
    "$W/bin/gen-manifest" "$REPO" base "copy$k" "$small" || die "gen-manifest copy$k failed"
    total=$((total + small))
  done
  for bin in pgpitr pgpitr-before; do
    [ -x "$W/bin/$bin" ] && measure "$bin" "$total" "info ($COPIES x $small files)" info
  done
  return 0
}

if [ "${BENCH_INNER:-0}" = 1 ]; then inner; else outer; fi
