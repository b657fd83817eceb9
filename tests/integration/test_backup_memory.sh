#!/usr/bin/env bash
# Bounded memory of a backup: a database whose largest relation file is ~200 MiB of data that
# does not compress (a table of random 1 KiB values, kept inline: below the TOAST threshold). A big file is stored as
# 1 MiB chunks (docs/chunking.md), each read into the store pool's budget and stored by a
# worker, so the backup's peak RSS does not grow with the file: it stays under 160 MiB, where
# keeping the compressed stream in memory (and copying it into the store pool) needed over
# 400 MiB. The restored copy of that table has the same checksum, and a second backup reuses
# its chunk list (and so every chunk).
# The RSS bound is not checked with a sanitizer build (its shadow memory and quarantine are
# not pgpitr's).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

BIG_ROWS=200000   # x 1 KiB of random bytes
RSS_MAX_KIB=$((160 * 1024))

[ -x /usr/bin/time ] || fail "/usr/bin/time is needed (package time: contrib/install-deps.sh)"
big_md5() { psql_c "$1" "SELECT md5(string_agg(md5(b), '' ORDER BY i)) FROM big"; }

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
psql_c src "CREATE EXTENSION pgcrypto"
psql_c src "CREATE TABLE big (i int, b bytea)"
psql_c src "ALTER TABLE big ALTER b SET STORAGE PLAIN"   # never compressed by PostgreSQL
psql_c src "INSERT INTO big SELECT g, gen_random_bytes(1024) FROM generate_series(1, $BIG_ROWS) g"
psql_c src "CHECKPOINT"
big_file=$(psql_c src "SELECT pg_relation_filepath('big')")
big_file_bytes=$(psql_c src "SELECT pg_relation_size('big')")
log "relation file $big_file: $big_file_bytes bytes"
assert_gt "$big_file_bytes" $((150 * 1024 * 1024)) "size of the big relation file"
md5_src=$(big_md5 src)
wait_archived src "$(switch_wal src)"

# backup_rss LABEL: a backup under /usr/bin/time; RSS_KIB is its peak RSS.
backup_rss() {
    local rc=0
    as_pg /usr/bin/time -f '%M' -o "$WORK/tmp/rss.$1" "$PGPITR" --repo "$REPO" backup \
        --pg-conn "$(conninfo src)" --label "$1" --jobs 2 --output json \
        >"$WORK/last.out" 2>"$WORK/last.err" || rc=$?
    cat "$WORK/last.err" >>"$WORK/log/pgpitr.log"
    check_san_stderr "$WORK/last.err" "pgpitr backup $1"
    [ "$rc" -eq 0 ] || fail "backup $1 exited $rc: $(tail -n 3 "$WORK/last.err")"
    RSS_KIB=$(tail -n 1 "$WORK/tmp/rss.$1")
    log "backup $1: peak RSS $((RSS_KIB / 1024)) MiB"
}
if grep -q __asan_init "$PGPITR" 2>/dev/null; then
    sanitized=1
else
    sanitized=0
fi

log "first backup"
backup_rss first
if [ "$sanitized" = 1 ]; then
    log "sanitizer build: peak RSS ($((RSS_KIB / 1024)) MiB) not checked"
else
    [ "$RSS_KIB" -lt "$RSS_MAX_KIB" ] ||
        fail "backup peak RSS $((RSS_KIB / 1024)) MiB, not under $((RSS_MAX_KIB / 1024)) MiB for a $((big_file_bytes / 1048576)) MiB file"
fi
# ref_of LABEL FIELD: FIELD of the big file's entry (a chunked file: .chunk_list, no .object).
ref_of() {
    repo_read "$REPO" "backup/$1/manifest.json" |
        jq -r --arg p "$big_file" ".entries[] | select(.path == \$p) | $2"
}
obj=$(ref_of first '.object // .chunk_list')
[ -n "$obj" ] && [ "$obj" != null ] || fail "no object for $big_file in the manifest"
assert_repo_has "$REPO" "$obj" "object (chunk list) of the big file"
assert_gt "$(ref_of first .stored_size)" $((big_file_bytes * 3 / 4)) "stored size of random data"
assert_repo_absent "$REPO" objects/pending "the pending path"
[ -z "$(repo_debris "$REPO")" ] || fail "debris left by the backup: $(repo_debris "$REPO")"

log "second backup: the big file's object is reused"
backup_rss second
assert_eq "$obj" "$(ref_of second '.object // .chunk_list')" "object of the big file in the second backup"
[ "$(jq -r .new_stored_size <<<"$(cat "$WORK/last.out")")" -lt $((8 * 1024 * 1024)) ] ||
    fail "the second backup stored the big file again: $(cat "$WORK/last.out")"
[ -z "$(repo_debris "$REPO")" ] || fail "debris left by the second backup: $(repo_debris "$REPO")"

log "restore: the big table comes back"
pg_stop src
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst)" --backup first --jobs 2 --target-immediate
assert_rc 0 "restore of the first backup"
start_restored dst
assert_eq "$md5_src" "$(big_md5 dst)" "checksum of the restored big table"
pg_stop dst
log "ok"
