# shellcheck shell=bash
# drill_lib.sh - helpers shared by the test_drill_*.sh tests (sourced after lib.sh): a source
# cluster archiving into $REPO with a backup, running `pgpitr drill`, reading and validating
# its JSON report, and proving that a drill left nothing behind.

SCHEMA="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/drill-report.schema.json"


# drill_source NAME: cluster NAME archiving into $REPO, pgbench data, a backup labelled base1.
drill_source() {
    pg_init "$1"
    pg_conf "$1" "track_commit_timestamp = on"
    pg_enable_archiving "$1" "$REPO"
    pg_start "$1"
    pgbench_c "$1" -i -q -s 1
    wait_archived "$1" "$(switch_wal "$1")"
    pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo "$1")" --label base1 --jobs 2
    assert_rc 0 "pgpitr backup"
}

# archive_listing: every object below $REPO/archive with its size, and any debris (what a drill
# must not change).
archive_listing() { repo_listing "$REPO" archive; repo_debris "$REPO"; }

# validate_report FILE: the report validates against $SCHEMA (docs/drill-report.schema.json).
validate_report() { validate_schema "$SCHEMA" "$1"; }

# drill ARGS...: pgpitr drill as the cluster user with a private TMPDIR ($WORK/dtmp); sets RC,
# OUT, ERR like pgp_capture.
drill() {
    mkdir_pg "$WORK/dtmp"
    TMPDIR="$WORK/dtmp" pgp_capture --repo "$REPO" drill "$@"
}

# jq_out FILTER: apply jq to the last drill's stdout (the report with --output json).
jq_out() { jq -r "$1" <<<"$OUT"; }

# assert_no_drill_left: nothing in $WORK/dtmp and no postgres process of a drill.
assert_no_drill_left() {
    local left procs
    left=$(find "$WORK/dtmp" -mindepth 1 2>/dev/null | head -n 5)
    [ -z "$left" ] || fail "the drill left files behind: $left"
    procs=$(pgrep -a -f "postgres -D $WORK/dtmp" || true)
    [ -z "$procs" ] || fail "a drill server is still running: $procs"
}

# table_rows TABLE: rows of TABLE (database postgres) in the last report.
table_rows() {
    jq -r --arg t "$1" '[.tables[] | select(.database == "postgres" and .table == $t) | .rows] | first // "absent"' <<<"$OUT"
}
