#!/usr/bin/env bash
# Same name + same content is silent success (PostgreSQL retries after a crash); same name +
# different content is exit 8 naming both checksums, and the archived object stays as it was.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

make_segments "$WORK/segs" 2
mapfile -t segs < <(find "$WORK/segs" -maxdepth 1 -type f | sort)
s=${segs[0]}
name=$(basename "$s")
sha=$(sha256_of "$s")

for attempt in 1 2 3; do
    pgp_capture --repo "$REPO" archive-push "$s"
    assert_rc 0 "push #$attempt of the same segment"
    assert_eq "" "$ERR" "stderr of push #$attempt"
done
obj=$(repo_object_key "$name" "$sha" .zst)   # (after the first push: in an encrypted run the key names it)
assert_repo_has "$REPO" "$obj" "the object"
nobj=$(repo_keys "$REPO" archive | grep -c . || true)
assert_eq 1 "$nobj" "objects after pushing one segment three times"
repo_read "$REPO" "$obj" >"$WORK/obj.before"
mtime_before=$(repo_stamp "$REPO" "$obj")

# Same name, different bytes: the same segment with one bit changed after the page header
# (what a rewritten segment looks like; the header still matches the name).
mkdir_pg "$WORK/other"
as_pg cp "$s" "$WORK/other/$name"
flip_bit "$WORK/other/$name" $(($(file_size "$s") / 2))
other_sha=$(sha256_of "$WORK/other/$name")
assert_ne "$sha" "$other_sha" "checksums of the two versions of the segment"
for codec in zstd none; do
    pgp_capture --repo "$REPO" archive-push --compress "$codec" "$WORK/other/$name"
    assert_rc 8 "push of different content under an archived name (--compress $codec)"
    assert_one_line_error "conflicting push"
    assert_contains "$ERR" "$(repo_content_hex "$sha")" "the error names the archived checksum"
    assert_contains "$ERR" "$(repo_content_hex "$other_sha")" "the error names the new file's checksum"
    repo_read "$REPO" "$obj" >"$WORK/obj.after"
    assert_same_file "$WORK/obj.before" "$WORK/obj.after" "archived object after a conflicting push"
    assert_eq "$mtime_before" "$(repo_stamp "$REPO" "$obj")" "mtime of the archived object"
    assert_eq 1 "$(repo_keys "$REPO" archive | grep -c . || true)" "objects after a conflicting push"
    [ -z "$(repo_debris "$REPO")" ] || fail "debris left: $(repo_debris "$REPO")"
done
archive_get_cmp "$REPO" "$name" "$s"

# Same content pushed with another codec is still the same content: success, no second copy
# needed for correctness; whatever is stored must decode to the original.
pgp_capture --repo "$REPO" archive-push --compress lz4 "$s"
assert_rc 0 "re-push of identical content with another codec"
hex=$(repo_content_hex "$sha")
while read -r o; do
    [ "$(object_walname "$o")" = "$name" ] || continue
    case "$o" in *"-$hex"*) ;; *) fail "object $o for $name does not carry the original checksum $sha ($hex)" ;; esac
done < <(repo_keys "$REPO" archive)
archive_get_cmp "$REPO" "$name" "$s"

# The same for a .history file (a different code path: archive/history/).
mkdir_pg "$WORK/h1" "$WORK/h2"
printf '1\t0/3000000\tno recovery target specified\n' >"$WORK/h1/00000002.history"
printf '1\t0/4000000\tno recovery target specified\n' >"$WORK/h2/00000002.history"
own "$WORK/h1" "$WORK/h2"
h1sha=$(sha256_of "$WORK/h1/00000002.history")
h2sha=$(sha256_of "$WORK/h2/00000002.history")
for attempt in 1 2; do
    pgp_capture --repo "$REPO" archive-push "$WORK/h1/00000002.history"
    assert_rc 0 "push #$attempt of a history file"
done
hobj=$(repo_object_key 00000002.history "$h1sha" .zst)
assert_repo_has "$REPO" "$hobj" "history object"
pgp_capture --repo "$REPO" archive-push "$WORK/h2/00000002.history"
assert_rc 8 "push of a different 00000002.history"
assert_contains "$ERR" "$(repo_content_hex "$h1sha")" "history conflict names the archived checksum"
assert_contains "$ERR" "$(repo_content_hex "$h2sha")" "history conflict names the new checksum"
archive_get_cmp "$REPO" 00000002.history "$WORK/h1/00000002.history"
log "ok"
