#!/usr/bin/env bash
# pgpitr info on a real cluster: an empty repository (exit 0, says so, empty JSON arrays), a
# missing one (exit 3), one backup (system identifier, timeline, label and LSNs match
# pg_controldata and the manifest; a recoverable window from it), an interrupted backup, a
# hole made by deleting an archived segment from the middle (the gap names the right
# segments and cuts the window), a backup caught running (SIGSTOP) while it holds its lock
# (info neither waits nor fails: it shows it running, with its pid, from its lock holder),
# which after the hole opens a new window, a backup killed (SIGKILL) while running (failed or
# interrupted, its lock listed as dead), and the latest drill report. Every JSON document validates against docs/info.schema.json
# and no text line is longer than 80 columns. On S3 the missing repository is a missing bucket (a
# prefix with nothing under it is an empty repository) and the interrupted backup is what one
# leaves there: its backup.inprogress marker (S3 has no empty directories).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"

SCHEMA="$(cd "$HERE/../.." && pwd)/docs/info.schema.json"
json() { jq -r "$1" <<<"$JSON"; }
T0=$(date +%s)
# changed_lately LABEL WHAT: the backup's last_change is a time of this test (an S3 prefix has
# no time of its own: it is its newest object's).
changed_lately() {
    local t s
    t=$(json ".backups[] | select(.label == \"$1\") | .last_change")
    if [ "$t" = null ] || ! s=$(date -u -d "$t" +%s); then
        fail "$2: last_change of $1 is '$t', not a time"
    fi
    if [ "$s" -lt $((T0 - 2)) ] || [ "$s" -gt $(($(date +%s) + 2)) ]; then
        fail "$2: last_change of $1 is $t, not a time of this test"
    fi
}

# info_text / info_json: run info (exit 0), check the 80 columns / the schema.
info_text() {
    pgp_capture --repo "$REPO" info
    assert_rc 0 "pgpitr info"
    TEXT=$OUT
    local long
    long=$(printf '%s\n' "$TEXT" | awk 'length > 80')
    [ -z "$long" ] || fail "info text lines longer than 80 columns: $long"
}
info_json() {
    pgp_capture --repo "$REPO" info --output json
    assert_rc 0 "pgpitr info --output json"
    JSON=$OUT
    printf '%s\n' "$JSON" >"$WORK/info.json"
    validate_schema "$SCHEMA" "$WORK/info.json"
}

# bucket_status BUCKET: the HTTP status of a HEAD of the bucket (200: it exists, 404: it does not).
bucket_status() { s3_curl /dev/null HEAD "$1" /; }

log "missing and empty repository"
if repo_is_s3 "$REPO"; then
    missing_bucket=pgpitr-it-missing
    assert_eq 404 "$(bucket_status "$missing_bucket")" "bucket $missing_bucket before info"
    pgp_capture --repo "s3://$missing_bucket/${REPO#s3://*/}" info
    assert_rc 3 "info of a repository in a bucket that does not exist"
    assert_one_line_error "info of a missing repository"
    assert_contains "$ERR" "NoSuchBucket" "info of a missing bucket names the S3 error"
    assert_eq 404 "$(bucket_status "$missing_bucket")" "info created the missing bucket"
    keys=$(repo_keys "$REPO")
    assert_eq "" "$keys" "objects in the repository before the first info"
else
    pgp_capture --repo "$WORK/no-such-repo" info
    assert_rc 3 "info of a repository directory that does not exist"
    assert_one_line_error "info of a missing repository"
    assert_absent "$WORK/no-such-repo" "info created the missing repository"
    mkdir_pg "$REPO"
fi
info_text
assert_contains "$TEXT" "the repository is empty: no repo.json" "text of an empty repository"
info_json
assert_eq false "$(json .bound)" "bound of an empty repository"
assert_eq null "$(json .cluster)" "cluster of an empty repository"
assert_eq 0 "$(json '.backups | length')" "backups of an empty repository"
assert_eq 0 "$(json '.archive.timelines | length')" "timelines of an empty repository"
assert_eq 0 "$(json '.recovery_windows | length')" "windows of an empty repository"
assert_eq null "$(json .latest_drill)" "drill of an empty repository"

