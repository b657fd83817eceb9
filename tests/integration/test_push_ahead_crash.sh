#!/usr/bin/env bash
# The server crashes while archive-push --jobs 4 pushes a backlog ahead (issue #15): in each of
# PGPITR_PUSH_CRASH_TRIALS trials (default 6) a backlog of ready segments builds up while the
# archiver is held back; once it may go on, after a random 0.1-1.0 s the postmaster and every
# process below it (backends, the archiver, the archive command and its push threads) are
# SIGKILLed at once, as when the machine's OOM killer takes the whole service. PostgreSQL is
# started again (crash recovery) and drains the rest. After every trial, every segment
# PostgreSQL marked done is in the repository byte for byte, nothing is left half-written
# under a final name, and at the end a restore of a backup taken before the first trial
# replays all of it to the same data as the source.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

TRIALS=${PGPITR_PUSH_CRASH_TRIALS:-6}



# descendants PID: PID and every process below it, parents first.
descendants() {
    local p
    echo "$1"
    for p in $(pgrep -P "$1" 2>/dev/null); do descendants "$p"; done
}

# crash_server: SIGKILL the postmaster and everything below it at once; wait until all gone.
crash_server() {
    local pid=${CLUSTER_PID[src]} pids p
    mapfile -t pids < <(descendants "$pid")
    kill -KILL "${pids[@]}" 2>/dev/null || true
    for p in "${pids[@]}"; do wait_gone "$p" 30 || fail "process $p survived SIGKILL"; done
    # PostgreSQL refuses to start while the old postmaster's pid exists, even as a zombie:
    # wait for whoever adopted it to reap it.
    for ((p = 0; p < 300; p++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2>/dev/null || fail "the killed postmaster $pid was not reaped in 30 s"
    unset "CLUSTER_PID[src]"
    echo "${#pids[@]}"
}

GATE="$WORK/archiver-held"
pg_init src
pg_enable_archiving src "$REPO" --jobs 4
pg_conf src "wal_keep_size = '4GB'"   # every segment stays in pg_wal, to be compared
w="$(cluster_dir src)/archive.sh"
sed -i "2i [ -e '$GATE' ] \&\& exit 1" "$w"
pg_start src
data=$(cluster_data src)
pgbench_c src -i -q -s 2
wait_archived src "$(switch_wal src)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base --jobs 2
assert_rc 0 "backup"

for ((t = 1; t <= TRIALS; t++)); do
    touch "$GATE"
    for _ in 1 2 3 4 5 6 7 8; do
        pgbench_c src -c 2 -j 2 -t 200 -n >/dev/null
        last=$(switch_wal src)
    done
    rm -f "$GATE"
    psql_c src "SELECT pg_reload_conf()" >/dev/null   # wakes the archiver
    delay=$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.1 + 0.9 * r / 32767 }')
    sleep "$delay"
    done_before=$(find "$data/pg_wal/archive_status" -name '*.done' | wc -l)
    killed=$(crash_server)
    log "trial $t: crashed after ${delay}s ($killed processes, $done_before segments done)"
    pg_start src
    # pg_stat_archiver starts empty after a crash: wait for the segment's .done instead
    wake_until src 180 test -e "$data/pg_wal/archive_status/$last.done" || true
    assert_file "$data/pg_wal/archive_status/$last.done" "trial $t: $last archived after the restart"
    compare_done "$REPO" "$data"
    [ -z "$(repo_debris "$REPO")" ] || fail "trial $t: debris in the repository: $(repo_debris "$REPO")"
done
log "$n archived segments compared after $TRIALS crashes"
assert_gt "$n" $((TRIALS * 8)) "archived segments compared"
md5_src=$(accounts_md5 src)
wait_archived src "$(switch_wal src)"
pg_stop src

log "restore the backup taken before the crashes, replay everything"
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data dst)" --backup base --jobs 2
assert_rc 0 "restore"
start_restored dst
assert_eq "$md5_src" "$(accounts_md5 dst)" "pgbench_accounts after replaying WAL pushed across crashes"
pg_stop dst
