#!/usr/bin/env bash
# Progress on a terminal: backup, restore, verify, drill and expire, each run under script(1)
# so that stderr is a pseudo-terminal, print a progress line ("\r" and the phase, items done of
# all; a drill its restore, then the WAL segments it replayed); backup and restore end each
# phase (checkpoint, stream, check, wal, manifest; plan, delta, files, finish) with a line of
# its time and throughput (src/common/progress.c).
# The same commands without a terminal print none (a log or a cron mail is not a screen): the
# phase lines are info messages there; --progress forces the status lines without a terminal,
# --no-progress keeps them off a terminal.
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
# assert_progress NAME PATTERN: the terminal saw a progress line, a carriage return (and for
# backup and restore the erase to the end of the line, ESC [K) followed by PATTERN (an
# extended regular expression).
assert_progress() {
    grep -aqE $'\r(\x1b\\[K)?'"$2" "$WORK/tty.$1.log" ||
        fail "$1 on a terminal printed no progress line matching \"$2\": $(tr '\r\033' '|^' <"$WORK/tty.$1.log" | tail -c 900)"
}
# A throughput above zero: "12.3 MiB/s", "0.4 MiB/s", not "0.0 MiB/s".
NONZERO='([1-9][0-9]*\.[0-9]|0\.[1-9]) MiB/s'
# assert_phase NAME PATTERN: the final line of a phase, on a line of its own (cleared status
# line before it, newline after it).
assert_phase() {
    grep -aqE $'\x1b\\[K'"$2"$'\r?$' "$WORK/tty.$1.log" ||
        fail "$1 on a terminal printed no phase line matching \"$2\": $(tr '\r\033' '|^' <"$WORK/tty.$1.log" | tail -c 900)"
}

source_cluster src
pgbench_c src -i -q -s 2
wait_archived src "$(switch_wal src)"

log "backup on a terminal"
tty_pgp backup --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b1 --jobs 2
assert_rc 0 "backup on a terminal"
assert_progress backup 'backup: checkpoint: [0-9]+ s, waiting for the server.s fast checkpoint'
assert_progress backup 'backup: stream: [0-9]+ files'
assert_phase backup 'backup: checkpoint: [0-9.]+ s, fast, start LSN [0-9A-F]+/[0-9A-F]+'
assert_phase backup "backup: stream: [1-9][0-9]* files, [0-9.]+ MiB in [0-9.]+ s, $NONZERO, received [0-9.]+ MiB, stored [0-9.]+ MiB \\([0-9.]+ MiB new\\)(, chunks [0-9]+ new of [0-9]+)?"
assert_phase backup 'backup: check: [1-9][0-9]* files, [0-9.]+ s, all match the server.s backup_manifest'
assert_phase backup 'backup: wal: [0-9.]+ s, WAL [0-9A-F]{24} to [0-9A-F]{24} archived'
assert_phase backup 'backup: manifest: [0-9.]+ s, manifest.json written: the backup is restorable'
grep -aq '^backup b1 complete' "$WORK/tty.backup.log" || fail "the backup's summary is missing"
add_row src 1 >/dev/null
wait_archived src "$(switch_wal src)"

log "the same commands without a terminal print no progress; the phase lines are info"
backup_of src b2
case "$ERR" in *$'\r'*) fail "backup without a terminal printed a progress line: $ERR" ;; esac
[ -z "$ERR" ] || fail "backup without a terminal wrote to stderr: $ERR"
pgp_capture --repo "$REPO" --log-level info backup --pg-conn "$(conninfo src)" --label b3 --jobs 2
assert_rc 0 "backup --log-level info"
case "$ERR" in *$'\r'*) fail "backup --log-level info printed a progress line: $ERR" ;; esac
printf '%s\n' "$ERR" | grep -qE "^pgpitr: info: backup: stream: [1-9][0-9]* files, .*$NONZERO" ||
    fail "backup --log-level info has no stream line: $ERR"
printf '%s\n' "$ERR" | grep -q "^pgpitr: info: backup: manifest: " ||
    fail "backup --log-level info has no manifest line: $ERR"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b4 --jobs 2 --output json \
    --progress
assert_rc 0 "backup --progress without a terminal"
case "$ERR" in *$'\r\033[K'"backup: stream: "*) ;; *) fail "backup --progress drew no status line: $ERR" ;; esac
case "$OUT" in *$'\r'*) fail "backup --progress wrote a status line on stdout: $OUT" ;; esac
printf '%s' "$OUT" | python3 -c 'import json,sys; json.load(sys.stdin)' ||
    fail "backup --progress --output json: stdout is not JSON: $OUT"
tty_pgp backup-off --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b5 --jobs 2 \
    --no-progress
assert_rc 0 "backup --no-progress on a terminal"
! grep -aq $'\r\033' "$WORK/tty.backup-off.log" ||
    fail "backup --no-progress drew a status line on a terminal"

log "verify on a terminal"
tty_pgp verify --repo "$REPO" verify --jobs 2
assert_rc 0 "verify on a terminal"
assert_progress verify 'verify: [0-9]+/[0-9]+ objects'

log "restore on a terminal"
mkdir_pg "$WORK/restored"
tty_pgp restore --repo "$REPO" restore --pgdata "$WORK/restored" --backup b2 --target-immediate
assert_rc 0 "restore on a terminal"
assert_progress restore 'restore: plan: '
assert_progress restore 'restore: files: [0-9]+/[0-9]+ files, [0-9.]+/[0-9.]+ MiB \([0-9]+%\)'
assert_phase restore 'restore: plan: [0-9.]+ s, backup b2, [0-9]+ WAL segment\(s\) to the target'
assert_phase restore "restore: files: [1-9][0-9]* files, [0-9.]+ MiB in [0-9.]+ s, $NONZERO(, chunks [0-9]+ fetched)?"
assert_phase restore 'restore: finish: [0-9.]+ s, directories synced, recovery configured, pg_control written last'
grep -aq '^restored [0-9]* files' "$WORK/tty.restore.log" || fail "the restore's summary is missing"

log "restore --delta on a terminal: its delta phase"
tty_pgp restore-delta --repo "$REPO" restore --pgdata "$WORK/restored" --backup b3 \
    --target-immediate --delta
assert_rc 0 "restore --delta on a terminal"
assert_phase restore-delta 'restore: delta: [0-9]+ entries removed, [0-9.]+ s'
assert_phase restore-delta 'restore: files: [1-9][0-9]* files, .*[0-9]+ kept \(size and SHA-256 matched\), chunks [0-9]+ fetched of [0-9]+'

log "restore without a terminal: no status line, phase lines at info"
mkdir_pg "$WORK/restored2"
pgp_capture --repo "$REPO" --log-level info restore --pgdata "$WORK/restored2" --backup b2 \
    --target-immediate
assert_rc 0 "restore without a terminal"
case "$ERR$OUT" in *$'\r'*) fail "restore without a terminal printed a progress line: $ERR" ;; esac
printf '%s\n' "$ERR" | grep -qE "^pgpitr: info: restore: files: [1-9][0-9]* files, .*$NONZERO" ||
    fail "restore --log-level info has no files line: $ERR"

log "drill on a terminal"
mkdir_pg "$WORK/dtmp"
TMPDIR="$WORK/dtmp" tty_pgp drill --repo "$REPO" drill
assert_rc 0 "drill on a terminal"
assert_progress drill 'restore: files: [0-9]+/[0-9]+ files'
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
