#!/usr/bin/env bash
# pgpitr restore to each kind of recovery target: rows committed one by one at known times
# after a backup; a restore to a time between two commits (given with a +05:30 offset while
# the server runs in America/New_York) has exactly the rows committed before it; the exact
# commit timestamp of a row includes it, --target-exclusive excludes it; LSN, xid, restore
# point, immediate and latest (the default) targets; refused targets write nothing.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

source_cluster src
wait_archived src "$(switch_wal src)"
backup_of src base1
# The backup's stop time is recorded in whole seconds after its WAL is archived: leave room.
sleep 2

add_row src 1 >/dev/null
sleep 1.1
time_a=$(psql_c src "SELECT to_char(clock_timestamp() AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD HH24:MI:SS.US') || '+05:30'")
sleep 1.1
xid2=$(add_row src 2)
c2=$(commit_time src 2)
lsn_b=$(insert_lsn src)
xid3=$(add_row src 3)
psql_c src "SELECT pg_create_restore_point('before_four')" >/dev/null
add_row src 4 >/dev/null
add_row src 5 >/dev/null
wait_archived src "$(switch_wal src)"
log "row 2: xid $xid2 committed at $c2; time_a $time_a; lsn_b $lsn_b; row 3: xid $xid3"
assert_eq "1,2,3,4,5" "$(rows src)" "rows on the source"

log "time between two commits, with a non-UTC offset"
restored_rows r_time --target-time "$time_a"
assert_eq "1" "$ROWS" "rows after restoring to $time_a"
assert_contains "$OUT" "newest complete backup ending before" "restore says why it chose base1"
assert_contains "$OUT" "base1" "restore names the backup"
conf=$(cat "$(cluster_data r_time)/postgresql.auto.conf")
assert_icontains "$conf" "recovery_target_time = '[0-9-]+ [0-9:.]+\+00'" "target time written in UTC"
assert_contains "$conf" "recovery_target_timeline = '1'" "resolved target timeline"
grep -q "recovery stopping before commit of transaction $xid2" "$WORK/r_time/server.log" ||
    fail "recovery did not stop before the commit of row 2 (xid $xid2)"

log "exact commit time of row 2: inclusive, then exclusive"
restored_rows r_incl --target-time "$c2"
assert_eq "1,2" "$ROWS" "rows after restoring to row 2's commit time (inclusive)"
restored_rows r_excl --target-time "$c2" --target-exclusive
assert_eq "1" "$ROWS" "rows after restoring to row 2's commit time (exclusive)"
assert_contains "$(cat "$(cluster_data r_excl)/postgresql.auto.conf")" "recovery_target_inclusive = 'off'" \
    "exclusive written"

log "LSN, xid, restore point, immediate, latest"
restored_rows r_lsn --target-lsn "$lsn_b"
assert_eq "1,2" "$ROWS" "rows after restoring to LSN $lsn_b"
restored_rows r_xid --target-xid "$xid3"
assert_eq "1,2,3" "$ROWS" "rows after restoring to xid $xid3"
assert_contains "$OUT" "cannot be placed in time" "restore says an xid cannot be placed"
restored_rows r_name --target-name before_four
assert_eq "1,2,3" "$ROWS" "rows after restoring to restore point before_four"
restored_rows r_imm --target-immediate
assert_eq "" "$ROWS" "rows after restoring to the backup's consistency point"
grep -q 'recovery stopping after reaching consistency' "$WORK/r_imm/server.log" ||
    fail "--target-immediate did not stop at consistency"
restored_rows r_latest
assert_eq "1,2,3,4,5" "$ROWS" "rows after restoring to the latest point (the default)"

log "refusals write nothing"
refused() {  # NAME EXIT NEEDLE ARGS...
    local name=$1 rc=$2 needle=$3
    shift 3
    pgp_capture --repo "$REPO" restore --pgdata "$WORK/$name/data" "$@"
    assert_rc "$rc" "restore $*"
    assert_one_line_error "restore $*"
    assert_icontains "$ERR" "$needle" "error of restore $*"
    assert_absent "$WORK/$name" "directory of a refused restore"
}
refused n_offset 2 "no UTC offset" --target-time "2026-01-01 00:00:00"
refused n_zone 2 "numeric offset" --target-time "2026-01-01 00:00:00 CET"
refused n_early 1 "no complete backup can reach target time 2000-01-01 00:00:00\+00" \
    --target-time "2000-01-01T00:00:00Z"
assert_contains "$ERR" "HINT: the earliest recoverable point is the end of backup \"base1\"" "hint"
refused n_future 1 "WAL segment [0-9A-F]{24} is not archived \(yet\): backup \"base1\" can reach at most" \
    --target-time "2999-01-01T00:00:00Z"
refused n_lsn 1 "WAL segment [0-9A-F]{24} is not archived" --target-lsn "FF/0"
refused n_excl 2 "target-exclusive" --target-name before_four --target-exclusive
refused n_tl 1 "not on timeline 7's history" --target-timeline 7
refused n_two 2 "at most one" --target-immediate --target-lsn "0/1"
log "ok"
