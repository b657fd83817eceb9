#!/usr/bin/env bash
# pgpitr backup failures: each gives one clear error line (plus an optional HINT), the right
# exit status, and never a backup listed as complete; a later good backup works and removes
# what failed or killed backups left.
#   - nothing listening on the port                    -> 12 (PostgreSQL)
#   - a role without REPLICATION                       -> 12, "replication", HINT
#   - another cluster into this cluster's repository   -> 9
#   - max_wal_senders = 0                              -> 12, names max_wal_senders
#   - a second backup while one runs                   -> 13 "locked by backup"; the
#                                                         first completes
#   - the walsender terminated, the walsender SIGKILLed (server crash-restart), pgpitr itself
#     SIGKILLed, all mid-stream                        -> non-zero, no manifest.json; the next
#                                                         backup removes the leftovers
# (The full repository disk is test_backup_full_disk.sh; wal_level = minimal cannot run with
# max_wal_senders > 0 on PostgreSQL 15, so it is not reachable over replication.)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

# Labels of complete backups in the repository.
complete_backups() {
    repo_keys "$REPO" backup | sed -nE 's|^backup/([^/]+)/manifest\.json$|\1|p' | LC_ALL=C sort
}
assert_not_complete() {  # label what
    assert_repo_absent "$REPO" "backup/$1/manifest.json" "$2: manifest.json of backup $1"
    [ "$(complete_backups)" = "$COMPLETE" ] || fail "$2: complete backups are now '$(complete_backups)', expected '$COMPLETE'"
}
# wait_streaming LABEL: until the backup LABEL has begun and the server streams it.
wait_streaming() {
    local i
    for ((i = 0; i < 300; i++)); do
        if repo_has "$REPO" "backup/$1/backup.inprogress" &&
            [ "$(psql_c src "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'")" -gt 0 ]; then
            return 0
        fi
        sleep 0.05
    done
    fail "backup $1 did not start streaming"
}
# bg_backup LABEL ARGS...: pgpitr backup in the background (bg_pgp); sets BG_PID.
bg_backup() {
    local label=$1
    shift
    bg_pgp "$label" --repo "$REPO" backup --pg-conn "$(conninfo src)" --label "$label" \
        --jobs 2 "$@"
}
# drop_warnings: keep "pgpitr: warn: ..." lines (cleaning up after an earlier failed backup)
# out of ERR, into WARN, so that the error contract is checked on the error itself.
drop_warnings() {
    WARN=$(printf '%s\n' "$ERR" | grep '^pgpitr: warn: ' || true)
    ERR=$(printf '%s\n' "$ERR" | grep -v '^pgpitr: warn: ' || true)
}
wait_server_up() {
    local i
    for ((i = 0; i < 300; i++)); do
        psql_c "$1" "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "server $1 did not come back"
}

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
pgbench_c src -i -q -s 2
wait_archived src "$(switch_wal src)"
assert_repo_has "$REPO" "repo.json" "repository bound by archive-push"
COMPLETE=""

log "nothing listening on the port"
port=$(free_port)
pgp_capture --repo "$REPO" backup --pg-conn "host=$(cluster_dir src) port=$port user=postgres" --label noport
assert_rc 12 "backup with nothing listening"
assert_one_line_error "backup with nothing listening"
log "  $ERR"
assert_contains "$ERR" "$port" "the error names the port"
assert_repo_absent "$REPO" "backup/noport" "backup dir of a backup that could not connect"
assert_not_complete noport "no server"

log "a role without REPLICATION"
psql_c src "CREATE ROLE norep LOGIN"
grep -Eq '^local[[:space:]]+replication[[:space:]]+all[[:space:]]+trust' "$(cluster_data src)/pg_hba.conf" || {
    printf 'local replication all trust\n' >>"$(cluster_data src)/pg_hba.conf"
    psql_c src "SELECT pg_reload_conf()" >/dev/null
}
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src norep)" --label norep
assert_rc 12 "backup as a role without REPLICATION"
assert_one_line_error "backup as a role without REPLICATION"
log "  $ERR"
assert_icontains "$(printf '%s\n' "$ERR" | sed -n 1p)" 'replication' "the error mentions replication"
assert_eq 2 "$(printf '%s\n' "$ERR" | grep -c '')" "lines of the error (error + HINT)"
assert_icontains "$(printf '%s\n' "$ERR" | sed -n 2p)" '^HINT: .*REPLICATION' "the HINT says how to grant REPLICATION"
assert_repo_absent "$REPO" "backup/norep" "backup dir of a backup refused before it began"
assert_not_complete norep "role without REPLICATION"

log "another cluster into this repository"
pg_init other
pg_start other
repo_read "$REPO" repo.json >"$WORK/repo.json.before"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo other)" --label other
assert_rc 9 "backup of another cluster"
assert_one_line_error "backup of another cluster"
log "  $ERR"
sysid_src=$(cluster_sysid src)
sysid_other=$(cluster_sysid other)
{ assert_contains "$ERR" "$sysid_src" x; assert_contains "$ERR" "$sysid_other" x; } 2>/dev/null ||
    { grep -Fqi -- "$(printf '%X' "$sysid_src")" <<<"$ERR" && grep -Fqi -- "$(printf '%X' "$sysid_other")" <<<"$ERR"; } ||
    fail "the error does not name both system identifiers ($sysid_src, $sysid_other): $ERR"
