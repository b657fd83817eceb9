#!/usr/bin/env bash
# pgpitr check on a primary (docs/check.md): a healthy setup (archiving through the usual
# wrapper script, a backup, a drill) is OK on every check, exit 0, and its JSON validates
# against docs/check.schema.json; it stays OK while a backup runs (check takes no lock). Then
# one thing at a time is broken and the status, exit code and reason asserted: archive_command
# to another repository (directly, or through --config's file), archiving that fails
# (archive-test and pg_stat_archiver), a backup older than backup-max-age, a bad setting (the
# rest still runs), a missing repository, no drill, a hole in the archive. A usage error and
# an unreadable configuration file are UNKNOWN (3). Every repository kind.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

CHECK_SCHEMA="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/check.schema.json"
export PGPITR_RPO_OBJECTIVE=1h PGPITR_DRILL_MAX_AGE=1h PGPITR_BACKUP_MAX_AGE=1h

# check ARGS...: pgpitr check against src as the cluster user; sets RC, OUT, ERR.
check() { pgp_capture --repo "$REPO" check --pg-conn "$(conninfo src)" "$@"; }
# status NAME: the status of check NAME in the last --output json run.
status() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .status' <<<"$OUT"; }
reason() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .reason' <<<"$OUT"; }
# expect NAME STATUS REASON-PART: after a --output json run.
expect() {
    assert_eq "$2" "$(status "$1")" "check $1 ($(reason "$1"))"
    assert_contains "$(reason "$1")" "$3" "reason of $1"
}
validate() {
    printf '%s\n' "$OUT" >"$WORK/check.json"
    validate_schema "$CHECK_SCHEMA" "$WORK/check.json"
}
# set_archive_command CMD: ALTER SYSTEM, reload, until a new session sees it.
set_archive_command() {
    local i
    psql_c src "ALTER SYSTEM SET archive_command = '$1'" >/dev/null
    psql_c src "SELECT pg_reload_conf()" >/dev/null
    for ((i = 0; i < 100; i++)); do
        [ "$(psql_c src "SHOW archive_command")" = "$1" ] && return 0
        sleep 0.1
    done
    fail "archive_command not reloaded"
}

drill_source src
drill --output json
assert_rc 0 "pgpitr drill"
good_command=$(psql_c src "SHOW archive_command")

log "healthy: every check OK, exit 0"
check --output json
assert_rc 0 "check of a healthy setup (stdout: $OUT)"
validate
assert_eq OK "$(jq -r .status <<<"$OUT")" "overall status"
assert_eq 0 "$(jq -r .exit_status <<<"$OUT")" "exit_status"
# drill-objectives: SKIPPED until drill reports carry objectives (OK once they do)
not_ok=$(jq -r '.checks[] | select(.status != "OK" and .name != "drill-objectives"
    and (.name != "free-space" or .status != "SKIPPED")) | .name' <<<"$OUT")
assert_eq "" "$not_ok" "checks not OK"
expect archive-command OK "through"
expect archive-test OK "archived"
expect cluster OK "$(cluster_sysid src)"
expect backup-age OK "base1"
expect drill OK "passed"
expect rpo OK "rpo-objective"
if [ "$REPO_KIND" = local ]; then expect free-space OK "free of"; fi
check
assert_rc 0 "text check"
assert_contains "$(head -n 1 <<<"$OUT")" "PGPITR CHECK OK - 13 checks" "Nagios first line"
assert_eq "" "$(repo_keys "$REPO" check)" "probe object left behind"

log "while a backup runs: still OK (check takes no lock)"
bg_pgp running --repo "$REPO" backup --pg-conn "$(conninfo src)" --label running --max-rate 1M
running=$BG_PID
for ((i = 0; i < 300; i++)); do
    repo_has "$REPO" backup/running/backup.inprogress && break
    sleep 0.1
done
repo_has "$REPO" backup/running/backup.inprogress || fail "the backup did not start"
check --output json
assert_rc 0 "check during a backup (stdout: $OUT)"
expect backup-age OK "base1"
expect archive-test OK "archived"
pid_alive "$running" || fail "the backup ended before check did: nothing proven"
kill -TERM "$running"
bg_wait "$running" running

