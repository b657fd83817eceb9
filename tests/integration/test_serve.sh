#!/usr/bin/env bash
# pgpitr serve against a real cluster and repository, over real HTTP (curl): a token file
# readable by others is refused at start; /health without a token; 401 (same answer for a
# missing and a wrong token, WWW-Authenticate: Bearer), 403 for a read token on POST, 404, 405
# with Allow, 413, 400 for malformed JSON, an unknown field and a bad label / drill id (no path
# traversal); info, backups and a backup by label agree with `pgpitr info`; a backup started
# over HTTP waits for the lock of a CLI backup (they exclude each other) while a second POST
# gets 409 naming it, then both complete and are listed; a drill, a verify and an expire
# dry run started over HTTP are followed to completion through /api/v1/jobs/{id}, the drill
# then listed first in /api/v1/drills with its report; concurrent requests; a client that
# trickles its request and one that sends nothing do not delay others; SIGHUP reloads the
# tokens (a bad file keeps the old ones); every request is logged with its token's name, never
# the token; SIGTERM stops a running job and the server. Runs on every repository kind.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$HERE/drill_lib.sh"
# shellcheck source=tests/integration/serve_lib.sh
source "$HERE/serve_lib.sh"

drill_source src
mkdir_pg "$WORK/dtmp"
CONF=$WORK/pgpitr.conf
printf '[global]\npg-conn = %s\nretain-full = 10\n' "$(conninfo src)" >"$CONF"
own "$CONF"

OP=$(new_token)
RO=$(new_token)
TOKENS=$WORK/tokens
{ echo "# test tokens"; token_line ci operate "$OP"; token_line dash read "$RO"; } >"$TOKENS"
own "$TOKENS"
chmod 600 "$TOKENS"
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT

log "a token file readable by others is refused at start"
chmod 644 "$TOKENS"
pgp_capture --repo "$REPO" serve --listen "127.0.0.1:$PORT" --token-file "$TOKENS"
assert_rc 3 "serve with a world-readable token file"
assert_one_line_error "serve with a world-readable token file"
chmod 600 "$TOKENS"
pgp_capture --repo "$REPO" serve --listen "127.0.0.1:$PORT"
assert_rc 3 "serve without a token file"

log "start, telling systemd (a notify socket as systemd gives one) once it listens"
python3 - "$WORK/notify.sock" "$WORK/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)   # the server runs as the PostgreSQL user
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode().replace("\n", " ") + "\n")
PY
NOTIFY_PID=$!
track_pid "$NOTIFY_PID"
for ((i = 0; i < 100; i++)); do [ -S "$WORK/notify.sock" ] && break; sleep 0.1; done
# notified STATE: the listener got a datagram starting with STATE within 10 s
notified() {
    for ((i = 0; i < 100; i++)); do grep -q "^$1" "$WORK/notify.log" 2>/dev/null && return 0; sleep 0.1; done
    fail "systemd was not told \"$1\": $(cat "$WORK/notify.log" 2>/dev/null)"
}
NOTIFY_SOCKET=$WORK/notify.sock PGPITR_LOCK_WAIT=120 TMPDIR=$WORK/dtmp serve_start srv "$PORT" --config "$CONF" \
    --log-level info --repo "$REPO" serve --listen "127.0.0.1:$PORT" --token-file "$TOKENS"

notified "READY=1 STATUS=listening on 127.0.0.1:$PORT"

log "health, metrics"
http GET /health
expect 200 "GET /health without a token"
assert_eq up "$(jr .status)" "health status"
assert_eq true "$(jr '.check.status | IN("OK", "WARNING", "CRITICAL", "UNKNOWN")')" "check status"
assert_eq true "$(jr '.check | keys == ["checked", "counts", "status"]')" "health says no details"
http GET /metrics
expect 401 "GET /metrics without a token"
http GET /metrics "$RO"
expect 200 "GET /metrics"
assert_eq "text/plain; version=0.0.4; charset=utf-8" "$(header Content-Type)" "metrics type"
assert_contains "$RESP" "# TYPE pgpitr_" "metrics text"
assert_contains "$RESP" "pgpitr_up 1" "metrics of a readable repository"

