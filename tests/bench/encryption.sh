#!/usr/bin/env bash
# tests/bench/encryption.sh -- part of `make bench` (BENCH_ONLY=encryption): what encryption at
# rest costs (issue #16's target: at most 10% on each of archive-push, archive-get, backup and
# restore). Two pgpitr repositories on the same disk, one plain and one encrypted
# (encryption = aes-256-gcm with a key file), everything else equal (zstd level 1, --jobs 2),
# fed the same data in one run. Prints figures only; it asserts nothing about time.
#
# Design: one throwaway pgbench cluster (lib.sh's make_source) archiving into both
# repositories. Backups: BENCH_ENC_ROUNDS rounds, the order of the two contestants rotated per
# round, each a first backup (objects/ and backup/ emptied before it, so that dedup against an
# earlier round does not flatter anyone) after a CHECKPOINT. Then pgbench makes WAL; restores
# of each repository's backup (the data files, every file's SHA-256 checked by pgpitr; no
# recovery, which is PostgreSQL's replay and the same for both), rotated per round. Then, like
# run.sh, BENCH_ENC_SEGMENTS completed segments plus one warm-up (which also makes the
# encrypted repository's key) are pushed into two fresh repositories and fetched back, segment
# by segment, the starting contestant rotated, every fetched segment compared with the original.
# Each call is timed alone ($EPOCHREALTIME) and its CPU (user + sys of the call's processes,
# from `times`) recorded: wall clock moves with other load on the host, CPU much less.
#
# Environment:
#   PGPITR_BIN              pgpitr binary (set by `make bench`); required
#   BENCH_ENC_SCALE         pgbench scale (default 32, about 500 MB)
#   BENCH_ENC_ROUNDS        backup and restore rounds per contestant (default 5)
#   BENCH_ENC_SEGMENTS      counted WAL segments for push/get (default 12)
#   BENCH_ENC_MAX_SECONDS   upper bound on the pgbench run that makes the WAL (default 90)
#   BENCH_KEEP=1            keep the work directory (path printed)
#   TMPDIR                  where the work directory is made
# When run as root, setup happens as root and everything else runs as the `postgres` OS user.
# Ports 48000-48999.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
SCALE=${BENCH_ENC_SCALE:-32}
ROUNDS=${BENCH_ENC_ROUNDS:-5}
NSEG=${BENCH_ENC_SEGMENTS:-12}
MAXSEC=${BENCH_ENC_MAX_SECONDS:-90}
SEG=16777216
SOURCE_PORT_LOW=48000
SOURCE_PORT_HIGH=48999

BENCH_LOG=bench-encryption
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"

outer() {
  need_commands pgbench
  outer_run pgpitr-bench-enc "nothing to measure" BENCH_ENC_SCALE="$SCALE" \
    BENCH_ENC_ROUNDS="$ROUNDS" BENCH_ENC_SEGMENTS="$NSEG" BENCH_ENC_MAX_SECONDS="$MAXSEC"
}

# ---------------------------------------------------------------------------------------------
# Inner part: runs as an unprivileged user inside $W.
# ---------------------------------------------------------------------------------------------
PGBIN=""; PORT=""; PGPITR=""; CONF=""; CPU_MS=0; DATA_BYTES=0
PSQL_USER=postgres
IDS=(plain enc)
declare -A LABEL=([plain]="plain" [enc]="encrypted")

# The two configurations: identical but for the encryption lines. The key is 32 random bytes
# (the key file's raw form), mode 0600 as pgpitr requires.
write_configs() {
  ( umask 077; head -c 32 /dev/urandom >"$W/master.key" )
  printf '[global]\ncompress = zstd\ncompress-level = 1\n' >"$W/plain.conf"
  { cat "$W/plain.conf"
    printf 'encryption = aes-256-gcm\nencryption-key-file = %s\n' "$W/master.key"; } >"$W/enc.conf"
}
# pp ID REPO ARGS...: pgpitr with contestant ID's configuration on repository $W/repo/REPO.
pp() { local id=$1 repo=$2; shift 2; "$PGPITR" --config "$W/$id.conf" --repo "$W/repo/$repo" "$@"; }

