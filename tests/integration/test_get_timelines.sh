#!/usr/bin/env bash
# Requests that must stay "not archived" (exit 1) in archive recovery, against a real server:
# a PITR to a time while timeline 1 goes on in the archive (the end-of-recovery probes for the
# new timeline's history file and its parent's), then a restore to the latest point that
# follows timeline 2 across the switch with recovery_target_timeline = 'latest' (PostgreSQL
# probes 00000003.history at the start and again at the end). No request gets a fatal answer
# or a warning, and each "not archived" answer is in the server log (archive-get at info).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"
# shellcheck source=tests/integration/getexit_lib.sh
source "$HERE/getexit_lib.sh"

hist_object() { repo_find "$REPO" archive/history "$1-*" | head -n 1; }

source_cluster src
wait_archived src "$(switch_wal src)"
backup_of src base1
add_row src 1 >/dev/null
sleep 1.1
fork_time=$(utc_now src)
sleep 1.1
add_row src 2 >/dev/null
wait_archived src "$(switch_wal src)"

log "a PITR to $fork_time, archiving into the repository: timeline 2"
restore_to pitr --target-time "$fork_time" --archive-mode preserve >/dev/null
mark=$(log_mark pitr)
PGPITR_LOG_LEVEL=info start_restored pitr archive
assert_eq "1" "$(rows pitr)" "rows on the PITR"
psql_c pitr "CHECKPOINT"
assert_eq 2 "$(timeline_of pitr)" "timeline of the PITR"
n=$(assert_no_fatal_answer pitr "$mark")
answers=$(not_archived_answers pitr "$mark" | tr '\n' ' ')
log "PITR: \"not archived\" $n times: $answers"
assert_contains "$answers" "00000002.history" "the probe for the new timeline's history file"
for ((i = 0; i < 300; i++)); do
    [ -n "$(hist_object 00000002.history)" ] && break
    sleep 0.1
done
[ -n "$(hist_object 00000002.history)" ] || fail "00000002.history was not archived"
add_row pitr 100 >/dev/null
add_row pitr 101 >/dev/null
wait_archived pitr "$(switch_wal pitr)"
pg_stop pitr

log "timeline 1 goes on in the archive past the fork"
add_row src 3 >/dev/null
switch_wal src >/dev/null
add_row src 4 >/dev/null
wait_archived src "$(switch_wal src)"
pg_stop src

log "the latest point with recovery_target_timeline = 'latest': across the switch to timeline 2"
restore_to r >/dev/null
restored_conf r
echo "recovery_target_timeline = 'latest'" >>"$(cluster_data r)/postgresql.auto.conf"
mark=$(log_mark r)
start_info r
wait_promoted r
assert_eq "1,100,101" "$(rows r)" "rows at the latest point (timeline 2)"
psql_c r "CHECKPOINT" # pg_control_checkpoint() shows the new timeline after a checkpoint
assert_eq 3 "$(timeline_of r)" "timeline after promotion"
text=$(log_since r "$mark")
grep -q 'restored log file "00000002.history" from archive' <<<"$text" ||
    fail "recovery did not fetch 00000002.history"
grep -q 'restored log file "00000002000000000000000[0-9A-F]" from archive' <<<"$text" ||
    fail "recovery read no segment of timeline 2"
n=$(assert_no_fatal_answer r "$mark")
answers=$(not_archived_answers r "$mark" | tr '\n' ' ')
log "latest: \"not archived\" $n times: $answers"
assert_gt "$(grep -o '00000003.history' <<<"$answers" | wc -l)" 1 \
    "probes for 00000003.history at the start and at the end of recovery"
assert_contains "$answers" "000000020000000000000" "the end of timeline 2's archive"
log "ok"
