#!/usr/bin/env bash
# pgpitr drill --check-sql: a file with passing expectations passes; one failing expectation
# fails the drill (exit 7, status failed, the check named in the one-line error and in the
# report's reasons, the report still kept in the repository and in --report FILE). --keep keeps
# the work directory (the server is stopped anyway); without it nothing is left. A check file
# that does not parse is refused before anything happens. The drill server runs with jit off.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

drill_source src
psql_c src "CREATE TABLE t_after AS SELECT generate_series(1, 250) AS id"
wait_archived src "$(switch_wal src)"

mkdir_pg "$WORK/sql"
cat >"$WORK/sql/good.sql" <<'SQL'
-- checks that hold on the restored cluster

-- name: rows after the backup
-- expect: 250
SELECT count(*) FROM t_after;

-- name: accounts
-- expect: 100000
SELECT count(*) FROM pgbench_accounts;

-- expect: t
SELECT sum(id) = 250 * 251 / 2 FROM t_after;

-- name: jit off
-- expect: off
SELECT current_setting('jit');
SQL
{ cat "$WORK/sql/good.sql"; printf '\n-- name: wishful thinking\n-- expect: 251\nSELECT count(*) FROM t_after;\n'; } \
    >"$WORK/sql/bad.sql"
printf -- '-- name: no expectation\nSELECT 1;\n' >"$WORK/sql/broken.sql"
own "$WORK/sql"

log "passing checks"
drill --output json --check-sql "$WORK/sql/good.sql"
assert_rc 0 "drill with passing checks"
# jit off: JIT needs writable and executable memory, which pgpitr-drill.service's
# MemoryDenyWriteExecute=yes refuses (docs/drill.md)
for name in "sql: rows after the backup" "sql: accounts" "sql: line 11" "sql: jit off"; do
    assert_eq passed "$(jq -r --arg n "$name" '.checks[] | select(.name == $n) | .status' <<<"$OUT")" \
        "check $name"
done
assert_no_drill_left

log "a failing expectation, --keep"
drill --output json --check-sql "$WORK/sql/bad.sql" --keep --workdir "$WORK/dtmp/kept" \
    --report "$WORK/sql/report.json"
assert_rc 7 "drill with a failing check"
assert_one_line_error "failing check"
assert_contains "$ERR" "wishful thinking" "error names the failing check"
assert_contains "$ERR" "the report: $REPO/drill/" "hint names the report"
assert_contains "$ERR" "HINT: as OS user $PG_USER, start the kept server" "hint: the next step"
assert_eq failed "$(jq_out .status)" "status"
assert_eq 'check "sql: wishful thinking" failed: expected "251", got "250"' "$(jq_out '.reasons[0]')" \
    "reason"
assert_eq passed "$(jq_out '.checks[] | select(.name == "sql: accounts") | .status')" \
    "the other checks still ran"
printf '%s\n' "$OUT" >"$WORK/bad.json"
validate_report "$WORK/bad.json"
id=$(jq_out .id)
repo_read "$REPO" "drill/$id.json" >"$WORK/kept.json"
assert_same_file "$WORK/bad.json" "$WORK/kept.json" "failed report kept in the repository"
assert_same_file "$WORK/bad.json" "$WORK/sql/report.json" "failed report in --report FILE"
assert_eq "$WORK/dtmp/kept" "$(jq_out .workdir)" "kept work directory in the report"
assert_file "$WORK/dtmp/kept/data/global/pg_control" "kept data directory"
assert_file "$WORK/dtmp/kept/postgres.log" "kept server log"
grep -q "database system is shut down" "$WORK/dtmp/kept/postgres.log" ||
    fail "the kept server was not shut down cleanly"
[ -z "$(pgrep -a -f "postgres -D $WORK/dtmp/kept" || true)" ] || fail "the kept server still runs"
assert_contains "$(cat "$WORK/dtmp/kept/data/postgresql.auto.conf")" "archive_mode = 'off'" \
    "kept directory stays harmless"
rm -rf "$WORK/dtmp/kept"

log "text output of a failed drill"
drill --check-sql "$WORK/sql/bad.sql"
assert_rc 7 "failing check, text output"
assert_contains "$OUT" "FAILED" "text summary"
assert_contains "$OUT" "reason:  check \"sql: wishful thinking\" failed" "text summary reason"
assert_no_drill_left

log "a check file that does not parse"
n_reports=$(repo_find "$REPO" drill '*.json' | wc -l)
drill --check-sql "$WORK/sql/broken.sql"
assert_rc 2 "broken check file"
assert_one_line_error "broken check file"
assert_contains "$ERR" "broken.sql:1: check has no \"-- expect:\" line" "parse error names the line"
drill --workdir "$WORK/sql"
assert_rc 2 "non-empty --workdir"
assert_contains "$ERR" "must be an empty directory" "non-empty workdir refused"
assert_eq "$n_reports" "$(repo_find "$REPO" drill '*.json' | wc -l)" "no report for usage errors"
assert_no_drill_left
