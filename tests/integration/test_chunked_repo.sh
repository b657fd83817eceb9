#!/usr/bin/env bash
# A repository that mixes whole-file and chunked backups over its life (docs/chunking.md):
#   A  an older backup as pgpitr wrote it before chunked storage (manifest format 1: the big
#      relation one whole object; made here by rewriting a backup the way that pgpitr wrote it),
#   B  a chunked backup after an UPDATE, C  another after a second UPDATE (sharing most chunks).
# Then: A and C restore to their data; verify finds a flipped bit in a chunk that B and C
# share and names the file, the chunk and both backups; a delta restore over a copy of C that
# was changed fetches only the changed chunks and gives C's data back; expire down to C keeps
# every chunk C needs (shared with B) and removes what only A and B used.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

json() { jq -r "$1" <<<"$2"; }
big_md5() { psql_c "$1" "SELECT md5(string_agg(id || ':' || pad, ',' ORDER BY id)) FROM big"; }
chunk_objs() { backup_refs "$REPO" "$1" | grep -vxF -f <(whole_objs "$1") | sort -u; }
whole_objs() { repo_read "$REPO" "backup/$1/manifest.json" | jq -r '.entries[] | .object // empty, .chunk_list // empty' | sort -u; }

# to_whole_files LABEL DIR: backup LABEL rewritten as a pgpitr without chunked storage wrote
# it: each chunked file one zstd object named by the SHA-256 of its content (taken from DIR,
# a restore of LABEL), the manifest format 1 (2 with a "source"), and the chunks and lists
# only LABEL used removed from the repository.
to_whole_files() {
    local label=$1 dir=$2 m e path sum obj z edits='.'
    m=$(repo_read "$REPO" "backup/$label/manifest.json")
    local old_chunks
    old_chunks=$(chunk_objs "$label"; jq -r '.entries[] | .chunk_list // empty' <<<"$m")
    while IFS= read -r e; do
        path=$(jq -r .path <<<"$e")
        sum=$(sha256sum "$dir/$path" | cut -d' ' -f1)
        obj="objects/${sum:0:2}/$sum.zst"
        z="$WORK/tmp/whole.zst"
        zstd -q -1 -f "$dir/$path" -o "$z"
        repo_write "$REPO" "$obj" <"$z"
        edits+=" | (.entries[] | select(.path == \"$path\")) |= (del(.chunk_list, .chunk_list_sha256, .chunk_size, .chunks) + {sha256: \"$sum\", object: \"$obj\", stored_size: $(stat -c %s "$z")})"
    done < <(jq -c '.entries[] | select(.chunk_list != null)' <<<"$m")
    jq "$edits | .format = (if has(\"source\") then 2 else 1 end)" <<<"$m" |
        repo_write "$REPO" "backup/$label/manifest.json"
    while IFS= read -r obj; do repo_rm "$REPO" "$obj"; done <<<"$old_chunks"
}

pg_init src
pg_enable_archiving src "$REPO"
pg_conf src "autovacuum = off"   # nothing but the test's UPDATEs may change the table
pg_start src
# ~26 MB of rows; VACUUM FREEZE sets every hint bit now (docs/chunking.md, "Hint bits")
psql_c src "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS pad FROM generate_series(1, 200000) g"
psql_c src "VACUUM FREEZE big"
psql_c src "CHECKPOINT"
rel=$(psql_c src "SELECT pg_relation_filepath('big')")
wait_archived src "$(switch_wal src)"

log "backup A, rewritten as an older pgpitr stored it (whole files)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label A --jobs 2
assert_rc 0 "backup A"
md5_a=$(big_md5 src)
mkdir_pg "$WORK/dstA"
free_port >"$WORK/dstA/port"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dstA)" --backup A --target-immediate
assert_rc 0 "restore of A before its rewrite"
to_whole_files A "$(cluster_data dstA)"
rm -rf "$WORK/dstA"
mA=$(repo_read "$REPO" backup/A/manifest.json)
assert_eq 0 "$(jq '[.entries[] | select(.chunk_list != null)] | length' <<<"$mA")" "chunked entries of A"
[ "$(json .format "$mA")" -le 2 ] || fail "A's manifest is format $(json .format "$mA")"
a_rel_obj=$(jq -r --arg p "$rel" '.entries[] | select(.path == $p) | .object' <<<"$mA")
assert_repo_has "$REPO" "$a_rel_obj" "A's whole-file object of $rel"