repo_read "$REPO" repo.json >"$WORK/repo.json.after"
assert_same_file "$WORK/repo.json.before" "$WORK/repo.json.after" "repo.json after a refused backup"
assert_repo_absent "$REPO" "backup/other" "backup dir of a backup refused before it began"
assert_not_complete other "another cluster"

log "max_wal_senders = 0"
pg_stop other
pg_conf other "max_wal_senders = 0"
pg_start other
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo other)" --label nosenders
assert_rc 12 "backup from a server with max_wal_senders = 0"
assert_one_line_error "backup from a server with max_wal_senders = 0"
log "  $ERR"
assert_contains "$ERR" "max_wal_senders" "the error names max_wal_senders"
assert_repo_absent "$REPO" "backup/nosenders" "backup dir of a backup refused before it began"
assert_not_complete nosenders "max_wal_senders = 0"
pg_stop other immediate

log "a second backup while one runs"
# About 35 MB at 6 MB/s: the first backup streams for ~6 s (the refused one takes up to 4 s
# on an encrypted S3 repository, and the first must still run when it is checked).
bg_backup slow1 --max-rate 6M
slow_pid=$BG_PID
wait_streaming slow1
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label second
assert_rc 13 "a backup while another runs"
assert_one_line_error "a backup while another runs"
log "  $ERR"
assert_contains "$ERR" "repository is locked by backup (pid $slow_pid " "the error says why, naming the holder"
assert_repo_absent "$REPO" "backup/second" "backup dir of the refused backup"
pid_alive "$slow_pid" || fail "the first backup ended before the second was tried (make it slower)"
assert_repo_has "$REPO" "backup/slow1/backup.inprogress" "the refused backup left the running one alone"
bg_wait "$slow_pid" slow1
assert_rc 0 "the first backup, after the refused one"
assert_repo_has "$REPO" "backup/slow1/manifest.json" "manifest of the first backup"
COMPLETE=$(complete_backups)
assert_eq slow1 "$COMPLETE" "complete backups"

log "walsender terminated mid-backup"
bg_backup term1 --max-rate 1M
pid=$BG_PID
wait_streaming term1
sleep 1
psql_c src "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'walsender'" >/dev/null
wait_gone "$pid" 30 || fail "pgpitr backup still running 30 s after its walsender was terminated"
bg_wait "$pid" term1
[ "$RC" -ne 0 ] || fail "backup whose walsender was terminated exited 0"
assert_rc 12 "backup whose walsender was terminated"
drop_warnings
assert_one_line_error "backup whose walsender was terminated"
log "  $ERR"
assert_not_complete term1 "walsender terminated"

log "walsender SIGKILLed mid-backup (server crash and restart)"
bg_backup crash1 --max-rate 1M
pid=$BG_PID
wait_streaming crash1
sleep 1
ws=$(psql_c src "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender'")
[ -n "$ws" ] || fail "no walsender to kill"
kill -KILL "$ws"
wait_gone "$pid" 30 || fail "pgpitr backup still running 30 s after its walsender was killed"
bg_wait "$pid" crash1
[ "$RC" -ne 0 ] || fail "backup whose walsender was killed exited 0"
drop_warnings
assert_contains "$WARN" '"term1"' "the next backup says it removes what the terminated one left"
assert_repo_absent "$REPO" "backup/term1" "what the terminated backup left, after the next backup"
assert_icontains "$ERR" "connection|server" "the error says the server went away"
assert_one_line_error "backup whose walsender was killed"
log "  $ERR"
assert_not_complete crash1 "walsender killed"
wait_server_up src
grep -q 'terminated by signal 9' "$WORK/src/server.log" || fail "the server did not see its walsender killed"

log "pgpitr SIGKILLed mid-backup"
bg_backup killed1 --max-rate 1M
pid=$BG_PID
wait_streaming killed1
sleep 1
kill -KILL "$pid"
bg_wait "$pid" killed1
assert_eq 137 "$RC" "exit status of the killed backup"
assert_not_complete killed1 "pgpitr killed"
[ -n "$(repo_keys "$REPO" backup/killed1)" ] || fail "the killed backup left no directory (nothing for the next backup to clean)"

log "a good backup afterwards removes the leftovers"
psql_c src "CHECKPOINT"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label good
assert_rc 0 "backup after the failures"
printf '%s\n' "$OUT"
assert_repo_has "$REPO" "backup/good/manifest.json" "manifest of the good backup"
for l in term1 crash1 killed1; do
    assert_repo_absent "$REPO" "backup/$l" "the next backup removes what the failed backup $l left"
done
assert_eq "$(printf 'good\nslow1')" "$(complete_backups)" "complete backups at the end"
# No object is orphaned: every object file is referenced by a complete backup.
for l in $(complete_backups); do backup_refs "$REPO" "$l"; done | sort -u >"$WORK/refs"
repo_keys "$REPO" objects | sort >"$WORK/objs"
orphans=$(comm -13 "$WORK/refs" "$WORK/objs")
[ -z "$orphans" ] || fail "objects referenced by no complete backup remain: $(printf '%s\n' "$orphans" | head -n 3)"
[ -z "$(repo_debris "$REPO")" ] || fail "debris left in the repository: $(repo_debris "$REPO")"
log "ok"
