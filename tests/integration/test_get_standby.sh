#!/usr/bin/env bash
# Standby mode (standby.signal): "not found" only means "not yet", so archive-get answers every
# missing name with exit 1 and the standby keeps asking. A standby restored from a backup, with
# no primary_conninfo, set up before the next segments are archived: it waits (exit 1 for the
# next segment and for the 00000002.history probe of recovery_target_timeline = 'latest'),
# catches up when they are pushed, keeps waiting (with a warning, not a fatal error) while the
# repository path is an empty directory or does not exist at all, catches up again once it is
# back, and promotes.
# repo-kinds: local -- swaps the repository directory for an empty one (an unmounted mount point) mid-test
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"
# shellcheck source=tests/integration/getexit_lib.sh
source "$HERE/getexit_lib.sh"

REPO="$WORK/repo"
# wait_rows NAME ROWS: until table t of NAME (a hot standby) holds exactly ROWS (60 s).
wait_rows() {
    local i got=""
    for ((i = 0; i < 600; i++)); do
        got=$(rows "$1" 2>/dev/null || true)
        [ "$got" = "$2" ] && return 0
        sleep 0.1
    done
    fail "$1 did not catch up: rows '$got', expected '$2'"
}
# wait_log NAME MARK PATTERN: until NAME's server log has a line matching PATTERN after MARK.
wait_log() {
    local i
    for ((i = 0; i < 600; i++)); do
        log_since "$1" "$2" | grep -Eq -- "$3" && return 0
        sleep 0.1
    done
    fail "no line /$3/ in $1's server log"
}

source_cluster src
wait_archived src "$(switch_wal src)"
backup_of src base1
add_row src 1 >/dev/null
wait_archived src "$(switch_wal src)"

log "a standby from the backup, archive only"
restore_to sb >/dev/null
rm "$(cluster_data sb)/recovery.signal"
as_pg touch "$(cluster_data sb)/standby.signal"
restored_conf sb
pg_conf sb "wal_retrieve_retry_interval = 200ms"
echo "recovery_target_timeline = 'latest'" >>"$(cluster_data sb)/postgresql.auto.conf"
mark=$(log_mark sb)
start_info sb
wait_rows sb "1"
next=$(psql_c src "SELECT pg_walfile_name(pg_current_wal_lsn() + 1)")
wait_log sb "$mark" "\"$next\" is not archived: .*answering \"not archived\""
wait_log sb "$mark" '"00000002.history" is not archived: .*answering "not archived"'
assert_eq t "$(psql_c sb "SELECT pg_is_in_recovery()")" "the standby is in recovery"

log "the next segments are pushed: it catches up"
add_row src 2 >/dev/null
switch_wal src >/dev/null
add_row src 3 >/dev/null
wait_archived src "$(switch_wal src)"
wait_rows sb "1,2,3"
n=$(assert_no_fatal_answer sb "$mark")
log "standby: \"not archived\" $n times so far"
assert_gt "$n" 2 "\"not archived\" answers while the standby waited"

log "the repository path is an empty directory: warnings, the standby keeps waiting"
repo_swap_empty
mark=$(log_mark sb)
for ((i = 0; i < 600; i++)); do   # three retries, none of them fatal
    [ "$(log_since sb "$mark" | grep -c "pgpitr: warn: \"$REPO\" is not a pgpitr repository .*standby mode")" -ge 3 ] && break
    sleep 0.1
done
text=$(log_since sb "$mark")
assert_gt "$(grep -c 'is not a pgpitr repository' <<<"$text")" 2 "warnings while the repository was not mounted"
if grep -E 'pgpitr: error|exit code 255|FATAL' <<<"$text"; then
    fail "the standby got a fatal answer while the repository was not mounted"
fi
assert_eq t "$(psql_c sb "SELECT pg_is_in_recovery()")" "the standby still waits"
assert_eq "" "$(find "$REPO" -mindepth 1)" "entries archive-get left in the empty directory"
repo_swap_back
add_row src 4 >/dev/null
wait_archived src "$(switch_wal src)"
wait_rows sb "1,2,3,4"

log "the repository path does not exist at all (a directory under a mount point that is gone)"
mv "$REPO" "$REPO.gone"
mark=$(log_mark sb)
for ((i = 0; i < 600; i++)); do
    [ "$(log_since sb "$mark" | grep -c "pgpitr: warn: cannot read repository \"$REPO\": .*does not exist .*standby mode")" -ge 3 ] && break
    sleep 0.1
done
text=$(log_since sb "$mark")
assert_gt "$(grep -c 'cannot read repository' <<<"$text")" 2 "warnings while the repository path was missing"
if grep -E 'pgpitr: error|exit code 255|FATAL' <<<"$text"; then
    fail "the standby got a fatal answer while the repository path was missing"
fi
assert_eq t "$(psql_c sb "SELECT pg_is_in_recovery()")" "the standby still waits"
assert_absent "$REPO" "archive-get created the missing repository path"
mv "$REPO.gone" "$REPO"
add_row src 5 >/dev/null
wait_archived src "$(switch_wal src)"
wait_rows sb "1,2,3,4,5"

log "promotion"
mark=$(log_mark sb)
as_pg "$PG_BIN/pg_ctl" -D "$(cluster_data sb)" -w promote >/dev/null || fail "pg_ctl promote"
wait_promoted sb
psql_c sb "CHECKPOINT" # pg_control_checkpoint() shows the new timeline after a checkpoint
assert_eq 2 "$(timeline_of sb)" "timeline of the promoted standby"
n=$(assert_no_fatal_answer sb "$mark")
log "promotion: \"not archived\" $n times: $(not_archived_answers sb "$mark" | tr '\n' ' ')"
pg_stop src
log "ok"
