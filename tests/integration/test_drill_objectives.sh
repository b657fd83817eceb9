#!/usr/bin/env bash
# Recovery objectives (settings rto-objective, rpo-objective; here through PGPITR_RTO_OBJECTIVE
# and PGPITR_RPO_OBJECTIVE): a drill within both passes with objectives met in its report
# (schema_version 2, validated); a drill slower than rto-objective 1s fails with that reason
# (exit 7, as a failed check; objectives.rto.met false); an archive older than rpo-objective
# 1s is only a warning (the drill passes, objectives.rpo.met false). info shows the objectives
# judged now, in text and in JSON (validated against docs/info.schema.json), and a bad value is
# a configuration error (exit 3) for both commands.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
INFO_SCHEMA="$(cd "$(dirname "$0")/../.." && pwd)/docs/info.schema.json"

drill_source src
wait_archived src "$(switch_wal src)"

# objectives RTO RPO: the settings for the commands that follow.
objectives() { export PGPITR_RTO_OBJECTIVE=$1 PGPITR_RPO_OBJECTIVE=$2; }
# info_json: info --output json into $WORK/info.json, validated; info_at FILTER reads it.
info_json() {
    pgp_capture --repo "$REPO" info --output json
    assert_rc 0 "pgpitr info --output json"
    printf '%s\n' "$OUT" >"$WORK/info.json"
    validate_schema "$INFO_SCHEMA" "$WORK/info.json"
}
info_at() { jq -r "$1" "$WORK/info.json"; }

log "rto-objective 1h, rpo-objective 1h: met, the drill passes"
objectives 1h 1h
drill --output json
printf '%s\n' "$ERR" >&2
assert_rc 0 "drill within its objectives"
printf '%s\n' "$OUT" >"$WORK/met.json"
validate_report "$WORK/met.json"
assert_eq 2 "$(jq_out .schema_version)" "schema_version"
assert_eq passed "$(jq_out .status)" "status"
assert_eq 3600 "$(jq_out .objectives.rto.objective_s)" "rto objective_s"
assert_eq true "$(jq_out '.objectives.rto.measured_s == .phases.rto_s and .phases.rto_s > 0')" \
    "measured RTO is phases.rto_s"
assert_eq true "$(jq_out .objectives.rto.met)" "rto met"
assert_eq 3600 "$(jq_out .objectives.rpo.objective_s)" "rpo objective_s"
assert_eq true "$(jq_out '.objectives.rpo.measured_s == .archive_freshness_s')" \
    "measured RPO is the archive freshness"
assert_eq true "$(jq_out .objectives.rpo.met)" "rpo met"
assert_eq passed "$(jq_out '.checks[] | select(.name == "rto-objective") | .status')" \
    "rto-objective check"
met_id=$(jq_out .id)
met_rto=$(jq_out .objectives.rto.measured_s)

info_json
assert_eq 3600 "$(info_at .objectives.rto.objective_s)" "info rto objective_s"
assert_eq "$met_id" "$(info_at .objectives.rto.drill)" "info rto: the drill it comes from"
assert_eq "$met_rto" "$(info_at .objectives.rto.measured_s)" "info rto measured_s"
assert_eq true "$(info_at .objectives.rto.met)" "info rto met"
assert_eq true "$(info_at '.objectives.rpo.measured_s == .archive.newest_segment.age_s')" \
    "info rpo measured_s is the archive freshness"
assert_eq true "$(info_at .objectives.rpo.met)" "info rpo met"
pgp_capture --repo "$REPO" info
assert_rc 0 "pgpitr info"
printf '%s\n' "$OUT"
assert_contains "$OUT" "OBJECTIVES" "info text objectives section"
assert_contains "$OUT" "  RPO 1h 00m: archive freshness " "info text rpo"
assert_contains "$OUT" "  RTO 1h 00m: newest drill $(printf '%.1f' "$met_rto") s ($met_id), met" \
    "info text rto"

