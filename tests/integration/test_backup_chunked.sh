#!/usr/bin/env bash
# Block-level incremental storage (docs/chunking.md): a relation file of 8 MiB or more is
# stored as 1 MiB chunks plus a chunk list (manifest format 3 entry: chunk_list, chunks), the
# backup restores to the same data, and after an UPDATE of a small contiguous range a second
# backup stores a few chunks and a list instead of the whole relation file again. A backup
# SIGKILLed while it writes the chunks of a changed file (locally: staged in its batch, not yet
# flushed) leaves no backup and nothing a later one trusts: the earlier backup still restores,
# a new backup leaves no debris, verify finds every backup intact, the new one restores.
# A chunk object of the last backup removed (issue #14): restore into an empty directory and
# --delta over a restored copy both refuse before writing anything (exit 7, naming the file,
# the chunk and its byte range, "nothing was written"): no data directory, the copy's every
# file as it was; with the chunk back, --delta restores.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

MIB=1048576
json() { jq -r "$1" <<<"$2"; }
big_md5() { psql_c "$1" "SELECT md5(string_agg(id || ':' || pad, ',' ORDER BY id)) FROM big"; }
object_count() { repo_keys "$REPO" objects | wc -l; }
entry_of() {  # LABEL PATH: the manifest entry of PATH
    repo_read "$REPO" "backup/$1/manifest.json" | jq -c --arg p "$2" '.entries[] | select(.path == $p)'
}
# restore_check NAME LABEL MD5: restores backup LABEL into cluster NAME, checks it with
# pg_verifybackup, starts it and compares big's md5.
restore_check() {
    local name=$1 label=$2 want=$3
    mkdir_pg "$WORK/$name"
    free_port >"$WORK/$name/port"
    pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data "$name")" --backup "$label" --jobs 2 --target-immediate
    assert_rc 0 "restore of the $label backup"
    as_pg_capture "$PG_BIN/pg_verifybackup" -n -m "$(cluster_data "$name")/backup_manifest" "$(cluster_data "$name")"
    [ "$RC" -eq 0 ] || fail "pg_verifybackup of the restored $label backup (exit $RC): $OUT $ERR"
    start_restored "$name"
    assert_eq "$want" "$(big_md5 "$name")" "md5 of big in the restored $label backup"
    pg_stop "$name"
}

pg_init src
pg_enable_archiving src "$REPO"
pg_conf src "autovacuum = off"   # nothing but the test's UPDATE may change the table
pg_start src
# ~25 MB of rows that do not compress to nothing; VACUUM FREEZE sets every hint bit now, so
# reading the table later does not rewrite its pages (docs/chunking.md, "Hint bits").
psql_c src "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS pad FROM generate_series(1, 200000) g"
psql_c src "VACUUM FREEZE big"
psql_c src "CHECKPOINT"
rel=$(psql_c src "SELECT pg_relation_filepath('big')")
relsize=$(psql_c src "SELECT pg_relation_size('big')")
log "big: $rel, $relsize bytes"
assert_gt "$relsize" $((8 * MIB)) "size of the relation file of big"
wait_archived src "$(switch_wal src)"

log "first backup"
objs0=$(object_count)
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label first --jobs 2 --output json
assert_rc 0 "first backup"
J1=$OUT
printf '%s\n' "$J1"
md5_1=$(big_md5 src)
objs1=$(object_count)
assert_gt "$(json .chunked_files "$J1")" 0 "chunked files of the first backup"
manifest1=$(repo_read "$REPO" backup/first/manifest.json)
assert_eq 3 "$(jq -r .format <<<"$manifest1")" "manifest format of a backup with chunked files"
e1=$(entry_of first "$rel")
[ -n "$e1" ] || fail "no entry for $rel in the first backup's manifest"
printf 'entry: %s\n' "$e1"
assert_eq null "$(json .object "$e1")" "object of a chunked entry"
assert_eq $MIB "$(json .chunk_size "$e1")" "chunk_size of $rel"
assert_eq $(((relsize + MIB - 1) / MIB)) "$(json .chunks "$e1")" "chunks of $rel"
list1=$(json .chunk_list "$e1")
assert_repo_has "$REPO" "$list1" "chunk list of $rel"
# Files below 8 MiB stay whole objects.
small=$(jq -r '[.entries[] | select(.type == "file" and .size < 8388608 and .object == null)] | length' <<<"$manifest1")
assert_eq 0 "$small" "files below 8 MiB stored as chunks"
assert_eq 0 "$(jq -r '[.entries[] | select(.type == "file" and .size >= 8388608 and .object != null)] | length' <<<"$manifest1")" \
    "files of 8 MiB or more stored whole"

