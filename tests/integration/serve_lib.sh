# shellcheck shell=bash
# serve_lib.sh - helpers of the test_serve*.sh tests (sourced after lib.sh): tokens and their
# file, starting `pgpitr serve` and waiting for its port, HTTP requests with curl, following a
# job to its end.

# token_line NAME ROLE TOKEN: a line of a token file.
token_line() { printf '%s %s %s\n' "$1" "$2" "$(printf '%s' "$3" | sha256sum | cut -d' ' -f1)"; }
new_token() { head -c 32 /dev/urandom | base64; }

# serve_start NAME PORT ARGS...: pgpitr ARGS (global options, then serve ...) in the background
# (bg_pgp NAME) and waits up to 20 s for PORT to answer; SERVE_PID is its pid.
serve_start() {
    local name=$1 port=$2 i
    shift 2
    bg_pgp "$name" "$@"
    SERVE_PID=$BG_PID
    for ((i = 0; i < 200; i++)); do
        port_in_use "$port" && return 0
        pid_alive "$SERVE_PID" || fail "pgpitr serve ($name) exited: $(cat "$WORK/bg.$name.err")"
        sleep 0.1
    done
    fail "pgpitr serve ($name) does not listen on $port after 20 s"
}

# serve_stop NAME: SIGTERM, then waits for it (exit 0 expected); sets RC, ERR.
serve_stop() {
    kill -TERM "$SERVE_PID"
    bg_wait "$SERVE_PID" "$1"
    assert_rc 0 "pgpitr serve ($1) after SIGTERM"
}

# http METHOD PATH [TOKEN [BODY]]: one request to $BASE (curl options in CURL_EXTRA); sets CODE
# (000 when curl failed), RESP (the body) and HDRS (the response headers).
http() {
    local m=$1 p=$2 tok=${3:-} body=${4-} args
    args=(-s --path-as-is -X "$m" -o "$WORK/http.body" -D "$WORK/http.hdrs" -w '%{http_code}'
          --max-time 120 "${CURL_EXTRA[@]}")
    [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    CODE=$(curl "${args[@]}" "$BASE$p") || CODE=000
    RESP=$(cat "$WORK/http.body" 2>/dev/null)
    HDRS=$(tr -d '\r' <"$WORK/http.hdrs" 2>/dev/null)
}
CURL_EXTRA=()
# expect STATUS WHAT: the last answer's status, and an {"error"} body for any error status.
expect() {
    [ "$CODE" = "$1" ] || fail "$2: expected HTTP $1, got $CODE: $RESP"
    if [ "$1" -ge 400 ]; then
        [ "$(jq -r '.error | type' <<<"$RESP" 2>/dev/null)" = string ] ||
            fail "$2: the error body is not {\"error\": ...}: $RESP"
    fi
}
jr() { jq -r "$1" <<<"$RESP"; }
header() { printf '%s\n' "$HDRS" | sed -n "s/^$1: //Ip" | head -n 1; }

# follow_job ID TOKEN SECONDS: polls /api/v1/jobs/ID until it is no longer running; RESP is
# the job's last JSON.
follow_job() {
    local i
    for ((i = 0; i < $3 * 4; i++)); do
        http GET "/api/v1/jobs/$1" "$2"
        expect 200 "GET job $1"
        [ "$(jr .state)" != running ] && return 0
        sleep 0.25
    done
    fail "job $1 still running after $3 s: $RESP"
}
