#!/usr/bin/env bash
# A restored copy does not archive into the repository it came from (issue #9, defect 6). The
# backup's postgresql.conf keeps the source's archive_mode = on and archive_command (into
# $REPO), and its postgresql.auto.conf holds a recovery target left by an earlier restore
# (recovery_target = 'immediate', as postgresql.auto.conf keeps it after promotion).
# - Default restore: the copy reaches the newest point (the stale target does not apply),
#   promotes with archive_mode off, and the repository gains no timeline 2 (no history file,
#   no segment), so a later default restore still follows production's timeline 1.
# - --archive-mode preserve: the promoted PITR archives 00000002.history into the repository.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

timeline2_objects() { repo_find "$REPO" archive '00000002*'; }

# start_copy NAME: start a restored cluster on its own port and socket, changing nothing else
# of its configuration (unlike start_restored, which turns archiving off itself).
start_copy() {
    pg_conf "$1" "" "# restored copy" "port = $(cat "$WORK/$1/port")" \
        "unix_socket_directories = '$WORK/$1'"
    pg_start "$1"
    wait_promoted "$1"
}

source_cluster src
psql_c src "ALTER SYSTEM SET recovery_target = 'immediate'"   # ignored without recovery.signal
wait_archived src "$(switch_wal src)"
backup_of src base1
add_row src 1 >/dev/null
add_row src 2 >/dev/null
wait_archived src "$(switch_wal src)"

log "a copy for inspection: restored with the defaults"
restore_to copy >/dev/null
assert_contains "$OUT" "archiving: archive_mode = off, so this copy will not archive" \
    "restore says that the copy will not archive"
assert_contains "$OUT" "--archive-mode preserve" "restore names the way to keep archiving"
auto=$(cat "$(cluster_data copy)/postgresql.auto.conf")
assert_contains "$auto" "archive_mode = 'off'" "archive_mode written into postgresql.auto.conf"
assert_contains "$auto" "recovery_target = ''" "the stale recovery target is emptied"
start_copy copy
assert_eq off "$(psql_c copy "SHOW archive_mode")" "archive_mode of the promoted copy"
assert_eq 2 "$(timeline_of copy)" "timeline of the promoted copy"
assert_eq "1,2" "$(rows copy)" "rows of the copy (the newest point, not 'immediate')"
add_row copy 100 >/dev/null
switch_wal copy >/dev/null
assert_eq "0 0" "$(psql_c copy "SELECT archived_count || ' ' || failed_count FROM pg_stat_archiver")" \
    "archiver activity of the copy"
pg_stop copy

log "production goes on; the next default restore follows timeline 1"
add_row src 3 >/dev/null
wait_archived src "$(switch_wal src)"
restored_rows r_latest
assert_eq "1,2,3" "$ROWS" "rows of a later default restore (production's newest)"
assert_contains "$OUT" "along timeline 1" "the later restore follows timeline 1"
# Checked last, seconds after the copy's promotion and WAL switch: nothing of timeline 2.
assert_eq "" "$(timeline2_objects)" "timeline 2 objects in the repository"

log "--archive-mode preserve: a PITR that replaces production archives its new timeline"
restore_to pitr --archive-mode preserve >/dev/null
assert_contains "$OUT" "archiving: kept from the backup (--archive-mode preserve)" \
    "restore says that archiving is kept"
auto=$(cat "$(cluster_data pitr)/postgresql.auto.conf")
case "$auto" in
    *"archive_mode = 'off'"*) fail "preserve wrote archive_mode = off" ;;
esac
start_copy pitr
assert_eq on "$(psql_c pitr "SHOW archive_mode")" "archive_mode of the promoted PITR"
assert_eq "1,2,3" "$(rows pitr)" "rows of the PITR"
for ((i = 0; i < 300; i++)); do
    [ -n "$(repo_find "$REPO" archive/history '00000002.history-*')" ] && break
    sleep 0.1
done
[ -n "$(repo_find "$REPO" archive/history '00000002.history-*')" ] ||
    fail "00000002.history of the PITR was not archived"
pg_stop pitr
log "ok"
