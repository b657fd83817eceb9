#!/usr/bin/env bash
# pgpitr backup + pgpitr restore end to end, with a tablespace: the restored directory passes
# pg_verifybackup against the backup_manifest restore wrote, the tablespace comes back at its
# original location, the server replays the archive to the backup's end and promotes, and
# pgbench_accounts is row for row what it was at backup time; pg_amcheck finds nothing.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

TS="$WORK/ts"
accounts_md5() {
    psql_c "$1" "SELECT md5(string_agg(aid || ':' || bid || ':' || abalance || ':' || filler, ',' ORDER BY aid)) FROM pgbench_accounts"
}

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
mkdir_pg "$TS"
psql_c src "CREATE TABLESPACE ts LOCATION '$TS'"
ts_oid=$(psql_c src "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'")
# Tables in the tablespace, their indexes in the default one: both locations carry data.
# Scale 7: pgbench_accounts (~90 MB) takes the compress-while-receiving path (>= 64 MiB).
pgbench_c src -i -q -s 7 --tablespace=ts
psql_c src "CREATE TABLE plain_t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g"
assert_eq ts "$(psql_c src "SELECT t.spcname FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE c.relname = 'pgbench_accounts'")" \
    "tablespace of pgbench_accounts"
[ -n "$(find "$TS" -type f -path "*/PG_15_*/*" | head -n 1)" ] || fail "no relation files under the tablespace $TS"
wait_archived src "$(switch_wal src)"

log "backup"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label full1 --jobs 2 --output json
assert_rc 0 "pgpitr backup"
printf '%s\n' "$OUT"
files=$(jq -r .files <<<"$OUT")
size=$(jq -r .size <<<"$OUT")
assert_gt "$files" 900 "files in the backup"
assert_gt "$size" $((30 * 1024 * 1024)) "bytes in the backup"
assert_repo_has "$REPO" backup/full1/manifest.json "manifest of the complete backup"
# Nothing writes between the end of the backup and these queries.
md5_src=$(accounts_md5 src)
rows_src=$(psql_c src "SELECT count(*) FROM pgbench_accounts")
plain_src=$(psql_c src "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM plain_t")
assert_eq 700000 "$rows_src" "pgbench_accounts rows on the source"

# The original locations must be free for the restore: move the source out of the way.
pg_stop src
mv "$(cluster_data src)" "$(cluster_dir src)/data.orig"
mv "$TS" "$WORK/ts.orig"

log "restore"
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
NEW=$(cluster_data dst)
pgp_capture --repo "$REPO" restore --pgdata "$NEW" --jobs 2 --target-immediate
assert_rc 0 "pgpitr restore"
printf '%s\n' "$OUT"
assert_contains "$OUT" "full1" "restore says which backup it chose"
assert_file "$NEW/global/pg_control" "pg_control in the restored directory"
assert_file "$NEW/recovery.signal" "recovery.signal"
assert_file "$NEW/backup_manifest" "PostgreSQL's backup_manifest in the restored directory"
assert_contains "$(cat "$NEW/postgresql.auto.conf")" "archive-get" "restore_command in postgresql.auto.conf"
assert_contains "$(cat "$NEW/postgresql.auto.conf")" "immediate" "recovery_target in postgresql.auto.conf"
link=$(readlink "$NEW/pg_tblspc/$ts_oid") || fail "pg_tblspc/$ts_oid is not a symlink"
assert_eq "$TS" "$link" "tablespace link target"
[ -d "$TS" ] || fail "tablespace location $TS was not restored"
# The same relation files came back into the tablespace (contents: checked through SQL below;
# hint bits set after the backup may legitimately make the original's bytes differ).
(cd "$WORK/ts.orig" && find . -type f | sort) >"$WORK/ts.orig.list"
(cd "$TS" && find . -type f | sort) >"$WORK/ts.list"
assert_gt "$(grep -c . "$WORK/ts.list")" 3 "files restored into the tablespace"
diff "$WORK/ts.orig.list" "$WORK/ts.list" >"$WORK/ts.diff" 2>&1 ||
    fail "restored tablespace has other files than the original: $(head -n 5 "$WORK/ts.diff")"

as_pg_capture "$PG_BIN/pg_verifybackup" -n -m "$NEW/backup_manifest" "$NEW"
[ "$RC" -eq 0 ] || fail "pg_verifybackup failed (exit $RC): $OUT $ERR"
log "pg_verifybackup: $OUT"

# A file changed after the restore is caught by pg_verifybackup: the manifest is a real check.
cp -p "$NEW/PG_VERSION" "$WORK/PG_VERSION.keep"
echo 14 >"$NEW/PG_VERSION"
as_pg_capture "$PG_BIN/pg_verifybackup" -n -m "$NEW/backup_manifest" "$NEW"
assert_ne 0 "$RC" "pg_verifybackup exit status on a modified PG_VERSION"
cp -p "$WORK/PG_VERSION.keep" "$NEW/PG_VERSION"
own "$NEW/PG_VERSION"

log "start the restored server"
start_restored dst
grep -q 'restored log file ".*" from archive' "$WORK/dst/server.log" ||
    fail "the restored server fetched no WAL through archive-get"
grep -q 'recovery stopping after reaching consistency' "$WORK/dst/server.log" ||
    fail "recovery did not stop at the backup's consistency point (recovery_target = immediate)"
assert_absent "$NEW/recovery.signal" "recovery.signal after promotion"

assert_eq "$rows_src" "$(psql_c dst "SELECT count(*) FROM pgbench_accounts")" "pgbench_accounts rows restored"
assert_eq "$md5_src" "$(accounts_md5 dst)" "md5 of pgbench_accounts restored"
assert_eq "$plain_src" "$(psql_c dst "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM plain_t")" "plain_t restored"
assert_eq "$TS" "$(psql_c dst "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'ts'")" \
    "tablespace location on the restored server"

as_pg_capture "$PG_BIN/pg_amcheck" -h "$WORK/dst" -p "$(cat "$WORK/dst/port")" -U postgres \
    --all --install-missing --heapallindexed
[ "$RC" -eq 0 ] || fail "pg_amcheck on the restored server (exit $RC): $OUT $ERR"
# The restored server takes writes.
psql_c dst "INSERT INTO plain_t VALUES (0, 'after restore')"
pg_stop dst
log "ok ($files files, $((size / 1048576)) MiB)"
