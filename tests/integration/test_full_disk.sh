#!/usr/bin/env bash
# A full repository file system: archive-push fails with exit 6 and a "no space" error, never
# leaves a partial object under a final name nor a temp file; everything acknowledged before
# still reads back intact. Needs root (mounts a 6 MiB tmpfs); skipped (exit 77) otherwise.
# repo-kinds: local -- a full file system under the repository (a small tmpfs)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

[ "$IS_ROOT" -eq 1 ] || skip "needs root to mount a tmpfs"
REPO="$WORK/repo"
mkdir -p "$REPO"
if ! mount -t tmpfs -o "size=6M,mode=0700,uid=$(id -u "$PG_USER"),gid=$(id -g "$PG_USER")" pgpitr-full "$REPO" 2>"$WORK/mount.err"; then
    rmdir "$REPO"
    skip "cannot mount a tmpfs: $(cat "$WORK/mount.err")"
fi
MOUNTS+=("$REPO")

# 1 MiB segments: about five fit uncompressed.
make_segments "$WORK/segs" 12 --wal-segsize=1
mapfile -t segs < <(find "$WORK/segs" -maxdepth 1 -type f | sort)

pushed=()
full_rc=""
for s in "${segs[@]}"; do
    name=$(basename "$s")
    pgp_capture --repo "$REPO" archive-push --compress none "$s"
    if [ "$RC" -eq 0 ]; then
        pushed+=("$s")
        assert_file "$(repo_object_path "$REPO" "$name" "$(sha256_of "$s")" "")" "object of acknowledged $name"
        continue
    fi
    full_rc=$RC
    log "push of $name failed with exit $RC after ${#pushed[@]} pushes: $ERR"
    assert_rc 6 "archive-push into a full file system"
    assert_one_line_error "archive-push into a full file system"
    assert_icontains "$ERR" 'no space' "the error says the disk is full"
    assert_contains "$ERR" "$name" "the error names the segment"
    for o in $(repo_objects "$REPO"); do
        [ "$(object_walname "$o")" != "$name" ] || fail "an object of the failed push exists under a final name: $o"
    done
    break
done
[ -n "$full_rc" ] || fail "the 6 MiB repository never filled up after ${#pushed[@]} pushes of 1 MiB segments"
assert_gt "${#pushed[@]}" 0 "pushes acknowledged before the disk filled up"

# The failed push left nothing behind, and the same happens when it is retried (as
# PostgreSQL does): still exit 6, still no debris.
[ -z "$(repo_tmpfiles "$REPO")" ] || fail "temp files left after ENOSPC: $(repo_tmpfiles "$REPO")"
failed_seg=${segs[${#pushed[@]}]}
for _ in 1 2 3; do
    pgp_capture --repo "$REPO" archive-push --compress none "$failed_seg"
    assert_rc 6 "retry of the push into a full file system"
    [ -z "$(repo_tmpfiles "$REPO")" ] || fail "temp files left after a retried ENOSPC: $(repo_tmpfiles "$REPO")"
done

# Every object under a final name is complete and correct (archive-get verifies; cmp proves).
declare -A orig=()
for s in "${segs[@]}"; do orig[$(basename "$s")]=$s; done
n=0
for o in $(repo_objects "$REPO"); do
    w=$(object_walname "$o")
    [ -n "${orig[$w]:-}" ] || fail "unexpected object $o"
    archive_get_cmp "$REPO" "$w" "${orig[$w]}"
    n=$((n + 1))
done
assert_eq "${#pushed[@]}" "$n" "objects in the repository = acknowledged pushes"
for s in "${pushed[@]}"; do
    archive_get_cmp "$REPO" "$(basename "$s")" "$s"
done

# Fill the disk completely (no room even for a temp file's first block), then try again.
dd if=/dev/zero of="$REPO/filler" bs=64k status=none 2>/dev/null || true
pgp_capture --repo "$REPO" archive-push --compress none "$failed_seg"
assert_rc 6 "push into a file system with zero bytes free"
[ -z "$(repo_tmpfiles "$REPO")" ] || fail "temp files left on a completely full disk: $(repo_tmpfiles "$REPO")"
rm -f "$REPO/filler"

# Once there is room again, the same segment archives fine.
first_obj=$(repo_objects "$REPO" | head -n 1)
first_name=$(object_walname "$first_obj")
rm -f "$first_obj"   # an operator freeing space (test only)
pgp_capture --repo "$REPO" archive-push --compress none "$failed_seg"
assert_rc 0 "push after space was freed"
archive_get_cmp "$REPO" "$(basename "$failed_seg")" "$failed_seg"
log "ok (disk filled after ${#pushed[@]} segments; freed $first_name)"
