#!/usr/bin/env bash
# Tampered objects in an encrypted repository (issue #16: "a tampered object is corruption:
# verify and drill report it with what it breaks"). Two backups b1 and b2 of a cluster whose
# data directory holds two files of random bytes: one of 3 MB (one whole-file object) and one
# of 9 MiB (nine 1 MiB chunks and a small last one), unchanged between the backups, so b1 and
# b2 share their objects. Compression is off, so each object is found by its encrypted size
# (the names are keyed and the manifests encrypted: nothing else tells them apart). Then, each
# on a fresh copy of the repository, one bit flipped in:
#   (a) a WAL segment between b1 and b2: verify names the segment, says it fails
#       authentication, and that b1 can only be recovered up to it; b2 is not touched;
#   (b) the 3 MB file's object: verify names the object, the file and both backups, which can
#       no longer be restored; a drill of b1 fails (exit 7) naming the file, the object and the
#       backup, and its next step, verify --backup b1 as printed, finds the object;
#   (c) one chunk of the 9 MiB file: verify names the chunk, the file and both backups;
#   (d) b2's manifest.json: verify says b2's manifest is corrupt (fails authentication) and b2
#       cannot be restored; b1 stays restorable.
# Text and --output json, exit 7 each time. Last, a restore with the key settings only in the
# environment (the key file given by a relative path) writes them into restore_command (the
# path made absolute, never the key), and the restored server, started without them in its
# environment, replays every archived segment.
HERE=$(cd "$(dirname "$0")" && pwd)
# Only an encrypted repository is of interest here, whatever the run asks for.
export PGPITR_IT_ENCRYPT=1
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
export PGPITR_COMPRESS=none

SCHEMA="$HERE/../../docs/verify.schema.json"
# enc_size N: the size of an encrypted object of N plaintext bytes (docs/encryption.md).
enc_size() { local n=$1 c=$((($1 + 65535) / 65536)); [ "$c" -ge 1 ] || c=1; echo $((48 + n + 16 * c)); }
# objects_of_size REPO SIZE: keys under objects/ of exactly SIZE bytes.
objects_of_size() { repo_listing "$1" objects | awk -v s="$2" '$NF == s { print $1 }'; }
fresh() {  # NAME -> URL of a copy of the clean repository
    local r
    r=$(repo_url "$1")
    repo_copy "$REPO" "$r"
    printf '%s\n' "$r"
}
verify_both() {  # REPO NAME: verify in text (OUT, ERR) and json ($WORK/NAME.json)
    pgp_capture --repo "$1" verify --jobs 2 --output json
    assert_rc 7 "verify --output json of $2"
    printf '%s\n' "$OUT" >"$WORK/$2.json"
    validate_schema "$SCHEMA" "$WORK/$2.json"
    pgp_capture --repo "$1" verify --jobs 2
    assert_rc 7 "verify of $2"
    printf '%s\n' "$OUT"
    assert_contains "$ERR" "verify found" "the error line of $2"
}
restorable() {  # NAME LABEL: true/false from the JSON report
    jq -r --arg l "$2" '.backups[] | select(.label == $l) | .restorable' "$WORK/$1.json"
}

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
DATA=$(cluster_data src)
head -c 3000000 /dev/urandom >"$DATA/pgpitr_probe_whole"
head -c $((9 * 1048576 + 1000)) /dev/urandom >"$DATA/pgpitr_probe_chunked"
own "$DATA/pgpitr_probe_whole" "$DATA/pgpitr_probe_chunked"
psql_c src "CREATE TABLE t(id int)"
psql_c src "INSERT INTO t SELECT generate_series(1, 1000)"
wait_archived src "$(switch_wal src)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b1 --jobs 2
assert_rc 0 "backup b1"
switch_wal src >/dev/null
psql_c src "INSERT INTO t SELECT generate_series(1001, 2000)"
between=$(switch_wal src)           # after b1's stop, before b2's start
wait_archived src "$between"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b2 --jobs 2
assert_rc 0 "backup b2"
psql_c src "INSERT INTO t SELECT generate_series(2001, 3000)"
wait_archived src "$(switch_wal src)"
pg_stop src

whole_obj=$(objects_of_size "$REPO" "$(enc_size 3000000)")
assert_eq 1 "$(grep -c . <<<"$whole_obj")" "objects of the 3 MB file's size ($whole_obj)"
mapfile -t chunk_objs < <(objects_of_size "$REPO" "$(enc_size 1048576)")
assert_eq 9 "${#chunk_objs[@]}" "full 1 MiB chunk objects"
seg_obj=$(repo_find "$REPO" archive/wal "$between-*")
[ -n "$seg_obj" ] || fail "no object for $between"

pgp_capture --repo "$REPO" verify --jobs 2
assert_rc 0 "verify of the clean repository ($OUT $ERR)"

log "(a) a WAL segment between b1 and b2"
R=$(fresh r_wal)
repo_corrupt "$R" "$seg_obj"
verify_both "$R" wal
assert_contains "$OUT" "segment $between (object \"$seg_obj\") is corrupt" "names the segment and its object"
assert_contains "$OUT" "fails authentication" "says it fails authentication"
assert_contains "$OUT" "backup \"b1\"" "names the backup it cuts"
assert_contains "$OUT" "on timeline 1 are not recoverable" "names the range lost"
assert_contains "$OUT" "backup b2: restorable" "b2 is not touched"
assert_contains "$(jq -r '.problems[] | select(.kind == "wal_file") | .message' "$WORK/wal.json")" \
    "fails authentication" "JSON message"