log "restore the first backup"
restore_check dst1 first "$md5_1"

log "UPDATE a small contiguous range, second backup"
psql_c src "UPDATE big SET pad = upper(pad) WHERE id BETWEEN 100001 AND 101000"
psql_c src "CHECKPOINT"
md5_2=$(big_md5 src)
assert_ne "$md5_1" "$md5_2" "md5 of big after the UPDATE"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label second --jobs 2 --output json
assert_rc 0 "second backup"
J2=$OUT
printf '%s\n' "$J2"
objs2=$(object_count)
e2=$(entry_of second "$rel")
printf 'entry: %s\n' "$e2"
assert_ne "$list1" "$(json .chunk_list "$e2")" "chunk list of the changed $rel"
chunks=$(json .chunks "$J2")
new_chunks=$(json .new_chunks "$J2")
new1=$(json .new_stored_size "$J1")
new2=$(json .new_stored_size "$J2")
stored_rel=$(json .stored_size "$e2")
log "relation $relsize B in $chunks chunks (all files); first backup: $((objs1 - objs0)) objects, $new1 B new; second: $new_chunks new chunks, $((objs2 - objs1)) objects, $new2 B new; $rel stored as $stored_rel B"
# The UPDATE touches ~1,000 rows in place (about 12 pages, one or two chunks) and appends their
# new versions at the end of the table (one or two more chunks).
[ "$new_chunks" -le 8 ] || fail "second backup stored $new_chunks new chunks"
[ $((objs2 - objs1)) -le 40 ] || fail "second backup added $((objs2 - objs1)) objects"
[ $((new2 * 4)) -lt "$stored_rel" ] || fail "second backup stored $new2 new bytes, $rel alone is $stored_rel B stored"
[ $((new2 * 4)) -lt "$new1" ] || fail "second backup stored $new2 new bytes, the first $new1"

log "restore the second backup (chunks of both backups)"
restore_check dst2 second "$md5_2"

log "UPDATE a quarter of big, a backup SIGKILLed while it writes the new chunks"
psql_c src "UPDATE big SET pad = reverse(pad) WHERE id BETWEEN 1 AND 50000"
psql_c src "CHECKPOINT"
md5_3=$(big_md5 src)
bg_pgp killed --repo "$REPO" backup --pg-conn "$(conninfo src)" --label killed --jobs 2 --max-rate 2M
pid=$BG_PID
# Locally: chunks staged in the backup's batch (closed, not yet flushed nor named); on S3
# (objects committed one by one): new objects.
written() {
    if repo_is_s3 "$REPO"; then
        [ "$(object_count)" -gt $((objs2 + 2)) ]
    else
        [ "$(find "$REPO/objects" -path '*/.tmp.batch.*/*' -type f 2>/dev/null | wc -l)" -ge 2 ]
    fi
}
for ((i = 0; i < 600; i++)); do
    written && break
    pid_alive "$pid" || break
    sleep 0.05
done
written || fail "the backup wrote no chunks before it ended"
kill -KILL "$pid"
bg_wait "$pid" killed
assert_eq 137 "$RC" "exit status of the killed backup"
assert_repo_absent "$REPO" backup/killed/manifest.json "manifest of the killed backup"

