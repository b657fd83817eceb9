#!/usr/bin/env bash
# Unknown outcomes are settled by reading the store, deterministically: the fault proxy
# (--match) faults every publishing request of archive-push, whatever the attempt.
#   - stalled (the store does the write, no answer ever comes) single PUT, and stalled
#     CompleteMultipartUpload: the object is complete, so archive-push must succeed (exit 0)
#     and the object round-trips;
#   - reset before the store sees it (nothing written): archive-push must fail, and leave no
#     object and no unfinished upload.
# repo-kinds: local -- starts its own S3 server and fault proxies; the s3 stages would only repeat it
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

s3_start
direct=$S3_TEST_ENDPOINT
make_segments "$WORK/segs" 4
mapfile -t segs < <(find "$WORK/segs" -maxdepth 1 -type f | sort)
REPO=s3://$S3_IT_BUCKET/unknown
export PGPITR_IO_TIMEOUT=1
# repo.json first, directly: the faults below are for the segments' objects only
pgp_capture --repo "$REPO" archive-push "${segs[0]}"
assert_rc 0 "archive-push without faults"

# via_proxy FAULT REGEX: pgpitr talks to the server through a proxy that answers every
# request matching REGEX with FAULT (a stall outlasts io-timeout).
via_proxy() {
    s3_proxy_start "$direct" --fault-rate 1 --faults "$1" --stall-ms 3000 --match "$2"
    export PGPITR_S3_ENDPOINT=$S3_PROXY_URL
}
faulted() { grep -c "\"action\":\"$1\"" "$S3_PROXY_LOG" || true; }

# ---- the answer never comes, the write is in: success ------------------------------------
via_proxy stall '^PUT /[^?]*/archive/wal/[^?]*$'
pgp_capture --repo "$REPO" archive-push "${segs[1]}"
assert_rc 0 "archive-push whose every PUT stalled after the store took it"
assert_gt "$(faulted stall)" 1 "stalled PUTs (the first, and its retries)"
PGPITR_S3_ENDPOINT=$direct archive_get_cmp "$REPO" "$(basename "${segs[1]}")" "${segs[1]}"

via_proxy stall '^POST /[^?]*/archive/wal/.*[?]uploadId='
pgp_capture --repo "$REPO" --s3-part-size 5MiB archive-push --compress none "${segs[2]}"
assert_rc 0 "multipart archive-push whose every CompleteMultipartUpload stalled"
assert_gt "$(faulted stall)" 1 "stalled CompleteMultipartUpload requests"
assert_eq 0 "$(s3_uploads)" "unfinished uploads"
PGPITR_S3_ENDPOINT=$direct archive_get_cmp "$REPO" "$(basename "${segs[2]}")" "${segs[2]}"

# ---- the request never reaches the store: failure, nothing left -----------------------------
name3=$(basename "${segs[3]}")
via_proxy reset '^PUT /[^?]*/archive/wal/[^?]*$'
pgp_capture --repo "$REPO" archive-push "${segs[3]}"
[ "$RC" -ne 0 ] || fail "archive-push succeeded though no PUT reached the store"
assert_one_line_error "archive-push whose every PUT was reset"
assert_gt "$(faulted reset)" 1 "reset PUTs"
[ -z "$(s3_keys unknown/archive/ | grep "/$name3-")" ] || fail "an object of $name3 exists"

via_proxy reset '^POST /[^?]*/archive/wal/.*[?]uploadId='
pgp_capture --repo "$REPO" --s3-part-size 5MiB archive-push --compress none "${segs[3]}"
[ "$RC" -ne 0 ] || fail "multipart archive-push succeeded though CompleteMultipartUpload never reached the store"
assert_one_line_error "archive-push whose every CompleteMultipartUpload was reset"
[ -z "$(s3_keys unknown/archive/ | grep "/$name3-")" ] || fail "an object of $name3 exists"
assert_eq 0 "$(s3_uploads)" "unfinished uploads after the failed multipart push"
log "ok"
