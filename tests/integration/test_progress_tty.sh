#!/usr/bin/env bash
# Progress on a terminal: backup, restore, verify, drill and expire, each run under script(1)
# so that stderr is a pseudo-terminal, print a progress line ("\r" and the phase, items done of
# all; a drill its restore, then the WAL segments it replayed);
# the same commands without a terminal print none (a log or a cron mail is not a screen).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

command -v script >/dev/null || fail "script(1) (util-linux) is needed"

# tty_pgp NAME ARGS...: pgpitr ARGS with a pseudo-terminal for stdin, stdout and stderr;
# everything it wrote goes to $WORK/tty.NAME.log; sets RC.
tty_pgp() {
    local name=$1
    shift
    printf '%q ' "${AS_PG[@]}" "$PGPITR" "$@" >"$WORK/tty.$name.cmd"
    RC=0
    script -q -e -c "bash $WORK/tty.$name.cmd" "$WORK/tty.$name.log" </dev/null >/dev/null || RC=$?
}
# assert_progress NAME PATTERN: the terminal saw a progress line, a carriage return followed by
# PATTERN (an extended regular expression).
assert_progress() {
    grep -aqE $'\r'"$2" "$WORK/tty.$1.log" ||
        fail "$1 on a terminal printed no progress line matching \"$2\": $(tr '\r' '|' <"$WORK/tty.$1.log" | tail -c 600)"
}

source_cluster src
pgbench_c src -i -q -s 2
wait_archived src "$(switch_wal src)"

log "backup on a terminal"
tty_pgp backup --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b1 --jobs 2
assert_rc 0 "backup on a terminal"
assert_progress backup 'backup: '
add_row src 1 >/dev/null
wait_archived src "$(switch_wal src)"

log "the same commands without a terminal print no progress"
backup_of src b2
case "$ERR" in *$'\r'*) fail "backup without a terminal printed a progress line: $ERR" ;; esac

log "verify on a terminal"
tty_pgp verify --repo "$REPO" verify --jobs 2
assert_rc 0 "verify on a terminal"
assert_progress verify 'verify: [0-9]+/[0-9]+ objects'

log "restore on a terminal"
mkdir_pg "$WORK/restored"
tty_pgp restore --repo "$REPO" restore --pgdata "$WORK/restored" --backup b2 --target-immediate
assert_rc 0 "restore on a terminal"
assert_progress restore 'restoring: [0-9]+/[0-9]+ files'

log "drill on a terminal"
mkdir_pg "$WORK/dtmp"
TMPDIR="$WORK/dtmp" tty_pgp drill --repo "$REPO" drill
assert_rc 0 "drill on a terminal"
assert_progress drill 'restoring: [0-9]+/[0-9]+ files'
assert_progress drill 'drill: replaying WAL: [1-9][0-9]* segments restored'
grep -aq 'drill: checking the recovered cluster' "$WORK/tty.drill.log" ||
    fail "the drill on a terminal did not say it checks the recovered cluster"
grep -aq 'PASSED' "$WORK/tty.drill.log" || fail "the drill's summary is missing from the terminal"

log "expire on a terminal"
tty_pgp expire --repo "$REPO" expire --retain-full 1
assert_rc 0 "expire on a terminal"
assert_progress expire 'expire: removing (backups|objects|WAL): [0-9]+/[0-9]+ \(100%\)'
pgp_capture --repo "$REPO" verify
assert_rc 0 "verify after expire"
case "$ERR" in *$'\r'*) fail "verify without a terminal printed a progress line: $ERR" ;; esac

log "ok"
