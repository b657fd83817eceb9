#!/usr/bin/env bash
# An encrypted repository end to end (docs/encryption.md): archive-push through
# archive_command and a backup with encryption = aes-256-gcm and a key file; repo.json records
# the encryption and keys/repo-key.json holds the wrapped repository key; a marker string
# inserted into a table appears in no object of the repository (compression off, so that
# without encryption it would be there in clear); a restore to a restore point (PITR) brings
# back exactly the rows before it. A missing key, a wrong key and a key file readable by
# others are exit 14 and write nothing; encryption configured against this repository
# without it, and the other way round, are refused; a table stored as chunks comes back, verify
# passes, a second backup and expire of the first keep what both share (archive-push with
# --jobs 2 throughout); key rotate is refused (exit 13, nothing written) while another rotation
# holds the key lock, then rewraps the key document without touching an object, after which
# only the new master key opens the repository; a tampered WAL object is fatal to
# archive-get (exit above 125).
# repo-encryption: plain -- it makes its own encrypted and unencrypted repositories, with keys of its own
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

KEY="$WORK/master.key"
OTHER_KEY="$WORK/other.key"
CONF="$WORK/enc.conf"
NOKEY_CONF="$WORK/nokey.conf"
openssl rand -hex 32 >"$KEY"
openssl rand -hex 32 >"$OTHER_KEY"
chmod 0600 "$KEY" "$OTHER_KEY"
own "$KEY" "$OTHER_KEY"
write_conf() {  # FILE KEYFILE|"" -> an encrypted setup (compression off: see above)
    {
        printf '[global]\ncompress = none\n'
        if [ -n "$2" ]; then
            printf 'encryption = aes-256-gcm\nencryption-key-file = %s\n' "$2"
        fi
    } >"$1"
    own "$1"
}
write_conf "$CONF" "$KEY"
write_conf "$NOKEY_CONF" ""
pgpe() { pgp_capture --config "$CONF" --repo "$REPO" "$@"; }

# archive_command through the encrypted configuration (the wrapper of lib.sh passes none).
wrapper="$(cluster_dir src)/archive.sh"
mkdir_pg "$(cluster_dir src)"
{
    printf '#!/bin/sh\n'
    printf 'export ASAN_OPTIONS=%q UBSAN_OPTIONS=%q\n' "$ASAN_OPTIONS" "$UBSAN_OPTIONS"
    repo_env_exports
    # shellcheck disable=SC2016  # $1 is for the wrapper script
    printf 'exec %q --config %q --repo %q archive-push --jobs 2 "$1" 2>>%q\n' "$PGPITR" "$CONF" "$REPO" \
        "$WORK/log/pgpitr.log"
} >"$wrapper"
chmod 0755 "$wrapper"
own "$wrapper"

pg_init src
pg_conf src "archive_mode = on" "archive_command = '$wrapper %p'" "archive_timeout = 0"
pg_start src
marker="pgpitr-marker-$(openssl rand -hex 8)"
psql_c src "CREATE TABLE secret(id int, v text)"
psql_c src "INSERT INTO secret SELECT g, '$marker-before' FROM generate_series(1, 2000) g"
# A table above 8 MiB: stored as chunks and a chunk list (docs/chunking.md).
psql_c src "CREATE TABLE big AS SELECT g AS id, md5(g::text) || '$marker' AS v FROM generate_series(1, 200000) g"
wait_archived src "$(switch_wal src)"
assert_contains "$(repo_read "$REPO" repo.json)" '"encryption": "aes-256-gcm"' "repo.json records the encryption"
assert_contains "$(repo_read "$REPO" keys/repo-key.json)" pgpitr-repository-key "the key document"

log "backup"
pgpe backup --pg-conn "$(conninfo src)" --label enc1 --output json
assert_rc 0 "pgpitr backup into the encrypted repository"
assert_gt "$(jq -r '.chunked_files // 0' <<<"$OUT")" 0 "files stored as chunks"
big_md5=$(psql_c src "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM big")
psql_c src "INSERT INTO secret SELECT g, '$marker-after' FROM generate_series(2001, 2100) g"
psql_c src "SELECT pg_create_restore_point('enc_rp')" >/dev/null
psql_c src "INSERT INTO secret SELECT g, 'too-late' FROM generate_series(3001, 3100) g"
wait_archived src "$(switch_wal src)"

