#!/usr/bin/env bash
# pgpitr metrics on a real cluster and repository, every output checked with promtool check
# metrics (the exposition format) and its values compared with what they stand for:
# a repository that cannot be read (pgpitr_up 0, exit 3, metrics still written); a cluster
# archiving, a backup and a drill (backup sizes and duration from the manifest, the drill's
# result and RTO from its report, the recoverable window equal to info's, pg_stat_archiver's
# counts, objectives from the settings and absent when not set); values that move: a new
# segment lowers the archive freshness, a failing archive_command leaves .ready files that
# --pgdata counts and pg_stat_archiver failures (pgpitr_archive_failing 1) until it works
# again, a removed segment is a hole; --textfile-dir writes pgpitr.prom 0644 and a failed
# write leaves the old file as it was.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$HERE/drill_lib.sh"

command -v promtool >/dev/null || skip "promtool missing (contrib/install-deps.sh installs prometheus)"

# metrics ARGS...: pgpitr metrics (as the cluster user) into $M; RC as pgp_capture; the output
# must pass promtool check metrics without a complaint.
metrics() {
    pgp_capture --repo "$REPO" metrics "$@"
    M=$OUT
    local lint
    lint=$(printf '%s\n' "$M" | promtool check metrics 2>&1) ||
        fail "promtool check metrics refused the output: $lint"
    [ -z "$lint" ] || fail "promtool check metrics complains: $lint"
}
# val KEY: the value of sample KEY (name with labels) in $M; "absent" when there is none.
val() {
    awk -v k="$1" '$1 == k {print $2; found = 1} END {if (!found) print "absent"}' <<<"$M"
}
iso_to_s() { date -u -d "$1" +%s; }

log "a repository that cannot be read"
if repo_is_s3 "$REPO"; then
    good_repo=$REPO
    REPO="s3://pgpitr-it-missing/${REPO#s3://*/}"
else
    good_repo=$REPO
    REPO="$WORK/no-such-repo"
fi
metrics
assert_rc 3 "metrics of a missing repository"
assert_eq 0 "$(val pgpitr_up)" "pgpitr_up of a missing repository"
assert_eq absent "$(val pgpitr_archive_holes)" "holes of a missing repository"
assert_contains "$ERR" "error:" "metrics names why the repository could not be read"
REPO=$good_repo
repo_is_s3 "$REPO" || mkdir_pg "$REPO"

log "a cluster archiving, a backup, a drill"
drill_source src
data=$(cluster_data src)
first=$(switch_wal src)
wait_archived src "$first"
drill --output json --report "$WORK/drill.json"
assert_rc 0 "pgpitr drill"
export PGPITR_RPO_OBJECTIVE=1h PGPITR_BACKUP_MAX_AGE=1d
metrics --pg-conn "$(conninfo src)" --pgdata "$data"
assert_rc 0 "metrics"
assert_eq 1 "$(val pgpitr_up)" "pgpitr_up"
assert_eq 1 "$(val pgpitr_repository_bound)" "bound"
assert_eq 0 "$(val pgpitr_archive_holes)" "holes"
assert_eq 1 "$(val 'pgpitr_backups{status="complete"}')" "complete backups"
MF="$WORK/manifest.json"
repo_read "$REPO" backup/base1/manifest.json >"$MF"
assert_eq "$(jq -r .size "$MF")" "$(val pgpitr_backup_last_size_bytes)" "backup size (manifest)"
assert_eq "$(jq -r .stored_size "$MF")" "$(val pgpitr_backup_last_stored_bytes)" \
    "backup stored size (manifest)"
start=$(iso_to_s "$(jq -r .start_time "$MF")")
stop=$(iso_to_s "$(jq -r .stop_time "$MF")")
assert_eq $((stop - start)) "$(val pgpitr_backup_last_duration_seconds)" "backup duration"
assert_eq "$stop" "$(val pgpitr_backup_last_complete_timestamp_seconds)" "backup end"
assert_eq 1 "$(val pgpitr_drill_last_success)" "drill passed"
rto=$(val pgpitr_drill_last_rto_seconds)
awk -v a="$rto" -v b="$(jq -r .phases.total_s "$WORK/drill.json")" \
    'BEGIN {exit !(a - b < 0.001 && b - a < 0.001)}' || fail "drill RTO $rto is not the report's"
