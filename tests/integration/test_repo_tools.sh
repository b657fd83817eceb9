#!/usr/bin/env bash
# The repository tools on a real backup and archive, in whatever repository kind the run uses
# (plain or encrypted, local or S3): `pgpitr repo-get` prints a manifest, an archived segment
# (equal to what archive-get restores), PostgreSQL's backup_manifest and a chunk list;
# `repo-get --raw` gives the stored bytes; `repo-name` maps a chunk's SHA-256 from the chunk
# list to an object that exists; `repo-put` stores a document that repo-get gives back and
# refuses to replace one without --replace. In an encrypted run the raw bytes are the
# encrypted format, a manifest copied raw under another backup's path and a plain object
# planted under an encrypted kind's path fail authentication (exit 7), and repo-get without
# the key is exit 14 while --raw still works. Paths leaving the repository are refused.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

enc=${PGPITR_IT_ENCRYPT:-0}
pg_init src
pg_enable_archiving src "$REPO"
pg_start src
# above 8 MiB: stored as chunks and a chunk list (docs/chunking.md)
psql_c src "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b1
assert_rc 0 "backup ($ERR)"
wait_archived src "$(switch_wal src)"

log "repo-get: manifest, backup_manifest, a segment"
pgp_capture --repo "$REPO" repo-get backup/b1/manifest.json
assert_rc 0 "repo-get of the manifest ($ERR)"
assert_eq b1 "$(jq -r .label <<<"$OUT")" "the manifest's label"
repo_keys "$REPO" >"$WORK/keys"
pgm=$(grep -m 1 '^backup/b1/backup_manifest' "$WORK/keys")
pgp_capture --repo "$REPO" repo-get "$pgm"
assert_rc 0 "repo-get of backup_manifest ($ERR)"
assert_eq 1 "$(jq -r '."PostgreSQL-Backup-Manifest-Version"' <<<"$OUT")" "PostgreSQL's manifest, decompressed"
seg_key=$(grep -E -m 1 '^archive/wal/.*/[0-9A-F]{24}-' "$WORK/keys")
seg=$(basename "$seg_key")
seg=${seg%%-*}
as_pg "$PGPITR" --repo "$REPO" repo-get "$seg_key" >"$WORK/tmp/by-repo-get"
pgp --repo "$REPO" archive-get "$seg" "$WORK/tmp/by-archive-get"
assert_eq 16777216 "$(file_size "$WORK/tmp/by-repo-get")" "a whole segment"
cmp -s "$WORK/tmp/by-repo-get" "$WORK/tmp/by-archive-get" ||
    fail "repo-get and archive-get give different bytes for $seg"
as_pg "$PGPITR" --repo "$REPO" repo-get --raw "$seg_key" >"$WORK/tmp/raw"
repo_read_raw "$REPO" "$seg_key" >"$WORK/tmp/stored"
cmp -s "$WORK/tmp/raw" "$WORK/tmp/stored" || fail "repo-get --raw is not the stored bytes"
if [ "$enc" = 1 ]; then
    assert_eq PGPITRE "$(head -c 7 "$WORK/tmp/raw")" "--raw: the encrypted format"
fi
rm -f "$WORK/tmp/by-repo-get" "$WORK/tmp/by-archive-get" "$WORK/tmp/raw" "$WORK/tmp/stored"

log "repo-name: a chunk of the chunk list"
list=$(jq -r '[.entries[] | .chunk_list // empty][0]' <<<"$(repo_read "$REPO" backup/b1/manifest.json)")
[ -n "$list" ] && [ "$list" != null ] || fail "no chunked file in the backup"
pgp_capture --repo "$REPO" repo-get "$list"
assert_rc 0 "repo-get of a chunk list ($ERR)"
chunk=$(jq -r '.chunks[0]' <<<"$OUT")
ext=$(jq -r '{"zstd": ".zst", "lz4": ".lz4", "none": ""}[.codec]' <<<"$OUT")
pgp_capture --repo "$REPO" repo-name "$chunk"
assert_rc 0 "repo-name ($ERR)"
assert_repo_has "$REPO" "$OUT$ext" "the object repo-name names for a chunk"
if [ "$enc" = 1 ]; then
    assert_ne "objects/${chunk:0:2}/$chunk" "$OUT" "a keyed name, not the plain SHA-256"
