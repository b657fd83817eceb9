#!/usr/bin/env bash
# The archive module (archive_library = '<absolute path of pgpitr.so>', docs/archive-module.md)
# on a local or S3 repository: switched to from archive_command (a reload), PostgreSQL
# archives through it under pgbench load; with the repository unreachable the callback fails
# with a WARNING naming pgpitr's error, the archiver (the same process: it must not die) keeps
# retrying while a backlog of ready segments builds up, and once the repository is back the
# backlog drains, pushed ahead on 4 threads. Then, with another backlog draining, the
# postmaster and all its children are SIGKILLed mid-push; after the restart every segment is
# pushed (again: the same content is success), every segment marked done is in the repository
# byte for byte, and a restore of a backup taken before it all replays to the same data as the
# source. Last, back to archive_command with a reload.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

MODULE_SO=${PGPITR_MODULE:-$(dirname "$PGPITR_BIN")/module/pgpitr.so}
[ -f "$MODULE_SO" ] || skip "no archive module at $MODULE_SO (make module)"
# a copy the server's user can read, wherever the build tree is
cp "$MODULE_SO" "$WORK/pgpitr.so"
own "$WORK/pgpitr.so"

archiver_pid() {   # the archiver of cluster src (a child of its postmaster)
    ps -o pid=,args= --ppid "${CLUSTER_PID[src]}" | awk '/archiver/ { print $1; exit }'
}
# repo_down / repo_up: the repository unreachable and back (local: no access for the server's
# user; S3: the server stopped, so that requests time out after io-timeout)
repo_down() {
    if repo_is_s3 "$REPO"; then kill -STOP "$S3_TEST_PID"; else chmod 000 "$REPO"; fi
}
repo_up() {
    if repo_is_s3 "$REPO"; then kill -CONT "$S3_TEST_PID"; else chmod 0700 "$REPO"; fi
}
backlog() {   # COUNT: COUNT segments of pgbench WAL; last: the last one
    local i
    for ((i = 0; i < $1; i++)); do
        pgbench_c src -c 2 -j 2 -t 300 -n
        last=$(switch_wal src)
    done
}
ready_count() { find "$data/pg_wal/archive_status" -name '*.ready' | wc -l; }
archived_upto() {   # SEGMENT: pg_stat_archiver has archived it
    [ "$(psql_c src "SELECT coalesce(last_archived_wal, '') >= '$1' FROM pg_stat_archiver")" = t ]
}
# wake the archiver (after three failures in a row it waits a minute) until SEGMENT is archived
drain() {
    wake_until src 120 archived_upto "$1" ||
        fail "$1 not archived within 120 s: $(psql_c src 'SELECT * FROM pg_stat_archiver')"
}

archiver_replaced() {   # OLD_PID: an archiver runs, and not that one
    local now
    now=$(archiver_pid)
    [ -n "$now" ] && [ "$now" != "$1" ]
}
# switch_to LIBRARY: archive_library set (or emptied: archive_command again) and reloaded; the
# archiver restarts with it (waits for the new one)
switch_to() {
    local old
    old=$(archiver_pid)
    pg_conf src "archive_library = '$1'"
    psql_c src "SELECT pg_reload_conf()" >/dev/null
    wake_until src 60 archiver_replaced "$old" && return 0
    fail "the archiver did not restart after archive_library = '$1'"
}

export PGPITR_LOG_LEVEL=info PGPITR_IO_TIMEOUT=5
pg_init src
repo_is_s3 "$REPO" || { mkdir_pg "$REPO"; chmod 0700 "$REPO"; }
# archive_command first, then the module (docs/archive-module.md, "Switching")
pg_enable_archiving src "$REPO"
pg_conf src "pgpitr.repo = '$REPO'" "pgpitr.jobs = 4"
pg_start src
data=$(cluster_data src)
slog="$(cluster_dir src)/server.log"
seg=$(switch_wal src)
wait_archived src "$seg"
grep -q "archived \"[^\"]*$seg\"" "$WORK/log/pgpitr.log" || fail "$seg not archived by archive_command"
switch_to "$WORK/pgpitr.so"
pgbench_c src -i -q -s 2
pgbench_c src -c 2 -j 2 -T 3 -n
wait_archived src "$(switch_wal src)"
assert_eq 0 "$(psql_c src 'SELECT failed_count FROM pg_stat_archiver')" "failed_count under load"
assert_contains "$(cat "$slog")" "pgpitr: info: archived \"pg_wal/" "the module's log lines in the server log"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base --jobs 2
assert_rc 0 "backup"