log "no plaintext in the repository"
grep -rqs -- "$marker" "$(cluster_data src)/pg_wal" || fail "the marker is not even in pg_wal: the check below proves nothing"
n=0
while read -r key; do
    n=$((n + 1))
    repo_read "$REPO" "$key" >"$WORK/tmp/object"
    if grep -aq -- "$marker" "$WORK/tmp/object"; then
        fail "the marker appears in clear in $key"
    fi
done < <(repo_keys "$REPO")
assert_gt "$n" 10 "objects checked for the marker"
log "$n objects checked"
# Every WAL and backup object, PostgreSQL's backup_manifest and pgpitr's manifest are in the
# encrypted format; names are keyed: PG_VERSION's
# content ("15\n") is stored, but not under its plain SHA-256.
repo_keys "$REPO" >"$WORK/keys"   # (a pipe cut short by grep -m would be SIGPIPE)
wal_key=$(grep -m 1 '^archive/wal/' "$WORK/keys")
obj_key=$(grep -m 1 '^objects/' "$WORK/keys")
pgm_key=$(grep -m 1 '^backup/enc1/backup_manifest' "$WORK/keys")
for key in "$wal_key" "$obj_key" "$pgm_key" backup/enc1/manifest.json; do
    repo_read "$REPO" "$key" >"$WORK/tmp/object"
    assert_eq PGPITRE "$(head -c 7 "$WORK/tmp/object")" "magic of $key"
done
rm -f "$WORK/tmp/object"
plain=$(sha256sum <"$(cluster_data src)/PG_VERSION" | cut -d' ' -f1)
if grep -q "$plain" "$WORK/keys"; then
    fail "an object is named by the plain SHA-256 of PG_VERSION"
fi

log "wrong or missing keys: exit 14, nothing written"
before=$(repo_listing "$REPO" | md5sum)
pgp_capture --config "$NOKEY_CONF" --repo "$REPO" info
assert_rc 14 "info without a key"
assert_contains "$ERR" "no encryption key is configured" "missing key message"
write_conf "$WORK/wrong.conf" "$OTHER_KEY"
pgp_capture --config "$WORK/wrong.conf" --repo "$REPO" backup --pg-conn "$(conninfo src)" --label wrong
assert_rc 14 "backup with a wrong master key"
assert_contains "$ERR" "wrong master key" "wrong key message"
chmod 0644 "$OTHER_KEY"
pgp_capture --config "$WORK/wrong.conf" --repo "$REPO" info
assert_rc 14 "a key file readable by others"
assert_eq "$before" "$(repo_listing "$REPO" | md5sum)" "repository listing after the refused commands"
# An unencrypted repository stays unencrypted: encryption configured against it is refused.
PLAIN=$(repo_url plain)
seg_now=$(psql_c src "SELECT pg_walfile_name(pg_current_wal_lsn())")
pgp_capture --config "$NOKEY_CONF" --repo "$PLAIN" archive-push "$(cluster_data src)/pg_wal/$seg_now"
assert_rc 0 "a push into a new unencrypted repository"
pgp_capture --config "$CONF" --repo "$PLAIN" info
assert_rc 3 "encryption configured against an unencrypted repository"
assert_contains "$ERR" "repository is not encrypted" "mismatch message"
assert_one_line_error "mismatch"

log "verify"
pgpe verify --jobs 2
assert_rc 0 "verify of the encrypted repository ($OUT $ERR)"

log "restore to the restore point"
pg_stop src
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
NEW=$(cluster_data dst)
pgpe restore --pgdata "$NEW" --target-name enc_rp
assert_rc 0 "pgpitr restore from the encrypted repository"
assert_contains "$(cat "$NEW/postgresql.auto.conf")" "--config" "restore_command finds the key through the configuration"
start_restored dst
assert_eq 2000 "$(psql_c dst "SELECT count(*) FROM secret WHERE v = '$marker-before'")" "rows from the backup"
assert_eq 100 "$(psql_c dst "SELECT count(*) FROM secret WHERE v = '$marker-after'")" "rows replayed from encrypted WAL"
assert_eq 0 "$(psql_c dst "SELECT count(*) FROM secret WHERE v = 'too-late'")" "rows after the restore point"
assert_eq "$big_md5" "$(psql_c dst "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM big")" "the chunked table"
pg_stop dst
if grep -q "prefetch: cannot open repository" "$WORK/log/pgpitr.log"; then
    fail "the prefetcher could not open the encrypted repository"
