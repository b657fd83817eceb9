#!/usr/bin/env bash
# archive-push / archive-get against an S3 repository (--repo s3://BUCKET/PREFIX) on the S3
# test server (../shared/tools/s3-test-server, SigV4 checked): round trip byte for byte, same
# content is success, different content is refused with nothing overwritten, a segment larger
# than s3-part-size goes up as a multipart upload (none left behind), a wrong secret is an
# access-denied error with nothing written, a missing bucket and an unreachable endpoint are
# one-line errors, a download reset mid-body resumes, and the same round trip over TLS with
# s3-ca-file (and refused without it; a CA file that is not there is a configuration error
# naming it, before any request).
# repo-kinds: local -- tests the S3 driver on servers of its own (plain, TLS, unreachable); the s3 stages would only repeat it
TOP=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

s3_start
log "S3 test server at $S3_TEST_ENDPOINT"
make_segments "$WORK/segs" 3
mapfile -t segs < <(find "$WORK/segs" -maxdepth 1 -type f | sort)
REPO=s3://$S3_IT_BUCKET/r1

# ---- round trip, idempotence -------------------------------------------------------------
for s in "${segs[0]}" "${segs[1]}"; do
    pgp_capture --repo "$REPO" archive-push "$s"
    assert_rc 0 "archive-push $(basename "$s") to S3"
    assert_eq "" "$ERR" "archive-push stderr"
done
name0=$(basename "${segs[0]}")
sha0=$(sha256_of "${segs[0]}")
key0="r1/$(repo_object_key "$name0" "$sha0" .zst)"
grep -qx "$key0" <<<"$(s3_keys r1/)" || fail "object $key0 not in the bucket: $(s3_keys r1/)"
grep -q '^r1/repo.json$' <<<"$(s3_keys r1/)" || fail "repo.json not in the bucket: $(s3_keys r1/)"
for s in "${segs[0]}" "${segs[1]}"; do
    archive_get_cmp "$REPO" "$(basename "$s")" "$s"
done
pgp_capture --repo "$REPO" archive-push "${segs[0]}"
assert_rc 0 "second push of the same segment"
assert_eq "" "$ERR" "stderr of the second push"
pgp_capture --repo "$REPO" archive-get 000000010000000000000099 "$WORK/tmp/missing"
assert_rc 1 "archive-get of a segment never archived"

# ---- different content under an archived name: refused, nothing overwritten ---------------
mkdir_pg "$WORK/other"
as_pg cp "${segs[0]}" "$WORK/other/$name0"
flip_bit "$WORK/other/$name0" $(($(file_size "${segs[0]}") / 2))
other_sha=$(sha256_of "$WORK/other/$name0")
before=$(s3_keys r1/)
s3_get "$key0" "$WORK/obj.before"
pgp_capture --repo "$REPO" archive-push "$WORK/other/$name0"
assert_rc 8 "push of different content under an archived name"
assert_one_line_error "conflicting push to S3"
if [ "$REPO_ENCRYPT" = 1 ]; then   # names are keyed: the error must not call them SHA-256s
    assert_contains "$ERR" "archived keyed name $(repo_content_hex "$sha0")" "the error names the archived keyed name"
    assert_contains "$ERR" "this file keyed name $(repo_content_hex "$other_sha")" "the error names the new keyed name"
else
    assert_contains "$ERR" "archived sha256 $sha0" "the error names the archived checksum"
    assert_contains "$ERR" "this file sha256 $other_sha" "the error names the new checksum"
fi
assert_eq "$before" "$(s3_keys r1/)" "keys after a conflicting push"
s3_get "$key0" "$WORK/obj.after"
cmp -s "$WORK/obj.after" "$WORK/obj.before" || fail "the archived object changed"
archive_get_cmp "$REPO" "$name0" "${segs[0]}"

# ---- larger than one part: multipart through a local spill file, nothing left behind -----
pgp_capture --s3-part-size 5MiB --repo s3://$S3_IT_BUCKET/big archive-push --compress none "${segs[2]}"
assert_rc 0 "archive-push of a 16 MiB segment in 5 MiB parts"
name2=$(basename "${segs[2]}")
key2="big/$(repo_object_key "$name2" "$(sha256_of "${segs[2]}")" "" "s3://$S3_IT_BUCKET/big")"
grep -qx "$key2" <<<"$(s3_keys big/)" || fail "multipart object $key2 missing: $(s3_keys big/)"
etag=$(s3_etags big/archive/)
assert_contains "$etag" "-4" "the object is a 4-part multipart upload (ETag $etag)"
assert_eq 0 "$(s3_uploads)" "multipart uploads left unfinished"
archive_get_cmp s3://$S3_IT_BUCKET/big "$name2" "${segs[2]}"

# ---- wrong secret: access denied, nothing written ------------------------------------------
before=$(s3_keys r1/)
PGPITR_S3_KEY_SECRET=wrong-secret pgp_capture --repo "$REPO" archive-push "${segs[2]}"
[ "$RC" -ne 0 ] || fail "push with a wrong secret succeeded"
assert_one_line_error "wrong secret"
assert_icontains "$ERR" "access denied|403" "wrong secret error"
case "$ERR" in *wrong-secret*) fail "the error shows the secret: $ERR" ;; esac
assert_eq "$before" "$(s3_keys r1/)" "keys after a push with a wrong secret"