log "authentication"
http GET /api/v1/info
expect 401 "no token"
none=$RESP
assert_contains "$(header WWW-Authenticate)" "Bearer" "WWW-Authenticate"
http GET /api/v1/info "$(new_token)"
expect 401 "a wrong token"
assert_eq "$none" "$RESP" "the same answer for a missing and a wrong token"
CURL_EXTRA=(-H "Authorization: Bearer $RO junk")
http GET /api/v1/info
expect 401 "a token followed by more text"
CURL_EXTRA=(-H "Authorization: Basic $(printf 'ci:%s' "$OP" | base64 -w0)")
http GET /api/v1/info
expect 401 "basic auth"
CURL_EXTRA=()
http POST /api/v1/backups "$RO" '{}'
expect 403 "POST with a read token"

log "routes and bad input"
http GET /api/v1/nope "$RO"
expect 404 "unknown route"
http GET / "$RO"
expect 404 "root"
http PUT /api/v1/info "$RO"
expect 405 "PUT /api/v1/info"
assert_eq GET "$(header Allow)" "Allow of /api/v1/info"
http GET /api/v1/verify "$RO"
expect 405 "GET /api/v1/verify"
assert_eq POST "$(header Allow)" "Allow of /api/v1/verify"
http DELETE /api/v1/backups "$OP"
expect 405 "DELETE /api/v1/backups"
assert_eq "GET, POST" "$(header Allow)" "Allow of /api/v1/backups"
http POST /api/v1/backups "$OP" '{"label": '
expect 400 "malformed JSON"
assert_contains "$(jr .error)" "malformed JSON" "malformed JSON reason"
http POST /api/v1/backups "$OP" '{"pg_conn": "host=elsewhere"}'
expect 400 "unknown field"
assert_contains "$(jr .error)" '"pg_conn"' "the unknown field is named"
http POST /api/v1/backups "$OP" '{"label": "../x"}'
expect 400 "bad label"
http POST /api/v1/expire "$OP" "{\"dry_run\": true, \"pad\": \"$(head -c 70000 /dev/zero | tr '\0' a)\"}"
expect 413 "a body over 64 KiB"
CURL_EXTRA=(-H "Transfer-Encoding: chunked")   # no Content-Length: read, counted, refused
http POST /api/v1/expire "$OP" "{\"dry_run\": true, \"pad\": \"$(head -c 70000 /dev/zero | tr '\0' a)\"}"
expect 413 "a chunked body over 64 KiB"
CURL_EXTRA=()
http POST /api/v1/nope "$OP" "$(head -c 70000 /dev/zero | tr '\0' a)"
expect 404 "a large body to an unknown route"
http GET /api/v1/backups/..%2Frepo.json "$RO"
expect 400 "an encoded ../ in a label"
http GET /api/v1/backups/../../repo.json "$RO"
[ "$CODE" = 404 ] || [ "$CODE" = 400 ] || fail "a ../ path: expected 404 or 400, got $CODE"
http GET /api/v1/drills/..%2F..%2Frepo "$RO"
expect 400 "drill id with ../"
http GET /api/v1/jobs/x "$RO"
expect 400 "bad job id"
http GET /api/v1/jobs/backup-1-1 "$RO"
expect 404 "unknown job"

log "info and backups"
http GET /api/v1/info "$RO"
expect 200 "GET /api/v1/info"
assert_eq application/json "$(header Content-Type)" "info type"
api_info=$RESP
pgp_capture --repo "$REPO" info --output json
# the measured RPO is "now" minus the newest WAL: the two documents may be a second apart
assert_eq "$(jq -c 'del(.generated, .archive, .objectives.rpo.measured_s)' <<<"$OUT")" \
    "$(jq -c 'del(.generated, .archive, .objectives.rpo.measured_s)' <<<"$api_info")" \
    "API info = pgpitr info"
rpo_gap=$(( $(jq .objectives.rpo.measured_s <<<"$OUT") - $(jq .objectives.rpo.measured_s <<<"$api_info") ))
[ "$rpo_gap" -ge 0 ] && [ "$rpo_gap" -le 2 ] ||
    fail "measured RPO: pgpitr info $(jq .objectives.rpo.measured_s <<<"$OUT") s, the API's $(jq .objectives.rpo.measured_s <<<"$api_info") s"
