#!/usr/bin/env bash
# The whole cycle on an S3 repository: archiving through archive_command, pgpitr backup, info
# and verify, pgpitr restore (whose restore_command names the s3:// repository as given, not
# as a file system path), recovery through archive-get with the prefetcher fetching ahead
# from S3 (its own connections, opened in the detached process), the exact data back, and
# expire removing WAL before the backup, verify reporting and expire aborting an upload left
# by a killed writer. With 5 MiB parts and no compression, the backup's
# larger whole files (5 to 8 MiB; above, 1 MiB chunks) go up as multipart uploads streamed
# under their final keys.
# repo-kinds: local -- tests the S3 driver on servers of its own (plain, TLS, unreachable); the s3 stages would only repeat it
TOP=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

s3_start
export PGPITR_S3_PART_SIZE=5MiB
REPO=s3://$S3_IT_BUCKET/pitr
pg_init src
pg_enable_archiving src "$REPO"
pg_start src
pgbench_c src -i -q -s 2
# A relation file of 5 to 8 MiB: stored whole (files of 8 MiB or more are 1 MiB chunks,
# docs/chunking.md), so it goes up as a multipart upload of 5 MiB parts.
psql_c src "CREATE TABLE mp AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 95000) g"
mp_size=$(psql_c src "SELECT pg_relation_size('mp')")
[ "$mp_size" -gt $((5 * 1024 * 1024)) ] && [ "$mp_size" -lt $((8 * 1024 * 1024)) ] ||
    fail "relation file of mp is $mp_size bytes, not between 5 and 8 MiB"
pgbench_c src -n -c 2 -j 2 -t 100
seg=$(switch_wal src)
wait_archived src "$seg"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label full1 --jobs 2 --compress none
assert_rc 0 "backup to S3"
grep -q manifest <<<"$(s3_keys pitr/backup/)" || fail "no backup manifest in the bucket: $(s3_keys pitr/backup/)"
grep -Eq '^"[0-9a-f]{32}-[0-9]+"$' <<<"$(s3_etags pitr/)" ||
    fail "no backup object went up as a multipart upload"
assert_eq 0 "$(s3_uploads)" "multipart uploads left unfinished by the backup"
psql_c src "CREATE TABLE after_backup AS SELECT g FROM generate_series(1, 1000) g"
for _ in 1 2 3 4 5 6; do
    pgbench_c src -n -c 2 -j 2 -t 200
    seg=$(switch_wal src)
done
wait_archived src "$seg"
expect=$(psql_c src "SELECT sum(abalance) FROM pgbench_accounts")
pg_stop src

pgp_capture --repo "$REPO" info
assert_rc 0 "info on S3"
assert_contains "$OUT" "full1" "info lists the backup"
pgp_capture --repo "$REPO" verify
assert_rc 0 "verify on S3"

mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/dst/data" --jobs 2
assert_rc 0 "restore from S3"
assert_contains "$(cat "$WORK/dst/data/postgresql.auto.conf")" "--repo $REPO archive-get" \
    "restore_command names the s3:// repository"
# The restored server inherits this environment (the S3 settings; in production: --config).
export PGPITR_LOG_LEVEL=info
start_restored dst
unset PGPITR_LOG_LEVEL
assert_eq "$expect" "$(psql_c dst "SELECT sum(abalance) FROM pgbench_accounts")" "pgbench data"
assert_eq 1000 "$(psql_c dst "SELECT count(*) FROM after_backup")" "table made after the backup"
spooled=$(grep -c "from the prefetch spool" "$WORK/dst/server.log" || true)
assert_gt "$spooled" 0 "segments served from the prefetch spool"
if grep -q "prefetch: cannot\|prefetch of .* failed" "$WORK/dst/server.log"; then
    fail "the prefetcher failed: $(grep "prefetch" "$WORK/dst/server.log" | head -n 3)"
fi
pg_stop dst

pgp_capture --repo "$REPO" expire --retain-full 1
assert_rc 0 "expire on S3"
assert_contains "$OUT" "WAL file(s) removed" "expire's summary"
[ "$(grep -c '000000010000000000000001-' <<<"$(s3_keys pitr/archive/wal/)")" -eq 0 ] ||
    fail "expire left WAL before the backup: $(s3_keys pitr/archive/wal/ | head -n 3)"
pgp_capture --repo "$REPO" verify
assert_rc 0 "verify after expire"
assert_eq "" "$ERR" "verify's stderr without unfinished uploads"

# An upload left by a killed writer: never an object, reported by verify, aborted by expire
# once old enough (PGPITR_UPLOAD_ABORT_AGE, 3600 s by default, set to 0 here).
s3_begin_upload pitr/backup/killed/object
assert_eq 1 "$(s3_uploads)" "unfinished uploads after a killed writer"
pgp_capture --repo "$REPO" verify
assert_rc 0 "verify with an unfinished upload"
assert_contains "$ERR" "1 unfinished multipart upload" "verify reports the unfinished upload"
pgp_capture --repo "$REPO" expire --retain-full 1
assert_rc 0 "expire with a fresh unfinished upload"
assert_eq 1 "$(s3_uploads)" "a fresh upload is left alone"
PGPITR_UPLOAD_ABORT_AGE=0 pgp_capture --repo "$REPO" expire --retain-full 1
assert_rc 0 "expire aborting the unfinished upload"
assert_eq 0 "$(s3_uploads)" "unfinished uploads after expire"
log "ok"