log "rto-objective 1s: a drill takes longer, it fails with that reason"
objectives 1s 1h
drill
printf '%s\n%s\n' "$OUT" "$ERR"
assert_rc 7 "drill over its rto-objective"
assert_contains "$OUT" "FAILED" "text summary status"
assert_contains "$OUT" "reason:  check \"rto-objective\" failed: measured RTO" "text summary reason"
assert_contains "$OUT" "exceeds the rto-objective of 1 s" "text summary reason names the objective"
assert_contains "$OUT" ": NOT MET" "text summary objective line"
assert_contains "$ERR" "failed: check \"rto-objective\" failed" "the one-line error says why"
assert_contains "$ERR" "HINT: the restore works but took longer than rto-objective" \
    "the hint: where the time went, not --keep"
slow_id=$(repo_find "$REPO" drill '*.json' | sed -e 's|^drill/||' -e 's/\.json$//' | sort | tail -n 1)
repo_read "$REPO" "drill/$slow_id.json" >"$WORK/slow.json"
validate_report "$WORK/slow.json"
assert_eq failed "$(jq -r .status "$WORK/slow.json")" "status of the slow drill"
assert_eq false "$(jq -r .objectives.rto.met "$WORK/slow.json")" "rto met"
assert_eq 1 "$(jq -r .objectives.rto.objective_s "$WORK/slow.json")" "rto objective_s"
assert_eq true "$(jq -r '.objectives.rto.measured_s > 1' "$WORK/slow.json")" "measured RTO"
assert_eq true "$(jq -r .objectives.rpo.met "$WORK/slow.json")" "rpo met"
assert_contains "$(jq -r '.reasons[0]' "$WORK/slow.json")" "rto-objective" "reason in the report"
assert_no_drill_left

info_json
assert_eq "$slow_id" "$(info_at .objectives.rto.drill)" "info rto from the failed drill"
assert_eq false "$(info_at .objectives.rto.met)" "info rto not met"
assert_eq failed "$(info_at .latest_drill.status)" "info latest drill"
pgp_capture --repo "$REPO" info
assert_contains "$OUT" "  RTO 1s: newest drill " "info text rto"
assert_contains "$OUT" "($slow_id), NOT MET" "info text rto not met"

log "rpo-objective 1s: the archive is older, a warning, the drill passes"
objectives 1h 1s
drill
printf '%s\n' "$OUT"
assert_rc 0 "drill with the rpo-objective missed"
assert_contains "$OUT" "PASSED with 1 WARNING" "text summary status"
assert_contains "$OUT" "WARNING: rpo-objective missed" "text summary warning"
stale_id=$(repo_find "$REPO" drill '*.json' | sed -e 's|^drill/||' -e 's/\.json$//' | sort | tail -n 1)
repo_read "$REPO" "drill/$stale_id.json" >"$WORK/stale.json"
validate_report "$WORK/stale.json"
assert_eq passed "$(jq -r .status "$WORK/stale.json")" "status"
assert_eq false "$(jq -r .objectives.rpo.met "$WORK/stale.json")" "rpo met"
assert_eq true "$(jq -r '.objectives.rpo.measured_s > 1' "$WORK/stale.json")" "measured RPO"
assert_eq true "$(jq -r .objectives.rto.met "$WORK/stale.json")" "rto met"
info_json
assert_eq false "$(info_at .objectives.rpo.met)" "info rpo not met"
assert_eq "$stale_id" "$(info_at .objectives.rto.drill)" "info rto from the newest drill"

log "a bad value is a configuration error"
objectives soon 1h
drill
assert_rc 3 "drill with rto-objective soon"
assert_one_line_error "drill with a bad rto-objective"
assert_contains "$ERR" "rto-objective" "the error names the setting"
pgp_capture --repo "$REPO" info
assert_rc 3 "info with rto-objective soon"
assert_contains "$ERR" "rto-objective" "info: the error names the setting"
unset PGPITR_RTO_OBJECTIVE PGPITR_RPO_OBJECTIVE
pgp_capture --repo "$REPO" info
assert_rc 0 "info without objectives"
case "$OUT" in *OBJECTIVES*) fail "info text shows objectives none of which is set" ;; esac
