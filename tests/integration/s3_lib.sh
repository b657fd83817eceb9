# shellcheck shell=bash
# s3_lib.sh - the S3 test server for integration tests (sourced after lib.sh): s3_start starts
# a fresh one (bucket test-bucket) on a free port in 47000-47499, stopped by its port at exit;
# s3_env points pgpitr at it (PGPITR_S3_*); s3_curl/s3_keys/s3_uploads look into the bucket
# directly, signed, to check what pgpitr left there.

# The server sits in ../shared/tools beside the checkout (S3_TEST_SERVER overrides).
S3=${S3_TEST_SERVER:-$TOP/../shared/tools/s3-test-server}
[ -x "$S3" ] || S3=/work/shared/tools/s3-test-server
[ -x "$S3" ] || fail "no s3-test-server (set S3_TEST_SERVER to its path)"
command -v node >/dev/null || fail "node is not installed (contrib/install-deps.sh)"
# npm installs s3rver once into this cache (the wrapper's default is cwd's git top level).
export S3_TEST_SERVER_CACHE=${S3_TEST_SERVER_CACHE:-$TOP/build/s3-test-server}

# A free port in 47000-47499 (the range the S3 tests may use).
s3_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((47000 + RANDOM % 500))
        port_in_use "$p" || { printf '%s\n' "$p"; return 0; }
    done
    fail "no free port in 47000-47499"
}
S3_PORTS=()
# s3_start [--tls]: a fresh server with bucket test-bucket; its S3_TEST_* settings exported.
s3_start() {
    local port out
    port=$(s3_port)
    # the data in $WORK (removed with it); the small state dir stays in the cache, found by port
    out=$("$S3" start --port "$port" --bucket test-bucket --fresh --dir "$WORK/s3-data-$port" "$@" \
          2>"$WORK/s3-start.err") || fail "s3-test-server start: $(tail -n 5 "$WORK/s3-start.err")"
    S3_PORTS+=("$port")
    eval "$out"
}
# Stopped by port at exit (the wrapper kills only the pid it recorded for that port), then
# lib.sh's cleanup with the test's exit status.
trap 'rc=$?; set +e; for p in "${S3_PORTS[@]}"; do "$S3" stop --port "$p" >/dev/null 2>&1; done; (exit $rc); _cleanup' EXIT

s3_env() {
    export PGPITR_S3_ENDPOINT=$S3_TEST_ENDPOINT PGPITR_S3_REGION=$S3_TEST_REGION \
           PGPITR_S3_URI_STYLE=path PGPITR_S3_KEY=$S3_TEST_ACCESS_KEY \
           PGPITR_S3_KEY_SECRET=$S3_TEST_SECRET_KEY
}
# s3_curl PATH-AND-QUERY: a signed GET of the test bucket (the query written canonical).
s3_curl() {
    curl -sS ${S3_TEST_CA_FILE:+--cacert "$S3_TEST_CA_FILE"} --aws-sigv4 "aws:amz:$S3_TEST_REGION:s3" \
         --user "$S3_TEST_ACCESS_KEY:$S3_TEST_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
         "$S3_TEST_ENDPOINT/$S3_TEST_BUCKET$1"
}
# s3_pages PREFIX (no special characters but '/'): every ListObjectsV2 page of the keys below
# it, paging through continuation tokens.
s3_pages() {
    local token="" out q
    while :; do
        q="list-type=2&prefix=${1//\//%2F}"
        [ -n "$token" ] && q="continuation-token=$(printf %s "$token" |
            sed 's|+|%2B|g; s|/|%2F|g; s|=|%3D|g')&$q"
        out=$(s3_curl "?$q")
        printf '%s\n' "$out"
        grep -q '<IsTruncated>true</IsTruncated>' <<<"$out" || break
        token=$(grep -o '<NextContinuationToken>[^<]*' <<<"$out" | sed 's/.*>//')
        [ -n "$token" ] || break
    done
}
s3_keys() {  # PREFIX: every key below it
    grep -o '<Key>[^<]*</Key>' <<<"$(s3_pages "$1")" | sed 's/<[^>]*>//g' || true
}
s3_keys_etags() {  # PREFIX: the ETag of every key below it
    grep -o '<ETag>[^<]*</ETag>' <<<"$(s3_pages "$1")" || true
}
# s3_begin_upload KEY: a multipart upload begun and left, as a writer killed mid-object does.
s3_begin_upload() {
    curl -sS -X POST ${S3_TEST_CA_FILE:+--cacert "$S3_TEST_CA_FILE"} \
         --aws-sigv4 "aws:amz:$S3_TEST_REGION:s3" --user "$S3_TEST_ACCESS_KEY:$S3_TEST_SECRET_KEY" \
         -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3_TEST_ENDPOINT/$S3_TEST_BUCKET/$1?uploads=" |
        grep -q '<UploadId>' || fail "could not begin a multipart upload of $1"
}
s3_uploads() { s3_curl "?uploads=" | grep -c '<UploadId>' || true; }

