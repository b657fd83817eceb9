#!/usr/bin/env bash
# tests/bench/backup.sh -- part of `make bench`: full base backup of a ~1 GB pgbench database,
# pgpitr side by side with pg_basebackup and pgBackRest on the same server in one run, then the
# second backup of the unchanged database (pgpitr's content-addressed dedup against pgBackRest
# incr), then one more after the realistic change of issue #14 (UPDATE a contiguous 1% of
# pgbench_accounts, INSERT 1% new rows, CHECKPOINT): what each stores, as a share of its full
# backup, and pgpitr's backup restored and compared (pgbench_accounts checksum, pg_amcheck).
# Prints figures only; it asserts nothing about time.
#
# Design: one throwaway cluster (pgbench -i, loaded with wal_level = minimal so the load is
# quick, then restarted with wal_level = replica and archive_command pushing every segment to
# both the pgpitr and the pgBackRest repository, so that both tools see a normally archived
# cluster and make complete, restorable backups). autovacuum is off: nothing changes the
# database between backups. Everything is in the page cache; the figures measure the backup
# path (server read + stream + compress + checksum + write), not the disk.
# Contestants run BENCH_BACKUP_ROUNDS times, in an order rotated per round; each is preceded by
# a CHECKPOINT (every contestant asks for a fast checkpoint, so that one costs little) and
# reported as the median (of 2 rounds: the mean) wall-clock seconds. A "first" pgpitr backup
# starts from an empty object store: the benchmark removes objects/ and backup/ of the pgpitr
# repository before it (its archived WAL stays). pg_basebackup runs with -X none, like the others
# it relies on the archive for WAL.
#
# Environment:
#   PGPITR_BIN            pgpitr binary (set by `make bench`); if unset, pgpitr is skipped
#   BENCH_PGPITR_BASELINE another pgpitr binary (e.g. main's) run as one more contestant, for
#                         a before/after comparison in the same run
#   BENCH_BACKUP_SCALE    pgbench scale (default 64, about 1 GB)
#   BENCH_BACKUP_ROUNDS   rounds per contestant (default 3)
#   BENCH_KEEP=1          keep the work directory (path printed)
#   TMPDIR                where the work directory is made
# When run as root, setup happens as root and everything else runs as the `postgres` OS user.
# Ports 47000-47999.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
SCALE=${BENCH_BACKUP_SCALE:-64}
ROUNDS=${BENCH_BACKUP_ROUNDS:-3}

BENCH_LOG=bench-backup
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"
stop_all() { stop_postmaster "$W/restored"; stop_postmaster "$W/pgdata"; }

# ---------------------------------------------------------------------------------------------
# Outer part: dependencies, work directory, privilege drop.
# ---------------------------------------------------------------------------------------------
outer() {
  need_commands pgbackrest jq pgbench
  command -v jq >/dev/null || die "jq is needed"
  outer_run pgpitr-bench-backup "pgpitr will be skipped" BENCH_BACKUP_SCALE="$SCALE" \
    BENCH_BACKUP_ROUNDS="$ROUNDS"
}

# ---------------------------------------------------------------------------------------------
# Inner part: runs as an unprivileged user inside $W.
# ---------------------------------------------------------------------------------------------
PGBIN=""; PORT=""; PGPITR=""; CONF=""; DATA_BYTES=0
PSQL_USER=postgres

conninfo() { printf 'host=%s port=%s user=postgres' "$W" "$PORT"; }
pgbr() { pgbackrest --config="$CONF" --config-include-path="$W/pgbr/conf.d" --stanza=bench "$@"; }

pick_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((47000 + RANDOM % 1000))
    if port_free "$p" && [ ! -e "$W/.s.PGSQL.$p" ] && [ ! -e "/tmp/.s.PGSQL.$p" ]; then
      PORT=$p; return 0
    fi
  done
  die "no free port in 47000-47999"
}

start_cluster() {
  local try
  for try in 1 2 3 4 5; do
    [ -n "$PORT" ] || pick_port
    if "$PGBIN/pg_ctl" -D "$W/pgdata" -l "$W/log/postgres.log" -w -t 120 \
         -o "-p $PORT -k $W -c listen_addresses=127.0.0.1" start >/dev/null; then
      return 0
    fi
    log "postgres did not start on port $PORT (attempt $try), retrying"
    PORT=""
  done
  tail -n 20 "$W/log/postgres.log" >&2 || true
  die "cannot start postgres"
}

