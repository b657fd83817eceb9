#!/usr/bin/env bash
# The harness's repository vocabulary (repo_lib.sh), which the other tests use to look into and
# damage a repository, does what it says on both kinds: on this run's repository ($REPO) and,
# in a local run, also on the S3 test server through the curl CLI (so the S3 helpers are proven
# before pgpitr has an S3 driver). Keys in byte order, listings paged (2 keys a page), keys
# with characters that need encoding, exact bytes back, one byte corrupted, removal, debris
# (a local temp file; an unfinished multipart upload on S3), and, on S3, a wrong secret
# refused: the server really checks the signatures the helpers make.
# repo-encryption: plain -- it checks the raw vocabulary on objects it makes up, in a repository pgpitr never opened (test_repo_tools checks the encrypted reads and writes)
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"

SHA=$(printf '%064d' 7)
WAL1="archive/wal/0000000100000000/000000010000000000000001-$SHA.zst"
WAL2="archive/wal/0000000100000000/000000010000000000000002-$SHA.zst"
HIST="archive/history/00000002.history-$SHA"
ODD="backup/b 1+x=~(y)/manifest.json"

# make_debris REPO: something half-written of the kind the repository has; prints its key.
make_debris() {
    local st body="$WORK/tmp/mpu.xml" path
    if repo_is_s3 "$1"; then
        path=$(_repo_s3_path "$1" "$WAL2")
        _repo_s3_split "$1"
        st=$(s3_curl "$body" POST "$_B" "$path?uploads=")
        [ "$st" = 200 ] || fail "cannot begin a multipart upload: HTTP $st $(cat "$body")"
        printf '%s\n' "$WAL2"
    else
        as_pg mkdir -p "$1/archive/wal/0000000100000000"
        printf 'half' >"$1/archive/wal/0000000100000000/.tmp.000000010000000000000002.1"
        printf '%s\n' "archive/wal/0000000100000000/.tmp.000000010000000000000002.1"
    fi
}

