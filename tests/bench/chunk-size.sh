#!/usr/bin/env bash
# tests/bench/chunk-size.sh -- part of `make bench`: which chunk size block-level incremental
# storage should use (docs/chunking.md, issue #14). Measures, on real PostgreSQL relation files,
# what a second backup would store after the issue's realistic change, for chunk sizes from one
# page (8 KiB) to 16 MiB and for whole files (what pgpitr stores today). Prints figures only.
#
# Design: a throwaway cluster loaded with pgbench -i (steps BENCH_CHUNK_INIT_STEPS, by default
# dtGvp like backup.sh: server-side generate, VACUUM, primary keys), autovacuum off. Snapshots of
# base/ and global/ are copies taken with the server stopped (a clean shutdown, so every page is
# on disk and nothing moves while copying):
#   S0  right after the load and a CHECKPOINT;
#   S1  after a plain SELECT count(*) of every pgbench table and a CHECKPOINT: what the first
#       read after a load changes (hint bits; none when the load ran VACUUM);
#   S2  after the realistic change: UPDATE a contiguous 1% of pgbench_accounts (from its middle),
#       INSERT 1% new rows, CHECKPOINT.
# build/chunkstat (tests/tools/chunkstat.c) then cuts S1 and S2 into chunks of every size,
# names them by SHA-256 (content addressing, so identical chunks are stored once) and reports
# what the second backup (S2 against a repository holding S1) would store, raw and compressed
# with zstd -1 per chunk; the same for S0 -> S1 and S0 -> S2 (first backup before the first read).
#
# Environment:
#   CHUNKSTAT_BIN            build/chunkstat (set by `make bench`); required
#   BENCH_CHUNK_SCALE        pgbench scale (default 8, ~130 MiB, quick; the bench database of
#                            issue #14 is scale 64, 979 MiB)
#   BENCH_CHUNK_INIT_STEPS   pgbench -i -I steps (default dtGvp; dtGp skips the VACUUM, to see
#                            what the first read does to unvacuumed pages)
#   BENCH_CHUNK_SIZES        chunk sizes in KiB (default "8 32 64 128 256 1024 4096 16384")
#   BENCH_KEEP=1             keep the work directory (path printed)
#   TMPDIR                   where the work directory is made (needs ~4x the database)
# When run as root, setup happens as root and everything else as the `postgres` OS user.
# Ports 45000-45999.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
SCALE=${BENCH_CHUNK_SCALE:-8}
STEPS=${BENCH_CHUNK_INIT_STEPS:-dtGvp}
SIZES=${BENCH_CHUNK_SIZES:-8 32 64 128 256 1024 4096 16384}

BENCH_LOG=bench-chunk
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$SELF")/lib.sh"

outer() {
  need_commands pgbench
  if [ -z "${CHUNKSTAT_BIN:-}" ] || [ ! -x "$CHUNKSTAT_BIN" ]; then
    die "CHUNKSTAT_BIN must name build/chunkstat (make build/chunkstat)"
  fi
  BENCH_EXTRA_BINS=$CHUNKSTAT_BIN outer_run pgpitr-bench-chunk "pgpitr is not used here" \
    BENCH_CHUNK_SCALE="$SCALE" BENCH_CHUNK_INIT_STEPS="$STEPS" BENCH_CHUNK_SIZES="$SIZES"
}

PGBIN=""; PORT=""
PSQL_USER=postgres

start_cluster() {
  local try p
  for try in 1 2 3 4 5; do
    p=""
    for _ in $(seq 1 100); do
      p=$((45000 + RANDOM % 1000))
      port_free "$p" && [ ! -e "$W/.s.PGSQL.$p" ] && break
      p=""
    done
    [ -n "$p" ] || die "no free port in 45000-45999"
    PORT=$p
    if "$PGBIN/pg_ctl" -D "$W/pgdata" -l "$W/log/postgres.log" -w -t 120 \
         -o "-p $PORT -k $W -c listen_addresses=127.0.0.1" start >/dev/null; then
      return 0
    fi
    log "postgres did not start on port $PORT (attempt $try), retrying"
  done
  tail -n 20 "$W/log/postgres.log" >&2 || true
  die "cannot start postgres"
}

