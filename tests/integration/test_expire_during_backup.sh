#!/usr/bin/env bash
# An expire while a backup runs: refused at once (exit 13, naming the backup and its pid)
# without removing anything; with --lock-wait it waits until the backup has finished and then
# expires. Both end correct: the new backup is complete and kept (it is the newest), the
# expired ones are gone, no lock is left behind, and restores from what remains reach both the
# new backup's end and the latest archived point. Then a held backup whose lock is taken over
# (as another host does once the heartbeat is stale) fails instead of writing its manifest.json.
# The backup is held at its very end by failing archiving: it waits for its WAL.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$(dirname "$0")/pitr_lib.sh"

lock_objects() { repo_keys "$REPO" locks; }
repo_state() { repo_listing "$REPO" | grep -v '^locks/' || true; }

source_cluster src
add_row src 1 >/dev/null
backup_of src b1
add_row src 2 >/dev/null
wait_archived src "$(switch_wal src)"
backup_of src b2
add_row src 3 >/dev/null

# hold_backup LABEL: a backup started in the background and held at its very end (archiving
# fails, so it waits for its WAL); its pid in HELD_PID. release_archiving lets it go on.
hold_backup() {
    local label=$1 i
    psql_c src "ALTER SYSTEM SET archive_command = 'false'" >/dev/null
    psql_c src "SELECT pg_reload_conf()" >/dev/null
    bg_pgp "$label" --repo "$REPO" backup --pg-conn "$(conninfo src)" --label "$label" --jobs 2 \
        --archive-timeout 300
    HELD_PID=$BG_PID
    for ((i = 0; i < 600; i++)); do
        [ -n "$(lock_objects)" ] && [ -n "$(repo_keys "$REPO" "backup/$label")" ] && break
        sleep 0.1
    done
    [ -n "$(lock_objects)" ] || fail "the running backup holds no lock object in $REPO/locks"
    # until it has streamed everything and waits for its WAL: PostgreSQL's backup_manifest is
    # stored right before that wait
    for ((i = 0; i < 600; i++)); do
        [ -n "$(repo_find "$REPO" "backup/$label" 'backup_manifest*')" ] && break
        sleep 0.1
    done
    [ -n "$(repo_find "$REPO" "backup/$label" 'backup_manifest*')" ] ||
        fail "the backup did not reach its WAL wait: $(cat "$WORK/bg.$label.err")"
    pid_alive "$HELD_PID" || fail "the held backup ended early: $(cat "$WORK/bg.$label.err")"
}
release_archiving() {
    psql_c src "ALTER SYSTEM RESET archive_command" >/dev/null
    psql_c src "SELECT pg_reload_conf()" >/dev/null
}

log "hold a backup at its end: archiving fails, so it waits for its WAL"
hold_backup b3
b3_pid=$HELD_PID
before=$(repo_state)

log "expire during the backup is refused and removes nothing"
pgp_capture --repo "$REPO" expire --retain-full 1
assert_rc 13 "expire while a backup runs"
assert_one_line_error "expire while a backup runs"
assert_contains "$ERR" "backup" "the refusal names the holder"
assert_contains "$ERR" "pid $b3_pid" "the refusal names the holder's pid"
assert_eq "$before" "$(repo_state)" "repository after the refused expire"
pgp_capture --repo "$REPO" expire --retain-full 1 --dry-run
assert_rc 13 "expire --dry-run while a backup runs (it would report a plan that may change)"

log "an expire with --lock-wait waits for the backup"
bg_pgp exp --repo "$REPO" expire --retain-full 1 --lock-wait 300
exp_pid=$BG_PID
sleep 2
pid_alive "$exp_pid" || fail "expire --lock-wait did not wait: $(cat "$WORK/bg.exp.err")"
assert_eq "$before" "$(repo_state)" "repository while expire waits"

log "let the backup finish"
release_archiving
bg_wait "$b3_pid" b3
assert_rc 0 "the held backup"
bg_wait "$exp_pid" exp
assert_rc 0 "expire after waiting"
printf '%s\n' "$OUT"

assert_repo_has "$REPO" backup/b3/manifest.json "the new backup is complete"
assert_repo_absent "$REPO" backup/b1 "expired backup b1"
assert_repo_absent "$REPO" backup/b2 "expired backup b2"
assert_eq "" "$(lock_objects)" "lock objects left in $REPO/locks"

log "restores from what remains"
add_row src 4 >/dev/null
wait_archived src "$(switch_wal src)"
restored_rows at_b3 --backup b3 --target-immediate
assert_eq "1,2,3" "$ROWS" "rows at the end of b3 (the oldest promised point)"
restored_rows latest
assert_eq "1,2,3,4" "$ROWS" "rows at the latest point"

# Another host judges a stalled backup dead once its heartbeat is lock-stale old (a paused VM,
# a storage outage) and takes its lock over; removing the lock object is what that takeover
# does. An expire then removes the unfinished backup's directory and objects. The backup, once
# it goes on, must not write a manifest.json naming objects that are gone.
log "a backup whose lock was taken over while it stalled is not recorded"
hold_backup b5
b5_pid=$HELD_PID
while read -r k; do repo_rm "$REPO" "$k"; done < <(lock_objects)
pgp_capture --repo "$REPO" expire --retain-full 1
assert_rc 0 "expire once the stalled backup's lock is gone"
assert_contains "$OUT" "1 incomplete" "expire removed the unfinished backup"
release_archiving
bg_wait "$b5_pid" b5
assert_rc 13 "the backup whose lock was taken over"
assert_contains "$ERR" "was taken away while this backup ran" "says the lock was lost"
assert_contains "$ERR" "backup \"b5\" failed and is not restorable" "says the backup is not recorded"
assert_repo_absent "$REPO" backup/b5/manifest.json "a manifest.json for the backup that lost its lock"
pgp_capture --repo "$REPO" verify
assert_rc 0 "verify after the lost backup"
assert_eq "" "$(lock_objects)" "lock objects left in $REPO/locks"
log "ok"
