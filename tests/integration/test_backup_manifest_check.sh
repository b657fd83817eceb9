#!/usr/bin/env bash
# Every received file is checked against the server's backup_manifest, whose checksums pgpitr
# now asks for as CRC32C: a byte changed between what the server read (and checksummed) and
# what pgpitr received fails the backup, naming the file, and leaves nothing restorable.
# The change is made by pg_flip_proxy.py, a protocol proxy that follows the tar stream and
# flips the first content byte of one file; through the same proxy without the flip the
# backup succeeds (the proxy alone changes nothing). A file stored as chunks (8 MiB or more,
# docs/chunking.md) is checked as a whole: its first byte flipped fails the backup too.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
psql_c src "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g"
psql_c src "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 160000) g"
psql_c src "CHECKPOINT"
big=$(psql_c src "SELECT pg_relation_filepath('big')")
assert_gt "$(psql_c src "SELECT pg_relation_size('big')")" $((8 * 1024 * 1024)) "size of $big"
wait_archived src "$(switch_wal src)"

SOCK="$(cluster_dir src)/.s.PGSQL.$(cluster_port src)"
PROXY_PID=""
start_proxy() {  # extra proxy args... (the file altered: $FLIP, default PG_VERSION)
    PROXY_PORT=$(free_port)
    python3 "$(dirname "$0")/pg_flip_proxy.py" "$PROXY_PORT" "$SOCK" "${FLIP:-PG_VERSION}" "$@" \
        2>"$WORK/proxy.err" &
    PROXY_PID=$!
    track_pid "$PROXY_PID"
    for _ in $(seq 1 50); do
        port_in_use "$PROXY_PORT" && return 0
        sleep 0.1
    done
    fail "the proxy did not listen on $PROXY_PORT: $(cat "$WORK/proxy.err")"
}
stop_proxy() { kill -TERM "$PROXY_PID"; wait "$PROXY_PID" || true; untrack_pid "$PROXY_PID"; }
via_proxy() {
    printf 'host=127.0.0.1 port=%s user=postgres sslmode=disable gssencmode=disable' "$PROXY_PORT"
}

log "through the proxy, unchanged: the backup succeeds"
start_proxy --no-flip
pgp_capture --repo "$REPO" backup --pg-conn "$(via_proxy)" --label relayed --output json
assert_rc 0 "backup through the proxy without a flip"
assert_repo_has "$REPO" backup/relayed/manifest.json "manifest of the relayed backup"
stop_proxy

log "through the proxy, PG_VERSION's first byte flipped: the manifest check fails the backup"
start_proxy
pgp_capture --repo "$REPO" backup --pg-conn "$(via_proxy)" --label flipped
assert_ne 0 "$RC" "exit status of a backup whose PG_VERSION was altered in transit"
assert_contains "$(cat "$WORK/proxy.err")" "flipped PG_VERSION" "the proxy altered PG_VERSION"
assert_one_line_error "altered PG_VERSION"
assert_contains "$ERR" '"PG_VERSION": received content has crc32c' "error names the file"
assert_contains "$ERR" "backup_manifest says CRC32C 8a744722" "error gives the server's CRC32C"
assert_contains "$ERR" "is not restorable" "error says the backup is not restorable"
assert_repo_absent "$REPO" backup/flipped/manifest.json "manifest of the altered backup"
stop_proxy

log "through the proxy, the first byte of $big (stored as chunks) flipped: the backup fails"
FLIP=$big start_proxy
pgp_capture --repo "$REPO" backup --pg-conn "$(via_proxy)" --label flipped2
assert_ne 0 "$RC" "exit status of a backup whose $big was altered in transit"
assert_contains "$(cat "$WORK/proxy.err")" "flipped $big" "the proxy altered $big"
assert_contains "$ERR" "\"$big\": received content has crc32c" "error names the chunked file"
assert_repo_absent "$REPO" backup/flipped2/manifest.json "manifest of the altered backup"
stop_proxy

pgp_capture --repo "$REPO" info --output json
assert_rc 0 "info"
assert_eq relayed "$(jq -r '[.backups[] | select(.restorable) | .label] | join(",")' <<<"$OUT")" \
    "restorable backups"
# (the second failed backup removed what the first left, as every backup does)
assert_eq incomplete "$(jq -r '.backups[] | select(.label == "flipped2") | .status' <<<"$OUT")" \
    "status of the altered backup"
pg_stop src
log "ok"