log "repository unreachable: the callback fails with a WARNING, the archiver retries"
apid=$(archiver_pid)
[ -n "$apid" ] || fail "no archiver process"
repo_down
backlog 12
for ((i = 0; i < 300; i++)); do
    [ "$(psql_c src 'SELECT failed_count FROM pg_stat_archiver')" -ge 2 ] && break
    sleep 0.2
done
assert_gt "$(psql_c src 'SELECT failed_count FROM pg_stat_archiver')" 1 "failed_count while unreachable"
grep -q 'WARNING:  pgpitr: cannot archive "pg_wal/[0-9A-F]*": ' "$slog" ||
    fail "no WARNING with pgpitr's error in the server log: $(tail -n 5 "$slog")"
grep -m1 'WARNING:  pgpitr: cannot archive' "$slog"
assert_eq "$apid" "$(archiver_pid)" "archiver pid after failed calls (it must not die)"
ready=$(ready_count)
assert_gt "$ready" 10 "ready segments while the repository is unreachable"

log "repository back: the backlog of $ready segments drains"
repo_up
t0=$(date +%s%N)
drain "$last"
log "drained in $((($(date +%s%N) - t0) / 1000000)) ms"
assert_eq "$apid" "$(archiver_pid)" "archiver pid after the outage"
grep -q 'pushed "[0-9A-F]*" ahead' "$slog" || fail "nothing was pushed ahead"
grep -q 'was pushed ahead (confirmed' "$slog" || fail "no call confirmed a pushed-ahead segment"
compare_done "$REPO" "$data"
assert_gt "$n" 12 "archived segments compared"

log "another backlog, SIGKILL of the server while it drains"
repo_down
backlog 16
first_ready=$(find "$data/pg_wal/archive_status" -name '*.ready' -printf '%f\n' | sort | head -n 1)
repo_up
psql_c src "SELECT pg_reload_conf()" >/dev/null
# kill once the archiver is past the first ready segment: pushes (own and ahead) under way
for ((i = 0; i < 600; i++)); do
    [ "$(psql_c src "SELECT coalesce(last_archived_wal, '') >= '${first_ready%.ready}' FROM pg_stat_archiver")" = t ] && break
    sleep 0.05
done
apid=$(archiver_pid)
[ -n "$apid" ] || fail "no archiver process to kill"
pm=${CLUSTER_PID[src]}
# the whole server at once, as the OOM killer or a power cut would: postmaster and children
mapfile -t kids < <(pgrep -P "$pm")
kill -KILL "$pm" "${kids[@]}" 2>/dev/null
for p in "$pm" "${kids[@]}"; do
    wait_gone "$p" 30 || fail "process $p of the server still alive after SIGKILL"
done
# A zombie postmaster not yet reaped still "exists" for the new one's lock file check.
for ((i = 0; i < 300; i++)); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
unset "CLUSTER_PID[src]"
left=$(ready_count)
log "killed with $left segments still ready"
assert_gt "$left" 0 "ready segments at the kill (it was mid-drain)"
pg_start src
drain "$last"
md5_src=$(accounts_md5 src)
wait_archived src "$(switch_wal src)"
compare_done "$REPO" "$data"
log "$n archived segments compared after the restart"
assert_gt "$n" 28 "archived segments compared after the restart"
repo_is_s3 "$REPO" || [ -z "$(repo_debris "$REPO")" ] ||
    fail "debris left in the repository: $(repo_debris "$REPO")"
log "back to archive_command"
switch_to ""
seg=$(switch_wal src)
wait_archived src "$seg"
grep -q "archived \"[^\"]*$seg\"" "$WORK/log/pgpitr.log" || fail "$seg not archived by archive_command after the switch back"
! grep -q "archived \"pg_wal/$seg\"" "$slog" || fail "$seg archived by the module after the switch back"
pg_stop src
! grep -q 'PANIC\|terminated by signal 6\|archiver process .* exited' "$slog" ||
    fail "the archiver died: $(grep -m3 'PANIC\|terminated by signal\|archiver process' "$slog")"

log "restore the backup taken first, replay everything archived through the module"
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst)" --backup base --jobs 2
assert_rc 0 "restore"
start_restored dst
assert_eq "$md5_src" "$(accounts_md5 dst)" "pgbench_accounts after replaying the module's WAL"
pg_stop dst
log "ok"
