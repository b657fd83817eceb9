#!/usr/bin/env bash
# Content-addressed storage: a second backup of an unchanged database references the first
# one's objects instead of storing them again (tiny new_stored_size, almost every file reused,
# the repository hardly grows), and restoring that second backup by label gives the same data.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

accounts_md5() {
    psql_c "$1" "SELECT md5(string_agg(aid || ':' || bid || ':' || abalance || ':' || filler, ',' ORDER BY aid)) FROM pgbench_accounts"
}
objects_bytes() { repo_bytes "$REPO" objects; }
json() { jq -r "$1" <<<"$2"; }

pg_init src
pg_enable_archiving src "$REPO"
pg_conf src "autovacuum = off"   # nothing may change the database between the two backups
pg_start src
# Scale 7: the big file takes the streamed path; unchanged, it must still be deduplicated.
pgbench_c src -i -q -s 7
psql_c src "VACUUM FREEZE"
psql_c src "CHECKPOINT"
wait_archived src "$(switch_wal src)"

log "first backup"
psql_c src "CHECKPOINT"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label first --jobs 2 --output json
assert_rc 0 "first backup"
J1=$OUT
printf '%s\n' "$J1"
md5_src=$(accounts_md5 src)
repo1=$(repo_bytes "$REPO")
obj1=$(objects_bytes)
new1=$(json .new_stored_size "$J1")
assert_gt "$new1" $((1024 * 1024)) "new_stored_size of the first backup"

log "second backup of the unchanged database"
psql_c src "CHECKPOINT"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label second --jobs 2 --output json
assert_rc 0 "second backup"
J2=$OUT
printf '%s\n' "$J2"
assert_eq "$md5_src" "$(accounts_md5 src)" "pgbench_accounts unchanged between the backups"
repo2=$(repo_bytes "$REPO")
obj2=$(objects_bytes)

files2=$(json .files "$J2")
reused2=$(json .reused_files "$J2")
new2=$(json .new_stored_size "$J2")
size1=$(json .size "$J1")
size2=$(json .size "$J2")
log "first: new $new1 B; second: new $new2 B, $reused2 of $files2 files reused; repo $repo1 -> $repo2 B, objects $obj1 -> $obj2 B"
assert_eq "$(json .files "$J1")" "$files2" "file count of the two backups"
[ "$size2" -ge $((size1 * 95 / 100)) ] || fail "second backup covers $size2 bytes, first $size1"
[ "$new2" -lt $((1024 * 1024)) ] || fail "second backup stored $new2 new bytes (>= 1 MiB)"
[ $((new2 * 20)) -lt "$new1" ] || fail "second backup stored $new2 new bytes, not < 5% of the first's $new1"
# Only what a checkpoint and a new backup change: pg_control, a few SLRU/FSM/VM pages, ...
[ $((files2 - reused2)) -le 30 ] || fail "only $reused2 of $files2 files reused"
[ $((obj2 - obj1)) -lt $((1024 * 1024)) ] || fail "objects grew by $((obj2 - obj1)) bytes for an unchanged database"
# The whole repository (objects, manifests and the archived WAL of the second backup).
[ $((repo2 - repo1)) -lt $((2 * 1024 * 1024)) ] || fail "repository grew by $((repo2 - repo1)) bytes"
# Both manifests reference the same object for pgbench_accounts' main fork (its chunk list:
# it is above 8 MiB, stored as chunks).
acc=$(psql_c src "SELECT pg_relation_filepath('pgbench_accounts')")
obj_of() { repo_read "$REPO" "backup/$1/manifest.json" | jq -r --arg p "$acc" '.entries[] | select(.path == $p) | .object // .chunk_list'; }
o1=$(obj_of first)
[ -n "$o1" ] || fail "no entry for $acc in the first backup's manifest"
assert_eq "$o1" "$(obj_of second)" "object of $acc in both backups"
assert_repo_has "$REPO" "$o1" "object of $acc"

# Restoring the second backup: make a change afterwards so that "newest" and "latest" would differ
# from what the second backup holds.
psql_c src "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 10"
wait_archived src "$(switch_wal src)"
pg_stop src
mv "$(cluster_data src)" "$(cluster_dir src)/data.orig"

log "restore --backup second"
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst)" --backup second --jobs 2 --target-immediate
assert_rc 0 "restore of the second backup"
printf '%s\n' "$OUT"
assert_contains "$OUT" "second" "restore names the backup"
as_pg_capture "$PG_BIN/pg_verifybackup" -n -m "$(cluster_data dst)/backup_manifest" "$(cluster_data dst)"
[ "$RC" -eq 0 ] || fail "pg_verifybackup of the restored second backup (exit $RC): $OUT $ERR"
start_restored dst
assert_eq "$md5_src" "$(accounts_md5 dst)" "md5 of pgbench_accounts in the restored second backup"
assert_eq 700000 "$(psql_c dst "SELECT count(*) FROM pgbench_accounts")" "pgbench_accounts rows"
pg_stop dst
log "ok"