make_cluster() {
  log "initdb + pgbench -i -s $SCALE (wal_level = minimal for the load)"
  "$PGBIN/initdb" -D "$W/pgdata" -U postgres -A trust --no-sync >"$W/log/initdb.log" 2>&1 \
    || { cat "$W/log/initdb.log" >&2; die "initdb failed"; }
  cat >>"$W/pgdata/postgresql.conf" <<EOF
shared_buffers = '256MB'
max_wal_size = '4GB'
checkpoint_timeout = '30min'
synchronous_commit = off
autovacuum = off
wal_level = minimal
max_wal_senders = 0
archive_mode = off
EOF
  start_cluster
  local t0=$SECONDS
  "$PGBIN/pgbench" -h "$W" -p "$PORT" -U postgres -i -q -I dtGvp -s "$SCALE" postgres \
    >"$W/log/pgbench-init.log" 2>&1 || { tail -n 20 "$W/log/pgbench-init.log" >&2; die "pgbench -i failed"; }
  psql_q "VACUUM (FREEZE, ANALYZE)"
  log "pgbench -i: $((SECONDS - t0)) s"
  stop_postmaster "$W/pgdata"

  # Archiving to both repositories; pgpitr first (its backup waits for its own archive).
  local pgpitr_push=""
  [ -n "$PGPITR" ] && pgpitr_push="$PGPITR --repo $W/repo/pgpitr archive-push %p && "
  cat >>"$W/pgdata/postgresql.conf" <<EOF
wal_level = replica
max_wal_senders = 10
archive_mode = on
archive_command = '${pgpitr_push}pgbackrest --config=$CONF --config-include-path=$W/pgbr/conf.d --stanza=bench archive-push %p'
EOF
  start_cluster
  DATA_BYTES=$(du -sb --exclude=pg_wal "$W/pgdata" | cut -f1)
  log "data directory (without pg_wal): $((DATA_BYTES / 1048576)) MiB"
}

setup_pgbackrest() {
  mkdir -p "$W/repo/pgbackrest" "$W/pgbr/lock" "$W/pgbr/log" "$W/pgbr/spool" "$W/pgbr/conf.d"
  CONF=$W/pgbr/pgbackrest.conf
  cat >"$CONF" <<EOF
[global]
repo1-path=$W/repo/pgbackrest
repo1-retention-full=99
$(pgbr_common_settings)
archive-async=n
start-fast=y

[bench]
pg1-path=$W/pgdata
pg1-port=PORT_PLACEHOLDER
pg1-socket-path=$W
pg1-user=postgres
EOF
}

stanza_create() {
  sed -i "s/^pg1-port=.*/pg1-port=$PORT/" "$CONF"
  pgbr stanza-create >"$W/log/pgbackrest-stanza.log" 2>&1 || {
    cat "$W/log/pgbackrest-stanza.log" >&2
    log "pgbackrest stanza-create failed; pgbackrest contestants will be skipped"
    return 1
  }
}

