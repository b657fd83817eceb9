#!/usr/bin/env bash
# A backup taken on a streaming standby while pgbench writes on the primary (from before the
# backup starts until after it ends), with --primary-conn: it completes, and restores to a
# consistent server: replay to the backup's end from the WAL the primary archived, promotion,
# pg_amcheck clean (heap + btree, heapallindexed), pgbench's invariants hold (sum of account,
# teller and branch balances = sum of history deltas), and it holds at least every
# transaction the standby had replayed when the backup started.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"


pg_init prim
pg_enable_archiving prim "$REPO"
pg_conf prim "max_wal_size = 64MB"   # checkpoints (and standby restartpoints) during the run
pg_start prim
pgbench_c prim -i -q -s 2
psql_c prim "CREATE EXTENSION amcheck"
wait_archived prim "$(switch_wal prim)"
pg_standby sb prim

log "pgbench on the primary, in the background"
pgbench_bg prim 90
hist_before=$(pgbench_history_above sb 100)
x0=$(xact_commits prim)

log "backup of the standby under load"
# A read limit makes the backup last a few seconds, so that pgbench writes all along.
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo sb)" \
    --primary-conn "$(conninfo prim) dbname=postgres" --label sbload --jobs 2 \
    --max-rate 10M --output json
assert_rc 0 "backup of the standby under load"
printf '%s\n' "$OUT"
pid_alive "$BENCH_PID" || fail "pgbench ended before the backup did: $(tail -n 5 "$WORK/pgbench.log")"
x1=$(xact_commits prim)
assert_gt $((x1 - x0)) 200 "transactions committed on the primary during the backup"
assert_gt "$(jq -r '.seconds | floor' <<<"$OUT")" 0 "backup duration in whole seconds (the load must overlap it)"
assert_eq standby "$(jq -r .source.role <<<"$OUT")" "the backup says it came from the standby"

pgbench_stop
hist_after=$(psql_c prim "SELECT count(*) FROM pgbench_history")
pg_stop sb
pg_stop prim

log "restore to the backup's end"
restore_to dst --backup sbload --target-immediate
as_pg_capture "$PG_BIN/pg_verifybackup" -n -m "$(cluster_data dst)/backup_manifest" "$(cluster_data dst)"
[ "$RC" -eq 0 ] || fail "pg_verifybackup failed (exit $RC): $OUT $ERR"
# Making restore drop the standby's settings is issue 10's item 2, not this test's subject.
not_a_standby dst
start_restored dst

hist=$(psql_c dst "SELECT count(*) FROM pgbench_history")
log "pgbench_history rows: on the standby before the backup $hist_before, restored $hist, at the end $hist_after"
[ "$hist" -ge "$hist_before" ] || fail "restored server lacks transactions the standby had before the backup ($hist < $hist_before)"
[ "$hist" -lt "$hist_after" ] || fail "restored server has every transaction up to the end of the load ($hist), expected the backup's point"
assert_pgbench_consistent dst 200000
pg_stop dst
log "ok"
