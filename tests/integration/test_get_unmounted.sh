#!/usr/bin/env bash
# The repository path is an empty directory during archive recovery (an NFS or automount point
# that is not mounted): archive-get must not answer "not archived" (exit 1), or PostgreSQL ends
# recovery at whatever WAL it has and promotes with the rest lost. A restore is first replayed
# to an LSN and shut down there (the WAL it restored stays in pg_wal); started again towards
# the latest point with the repository path empty, it stops with a fatal error naming the
# directory instead of promoting; with the repository back, it recovers every row.
# repo-kinds: local -- an unmounted repository: its path is an empty directory (a mount point)
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"
# shellcheck source=tests/integration/getexit_lib.sh
source "$HERE/getexit_lib.sh"

REPO="$WORK/repo"
source_cluster src
wait_archived src "$(switch_wal src)"
backup_of src base1
add_row src 1 >/dev/null
add_row src 2 >/dev/null
mid=$(insert_lsn src)
wait_archived src "$(switch_wal src)"
# more WAL than PostgreSQL's read-ahead pulls into pg_wal while it replays to the target
psql_c src "CREATE TABLE filler AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) g"
for i in 3 4 5; do
    add_row src "$i" >/dev/null
    last=$(switch_wal src)
done
wait_archived src "$last"
pg_stop src

log "replay to $mid, then shut down there"
restore_to r --target-lsn "$mid" --target-action shutdown >/dev/null
restored_conf r
mark=$(log_mark r)
start_expect_stop r
log_since r "$mark" | grep -q 'shutdown at recovery target' || fail "r did not stop at its target"

log "towards the latest point, with the repository path an empty directory"
conf="$(cluster_data r)/postgresql.auto.conf"
sed -i -E '/^recovery_target_(lsn|action) /d' "$conf"
repo_swap_empty
mark=$(log_mark r)
start_expect_stop r
assert_stopped_not_promoted r "$mark"
text=$(log_since r "$mark")
assert_contains "$text" "pgpitr: error: \"$REPO\" is not a pgpitr repository (no repo.json)" \
    "archive-get's error names the directory"
assert_contains "$text" "HINT: is the repository mounted?" "archive-get's hint"
assert_absent "$REPO/repo.json" "archive-get wrote into the empty directory"
assert_eq "" "$(find "$REPO" -mindepth 1)" "entries archive-get left in the empty directory"

log "the repository path does not exist at all: fatal too, not \"not archived\""
repo_swap_back
mv "$REPO" "$REPO.gone"
mark=$(log_mark r)
start_expect_stop r
assert_stopped_not_promoted r "$mark"
assert_contains "$(log_since r "$mark")" "storage root \"$REPO\" does not exist" \
    "archive-get's error names the missing path"
assert_absent "$REPO" "archive-get created the missing repository path"

log "the repository is back: every row"
mv "$REPO.gone" "$REPO"
mark=$(log_mark r)
start_info r
wait_promoted r
assert_eq "1,2,3,4,5" "$(rows r)" "rows after recovery with the repository back"
n=$(assert_no_fatal_answer r "$mark")
log "archive-get answered \"not archived\" $n times: $(not_archived_answers r "$mark" | tr '\n' ' ')"
assert_gt "$n" 0 "\"not archived\" answers at the end of the archive"
log "ok"