log "restore the second backup after the kill"
restore_check dst3 second "$md5_2"

log "a new backup after the kill, verify, restore it"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label third --jobs 2 --output json
assert_rc 0 "backup after the killed one"
assert_repo_absent "$REPO" backup/killed "what the killed backup left, after the next backup"
[ -z "$(repo_debris "$REPO")" ] || fail "debris left after the next backup: $(repo_debris "$REPO" | head -n 3)"
pgp_capture --repo "$REPO" verify --output json
assert_rc 0 "verify after the killed backup and the next one"
restore_check dst4 third "$md5_3"

log "a chunk of the third backup missing: restore and --delta refuse before writing anything"
# listing DIR: every entry's type, mode, mtime, and each file's SHA-256
listing() {
    as_pg bash -c 'cd "$1" && find . -printf "%p %y %m %T@\n" | LC_ALL=C sort &&
                   find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum' _ "$1"
}
e3=$(entry_of third "$rel")
list3=$(json .chunk_list "$e3")
k=3   # a chunk of big's middle: big's own rows, no other file has it
case $list3 in
    *.zst) text=$(repo_read "$REPO" "$list3" | zstd -dcq) ;;
    *.lz4) text=$(repo_read "$REPO" "$list3" | lz4 -dcq) ;;
    *) text=$(repo_read "$REPO" "$list3") ;;
esac
ext=$(jq -r '{"zstd": ".zst", "lz4": ".lz4", "none": ""}[.codec]' <<<"$text")
sha=$(jq -r ".chunks[$k]" <<<"$text")
assert_eq 1 "$(jq -r --arg s "$sha" '[.chunks[] | select(. == $s)] | length' <<<"$text")" "uses of chunk $k in $rel"
victim=$(printf '%s %s\n' "$sha" "$ext" | _repo_content_names "$REPO")
assert_repo_has "$REPO" "$victim" "chunk $k of $rel"
repo_read_raw "$REPO" "$victim" >"$WORK/victim"
repo_rm "$REPO" "$victim"
range="(chunk $k, bytes $((k * MIB))..$(((k + 1) * MIB - 1)) of \"$rel\", stored as chunks) is missing from the repository"
mkdir_pg "$WORK/dst5"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst5)" --backup third --jobs 2 --target-immediate
assert_rc 7 "restore of the third backup without chunk $k"
assert_one_line_error "restore without a chunk"
assert_contains "$ERR" "backup \"third\" is damaged: object \"$victim\" $range" "the restore's error"
assert_contains "$ERR" "HINT: nothing was written" "the restore's hint"
[ ! -e "$(cluster_data dst5)" ] || fail "the refused restore created $(cluster_data dst5): $(ls -A "$(cluster_data dst5)" | head -n 5)"
# --delta over dst4 whose chunk k of big differs (so --delta would fetch it)
printf '\377' | as_pg dd of="$(cluster_data dst4)/$rel" bs=1 seek=$((k * MIB + 100)) count=1 conv=notrunc status=none
listing "$(cluster_data dst4)" >"$WORK/dst4.before"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst4)" --backup third --jobs 2 --target-immediate --delta
assert_rc 7 "--delta restore of the third backup without chunk $k"
assert_contains "$ERR" "$range" "the --delta restore's error"
assert_contains "$ERR" "HINT: nothing was written" "the --delta restore's hint"
listing "$(cluster_data dst4)" >"$WORK/dst4.after"
diff "$WORK/dst4.before" "$WORK/dst4.after" >"$WORK/dst4.diff" ||
    fail "the refused --delta changed $(cluster_data dst4): $(head -n 6 "$WORK/dst4.diff")"
repo_write_raw "$REPO" "$victim" <"$WORK/victim"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst4)" --backup third --jobs 2 --target-immediate --delta
assert_rc 0 "--delta restore once the chunk is back"
log "ok"
