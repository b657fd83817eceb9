#!/usr/bin/env bash
# What one archive-push costs on S3, counted in the fault proxy's request log (no faults):
# a new segment into a bound repository, the same segment again (same content: success) and
# a different file under an archived name (refused). Each call's requests are listed in the
# test log; the counts are bounded so that a round trip added back fails here. Finding a
# segment lists only its own name's prefix ("<dir>/<walname>-"), never its whole archive
# directory.
# repo-kinds: s3 -- counts S3 requests through the proxy (plain http)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

[ "$REPO_KIND" = s3 ] || skip "counts S3 requests: PGPITR_IT_REPO_KIND=s3"
make_segments "$WORK/segs" 8
mapfile -t SEGS < <(ls "$WORK/segs")
repo_via_proxy --fault-rate 0
prefix=${REPO#s3://"$S3_IT_BUCKET"/}

# push NAME FILE WHAT [OPTIONS...]: one archive-push of FILE (copied to a file called NAME); sets RC, ERR
# and REQS (the requests it made, "METHOD PATH?QUERY" a line, bucket and prefix left out).
push() {
    local before
    before=$(wc -l <"$S3_PROXY_LOG")
    mkdir_pg "$WORK/wal"
    as_pg cp "$2" "$WORK/wal/$1"
    t0=$(date +%s%N)
    pgp_capture --repo "$REPO" archive-push "${@:4}" "$WORK/wal/$1"
    ms=$((($(date +%s%N) - t0) / 1000000))
    REQS=$(tail -n +"$((before + 1))" "$S3_PROXY_LOG" | jq -r '"\(.method) \(.path) (\(.ms) ms)"' |
        sed -e "s|/$S3_IT_BUCKET/$prefix/|/|" -e "s|prefix=${prefix//\//%2F}%2F|prefix=|")
    log "$3: $(grep -c . <<<"$REQS") requests, $ms ms in all"
    printf '    %s\n' "$REQS" >&2
}
# listing_prefixes: the prefixes the requests in REQS listed.
listing_prefixes() { grep -o 'prefix=[^& ]*' <<<"$REQS" | sort -u; }

push "${SEGS[0]}" "$WORK/segs/${SEGS[0]}" "first push (creates the repository)"
assert_rc 0 "first push"
push "${SEGS[1]}" "$WORK/segs/${SEGS[1]}" "a new segment"
assert_rc 0 "push of a new segment"
n_new=$(grep -c . <<<"$REQS")
push "${SEGS[1]}" "$WORK/segs/${SEGS[1]}" "the same segment again"
assert_rc 0 "the same content again"
n_same=$(grep -c . <<<"$REQS")
# the same segment with one bit changed after the page header (the header still matches)
mkdir_pg "$WORK/flip"
as_pg cp "$WORK/segs/${SEGS[1]}" "$WORK/flip/f"
flip_bit "$WORK/flip/f" $(($(file_size "$WORK/flip/f") / 2))
push "${SEGS[1]}" "$WORK/flip/f" "other content under an archived name"
assert_rc 8 "different content under an archived name"
assert_contains "$ERR" "different content" "conflict message"
n_conflict=$(grep -c . <<<"$REQS")

# every listing asks for one WAL name's objects only
push "${SEGS[2]}" "$WORK/segs/${SEGS[2]}" "another new segment"
assert_rc 0 "push of another new segment"
while IFS= read -r p; do
    [[ "$p" =~ ^prefix=archive%2Fwal%2F[0-9A-F]{16}%2F[0-9A-F]{24}-$ ]] ||
        fail "a push listed \"$p\", not one WAL name's prefix"
done < <(listing_prefixes)

# --jobs 4 with four ready segments after the asked one: its own push, one listing for the
# four and one after their PUTs (not a listing before and after each); PostgreSQL's calls for
# them then confirm their fresh records without a request.
mkdir_pg "$WORK/wal/archive_status"
for i in 4 5 6 7; do
    as_pg cp "$WORK/segs/${SEGS[$i]}" "$WORK/wal/${SEGS[$i]}"
    as_pg touch "$WORK/wal/archive_status/${SEGS[$i]}.ready"
done
export PGPITR_LOG_LEVEL=info
push "${SEGS[3]}" "$WORK/segs/${SEGS[3]}" "a new segment with --jobs 4 and 4 ready after it" --jobs 4
assert_rc 0 "push with --jobs 4"
assert_contains "$ERR" "4 stored" "the summary of the pushes ahead"
n_jobs=$(grep -c . <<<"$REQS")
assert_eq 5 "$(grep -c '^PUT ' <<<"$REQS")" "PUTs of the segment and the 4 pushed ahead"
[ "$n_jobs" -le $((n_new + 2 + 4)) ] ||
    fail "--jobs 4 took $n_jobs requests (at most $((n_new + 2 + 4)))"
for i in 4 5 6 7; do
    push "${SEGS[$i]}" "$WORK/segs/${SEGS[$i]}" "PostgreSQL's call for ${SEGS[$i]}" --jobs 4
    assert_rc 0 "the call for a segment pushed ahead"
    assert_eq "" "$REQS" "requests of a call confirming a fresh record"
done

log "requests per push: new $n_new, same content $n_same, conflict $n_conflict, --jobs 4 with 4 ahead $n_jobs"
# new: GET repo.json (binding; overlaps the compression), the lookup, the PUT and the lookup
# after it (a concurrent push of other content under the same name, wal_push.c). An encrypted
# repository costs one GET more per process: its key document (keys/repo-key.json), read
# before anything is written (docs/encryption.md).
key_doc=0
[ "$REPO_ENCRYPT" = 1 ] && key_doc=1
max_new=$((${MAX_NEW:-4} + key_doc)) max_same=$((${MAX_SAME:-2} + key_doc))
[ "$n_new" -le "$max_new" ] || fail "a new segment took $n_new requests (at most $max_new)"
[ "$n_same" -le "$max_same" ] || fail "an archived segment took $n_same requests (at most $max_same)"
[ "$n_conflict" -le "$max_same" ] || fail "a conflict took $n_conflict requests (at most $max_same)"
