#!/usr/bin/env bash
# The S3 secret key and session token never show: with recognisable values (from a mode-0600
# configuration file, then from PGPITR_S3_* and AWS_* variables), archive-push (as
# archive_command), archive-get, backup, info (text and JSON), verify, restore (and recovery
# through its restore_command), drill and expire succeed, and so do failing runs (a wrong
# secret: 403; an unreachable endpoint; --log-level debug), and neither value is in any
# stdout or stderr, the clusters' server logs, the drill report, the restored data directory,
# the bucket's files, nor in the command line of any process of the test (sampled all along,
# and on a running backup whose environment does hold the secret). There is no flag for
# either value. The session token does reach the server, as x-amz-security-token.
# repo-kinds: local -- starts its own S3 server
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

SECRET="sEcReT-$$-$RANDOM-NeverShown"
TOKEN="ToKeN-$$-$RANDOM-NeverShown"
WRONG="wRoNg-$$-$RANDOM-NeverShown"
PAT="$WORK/patterns"   # the three values, one a line: grep -F -f (no value on a command line)
printf '%s\n' "$SECRET" "$TOKEN" "$WRONG" >"$PAT"
chmod 0600 "$PAT"

s3_start --secret-key "$SECRET"
unset PGPITR_S3_KEY PGPITR_S3_KEY_SECRET   # from the configuration file first
DATA="$WORK/s3/data-${S3_TEST_ENDPOINT##*:}"
[ -d "$DATA" ] || fail "no bucket data directory $DATA"
REPO=s3://$S3_IT_BUCKET/sec
CONF="$WORK/conf/pgpitr.conf"
mkdir_pg "$WORK/conf"
(umask 077 && cat >"$CONF") <<CONF
[global]
repo = $REPO
s3-endpoint = $S3_TEST_ENDPOINT
s3-region = $S3_TEST_REGION
s3-uri-style = path
s3-key = $S3_TEST_ACCESS_KEY
s3-key-secret = $SECRET
s3-token = $TOKEN
CONF
own "$CONF"

# ---- every process's command line, sampled until the end of the test ------------------------
# /proc/PID/cmdline is what ps shows. The S3 test server is the one process given the secret
# on its command line (by s3_start, not by pgpitr).
SAMPLES="$WORK/cmdline.samples"
: >"$SAMPLES"
(
    trap - EXIT
    while [ ! -e "$WORK/sampler.stop" ]; do
        grep -lF -f "$PAT" /proc/[0-9]*/cmdline 2>/dev/null | while IFS= read -r f; do
            p=${f#/proc/}
            p=${p%/cmdline}
            [ "$p" = "$S3_TEST_PID" ] && continue
            printf '%s (%s): %s\n' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)" \
                "$(tr '\0' ' ' <"$f" 2>/dev/null)" >>"$SAMPLES"
        done || true
        echo sweep >>"$WORK/sampler.sweeps"
        sleep 0.05
    done
) &
SAMPLER_PID=$!
track_pid "$SAMPLER_PID"

# run WHAT EXPECTED_RC pgpitr-args...: pgp_capture; stdout and stderr must not hold a value.
run() {
    local what=$1 want=$2
    shift 2
    pgp_capture "$@"
    if [ "$want" = fail ]; then
        [ "$RC" -ne 0 ] || fail "$what: succeeded; stdout: $OUT"
    else
        assert_rc "$want" "$what"
    fi
    assert_clean "$what (stdout and stderr)" "$WORK/last.out" "$WORK/last.err"
}
# assert_clean WHAT PATH...: no value in PATH (files, or directories read recursively).
assert_clean() {
    local what=$1 hits
    shift
    hits=$(grep -rlaF -f "$PAT" "$@" 2>/dev/null || true)
    [ -z "$hits" ] || fail "$what: the secret key or session token is in: $hits
$(grep -raF -f "$PAT" "$@" | head -n 3)"
}

