#!/usr/bin/env bash
# A PITR to a time only production's timeline covers, while a stray timeline 2 exists: a copy
# restored with --archive-mode preserve promoted, archived timeline 2 and stopped; production
# went on on timeline 1. restore --target-time T follows "latest" (2), whose WAL ends before T:
# the error says timeline 2 was followed and why, and names --target-timeline 1, which
# reaches T; with it the rows are exactly those committed up to T. A restore to the newest
# point warns that latest (2) is not production's timeline (1), and --target-timeline
# production follows 1.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"


backed_up_source src base1
sleep 1.1
fork_time=$(utc_now src)
sleep 1.1
wait_archived src "$(switch_wal src)"

log "a copy restored to $fork_time with --archive-mode preserve promotes: timeline 2"
restore_to stray --target-time "$fork_time" --archive-mode preserve >/dev/null
start_restored stray archive
wait_history 00000002.history
add_row stray 100 >/dev/null
wait_archived stray "$(switch_wal stray)"
pg_stop stray

log "production goes on on timeline 1, after the copy's last archived segment"
sleep 1.1
add_row src 2 >/dev/null
sleep 1.1
target=$(utc_now src)
sleep 1.1
add_row src 3 >/dev/null
wait_archived src "$(switch_wal src)"

log "restore --target-time $target: not on latest (2); the error names --target-timeline 1"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/r_fail/data" --target-time "$target"
assert_rc 1 "restore to a time timeline 2 does not reach"
assert_one_line_error "restore --target-time on the stray timeline"
assert_contains "$ERR" "is not archived (yet)" "the error says the WAL ends"
assert_contains "$ERR" "timeline 2 was followed (latest: the highest timeline with a history file in the archive)" \
    "the error names the timeline chosen and why"
assert_contains "$ERR" "HINT: the target is reachable with --target-timeline 1 (production's timeline)" \
    "the hint names the timeline that reaches the target, with the flag"
assert_absent "$WORK/r_fail" "directory of a refused restore"

log "with --target-timeline 1: exactly the rows committed up to $target"
restored_rows r_t1 --target-timeline 1 --target-time "$target"
assert_eq "1,2" "$ROWS" "rows at $target on timeline 1"
assert_contains "$OUT" "timeline 1 (--target-timeline)" "restore says which timeline"

log "to the newest point: latest (2) is followed, with a warning naming production's (1)"
restore_to r_latest >/dev/null
assert_contains "$OUT" "timeline 2 (latest" "restore follows latest"
assert_contains "$ERR" "warn: timeline 2, followed as latest (the highest timeline with a history file), is not production's: timeline 1 is" \
    "restore warns that latest is not production's"
assert_contains "$ERR" "add --target-timeline 1" "the warning says what to do"

log "--target-timeline production: timeline 1 to its newest segment"
restored_rows r_prod --target-timeline production
assert_eq "1,2,3" "$ROWS" "rows on production's timeline"
assert_contains "$OUT" "timeline 1 (production's: it received the most recently archived WAL" \
    "restore says why timeline 1"
assert_contains "$ERR" "warn: timeline 2 has the highest history file" \
    "restore warns that latest is another timeline"
log "ok"