log "one backup"
pg_init src
pg_enable_archiving src "$REPO"
pg_start src
psql_c src "CREATE TABLE t(i int)"
wait_archived src "$(switch_wal src)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base1 --jobs 2
assert_rc 0 "backup base1"
first=$(switch_wal src)
wait_archived src "$first"
info_json
sysid=$(cluster_sysid src)
tli=$(as_pg "$PG_BIN/pg_controldata" "$(cluster_data src)" | sed -n "s/^Latest checkpoint's TimeLineID: *//p")
M="$WORK/tmp/base1-manifest.json"
repo_read "$REPO" backup/base1/manifest.json >"$M"
assert_eq true "$(json .bound)" "bound"
assert_eq "$sysid" "$(json .cluster.system_identifier)" "system identifier (pg_controldata)"
assert_eq 15 "$(json .cluster.pg_major)" "PostgreSQL major version"
assert_eq 16777216 "$(json .cluster.wal_segment_size)" "WAL segment size"
assert_eq 1 "$(json '.backups | length')" "backups"
assert_eq base1 "$(json '.backups[0].label')" "label"
assert_eq complete "$(json '.backups[0].status')" "status"
assert_eq "$tli" "$(json '.backups[0].timeline')" "timeline (pg_controldata)"
assert_eq "$(jq -r .stop_lsn "$M")" "$(json '.backups[0].stop_lsn')" "stop LSN (manifest)"
assert_eq "$(jq -r .start_time "$M")" "$(json '.backups[0].start_time')" "start time (manifest)"
assert_eq "$(jq -r .size "$M")" "$(json '.backups[0].size')" "size (manifest)"
assert_eq "$(jq -r .new_stored_size "$M")" "$(json '.backups[0].new_stored_size')" "new stored size"
assert_eq true "$(json '.backups[0].restorable')" "base1 restorable"
assert_eq "$first" "$(json .archive.newest_segment.name)" "newest archived segment"
assert_eq 0 "$(json '[.archive.timelines[].gaps[]] | length')" "gaps before the hole"
assert_eq 1 "$(json '.recovery_windows | length')" "windows"
assert_eq base1 "$(json '.recovery_windows[0].backup')" "window's backup"
assert_eq "$(jq -r .stop_lsn "$M")" "$(json '.recovery_windows[0].earliest_lsn')" "window start"
assert_eq "$first" "$(json '.recovery_windows[0].last_segment')" "window end"
assert_eq false "$(json '.recovery_windows[0].cut')" "window cut"
info_text
assert_contains "$TEXT" "system identifier:  $sysid" "text: system identifier"
assert_contains "$TEXT" "base1: complete, timeline $tli" "text: backup"
assert_contains "$TEXT" "newest segment: $first" "text: freshness"
assert_contains "$TEXT" "from backup base1:" "text: window"
assert_contains "$TEXT" "LATEST DRILL" "text: drill heading"

log "a running backup and a hole in the archive"
# a backup that died: no manifest.json. Locally the bare directory (it died right after making
# it); S3 has no empty directories, there it is the marker the backup writes first.
if repo_is_s3 "$REPO"; then
    printf '{"pid": 999999, "started": %s}\n' "$(date +%s)" |
        repo_write "$REPO" backup/interrupted/backup.inprogress
else
    mkdir_pg "$REPO/backup/interrupted"
fi
psql_c src "INSERT INTO t VALUES (1)"
segs=()
for i in 1 2 3; do
    segs+=("$(switch_wal src)")
done
wait_archived src "${segs[2]}"
hole=${segs[1]}
obj=$(repo_find "$REPO" archive/wal "$hole-*")
[ -n "$obj" ] || fail "no archived object for $hole"
repo_rm "$REPO" "$obj"
info_json
assert_eq incomplete "$(json '.backups[] | select(.label == "interrupted") | .status')" "interrupted backup"
changed_lately interrupted "interrupted backup"
assert_eq 1 "$(json '[.archive.timelines[].gaps[]] | length')" "gaps"
assert_eq "$hole" "$(json '.archive.timelines[0].gaps[0].from')" "gap from"
assert_eq "$hole" "$(json '.archive.timelines[0].gaps[0].to')" "gap to"
assert_eq 1 "$(json '.recovery_windows | length')" "windows with the hole"
assert_eq true "$(json '.recovery_windows[0].cut')" "window cut by the hole"
assert_eq "$hole" "$(json '.recovery_windows[0].missing_segment')" "window cut at"
assert_eq "${segs[0]}" "$(json '.recovery_windows[0].last_segment')" "window ends before the hole"
assert_eq "${segs[2]}" "$(json '.recovery_windows[0].resumes_at')" "archive resumes after the hole"
info_text
assert_contains "$TEXT" "GAP: $hole..$hole (1 missing)" "text: gap"
assert_contains "$TEXT" "CUT: segment $hole is missing" "text: window cut"
assert_contains "$TEXT" "no backup after the gap" "text: what to do"
assert_contains "$TEXT" "interrupted: INCOMPLETE" "text: interrupted backup"
[[ "$TEXT" != *"last change - ("* ]] || fail "text: an incomplete backup without its last change"

# catch_backup LABEL: starts a backup and stops it (SIGSTOP) once its directory exists, while
# it holds its lock; BG_PID is its pid (setpriv execs pgpitr).
catch_backup() {
    local caught=0 i
    bg_pgp "$1" --repo "$REPO" backup --pg-conn "$(conninfo src)" --label "$1" --jobs 2
    for ((i = 0; i < 2400; i++)); do
        if repo_has "$REPO" "backup/$1/backup.inprogress"; then
            kill -STOP "$BG_PID"
            caught=1
            break
        fi
        pid_alive "$BG_PID" || break
        sleep 0.05
    done
    [ "$caught" = 1 ] || fail "backup $1 ended before it could be caught running"
    ! repo_has "$REPO" "backup/$1/manifest.json" || fail "backup $1 was caught after it finished"
    locks=$(repo_keys "$REPO" locks)
    [ -n "$locks" ] || fail "the running backup $1 holds no lock in $REPO/locks"
}
# lock_stamps: every lock object with what changes when it is written (repo_stamp).
lock_stamps() {
    local k
    repo_keys "$REPO" locks | while IFS= read -r k; do
        printf '%s %s\n' "$k" "$(repo_stamp "$REPO" "$k" | tr '\n' ' ')"
    done
}
HOST=$(hostname)
lock_of() {  # PID: the locks[] entry of that holder
    json ".locks[] | select(.pid == $1)"
}