# --- contestants -----------------------------------------------------------------------------
# run_<id> OUTDIR: one backup; writes the stored bytes to OUTDIR/stored ("-" when nothing is
# stored). Only the backup command itself is inside the timed region (see timed).
pgpitr_repo_bytes() { du -sb "$W/repo/pgpitr/objects" "$W/repo/pgpitr/backup" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
pgbr_last_label() { pgbr info --output=json | jq -r '.[0].backup[-1].label'; }

prep_pgpitr_zstd1() { rm -rf "$W/repo/pgpitr/objects" "$W/repo/pgpitr/backup"; }
run_pgpitr_zstd1()  { "$PGPITR" --repo "$W/repo/pgpitr" backup --pg-conn "$(conninfo)" --compress zstd --compress-level 1 --jobs 2 --output json; }
size_pgpitr_zstd1() { pgpitr_repo_bytes; }
# The same with the server compressing the stream (zstd level 1, on the walsender's one core).
prep_pgpitr_szstd1() { prep_pgpitr_zstd1; }
run_pgpitr_szstd1()  { "$PGPITR" --repo "$W/repo/pgpitr" backup --pg-conn "$(conninfo)" --compress zstd --compress-level 1 --jobs 2 --server-compress zstd:1 --output json; }
size_pgpitr_szstd1() { pgpitr_repo_bytes; }
# BENCH_PGPITR_BASELINE: the same backup by another pgpitr binary.
prep_pgpitr_base()  { prep_pgpitr_zstd1; }
run_pgpitr_base()   { "$W/bin/pgpitr-baseline" --repo "$W/repo/pgpitr" backup --pg-conn "$(conninfo)" --compress zstd --compress-level 1 --jobs 2 --output json; }
size_pgpitr_base()  { pgpitr_repo_bytes; }

run_pgb_stdout()    { "$PGBIN/pg_basebackup" -h "$W" -p "$PORT" -U postgres -c fast -X none -Ft -D - >/dev/null; }
size_pgb_stdout()   { echo -; }
# The same with SHA-256 manifest checksums (what pgpitr asks the server for): the walsender
# hashes every file on its one thread, which bounds pgpitr's speed.
run_pgb_sha()       { "$PGBIN/pg_basebackup" -h "$W" -p "$PORT" -U postgres -c fast -X none -Ft -D - --manifest-checksums=SHA256 >/dev/null; }
size_pgb_sha()      { echo -; }
prep_pgb_tar()      { rm -rf "$W/out/pgb"; }
run_pgb_tar()       { "$PGBIN/pg_basebackup" -h "$W" -p "$PORT" -U postgres -c fast -X none -Ft -D "$W/out/pgb"; }
size_pgb_tar()      { du -sb "$W/out/pgb" | cut -f1; }
prep_pgb_czstd()    { rm -rf "$W/out/pgb"; }
run_pgb_czstd()     { "$PGBIN/pg_basebackup" -h "$W" -p "$PORT" -U postgres -c fast -X none -Ft --compress=client-zstd:1 -D "$W/out/pgb"; }
size_pgb_czstd()    { du -sb "$W/out/pgb" | cut -f1; }
prep_pgb_szstd()    { rm -rf "$W/out/pgb"; }
run_pgb_szstd()     { "$PGBIN/pg_basebackup" -h "$W" -p "$PORT" -U postgres -c fast -X none -Ft --compress=server-zstd:level=1,workers=2 -D "$W/out/pgb"; }
size_pgb_szstd()    { du -sb "$W/out/pgb" | cut -f1; }
run_pgbr_pm1()      { pgbr backup --type=full --process-max=1; }
size_pgbr_pm1()     { du -sb "$W/repo/pgbackrest/backup/bench/$(pgbr_last_label)" | cut -f1; }
run_pgbr_pm2()      { pgbr backup --type=full --process-max=2; }
size_pgbr_pm2()     { du -sb "$W/repo/pgbackrest/backup/bench/$(pgbr_last_label)" | cut -f1; }

# After the realistic change (change_database): one backup each, pgpitr against what its
# earlier backups stored (chunks: only the changed ones), pgBackRest incr against its newest.
prep_pgpitr_changed() { prep_pgpitr_second; }
run_pgpitr_changed()  { run_pgpitr_zstd1; }
size_pgpitr_changed() { size_pgpitr_second; }
run_pgbr_changed()    { run_pgbr_incr; }
size_pgbr_changed()   { size_pgbr_incr; }

# Second backups of the unchanged database: against what the first-backup rounds left.
prep_pgpitr_second() { PGPITR_BYTES0=$(pgpitr_repo_bytes); }
run_pgpitr_second()  { run_pgpitr_zstd1; }
size_pgpitr_second() { echo $(( $(pgpitr_repo_bytes) - PGPITR_BYTES0 )); }
run_pgbr_incr()      { pgbr backup --type=incr --process-max=2; }
size_pgbr_incr()     { du -sb "$W/repo/pgbackrest/backup/bench/$(pgbr_last_label)" | cut -f1; }

declare -A LABEL=(
  [pgpitr_zstd1]="pgpitr backup zstd-1 --jobs 2"
  [pgpitr_szstd1]="  same, --server-compress zstd:1"
  [pgpitr_base]="  same, BENCH_PGPITR_BASELINE binary"
  [pgb_stdout]="pg_basebackup -Ft -D - >/dev/null"
  [pgb_sha]="  same, --manifest-checksums=SHA256"
  [pgb_tar]="pg_basebackup -Ft (no compression)"
  [pgb_czstd]="pg_basebackup client-zstd:1"
  [pgb_szstd]="pg_basebackup server-zstd:1,workers=2"
  [pgbr_pm1]="pgbackrest full zst-1 process-max=1"
  [pgbr_pm2]="pgbackrest full zst-1 process-max=2"
  [pgpitr_second]="pgpitr backup (dedup), --jobs 2"
  [pgbr_incr]="pgbackrest incr zst-1 process-max=2"
  [pgpitr_changed]="pgpitr backup, --jobs 2"
  [pgbr_changed]="pgbackrest incr zst-1 process-max=2"
)
declare -A FAILED=() MED=() STORED=()

# timed ID ROUND: prep, CHECKPOINT, then the backup alone in the timed region.
timed() {
  local id=$1 round=$2 t0 t1 rc=0 out="$W/out/$1.$2"
  [ -z "${FAILED[$id]:-}" ] || return 0
  if declare -F "prep_$id" >/dev/null; then "prep_$id"; fi
  psql_q "CHECKPOINT"
  t0=$EPOCHREALTIME
  "run_$id" >"$out.stdout" 2>"$out.stderr" || rc=$?
  t1=$EPOCHREALTIME
  if [ "$rc" -ne 0 ]; then
    FAILED[$id]="exit status $rc in round $round"
    log "${LABEL[$id]} FAILED: exit status $rc"
    sed -n '1,5s/^/bench-backup:   | /p' "$out.stderr" >&2
    return 0
  fi
  echo $(( ${t1/./} - ${t0/./} )) >>"$W/times/$id"
  "size_$id" >>"$W/times/$id.stored"
  log "  ${LABEL[$id]}: $(awk -v us=$(( ${t1/./} - ${t0/./} )) 'BEGIN { printf "%.2f s", us / 1e6 }')"
}

median() {  # FILE -> median (of numbers, "-" if any is "-")
  grep -q -- '^-$' "$1" && { echo -; return 0; }
  sort -n "$1" | awk '{a[NR]=$1} END { if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.0f\n", m }'
}

run_rounds() {  # ids...
  local ids=("$@") n r k
  n=${#ids[@]}
  for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r of $ROUNDS"
    for ((k = 0; k < n; k++)); do
      timed "${ids[$(( (r - 1 + k) % n ))]}" "$r"
    done
  done
}

print_row() {  # id
  local id=$1 us st secs mbs stored ratio
  if [ -n "${FAILED[$id]:-}" ]; then
    printf '%-40s %s\n' "${LABEL[$id]}" "FAILED (${FAILED[$id]})"; return 0
  fi
  us=$(median "$W/times/$id")
  st=$(median "$W/times/$id.stored")
  MED[$id]=$us
  STORED[$id]=$st
  secs=$(awk -v us="$us" 'BEGIN { printf "%.2f", us / 1e6 }')
  mbs=$(awk -v us="$us" -v b="$DATA_BYTES" 'BEGIN { printf "%.0f", b / us }')
  if [ "$st" = - ]; then stored=-; ratio=-
  else
    stored=$(awk -v s="$st" 'BEGIN { printf "%.1f", s / 1048576 }')
    ratio=$(awk -v s="$st" -v b="$DATA_BYTES" 'BEGIN { printf "%.3f", s / b }')
  fi
  printf '%-40s %8s %8s %11s %7s\n' "${LABEL[$id]}" "$secs" "$mbs" "$stored" "$ratio"
}

print_ratio() {  # label slower_id faster_id target (ratio = slower time / faster time)
  local a=${MED[$2]:-} b=${MED[$3]:-}
  if [ -z "$a" ] || [ -z "$b" ]; then printf '  %-60s %s\n' "$1" "n/a"; return 0; fi
  awk -v a="$a" -v b="$b" -v l="$1" -v t="${4:-}" 'BEGIN {
    r = a / b
    if (t == "") { printf "  %-60s %6.2f\n", l, r; exit }
    split(t, tt, " "); ok = (tt[1] == "<=") ? (r <= tt[2]) : (r >= tt[2])
    printf "  %-60s %6.2f   (target %s: %s)\n", l, r, t, ok ? "met" : "NOT met" }'
}

print_stored_ratio() {  # label a_id b_id [target] (ratio = stored bytes a / stored bytes b)
  local a=${STORED[$2]:-} b=${STORED[$3]:-}
  if [ -z "$a" ] || [ -z "$b" ] || [ "$a" = - ] || [ "$b" = - ]; then
    printf '  %-60s %s\n' "$1" "n/a"; return 0
  fi
  awk -v a="$a" -v b="$b" -v l="$1" -v t="${4:-}" 'BEGIN {
    r = a / b
    if (t == "") { printf "  %-60s %6.3f\n", l, r; exit }
    split(t, tt, " "); ok = (r <= tt[2])
    printf "  %-60s %6.3f   (target %s: %s)\n", l, r, t, ok ? "met" : "NOT met" }'
}

