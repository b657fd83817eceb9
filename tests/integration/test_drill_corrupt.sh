#!/usr/bin/env bash
# A corrupt archived segment that the drill needs (one bit flipped in the newest segment's
# object): archive-get refuses it, PostgreSQL stops recovery, and the drill fails (non-zero,
# status failed, the reason names the segment and the restore failure, the server log's tail in
# the report) instead of passing with less data. Nothing is left behind and the drill changed
# nothing in the archive. The text summary says recovery did not finish (no RTO), shows
# archive-get's error and PostgreSQL's FATAL line without the "restored log file" noise, and
# its next step, `pgpitr verify --backup LABEL` as printed, finds the damaged segment.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

drill_source src
psql_c src "CREATE TABLE t_after AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g"
last=$(switch_wal src)
wait_archived src "$last"
pg_stop src

obj=$(repo_find "$REPO" archive/wal "$last-*")
[ -n "$obj" ] || fail "no object for $last"
repo_corrupt "$REPO" "$obj"
log "flipped a bit in $obj ($(repo_size "$REPO" "$obj") bytes)"
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
repo_read "$REPO" "drill/$(jq_out .id).json" >"$WORK/kept.json"
assert_same_file "$WORK/corrupt.json" "$WORK/kept.json" "failed report kept"
assert_eq "$before" "$(archive_listing)" "archive listing after the drill"
assert_no_drill_left

log "text summary: no RTO, the relevant log lines, and pgpitr verify as printed"
drill
printf '%s\n%s\n' "$OUT" "$ERR"
[ "$RC" -ne 0 ] || fail "the drill passed with a corrupt segment (text output)"
assert_one_line_error "drill with a corrupt segment, text output"
assert_contains "$OUT" "(recovery did not finish: no RTO)" "no RTO when recovery stopped"
grep -q '^  RTO:' <<<"$OUT" && fail "an RTO for a drill that did not recover: $OUT"
excerpt=$(sed -n '/^  log: /,/^  [a-z]*: /p' <<<"$OUT")
assert_contains "$excerpt" "pgpitr: error: cannot restore \"$last\"" "archive-get's error line"
assert_contains "$excerpt" "FATAL:  could not restore file \"$last\"" "PostgreSQL's FATAL line"
grep -q "restored log file" <<<"$excerpt" && fail "restored-log-file noise in the excerpt: $excerpt"
assert_contains "$OUT" "  report:  $REPO/drill/" "report path"
verify=$(sed -n 's/^ *\(next: *\)\{0,1\}verify: *//p' <<<"$OUT")
assert_contains "$verify" " verify --backup base1" "next step: verify the backup"
assert_contains "$ERR" "HINT: verify: " "HINT gives the same step"
as_pg_capture bash -c "$verify"
assert_rc 7 "the printed verify command finds the damage"
assert_contains "$OUT" "$last" "verify names the corrupt segment"
assert_eq "$before" "$(archive_listing)" "archive listing after the drills"
assert_no_drill_left
