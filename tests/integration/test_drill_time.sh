#!/usr/bin/env bash
# pgpitr drill to a time: rows committed one by one at known times after a backup; a drill to a
# time between two commits (given with a +05:30 offset) passes, reports exactly the rows
# committed before it, a reached time at or before the target and the stop line of PostgreSQL,
# and its report validates; a drill to the restore point in between stops there too. A time
# without an offset is refused before anything happens.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

drill_source src
psql_c src "CREATE TABLE t(id int PRIMARY KEY)"
# The backup's stop time is recorded in whole seconds: leave room before the first row.
sleep 2
psql_c src "INSERT INTO t VALUES (1)"
psql_c src "INSERT INTO t VALUES (2)"
sleep 1.1
target=$(psql_c src "SELECT to_char(clock_timestamp() AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+05:30'")
target_utc=$(psql_c src "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || 'Z'")
sleep 1.1
psql_c src "INSERT INTO t VALUES (3)"
psql_c src "SELECT pg_create_restore_point('after_three')" >/dev/null
psql_c src "INSERT INTO t VALUES (4)"
wait_archived src "$(switch_wal src)"
before=$(archive_listing)
log "target $target (about $target_utc)"

log "drill to a time between rows 2 and 3"
drill --output json --target-time "$target" --max-tables 50
printf '%s\n' "$ERR" >&2
assert_rc 0 "pgpitr drill --target-time"
printf '%s\n' "$OUT" >"$WORK/time.json"
validate_report "$WORK/time.json"
assert_eq passed "$(jq_out .status)" "status"
assert_eq 2 "$(table_rows public.t)" "rows of t at the target"
assert_eq time "$(jq_out .target.requested.kind)" "target kind"
assert_eq "$target" "$(jq_out .target.requested.value)" "target value as given"
reached=$(jq_out .target.reached.time)
[ "$(date -u -d "$reached" +%s%6N)" -le "$(date -u -d "$target_utc" +%s%6N)" ] ||
    fail "reached time $reached is after the target $target_utc"
assert_contains "$(jq_out '.checks[] | select(.name == "target") | .detail')" \
    "recovery stopping before commit" "target check quotes PostgreSQL's stop line"
assert_eq "$before" "$(archive_listing)" "archive listing after the drill"
assert_no_drill_left

log "drill to a restore point"
drill --output json --target-name after_three --max-tables 50
assert_rc 0 "pgpitr drill --target-name"
assert_eq 3 "$(table_rows public.t)" "rows of t at the restore point"
assert_eq name "$(jq_out .target.requested.kind)" "target kind"
assert_contains "$(jq_out '.checks[] | select(.name == "target") | .detail')" \
    'restore point "after_three"' "target check names the restore point"
assert_no_drill_left

log "a time without an offset is refused before anything"
n_reports=$(repo_find "$REPO" drill '*.json' | wc -l)
drill --target-time "2026-11-22 04:00:00"
assert_rc 2 "drill with a time without offset"
assert_one_line_error "time without offset"
assert_eq "$n_reports" "$(repo_find "$REPO" drill '*.json' | wc -l)" "no report for a usage error"
assert_no_drill_left
