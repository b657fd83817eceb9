#!/usr/bin/env bash
# An expire while a backup runs: refused at once (exit 13, naming the backup and its pid)
# without removing anything; with --lock-wait it waits until the backup has finished and then
# expires. Both end correct: the new backup is complete and kept (it is the newest), the
# expired ones are gone, no lock is left behind, and restores from what remains reach both the
# new backup's end and the latest archived point.
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

log "hold a backup at its end: archiving fails, so it waits for its WAL"
psql_c src "ALTER SYSTEM SET archive_command = 'false'" >/dev/null
psql_c src "SELECT pg_reload_conf()" >/dev/null
bg_pgp b3 --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b3 --jobs 2 \
    --archive-timeout 300
b3_pid=$BG_PID
for ((i = 0; i < 600; i++)); do
    [ -n "$(lock_objects)" ] && [ -n "$(repo_keys "$REPO" backup/b3)" ] && break
    sleep 0.1
done
[ -n "$(lock_objects)" ] || fail "the running backup holds no lock object in $REPO/locks"
# until it has streamed everything and waits for its WAL: PostgreSQL's backup_manifest is
# stored right before that wait
for ((i = 0; i < 600; i++)); do
    [ -n "$(repo_find "$REPO" backup/b3 'backup_manifest*')" ] && break
    sleep 0.1
done
[ -n "$(repo_find "$REPO" backup/b3 'backup_manifest*')" ] ||
    fail "the backup did not reach its WAL wait: $(cat "$WORK/bg.b3.err")"
pid_alive "$b3_pid" || fail "the held backup ended early: $(cat "$WORK/bg.b3.err")"
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
psql_c src "ALTER SYSTEM RESET archive_command" >/dev/null
psql_c src "SELECT pg_reload_conf()" >/dev/null
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
log "ok"
