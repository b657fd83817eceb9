#!/usr/bin/env bash
# A WAL segment deleted from the middle of the archive: restore to the latest point (and to a
# time or LSN beyond the hole) refuses before writing anything - no target directory is
# created, an existing one is left as it was - and the error names the missing segment and
# the latest recoverable point. A target before the hole still restores.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

source_cluster src
wait_archived src "$(switch_wal src)"
backup_of src base1
sleep 2
add_row src 1 >/dev/null
lsn_before=$(insert_lsn src)
add_row src 2 >/dev/null
segs=()
for i in 3 4 5; do
    segs+=("$(switch_wal src)")
    add_row src "$i" >/dev/null
done
last=$(switch_wal src)
wait_archived src "$last"
sleep 1.1 # archive times are whole seconds: be clearly after the last segment before the hole
after=$(utc_now src)
hole=${segs[1]}
log "segments ${segs[*]} $last; removing $hole"
obj=$(repo_find "$REPO" archive/wal "$hole-*")
[ -n "$obj" ] || fail "no archived object for $hole"
repo_rm "$REPO" "$obj"

refused() {  # DIR ARGS...
    local dir=$1
    shift
    pgp_capture --repo "$REPO" restore --pgdata "$dir" "$@"
    assert_rc 1 "restore $* over a hole"
    assert_one_line_error "restore $*"
    assert_contains "$ERR" "WAL segment $hole is missing from the archive" "error names the hole"
    assert_contains "$ERR" "can reach at most LSN" "error says the latest recoverable point"
    assert_contains "$ERR" "HINT: recoverable with this backup: earliest" "hint gives the range"
}
refused "$WORK/n1/data"
assert_absent "$WORK/n1" "target of a refused restore"
refused "$WORK/n2/data" --target-time "$after"
assert_absent "$WORK/n2" "target of a refused restore"
lsn_after=$(insert_lsn src)
refused "$WORK/n3/data" --target-lsn "$lsn_after"
assert_absent "$WORK/n3" "target of a refused restore"
# an existing directory (even with --delta) is not touched
mkdir_pg "$WORK/n4/data"
echo keep >"$WORK/n4/data/marker"
refused "$WORK/n4/data" --delta
assert_eq keep "$(cat "$WORK/n4/data/marker")" "existing content after a refused delta restore"
assert_eq 1 "$(find "$WORK/n4/data" -mindepth 1 | wc -l)" "entries in the existing directory"

log "a target before the hole restores"
restored_rows r_ok --target-lsn "$lsn_before"
assert_eq "1" "$ROWS" "rows at $lsn_before"
log "ok"