check_vocabulary() {
    local r=$1 want got a
    log "repository vocabulary on $r"
    assert_eq "" "$(repo_keys "$r")" "keys of a new repository"
    assert_eq "" "$(repo_debris "$r")" "debris of a new repository"
    head -c 300001 /dev/urandom >"$WORK/tmp/big"
    repo_write "$r" "$WAL1" <"$WORK/tmp/big"
    printf '{"v":1}' | repo_write "$r" repo.json
    printf 'tl2' | repo_write "$r" "$HIST"
    printf 'odd' | repo_write "$r" "$ODD"
    printf 'x' | repo_write "$r" "archive/wal/0000000100000000/000000010000000000000003-$SHA"
    want=$(printf '%s\n' "$WAL1" repo.json "$HIST" "$ODD" \
        "archive/wal/0000000100000000/000000010000000000000003-$SHA" | LC_ALL=C sort)
    assert_eq "$want" "$(repo_keys "$r")" "every key, in byte order"
    assert_eq "$want" "$(S3_IT_MAX_KEYS=2 repo_keys "$r")" "every key, 2 a page"
    assert_eq "$(printf '%s\n' "$WAL1" "archive/wal/0000000100000000/000000010000000000000003-$SHA" "$HIST" | LC_ALL=C sort)" \
        "$(repo_keys "$r" archive)" "keys under archive"
    assert_eq "$WAL1" "$(repo_find "$r" archive/wal '000000010000000000000001-*')" "repo_find by name"
    assert_eq "" "$(repo_find "$r" archive/wal '000000010000000000000009-*')" "repo_find of nothing"
    assert_eq "$ODD 3" "$(repo_listing "$r" backup)" "listing with sizes"

    repo_read "$r" "$WAL1" >"$WORK/tmp/back"
    assert_same_file "$WORK/tmp/big" "$WORK/tmp/back" "bytes read back"
    assert_eq "odd" "$(repo_read "$r" "$ODD")" "object with an encoded key"
    assert_eq 300001 "$(repo_size "$r" "$WAL1")" "size"
    assert_eq 1 "$(repo_read "$r" repo.json | jq .v)" "JSON read back"
    repo_has "$r" "$HIST" || fail "repo_has of an object says no"
    if repo_has "$r" "archive/history/00000003.history-$SHA"; then fail "repo_has of nothing says yes"; fi

    repo_corrupt "$r" "$WAL1" 1000
    repo_read "$r" "$WAL1" >"$WORK/tmp/back"
    got=$(cmp -l "$WORK/tmp/big" "$WORK/tmp/back" || true)
    assert_eq 1 "$(printf '%s\n' "$got" | grep -c .)" "bytes changed by repo_corrupt"
    read -r a _ <<<"$got"
    assert_eq 1001 "$a" "position of the corrupted byte (1-based)"
    assert_eq 300001 "$(repo_size "$r" "$WAL1")" "size after repo_corrupt"
    repo_corrupt "$r" "$HIST"
    assert_ne tl2 "$(repo_read "$r" "$HIST")" "repo_corrupt at the middle byte"
    assert_eq t "$(repo_read "$r" "$HIST" | head -c 1)" "the bytes around the middle one"

    local copy="$r-copy"
    repo_copy "$r" "$copy"
    assert_eq "$want" "$(repo_keys "$copy")" "keys of a copy"
    assert_eq "$(repo_read "$r" "$ODD")" "$(repo_read "$copy" "$ODD")" "copied object with an encoded key"
    repo_read "$copy" "$WAL1" >"$WORK/tmp/copied"
    repo_read "$r" "$WAL1" >"$WORK/tmp/back"
    assert_same_file "$WORK/tmp/back" "$WORK/tmp/copied" "bytes of a copied object"

    assert_repo_has_all "$r" "every key written" <<<"$want"
    if (assert_repo_has_all "$r" x <<<"$(printf '%s\nbackup/none\n' "$HIST")") 2>"$WORK/tmp/neg"; then
        fail "assert_repo_has_all passed with a key missing"
    fi
    assert_contains "$(cat "$WORK/tmp/neg")" "backup/none" "assert_repo_has_all names the missing key"
    assert_repo_absent_all "$r" "keys never written" <<<"$(printf 'backup/none\narchive/wal/0\n')"
    for a in "$HIST" backup archive/wal/0000000100000000; do
        if (assert_repo_absent_all "$r" x <<<"$a") 2>/dev/null; then
            fail "assert_repo_absent_all passed for $a, which is (or has objects below it)"
        fi
    done

    repo_rm "$r" "$WAL1"
    if repo_has "$r" "$WAL1"; then fail "object still there after repo_rm"; fi
    repo_rm "$r" "$WAL1"   # absent: no error
    assert_eq "$(printf '%s\n' "$want" | grep -vxF "$WAL1")" "$(repo_keys "$r")" "keys after repo_rm"

    want=$(make_debris "$r")
    assert_eq "$want" "$(repo_debris "$r")" "debris"
    assert_eq "" "$(repo_keys "$r" | grep -F "000000010000000000000002" || true)" "debris is not an object"
}

check_vocabulary "$REPO"

if [ "$REPO_KIND" = local ]; then
    # The same on S3, and what only S3 has: the server refuses a wrong signature.
    s3_server_start
    S3R="s3://$S3_IT_BUCKET/it/repo"
    check_vocabulary "$S3R"
    st=$(S3_TEST_SECRET_KEY=wrong s3_curl "$WORK/tmp/denied.xml" GET "$S3_IT_BUCKET" "/?list-type=2")
    assert_eq 403 "$st" "list signed with a wrong secret"
    assert_contains "$(cat "$WORK/tmp/denied.xml")" SignatureDoesNotMatch "wrong secret error"
    assert_eq "" "$(repo_keys "s3://$S3_IT_BUCKET/it/other")" "another prefix is empty"
fi
log "ok"
