#!/usr/bin/env bash
# Bad input gets a non-zero exit and a one-line error, and writes nothing into the repository:
# malformed names (exit 4), a directory, a missing file, a file shorter than a WAL header,
# a file whose header is not a WAL page header; archive-get with a malformed name is 255.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

make_segments "$WORK/segs" 1
seg=$(find "$WORK/segs" -maxdepth 1 -type f | sort | head -n 1)
name=$(basename "$seg")
lower="${name:0:22}ab"   # lowercase hex digits (the uppercase form would be valid)
in="$WORK/in"
mkdir_pg "$in"

FRESH=$(repo_url fresh)
# repo_state REPO: every object with its size, and any debris.
repo_state() { repo_listing "$1"; repo_debris "$1"; }
# refused_push WHAT EXPECTED_RC(or "nonzero") PATH [REPO]: the push fails cleanly, repo untouched.
refused_push() {
    local what=$1 want=$2 path=$3 repo=${4:-$FRESH} before after
    before=$(repo_state "$repo")
    pgp_capture --repo "$repo" archive-push "$path"
    if [ "$want" = nonzero ]; then
        [ "$RC" -ne 0 ] || fail "$what: archive-push succeeded"
    else
        assert_rc "$want" "$what"
    fi
    [ "$RC" -lt 126 ] || fail "$what: exit $RC (> 125 means killed by a signal / crash)"
    assert_one_line_error "$what"
    after=$(repo_state "$repo")
    assert_eq "$before" "$after" "$what: files in the repository"
    [ -z "$(repo_debris "$repo")" ] || fail "$what: debris left: $(repo_debris "$repo")"
    log "$what: exit $RC: $ERR"
}

# Malformed names, each holding real segment bytes so only the name is wrong.
bad_names=(
    garbage
    "$lower"
    "${name}X"
    "${name:0:23}"
    "${name:0:23}G"
    "${name}.zst"
    "${name}.history"
    "${name}.backup"
    "${name}.00000028"
    "${name:0:8}.history"0
    "0000000G.history"
    "${name}.partialx"
    ".${name}"
    " ${name}"
    "${name} "
    ".tmp.${name}"
    "-${name}"
    "00000000${name:8}"
)
for b in "${bad_names[@]}"; do
    as_pg cp "$seg" "$in/$b"
    refused_push "invalid name '$b'" 4 "$in/$b"
    rm -f "$in/$b"
done
# "../x": the path resolves to a file whose name is not a WAL name.
mkdir_pg "$in/sub"
as_pg cp "$seg" "$in/x"
refused_push "path ../x" 4 "$in/sub/../x"
( cd "$in/sub" && pgp_capture --repo "$FRESH" archive-push ../x && [ "$RC" -eq 4 ] ) ||
    fail "relative path ../x: expected exit 4"

# A directory with a WAL name, a missing file, a file shorter than the WAL header, empty,
# a header that is not a WAL long page header, a symlink loop.
mkdir_pg "$in/dir/$name"
refused_push "a directory named like a segment" nonzero "$in/dir/$name"
refused_push "a missing file" nonzero "$in/missing/$name"
mkdir_pg "$in/short" "$in/empty" "$in/junk" "$in/zeros" "$in/loop"
head -c 20 "$seg" >"$in/short/$name"
: >"$in/empty/$name"
head -c 16777216 /dev/urandom >"$in/junk/$name"
head -c 16777216 /dev/zero >"$in/zeros/$name"
ln -s "$in/loop/$name" "$in/loop/$name" 2>/dev/null || true
own "$in"
refused_push "a segment truncated to 20 bytes" nonzero "$in/short/$name"
refused_push "an empty segment" nonzero "$in/empty/$name"
refused_push "a segment of random bytes" nonzero "$in/junk/$name"
refused_push "a segment of zeros" nonzero "$in/zeros/$name"
refused_push "a symlink loop" nonzero "$in/loop/$name"
# A real header but not the whole segment (cut in the middle of a page).
mkdir_pg "$in/half"
head -c 1000000 "$seg" >"$in/half/$name"
own "$in/half"
refused_push "a segment cut short (1000000 of 16777216 bytes)" nonzero "$in/half/$name"
assert_repo_absent "$FRESH" repo.json "repo.json created by refused pushes"

# The same refusals against an existing repository leave it exactly as it was.
pgp_capture --repo "$REPO" archive-push "$seg"
assert_rc 0 "a valid push"
as_pg cp "$seg" "$in/$lower"
refused_push "lowercase name into an existing repo" 4 "$in/$lower" "$REPO"
refused_push "truncated segment into an existing repo" nonzero "$in/short/$name" "$REPO"
refused_push "cut segment into an existing repo" nonzero "$in/half/$name" "$REPO"
refused_push "random segment into an existing repo" nonzero "$in/junk/$name" "$REPO"

# Usage errors.
pgp_capture --repo "$REPO" archive-push
[ "$RC" -ne 0 ] || fail "archive-push without a path succeeded"
assert_one_line_error "archive-push without a path"
pgp_capture --repo "$REPO" archive-push --compress bogus "$seg"
[ "$RC" -ne 0 ] || fail "archive-push --compress bogus succeeded"
assert_one_line_error "archive-push --compress bogus"
pgp_capture --repo "$REPO" archive-push "$seg" "$seg"
[ "$RC" -ne 0 ] || fail "archive-push with two paths succeeded"

# archive-get with malformed names: fatal (255), no DEST, nothing in the repository.
dest="$WORK/tmp/dest"
for b in "../x" "../../etc/passwd" garbage "$lower" "${name}X" "${name:0:23}" "" "/${name}" \
         "archive/wal/${name:0:16}/${name}" "${name}/" ".tmp.${name}"; do
    rm -f "$dest"
    before=$(repo_state "$REPO")
    pgp_capture --repo "$REPO" archive-get "$b" "$dest"
    assert_rc 255 "archive-get of invalid name '$b'"
    assert_one_line_error "archive-get of invalid name '$b'"
    assert_absent "$dest" "DEST after archive-get of invalid name '$b'"
    assert_eq "$before" "$(repo_state "$REPO")" "repository after archive-get '$b'"
done
pgp_capture --repo "$REPO" archive-get "$name"
[ "$RC" -ne 0 ] || fail "archive-get without DEST succeeded"
log "ok"
