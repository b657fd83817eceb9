#!/usr/bin/env bash
# A segment missing in the middle of the WAL a restore needs (removed after `pgpitr restore`
# checked the archive and wrote the directory, as an expire or a lost file would): archive-get
# must not answer "not archived", or PostgreSQL ends recovery at the hole and promotes with
# everything after it lost. The server stops with a fatal error naming the segment, the next
# archived one and the repository, promotes nothing and writes no timeline history; with the
# segment back, it recovers every row. The re-check before the fatal answer is logged.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"
# shellcheck source=tests/integration/getexit_lib.sh
source "$HERE/getexit_lib.sh"

REPO="$WORK/repo"
source_cluster src
wait_archived src "$(switch_wal src)"
backup_of src base1
segs=()
for i in 1 2 3 4 5; do
    add_row src "$i" >/dev/null
    segs+=("$(switch_wal src)")
done
wait_archived src "${segs[4]}"
pg_stop src
hole=${segs[2]} next=${segs[3]}

restore_to r >/dev/null
pg_conf r "" "# restored copy" "port = $(cat "$WORK/r/port")" "unix_socket_directories = '$WORK/r'" \
    "archive_mode = off"
obj=$(find "$REPO/archive/wal" -name "$hole-*")
[ -n "$obj" ] || fail "no archived object for $hole"
log "segments ${segs[*]}; removing $hole after the restore"
mv "$obj" "$WORK/stash"

mark=$(log_mark r)
start_expect_stop r
assert_stopped_not_promoted r "$mark"
text=$(log_since r "$mark")
assert_contains "$text" "pgpitr: error: WAL segment $hole is missing from repository \"$REPO\", but the later segment $next is archived" \
    "archive-get's error names the hole, the next segment and the repository"
assert_contains "$text" "HINT: push $hole from pg_wal of the server that wrote it" "archive-get's hint"
assert_eq 3 "$(grep -c "\"$hole\" looks like a hole in the archive; fetching it again" <<<"$text")" \
    "re-checks before the fatal answer"
assert_contains "$text" "could not restore file \"$hole\" from archive" "PostgreSQL stopped at the hole"
[ -z "$(find "$(cluster_data r)/pg_wal" -maxdepth 1 -name '*.history')" ] ||
    fail "a timeline history file was written: $(ls "$(cluster_data r)/pg_wal")"
[ ! -d "$REPO/archive/history" ] || [ -z "$(ls -A "$REPO/archive/history")" ] ||
    fail "a timeline history file reached the repository"

log "the segment is back: every row"
mv "$WORK/stash" "$obj"
mark=$(log_mark r)
start_info r
wait_promoted r
assert_eq "1,2,3,4,5" "$(rows r)" "rows after recovery with the segment back"
n=$(assert_no_fatal_answer r "$mark")
log "archive-get answered \"not archived\" $n times: $(not_archived_answers r "$mark" | tr '\n' ' ')"
assert_gt "$n" 0 "\"not archived\" answers at the end of the archive"
log "ok"
