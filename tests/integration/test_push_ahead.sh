#!/usr/bin/env bash
# archive-push --jobs 4 (docs/archiving.md, "Pushing ahead") against PostgreSQL: while the
# archiver is held back, a backlog of ready segments builds up; once it may go on, a call
# that pushes its segment also pushes up to 15 ready ones after it on 4 threads, and
# PostgreSQL's calls for those confirm their records and return without pushing. Every segment PostgreSQL marked
# done is in the repository byte for byte, and no record is left over. Then a second backlog is
# drained while the wrapper SIGKILLs about half of the calls at a random moment (during the
# parallel pushes, the record writes, the confirmations): PostgreSQL retries, and still every
# segment it marked done is in the repository byte for byte. A restore of a backup taken
# before both backlogs replays all of it to the same data as the source.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

GATE="$WORK/archiver-held"
pg_init src
pg_enable_archiving src "$REPO" --jobs 4
# The wrapper fails while the gate file exists (PostgreSQL keeps the segments ready and
# retries), and logs at info level so that the test sees which calls confirmed a record.
# While the kill file exists, it runs pgpitr in the background and SIGKILLs it after 0-80 ms
# in three calls of four (counted in kills.log when it was still running: a call confirming a
# record often ends sooner) and then fails like any failed push.
KILLS="$WORK/kill-pushes"
w="$(cluster_dir src)/archive.sh"
sed -i "2i [ -e '$GATE' ] \&\& exit 1\nexport PGPITR_LOG_LEVEL=info" "$w"
push_line=$(grep '^exec ' "$w")
grep -v '^exec ' "$w" >"$w.new"
{
    printf 'if [ -e %q ] && [ "$(od -An -N1 -tu1 /dev/urandom)" -lt 192 ]; then\n' "$KILLS"
    printf '    %s &\n' "${push_line#exec }"
    # shellcheck disable=SC2016  # for the wrapper
    printf '    pid=$!\n    sleep "0.$(od -An -N1 -tu1 /dev/urandom | awk %s)"\n' "'{ printf \"%03d\", \$1 * 80 / 255 }'"
    printf '    kill -KILL "$pid" 2>/dev/null && echo "$pid" >>%q\n' "$WORK/log/kills.log"
    # exit 1, not 137: above 125 PostgreSQL restarts its archiver, which costs 10-30 s a time
    printf '    wait "$pid" || exit 1\n    exit 0\nfi\n%s\n' "$push_line"
} >>"$w.new"
mv "$w.new" "$w"
chmod 0755 "$w"
own "$w"
cat "$w"
pg_start src
pgbench_c src -i -q -s 2
wait_archived src "$(switch_wal src)"

log "backup before the backlog"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base --jobs 2
assert_rc 0 "backup"

log "hold the archiver back, build a backlog"
touch "$GATE"
: >"$WORK/log/pgpitr.log"
for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
    pgbench_c src -c 2 -j 2 -t 300 -n >/dev/null
    last=$(switch_wal src)
done
data=$(cluster_data src)
ready=$(find "$data/pg_wal/archive_status" -name '*.ready' | wc -l)
log "$ready segments ready, the last $last"
assert_gt "$ready" 11 "ready segments while the archiver is held back"

log "let the archiver go on"
# every segment of the backlog last written 2 s or more before it is pushed ahead: its record
# carries its identity, and PostgreSQL's call for it confirms by that, without hashing again
sleep 2.5
rm -f "$GATE"
wait_archived src "$last" 180
confirmed=$(grep -c 'was pushed ahead by an earlier call (confirmed' "$WORK/log/pgpitr.log" || true)
pushed=$(grep -c '^pgpitr: info: archived "' "$WORK/log/pgpitr.log" || true)
log "calls: $pushed pushed their segment, $confirmed confirmed a record"
# With 4 jobs, a call that pushes its segment also pushes up to 15 after it: most calls
# confirm a fresh record, without the repository.
assert_gt "$confirmed" $((ready / 2)) "calls that confirmed a record of an earlier push"
ahead=$(sed -n 's/.*pushed ahead: \([0-9]*\) stored.*/\1/p' "$WORK/log/pgpitr.log" | sort -n | tail -n 1)
assert_gt "${ahead:-0}" 3 "segments one call pushed ahead"
fresh=$(grep -c 'earlier call (confirmed: sha256 [0-9a-f]*, a fresh record' "$WORK/log/pgpitr.log" || true)
assert_eq "$confirmed" "$fresh" "confirmations from a fresh record"
unchanged=$(grep -c 'earlier call (confirmed: sha256 [0-9a-f]*, a fresh record, the file unchanged' "$WORK/log/pgpitr.log" || true)
assert_eq "$confirmed" "$unchanged" "confirmations by the file's unchanged identity (not hashed again)"
! grep -q 'pushing ahead .* failed\|pushing "[0-9A-F]*" again' "$WORK/log/pgpitr.log" ||
    fail "a push ahead failed or a record did not hold: $(grep -m3 'ahead .* failed\|again' "$WORK/log/pgpitr.log")"
left=$(find "$data/pg_wal/pgpitr_push" -type f | wc -l)
assert_eq 0 "$left" "records left after PostgreSQL asked for every segment"

compare_done "$REPO" "$data"
assert_gt "$n" 11 "archived segments compared"
[ -z "$(repo_debris "$REPO")" ] || fail "debris left in the repository: $(repo_debris "$REPO")"

log "a second backlog, drained while calls are killed at random moments"
touch "$GATE"
for _ in $(seq 1 16); do
    pgbench_c src -c 2 -j 2 -t 300 -n >/dev/null
    last=$(switch_wal src)
done
: >"$WORK/log/kills.log"
own "$WORK/log/kills.log"
touch "$KILLS"
rm -f "$GATE"
# After three failures in a row PostgreSQL's archiver waits a minute; a reload wakes it.
for _ in $(seq 1 240); do
    [ "$(wc -l <"$WORK/log/kills.log")" -ge 8 ] && break
    done_last=$(psql_c src "SELECT coalesce(last_archived_wal, '') >= '$last' FROM pg_stat_archiver")
    [ "$done_last" = t ] && break
    psql_c src "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
done
rm -f "$KILLS"
kills=$(wc -l <"$WORK/log/kills.log")
log "$kills calls killed"
assert_gt "$kills" 2 "calls killed while the backlog drained"
psql_c src "SELECT pg_reload_conf()" >/dev/null
wait_archived src "$last" 180
md5_src=$(accounts_md5 src)
wait_archived src "$(switch_wal src)"
compare_done "$REPO" "$data"
log "$n archived segments compared after the kills"
assert_gt "$n" 27 "archived segments compared after the kills"
# A killed push leaves its temp file only when its object was not committed: then the
# segment has no record, and PostgreSQL's retry pushes it again, which removes the temp file.
[ -z "$(repo_debris "$REPO")" ] || fail "debris left in the repository after the kills: $(repo_debris "$REPO")"
pg_stop src

log "restore the backup taken before the backlog, replay everything"
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst)" --backup base --jobs 2
assert_rc 0 "restore"
start_restored dst
assert_eq "$md5_src" "$(accounts_md5 dst)" "pgbench_accounts after replaying the pushed-ahead WAL"
pg_stop dst
log "ok"