log "backups B and C, chunked, after UPDATEs"
psql_c src "UPDATE big SET pad = upper(pad) WHERE id BETWEEN 50001 AND 52000"
psql_c src "CHECKPOINT"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label B --jobs 2
assert_rc 0 "backup B"
md5_b=$(big_md5 src)
psql_c src "UPDATE big SET pad = upper(pad) WHERE id BETWEEN 150001 AND 151000"
psql_c src "CHECKPOINT"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label C --jobs 2 --output json
assert_rc 0 "backup C"
jc=$OUT
md5_c=$(big_md5 src)
assert_ne "$md5_b" "$md5_c" "md5 of big after the second UPDATE"
wait_archived src "$(switch_wal src)"
assert_eq 3 "$(repo_read "$REPO" backup/C/manifest.json | jq -r .format)" "format of C"
[ "$(json .new_chunks "$jc")" -le 8 ] || fail "C stored $(json .new_chunks "$jc") new chunks"
chunk_objs B >"$WORK/b.chunks"
chunk_objs C >"$WORK/c.chunks"
comm -12 "$WORK/b.chunks" "$WORK/c.chunks" >"$WORK/shared.chunks"
comm -23 "$WORK/b.chunks" "$WORK/c.chunks" >"$WORK/b_only.chunks"
log "chunks: B $(wc -l <"$WORK/b.chunks"), C $(wc -l <"$WORK/c.chunks"), shared $(wc -l <"$WORK/shared.chunks"), B only $(wc -l <"$WORK/b_only.chunks")"
assert_gt "$(wc -l <"$WORK/shared.chunks")" 10 "chunks B and C share"
assert_gt "$(wc -l <"$WORK/b_only.chunks")" 0 "chunks only B uses"

log "restore A (whole files) and C (chunks) from the mixed repository"
for b in A C; do
    mkdir_pg "$WORK/dst$b"
    free_port >"$WORK/dst$b/port"
    pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data "dst$b")" --backup "$b" --jobs 2 --target-immediate
    assert_rc 0 "restore of $b"
    start_restored "dst$b"
done
assert_eq "$md5_a" "$(big_md5 dstA)" "md5 of big restored from A"
assert_eq "$md5_c" "$(big_md5 dstC)" "md5 of big restored from C"
pg_stop dstA

log "verify: a flipped bit in a chunk B and C share"
pgp_capture --repo "$REPO" verify
assert_rc 0 "verify of the intact mixed repository"
assert_contains "$OUT" "chunks" "verify's count line"
bad=$(sed -n 5p "$WORK/shared.chunks")
repo_corrupt "$REPO" "$bad"
pgp_capture --repo "$REPO" verify --output json
assert_rc 7 "verify with a damaged chunk"
p=$(jq -c --arg o "$bad" '.problems[] | select(.kind == "backup_chunk" and .subject == $o)' <<<"$OUT")
[ -n "$p" ] || fail "no backup_chunk problem for $bad: $OUT"
assert_eq "$rel" "$(jq -r '.files[0].path' <<<"$p")" "file of the damaged chunk"
assert_eq '["B","C"]' "$(jq -c '[.files[].backups[]] | unique' <<<"$p")" "backups of the damaged chunk"
assert_eq '["B","C"]' "$(jq -c '.backups | sort' <<<"$p")" "backups the damaged chunk makes unrestorable"
repo_corrupt "$REPO" "$bad"        # the same bit back
pgp_capture --repo "$REPO" verify
assert_rc 0 "verify once the chunk is repaired"

log "delta restore over a changed copy of C"
psql_c dstC "UPDATE big SET pad = 'changed' WHERE id BETWEEN 100001 AND 100500"
psql_c dstC "CHECKPOINT"
assert_ne "$md5_c" "$(big_md5 dstC)" "md5 of big in the changed copy"
pg_stop dstC
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dstC)" --backup C --jobs 2 --target-immediate --delta
assert_rc 0 "delta restore of C"
printf '%s\n' "$OUT"
line=$(grep -E '^ *chunks: [0-9]+ fetched, [0-9]+ already in place' <<<"$OUT" || true)
[ -n "$line" ] || fail "no chunks line in the delta restore's summary: $OUT"
fetched=$(sed -E 's/^ *chunks: ([0-9]+) fetched.*/\1/' <<<"$line")
kept=$(sed -E 's/.*fetched, ([0-9]+) already.*/\1/' <<<"$line")
assert_gt "$fetched" 0 "chunks the delta restore fetched"
[ "$fetched" -le 8 ] || fail "the delta restore fetched $fetched chunks: $line"
assert_gt "$kept" 15 "chunks the delta restore left in place"
start_restored dstC
assert_eq "$md5_c" "$(big_md5 dstC)" "md5 of big after the delta restore"
pg_stop dstC

log "expire down to C: chunks shared with C stay, A's and B's own go"
pgp_capture --repo "$REPO" expire --retain-full 1
assert_rc 0 "expire --retain-full 1"
assert_repo_absent "$REPO" backup/B/manifest.json "B's manifest"
assert_repo_absent "$REPO" "$a_rel_obj" "A's whole-file object of $rel"
assert_repo_absent "$REPO" "$(head -n 1 "$WORK/b_only.chunks")" "a chunk only B used"
repo_keys "$REPO" objects | sort -u >"$WORK/objects.after"   # one listing, not a request per object
missing=$(comm -23 <(backup_refs "$REPO" C | sort -u) "$WORK/objects.after")
assert_eq "" "$missing" "objects C references missing after expire"
pgp_capture --repo "$REPO" verify
assert_rc 0 "verify after expire"
log "ok"
