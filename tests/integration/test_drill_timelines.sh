#!/usr/bin/env bash
# A drill proves production's timeline, not the highest one. A primary with a streaming
# standby archives into $REPO. Two restored copies, restored with --archive-mode preserve and
# promoted, archive timelines 2 (off 1) and 3 (off 2) with their history files, then stop;
# production goes on on timeline 1: it drops a table the copies still have, adds a row and
# archives. Before production archives again, the copies' timeline 3 is the newest and is taken
# for production's: the drill warns that it forked off timeline 1's past a moment ago. After,
# the drill follows production's timeline 1 (the one that received the most recent WAL), not
# PostgreSQL's latest (3): its data lacks the dropped table and has the new row, and
# it passes with a loud warning naming timeline 3, in the text and in the report. info shows
# the forks and which timeline is production's (80 columns, JSON schema). Then a real failover:
# the standby is promoted (timeline 4, the highest) and archives; the next drill follows it,
# with no warning.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$HERE/drill_lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

INFO_SCHEMA="$HERE/../../docs/info.schema.json"
# stray NAME TLI ARGS...: a copy restored with ARGS and --archive-mode preserve, promoted to
# timeline TLI; it writes a row and archives a segment of its own, then stops.
stray() {
    local name=$1 tli=$2
    shift 2
    restore_to "$name" --archive-mode preserve "$@" >/dev/null
    start_restored "$name" archive
    assert_eq "$tli" "$(timeline_of "$name")" "timeline of the promoted copy $name"
    wait_history "$(printf '%08X.history' "$tli")"
    add_row "$name" "${tli}00" >/dev/null
    wait_archived "$name" "$(switch_wal "$name")"
    pg_stop "$name"
}
# table_present NAME FILE: how many times the drill report FILE counted table NAME.
table_present() { jq -r --arg t "$1" '[.tables[] | select(.table == $t)] | length' "$2"; }

source_cluster prod
psql_c prod "CREATE TABLE doomed AS SELECT generate_series(1, 10) AS i"
add_row prod 1 >/dev/null
wait_archived prod "$(switch_wal prod)"
backup_of prod base1
streaming_standby stby prod
# A backup reaches a target time only from the second after its end (stop times are whole
# seconds): the fork must be in a later second than base1's end, or no backup reaches it.
sleep 1.1
fork_time=$(utc_now prod)
add_row prod 2 >/dev/null
wait_archived prod "$(switch_wal prod)"
wait_archived prod "$(switch_wal prod)"    # production went on past the copies' target

log "two copies promote and archive: timeline 2 (off 1 at $fork_time), timeline 3 (off 2)"
stray copy2 2 --target-time "$fork_time"
stray copy3 3

log "the window: production has not archived since, the copy's timeline 3 looks like production's"
drill --output json
assert_rc 0 "drill right after the copies promoted"
assert_eq "3 3" "$(jq_out '.timeline | "\(.followed) \(.production)"')" \
    "right after the copies: the newest timeline is taken for production's"
assert_contains "$(jq_out '.warnings[0]')" "timeline 2 forked off timeline 1 at" \
    "the drill warns that timeline 3's history forked off timeline 1's past recently"
assert_contains "$(jq_out '.warnings[0]')" "(then use --target-timeline 1)" "the warning says what to do"
assert_contains "$ERR" "warn: timeline 2 forked off timeline 1 at" "the warning on stderr with --output json"
assert_no_drill_left

log "production goes on on timeline 1: drops doomed, adds row 3"
psql_c prod "DROP TABLE doomed"
add_row prod 3 >/dev/null
newest=$(switch_wal prod)
wait_archived prod "$newest"