assert_eq 3600 "$(val pgpitr_rpo_objective_seconds)" "rpo objective (PGPITR_RPO_OBJECTIVE)"
assert_eq 86400 "$(val pgpitr_backup_max_age_seconds)" "backup max age"
assert_eq absent "$(val pgpitr_rto_objective_seconds)" "rto objective not set: absent"
assert_eq 1 "$(val pgpitr_pg_up)" "pg_up"
assert_eq "$(psql_c src "SELECT archived_count FROM pg_stat_archiver")" \
    "$(val pgpitr_archive_archived_total)" "archived count (pg_stat_archiver)"
assert_eq 0 "$(val pgpitr_archive_failures_total)" "archive failures"
assert_eq 0 "$(val pgpitr_archive_failing)" "archive failing"
assert_eq 0 "$(val pgpitr_archive_ready_files)" "ready files"
# info and metrics agree: the same model
pgp_capture --repo "$REPO" info --output json
assert_rc 0 "info"
JSON=$OUT
tli=$(jq -r '.recovery_windows[0].timeline' <<<"$JSON")
assert_eq "$(iso_to_s "$(jq -r '.recovery_windows[0].earliest_time' <<<"$JSON")")" \
    "$(val "pgpitr_recovery_window_earliest_timestamp_seconds{tli=\"$tli\"}")" "window start (info)"
assert_eq "$(iso_to_s "$(jq -r '.recovery_windows[-1].latest_time' <<<"$JSON")")" \
    "$(val "pgpitr_recovery_window_latest_timestamp_seconds{tli=\"$tli\"}")" "window end (info)"
archived=$(iso_to_s "$(jq -r '.archive.newest_segment.archived' <<<"$JSON")")
assert_eq $(($(val pgpitr_metrics_timestamp_seconds) - archived)) \
    "$(val pgpitr_archive_last_archived_age_seconds)" "archive freshness (info's newest segment)"
# without --pg-conn and --pgdata the database host's metrics are absent, not zero
metrics
assert_eq absent "$(val pgpitr_pg_up)" "pg_up without --pg-conn"
assert_eq absent "$(val pgpitr_archive_failures_total)" "failures without --pg-conn"
assert_eq absent "$(val pgpitr_archive_ready_files)" "ready files without --pgdata"
unset PGPITR_RPO_OBJECTIVE PGPITR_BACKUP_MAX_AGE
metrics
assert_eq absent "$(val pgpitr_rpo_objective_seconds)" "rpo objective unset"

log "verify leaves its result for the metrics"
assert_eq absent "$(val pgpitr_verify_last_errors)" "verify errors before any verify"
t0=$(date +%s)
pgp_capture --repo "$REPO" verify --output json
assert_rc 0 "verify"
checked=$(jq -r '.checked.objects // empty' <<<"$OUT")
metrics
assert_eq 0 "$(val pgpitr_verify_last_errors)" "verify errors of an intact repository"
ts=$(val pgpitr_verify_last_timestamp_seconds)
[ "$ts" -ge "$t0" ] && [ "$ts" -le "$(date +%s)" ] || fail "verify time $ts is not this test's"
[ -z "$checked" ] || assert_eq "$checked" "$(val pgpitr_verify_last_objects)" "objects verify read"
assert_gt "$(val pgpitr_verify_last_objects)" 0 "objects verify read"

log "a new segment lowers the archive freshness"
sleep 2   # let the newest segment age (not a synchronization: the value measured is time)
metrics
before=$(val pgpitr_archive_last_archived_age_seconds)
assert_gt "$before" 1 "freshness after 2 s"
wait_archived src "$(switch_wal src)"
metrics
after=$(val pgpitr_archive_last_archived_age_seconds)
[ "$after" -lt "$before" ] || fail "freshness did not drop with a new segment: $before -> $after"