log "no flag takes the secret or the token"
for flag in --s3-key-secret --s3-token; do
    run "$flag as a flag" 2 "$flag" flag-value --config "$CONF" info
    assert_contains "$ERR" "unknown or incomplete option \"$flag\"" "$flag is refused"
done

log "archive_command and backup with the settings in the configuration file"
pg_init src
pg_conf src "archive_mode = on" "archive_timeout = 0" \
    "archive_command = '$PGPITR --config $CONF archive-push %p'"
pg_start src
pgbench_c src -i -q -s 1
seg=$(switch_wal src)
wait_archived src "$seg"
run "backup" 0 --config "$CONF" --log-level debug backup --pg-conn "$(conninfo src)" --jobs 2
run "archive-get" 0 --config "$CONF" archive-get "$seg" "$WORK/tmp/seg.got"
run "info" 0 --config "$CONF" info
assert_contains "$OUT" "$REPO" "info names the repository"
run "info --output json" 0 --config "$CONF" info --output json
jq -e . <<<"$OUT" >/dev/null || fail "info --output json is no JSON: $OUT"
run "verify" 0 --config "$CONF" --log-level debug verify

log "a backup whose environment holds the secret: its command line does not"
# The backup is held at its connection to PostgreSQL (postmaster stopped, so nobody accepts it)
# until it has been sampled: a quick backup on a busy CI machine could otherwise be over before
# the first sample, and the check would prove nothing.
export PGPITR_S3_KEY=$S3_TEST_ACCESS_KEY PGPITR_S3_KEY_SECRET=$SECRET PGPITR_S3_TOKEN=$TOKEN
printf 'PGPITR_S3_KEY_SECRET=%s\n' "$SECRET" >"$WORK/environ.pat"  # for grep -f, as $PAT
postmaster=${CLUSTER_PID[src]}
kill -STOP "$postmaster"
bg_pgp bk2 --repo "$REPO" --s3-endpoint "$S3_TEST_ENDPOINT" --s3-region "$S3_TEST_REGION" \
    --s3-uri-style path backup --pg-conn "$(conninfo src)" --jobs 2
n=0 held=0 leaked="" held_at=$(($(date +%s) + 8)) resumed=0
while [ -r "/proc/$BG_PID/cmdline" ]; do
    if [ "$resumed" -eq 0 ] && { [ "$held" -eq 1 ] && [ "$n" -ge 20 ] || [ "$(date +%s)" -ge "$held_at" ]; }; then
        kill -CONT "$postmaster"
        resumed=1
    fi
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$BG_PID/cmdline") || break
    [ -n "$cmd" ] || break
    case "$cmd" in *"$SECRET"* | *"$TOKEN"*) leaked=$cmd ;; esac
    tr '\0' '\n' 2>/dev/null <"/proc/$BG_PID/environ" | grep -qxF -f "$WORK/environ.pat" && held=1
    n=$((n + 1))
done
[ "$resumed" -eq 1 ] || kill -CONT "$postmaster"
[ -z "$leaked" ] || fail "the running backup's command line holds a value: $leaked"
log "sampled the running backup $n times"
bg_wait "$BG_PID" bk2
assert_rc 0 "backup with the settings in the environment"
assert_clean "backup with the settings in the environment" "$WORK/bg.bk2.out" "$WORK/bg.bk2.err"
assert_gt "$n" 0 "samples of the running backup's command line"
assert_eq 1 "$held" "the sampled backup's environment held the secret (else the samples prove nothing)"
unset PGPITR_S3_KEY PGPITR_S3_KEY_SECRET PGPITR_S3_TOKEN

log "AWS_* variables"
AWS_ACCESS_KEY_ID=$S3_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=$TOKEN \
    run "info with AWS_*" 0 --repo "$REPO" --s3-endpoint "$S3_TEST_ENDPOINT" \
    --s3-region "$S3_TEST_REGION" --s3-uri-style path --log-level debug info