log "archive_command to another repository: CRITICAL"
set_archive_command "$PGPITR --repo $WORK/elsewhere archive-push %p"
check --output json
assert_rc 2 "check with a wrong archive_command"
validate
expect archive-command CRITICAL "not to this repository"
expect archive-test SKIPPED "does not archive into this repository"
assert_contains "$(jq -r .summary <<<"$OUT")" "PGPITR CHECK CRITICAL - 1 critical: archive-command:" \
    "summary"

log "archive_command with --config: the file's repo setting is read"
printf '[global]\nrepo = %s\n' "$REPO" >"$WORK/pgp.conf"
own "$WORK/pgp.conf"
set_archive_command "$PGPITR --config $WORK/pgp.conf archive-push %p"
check --output json --no-archive-test
expect archive-command OK "this repository"
printf '[global]\nrepo = %s\n' "$WORK/elsewhere" >"$WORK/pgp.conf"
check --output json --no-archive-test
assert_rc 2 "check with --config naming another repository"
expect archive-command CRITICAL "archives to \"$WORK/elsewhere\""
set_archive_command "$good_command"

log "archiving fails: archive-test and archiver CRITICAL"
mkdir_pg "$WORK/bad"
set_archive_command "$(archive_wrapper bad "$REPO" --compress-level 999)"
failed_before=$(psql_c src "SELECT failed_count FROM pg_stat_archiver")
seg=$(switch_wal src)
for ((i = 0; i < 100; i++)); do
    [ "$(psql_c src "SELECT failed_count FROM pg_stat_archiver")" -gt "$failed_before" ] && break
    sleep 0.1
done
check --output json --archive-timeout 2
assert_rc 2 "check while archiving fails"
validate
expect archive-command OK "this repository"
expect archive-test CRITICAL "after 2s"
expect archiver CRITICAL "archiving fails: last failure"
assert_contains "$(reason archiver)" "$seg" "archiver names the failing segment"
set_archive_command "$good_command"
wait_archived src "$seg"
check --output json --no-archive-test
assert_rc 0 "check after archiving recovered"
expect archiver OK "recovered from"

log "backup older than backup-max-age: CRITICAL"
sleep 1.1   # the backup is now older than 1s
PGPITR_BACKUP_MAX_AGE=1s check --output json --no-archive-test
assert_rc 2 "check with backup-max-age 1s"
expect backup-age CRITICAL "more than backup-max-age 1s"

log "a bad setting: configuration CRITICAL, the rest still runs"
PGPITR_DRILL_MAX_AGE=soon check --output json --no-archive-test
assert_rc 2 "check with a bad setting"
validate
expect configuration CRITICAL "drill-max-age"
expect cluster OK "$(cluster_sysid src)"
expect backup-age OK "base1"

log "a missing repository: CRITICAL"
pgp_capture --repo "$WORK/no-such-repo" check --pg-conn "$(conninfo src)" --output json \
    --no-archive-test
assert_rc 2 "check of a missing repository"
validate
expect repository CRITICAL "no-such-repo"
expect backup-age SKIPPED "cannot be read"
expect archive-command CRITICAL "not to this repository"

log "UNKNOWN: a usage error, an unreadable configuration file"
check --bogus
assert_rc 3 "usage error"
assert_one_line_error "usage error"
pgp_capture --config "$WORK/no-such.conf" --repo "$REPO" check
assert_rc 3 "missing configuration file"

log "no drill: WARNING"
for k in $(repo_keys "$REPO" drill); do repo_rm "$REPO" "$k"; done
check --output json --no-archive-test
assert_rc 1 "check without a drill"
expect drill WARNING "no drill report"
assert_contains "$(jq -r .summary <<<"$OUT")" "PGPITR CHECK WARNING - 1 warning: drill:" "summary"

log "a hole in the archive since the oldest backup: CRITICAL"
for ((i = 0; i < 3; i++)); do last=$(switch_wal src); done
wait_archived src "$last"
hole=$(repo_keys "$REPO" archive/wal | grep -E '/[0-9A-F]{24}[.-]' | LC_ALL=C sort | tail -n 2 | head -n 1)
[ -n "$hole" ] || fail "no segment to remove"
repo_rm "$REPO" "$hole"
check --output json --no-archive-test
assert_rc 2 "check with a hole"
expect archive-holes CRITICAL "1 hole since the oldest backup"
log "ok"