# Bytes of the BASE_BACKUP stream pgpitr received (its JSON summary, last round), with and
# without --server-compress.
print_received() {
  local id f b
  echo
  echo "bytes received over the replication connection (pgpitr's received_bytes, last round):"
  for id in pgpitr_zstd1 pgpitr_szstd1; do
    f="$W/out/$id.$ROUNDS.stdout"
    [ -z "${FAILED[$id]:-}" ] && [ -s "$f" ] || { printf '  %-40s %s\n' "${LABEL[$id]# }" "n/a"; continue; }
    b=$(jq -r '.received_bytes // empty' "$f")
    [ -n "$b" ] || { printf '  %-40s %s\n' "${LABEL[$id]}" "n/a (no received_bytes)"; continue; }
    printf '  %-40s %12s bytes (%.1f MiB, %.3f of the data directory)\n' "${LABEL[$id]}" "$b" \
      "$(awk -v b="$b" 'BEGIN { print b / 1048576 }')" "$(awk -v b="$b" -v d="$DATA_BYTES" 'BEGIN { print b / d }')"
  done
}

# The change of issue #14: UPDATE a contiguous 1% of pgbench_accounts (from the middle),
# INSERT 1% new rows, CHECKPOINT.
change_database() {
  local n=$((SCALE * 100000)) one=$((SCALE * 1000))
  local from=$((n / 2))
  psql_q "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $((from + 1)) AND $((from + one))"
  psql_q "INSERT INTO pgbench_accounts (aid, bid, abalance, filler) SELECT $n + g, 1, 0, '' FROM generate_series(1, $one) g"
  psql_q "CHECKPOINT"
}