# --- the operations; each OP_ID function is one timed call ------------------------------------
backup_plain()  { pp plain plain backup --pg-conn "host=$W/sock port=$PORT user=postgres" --jobs 2; }
backup_enc()    { pp enc enc backup --pg-conn "host=$W/sock port=$PORT user=postgres" --jobs 2; }
restore_plain() { pp plain plain restore --pgdata "$W/restore/plain" --jobs 2; }
restore_enc()   { pp enc enc restore --pgdata "$W/restore/enc" --jobs 2; }
push_plain()    { pp plain push_plain archive-push "$1"; }
push_enc()      { pp enc push_enc archive-push "$1"; }
get_plain()     { pp plain push_plain archive-get "$1" "$2"; }
get_enc()       { pp enc push_enc archive-get "$1" "$2"; }

# timed OP ID COUNT ARGS...: run OP_ID ARGS; when COUNT is 1 record its wall-clock and CPU
# microseconds under $W/times/OP.ID. A failure ends the benchmark: both contestants must do
# the same work for the comparison to mean anything.
timed() {
  local op=$1 id=$2 count=$3 t0 t1 c0 rc=0
  shift 3
  children_cpu_ms; c0=$CPU_MS
  t0=$EPOCHREALTIME
  "${op}_$id" "$@" >"$W/out/$op.$id" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  children_cpu_ms
  if [ "$rc" -ne 0 ]; then
    sed -n '1,5s/^/  | /p' "$W/out/$op.$id" >&2
    die "$op (${LABEL[$id]}) failed with exit status $rc"
  fi
  [ "$count" = 1 ] || return 0
  echo $(( ${t1/./} - ${t0/./} )) >>"$W/times/$op.$id"
  echo $(( (CPU_MS - c0) * 1000 )) >>"$W/times/$op.$id.cpu"
}

