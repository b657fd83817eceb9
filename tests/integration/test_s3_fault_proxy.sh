#!/usr/bin/env bash
# The fault-injecting proxy (tests/tools/s3-fault-proxy.js) that the S3 fault tests put between
# pgpitr and the S3 test server, shown with curl: each fault kind does what it says (503
# SlowDown and 500 with S3's XML bodies and nothing written, a reset connection, a stall past
# the client's timeout after the store did the write), clean requests pass through with their
# signatures intact, faults are per request on a kept-alive connection, the share of faulted
# requests follows --fault-rate, the same seed makes the same decisions, and SIGUSR1/SIGUSR2
# turn faults off and on. Independent of the repository kind: it talks to its own server.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"

# the proxy speaks plain http: an s3-tls run gets a second, plain server for this test
if [ "$REPO_KIND" != s3 ]; then
    s3_server_start
    unset S3_TEST_CA_FILE
fi
UP=$S3_TEST_ENDPOINT
[[ "$UP" == http://* ]] || fail "the proxy needs a plain http server, got $UP"
B=$S3_IT_BUCKET
printf 'payload' >"$WORK/tmp/body"

# via CURL-ARGS... : s3_curl through the proxy; status on stdout, body in $WORK/tmp/out.
via() { S3_TEST_ENDPOINT=$S3_PROXY_URL s3_curl "$WORK/tmp/out" "$@"; }
direct_has() {  # KEY: the object exists on the server (asked directly)
    [ "$(s3_curl /dev/null HEAD "$B" "/$1")" = 200 ]
}
# proxy_actions: the "action" of every request logged so far, in order.
proxy_actions() { jq -r 'select(.action) | .action' "$S3_PROXY_LOG" | tr '\n' ' ' | sed 's/ $//'; }
stop_proxy() { kill -TERM "$S3_PROXY_PID"; wait "$S3_PROXY_PID" || true; untrack_pid "$S3_PROXY_PID"; }

log "no faults: requests pass through, signatures intact"
s3_proxy_start "$UP" --fault-rate 0
assert_eq 200 "$(via PUT "$B" /clean -T "$WORK/tmp/body")" "PUT through the proxy"
assert_eq 200 "$(via GET "$B" /clean)" "GET through the proxy"
assert_eq payload "$(cat "$WORK/tmp/out")" "body through the proxy"
assert_eq 403 "$(S3_TEST_SECRET_KEY=wrong via GET "$B" /clean)" "a wrong signature still refused"
stop_proxy

log "503 SlowDown, per request on one kept-alive connection"
s3_proxy_start "$UP" --fault-rate 1 --faults 503
# one curl, two URLs: the second request rides the first one's connection
curl -sS --aws-sigv4 "aws:amz:$S3_TEST_REGION:s3" --user "$S3_TEST_ACCESS_KEY:$S3_TEST_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -w '%{http_code}' \
    -o "$WORK/tmp/out" "$S3_PROXY_URL/$B/clean" -o "$WORK/tmp/out2" "$S3_PROXY_URL/$B/clean" >"$WORK/tmp/st"
assert_eq "503503" "$(cat "$WORK/tmp/st")" "both requests answered 503"
assert_contains "$(cat "$WORK/tmp/out")" "<Code>SlowDown</Code>" "503 body"
assert_eq "1 1" "$(jq -r .conn "$S3_PROXY_LOG" | tr '\n' ' ' | sed 's/ $//')" "both on connection 1"
stop_proxy
s3_proxy_start "$UP" --fault-rate 1 --faults 503
assert_eq 503 "$(via PUT "$B" /slow -T "$WORK/tmp/body")" "PUT faulted with 503"
if direct_has slow; then fail "a PUT answered 503 by the proxy reached the server"; fi
stop_proxy

log "500 InternalError"
s3_proxy_start "$UP" --fault-rate 1 --faults 500
assert_eq 500 "$(via PUT "$B" /err -T "$WORK/tmp/body")" "PUT faulted with 500"
assert_contains "$(cat "$WORK/tmp/out")" "<Code>InternalError</Code>" "500 body"
if direct_has err; then fail "a PUT answered 500 by the proxy reached the server"; fi
stop_proxy

log "reset"
s3_proxy_start "$UP" --fault-rate 1 --faults reset
rc=0
curl -sS -o /dev/null -m 10 "$S3_PROXY_URL/$B/clean" 2>"$WORK/tmp/reset.err" || rc=$?
[ "$rc" -eq 56 ] || [ "$rc" -eq 52 ] || fail "curl through a reset: exit $rc, expected 56 or 52 ($(cat "$WORK/tmp/reset.err"))"
assert_eq reset "$(proxy_actions)" "logged action"
stop_proxy

log "stall past the client's timeout, after the store did the write"
s3_proxy_start "$UP" --fault-rate 1 --faults stall --stall-ms 3000
t0=$(date +%s%N)
st=$(via PUT "$B" /stalled -T "$WORK/tmp/body" -m 1)
# no final answer: nothing (000), or only the server's "100 Continue" (forwarded) before the stall
[ "$st" = 000 ] || [ "$st" = 100 ] || fail "stalled PUT got an answer: HTTP $st"
assert_contains "$(cat "$WORK/s3/curl.err")" "timed out" "curl's error for a stall"
[ $((($(date +%s%N) - t0) / 1000000)) -lt 2900 ] || fail "curl -m 1 waited for the whole stall"
for ((i = 0; i < 50; i++)); do direct_has stalled && break; sleep 0.1; done
direct_has stalled || fail "the stalled PUT did not reach the server (outcome must be unknown, not failed)"
stop_proxy

log "share and seed: --fault-rate 0.3 over 40 requests, twice with the same seed"
runs=()
for seed in 7 7 8; do
    s3_proxy_start "$UP" --fault-rate 0.3 --faults 503,500 --seed "$seed"
    for ((i = 0; i < 40; i++)); do via GET "$B" /clean >/dev/null; done
    runs+=("$(proxy_actions)")
    stop_proxy
done
assert_eq "${runs[0]}" "${runs[1]}" "decisions with the same seed"
assert_ne "${runs[0]}" "${runs[2]}" "decisions with another seed"
n=$(printf '%s\n' "${runs[0]}" | tr ' ' '\n' | grep -cv forward || true)
[ "$n" -ge 4 ] && [ "$n" -le 20 ] || fail "faulted $n of 40 requests at rate 0.3"
log "faulted $n of 40"

log "SIGUSR1 turns faults off, SIGUSR2 on"
s3_proxy_start "$UP" --fault-rate 1 --faults 503
assert_eq 503 "$(via GET "$B" /clean)" "faults on"
kill -USR1 "$S3_PROXY_PID"
for ((i = 0; i < 50; i++)); do grep -q 'faults off' "$S3_PROXY_LOG" && break; sleep 0.1; done
assert_eq 200 "$(via GET "$B" /clean)" "faults off"
kill -USR2 "$S3_PROXY_PID"
for ((i = 0; i < 50; i++)); do grep -q 'faults on' "$S3_PROXY_LOG" && break; sleep 0.1; done
assert_eq 503 "$(via GET "$B" /clean)" "faults on again"
stop_proxy

if [ "$REPO_KIND" = s3 ]; then
    log "repo_via_proxy: pgpitr's endpoint (and the wrappers') is the proxy, the helpers' the server"
    repo_via_proxy --fault-rate 1 --faults 500
    assert_eq "$S3_PROXY_URL" "$PGPITR_S3_ENDPOINT" "PGPITR_S3_ENDPOINT"
    assert_contains "$(repo_env_exports)" "PGPITR_S3_ENDPOINT=$S3_PROXY_URL" "wrapper exports"
    assert_eq 500 "$(S3_TEST_ENDPOINT=$PGPITR_S3_ENDPOINT s3_curl /dev/null GET "$B" /clean)" \
        "a request to pgpitr's endpoint"
    printf 'x' | repo_write_raw "$REPO" helpers-direct   # (raw: not through pgpitr in an encrypted run)
    assert_eq x "$(repo_read_raw "$REPO" helpers-direct)" "the helpers, past the proxy"
fi
log "ok"