http GET /api/v1/backups "$RO"
expect 200 "GET /api/v1/backups"
assert_eq base1 "$(jr '[.backups[].label] | join(",")')" "backups"
http GET /api/v1/backups/base1 "$RO"
expect 200 "GET /api/v1/backups/base1"
assert_eq "base1 complete" "$(jr '"\(.label) \(.status)"')" "backup base1"
http GET /api/v1/backups/nope "$RO"
expect 404 "unknown backup"

log "a CLI backup holds the lock: the API backup waits for it, a second POST gets 409"
# catch_backup LABEL: starts a CLI backup and stops it (SIGSTOP) while it holds its lock.
catch_backup() {
    local i
    bg_pgp "$1" --repo "$REPO" backup --pg-conn "$(conninfo src)" --label "$1" --jobs 2
    for ((i = 0; i < 2400; i++)); do
        if repo_has "$REPO" "backup/$1/backup.inprogress"; then
            kill -STOP "$BG_PID"
            return 0
        fi
        pid_alive "$BG_PID" || break
        sleep 0.05
    done
    fail "backup $1 ended before it could be caught running"
}
catch_backup cli1
CLI_PID=$BG_PID
http POST /api/v1/backups "$OP" '{"label": "api1", "checkpoint": "fast"}'
expect 202 "POST /api/v1/backups"
JOB=$(jr .id)
assert_eq "/api/v1/jobs/$JOB" "$(header Location)" "Location of the job"
http POST /api/v1/backups "$OP" '{}'
expect 409 "a second backup while one runs"
assert_eq "$JOB" "$(jr .job)" "409 names the running job"
http GET "/api/v1/jobs/$JOB" "$RO"
expect 200 "GET the running job"
assert_eq "running backup ci" "$(jr '"\(.state) \(.kind) \(.token)"')" "the running job"

log "concurrent requests"
pids=()
for i in $(seq 1 12); do
    curl -s -o "$WORK/conc.$i" -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $RO" \
        "$BASE/api/v1/$( ((i % 2)) && echo info || echo "jobs/$JOB")" >"$WORK/conc.$i.code" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent request failed"; done
for i in $(seq 1 12); do
    assert_eq 200 "$(cat "$WORK/conc.$i.code")" "concurrent request $i"
    jq -e . "$WORK/conc.$i" >/dev/null || fail "concurrent answer $i is not JSON"
done

kill -CONT "$CLI_PID"
bg_wait "$CLI_PID" cli1
assert_rc 0 "the CLI backup"
follow_job "$JOB" "$RO" 300
assert_eq "succeeded 0" "$(jr '"\(.state) \(.exit_status)"')" "the API backup: $(jr '.output_tail | join("\n")')"
assert_eq object "$(jr '.result | type')" "the backup's JSON result"
http GET /api/v1/backups "$RO"
assert_eq "api1 base1 cli1" "$(jr '[.backups[] | select(.status == "complete") | .label] | sort | join(" ")')" \
    "backups after the API backup"

log "a slow client (one byte every 0.2 s) and a silent one do not delay others"
python3 - "$PORT" >"$WORK/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4 + b"\r\n\r\n"
for b in req:
    s.send(bytes([b]))
    time.sleep(0.2)
print(s.recv(100).split(b"\r\n")[0].decode())
PY
SLOW_PID=$!
exec 7<>"/dev/tcp/127.0.0.1/$PORT"   # connected, says nothing
sleep 1   # both are now connected mid-request (a state, not a synchronization)
for i in 1 2 3 4 5; do
    t0=$(date +%s%N)
    http GET /api/v1/drills "$RO"
    expect 200 "a request while a slow client trickles"
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$ms" -lt 3000 ] || fail "a request took $ms ms while a slow client was connected"
done
pid_alive "$SLOW_PID" || fail "the slow client ended before the other requests were answered"
wait "$SLOW_PID" || fail "the slow client failed: $(cat "$WORK/slow.out")"
assert_eq "HTTP/1.1 200 OK" "$(cat "$WORK/slow.out")" "the slow client's answer"
exec 7>&-