# rounds OP: BENCH_ENC_ROUNDS rounds of OP for both contestants, the first rotated per round.
rounds() {
  local op=$1 r k id
  for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < ${#IDS[@]}; k++)); do
      id=${IDS[$(( (r + k) % ${#IDS[@]} ))]}
      if [ "$op" = backup ]; then
        rm -rf "$W/repo/$id/objects" "$W/repo/$id/backup"
        psql_q "CHECKPOINT"
      else
        rm -rf "$W/restore/$id"
      fi
      timed "$op" "$id" 1
    done
    log "  $op round $((r + 1)) of $ROUNDS done"
  done
}

make_wal() {
  local t0=$SECONDS last
  log "pgbench until $((NSEG + 2)) segments of WAL (at most $MAXSEC s)"
  pgbench_until_wal $(( (NSEG + 2) * SEG )) "$MAXSEC"
  last=$WAL_LAST
  # completed segments before the one pg_switch_wal() closed (its zero tail flatters zstd)
  mapfile -t SEGS < <(cd "$W/pgdata/pg_wal/archive_status" && ls -1 \
    | sed -n 's/^\([0-9A-F]\{24\}\)\.done$/\1/p' | sort | awk -v last="$last" '$1 < last' \
    | tail -n $((NSEG + 1)))
  [ "${#SEGS[@]}" -ge 3 ] || die "only ${#SEGS[@]} completed segments"
  [ "${#SEGS[@]}" -eq $((NSEG + 1)) ] || log "only ${#SEGS[@]} segments within $MAXSEC s; measuring those"
  local name
  for name in "${SEGS[@]}"; do cp "$W/pgdata/pg_wal/$name" "$W/segs/$name"; done
  log "pgbench: $((SECONDS - t0)) s, $((WAL_MADE / 1048576)) MiB of WAL"
}

# push_get: every segment pushed by both contestants, then fetched back by both; the first
# segment is the warm-up (not counted; it also makes the encrypted repository's key).
push_get() {
  local op i k id name dest
  for op in push get; do
    for i in "${!SEGS[@]}"; do
      name=${SEGS[$i]}
      for ((k = 0; k < ${#IDS[@]}; k++)); do
        id=${IDS[$(( (i + k) % ${#IDS[@]} ))]}
        if [ "$op" = push ]; then
          timed push "$id" $(( i > 0 )) "$W/segs/$name"
        else
          dest=$W/get/$id/RECOVERYXLOG
          rm -f "$dest"
          timed get "$id" $(( i > 0 )) "$name" "$dest"
          cmp -s "$dest" "$W/segs/$name" || die "archive-get (${LABEL[$id]}) of $name differs from the original"
        fi
      done
    done
    log "  archive-$op: ${#SEGS[@]} segments done"
  done
}

median() {  # FILE -> median
  sort -n "$1" | awk '{a[NR]=$1} END { if (NR == 0) { print 0; exit }
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.0f\n", m }'
}

# row LABEL OP DIVISOR UNIT: medians of both contestants (wall, CPU) in microseconds / DIVISOR,
# and the overhead of the encrypted one.
row() {
  local label=$1 op=$2 div=$3 p e pc ec
  p=$(median "$W/times/$op.plain"); e=$(median "$W/times/$op.enc")
  pc=$(median "$W/times/$op.plain.cpu"); ec=$(median "$W/times/$op.enc.cpu")
  awk -v l="$label" -v p="$p" -v e="$e" -v pc="$pc" -v ec="$ec" -v d="$div" 'BEGIN {
    ow = p ? 100 * (e - p) / p : 0; oc = pc ? 100 * (ec - pc) / pc : 0
    printf "%-24s %9.2f %9.2f %+8.1f%% %9.2f %9.2f %+8.1f%%   %s\n", l, p / d, e / d, ow, pc / d, ec / d, oc,
      (ow <= 10 || oc <= 10) ? "met" : "NOT met" }'
}

inner() {
  inner_start log out times repo sock restore segs get/plain get/enc
  SOCK=$W/sock
  PGBIN=$(pg_bindir 15)
  local t0=$SECONDS
  if ! [ -x "$W/bin/pgpitr" ] || ! "$W/bin/pgpitr" --help >/dev/null 2>&1; then
    die "no usable pgpitr binary (PGPITR_BIN)"
  fi
  PGPITR=$W/bin/pgpitr
  write_configs
  ARCHIVE_EXTRA="$PGPITR --config $W/enc.conf --repo $W/repo/enc archive-push %p"
  make_source "--config $W/plain.conf --repo $W/repo/plain" vacuum
  LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
  log "backup: $ROUNDS rounds x 2 contestants"
  rounds backup
  make_wal
  stop_postmaster "$W/pgdata"
  log "restore: $ROUNDS rounds x 2 contestants"
  rounds restore
  push_get
  grep -q '"encryption": "aes-256-gcm"' "$W/repo/enc/repo.json" "$W/repo/push_enc/repo.json" 2>/dev/null \
    || die "the encrypted repositories do not record their encryption"
  ! grep -q 'aes-256-gcm' "$W/repo/plain/repo.json" "$W/repo/push_plain/repo.json" \
    || die "a plain repository records encryption"

  echo
  echo "pgpitr encryption bench: plain vs encrypted (aes-256-gcm, key file) repository, zstd-1, --jobs 2,"
  echo "pgbench scale $SCALE ($((DATA_BYTES / 1048576)) MiB data directory), ${#SEGS[@]} WAL segments (first one warm-up)"
  host_line
  echo "tools: $("$PGBIN/postgres" --version); $("$PGPITR" --version 2>/dev/null | head -n 1)"
  echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "medians: wall clock and CPU (user + sys of the call's processes; the server's share of a"
  echo "backup is not in it); backup/restore: $ROUNDS rounds each; push/get: per 16 MiB segment."
  echo "target: encryption adds at most 10% (met when wall clock or CPU is within it: wall clock"
  echo "moves with other load on the host)"
  echo
  printf '%-24s %9s %9s %9s %9s %9s %9s\n' "operation" "plain" "encrypted" "overhead" "cpu plain" "cpu enc" "overhead"
  row "archive-push (ms/seg)" push 1000
  row "archive-get (ms/seg)" get 1000
  row "backup (s)" backup 1000000
  row "restore files (s)" restore 1000000
  echo
  log "done in $((SECONDS - t0)) s"
}

if [ "${BENCH_INNER:-0}" = 1 ]; then inner; else outer; fi
