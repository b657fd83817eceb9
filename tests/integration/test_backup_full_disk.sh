#!/usr/bin/env bash
# A repository file system that fills up during a backup: pgpitr backup fails with exit 6 and a
# one-line "no space" error, no backup is listed as complete, no temp file is left; once there
# is room again (the tmpfs is grown), the next backup removes what the failed one left
# (directory and unreferenced objects) and succeeds. Needs root (mounts a tmpfs); skipped
# (exit 77) otherwise. Part of the backup error tests (see test_backup_errors.sh).
# repo-kinds: local -- a full file system under the repository (a small tmpfs, then grown)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

[ "$IS_ROOT" -eq 1 ] || skip "needs root to mount a tmpfs"
REPO="$WORK/repo"
mkdir -p "$REPO"
if ! mount -t tmpfs -o "size=24M,mode=0700,uid=$(id -u "$PG_USER"),gid=$(id -g "$PG_USER")" pgpitr-full "$REPO" 2>"$WORK/mount.err"; then
    rmdir "$REPO"
    skip "cannot mount a tmpfs: $(cat "$WORK/mount.err")"
fi
MOUNTS+=("$REPO")

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
pgbench_c src -i -q -s 1
wait_archived src "$(switch_wal src)"
log "repository before the backup: $(du -sh "$REPO" | cut -f1) used of 24M"

# Uncompressed, the cluster (~40 MiB) cannot fit in what is left of the 24 MiB.
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label full1 --compress none --jobs 2
log "  $ERR"
assert_rc 6 "backup into a full file system"
assert_one_line_error "backup into a full file system"
assert_icontains "$ERR" 'no space' "the error says the disk is full"
assert_contains "$ERR" "full1" "the error names the backup"
assert_absent "$REPO/backup/full1/manifest.json" "manifest.json of the failed backup"
[ -z "$(find "$REPO/backup" -name manifest.json 2>/dev/null)" ] || fail "a backup is listed as complete: $(find "$REPO/backup" -name manifest.json)"
[ -z "$(repo_tmpfiles "$REPO")" ] || fail "temp files left after ENOSPC: $(repo_tmpfiles "$REPO")"
objs_failed=$(find "$REPO/objects" -type f 2>/dev/null | wc -l)
log "the failed backup left $objs_failed objects"

log "room again: grow the tmpfs, back up"
mount -o remount,size=256M "$REPO" || fail "cannot grow the tmpfs"
# The archiver retries what failed meanwhile; the backup waits for its WAL anyway.
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label good --compress none --jobs 2 --output json
assert_rc 0 "backup once there is room"
assert_file "$REPO/backup/good/manifest.json" "manifest of the good backup"
assert_absent "$REPO/backup/full1" "the failed backup's directory after the next backup"
# Every object left is one the good backup references.
backup_refs "$REPO" good | sort -u >"$WORK/refs"
(cd "$REPO" && find objects -type f | sort) >"$WORK/objs"
orphans=$(comm -13 "$WORK/refs" "$WORK/objs")
[ -z "$orphans" ] || fail "objects of the failed backup remain unreferenced: $(printf '%s\n' "$orphans" | head -n 3)"
[ -z "$(repo_tmpfiles "$REPO")" ] || fail "temp files left: $(repo_tmpfiles "$REPO")"
log "ok"
