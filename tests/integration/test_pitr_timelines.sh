#!/usr/bin/env bash
# Timelines: a first PITR promotes (timeline 2) and, archiving into the same repository,
# archives 00000002.history and timeline 2's WAL, while the source goes on writing on
# timeline 1. A later restore to the latest point follows timeline 2 (timeline 1 up to the
# fork, then 2), one with --target-timeline 2 and an LSN on it stops there, and one with
# --target-timeline 1 and an LSN after the fork replays the source's timeline 1. A backup
# that cannot be on the requested timeline's history is refused with --backup.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

hist_object() { repo_find "$REPO" archive/history "$1-*" | head -n 1; }

source_cluster src
wait_archived src "$(switch_wal src)"
backup_of src base1
sleep 2
add_row src 1 >/dev/null
sleep 1.1
fork_time=$(utc_now src)
sleep 1.1
add_row src 2 >/dev/null
wait_archived src "$(switch_wal src)"

log "first PITR, to $fork_time, archiving into the same repository"
restore_to pitr --target-time "$fork_time" --archive-mode preserve >/dev/null
start_restored pitr archive
assert_eq "1" "$(rows pitr)" "rows on the first PITR"
assert_eq 2 "$(timeline_of pitr)" "timeline of the promoted PITR"
for ((i = 0; i < 300; i++)); do
    [ -n "$(hist_object 00000002.history)" ] && break
    sleep 0.1
done
[ -n "$(hist_object 00000002.history)" ] || fail "00000002.history was not archived"
add_row pitr 100 >/dev/null
lsn_t2=$(insert_lsn pitr)
add_row pitr 101 >/dev/null
wait_archived pitr "$(switch_wal pitr)"
pg_stop pitr

log "the source goes on on timeline 1 after the fork"
add_row src 3 >/dev/null
lsn_t1=$(insert_lsn src)
add_row src 4 >/dev/null
wait_archived src "$(switch_wal src)"
log "timeline 2 at $lsn_t2, timeline 1 at $lsn_t1"

log "latest: timeline 2"
restored_rows r_latest
assert_eq "1,100,101" "$ROWS" "rows at the latest point (timeline 2)"
assert_contains "$OUT" "timeline 2 (latest" "restore says which timeline"
assert_contains "$OUT" "1 -> 2 at" "restore shows the history path"
assert_contains "$(cat "$(cluster_data r_latest)/postgresql.auto.conf")" "recovery_target_timeline = '2'" \
    "timeline written as a number"
grep -q 'restored log file "00000002.history" from archive' "$WORK/r_latest/server.log" ||
    fail "recovery did not fetch 00000002.history"

log "an LSN on timeline 2"
restored_rows r_t2 --target-timeline 2 --target-lsn "$lsn_t2"
assert_eq "1,100" "$ROWS" "rows at $lsn_t2 on timeline 2"

log "an LSN on timeline 1 after the fork"
restored_rows r_t1 --target-timeline 1 --target-lsn "$lsn_t1"
assert_eq "1,2,3" "$ROWS" "rows at $lsn_t1 on timeline 1"
assert_contains "$OUT" "timeline 1 (--target-timeline)" "restore says which timeline"

log "a backup taken on timeline 1 after the fork is not on timeline 2's history"
backup_of src late1
pgp_capture --repo "$REPO" restore --pgdata "$WORK/n_late/data" --backup late1 --target-timeline 2
assert_rc 2 "restore of a backup off the requested timeline"
assert_one_line_error "restore --backup late1 --target-timeline 2"
assert_icontains "$ERR" "backup \"late1\" cannot reach timeline 2: that timeline forked off timeline 1 at" \
    "error names the fork"
assert_absent "$WORK/n_late" "directory of a refused restore"
log "without --backup, the latest point still comes from base1 (late1 is on timeline 1)"
restore_to r_sel >/dev/null
assert_contains "$OUT" "restoring backup base1" "base1 chosen for timeline 2"
assert_contains "$OUT" "1 not on this timeline" "the newer backup off the timeline is mentioned"
log "ok"