log "failures: a wrong secret, an unreachable endpoint, with --log-level debug"
PGPITR_S3_KEY=$S3_TEST_ACCESS_KEY PGPITR_S3_KEY_SECRET=$WRONG PGPITR_S3_TOKEN=$TOKEN \
    run "info with a wrong secret" fail --config "$CONF" --log-level debug info
assert_contains "$ERR" "403" "a wrong secret is HTTP 403"
assert_contains "$ERR" "SignatureDoesNotMatch" "a wrong secret is SignatureDoesNotMatch"
# The server's log shows the canonical request of a refused signature: the token was signed.
# (the pattern through a file: on grep's command line the sampler would catch the test itself)
grep -qF -f <(printf 'x-amz-security-token:%s\n' "$TOKEN") "$S3_TEST_LOG" ||
    fail "the server never got the session token as x-amz-security-token (log $S3_TEST_LOG)"
mkdir_pg "$WORK/push"
cp "$WORK/tmp/seg.got" "$WORK/push/$seg"
own "$WORK/push/$seg"
one="$WORK/push/$seg"
PGPITR_S3_KEY=$S3_TEST_ACCESS_KEY PGPITR_S3_KEY_SECRET=$WRONG \
    run "archive-push with a wrong secret" fail --config "$CONF" --log-level debug archive-push "$one"
assert_icontains "$ERR" "403|access denied" "archive-push with a wrong secret"
dead=$(s3_port)
run "backup to an unreachable endpoint" fail --config "$CONF" --log-level debug --io-timeout 2 \
    --s3-endpoint "http://127.0.0.1:$dead" backup --pg-conn "$(conninfo src)"
assert_contains "$ERR" "127.0.0.1:$dead" "the error names the unreachable endpoint"
run "archive-get from an unreachable endpoint" fail --config "$CONF" --log-level debug \
    --io-timeout 2 --s3-endpoint "http://127.0.0.1:$dead" archive-get "$seg" "$WORK/tmp/seg.dead"

log "restore, and recovery through the restore_command it wrote"
psql_c src "CREATE TABLE after_backup AS SELECT 42 AS v" >/dev/null
wait_archived src "$(switch_wal src)"
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
run "restore" 0 --config "$CONF" restore --pgdata "$(cluster_data dst)" --jobs 2
assert_contains "$(cat "$(cluster_data dst)/postgresql.auto.conf")" "--config" \
    "restore_command names the configuration file"
start_restored dst
assert_eq 42 "$(psql_c dst "SELECT v FROM after_backup")" "the restored server replayed the archive"
pg_stop dst

log "drill"
mkdir_pg "$WORK/dtmp"
TMPDIR="$WORK/dtmp" run "drill" 0 --config "$CONF" drill --output json --report "$WORK/tmp/drill.json"
assert_eq passed "$(jq -r .status "$WORK/tmp/drill.json")" "drill status"

log "expire"
run "expire" 0 --config "$CONF" expire --retain-full 1

log "the logs, the report, the restored data directory and the bucket's files"
pg_stop src
touch "$WORK/sampler.stop"
wait "$SAMPLER_PID" 2>/dev/null || true
untrack_pid "$SAMPLER_PID"
assert_gt "$(grep -c . "$WORK/sampler.sweeps")" 10 "sweeps of the command lines"
[ ! -s "$SAMPLES" ] || fail "a process had a value on its command line: $(head -n 3 "$SAMPLES")"
assert_clean "the server logs" "$WORK/src/server.log" "$WORK/dst/server.log"
assert_clean "pgpitr's log (every stderr)" "$WORK/log/pgpitr.log"
assert_clean "the drill report" "$WORK/tmp/drill.json"
assert_clean "the restored data directory" "$(cluster_data dst)"
assert_clean "the drill's work directory" "$WORK/dtmp"
assert_clean "the bucket's files" "$DATA"
assert_gt "$(find "$DATA" -type f | grep -c .)" 10 "files in the bucket's data directory"
log "ok"
