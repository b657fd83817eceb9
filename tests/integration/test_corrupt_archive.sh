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
    [ -z "$(repo_tmpfiles "$r")" ] || fail "$1: temp files left: $(repo_tmpfiles "$r")"
    [ -z "$(dest_debris)" ] || fail "$1: temp files left beside DEST: $(dest_debris)"
}

for codec in zstd lz4 none; do
    case $codec in zstd) ext=.zst ;; lz4) ext=.lz4 ;; none) ext= ;; esac
    r="$WORK/repo-$codec"
    pgp_capture --repo "$r" archive-push --compress "$codec" "$s"
    assert_rc 0 "archive-push --compress $codec"
    obj=$(repo_object_path "$r" "$name" "$sha" "$ext")
    assert_file "$obj" "$codec object"
    archive_get_cmp "$r" "$name" "$s"
    cp "$obj" "$WORK/good.obj"

    size=$(file_size "$obj")
    log "$codec: flip one bit in the middle of the $size-byte object"
    chmod u+w "$obj" 2>/dev/null || true
    flip_bit "$obj" $((size / 2))
    cmp -s "$obj" "$WORK/good.obj" && fail "flip_bit did not change $obj"
    check_fails_fatal "$codec object with a flipped bit"

    # A flipped bit near the end (checksums/trailers) too.
    cp "$WORK/good.obj" "$obj"
    flip_bit "$obj" $((size - 2))
    check_fails_fatal "$codec object with a flipped bit near its end"

    log "$codec: truncate the object"
    cp "$WORK/good.obj" "$obj"
    truncate -s $((size / 2)) "$obj"
    check_fails_fatal "$codec object truncated to half"
    cp "$WORK/good.obj" "$obj"
    truncate -s 0 "$obj"
    check_fails_fatal "$codec object truncated to zero bytes"

    # Restored, it reads fine again (the failures above were about the bytes, nothing else).
    cp "$WORK/good.obj" "$obj"
    own "$obj"
    archive_get_cmp "$r" "$name" "$s"

    # DEST already present with other content: a failure must not leave it there either
    # (PostgreSQL removes it first, but a stale file must never pass as restored).
    flip_bit "$obj" $((size / 2))
    as_pg cp "${segs[1]}" "$dest"
    pgp_capture --repo "$r" archive-get "$name" "$dest"
    assert_rc 255 "$codec: corrupt object over an existing DEST"
    if [ -e "$dest" ] && ! cmp -s "$dest" "${segs[1]}"; then
        fail "$codec: a failed archive-get changed the existing DEST"
    fi
    rm -f "$dest"
    cp "$WORK/good.obj" "$obj"

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
r="$WORK/repo-zstd"
other=${segs[1]}
pgp_capture --repo "$r" archive-push "$other"
assert_rc 0 "archive-push of a second segment"
obj=$(repo_object_path "$r" "$name" "$sha" .zst)
oobj=$(repo_object_path "$r" "$(basename "$other")" "$(sha256_of "$other")" .zst)
cp "$oobj" "$obj"
check_fails_fatal "object whose content does not match the checksum in its name"

# A repository whose repo.json is damaged is fatal too, not "not archived".
r2="$WORK/repo-badjson"
pgp_capture --repo "$r2" archive-push "$s"
assert_rc 0 "archive-push into a fresh repository"
printf '{ this is not json' >"$r2/repo.json"
rm -f "$dest"
pgp_capture --repo "$r2" archive-get "$name" "$dest"
assert_rc 255 "archive-get with a damaged repo.json"
assert_absent "$dest" "DEST after archive-get with a damaged repo.json"
pgp_capture --repo "$r2" archive-get "$next" "$dest"
assert_rc 255 "archive-get of a missing name with a damaged repo.json (must not look like 'not archived')"

# A repository path that does not exist: fatal (255), never "not archived" (1), or a typo in
# restore_command would end recovery early and promote a cluster missing data.
rm -f "$dest"
pgp_capture --repo "$WORK/no-such-repo" archive-get "$name" "$dest"
assert_rc 255 "archive-get from a repository that does not exist"
assert_one_line_error "archive-get from a repository that does not exist"
assert_absent "$dest" "DEST after archive-get from a missing repository"
assert_absent "$WORK/no-such-repo" "archive-get created the missing repository"
log "ok"
