#!/usr/bin/env bash
# A backup taken while pgbench writes (from before the backup starts until after it ends)
# restores to a consistent server: it replays the archive to the backup's end, promotes,
# pg_amcheck (heap + btree, with heapallindexed) is clean, and pgbench's invariants hold
# (sum of account, teller and branch balances = sum of history deltas).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"


pg_init src
pg_enable_archiving src "$REPO"
pg_conf src "max_wal_size = 64MB"   # checkpoints during the run, as in production
pg_start src
pgbench_c src -i -q -s 4
psql_c src "CREATE EXTENSION amcheck"
wait_archived src "$(switch_wal src)"

log "pgbench in the background"
pgbench_bg src 90
hist_before=$(pgbench_history_above src 100)
x0=$(xact_commits src)

log "backup under load"
# A read limit makes the backup last a few seconds, so that pgbench writes all along.
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label load1 --jobs 2 \
    --max-rate 20M --output json
assert_rc 0 "pgpitr backup under load"
printf '%s\n' "$OUT"
pid_alive "$BENCH_PID" || fail "pgbench ended before the backup did: $(tail -n 5 "$WORK/pgbench.log")"
x1=$(xact_commits src)
assert_gt $((x1 - x0)) 200 "transactions committed during the backup"
secs=$(jq -r '.seconds | floor' <<<"$OUT")
assert_gt "$secs" 0 "backup duration in whole seconds (the load must overlap it)"
assert_repo_has "$REPO" backup/load1/manifest.json "manifest of the backup"

pgbench_stop
hist_after=$(psql_c src "SELECT count(*) FROM pgbench_history")
pg_stop src
mv "$(cluster_data src)" "$(cluster_dir src)/data.orig"

log "restore"
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst)" --backup load1 --target-immediate
assert_rc 0 "pgpitr restore"
printf '%s\n' "$OUT"
as_pg_capture "$PG_BIN/pg_verifybackup" -n -m "$(cluster_data dst)/backup_manifest" "$(cluster_data dst)"
[ "$RC" -eq 0 ] || fail "pg_verifybackup failed (exit $RC): $OUT $ERR"
start_restored dst

hist=$(psql_c dst "SELECT count(*) FROM pgbench_history")
log "pgbench_history rows: before backup $hist_before, restored $hist, at the end $hist_after"
[ "$hist" -ge "$hist_before" ] || fail "restored server lacks transactions committed before the backup ($hist < $hist_before)"
[ "$hist" -lt "$hist_after" ] || fail "restored server has every transaction up to the end of the load ($hist), expected the backup's point"
assert_pgbench_consistent dst 400000
# Every table and index scanned without error, even with a forced sequential read of each.
psql_c dst "SELECT count(*) FROM pgbench_accounts a JOIN pgbench_branches b USING (bid)" >/dev/null
pg_stop dst
log "ok"