log "info: the forks, and which timeline is production's"
pgp_capture --repo "$REPO" info
assert_rc 0 "pgpitr info"
long=$(printf '%s\n' "$OUT" | awk 'length > 80')
[ -z "$long" ] || fail "info text lines longer than 80 columns: $long"
assert_contains "$OUT" "production's timeline: 1 (the most recently archived WAL)" "info names production's"
assert_contains "$OUT" "WARNING: timeline 3 has the highest history file" "info warns about latest"
assert_contains "$OUT" "forked off timeline 2 at" "info shows where 3 forked off"
assert_contains "$OUT" "forked off timeline 1 at" "info shows where 2 forked off"
assert_contains "$OUT" "): production's timeline" "info marks timeline 1"
pgp_capture --repo "$REPO" info --output json
assert_rc 0 "pgpitr info --output json"
printf '%s\n' "$OUT" >"$WORK/info.json"
validate_schema "$INFO_SCHEMA" "$WORK/info.json"
assert_eq "1 3" "$(jq -r '.archive.production | "\(.timeline) \(.latest_timeline)"' <<<"$OUT")" \
    "info JSON: production's and latest"
assert_eq "2" "$(jq -r '.archive.timelines[] | select(.timeline == 3) | .parent' <<<"$OUT")" \
    "info JSON: parent of timeline 3"

log "drill: follows production's timeline 1, warns about timeline 3"
cat >"$WORK/checks.sql" <<'SQL'
-- name: production's rows
-- expect: 1,2,3
SELECT string_agg(id::text, ',' ORDER BY id) FROM t;
SQL
own "$WORK/checks.sql"
drill --report "$WORK/report.json" --check-sql "$WORK/checks.sql"
printf '%s\n' "$OUT"
assert_rc 0 "drill with stray timelines"
assert_contains "$OUT" "PASSED with 1 WARNING" "drill text status"
assert_contains "$OUT" "timeline: 1 (production's: it received the most recently archived WAL: $newest" \
    "drill text names the timeline followed and why"
assert_contains "$OUT" "WARNING: timeline 3 has the highest history file (PostgreSQL's latest" \
    "drill text warns about latest"
assert_contains "$OUT" "a restore without --target-timeline 1 follows timeline 3" \
    "the warning says what restore would do"
R="$WORK/report.json"
validate_report "$R"
assert_eq passed "$(jq -r .status "$R")" "report status"
assert_eq "1 1 3 false" "$(jq -r '.timeline | "\(.followed) \(.production) \(.latest) \(.production_ambiguous)"' "$R")" \
    "report: followed, production's, latest"
assert_eq 1 "$(jq -r '.warnings | length' "$R")" "report: one warning"
assert_contains "$(jq -r '.warnings[0]' "$R")" "production's is timeline 1" "report warning"
assert_eq "2" "$(jq -r '.timeline.timelines[] | select(.timeline == 3) | .parent' "$R")" \
    "report: parent of timeline 3"
assert_eq 1 "$(jq -r .target.reached.timeline "$R")" "replay ended on timeline 1"
assert_contains "$(jq -r '.checks[] | select(.name == "target") | .detail' "$R")" "$newest" \
    "the drill replayed production's newest segment"
assert_eq 0 "$(table_present public.doomed "$R")" "the table production dropped is not in the drill"
assert_eq 3 "$(jq -r '.tables[] | select(.table == "public.t") | .rows' "$R")" "rows of t"
assert_no_drill_left

log "failover: the standby is promoted (timeline 4) and archives; production is on 4 now"
pg_stop prod
as_pg "$PG_BIN/pg_ctl" -D "$(cluster_data stby)" -w -t 120 promote >/dev/null || fail "promote stby"
wait_promoted stby
psql_c stby "CHECKPOINT"    # the end-of-recovery checkpoint puts the new timeline in pg_control
assert_eq 4 "$(timeline_of stby)" "timeline of the promoted standby"
wait_history 00000004.history
add_row stby 4 >/dev/null
wait_archived stby "$(switch_wal stby)"
drill --output json
assert_rc 0 "drill after the failover"
assert_eq "4 4 4" "$(jq_out '.timeline | "\(.followed) \(.production) \(.latest)"')" \
    "after a failover: followed, production's, latest"
assert_eq 0 "$(jq_out '.warnings | length')" "no warning after a failover"
assert_eq 4 "$(jq_out '.tables[] | select(.table == "public.t") | .rows')" "rows of t after the failover"
assert_eq 0 "$(jq -r '[.tables[] | select(.table == "public.doomed")] | length' <<<"$OUT")" \
    "doomed after the failover"
assert_no_drill_left
log "ok"
