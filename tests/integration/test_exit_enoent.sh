#!/usr/bin/env bash
# Exit 1 is an answer ("not archived", "no backup reaches the target"), never a file that
# vanished (issue #9, defect 9): an operating system call failing with ENOENT is an I/O error,
# exit 5, in every command. Here a restore whose relative --pgdata cannot be resolved (its
# current directory was removed) and an archive-push of a file that does not exist. The same
# restore with a target no backup reaches still answers 1.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

backed_up_source src base1
wait_archived src "$(switch_wal src)"

log "restore into a relative directory from a current directory that was removed"
mkdir_pg "$WORK/gone"
(
    cd "$WORK/gone"
    rmdir "$WORK/gone"
    pgp_capture --repo "$REPO" restore --pgdata rel/data
    printf '%s\n' "$RC" >"$WORK/gone.rc"
)
RC=$(cat "$WORK/gone.rc")
ERR=$(cat "$WORK/last.err")
assert_rc 5 "restore whose current directory vanished"
assert_one_line_error "restore whose current directory vanished"
assert_contains "$ERR" "cannot get the current directory" "error says what failed"
assert_contains "$ERR" "No such file or directory" "error gives the cause"

log "archive-push of a file that does not exist"
pgp_capture --repo "$REPO" archive-push "$WORK/nothing/000000010000000000000042"
assert_rc 5 "archive-push of a missing file"
assert_one_line_error "archive-push of a missing file"
assert_contains "$ERR" "No such file or directory" "archive-push error gives the cause"

log "exit 1 stays the answer where it is one: no backup reaches the target"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/early/data" --target-time "2000-01-01 00:00:00Z"
assert_rc 1 "restore to a time before every backup"
assert_contains "$ERR" "no complete backup can reach target" "restore says why"
assert_absent "$WORK/early" "target directory of a refused restore"
log "ok"
