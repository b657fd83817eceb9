# shellcheck shell=bash
# s3_lib.sh - the S3 half of the integration harness, sourced by lib.sh (needs its fail, log,
# free_port, track_pid and $WORK).
#
# Owns: starting this test's own S3 test server (s3rver on loopback that checks SigV4
# signatures: ../shared/tools/s3-test-server) and the fault-injecting proxy
# (tests/tools/s3-fault-proxy.js) on free ports, both stopped by pid at exit like every other
# process a test starts; and s3_curl, one signed request with the curl CLI (--aws-sigv4), on
# which repo_lib.sh builds its S3 implementation. A server per test keeps tests independent
# (own data directory, nothing shared) and costs ~1 s.
#
# Environment (inputs): S3_TEST_SERVER (path of the s3-test-server script; else it is looked
# for beside the checkout), S3_TEST_SERVER_CACHE (where the tool keeps its npm install; passed
# through untouched), PGPITR_IT_S3_PORTS (LOW-HIGH, the ports for servers and proxies,
# default 47500-47999: apart from the clusters' 20000-39999).

S3_IT_BUCKET=pgpitr-it
# The tool's npm install goes into this checkout's build/ whatever the test's working directory
# (its own default follows the working directory); its first start installs under a flock.
S3_TEST_SERVER_CACHE=${S3_TEST_SERVER_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/s3-test-server}
export S3_TEST_SERVER_CACHE
S3_PORT_LOW=${PGPITR_IT_S3_PORTS:-47500-47999}
S3_PORT_HIGH=${S3_PORT_LOW#*-}
S3_PORT_LOW=${S3_PORT_LOW%-*}
[[ "$S3_PORT_LOW$S3_PORT_HIGH" =~ ^[0-9]+$ ]] && [ "$S3_PORT_LOW" -lt "$S3_PORT_HIGH" ] ||
    fail "PGPITR_IT_S3_PORTS must be LOW-HIGH, not '$PGPITR_IT_S3_PORTS'"
S3_IT_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)

# s3_server_tool: prints the s3-test-server script's path, or fails saying where it looked.
s3_server_tool() {
    local top c
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    for c in "${S3_TEST_SERVER:-}" "$top/../shared/tools/s3-test-server" \
        "$top/../../shared/tools/s3-test-server" /work/shared/tools/s3-test-server; do
        [ -n "$c" ] && [ -x "$c" ] && { printf '%s\n' "$c"; return 0; }
    done
    fail "s3-test-server not found (set S3_TEST_SERVER to its path; looked beside $top)"
}

# s3_server_start [--tls]: starts an S3 test server for this test on a free port, with bucket
# $S3_IT_BUCKET, data in $WORK/s3/data-PORT; exports its S3_TEST_* variables (endpoint, region, keys,
# CA file with --tls, pid, log). A port taken between the probe and the bind is retried.
s3_server_start() {
    local tool out port try
    tool=$(s3_server_tool)
    mkdir -p "$WORK/s3"
    for ((try = 0; try < 5; try++)); do
        port=$(free_port "$S3_PORT_LOW" "$S3_PORT_HIGH")
        if out=$("$tool" start --port "$port" --state-dir "$WORK/s3/state-$port" --dir "$WORK/s3/data-$port" \
            --bucket "$S3_IT_BUCKET" "$@" 2>"$WORK/s3/start.err"); then
            eval "$out"
            track_pid "$S3_TEST_PID"
            export S3_TEST_ENDPOINT S3_TEST_REGION S3_TEST_ACCESS_KEY S3_TEST_SECRET_KEY S3_TEST_PID
            [ -n "${S3_TEST_CA_FILE:-}" ] && export S3_TEST_CA_FILE
            log "S3 test server at $S3_TEST_ENDPOINT (pid $S3_TEST_PID)"
            return 0
        fi
        grep -qi 'in use\|busy\|EADDRINUSE' "$WORK/s3/start.err" || break
        rm -rf "$WORK/s3/state-$port" "$WORK/s3/data-$port"
    done
    cat "$WORK/s3/start.err" >&2
    fail "cannot start the S3 test server ($tool)"
}

