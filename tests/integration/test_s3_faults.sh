#!/usr/bin/env bash
# The whole cycle through the fault-injecting proxy (tests/tools/s3-fault-proxy.js), which
# faults 20% of the requests between pgpitr and the S3 test server at random: 503 SlowDown,
# 500 InternalError, a reset connection, or a stall past io-timeout (the store does the write,
# the answer never comes). Under that: archiving under pgbench loses nothing and fails
# seldom (pg_stat_archiver.failed_count), a backup in 5 MiB multipart uploads completes, every
# archived segment comes back byte for byte, a restore to the latest point gives the exact
# data, the drill passes, and the proxy's log shows every kind of fault happened. The seed is
# printed; PGPITR_IT_FAULT_SEED=N replays a run (request order varies with timing a little).
# repo-kinds: local -- starts its own S3 server and fault proxy; the s3 stages would only repeat it
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

SEED=${PGPITR_IT_FAULT_SEED:-$((RANDOM * 32768 + RANDOM))}
log "fault seed $SEED (replay with PGPITR_IT_FAULT_SEED=$SEED)"
s3_start
# 20% of requests faulted, seeded. io-timeout (5 s) bounds a request's retries of the fast
# faults: with backoff from 100 ms capped at an eighth of io-timeout (625 ms), it takes at
# least 10 faults in a row to fail a request, which over the run's ~3300 requests (backup,
# restore and drill each ~1 per file of a cluster of ~1000 files) happens in under 1 run in
# 3,000. (With the backoff capped at 5 s only 6 to 7 attempts fitted in 5 s: about 1 run in
# 10 failed, a restore's GET giving up on its sixth 503.) A stall
# outlasts io-timeout (the attempt times out, its outcome unknown) and so costs 5 s where the
# other faults cost a backoff of 50-100 ms: stalls are drawn 1 fault in 79 (~16 of them, a
# quarter on writes; test_s3_unknown stalls every publishing request) to keep the test near
# 2.5 minutes; 503, 500 and reset share the rest.
faults=$(printf '503,500,reset,%.0s' {1..26})stall
s3_proxy_start "$S3_TEST_ENDPOINT" --fault-rate 0.2 --seed "$SEED" --stall-ms 7000 --faults "$faults"
export PGPITR_S3_ENDPOINT=$S3_PROXY_URL PGPITR_IO_TIMEOUT=5 PGPITR_S3_PART_SIZE=5MiB
REPO=s3://$S3_IT_BUCKET/faults
t0=$(date +%s)

# ---- archiving under pgbench: every file archive_command is given is kept aside first ----
pg_init src
mkdir_pg "$WORK/kept"
cmd=$(archive_wrapper src "$REPO")
pg_conf src "archive_mode = on" "archive_timeout = 0" "track_commit_timestamp = on" \
    "archive_command = 'cp %p $WORK/kept/%f && ${cmd//%p/\"%p\"}'"
pg_start src
pgbench_c src -i -q -s 2
# A relation file of 5 to 8 MiB: stored whole (files of 8 MiB or more are 1 MiB chunks,
# docs/chunking.md), so with --compress none it goes up as a multipart upload of 5 MiB parts.
psql_c src "CREATE TABLE mp AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 95000) g"
mp_size=$(psql_c src "SELECT pg_relation_size('mp')")
[ "$mp_size" -gt $((5 * 1024 * 1024)) ] && [ "$mp_size" -lt $((8 * 1024 * 1024)) ] ||
    fail "relation file of mp is $mp_size bytes, not between 5 and 8 MiB"
for _ in 1 2 3 4 5; do
    pgbench_c src -n -c 2 -j 2 -t 150
    seg=$(switch_wal src)
done
wait_archived src "$seg"

# ---- a backup in multipart uploads --------------------------------------------------------
tb=$(date +%s)
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base1 --jobs 2 --compress none
assert_rc 0 "backup through the fault proxy"
log "backup through the proxy: $(($(date +%s) - tb)) s"
grep -Eq '^"[0-9a-f]{32}-[0-9]+"$' <<<"$(s3_etags faults/)" ||
    fail "no backup object went up as a multipart upload"
psql_c src "CREATE TABLE after_backup AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g"
for _ in 1 2 3; do
    pgbench_c src -n -c 2 -j 2 -t 150
    seg=$(switch_wal src)
done
wait_archived src "$seg"
CHECK="SELECT (SELECT sum(abalance) FROM pgbench_accounts) || '/' || (SELECT count(*) FROM pgbench_history) || '/' || (SELECT md5(string_agg(v, ',' ORDER BY id)) FROM after_backup)"
expect=$(psql_c src "$CHECK")
failed=$(psql_c src "SELECT failed_count FROM pg_stat_archiver")
archived=$(psql_c src "SELECT archived_count FROM pg_stat_archiver")
last=$(psql_c src "SELECT last_archived_wal FROM pg_stat_archiver")
pg_stop src
log "archiver: $archived archived, $failed failed"
# A push is ~4 requests (lock-free: PUT, listing, repo.json...), each retried within
# io-timeout; a push fails only when one request meets a stall after another stall ate its
# budget, or a stall of the listing after the PUT: a few per hundred segments. 5 is that
# bound for ~20 segments with room; a driver that does not retry fails ~half of them.
[ "$failed" -le 5 ] || fail "pg_stat_archiver.failed_count is $failed for $archived archived (bound 5)"

# ---- nothing lost, every segment round-trips byte for byte ---------------------------------
keys=$(s3_keys faults/archive/)
n=0
for f in "$WORK"/kept/*; do
    name=$(basename "$f")
    [[ "$name" =~ ^[0-9A-F]{24}$ ]] || continue
    [[ "$name" > "$last" ]] && continue     # given to archive_command, never reported archived
    grep -q "/$name-$(repo_content_hex "$(sha256_of "$f")")\." <<<"$keys" || fail "archived segment $name is not in the bucket"
    archive_get_cmp "$REPO" "$name" "$f"
    n=$((n + 1))
done
assert_gt "$n" 5 "segments checked"
log "$n segments in the bucket and round-tripped through the proxy ($(($(date +%s) - t0)) s)"

# ---- restore to the latest point, through the proxy (files, then archive-get) ---------------
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/dst/data" --jobs 2
assert_rc 0 "restore through the fault proxy"
start_restored dst
assert_eq "$expect" "$(psql_c dst "$CHECK")" "data restored through the fault proxy"
pg_stop dst

# ---- the drill ------------------------------------------------------------------------------
drill --output json
assert_rc 0 "drill through the fault proxy"
assert_eq passed "$(jq_out .status)" "drill status"
assert_eq 5000 "$(table_rows public.after_backup)" "rows of after_backup in the drill's report"
assert_no_drill_left

# ---- the faults were real -------------------------------------------------------------------
total=$(grep -c '"n":' "$S3_PROXY_LOG")
for kind in 503 500 reset stall; do
    c=$(grep -c "\"action\":\"$kind\"" "$S3_PROXY_LOG" || true)
    log "fault $kind: $c of $total requests"
    assert_gt "$c" 0 "faults of kind $kind in the proxy's log"
done
log "unfinished uploads left (begun by stalled CreateMultipartUpload): $(s3_uploads)"
log "ok in $(($(date +%s) - t0)) s"
