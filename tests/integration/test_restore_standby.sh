#!/usr/bin/env bash
# A backup taken on a streaming standby (issue #10, defect 2). The standby was made with
# pg_basebackup -R, so the backup holds standby.signal and, in postgresql.auto.conf, the
# standby's primary_conninfo naming the production primary.
# - Default restore: standby.signal is not restored, primary_conninfo is emptied; the restored
#   server replays the archive, promotes, and never connects to the primary (the primary still
#   has one walsender, the real standby's; no walreceiver line in the restored server's log).
#   A --delta restore over it removes a standby.signal found there.
# - --standby: standby.signal, the backup's primary_conninfo kept: the restored server streams
#   from the primary (a second walsender) and follows new commits.
# The --standby one starts beside the running clusters with --set port=N --set
# unix_socket_directories=DIR (nothing appended to its configuration by the test).
# - --set and --standby misuse: one-line errors, exit 2, nothing written.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

walsenders() { psql_c p "SELECT count(*) FROM pg_stat_replication"; }
# wait_sql NAME SQL EXPECTED WHAT: until SQL on NAME prints EXPECTED (60 s).
wait_sql() {
    local i got=""
    for ((i = 0; i < 600; i++)); do
        got=$(psql_c "$1" "$2" 2>/dev/null || true)
        [ "$got" = "$3" ] && return 0
        sleep 0.1
    done
    fail "$4: expected '$3', got '$got'"
}

log "production: a primary archiving into the repository, and a streaming standby"
source_cluster p
add_row p 1 >/dev/null
pg_standby sb p

log "a backup of the standby (--primary-conn: the primary switches WAL at its end)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo sb)" \
    --primary-conn "$(conninfo p) dbname=postgres" --label sbk --jobs 2
assert_rc 0 "backup of the standby"
add_row p 2 >/dev/null
wait_archived p "$(switch_wal p)"

log "default restore: promotes, never connects to the primary"
restore_to r1 --backup sbk
assert_absent "$(cluster_data r1)/standby.signal" "standby.signal of the backup"
assert_file "$(cluster_data r1)/recovery.signal" "recovery.signal"
pg_conf r1 "port = $(cat "$WORK/r1/port")" "unix_socket_directories = '$WORK/r1'"
pg_start r1
wait_promoted r1 60
assert_eq "1,2" "$(rows r1)" "rows of the restored server"
assert_eq "" "$(psql_c r1 "SHOW primary_conninfo")" "primary_conninfo of the restored server"
assert_eq 1 "$(walsenders)" "walsenders of the primary (the real standby only)"
if grep -E 'started streaming WAL|could not connect to the primary|walreceiver' "$WORK/r1/server.log"; then
    fail "the restored server tried to stream from the primary"
fi
assert_contains "$OUT" "standby: the backup was taken on a standby" "restore says what it left out"
pg_stop r1
as_pg touch "$(cluster_data r1)/standby.signal"
restore_to r1 --backup sbk --delta >/dev/null
assert_absent "$(cluster_data r1)/standby.signal" "standby.signal after a --delta restore"

log "--standby: a new standby of the primary, streaming"
r2_port=$(free_port)
restore_to r2 --backup sbk --standby --set "port=$r2_port" \
    --set "unix_socket_directories=$WORK/r2"
echo "$r2_port" >"$WORK/r2/port"   # for psql_c (restore_to wrote another free port there)
assert_contains "$OUT" "recovery: a standby (standby.signal)" "restore says it is a standby"
assert_contains "$OUT" "standby: streams from the primary that primary_conninfo names" \
    "restore says where the standby streams from"
assert_file "$(cluster_data r2)/standby.signal" "standby.signal"
assert_absent "$(cluster_data r2)/recovery.signal" "recovery.signal of a standby"
assert_contains "$(cat "$(cluster_data r2)/postgresql.auto.conf")" \
    "recovery_target_timeline = 'latest'" "a standby follows the newest timeline"
pg_start r2
wait_sql r2 "SELECT status FROM pg_stat_wal_receiver" streaming "the new standby streams"
assert_eq 2 "$(walsenders)" "walsenders of the primary"
add_row p 3 >/dev/null
wait_sql r2 "SELECT string_agg(id::text, ',' ORDER BY id) FROM t" "1,2,3" \
    "rows streamed to the new standby"
assert_eq t "$(psql_c r2 "SELECT pg_is_in_recovery()")" "the new standby stays in recovery"
pg_stop r2

log "misuse: one-line errors, exit 2, nothing written"
bad() {  # WHAT NEEDLE ARGS...
    local what=$1 needle=$2
    shift 2
    pgp_capture --repo "$REPO" restore --pgdata "$WORK/bad" "$@"
    assert_rc 2 "$what"
    assert_one_line_error "$what"
    assert_contains "$ERR" "$needle" "$what"
    assert_absent "$WORK/bad" "$what: target directory"
}
bad "primary_conninfo without --standby" "--set primary_conninfo needs --standby" \
    --set "primary_conninfo=host=x"
bad "--standby with a target" "--standby takes no recovery target" --standby --target-immediate
bad "restore_command" "cannot set restore_command" --set "restore_command=cp %f %p"
bad "a target setting" "HINT: give the target with --target-time" \
    --set "Recovery_Target_Time=2026-01-01 00:00:00+00"
bad "archive_mode" "use --archive-mode" --set archive_mode=on
bad "not a name" "not a configuration parameter name" --set "port;x=1"
bad "no value" "expected NAME=VALUE" --set port
bad "twice" "is given twice" --set port=1 --set PORT=2
bad "a line break" "line break" --set "$(printf 'port=1\nrestore_command=x')"
pg_stop sb
pg_stop p
log "ok"