log "drill, verify and expire over HTTP"
http POST /api/v1/drills "$OP" '{"target_latest": true}'
expect 202 "POST /api/v1/drills"
DJOB=$(jr .id)
http POST /api/v1/verify "$OP" '{"backup": "api1"}'
expect 202 "POST /api/v1/verify"
VJOB=$(jr .id)
follow_job "$VJOB" "$RO" 300
assert_eq "succeeded 0" "$(jr '"\(.state) \(.exit_status)"')" "verify job: $(jr '.output_tail | join("\n")')"
follow_job "$DJOB" "$RO" 600
assert_eq "succeeded 0 passed" "$(jr '"\(.state) \(.exit_status) \(.result.status)"')" \
    "drill job: $(jr '.output_tail | join("\n")')"
DRILL_ID=$(jr .result.id)
http POST /api/v1/expire "$OP" '{"dry_run": true}'
expect 202 "POST /api/v1/expire"
follow_job "$(jr .id)" "$RO" 120
assert_eq "succeeded 0" "$(jr '"\(.state) \(.exit_status)"')" "expire job: $(jr '.output_tail | join("\n")')"
assert_eq object "$(jr '.result | type')" "expire's JSON result"
http GET /api/v1/backups "$RO"
assert_eq 3 "$(jr '[.backups[] | select(.status == "complete")] | length')" "a dry run removes nothing"
http GET /api/v1/drills "$RO"
expect 200 "GET /api/v1/drills"
assert_eq "$DRILL_ID passed" "$(jr '.drills[0] | "\(.id) \(.status)"')" "the drill listed first"
http GET "/api/v1/drills/$DRILL_ID" "$RO"
expect 200 "GET the drill report"
assert_eq "$DRILL_ID" "$(jr .id)" "the report's id"
http GET /api/v1/drills/20991231T000000Z-0000 "$RO"
expect 404 "an unknown drill report"

log "SIGHUP reloads the tokens; a bad file keeps them"
NEW=$(new_token)
token_line ops2 operate "$NEW" >"$TOKENS"
kill -HUP "$SERVE_PID"
for ((i = 0; i < 100; i++)); do
    http GET /api/v1/drills "$NEW"
    [ "$CODE" = 200 ] && break
    sleep 0.1
done
expect 200 "the new token after SIGHUP"
http GET /api/v1/drills "$OP"
expect 401 "a removed token after SIGHUP"
notified "RELOADING=1"
notified 'READY=1$'   # ready again after the reload (the first READY came with a STATUS)
chmod 644 "$TOKENS"
kill -HUP "$SERVE_PID"
for ((i = 0; i < 100; i++)); do
    grep -q "not reloaded" "$WORK/bg.srv.err" && break
    sleep 0.1
done
grep -q "not reloaded, the previous tokens stay in use" "$WORK/bg.srv.err" || fail "no warning for a bad token file"
http GET /api/v1/drills "$NEW"
expect 200 "the token still works after a bad reload"
chmod 600 "$TOKENS"

log "SIGTERM stops a running job and the server"
catch_backup cli2
CLI_PID=$BG_PID
http POST /api/v1/backups "$NEW" '{"label": "api2"}'
expect 202 "POST a backup that waits for the lock"
child=$(pgrep -P "$SERVE_PID" || true)
[ -n "$child" ] || fail "no job child under the server"
serve_stop srv
pid_alive "$child" && fail "the job's child outlived the server"
notified "STOPPING=1"
kill "$NOTIFY_PID"
untrack_pid "$NOTIFY_PID"
kill -CONT "$CLI_PID"
bg_wait "$CLI_PID" cli2
assert_rc 0 "the CLI backup"

log "the log: one line per request with the token's name, never a token"
LOGF=$WORK/bg.srv.err
assert_contains "$(cat "$LOGF")" "serve: GET /api/v1/info 401 " "a 401 logged"
grep -Eq "serve: POST /api/v1/backups 202 [0-9.]+ ms token ci$" "$LOGF" || fail "no log line for the POST"
grep -Eq "serve: GET /api/v1/drills 200 [0-9.]+ ms token ops2$" "$LOGF" || fail "no line for the new token"
grep -Eq "warn: serve: job backup-[0-9]+-[0-9]+ ended: failed" "$LOGF" || fail "the job stopped by SIGTERM is not logged as failed"
for t in "$OP" "$RO" "$NEW"; do
    grep -qF "$t" "$LOGF" && fail "a token is in the log"
done
grep -qi "authorization" "$LOGF" && fail "the Authorization header is in the log"
log "ok"