log "info while a backup runs (stopped with SIGSTOP while it holds its lock), after the hole"
pgbench_c src -i -q -s 10   # enough data that the backup can be caught running
catch_backup base2
stamps=$(lock_stamps)   # the stopped backup cannot touch its lock: only info could
info_json   # must neither wait for the backup's lock nor fail on its half-written directory
info_text
assert_eq "$stamps" "$(lock_stamps)" "locks/ after info (info must not write there)"
kill -CONT "$BG_PID"
assert_eq incomplete "$(json '.backups[] | select(.label == "base2") | .status')" "running backup"
assert_eq "$BG_PID" "$(json '.backups[] | select(.label == "base2") | .running.pid')" \
    "running backup's pid"
assert_eq "$HOST" "$(json '.backups[] | select(.label == "base2") | .running.host')" \
    "running backup's host"
assert_eq label "$(json '.backups[] | select(.label == "base2") | .running.matched_by')" \
    "running backup matched by the label in its lock"
since=$(json '.backups[] | select(.label == "base2") | .running.since')
assert_eq 1 "$(json "[.locks[] | select(.pid == $BG_PID)] | length")" "the backup's lock listed"
assert_eq true "$(lock_of "$BG_PID" | jq -r .alive)" "the running backup's lock is alive"
assert_eq backup "$(lock_of "$BG_PID" | jq -r .kind)" "the running backup's lock kind"
assert_eq base2 "$(lock_of "$BG_PID" | jq -r .label)" "the running backup's lock label"
assert_contains "$TEXT" "base2: running (pid $BG_PID on host $HOST, since $since)" \
    "text: running backup"
assert_contains "$TEXT" "backup lock, backup base2: live" "text: the running backup's lock"
assert_contains "$TEXT" "1 incomplete (1 running)" "text: running count"
bg_wait "$BG_PID" base2
assert_rc 0 "backup base2"
wait_archived src "$(switch_wal src)"
info_json
assert_eq 0 "$(json '.locks | length')" "no lock after the backup ended"
info_text
assert_contains "$TEXT" "LOCKS
  none" "text: no locks"

log "a backup killed (SIGKILL) while it holds its lock: failed or interrupted"
catch_backup killed
kill -KILL "$BG_PID"
bg_wait "$BG_PID" killed
[ "$RC" -ne 0 ] || fail "the killed backup exited 0"
info_json
assert_eq incomplete "$(json '.backups[] | select(.label == "killed") | .status')" \
    "killed backup incomplete"
assert_eq null "$(json '.backups[] | select(.label == "killed") | .running')" \
    "killed backup not running"
changed_lately killed "killed backup"
assert_eq false "$(lock_of "$BG_PID" | jq -r .alive)" "the killed backup's lock is dead"
assert_eq killed "$(lock_of "$BG_PID" | jq -r .label)" "the killed backup's lock label"
info_text
assert_contains "$TEXT" "killed: INCOMPLETE, failed or interrupted (removed by the next backup" \
    "text: killed backup"
assert_contains "$TEXT" "backup lock, backup killed: DEAD" "text: the killed backup's lock"
assert_repo_has "$REPO" backup/killed/backup.inprogress "info removed the killed backup"
dead=$(repo_find "$REPO" locks 'backup-*.json')
[ -n "$dead" ] || fail "info removed the dead lock"
printf '{"status": "passed", "started": "2026-01-02T03:04:05Z", "finished": "2026-01-02T03:05:00Z", "phases": {"total_s": 55.5}}\n' |
    repo_write "$REPO" drill/20260102T030405Z-00aa.json
info_json
assert_eq complete "$(json '.backups[] | select(.label == "base2") | .status')" "base2 finished"
assert_eq 2 "$(json '.recovery_windows | length')" "windows after a backup past the hole"
assert_eq base2 "$(json '.recovery_windows[1].backup')" "second window's backup"
assert_eq false "$(json '.recovery_windows[1].cut')" "second window cut"
assert_eq true "$(json '.recovery_windows[0].cut')" "first window still cut"
assert_eq 20260102T030405Z-00aa "$(json .latest_drill.id)" "latest drill"
assert_eq passed "$(json .latest_drill.status)" "drill status"
assert_eq 55.5 "$(json .latest_drill.rto_s)" "drill RTO"
info_text
assert_contains "$TEXT" "from backup base2:" "text: second window"
assert_contains "$TEXT" "20260102T030405Z-00aa: PASSED" "text: drill"
printf '%s\n' "$TEXT"
pg_stop src
log "ok"