# s3_proxy_start UPSTREAM_URL [proxy options...]: starts the fault-injecting proxy in front of
# UPSTREAM_URL (plain http) on a free port; sets S3_PROXY_URL, S3_PROXY_PID and S3_PROXY_LOG
# (one JSON line per request: what it did).
s3_proxy_start() {
    local upstream=$1 port try i
    shift
    command -v node >/dev/null || fail "node is needed for the fault proxy (contrib/install-deps.sh)"
    mkdir -p "$WORK/s3"
    for ((try = 0; try < 5; try++)); do
        port=$(free_port "$S3_PORT_LOW" "$S3_PORT_HIGH")
        S3_PROXY_LOG="$WORK/s3/proxy-$port.log"
        # a port used by an earlier proxy of this test: its log is not this proxy's
        rm -f "$S3_PROXY_LOG"
        node "$S3_IT_TOOLS/s3-fault-proxy.js" --port "$port" --upstream "$upstream" \
            --log "$S3_PROXY_LOG" "$@" >"$WORK/s3/proxy-$port.out" 2>&1 &
        S3_PROXY_PID=$!
        track_pid "$S3_PROXY_PID"
        for ((i = 0; i < 100; i++)); do
            if grep -q '^listening' "$WORK/s3/proxy-$port.out" 2>/dev/null; then
                S3_PROXY_URL="http://127.0.0.1:$port"
                log "fault proxy at $S3_PROXY_URL -> $upstream (pid $S3_PROXY_PID) $*"
                return 0
            fi
            kill -0 "$S3_PROXY_PID" 2>/dev/null || break
            sleep 0.1
        done
        grep -q 'EADDRINUSE' "$WORK/s3/proxy-$port.out" || break
    done
    cat "$WORK/s3/proxy-$port.out" >&2
    fail "cannot start the fault proxy"
}

