#!/usr/bin/env bash
# --tablespace-map and --delta. A backup with a tablespace is restored while the source still
# uses the original location: --tablespace-map OID=DIR puts the tablespace in DIR, links
# pg_tblspc/OID there and rewrites tablespace_map, and the server reads its data from DIR.
# Then the restored cluster is changed (rows, a stray file, a removed file) and restored over
# with --delta: refused while it runs; once stopped, unchanged files are kept, changed ones
# rewritten, strays removed, and the result is the backup again.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

TS="$WORK/ts"
NEWTS="$WORK/ts_moved"
source_cluster src
mkdir_pg "$TS"
psql_c src "CREATE TABLESPACE ts LOCATION '$TS'"
oid=$(psql_c src "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'")
psql_c src "CREATE TABLE big TABLESPACE ts AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g"
psql_c src "INSERT INTO t SELECT g, 'before' FROM generate_series(1, 10) g"
wait_archived src "$(switch_wal src)"
backup_of src base1
big_md5=$(psql_c src "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM big")
add_row src 11 >/dev/null
wait_archived src "$(switch_wal src)"

log "tablespace $oid restored to $NEWTS while the source keeps $TS"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/n1/data" --tablespace-map "ts=$NEWTS"
assert_rc 2 "a tablespace given by name"
assert_contains "$ERR" "HINT: backups know tablespaces by oid: $oid ($TS)" "hint lists the oids"
assert_absent "$WORK/n1" "directory of a refused restore"
restore_to dst --target-immediate --tablespace-map "$oid=$NEWTS" >/dev/null
assert_contains "$OUT" "tablespace $oid: \"$NEWTS\" (instead of \"$TS\")" "restore shows the mapping"
assert_eq "$NEWTS" "$(readlink "$(cluster_data dst)/pg_tblspc/$oid")" "pg_tblspc link"
assert_eq "$oid $NEWTS" "$(cat "$(cluster_data dst)/tablespace_map")" "tablespace_map rewritten"
[ -n "$(find "$NEWTS" -type f -path "*/PG_15_*/*" | head -n 1)" ] || fail "no relation files in $NEWTS"
as_pg_capture "$PG_BIN/pg_verifybackup" -n -i tablespace_map -m "$(cluster_data dst)/backup_manifest" \
    "$(cluster_data dst)"
[ "$RC" -eq 0 ] || fail "pg_verifybackup (tablespace_map ignored) failed (exit $RC): $OUT $ERR"
start_restored dst
assert_eq "$NEWTS" "$(psql_c dst "SELECT pg_tablespace_location($oid)")" "tablespace location"
assert_eq "$big_md5" "$(psql_c dst "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM big")" "big"
assert_eq "1,2,3,4,5,6,7,8,9,10" "$(rows dst)" "rows at the backup's end"

log "change the restored cluster, then --delta over it"
psql_c dst "INSERT INTO t VALUES (99, 'after restore'); UPDATE big SET v = 'changed' WHERE id <= 100"
psql_c dst "CHECKPOINT"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst)" --delta --target-immediate \
    --tablespace-map "$oid=$NEWTS"
assert_rc 13 "--delta into a running cluster"
assert_contains "$ERR" "server is running" "refusal names the running server"
pg_stop dst
data=$(cluster_data dst)
echo stray >"$data/base/stray_file"
mkdir -p "$data/stray_dir/sub" && echo x >"$data/stray_dir/sub/f"
own "$data/base/stray_file" "$data/stray_dir"
rm -f "$data/PG_VERSION"
pgp_capture --repo "$REPO" restore --pgdata "$data" --target-immediate --tablespace-map "$oid=$NEWTS"
assert_rc 2 "restore into a non-empty directory without --delta"
assert_contains "$ERR" "--delta" "hint names --delta"
pgp_capture --repo "$REPO" restore --pgdata "$data" --delta --target-immediate \
    --tablespace-map "$oid=$NEWTS" --jobs 2
assert_rc 0 "delta restore"
printf '%s\n' "$OUT"
line=$(grep '^delta: ' <<<"$OUT")
kept=$(sed -E 's/^delta: kept ([0-9]+) files.*/\1/' <<<"$line")
rewrote=$(sed -E 's/.*rewrote ([0-9]+),.*/\1/' <<<"$line")
removed=$(sed -E 's/.*removed ([0-9]+) entries.*/\1/' <<<"$line")
log "delta: kept $kept, rewrote $rewrote, removed $removed"
assert_gt "$kept" 500 "files kept by the delta restore"
assert_gt "$rewrote" 2 "files rewritten (PG_VERSION, changed relations, postgresql.auto.conf)"
[ "$rewrote" -lt 200 ] || fail "delta rewrote $rewrote files: most should have been kept"
assert_gt "$removed" 1 "stray entries removed"
assert_absent "$data/base/stray_file" "stray file after --delta"
assert_absent "$data/stray_dir" "stray directory after --delta"
assert_file "$data/PG_VERSION" "PG_VERSION restored by --delta"
assert_eq 1 "$(grep -c 'added by pgpitr restore' "$data/postgresql.auto.conf")" \
    "recovery settings written once"
as_pg_capture "$PG_BIN/pg_verifybackup" -n -i tablespace_map -i postgresql.auto.conf \
    -m "$data/backup_manifest" "$data"
[ "$RC" -eq 0 ] || fail "pg_verifybackup after --delta failed (exit $RC): $OUT $ERR"
start_restored dst
assert_eq "1,2,3,4,5,6,7,8,9,10" "$(rows dst)" "rows after the delta restore"
assert_eq "$big_md5" "$(psql_c dst "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM big")" \
    "big after the delta restore"
pg_stop dst
log "ok"
