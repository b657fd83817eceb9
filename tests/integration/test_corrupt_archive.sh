#!/usr/bin/env bash
# A damaged archived object is never handed to PostgreSQL: archive-get exits 255 (> 125 stops
# recovery instead of ending it quietly), leaves no DEST, and names the file. A name that is
# not archived is exit 1 and silent. For each codec, a flipped bit and a truncation.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

SEGS="$WORK/segs"
make_segments "$SEGS" 2
mapfile -t segs < <(find "$SEGS" -type f | sort)
s=${segs[0]}
name=$(basename "$s")
sha=$(sha256_of "$s")
dest="$WORK/tmp/dest"

check_fails_fatal() {  # what
    rm -f "$dest"
    pgp_capture --repo "$r" archive-get "$name" "$dest"
    assert_rc 255 "$1: archive-get"
    assert_absent "$dest" "$1: DEST after a failed archive-get"
    assert_one_line_error "$1"
    assert_contains "$ERR" "$name" "$1: the error names the file"
    [ -z "$(repo_debris "$r")" ] || fail "$1: debris left: $(repo_debris "$r")"
    [ -z "$(dest_debris)" ] || fail "$1: temp files left beside DEST: $(dest_debris)"
}

for codec in zstd lz4 none; do
    case $codec in zstd) ext=.zst ;; lz4) ext=.lz4 ;; none) ext= ;; esac
    r=$(repo_url "repo-$codec")
    pgp_capture --repo "$r" archive-push --compress "$codec" "$s"
    assert_rc 0 "archive-push --compress $codec"
    obj=$(repo_object_key "$name" "$sha" "$ext" "$r")
    assert_repo_has "$r" "$obj" "$codec object"
    archive_get_cmp "$r" "$name" "$s"
    repo_read "$r" "$obj" >"$WORK/good.obj"

    size=$(file_size "$WORK/good.obj")
    log "$codec: flip one bit in the middle of the $size-byte object"
    repo_corrupt "$r" "$obj" $((size / 2))
    repo_read "$r" "$obj" | cmp -s - "$WORK/good.obj" && fail "repo_corrupt did not change $obj"
    check_fails_fatal "$codec object with a flipped bit"

    # A flipped bit near the end (checksums/trailers) too.
    repo_write "$r" "$obj" <"$WORK/good.obj"
    repo_corrupt "$r" "$obj" $((size - 2))
    check_fails_fatal "$codec object with a flipped bit near its end"

    log "$codec: truncate the object"
    head -c $((size / 2)) "$WORK/good.obj" | repo_write "$r" "$obj"
    check_fails_fatal "$codec object truncated to half"
    repo_write "$r" "$obj" </dev/null
    check_fails_fatal "$codec object truncated to zero bytes"

    # Restored, it reads fine again (the failures above were about the bytes, nothing else).
    repo_write "$r" "$obj" <"$WORK/good.obj"
    archive_get_cmp "$r" "$name" "$s"

    # DEST already present with other content: a failure must not leave it there either
    # (PostgreSQL removes it first, but a stale file must never pass as restored).
    repo_corrupt "$r" "$obj" $((size / 2))
    as_pg cp "${segs[1]}" "$dest"
    pgp_capture --repo "$r" archive-get "$name" "$dest"
    assert_rc 255 "$codec: corrupt object over an existing DEST"
    if [ -e "$dest" ] && ! cmp -s "$dest" "${segs[1]}"; then
        fail "$codec: a failed archive-get changed the existing DEST"
    fi
    rm -f "$dest"
    repo_write "$r" "$obj" <"$WORK/good.obj"

    # Not archived: exit 1 and nothing on stderr (PostgreSQL calls this for every name it probes).
    next="${name:0:16}000000FE"   # a valid 16 MiB segment name far ahead, never archived
    for missing in "$next" 00000099.history "$name.partial"; do
        rm -f "$dest"
        pgp_capture --repo "$r" archive-get "$missing" "$dest"
        assert_rc 1 "$codec: archive-get of $missing, which is not archived"
        assert_eq "" "$ERR" "$codec: stderr of archive-get of a missing name"
        assert_absent "$dest" "$codec: DEST after archive-get of a missing name"
    done
done

# An object under a final name whose checksum does not match its name (e.g. replaced by
# another segment's object): archive-get must notice, not hand over the other bytes.
r=$(repo_url repo-zstd)
other=${segs[1]}
pgp_capture --repo "$r" archive-push "$other"
assert_rc 0 "archive-push of a second segment"
obj=$(repo_object_key "$name" "$sha" .zst "$r")
oobj=$(repo_object_key "$(basename "$other")" "$(sha256_of "$other")" .zst "$r")
repo_read "$r" "$oobj" | repo_write "$r" "$obj"
check_fails_fatal "object whose content does not match the checksum in its name"

# A repository whose repo.json is damaged is fatal too, not "not archived".
r2=$(repo_url repo-badjson)
pgp_capture --repo "$r2" archive-push "$s"
assert_rc 0 "archive-push into a fresh repository"
printf '{ this is not json' | repo_write_raw "$r2" repo.json   # plain; repo-put refuses it
rm -f "$dest"
pgp_capture --repo "$r2" archive-get "$name" "$dest"
assert_rc 255 "archive-get with a damaged repo.json"
assert_absent "$dest" "DEST after archive-get with a damaged repo.json"
pgp_capture --repo "$r2" archive-get "$next" "$dest"
assert_rc 255 "archive-get of a missing name with a damaged repo.json (must not look like 'not archived')"

# A repository path that does not exist: fatal (255), never "not archived" (1), or a typo in
# restore_command would end recovery early and promote a cluster missing data.
rm -f "$dest"
r3=$(repo_url no-such-repo)
pgp_capture --repo "$r3" archive-get "$name" "$dest"
assert_rc 255 "archive-get from a repository that does not exist"
assert_one_line_error "archive-get from a repository that does not exist"
assert_absent "$dest" "DEST after archive-get from a missing repository"
if repo_is_s3 "$r3"; then
    assert_eq "" "$(repo_keys "$r3")" "archive-get created objects in the missing repository"
else
    assert_absent "$r3" "archive-get created the missing repository"
fi
log "ok"