# ---- credentials from AWS_* and from the shared credentials file (profile) -------------------
unset PGPITR_S3_KEY PGPITR_S3_KEY_SECRET
pgp_capture --repo "$REPO" archive-push "${segs[0]}"
assert_rc 3 "push without credentials"
assert_contains "$ERR" "no S3 credentials" "push without credentials"
AWS_ACCESS_KEY_ID=$S3_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_TEST_SECRET_KEY \
    pgp_capture --repo "$REPO" archive-push "${segs[0]}"
assert_rc 0 "push with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
# HOME of pgpitr is $WORK (lib.sh): ~/.aws/credentials, profile "pg" (the default one is wrong)
mkdir_pg "$WORK/.aws"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n\n[pg]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$S3_TEST_ACCESS_KEY" "$S3_TEST_ACCESS_KEY" "$S3_TEST_SECRET_KEY" >"$WORK/.aws/credentials"
own "$WORK/.aws/credentials"
pgp_capture --repo "$REPO" archive-push "${segs[0]}"
[ "$RC" -ne 0 ] || fail "push with the default profile's wrong secret succeeded"
AWS_PROFILE=pg pgp_capture --repo "$REPO" archive-push "${segs[0]}"
assert_rc 0 "push with the credentials file's profile pg"
s3_env

# ---- missing bucket, unreachable endpoint ----------------------------------------------------
pgp_capture --repo s3://no-such-bucket/r1 archive-push "${segs[2]}"
assert_rc 3 "push to a missing bucket"
assert_one_line_error "missing bucket"
assert_contains "$ERR" "no-such-bucket" "missing bucket error names the bucket"
assert_contains "$ERR" "NoSuchBucket" "missing bucket error names S3's code"
# A vanished repository is never "not archived" (exit 1 would end recovery early): 255.
pgp_capture --repo s3://no-such-bucket/r1 archive-get "$name0" "$WORK/tmp/nobucket"
assert_rc 255 "archive-get from a missing bucket"
assert_one_line_error "archive-get from a missing bucket"
dead=$(s3_port)
start=$(date +%s)
pgp_capture --io-timeout 2 --s3-endpoint "http://127.0.0.1:$dead" --repo "$REPO" archive-push "${segs[2]}"
[ "$RC" -ne 0 ] || fail "push to an unreachable endpoint succeeded"
assert_one_line_error "unreachable endpoint"
assert_contains "$ERR" "127.0.0.1:$dead" "unreachable endpoint error names it"
[ $(($(date +%s) - start)) -lt 15 ] || fail "an unreachable endpoint took longer than io-timeout allows"
pgp_capture --repo "s3://Bad_Bucket/x" archive-push "${segs[2]}"
assert_rc 3 "push to an invalid bucket name"
assert_one_line_error "invalid bucket name"

# ---- a download reset mid-body goes on where it stopped (Range + If-Match) ------------------
# Through a proxy that resets every connection after 1 MiB from the server: the 16 MiB
# uncompressed object of the multipart section needs many resumed GETs.
pport=$(s3_port)
python3 "$TOP/tests/integration/s3_cut_proxy.py" "$pport" "${S3_TEST_ENDPOINT##*:}" 1048576 \
    >"$WORK/proxy.out" 2>&1 &
PROXY_PID=$!
track_pid "$PROXY_PID"
for _ in $(seq 1 100); do grep -q ready "$WORK/proxy.out" && break; sleep 0.1; done
grep -q ready "$WORK/proxy.out" || fail "the cutting proxy did not start: $(cat "$WORK/proxy.out")"
PGPITR_S3_ENDPOINT=http://127.0.0.1:$pport archive_get_cmp s3://$S3_IT_BUCKET/big "$name2" "${segs[2]}"
PGPITR_S3_ENDPOINT=http://127.0.0.1:$pport archive_get_cmp "$REPO" "$name0" "${segs[0]}"
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
untrack_pid "$PROXY_PID"

# ---- over TLS, with the server's CA -----------------------------------------------------------
s3_start --tls
[ -n "${S3_TEST_CA_FILE:-}" ] || fail "the TLS server gave no CA file"
pgp_capture --repo s3://$S3_IT_BUCKET/tls archive-push "${segs[1]}"
[ "$RC" -ne 0 ] || fail "TLS push without the CA succeeded"
assert_one_line_error "TLS without the CA"
export PGPITR_S3_CA_FILE=$S3_TEST_CA_FILE
pgp_capture --repo s3://$S3_IT_BUCKET/tls archive-push "${segs[1]}"
assert_rc 0 "archive-push over TLS"
archive_get_cmp s3://$S3_IT_BUCKET/tls "$(basename "${segs[1]}")" "${segs[1]}"
# A CA file that is not there: a configuration error naming it, before any request.
PGPITR_S3_CA_FILE=$WORK/no-such-ca.pem pgp_capture --repo s3://$S3_IT_BUCKET/tls archive-push "${segs[2]}"
assert_rc 3 "archive-push with a missing s3-ca-file"
assert_one_line_error "missing s3-ca-file"
assert_contains "$ERR" "s3-ca-file \"$WORK/no-such-ca.pem\" cannot be read" "the missing CA file named"
[ -z "$(repo_find "s3://$S3_IT_BUCKET/tls" archive "$(basename "${segs[2]}")-*")" ] ||
    fail "a push with a missing CA file stored $(basename "${segs[2]}")"
log "ok"
