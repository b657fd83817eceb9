#!/usr/bin/env bash
# A corrupt archived segment that the drill needs (one bit flipped in the newest segment's
# object): archive-get refuses it, PostgreSQL stops recovery, and the drill fails (non-zero,
# status failed, the reason names the segment and the restore failure, the server log's tail in
# the report) instead of passing with less data. Nothing is left behind and the drill changed
# nothing in the archive.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

drill_source src
psql_c src "CREATE TABLE t_after AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g"
last=$(switch_wal src)
wait_archived src "$last"
pg_stop src

obj=$(find "$REPO/archive/wal" -name "$last-*" -type f)
[ -n "$obj" ] || fail "no object for $last"
size=$(file_size "$obj")
flip_bit "$obj" $((size / 2))
log "flipped a bit in $obj ($size bytes)"
before=$(archive_listing)

drill --output json
printf '%s\n' "$ERR" >&2
[ "$RC" -ne 0 ] || fail "the drill passed with a corrupt segment"
assert_one_line_error "drill with a corrupt segment"
assert_eq failed "$(jq_out .status)" "status"
reason=$(jq_out '.reasons[0]')
assert_contains "$reason" "$last" "reason names the corrupt segment"
assert_icontains "$reason" "restore" "reason says the restore of the segment failed"
assert_contains "$ERR" "$last" "error line names the segment"
assert_gt "$(jq_out '.server_log_tail | length')" 0 "server log tail in the report"
printf '%s\n' "$OUT" >"$WORK/corrupt.json"
validate_report "$WORK/corrupt.json"
assert_same_file "$WORK/corrupt.json" "$REPO/drill/$(jq_out .id).json" "failed report kept"
assert_eq "$before" "$(archive_listing)" "archive listing after the drill"
assert_no_drill_left
