#!/usr/bin/env bash
# End to end: a base backup without WAL (-X none) recovers every later transaction only
# through restore_command = pgpitr archive-get, then promotes (and archives its new timeline's
# history file through pgpitr).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

pg_init primary
pg_enable_archiving primary "$REPO"
pg_start primary
pgbench_c primary -i -q -s 2

log "base backup (-X none)"
mkdir_pg "$WORK/copy"
as_pg "$PG_BIN/pg_basebackup" -h "$(cluster_dir primary)" -p "$(cluster_port primary)" -U postgres \
    -D "$WORK/copy/data" -Fp -X none -c fast --no-sync >"$WORK/copy/basebackup.log" 2>&1 ||
    { cat "$WORK/copy/basebackup.log" >&2; fail "pg_basebackup failed"; }

# The backup history file (NAME.OFFSET.backup) was archived as well, under its own name.
bfile=$(find "$(cluster_data primary)/pg_wal" -maxdepth 1 -name '*.backup' | sort | tail -n 1)
[ -n "$bfile" ] || fail "no .backup file in the primary's pg_wal after pg_basebackup"
bname=$(basename "$bfile")
for ((i = 0; i < 150; i++)); do
    [ -e "$(cluster_data primary)/pg_wal/archive_status/$bname.done" ] && break
    sleep 0.2
done
assert_file "$(cluster_data primary)/pg_wal/archive_status/$bname.done" "$bname archived"
assert_repo_has "$REPO" "$(repo_object_key "$bname" "$(sha256_of "$bfile")" .zst)" "object of $bname"
archive_get_cmp "$REPO" "$bname" "$bfile"

log "writes after the backup"
psql_c primary "CREATE TABLE after_backup(id int PRIMARY KEY, note text)"
psql_c primary "INSERT INTO after_backup SELECT g, 'row ' || g FROM generate_series(1, 5000) g"
pgbench_c primary -c 2 -j 2 -t 500 -n
seg1=$(switch_wal primary)
psql_c primary "INSERT INTO after_backup VALUES (1000000, 'the very last row')"
psql_c primary "UPDATE pgbench_branches SET bbalance = 424242 WHERE bid = 1"
last_seg=$(switch_wal primary)
log "segments up to $last_seg must be archived (first after backup: $seg1)"
wait_archived primary "$last_seg"

expect_rows=$(psql_c primary "SELECT count(*) FROM after_backup")
expect_hist=$(psql_c primary "SELECT count(*) FROM pgbench_history")
expect_sum=$(psql_c primary "SELECT sum(abalance) FROM pgbench_accounts")
assert_eq 5001 "$expect_rows" "rows on the primary"
assert_gt "$expect_hist" 0 "pgbench_history rows on the primary"
pg_stop primary

# The copy: its own port and socket dir, recovery through pgpitr only.
free_port >"$WORK/copy/port"
rm -f "$WORK/copy/data/postmaster.pid" "$WORK/copy/data/postmaster.opts"
[ -z "$(find "$WORK/copy/data/pg_wal" -mindepth 1 -maxdepth 1 -type f)" ] ||
    fail "the -X none backup unexpectedly contains WAL: $(ls "$WORK/copy/data/pg_wal")"
restore_cmd=$(restore_wrapper copy "$REPO")
archive_cmd=$(archive_wrapper copy "$REPO")
pg_conf copy "" "# recovery copy" \
    "port = $(cat "$WORK/copy/port")" \
    "unix_socket_directories = '$WORK/copy'" \
    "archive_command = '$archive_cmd'" \
    "restore_command = '$restore_cmd'" \
    "recovery_target_action = promote" \
    "recovery_target_timeline = 'latest'"
as_pg touch "$WORK/copy/data/recovery.signal"
log "starting the copy in archive recovery"
pg_start copy
wait_promoted copy

assert_eq "$expect_rows" "$(psql_c copy "SELECT count(*) FROM after_backup")" "after_backup rows on the copy"
assert_eq "the very last row" "$(psql_c copy "SELECT note FROM after_backup WHERE id = 1000000")" "last row on the copy"
assert_eq 424242 "$(psql_c copy "SELECT bbalance FROM pgbench_branches WHERE bid = 1")" "last update on the copy"
assert_eq "$expect_hist" "$(psql_c copy "SELECT count(*) FROM pgbench_history")" "pgbench_history rows on the copy"
assert_eq "$expect_sum" "$(psql_c copy "SELECT sum(abalance) FROM pgbench_accounts")" "sum(abalance) on the copy"

restored=$(grep -c 'restored log file ".*" from archive' "$WORK/copy/server.log" || true)
assert_gt "$restored" 1 "segments restored from the archive by restore_command"
grep -q "restored log file \"$last_seg\" from archive" "$WORK/copy/server.log" ||
    fail "the last archived segment $last_seg was not restored by restore_command"
tli=$(psql_c copy "SELECT timeline_id FROM pg_control_checkpoint()")
log "copy promoted on timeline $tli after restoring $restored files"

# The promoted copy archives its timeline history file through pgpitr.
psql_c copy "CHECKPOINT"
hist=$(printf '%08X.history' 2)
for ((i = 0; i < 300; i++)); do
    [ -n "$(repo_find "$REPO" archive/history "$hist-*")" ] && break
    sleep 0.2
done
hobj=$(repo_find "$REPO" archive/history "$hist-*" | head -n 1)
[ -n "$hobj" ] || fail "$hist was not archived into $REPO/archive/history"
assert_eq "$(repo_object_key "$hist" "$(sha256_of "$WORK/copy/data/pg_wal/$hist")" .zst)" "$hobj" "history object key"
archive_get_cmp "$REPO" "$hist" "$WORK/copy/data/pg_wal/$hist"
assert_eq 0 "$(psql_c copy "SELECT failed_count FROM pg_stat_archiver")" "archiver failures on the promoted copy"
log "ok"