log "a failing archive_command: .ready backlog and pg_stat_archiver failures"
pg_conf src "archive_command = 'false'"
psql_c src "SELECT pg_reload_conf()" >/dev/null
stuck=$(switch_wal src)
for ((i = 0; i < 300; i++)); do
    [ "$(psql_c src "SELECT failed_count FROM pg_stat_archiver")" -gt 0 ] && break
    sleep 0.2
done
metrics --pg-conn "$(conninfo src)" --pgdata "$data"
assert_eq 0 "$RC" "metrics while archiving fails"
ready=$(find "$data/pg_wal/archive_status" -name '*.ready' | wc -l)
assert_gt "$ready" 0 ".ready files while archiving fails"
assert_eq "$ready" "$(val pgpitr_archive_ready_files)" "ready files"
assert_eq $((ready * 16777216)) "$(val pgpitr_archive_ready_bytes)" "ready bytes"
assert_gt "$(val pgpitr_archive_failures_total)" 0 "archive failures counted"
assert_eq 1 "$(val pgpitr_archive_failing)" "archive failing"
pg_enable_archiving src "$REPO"
psql_c src "SELECT pg_reload_conf()" >/dev/null
wait_archived src "$stuck"
metrics --pg-conn "$(conninfo src)" --pgdata "$data"
assert_eq 0 "$(val pgpitr_archive_failing)" "archive failing after it works again"
assert_eq 0 "$(val pgpitr_archive_ready_files)" "ready files after the backlog drained"

log "a removed segment is a hole"
segs=()
for i in 1 2 3; do segs+=("$(switch_wal src)"); done
wait_archived src "${segs[2]}"
obj=$(repo_find "$REPO" archive/wal "${segs[1]}-*")
[ -n "$obj" ] || fail "no archived object for ${segs[1]}"
repo_rm "$REPO" "$obj"
metrics
assert_eq 1 "$(val pgpitr_archive_holes)" "holes after removing ${segs[1]}"
# a damaged object: verify finds it (exit 7) and the metrics say how many problems
obj=$(repo_find "$REPO" archive/wal "${segs[2]}-*")
repo_read "$REPO" "$obj" >"$WORK/seg"
printf 'garbage' | dd of="$WORK/seg" bs=1 seek=100 conv=notrunc 2>/dev/null
repo_rm "$REPO" "$obj"
repo_write "$REPO" "$obj" <"$WORK/seg"
pgp_capture --repo "$REPO" verify
assert_rc 7 "verify of a damaged object"
found=$(sed -nE 's/.*verify found ([0-9]+) problem.*/\1/p' <<<"$ERR")
assert_gt "$found" 0 "problems verify found"
metrics
assert_eq "$found" "$(val pgpitr_verify_last_errors)" "verify errors in the metrics"

log "--textfile-dir"
tdir="$WORK/textfile"
mkdir_pg "$tdir"
metrics --textfile-dir "$tdir"
assert_rc 0 "metrics --textfile-dir"
assert_eq "" "$M" "nothing printed with --textfile-dir"
assert_eq 644 "$(stat -c %a "$tdir/pgpitr.prom")" "mode of pgpitr.prom"
promtool check metrics <"$tdir/pgpitr.prom" || fail "pgpitr.prom does not pass promtool"
M=$(cat "$tdir/pgpitr.prom")
assert_eq 1 "$(val pgpitr_archive_holes)" "holes in pgpitr.prom"
cp "$tdir/pgpitr.prom" "$WORK/old.prom"
chmod 0555 "$tdir"   # the cluster user can no longer create the temporary file
pgp_capture --repo "$REPO" metrics --textfile-dir "$tdir"
chmod 0755 "$tdir"
assert_ne 0 "$RC" "metrics into a directory it cannot write"
assert_one_line_error "metrics into a directory it cannot write"
assert_same_file "$WORK/old.prom" "$tdir/pgpitr.prom" "pgpitr.prom after a failed write"
assert_eq "pgpitr.prom" "$(ls -A "$tdir")" "files in the textfile directory"
pgp_capture --repo "$REPO" metrics --textfile-dir "$WORK/missing-dir"
assert_ne 0 "$RC" "metrics into a missing directory"
assert_one_line_error "metrics into a missing directory"

pg_stop src
log "ok"
