#!/usr/bin/env bash
# 1 GiB WAL segments (initdb --wal-segsize=1024, the largest PostgreSQL allows) end to end with
# default settings: archive-push, pgpitr backup, pgpitr restore, and recovery through the
# plain restore_command that restore writes, with the prefetch spool on by default (its default
# size adapts to the segment size: before, every archive-get failed because the fixed 512 MiB
# could not hold one segment). The restored server replays every archived segment, some from
# the spool, with no warning, and has exactly the source's rows. wal_init_zero = off keeps the
# fresh segments sparse, so the test costs about what moving and hashing a few GiB of mostly
# zeros costs (about 1 minute; 2 under ASan).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

SEG=$((1024 * 1024 * 1024))
t0=$(date +%s)
pg_init src --wal-segsize=1024
pg_enable_archiving src "$REPO"
pg_conf src "min_wal_size = 2GB" "max_wal_size = 4GB" "wal_keep_size = 0" "wal_init_zero = off"
pg_start src
assert_eq 1GB "$(psql_c src "SHOW wal_segment_size")" "wal_segment_size"
psql_c src "CREATE TABLE t(id int PRIMARY KEY, note text)"
psql_c src "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g"

log "backup"
backup_of src base1
log "work after the backup: two more segments"
for i in 1 2; do
    psql_c src "INSERT INTO t SELECT g, md5(g::text) FROM generate_series($i * 1000 + 1, $i * 1000 + 1000) g"
    last=$(switch_wal src)
done
wait_archived src "$last"
assert_eq 0 "$(psql_c src "SELECT failed_count FROM pg_stat_archiver")" "failed archive-push calls"
expect=$(psql_c src "SELECT count(*) || ':' || md5(string_agg(id || note, ',' ORDER BY id)) FROM t")
pg_stop src
obj=$(repo_find "$REPO" archive/wal "$last-*")
[ -n "$obj" ] || fail "no archived object for $last"
log "archived up to $last ($(repo_bytes "$REPO") bytes in the repository)"

log "restore and recover with default settings"
restore_to dst >/dev/null
assert_contains "$(cat "$(cluster_data dst)/postgresql.auto.conf")" "archive-get %f" "restore_command"
# Only to see where each segment came from (restore_command inherits the server's environment).
PGPITR_LOG_LEVEL=info start_restored dst
assert_eq "$expect" "$(psql_c dst "SELECT count(*) || ':' || md5(string_agg(id || note, ',' ORDER BY id)) FROM t")" \
    "rows of t after recovery"
log_file="$WORK/dst/server.log"
grep -q "restored log file \"$last\" from archive" "$log_file" ||
    fail "the last archived segment $last was not restored: $(grep -E 'restore|FATAL' "$log_file" | tail -n 5)"
if grep -E 'pgpitr: (warn|error)' "$log_file"; then
    fail "archive-get or the prefetcher complained during recovery with default settings"
fi
check_san_stderr "$log_file" "archive-get and the prefetcher (server log)"
n=$(grep -c 'restored log file "[0-9A-F]\{24\}" from archive' "$log_file" || true)
assert_gt "$n" 2 "segments restored through archive-get"
hits=$(grep -c 'pgpitr: info: restored "[0-9A-F]\{24\}" from the prefetch spool' "$log_file" || true)
log "$n segments restored, $hits of them from the prefetch spool"
assert_gt "$hits" 0 "segments served from the default prefetch spool"
size=$(psql_c dst "SHOW wal_segment_size")
assert_eq 1GB "$size" "wal_segment_size of the restored server"
pg_stop dst
log "ok ($n segments of $SEG bytes replayed, $(($(date +%s) - t0)) s)"