# snapshot NAME: CHECKPOINT, clean stop, copy base/ and global/ to $W/NAME, start again.
snapshot() {
  psql_q "CHECKPOINT"
  stop_postmaster "$W/pgdata"
  mkdir -p "$W/$1"
  cp -a "$W/pgdata/base" "$W/pgdata/global" "$W/$1/"
  start_cluster
  log "snapshot $1: $(( $(du -sb "$W/$1" | cut -f1) / 1048576 )) MiB"
}

# report OLD NEW TITLE: the table for a second backup of NEW into a repository holding OLD.
report() {
  local args=() k
  for k in $SIZES; do args+=($((k * 1024))); done
  "$W/bin/chunkstat" "$W/$1" "$W/$2" 0 "${args[@]}" >"$W/out/$1-$2.tsv"
  echo
  echo "$3"
  awk -F'\t' '
    function human(b) { return b >= 1048576 ? sprintf("%g MiB", b / 1048576) : (b == 0 ? "whole file" : sprintf("%g KiB", b / 1024)) }
    NR == 1 { next }
    NR == 2 {
      gib = $3 / 1073741824
      printf "relation files: %d, %.1f MiB; first backup (whole files, zstd -1): %.1f MiB\n", $2, $3 / 1048576, $7 / 1048576
      printf "%-10s %9s %9s %9s %9s %9s %9s %7s %9s %9s %8s %8s\n", "chunk", "refs/GiB", "objs 1st", "1st MiB", "changed", "objs 2nd", "2nd MiB", "2nd", "2nd MiB", "2nd zst", "PUT 1st", "PUT 2nd"
      printf "%-10s %9s %9s %9s %9s %9s %9s %7s %9s %9s %8s %8s\n", "", "(manif.)", "", "zstd -1", "chunks", "(stored)", "raw", "raw %", "zstd -1", "% of 1st", "per GiB", "total"
    }
    {
      printf "%-10s %9.0f %9d %9.1f %9d %9d %9.1f %6.2f%% %9.2f %7.2f%% %8.0f %8d\n", human($1), $4 / gib, $5, $7 / 1048576, $11, $12, $13 / 1048576, 100 * $13 / $6, $14 / 1048576, 100 * $14 / $7, $8 / gib, $15
    }' "$W/out/$1-$2.tsv"
}

inner() {
  inner_start log out
  PGBIN=$(pg_bindir 15)
  local t0=$SECONDS rows n mid
  log "initdb + pgbench -i -I $STEPS -s $SCALE"
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
  "$PGBIN/pgbench" -h "$W" -p "$PORT" -U postgres -i -q -I "$STEPS" -s "$SCALE" postgres \
    >"$W/log/pgbench-init.log" 2>&1 || { tail -n 20 "$W/log/pgbench-init.log" >&2; die "pgbench -i failed"; }
  snapshot s0
  psql_q "SELECT count(*) FROM pgbench_accounts; SELECT count(*) FROM pgbench_branches;
          SELECT count(*) FROM pgbench_tellers; SELECT count(*) FROM pgbench_history" >/dev/null
  snapshot s1
  rows=$(psql_q "SELECT count(*) FROM pgbench_accounts")
  n=$((rows / 100)); mid=$((rows / 2))
  log "UPDATE aid $mid..$((mid + n - 1)) ($n rows) + INSERT $n rows"
  psql_q "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $mid AND $((mid + n - 1))"
  psql_q "INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
          SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series($((rows + 1)), $((rows + n))) g"
  snapshot s2
  stop_postmaster "$W/pgdata"

  echo
  echo "pgpitr bench: chunk size for block-level incremental storage, pgbench scale $SCALE (-I $STEPS),"
  echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'); relation files = base/ + global/"
  host_line
  echo "refs/GiB: chunk references per GiB of relation files (manifest entries: 32 bytes binary, ~67 in JSON);"
  echo "objs: distinct chunk objects stored; changed: chunks differing from the same offset before;"
  echo "2nd: what the second backup stores (chunks not in the repository yet), raw and zstd -1 per chunk,"
  echo "as % of the first backup at the same chunk size; PUT: S3 requests (16 MiB parts: multipart above)"
  report s1 s2 "second backup after UPDATE 1% + INSERT 1% + CHECKPOINT (first backup after a first read):"
  report s0 s1 "what a first SELECT count(*) + CHECKPOINT changed after the load:"
  report s0 s2 "second backup after the change, first backup taken right after the load (before any read):"
  echo
  log "done in $((SECONDS - t0)) s"
}

if [ "${BENCH_INNER:-0}" = 1 ]; then
  inner
else
  outer
fi