fi

log "a second backup, expire the first: the chunks both share stay"
pg_start src
pgpe backup --pg-conn "$(conninfo src)" --label enc2
assert_rc 0 "second backup"
pgpe expire --retain-full 1
assert_rc 0 "expire in the encrypted repository ($ERR)"
assert_repo_absent "$REPO" backup/enc1 "the expired backup"
pgpe verify --jobs 2
assert_rc 0 "verify after expire ($OUT $ERR)"
pg_stop src

# drill_ok WHAT: a drill of the newest backup to the latest archived WAL passes, and info
# reads its (encrypted) report back as the latest drill.
drill_ok() {
    mkdir_pg "$WORK/dtmp"
    TMPDIR="$WORK/dtmp" pgpe drill --max-tables 20 --output json
    assert_rc 0 "drill $1 ($ERR)"
    local id
    id=$(jq -r .id <<<"$OUT")
    assert_eq passed "$(jq -r .status <<<"$OUT")" "drill $1: status"
    pgpe info --output json
    assert_eq "$id" "$(jq -r .latest_drill.id <<<"$OUT")" "info's latest drill after the drill $1"
}
log "a drill before the rotation"
drill_ok "before the rotation"

log "key rotate"
NEW_KEY="$WORK/new.key"
openssl rand -hex 32 >"$NEW_KEY"
chmod 0600 "$NEW_KEY"
own "$NEW_KEY"
doc_before=$(repo_read "$REPO" keys/repo-key.json)
objects_before=$(repo_listing "$REPO" | grep -v '^keys/' | md5sum)
pgpe key rotate
assert_rc 2 "key rotate without a new key"
# One rotation at a time: a live key lock holder (another rotation) refuses this one.
sleep 600 &
HOLDER_PID=$!
track_pid "$HOLDER_PID"
jq -n --arg host "$(uname -n)" --arg boot "$(cat /proc/sys/kernel/random/boot_id)" \
    --argjson pid "$HOLDER_PID" --argjson start "$(sed -E 's/^.*\) //' "/proc/$HOLDER_PID/stat" | cut -d' ' -f20)" \
    --arg since "$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)" --arg beat "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '{kind: "key", command: "key rotate", pid: $pid, host: $host, boot_id: $boot,
      proc_start: $start, since: $since, heartbeat: $beat}' | repo_write "$REPO" locks/key-test.json
pgpe key rotate --new-key-file "$NEW_KEY"
assert_rc 13 "key rotate while another rotation holds the key lock"
assert_contains "$ERR" "locked by key rotate (pid $HOLDER_PID " "the error names the other rotation"
assert_eq "$doc_before" "$(repo_read "$REPO" keys/repo-key.json)" "the key document after the refused rotation"
kill -TERM "$HOLDER_PID"
wait "$HOLDER_PID" 2>/dev/null || true
untrack_pid "$HOLDER_PID"
repo_rm "$REPO" locks/key-test.json
pgpe key rotate --new-key-file "$NEW_KEY"
assert_rc 0 "key rotate ($ERR)"
assert_ne "$doc_before" "$(repo_read "$REPO" keys/repo-key.json)" "the key document after rotation"
assert_eq "$objects_before" "$(repo_listing "$REPO" | grep -v '^keys/' | md5sum)" "no object touched by the rotation"
pgpe info
assert_rc 14 "the old master key after rotation"
write_conf "$CONF" "$NEW_KEY"
pgpe verify --jobs 2
assert_rc 0 "verify with the new master key ($OUT $ERR)"
log "a drill after the rotation"
drill_ok "after the rotation"

log "a tampered WAL object"
repo_keys "$REPO" >"$WORK/keys"
seg_key=$(grep -E '^archive/wal/.*/[0-9A-F]{24}-' "$WORK/keys" | tail -n 1)
seg=$(basename "$seg_key")
seg=${seg%%-*}
repo_corrupt "$REPO" "$seg_key"
pgpe archive-get "$seg" "$WORK/tmp/$seg"
assert_gt "$RC" 125 "archive-get of a tampered object (exit $RC: $ERR)"
assert_absent "$WORK/tmp/$seg" "no file from a tampered object"
log "ok"
