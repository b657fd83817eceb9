#!/usr/bin/env bash
# Repository locks with a real cluster (docs/locking.md):
#   - a live EXPIRE holder (an object written here for a real `sleep` process) makes backup and
#     restore exit 13 naming "expire" and the pid; archive-push and archive-get go on
#   - backup --lock-wait waits for it and takes it over once the process is gone, with a
#     warning naming the pid
#   - a backup killed with SIGKILL leaves its holder object; the next backup takes it over
#   - normal runs leave nothing in locks/
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

holders() { repo_find "$REPO" locks '*.json'; }
# proc_start PID: field 22 of /proc/PID/stat, counted after the last ')' of the command name.
proc_start() { sed -E 's/^.*\) //' "/proc/$1/stat" | cut -d' ' -f20; }
iso_utc() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
# bg_pgp NAME ARGS...: pgpitr in the background as the cluster user; sets BG_PID.
bg_pgp() {
    local name=$1
    shift
    "${AS_PG[@]}" "$PGPITR" "$@" >"$WORK/bg.$name.out" 2>"$WORK/bg.$name.err" &
    BG_PID=$!
    track_pid "$BG_PID"
}
bg_wait() {  # PID NAME -> RC, ERR
    local rc=0
    wait "$1" || rc=$?
    untrack_pid "$1"
    RC=$rc
    ERR=$(cat "$WORK/bg.$2.err")
    cat "$WORK/bg.$2.err" >>"$WORK/log/pgpitr.log"
    check_san_stderr "$WORK/bg.$2.err" "background pgpitr $2"
}
wait_for() {  # CONDITION-COMMAND WHAT: poll up to 60 s
    local i
    for ((i = 0; i < 600; i++)); do
        eval "$1" && return 0
        sleep 0.1
    done
    fail "$2"
}

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
pgbench_c src -i -q -s 2
wait_archived src "$(switch_wal src)"

log "a first backup leaves no lock behind"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label first --jobs 2
assert_rc 0 "first backup"
assert_repo_has "$REPO" backup/first/manifest.json "manifest of the first backup"
assert_eq "" "$(holders)" "holder objects after a normal backup"

log "a live expire holder of a real process"
sleep 600 &
SLEEP_PID=$!
track_pid "$SLEEP_PID"
jq -n --arg host "$(uname -n)" --arg boot "$(cat /proc/sys/kernel/random/boot_id)" \
    --argjson pid "$SLEEP_PID" --argjson start "$(proc_start "$SLEEP_PID")" \
    --arg since "$(iso_utc '-1 min')" --arg beat "$(iso_utc now)" \
    '{kind: "expire", command: "expire", pid: $pid, host: $host, boot_id: $boot,
      proc_start: $start, since: $since, heartbeat: $beat}' | repo_write "$REPO" locks/expire-test.json

pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label blocked
assert_rc 13 "backup while expire holds the lock"
assert_one_line_error "backup while expire holds the lock"
log "  $ERR"
assert_contains "$ERR" "locked by expire" "the error names the holder's command"
assert_contains "$ERR" "pid $SLEEP_PID " "the error names the holder's pid"
assert_contains "$ERR" "HINT: " "the error has a HINT"
assert_contains "$ERR" "--lock-wait" "the HINT says how to wait"
assert_repo_absent "$REPO" backup/blocked "backup dir of the refused backup"

pgp_capture --repo "$REPO" restore --pgdata "$WORK/r1" --target-immediate
assert_rc 13 "restore while expire holds the lock"
assert_contains "$ERR" "pid $SLEEP_PID " "restore's error names the holder's pid"
assert_absent "$WORK/r1/PG_VERSION" "restore refused before writing files"

log "archive-push and archive-get never wait for a lock"
seg=$(switch_wal src)
wait_archived src "$seg"
archived=$(repo_find "$REPO" archive/wal "$seg-*" | head -n 1)
[ -n "$archived" ] || fail "segment $seg not in the archive while the expire lock is held"
pgp_capture --repo "$REPO" archive-get "$seg" "$WORK/tmp/got.$seg"
assert_rc 0 "archive-get while the expire lock is held"
assert_eq 16777216 "$(file_size "$WORK/tmp/got.$seg")" "size of the fetched segment"
rm -f "$WORK/tmp/got.$seg"
assert_repo_has "$REPO" locks/expire-test.json "the expire holder object, still there"

log "backup --lock-wait waits, then takes over the lock of the gone process"
bg_pgp waiter --repo "$REPO" --log-level info backup --pg-conn "$(conninfo src)" \
    --label waited --jobs 2 --lock-wait 60
waiter=$BG_PID
wait_for "grep -q 'waiting up to 60 s for the lock held by expire' '$WORK/bg.waiter.err'" \
    "the waiting backup did not say it waits: $(cat "$WORK/bg.waiter.err")"
pid_alive "$waiter" || fail "the waiting backup ended while the lock was held"
assert_repo_absent "$REPO" backup/waited "backup dir of the backup still waiting"
kill -TERM "$SLEEP_PID"
wait "$SLEEP_PID" 2>/dev/null || true
untrack_pid "$SLEEP_PID"
bg_wait "$waiter" waiter
assert_rc 0 "the waiting backup"
assert_contains "$ERR" "taking over the lock of expire (pid $SLEEP_PID on host $(uname -n)" \
    "the warning names the gone holder"
assert_repo_has "$REPO" backup/waited/manifest.json "manifest of the backup that waited"
assert_repo_absent "$REPO" locks/expire-test.json "the taken-over holder object"
assert_eq "" "$(holders)" "holder objects after the waiting backup"

log "a backup killed with SIGKILL leaves its holder; the next backup takes it over"
bg_pgp killed --repo "$REPO" backup --pg-conn "$(conninfo src)" --label killed --jobs 2 \
    --max-rate 1M
killed=$BG_PID
wait_for "repo_has '$REPO' backup/killed/backup.inprogress" "the backup to kill did not start"
holder=$(holders)
assert_contains "$holder" "locks/backup-" "holder object of the running backup"
assert_eq "$killed" "$(repo_read "$REPO" "$holder" | jq -r .pid)" "pid in the running backup's holder object"
assert_eq backup "$(repo_read "$REPO" "$holder" | jq -r .kind)" "kind in the running backup's holder object"
kill -KILL "$killed"
bg_wait "$killed" killed
assert_eq 137 "$RC" "exit status of the killed backup"
assert_repo_has "$REPO" "$holder" "holder object left by the killed backup"

pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label after --jobs 2
assert_rc 0 "backup after the killed one"
assert_contains "$ERR" "taking over the lock of backup (pid $killed on host" \
    "the next backup says whose lock it took over"
assert_repo_absent "$REPO" "$holder" "the killed backup's holder object"
assert_repo_has "$REPO" backup/after/manifest.json "manifest of the backup after the killed one"
assert_eq "" "$(holders)" "holder objects at the end"
log "ok"
