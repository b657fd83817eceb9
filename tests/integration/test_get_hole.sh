#!/usr/bin/env bash
# A segment missing in the middle of the WAL a restore needs (removed after `pgpitr restore`
# checked the archive and wrote the directory, as an expire or a lost file would): archive-get
# must not answer "not archived" to a recovery without target, or PostgreSQL ends recovery at
# the hole and promotes with everything after it lost. The server stops with a fatal error
# naming the segment, the next archived one and the repository, promotes nothing and writes no
# timeline history; the re-check before the fatal answer is logged; with the segment back, it
# recovers every row. With a recovery target the hole is "not archived" with a warning:
# PostgreSQL stops by itself short of a target beyond the hole, and a target just before it
# still promotes although PostgreSQL's WAL read-ahead asked for the hole.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"
# shellcheck source=tests/integration/getexit_lib.sh
source "$HERE/getexit_lib.sh"

source_cluster src
wait_archived src "$(switch_wal src)"
backup_of src base1
segs=() lsns=()
for i in 1 2 3 4 5; do
    add_row src "$i" >/dev/null
    lsns+=("$(insert_lsn src)")
    segs+=("$(switch_wal src)")
done
wait_archived src "${segs[4]}"
pg_stop src
hole=${segs[2]} next=${segs[3]}

restore_to r >/dev/null
restored_conf r
restore_to r_after --target-lsn "${lsns[3]}" >/dev/null
restored_conf r_after
obj=$(repo_find "$REPO" archive/wal "$hole-*")
[ -n "$obj" ] || fail "no archived object for $hole"
log "segments ${segs[*]}; removing $hole after the restores"
repo_read "$REPO" "$obj" >"$WORK/stash"
repo_rm "$REPO" "$obj"

log "no target: the server stops at the hole"
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
[ -z "$(repo_keys "$REPO" archive/history)" ] ||
    fail "a timeline history file reached the repository"

log "a target beyond the hole: PostgreSQL stops by itself"
mark=$(log_mark r_after)
start_expect_stop r_after
text=$(log_since r_after "$mark")
assert_contains "$text" "pgpitr: warn: WAL segment $hole is missing" "archive-get's warning names the hole"
assert_contains "$text" "recovery ended before configured recovery target was reached" \
    "PostgreSQL's own stop short of the target"
grep -E 'selected new timeline ID|archive recovery complete' <<<"$text" && fail "r_after promoted"

log "a target just before the hole: promotes (the read-ahead's request is only warned about)"
restore_to r_before --target-lsn "${lsns[1]}" >/dev/null
restored_conf r_before
mark=$(log_mark r_before)
start_info r_before
wait_promoted r_before
assert_eq "1,2" "$(rows r_before)" "rows at ${lsns[1]}"
text=$(log_since r_before "$mark")
assert_contains "$text" "pgpitr: warn: WAL segment $hole is missing" "the read-ahead asked for the hole"
if grep -E 'pgpitr: error|exit code 255' <<<"$text"; then
    fail "a fatal answer to the read-ahead of a recovery that reaches its target"
fi

log "the segment is back: every row"
repo_write "$REPO" "$obj" <"$WORK/stash"
mark=$(log_mark r)
start_info r
wait_promoted r
assert_eq "1,2,3,4,5" "$(rows r)" "rows after recovery with the segment back"
n=$(assert_no_fatal_answer r "$mark")
log "archive-get answered \"not archived\" $n times: $(not_archived_answers r "$mark" | tr '\n' ' ')"
assert_gt "$n" 0 "\"not archived\" answers at the end of the archive"
log "ok"
