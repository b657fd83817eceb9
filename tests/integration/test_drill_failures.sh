#!/usr/bin/env bash
# What a failed drill tells the DBA, and that its next step works as printed:
#   - only --check-sql checks failed (recovery finished): the measured RTO (text and
#     phases.rto_s), each check's expected and got, "(and 1 more reason)", the report's path,
#     the server log's relevant lines without the "restored log file" of every segment, and
#     the same drill again with --keep. That printed command is run as it is; its own next
#     steps are run as printed too: the kept server starts, its psql command connects (and
#     finds the drilled rows), it stops, its work directory is removed, no process is left;
#   - the server would not start (a library the backup's configuration loads is missing):
#     "before recovery began", the FATAL line, no RTO, the HINT about the configuration;
#   - the target is not in the archive: PostgreSQL's FATAL, no RTO, `pgpitr info` as a hint.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

drill_source src
psql_c src "CREATE TABLE t_after AS SELECT generate_series(1, 250) AS id"
wait_archived src "$(switch_wal src)"
mkdir_pg "$WORK/sql" "$WORK/reports"
cat >"$WORK/sql/checks.sql" <<'SQL'
-- name: accounts
-- expect: 100000
SELECT count(*) FROM pgbench_accounts;

-- name: rows after the backup
-- expect: 251
SELECT count(*) FROM t_after;

-- name: sum
-- expect: 1
SELECT sum(id) FROM t_after;
SQL
own "$WORK/sql"

# next_step LABEL: the command after "LABEL:" in the last drill's summary.
next_step() { sed -n "s/^ *\(next: *\)\{0,1\}$1: *//p" <<<"$OUT"; }
# run_printed CMD: a printed command, as printed, as the drill's OS user; sets RC, OUT, ERR.
run_printed() { TMPDIR="$WORK/dtmp" as_pg_capture bash -c "$1"; }

log "only SQL checks fail: RTO, expected vs got, relevant log lines, next step"
drill --check-sql "$WORK/sql/checks.sql" --report "$WORK/reports/last.json"
printf '%s\n%s\n' "$OUT" "$ERR"
assert_rc 7 "drill whose checks fail"
assert_one_line_error "failed checks"
assert_contains "$ERR" 'failed: check "sql: rows after the backup" failed: expected "251", got "250" (and 1 more reason)' \
    "one line: the first check, expected vs got, singular"
assert_contains "$OUT" '  reason:  check "sql: sum" failed: expected "1", got "31375"' "second reason"
rto_line=$(grep '^  RTO: ' <<<"$OUT") || fail "no RTO line for a drill that recovered: $OUT"
assert_contains "$rto_line" "recovery finished, the drill failed on its checks" "RTO line says why"
rto=$(jq -r .phases.rto_s "$WORK/reports/last.json")
assert_eq "$(jq -r .phases.total_s "$WORK/reports/last.json")" "$rto" "phases.rto_s = total_s"
assert_eq true "$(jq -r '.phases.rto_s > 0' "$WORK/reports/last.json")" "rto_s measured"
assert_contains "$rto_line" "RTO:     $(printf '%.1f' "$rto") s" "the text RTO is the report's"
validate_report "$WORK/reports/last.json"
id=$(jq -r .id "$WORK/reports/last.json")
assert_contains "$OUT" "  report:  $REPO/drill/$id.json and $WORK/reports/last.json" "report path"
assert_contains "$ERR" "the report: $REPO/drill/$id.json" "HINT names the report"
excerpt=$(sed -n '/^  log: /,/^  [a-z]*: /p' <<<"$OUT")
assert_contains "$excerpt" "LOG:  redo done at" "log lines: where redo ended"
assert_contains "$excerpt" "database system is ready to accept connections" "log lines: promoted"
if grep -q "restored log file" <<<"$excerpt$(jq -r '.server_log_tail[]' "$WORK/reports/last.json")"; then
    fail "the log excerpt shows the restored-log-file noise: $excerpt"
fi
if grep -q "checkpoint \(starting\|complete\)" <<<"$excerpt"; then
    fail "the log excerpt shows checkpoints: $excerpt"
fi
again=$(sed -n '/run the drill again with --keep/{n;s/^ *//;p;}' <<<"$OUT")
assert_contains "$again" " drill --check-sql $WORK/sql/checks.sql --report $WORK/reports/last.json --keep" \
    "next step: the same drill with --keep"
assert_contains "$ERR" "$again" "HINT holds the same command"
assert_no_drill_left

log "the printed command, as printed"
run_printed "$again"
printf '%s\n%s\n' "$OUT" "$ERR"
assert_rc 7 "the same drill with --keep"
kept=$(sed -n 's/^  kept: *//p' <<<"$OUT")
[ -n "$kept" ] && [ -d "$kept/data" ] || fail "no kept work directory: $OUT"
start=$(next_step start) connect=$(next_step connect) stop=$(next_step stop) remove=$(next_step remove)
for c in start connect stop remove; do [ -n "${!c}" ] || fail "no '$c:' step printed: $OUT"; done
assert_eq "rm -rf $kept" "$remove" "remove step"

run_printed "$start"
assert_rc 0 "printed start command: $OUT"
pid=$(head -n 1 "$kept/data/postmaster.pid")
track_pid "$pid"
run_printed "$connect -X -A -t -c 'SELECT count(*) FROM t_after'"
assert_rc 0 "printed psql command"
assert_eq 250 "$OUT" "rows through the printed psql command"
run_printed "$connect -X -A -t -c 'SHOW archive_mode'"
assert_eq off "$OUT" "the kept server is still harmless"
run_printed "$stop"
assert_rc 0 "printed stop command: $ERR"
pid_alive "$pid" && fail "the kept server still runs after the printed stop command"
untrack_pid "$pid"
run_printed "$remove"
assert_rc 0 "printed remove command"
assert_absent "$kept" "work directory after the printed remove command"
assert_no_drill_left

log "a server that would not start"
psql_c src "ALTER SYSTEM SET shared_preload_libraries = 'pgpitr_no_such_library'"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base2 --jobs 2
assert_rc 0 "backup with a library this host lacks"
drill --backup base2 --output json
assert_rc 12 "drill whose server does not start"
assert_one_line_error "server not starting"
assert_contains "$ERR" "the drill server stopped before recovery began" "summary line"
assert_contains "$ERR" 'could not access file "pgpitr_no_such_library"' "summary names the FATAL"
assert_contains "$ERR" "HINT: PostgreSQL refused to start with the backup's configuration" "hint"
assert_contains "$(jq_out '.server_log_tail | join("\n")')" \
    'FATAL:  could not access file "pgpitr_no_such_library"' "FATAL line in the report"
assert_eq null "$(jq_out .phases.rto_s)" "no RTO when the server never started"
printf '%s\n' "$OUT" >"$WORK/nostart.json"
validate_report "$WORK/nostart.json"
assert_no_drill_left

log "a target beyond the archive"
drill --backup base1 --target-name pgpitr_never_created
printf '%s\n%s\n' "$OUT" "$ERR"
assert_rc 12 "drill to a restore point that does not exist"
assert_one_line_error "target not reached"
assert_contains "$ERR" "recovery ended before configured recovery target was reached" "summary"
assert_contains "$ERR" "HINT: the archive ends before the target: pgpitr info" "hint"
assert_contains "$OUT" "(recovery did not finish: no RTO)" "no RTO"
assert_contains "$OUT" "FATAL:  recovery ended before configured recovery target was reached" \
    "FATAL line in the summary"
grep -q "restored log file" <<<"$OUT" && fail "restored-log-file noise in the summary: $OUT"
assert_no_drill_left
