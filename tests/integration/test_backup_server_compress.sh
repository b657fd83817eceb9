#!/usr/bin/env bash
# pgpitr backup --server-compress zstd:1: the server compresses the BASE_BACKUP stream
# (archives arrive as base.tar.zst), pgpitr decompresses, hashes and stores as before. The
# backup receives far fewer bytes than one without, checks every file against the server's
# CRC32C backup_manifest (what pgpitr asks for now), stores the same objects, and restores
# identically: pg_verifybackup on the restored directory, pgbench_accounts row for row,
# pg_amcheck clean. Bad values of the option and of the config key are refused with one line.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

accounts_md5() {
    psql_c "$1" "SELECT md5(string_agg(aid || ':' || bid || ':' || abalance || ':' || filler, ',' ORDER BY aid)) FROM pgbench_accounts"
}

log "bad values are refused before anything is done"
for bad in gzip zstd:0 zstd:23 zstd:abc "zstd:" lz4:1 "zstd:1,workers=2"; do
    pgp_capture --repo "$REPO" backup --pg-conn "host=/nonexistent" --server-compress "$bad"
    assert_rc 3 "--server-compress $bad"
    assert_one_line_error "--server-compress $bad"
    assert_contains "$ERR" "invalid --server-compress" "error names the option for $bad"
done
mkdir -p "$WORK/cfg"
printf '[global]\nserver-compress = zstd:99\n' >"$WORK/cfg/pgpitr.conf"
chmod -R a+rX "$WORK/cfg"
pgp_capture --config "$WORK/cfg/pgpitr.conf" --repo "$REPO" backup --pg-conn "host=/nonexistent"
assert_rc 3 "config key server-compress = zstd:99"
assert_one_line_error "config key server-compress = zstd:99"
assert_contains "$ERR" "zstd:99" "error quotes the bad config value"

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
# Scale 3: pgbench_accounts (~40 MB) takes the compress-while-receiving path (>= 32 MiB),
# where the CRC-32C is computed in the chain's thread; the small files in the pool's workers.
pgbench_c src -i -q -s 3
psql_c src "CHECKPOINT"
wait_archived src "$(switch_wal src)"

log "backup without server compression"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label plain --jobs 2 --output json
assert_rc 0 "pgpitr backup (no server compression)"
size=$(jq -r .size <<<"$OUT")
plain_rx=$(jq -r .received_bytes <<<"$OUT")
assert_eq none "$(jq -r .server_compress <<<"$OUT")" "server_compress of the plain backup"
assert_gt "$plain_rx" "$size" "bytes received without server compression (tar headers included)"

log "backup with --server-compress zstd:1"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label zs --jobs 2 \
    --server-compress zstd:1 --output json
assert_rc 0 "pgpitr backup --server-compress zstd:1"
printf '%s\n' "$OUT"
zs_rx=$(jq -r .received_bytes <<<"$OUT")
assert_eq zstd:1 "$(jq -r .server_compress <<<"$OUT")" "server_compress of the compressed backup"
# The same files (backup_label and a few others differ by a few bytes between two backups).
zs_size=$(jq -r .size <<<"$OUT")
assert_gt "$zs_size" $((size - 65536)) "data size with server compression (plain: $size)"
assert_gt $((size + 65536)) "$zs_size" "data size with server compression (plain: $size)"
# pgbench data compresses more than tenfold; a quarter is a loose, robust bound.
assert_gt $((size / 4)) "$zs_rx" "bytes received with server compression (vs $size of data)"
log "received: $plain_rx bytes plain, $zs_rx bytes with server zstd:1 ($size bytes of data)"
# Nothing but a few small files changed in between: decompressed, the stream gives the very
# objects of the plain backup (its relation files were all stored already).
assert_gt "$(jq -r .reused_files <<<"$OUT")" $(( $(jq -r .files <<<"$OUT") - 20 )) \
    "files of the compressed stream already stored by the plain backup"

log "text summary names the received bytes"
psql_c src "CHECKPOINT"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label zs-text --server-compress zstd
assert_rc 0 "pgpitr backup --server-compress zstd (server's default level)"
assert_contains "$OUT" "(server zstd)" "text summary says the server compressed"
assert_contains "$OUT" "received " "text summary gives the received bytes"

# PostgreSQL's backup_manifest of the backup: CRC32C checksums (what pgpitr asked for).
man_key=$(repo_keys "$REPO" backup/zs | grep -E '/backup_manifest' | head -n 1)
[ -n "$man_key" ] || fail "no backup_manifest object for backup zs: $(repo_keys "$REPO" backup/zs)"
repo_read "$REPO" "$man_key" >"$WORK/pg_manifest.obj"
case "$man_key" in
    *.zst) zstd -dc "$WORK/pg_manifest.obj" >"$WORK/pg_manifest.json" ;;
    *.lz4) lz4 -dc "$WORK/pg_manifest.obj" >"$WORK/pg_manifest.json" ;;
    *) cp "$WORK/pg_manifest.obj" "$WORK/pg_manifest.json" ;;
esac
algs=$(jq -r '[.Files[]."Checksum-Algorithm"] | unique | join(",")' "$WORK/pg_manifest.json")
assert_eq CRC32C "$algs" "checksum algorithm of the server's backup_manifest"

md5_src=$(accounts_md5 src)
rows_src=$(psql_c src "SELECT count(*) FROM pgbench_accounts")
pg_stop src

log "restore the server-compressed backup"
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
NEW=$(cluster_data dst)
pgp_capture --repo "$REPO" restore --pgdata "$NEW" --backup zs --jobs 2 --target-immediate
assert_rc 0 "pgpitr restore of the server-compressed backup"
assert_file "$NEW/backup_manifest" "PostgreSQL's backup_manifest in the restored directory"
as_pg_capture "$PG_BIN/pg_verifybackup" -n -m "$NEW/backup_manifest" "$NEW"
[ "$RC" -eq 0 ] || fail "pg_verifybackup (CRC32C manifest) failed (exit $RC): $OUT $ERR"
start_restored dst
assert_eq "$rows_src" "$(psql_c dst "SELECT count(*) FROM pgbench_accounts")" "pgbench_accounts rows restored"
assert_eq "$md5_src" "$(accounts_md5 dst)" "md5 of pgbench_accounts restored"
as_pg_capture "$PG_BIN/pg_amcheck" -h "$WORK/dst" -p "$(cat "$WORK/dst/port")" -U postgres \
    --all --install-missing --heapallindexed
[ "$RC" -eq 0 ] || fail "pg_amcheck on the restored server (exit $RC): $OUT $ERR"
pg_stop dst

pgp_capture --repo "$REPO" verify --output json
assert_rc 0 "pgpitr verify of the repository"
log "ok (received $plain_rx -> $zs_rx bytes)"