ACCOUNTS_SQL="SELECT count(*) || ':' || md5(string_agg(aid || ':' || bid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts"

# pgpitr's newest backup (the one after the change) restored into $W/restored, started on its
# own port without archiving, pgbench_accounts compared with the source and pg_amcheck run on
# every table and index. Prints one line.
restore_check() {
  local want got port=$PORT port2 amcheck=ok t0=$SECONDS
  want=$(psql_q "$ACCOUNTS_SQL")
  rm -rf "$W/restored"
  "$PGPITR" --repo "$W/repo/pgpitr" restore --pgdata "$W/restored" --target-immediate --jobs 2 \
    >"$W/log/restore-check.log" 2>&1 || { echo "  restore FAILED (see $W/log/restore-check.log)"; return 0; }
  PORT=""; pick_port; port2=$PORT
  if ! "$PGBIN/pg_ctl" -D "$W/restored" -l "$W/log/restored.log" -w -t 300 \
       -o "-p $port2 -k $W -c listen_addresses='' -c archive_mode=off" start >/dev/null; then
    PORT=$port; echo "  restored cluster did not start (see $W/log/restored.log)"; return 0
  fi
  for _ in $(seq 1 600); do
    [ "$(psql_q "SELECT pg_is_in_recovery()")" = f ] && break
    sleep 0.1
  done
  got=$(psql_q "$ACCOUNTS_SQL")
  "$PGBIN/pg_amcheck" -h "$W" -p "$port2" -U postgres --install-missing -d postgres \
    >"$W/log/amcheck.log" 2>&1 || amcheck="FAILED (see $W/log/amcheck.log)"
  stop_postmaster "$W/restored"
  PORT=$port
  if [ "$want" = "$got" ]; then
    echo "  restored in $((SECONDS - t0)) s: pgbench_accounts identical ($got); pg_amcheck: $amcheck"
  else
    echo "  restored in $((SECONDS - t0)) s: pgbench_accounts DIFFERS (source $want, restored $got); pg_amcheck: $amcheck"
  fi
}

