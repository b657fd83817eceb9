#!/usr/bin/env bash
# A backup taken while pgbench writes (from before the backup starts until after it ends)
# restores to a consistent server: it replays the archive to the backup's end, promotes,
# pg_amcheck (heap + btree, with heapallindexed) is clean, and pgbench's invariants hold
# (sum of account, teller and branch balances = sum of history deltas).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

REPO="$WORK/repo"
balances() {  # NAME -> "accounts tellers branches history" sums
    psql_c "$1" "SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts) || ' ' ||
                        (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers) || ' ' ||
                        (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches) || ' ' ||
                        (SELECT coalesce(sum(delta), 0) FROM pgbench_history)"
}
xacts() { psql_c "$1" "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'"; }

pg_init src
pg_enable_archiving src "$REPO"
pg_conf src "max_wal_size = 64MB"   # checkpoints during the run, as in production
pg_start src
pgbench_c src -i -q -s 4
psql_c src "CREATE EXTENSION amcheck"
wait_archived src "$(switch_wal src)"

log "pgbench in the background"
# A simple command (not the as_pg function) so that $! is pgbench itself (setpriv and env exec);
# SIGTERM, as background jobs of a non-interactive shell ignore SIGINT.
"${AS_PG[@]}" "$PG_BIN/pgbench" -h "$(cluster_dir src)" -p "$(cluster_port src)" -U postgres \
    -n -c 4 -j 2 -T 90 postgres >"$WORK/pgbench.log" 2>&1 &
bench_pid=$!
track_pid "$bench_pid"
for ((i = 0; i < 100; i++)); do
    [ "$(psql_c src "SELECT count(*) FROM pgbench_history")" -gt 100 ] && break
    sleep 0.1
done
hist_before=$(psql_c src "SELECT count(*) FROM pgbench_history")
assert_gt "$hist_before" 100 "pgbench transactions before the backup"
x0=$(xacts src)

log "backup under load"
# A read limit makes the backup last a few seconds, so that pgbench writes all along.
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label load1 --jobs 2 \
    --max-rate 20M --output json
assert_rc 0 "pgpitr backup under load"
printf '%s\n' "$OUT"
pid_alive "$bench_pid" || fail "pgbench ended before the backup did: $(tail -n 5 "$WORK/pgbench.log")"
x1=$(xacts src)
assert_gt $((x1 - x0)) 200 "transactions committed during the backup"
secs=$(jq -r '.seconds | floor' <<<"$OUT")
assert_gt "$secs" 0 "backup duration in whole seconds (the load must overlap it)"
assert_file "$REPO/backup/load1/manifest.json" "manifest of the backup"

kill -TERM "$bench_pid"
rc=0
wait "$bench_pid" || rc=$?
untrack_pid "$bench_pid"
log "pgbench stopped (exit $rc)"
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
read -r a t b h <<<"$(balances dst)"
log "balances: accounts $a, tellers $t, branches $b, history $h"
assert_eq "$h" "$a" "sum(abalance) = sum(delta) on the restored server"
assert_eq "$h" "$t" "sum(tbalance) = sum(delta) on the restored server"
assert_eq "$h" "$b" "sum(bbalance) = sum(delta) on the restored server"
assert_eq 400000 "$(psql_c dst "SELECT count(*) FROM pgbench_accounts")" "pgbench_accounts rows"

as_pg_capture "$PG_BIN/pg_amcheck" -h "$WORK/dst" -p "$(cat "$WORK/dst/port")" -U postgres \
    --all --heapallindexed
[ "$RC" -eq 0 ] || fail "pg_amcheck --all on the restored server (exit $RC): $OUT $ERR"
# Every table and index scanned without error, even with a forced sequential read of each.
psql_c dst "SELECT count(*) FROM pgbench_accounts a JOIN pgbench_branches b USING (bid)" >/dev/null
pg_stop dst
log "ok"