# s3_uri_encode STRING: S3's canonical percent-encoding (all but A-Za-z0-9-_.~, uppercase hex);
# '/' is kept when a second argument "path" is given.
s3_uri_encode() {
    local e
    # jq's @uri leaves !*'() as they are; S3 wants them encoded too
    e=$(jq -rn --arg s "$1" '$s | @uri' |
        sed -e 's/!/%21/g' -e 's/\*/%2A/g' -e "s/'/%27/g" -e 's/(/%28/g' -e 's/)/%29/g')
    [ "${2:-}" = path ] && e=${e//%2F//}
    printf '%s\n' "$e"
}

# s3_curl OUT METHOD BUCKET PATH_AND_QUERY [curl options...]: one request signed with SigV4
# by the curl CLI against $S3_TEST_ENDPOINT (path style); the body goes to OUT, the HTTP
# status to stdout (000 when no answer). PATH_AND_QUERY must already be canonical (encoded,
# parameters sorted, valueless ones written "name="): curl 7.88.1 signs it as written. An
# upload (-T FILE) is signed with FILE's sha256, anything else as UNSIGNED-PAYLOAD.
s3_curl() {
    local out=$1 method=$2 bucket=$3 pq=$4 sha=UNSIGNED-PAYLOAD a prev="" tls=() verb
    shift 4
    for a in "$@"; do
        [ "$prev" = -T ] && sha=$(sha256sum <"$a" | cut -d' ' -f1)
        prev=$a
    done
    [ -n "${S3_TEST_CA_FILE:-}" ] && tls=(--cacert "$S3_TEST_CA_FILE")
    # curl -X HEAD would wait for a body that never comes; -I is its HEAD
    if [ "$method" = HEAD ]; then verb=(-I); else verb=(-X "$method"); fi
    curl -sS "${tls[@]}" --aws-sigv4 "aws:amz:$S3_TEST_REGION:s3" \
        --user "$S3_TEST_ACCESS_KEY:$S3_TEST_SECRET_KEY" -H "x-amz-content-sha256: $sha" \
        "${verb[@]}" -o "$out" -w '%{http_code}' "$@" "$S3_TEST_ENDPOINT/$bucket$pq" 2>>"$WORK/s3/curl.err" || true
}

# s3_copy_objects SRC_BUCKET SRC_PREFIX DST_BUCKET DST_PREFIX < KEYS: copies every key (one a
# line, relative to the prefixes) inside the server with CopyObject, in one curl process running
# the requests in parallel, from a config file one jq writes (a process or two per object made
# repository copies of big tests take minutes). Every group of the config carries its own
# signature settings, as "next" resets them. The test server decodes x-amz-copy-source with
# decodeURI: there the reserved characters stay as they are.
s3_copy_objects() {
    local cfg="$WORK/s3/copy.$BASHPID.cfg" n codes
    : >"$cfg"
    chmod 600 "$cfg"
    jq -Rr --arg ep "$S3_TEST_ENDPOINT" --arg sb "$1" --arg sp "$2" --arg db "$3" --arg dp "$4" \
        --arg region "$S3_TEST_REGION" --arg user "$S3_TEST_ACCESS_KEY:$S3_TEST_SECRET_KEY" \
        --arg ca "${S3_TEST_CA_FILE:-}" '
        def enc: @uri | gsub("%2F"; "/") | gsub("!"; "%21") | gsub("\\*"; "%2A")
                 | gsub("'"'"'"; "%27") | gsub("\\("; "%28") | gsub("\\)"; "%29");
        def src: enc | gsub("%2B"; "+") | gsub("%3D"; "=") | gsub("%2C"; ",") | gsub("%3B"; ";")
                 | gsub("%3A"; ":") | gsub("%40"; "@") | gsub("%26"; "&") | gsub("%24"; "$");
        select(length > 0)
        | "url = \"\($ep)/\($db)/\($dp + . | enc)\"",
          "aws-sigv4 = \"aws:amz:\($region):s3\"", "user = \"\($user)\"",
          (if $ca != "" then "cacert = \"\($ca)\"" else empty end),
          "request = \"PUT\"", "header = \"x-amz-copy-source: /\($sb)/\($sp + . | src)\"",
          "header = \"x-amz-content-sha256: UNSIGNED-PAYLOAD\"", "output = \"/dev/null\"",
          "write-out = \"%{http_code}\\n\"", "next"' >"$cfg"
    n=$(grep -c '^url = ' "$cfg" || true)
    [ "$n" -gt 0 ] || { rm -f "$cfg"; return 0; }
    sed -i '$d' "$cfg"   # the last "next" would start an empty group
    codes=$(curl -sS --parallel --parallel-max 8 -K "$cfg" 2>>"$WORK/s3/curl.err" | sort | uniq -c)
    rm -f "$cfg"
    [ "$(awk '$2 == 200 { s += $1 } END { print s + 0 }' <<<"$codes")" = "$n" ] ||
        fail "S3 copy of $n object(s) s3://$1/$2 -> s3://$3/$4: HTTP status counts $(tr '\n' ' ' <<<"$codes")"
}

# s3_xml_values TAG < XML: the text of every <TAG>, XML-unescaped, one a line.
s3_xml_values() {
    grep -o "<$1>[^<]*</$1>" | sed -e "s|^<$1>||" -e "s|</$1>\$||" \
        -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e "s/&apos;/'/g" -e 's/&amp;/\&/g' || true
}

# s3_list_objects BUCKET PREFIX: "KEY<TAB>SIZE" for every object under PREFIX (ListObjectsV2,
# every page), in S3's byte order.
s3_list_objects() {
    local bucket=$1 prefix=$2 token="" q st body="$WORK/s3/list.xml"
    while :; do
        # parameters in name order (SigV4's canonical query); max-keys only for tests of paging
        q="?"
        [ -n "$token" ] && q+="continuation-token=$(s3_uri_encode "$token")&"
        q+="list-type=2"
        [ -n "${S3_IT_MAX_KEYS:-}" ] && q+="&max-keys=$S3_IT_MAX_KEYS"
        q+="&prefix=$(s3_uri_encode "$prefix")"
        st=$(s3_curl "$body" GET "$bucket" "/$q")
        [ "$st" = 200 ] || fail "S3 list of s3://$bucket/$prefix: HTTP $st $(head -c 300 "$body" 2>/dev/null)"
        # one <Contents> a line, then its Key and Size
        sed 's|<Contents>|\n&|g' "$body" | grep '^<Contents>' |
            sed -E 's|^<Contents>.*<Key>([^<]*)</Key>.*<Size>([0-9]+)</Size>.*$|\1\t\2|' |
            sed -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e "s/&apos;/'/g" -e 's/&amp;/\&/g' || true
        grep -q '<IsTruncated>true</IsTruncated>' "$body" || break
        token=$(s3_xml_values NextContinuationToken <"$body")
        [ -n "$token" ] || fail "S3 list of s3://$bucket/$prefix: truncated without a token"
    done
}

# s3_list_uploads BUCKET PREFIX: the keys of multipart uploads begun and neither completed nor
# aborted, under PREFIX. The prefix is filtered here: curl 7.88.1 signs "?prefix=a%2F&uploads="
# differently from S3 (403), so the request lists every upload of the bucket.
s3_list_uploads() {
    local bucket=$1 prefix=$2 st body="$WORK/s3/uploads.xml" k
    st=$(s3_curl "$body" GET "$bucket" "/?uploads=")
    [ "$st" = 200 ] || fail "S3 list of uploads of s3://$bucket: HTTP $st $(head -c 300 "$body" 2>/dev/null)"
    s3_xml_values Key <"$body" | while IFS= read -r k; do
        if [[ "$k" == "$prefix"* ]]; then printf '%s\n' "$k"; fi
    done
}

# ---- for the tests of the S3 driver itself (test_s3_archive, test_s3_pitr), which start
# ---- their own servers whatever the repository kind and look straight into the bucket.
# s3_start [--tls]: s3_server_start, with pgpitr pointed at the new server (s3_env).
s3_start() { s3_server_start "$@"; s3_env; }
# s3_env: the PGPITR_S3_* settings for the last server started (not its CA file: a test of
# TLS shows first that pgpitr refuses the server without it).
s3_env() {
    export PGPITR_S3_ENDPOINT=$S3_TEST_ENDPOINT PGPITR_S3_REGION=$S3_TEST_REGION \
        PGPITR_S3_URI_STYLE=path PGPITR_S3_KEY=$S3_TEST_ACCESS_KEY \
        PGPITR_S3_KEY_SECRET=$S3_TEST_SECRET_KEY
}
s3_port() { free_port "$S3_PORT_LOW" "$S3_PORT_HIGH"; }      # a free port of the S3 range
s3_keys() { s3_list_objects "$S3_IT_BUCKET" "$1" | cut -f1; } # PREFIX: every key below it
# s3_etags PREFIX: the ETag of every key below it (the first listing page: small tests).
s3_etags() {
    local st body="$WORK/s3/etags.xml"
    st=$(s3_curl "$body" GET "$S3_IT_BUCKET" "/?list-type=2&prefix=$(s3_uri_encode "$1")")
    [ "$st" = 200 ] || fail "S3 list of $1: HTTP $st"
    s3_xml_values ETag <"$body"
}
# s3_get KEY OUT: the object's bytes into OUT.
s3_get() {
    local st
    st=$(s3_curl "$2" GET "$S3_IT_BUCKET" "/$(s3_uri_encode "$1" path)")
    [ "$st" = 200 ] || fail "S3 GET of $1: HTTP $st"
}
s3_uploads() { s3_list_uploads "$S3_IT_BUCKET" "" | wc -l; }   # unfinished uploads, counted
# s3_begin_upload KEY: a multipart upload begun and left, as a writer killed mid-object does.
s3_begin_upload() {
    local st body="$WORK/s3/begin.xml"
    st=$(s3_curl "$body" POST "$S3_IT_BUCKET" "/$(s3_uri_encode "$1" path)?uploads=")
    [ "$st" = 200 ] && grep -q '<UploadId>' "$body" || fail "could not begin a multipart upload of $1: HTTP $st"
}