assert_eq "$seg_obj" "$(jq -r '.problems[] | select(.kind == "wal_file") | .subject' "$WORK/wal.json")" "JSON subject"
# the window it cuts: b1 reaches no further than the start of the segment
assert_contains "$(jq -r '.problems[] | select(.kind == "wal_missing") | .breaks' "$WORK/wal.json")" \
    "backup \"b1\": points after" "JSON: what it cuts"
assert_eq true "$(restorable wal b1)" "JSON b1 restorable (up to the segment)"

log "(b) the 3 MB file's object"
R=$(fresh r_whole)
repo_corrupt "$R" "$whole_obj"
verify_both "$R" whole
assert_contains "$OUT" "backup file object \"$whole_obj\" is corrupt" "names the object"
assert_contains "$OUT" "fails authentication" "says it fails authentication"
assert_contains "$OUT" "file \"pgpitr_probe_whole\"" "names the file"
assert_contains "$OUT" "backup b1: NOT restorable" "b1 not restorable"
assert_contains "$OUT" "backup b2: NOT restorable" "b2 not restorable"
assert_eq "b1 b2" "$(jq -r '[.problems[] | select(.kind == "backup_file") | .backups[]] | sort | unique | join(" ")' "$WORK/whole.json")" "JSON backups"
assert_eq false "$(restorable whole b1)" "JSON b1 restorable"

log "(b) a drill of b1 fails and names the tampered object"
mkdir_pg "$WORK/dtmp"
TMPDIR="$WORK/dtmp" pgp_capture --repo "$R" drill --backup b1 --output json
printf '%s\n' "$ERR" >&2
[ "$RC" -ne 0 ] || fail "the drill passed with a tampered object"
assert_one_line_error "drill with a tampered object"
assert_eq failed "$(jq -r .status <<<"$OUT")" "drill status"
reasons=$(jq -r '.reasons[]' <<<"$OUT")
assert_contains "$reasons" "pgpitr_probe_whole" "the drill's reason names the file"
assert_contains "$reasons" "fails authentication" "the drill's reason says it fails authentication"
assert_contains "$reasons" "backup \"b1\" cannot be restored" "the drill's reason says what it breaks"
assert_contains "$ERR" "pgpitr_probe_whole" "the drill's error names the file"
assert_eq 7 "$RC" "the drill's exit status (corrupt)"
TMPDIR="$WORK/dtmp" pgp_capture --repo "$R" drill --backup b1
printf '%s\n' "$OUT"
[ "$RC" -ne 0 ] || fail "the drill passed with a tampered object (text output)"
verify=$(sed -n 's/^ *\(next: *\)\{0,1\}verify: *//p' <<<"$OUT")
assert_contains "$verify" " verify --backup b1" "next step: verify the backup"
as_pg_capture bash -c "$verify"
assert_rc 7 "the printed verify command finds the damage"
assert_contains "$OUT" "backup file object \"$whole_obj\" is corrupt" "verify names the tampered object"

log "(c) one chunk of the 9 MiB file"
R=$(fresh r_chunk)
repo_corrupt "$R" "${chunk_objs[3]}"
verify_both "$R" chunk
assert_contains "$OUT" "\"${chunk_objs[3]}\"" "names the chunk object"
assert_contains "$OUT" "fails authentication" "says it fails authentication"
assert_contains "$OUT" "pgpitr_probe_chunked" "names the file"
assert_contains "$OUT" "backup b1: NOT restorable" "b1 not restorable"
assert_contains "$OUT" "backup b2: NOT restorable" "b2 not restorable"
assert_eq false "$(restorable chunk b2)" "JSON b2 restorable"

log "(d) b2's manifest.json"
R=$(fresh r_manifest)
repo_corrupt "$R" backup/b2/manifest.json
verify_both "$R" manifest
assert_contains "$OUT" "backup/b2/manifest.json" "names the manifest"
assert_contains "$OUT" "fails authentication" "says it fails authentication"
assert_contains "$OUT" "backup \"b2\" cannot be restored" "says what it breaks"
assert_contains "$OUT" "backup b2: NOT restorable (manifest.json is corrupt)" "b2 listed as not restorable"
assert_contains "$OUT" "backup b1: restorable" "b1 still restorable"
assert_eq false "$(restorable manifest b2)" "JSON b2 restorable"
assert_eq true "$(restorable manifest b1)" "JSON b1 restorable"
assert_eq b2 "$(jq -r '.problems[] | select(.kind == "manifest") | .backups | join(" ")' "$WORK/manifest.json")" "JSON manifest problem"
log "restore with the key settings only in the environment (a relative key file path)"
mkdir_pg "$WORK/r_env"
free_port >"$WORK/r_env/port"
NEW=$(cluster_data r_env)
(cd "$WORK" && PGPITR_ENCRYPTION_KEY_FILE=master.key pgp_capture --repo "$REPO" restore --pgdata "$NEW")
rc_line=$(sed -n 's/^restore_command = //p' "$NEW/postgresql.auto.conf")
log "  $rc_line"
assert_contains "$rc_line" "PGPITR_ENCRYPTION_KEY_FILE=$(realpath "$WORK/master.key") " \
    "restore_command carries the key file setting, made absolute"
assert_contains "$rc_line" "'PGPITR_ENCRYPTION=aes-256-gcm " "restore_command carries the encryption setting"
if grep -qF -- "$(cat "$WORK/master.key")" "$NEW/postgresql.auto.conf"; then
    fail "the master key itself is in postgresql.auto.conf"
fi
# The server runs restore_command without this shell's environment.
unset PGPITR_ENCRYPTION PGPITR_ENCRYPTION_KEY_FILE
start_restored r_env
while IFS= read -r kv; do export "${kv?}"; done < <(repo_encryption_env)
assert_eq 3000 "$(psql_c r_env "SELECT count(*) FROM t")" "rows replayed through the restore_command"
pg_stop r_env
log "ok"
