#!/usr/bin/env bash
# pgpitr drill to the newest point: a table made after the backup comes back with all its rows,
# the drill passes, its report validates against docs/drill-report.schema.json and is kept in
# the repository (and in --report FILE, identical), pg_amcheck finds nothing, the archive is
# exactly as before (a drill writes no WAL into it), and nothing is left behind: no files in
# the work directory's parent, no postgres process. A second drill links to the first.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

N=4321
drill_source src
psql_c src "CREATE TABLE t_after AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, $N) g"
psql_c src "CREATE DATABASE other"
as_pg "$PG_BIN/psql" -X -q -h "$(cluster_dir src)" -p "$(cluster_port src)" -U postgres -d other \
    -c "CREATE TABLE o1 AS SELECT generate_series(1, 17) AS i" >/dev/null
last=$(switch_wal src)
wait_archived src "$last"
before=$(archive_listing)

log "drill to latest"
mkdir_pg "$WORK/reports"
drill --output json --amcheck --report "$WORK/reports/last.json"
printf '%s\n' "$ERR" >&2
assert_rc 0 "pgpitr drill"
assert_eq passed "$(jq_out .status)" "status"
assert_eq 0 "$(jq_out '.reasons | length')" "reasons"
printf '%s\n' "$OUT" >"$WORK/report.json"
validate_report "$WORK/report.json"
assert_eq "$N" "$(table_rows public.t_after)" "rows of t_after in the report"
assert_eq 100000 "$(table_rows public.pgbench_accounts)" "rows of pgbench_accounts"
assert_eq 17 "$(jq_out '[.tables[] | select(.database == "other" and .table == "public.o1")][0].rows')" \
    "rows of o1 in database other"
assert_eq base1 "$(jq_out .backup.label)" "backup used"
assert_eq latest "$(jq_out .target.requested.kind)" "target kind"
assert_eq 1 "$(jq_out .target.reached.timeline)" "timeline replay ended on"
assert_eq 2 "$(jq_out .target.reached.new_timeline)" "timeline after promotion"
assert_eq passed "$(jq_out '.checks[] | select(.name == "target") | .status')" "target check"
assert_eq passed "$(jq_out '.checks[] | select(.name == "amcheck") | .status')" "amcheck check"
assert_contains "$(jq_out '.checks[] | select(.name == "target") | .detail')" "$last" \
    "target check names the newest archived segment"
assert_gt "$(jq_out .wal.segments)" 0 "WAL segments fetched"
assert_eq $(($(jq_out .wal.fetches) * 16777216)) "$(jq_out .wal.bytes)" "WAL bytes = fetches * 16 MiB"
assert_eq true "$(jq_out '.phases.total_s > 0 and .phases.replay_s > 0')" "phases measured"
assert_eq true "$(jq_out '.archive_freshness_s >= 0')" "archive freshness"
assert_eq null "$(jq_out .previous)" "no previous drill"
assert_eq null "$(jq_out .workdir)" "work directory not kept"
id=$(jq_out .id)
repo_read "$REPO" "drill/$id.json" >"$WORK/kept.json"
assert_same_file "$WORK/report.json" "$WORK/kept.json" "report kept in the repository"
assert_same_file "$WORK/report.json" "$WORK/reports/last.json" "--report FILE"
assert_eq "$before" "$(archive_listing)" "archive listing after the drill"
assert_no_drill_left

log "second drill, text output: links to the first"
drill
assert_rc 0 "second pgpitr drill"
printf '%s\n' "$OUT"
assert_contains "$OUT" "PASSED" "text summary status"
assert_contains "$OUT" "previous drill" "text summary compares with the previous drill"
id2=$(repo_find "$REPO" drill '*.json' | grep -vxF "drill/$id.json" | sed -e 's|^drill/||' -e 's/\.json$//')
repo_read "$REPO" "drill/$id2.json" >"$WORK/report2.json"
assert_eq "$id" "$(jq -r .previous.id "$WORK/report2.json")" "previous drill of the second"
assert_eq passed "$(jq -r .previous.status "$WORK/report2.json")" "previous status"
validate_report "$WORK/report2.json"
assert_eq "$before" "$(archive_listing)" "archive listing after the second drill"
assert_no_drill_left

log "as root: refused with a hint"
if [ "$IS_ROOT" -eq 1 ]; then
    rc=0
    err=$("$PGPITR" --repo "$REPO" drill 2>&1) || rc=$?
    assert_eq 2 "$rc" "drill as root exit status"
    assert_contains "$err" "HINT: run it as the PostgreSQL OS user" "drill as root hint"
fi