inner() {
  inner_start log out times repo
  PGBIN=$(pg_bindir 15)
  local t0=$SECONDS pgbr_ok=1 first_ids=() second_ids=() id

  if [ -x "$W/bin/pgpitr" ] && "$W/bin/pgpitr" backup --help >/dev/null 2>&1; then
    PGPITR=$W/bin/pgpitr
  else
    log "no usable pgpitr binary (PGPITR_BIN); pgpitr contestants skipped"
  fi
  setup_pgbackrest
  make_cluster
  stanza_create || pgbr_ok=0
  # Everything archived so far, so no contestant waits for the load's backlog.
  local last
  last=$(psql_q "SELECT pg_walfile_name(pg_switch_wal())")
  for _ in $(seq 1 600); do
    [ -e "$W/pgdata/pg_wal/archive_status/$last.done" ] && break
    sleep 0.1
  done
  [ -e "$W/pgdata/pg_wal/archive_status/$last.done" ] || die "archiving does not work: $(tail -n 5 "$W/log/postgres.log")"

  [ -n "$PGPITR" ] && first_ids+=(pgpitr_zstd1 pgpitr_szstd1)
  [ -n "$PGPITR" ] && [ -x "$W/bin/pgpitr-baseline" ] && first_ids+=(pgpitr_base)
  first_ids+=(pgb_stdout pgb_sha pgb_tar pgb_czstd pgb_szstd)
  [ "$pgbr_ok" = 1 ] && first_ids+=(pgbr_pm1 pgbr_pm2)
  LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
  log "first (full) backups: ${#first_ids[@]} contestants x $ROUNDS rounds"
  run_rounds "${first_ids[@]}"
  rm -rf "$W/out/pgb"

  # The pgpitr repository holds the last round's first backup; pgBackRest's newest is a full.
  [ -n "$PGPITR" ] && [ -z "${FAILED[pgpitr_zstd1]:-}" ] && second_ids+=(pgpitr_second)
  [ "$pgbr_ok" = 1 ] && [ -z "${FAILED[pgbr_pm2]:-}" ] && second_ids+=(pgbr_incr)
  if [ "${#second_ids[@]}" -gt 0 ]; then
    log "second backups of the unchanged database: ${#second_ids[@]} contestants x $ROUNDS rounds"
    run_rounds "${second_ids[@]}"
  fi
  local changed_ids=() restored=""
  [ -n "$PGPITR" ] && [ -z "${FAILED[pgpitr_zstd1]:-}" ] && changed_ids+=(pgpitr_changed)
  [ "$pgbr_ok" = 1 ] && [ -z "${FAILED[pgbr_pm2]:-}" ] && changed_ids+=(pgbr_changed)
  if [ "${#changed_ids[@]}" -gt 0 ]; then
    log "the realistic change (UPDATE 1% contiguous, INSERT 1%, CHECKPOINT), then one backup each"
    change_database
    for id in "${changed_ids[@]}"; do timed "$id" 1; done
    if [ -n "$PGPITR" ] && [ -z "${FAILED[pgpitr_changed]:-}" ]; then
      log "restore of pgpitr's backup after the change, compared and amchecked"
      restored=$(restore_check)
    fi
  fi

  echo
  echo "pgpitr backup bench: base backup of a pgbench database, scale $SCALE, $((DATA_BYTES / 1048576)) MiB data directory (without pg_wal),"
  echo "in the page cache; median of $ROUNDS rounds (contestant order rotated per round), each after a CHECKPOINT"
  host_line
  echo "tools: $("$PGBIN/pg_basebackup" --version); $(pgbackrest version); $([ -n "$PGPITR" ] && "$PGPITR" --version 2>/dev/null | head -n 1 || echo 'pgpitr n/a')"
  echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "MB/s = 10^6 bytes of data directory per second; stored = bytes the backup added to its repository / directory"
  echo
  printf '%-40s %8s %8s %11s %7s\n' "full backup" "seconds" "MB/s" "stored MiB" "ratio"
  for id in "${first_ids[@]}"; do print_row "$id"; done
  if [ "${#second_ids[@]}" -gt 0 ]; then
    echo
    printf '%-40s %8s %8s %11s %7s\n' "second backup, unchanged database" "seconds" "MB/s" "stored MiB" "ratio"
    for id in "${second_ids[@]}"; do print_row "$id"; done
  fi
  if [ "${#changed_ids[@]}" -gt 0 ]; then
    echo
    printf '%-40s %8s %8s %11s %7s
' "after UPDATE 1% + INSERT 1% (one run)" "seconds" "MB/s" "stored MiB" "ratio"
    for id in "${changed_ids[@]}"; do print_row "$id"; done
    [ -n "$restored" ] && echo "$restored"
  fi
  if [ -n "$PGPITR" ] && [ -z "${FAILED[pgpitr_zstd1]:-}" ]; then
    local j="$W/out/pgpitr_zstd1.$ROUNDS.stdout"
    [ -s "$j" ] && echo && echo "pgpitr's own summary of its last full backup: $(jq -c '{files, reused_files, size, stored_size, new_stored_size, seconds, mib_per_second}' "$j")"
  fi
  print_received
  echo
  echo "targets (ratio of median seconds):"
  print_ratio "pgbackrest process-max=2 / pgpitr zstd-1 --jobs 2" pgbr_pm2 pgpitr_zstd1 ">= 1.3"
  print_ratio "pgpitr zstd-1 --jobs 2 / pg_basebackup server-zstd workers=2" pgpitr_zstd1 pgb_szstd "<= 1.1"
  print_stored_ratio "stored: pgpitr zstd-1 / pg_basebackup server-zstd workers=2" pgpitr_zstd1 pgb_szstd "<= 1.05"
  print_ratio "pgpitr --server-compress zstd:1 / pg_basebackup server-zstd workers=2" pgpitr_szstd1 pgb_szstd
  print_ratio "pgpitr --server-compress zstd:1 / pgpitr" pgpitr_szstd1 pgpitr_zstd1
  print_ratio "pgpitr / BENCH_PGPITR_BASELINE pgpitr" pgpitr_zstd1 pgpitr_base
  print_stored_ratio "stored after the change / pgpitr's full backup" pgpitr_changed pgpitr_zstd1 "<= 0.05"
  print_stored_ratio "  pgbackrest: incr after the change / its full (pm2)" pgbr_changed pgbr_pm2
  echo "for information:"
  print_ratio "pgpitr zstd-1 --jobs 2 / pg_basebackup -D - (read limit)" pgpitr_zstd1 pgb_stdout
  print_ratio "pgpitr zstd-1 --jobs 2 / pg_basebackup -D - SHA-256 manifest" pgpitr_zstd1 pgb_sha
  print_ratio "pgbackrest process-max=1 / pgpitr zstd-1 --jobs 2" pgbr_pm1 pgpitr_zstd1
  print_ratio "pgbackrest incr / pgpitr second backup (time)" pgbr_incr pgpitr_second
  if [ -n "${STORED[pgbr_incr]:-}" ] && [ -n "${STORED[pgpitr_second]:-}" ]; then
    printf '  %-60s %s / %s bytes\n' "stored by the second backup: pgbackrest incr / pgpitr" "${STORED[pgbr_incr]}" "${STORED[pgpitr_second]}"
  fi
  [ -n "$PGPITR" ] && print_verify
  echo
  log "done in $((SECONDS - t0)) s"
}