else
    assert_eq "objects/${chunk:0:2}/$chunk" "$OUT" "the plain SHA-256 in an unencrypted repository"
fi
pgp_capture --repo "$REPO" repo-name not-a-sha
assert_rc 2 "repo-name of something else"

log "repo-put"
printf '{"planted": "by repo-put"}\n' | as_pg "$PGPITR" --repo "$REPO" repo-put verify/20260102T030405Z-0000.json
pgp_capture --repo "$REPO" repo-get verify/20260102T030405Z-0000.json
assert_eq '{"planted": "by repo-put"}' "$OUT" "repo-get gives back what repo-put stored"
as_pg_capture "$PGPITR" --repo "$REPO" repo-put verify/20260102T030405Z-0000.json <<<other
assert_rc 8 "repo-put over an existing object without --replace"
pgp_capture --repo "$REPO" repo-get verify/20260102T030405Z-0000.json
assert_eq '{"planted": "by repo-put"}' "$OUT" "the refused repo-put left the object untouched"
repo_rm "$REPO" verify/20260102T030405Z-0000.json

log "repo-put refuses the repository's identity and key document, even with --replace"
ident=$(repo_read_raw "$REPO" repo.json | sha256sum)
key=""
[ "$REPO_ENCRYPT" = 1 ] && key=$(repo_read_raw "$REPO" keys/repo-key.json | sha256sum)
for p in repo.json keys/repo-key.json keys/planted.json; do
    as_pg_capture "$PGPITR" --repo "$REPO" repo-put --replace "$p" <<<'{"planted": true}'
    assert_rc 2 "repo-put --replace $p"
    assert_one_line_error "repo-put --replace $p"
    assert_contains "$ERR" "refusing to write" "repo-put $p says why"
done
assert_eq "$ident" "$(repo_read_raw "$REPO" repo.json | sha256sum)" "repo.json untouched"
[ "$REPO_ENCRYPT" = 1 ] &&
    assert_eq "$key" "$(repo_read_raw "$REPO" keys/repo-key.json | sha256sum)" "the key document untouched"
assert_repo_absent "$REPO" keys/planted.json "nothing planted under keys/"

log "bad paths"
for p in ../repo.json /etc/passwd backup//b1 backup/./b1/manifest.json; do
    pgp_capture --repo "$REPO" repo-get "$p"
    assert_rc 4 "repo-get $p"
    assert_one_line_error "repo-get $p"
done
pgp_capture --repo "$REPO" repo-get backup/nosuch/manifest.json
assert_rc 1 "repo-get of a missing object"

if [ "$enc" = 1 ]; then
    log "encrypted: swapped and planted objects, no key"
    repo_read_raw "$REPO" backup/b1/manifest.json | repo_write_raw "$REPO" backup/b9/manifest.json
    pgp_capture --repo "$REPO" repo-get backup/b9/manifest.json
    assert_rc 7 "a manifest copied under another backup's path"
    printf '{"label": "b8"}' | repo_write_raw "$REPO" backup/b8/manifest.json
    pgp_capture --repo "$REPO" repo-get backup/b8/manifest.json
    assert_rc 7 "a plain manifest planted in an encrypted repository"
    repo_rm "$REPO" backup/b9/manifest.json
    repo_rm "$REPO" backup/b8/manifest.json
    pgp_capture --repo "$REPO" repo-get repo.json
    assert_rc 0 "repo.json is plain ($ERR)"
    assert_contains "$OUT" '"encryption": "aes-256-gcm"' "repo.json through repo-get"
    as_pg_capture env -u PGPITR_ENCRYPTION -u PGPITR_ENCRYPTION_KEY_FILE "$PGPITR" --repo "$REPO" \
        repo-get backup/b1/manifest.json
    assert_rc 14 "repo-get without the key"
    as_pg_capture env -u PGPITR_ENCRYPTION -u PGPITR_ENCRYPTION_KEY_FILE "$PGPITR" --repo "$REPO" \
        repo-get --raw backup/b1/manifest.json
    assert_rc 0 "repo-get --raw without the key"
fi
pg_stop src
log "ok"