# pgpitr verify of the repository the backups left (every distinct object once plus every
# archived WAL file), with 1 and 2 reader threads; figures from its JSON report.
print_verify() {
  local jobs out
  echo
  echo "pgpitr verify of that repository (each distinct object once + archived WAL; median of $ROUNDS):"
  printf '  %-10s %8s %12s %14s %9s\n' "jobs" "seconds" "stored MiB" "decoded MiB" "MB/s"
  for jobs in 1 2; do
    : >"$W/times/verify.$jobs"
    for ((r = 1; r <= ROUNDS; r++)); do
      out=$("$PGPITR" --repo "$W/repo/pgpitr" verify --jobs "$jobs" --output json 2>>"$W/log/verify.log") ||
        { printf '  %-10s FAILED (see %s)\n' "$jobs" "$W/log/verify.log"; continue 2; }
      jq -r '.checked | "\(.seconds) \(.bytes_read) \(.bytes_original)"' <<<"$out" >>"$W/times/verify.$jobs"
    done
    sort -n "$W/times/verify.$jobs" | awk -v j="$jobs" '{ s[NR] = $1; r[NR] = $2; o[NR] = $3 }
      END { m = int((NR + 1) / 2); printf "  %-10s %8.2f %12.1f %14.1f %9.0f\n", j, s[m], r[m] / 1048576,
            o[m] / 1048576, o[m] / s[m] / 1e6 }'
  done
}

if [ "${BENCH_INNER:-0}" = 1 ]; then inner; else outer; fi
