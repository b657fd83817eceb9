#!/usr/bin/env bash
# Recovery through restore_command with the prefetch spool on (spool-size = 3 segments): a base
# backup without WAL (-X none) replays 20+ archived segments; the data is right, most segments
# come from the spool, the spool never holds more than 3 files, and the prefetcher and the
# default spool directory are gone shortly after promotion. Then the same backup with one
# segment in the middle corrupted in the repository: recovery stops with restore_command's exit
# 255 (FATAL) instead of being served anything or promoting early, the corrupt segment never
# appears in the spool, and the prefetcher ends with the postmaster.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/prefetch_lib.sh
source "$(dirname "$0")/prefetch_lib.sh"

ROUNDS=22
pg_init primary
pg_enable_archiving primary "$REPO"
pg_start primary
pgbench_c primary -i -q -s 1

log "base backup (-X none)"
mkdir_pg "$WORK/base"
as_pg "$PG_BIN/pg_basebackup" -h "$(cluster_dir primary)" -p "$(cluster_port primary)" -U postgres \
    -D "$WORK/base/data" -Fp -X none -c fast --no-sync >"$WORK/base/basebackup.log" 2>&1 ||
    { cat "$WORK/base/basebackup.log" >&2; fail "pg_basebackup failed"; }

log "$ROUNDS segments of work after the backup"
psql_c primary "CREATE TABLE rounds(round int PRIMARY KEY, filler text)"
first_seg=""
for ((r = 1; r <= ROUNDS; r++)); do
    psql_c primary "INSERT INTO rounds VALUES ($r, repeat('x', 1000))"
    pgbench_c primary -n -c 2 -j 2 -t 150
    seg=$(switch_wal primary)
    [ -n "$first_seg" ] || first_seg=$seg
done
last_seg=$seg
wait_archived primary "$last_seg"
expect_sum=$(psql_c primary "SELECT sum(abalance) FROM pgbench_accounts")
expect_hist=$(psql_c primary "SELECT count(*) FROM pgbench_history")
pg_stop primary
log "archived segments $first_seg .. $last_seg"

# A copy of the base backup set up for recovery through a wrapper with spool-size 3 segments.
BOUND=3
make_copy() {  # NAME
    local name=$1 dir w
    dir=$(cluster_dir "$name")
    mkdir_pg "$dir"
    as_pg cp -a "$WORK/base/data" "$dir/data"
    free_port >"$dir/port"
    w="$dir/restore.sh"
    {
        printf '#!/bin/sh\n'
        printf 'export ASAN_OPTIONS=%q UBSAN_OPTIONS=%q\n' "$ASAN_OPTIONS" "$UBSAN_OPTIONS"
        repo_env_exports
        # shellcheck disable=SC2016  # $1 $2 are for the wrapper script
        printf 'exec %q --repo %q --log-level info archive-get --spool-size %s "$1" "$2" 2>>%q\n' \
            "$PGPITR" "$REPO" "$((BOUND * 16))MiB" "$dir/pgpitr.log"
    } >"$w"
    chmod 0755 "$w"
    own "$w"
    as_pg touch "$dir/pgpitr.log"
    pg_conf "$name" "" "# recovery copy" \
        "port = $(cat "$dir/port")" \
        "unix_socket_directories = '$dir'" \
        "archive_mode = off" \
        "restore_command = '$w %f \"%p\"'" \
        "recovery_target_action = promote"
    as_pg touch "$dir/data/recovery.signal"
}

# pgpitr processes still alive (the prefetcher), by executable path.
pgpitr_pids() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/exe" 2>/dev/null)" = "$PGPITR" ] && printf '%s\n' "${p#/proc/}"
    done
    return 0
}
wait_no_prefetcher() {  # SECONDS
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        [ -z "$(pgpitr_pids)" ] && return 0
        sleep 0.1
    done
    return 1
}

log "recovery with the spool on (bound $BOUND segments)"
make_copy good
SPOOL="$(cluster_data good)/pg_wal/pgpitr_spool"
start_sampler "$SPOOL" "$WORK/max.good"
t0=$(date +%s%N)
pg_start good
wait_promoted good
t1=$(date +%s%N)
stop_sampler "$WORK/max.good"
log "promoted after $(((t1 - t0) / 1000000)) ms; most files seen in the spool: $max"
[ "$max" -le "$BOUND" ] || fail "the spool held $max files, more than its bound of $BOUND"

assert_eq "$ROUNDS" "$(psql_c good "SELECT count(*) FROM rounds")" "rounds on the copy"
assert_eq "$expect_sum" "$(psql_c good "SELECT sum(abalance) FROM pgbench_accounts")" "sum(abalance) on the copy"
assert_eq "$expect_hist" "$(psql_c good "SELECT count(*) FROM pgbench_history")" "pgbench_history rows on the copy"
grep -q "restored log file \"$last_seg\" from archive" "$(cluster_dir good)/server.log" ||
    fail "the last archived segment $last_seg was not restored"
hits=$(grep -c 'from the prefetch spool' "$(cluster_dir good)/pgpitr.log" || true)
direct=$(grep -c '([0-9]* bytes) from "archive/wal/' "$(cluster_dir good)/pgpitr.log" || true)
log "segments from the spool: $hits, fetched directly: $direct"
assert_gt "$hits" $((ROUNDS / 2)) "segments served from the spool"
check_san_stderr "$(cluster_dir good)/pgpitr.log" "archive-get and the prefetcher"
if grep -E 'warning|error' "$(cluster_dir good)/pgpitr.log"; then
    fail "archive-get or the prefetcher complained during a clean recovery"
fi

log "after promotion: the prefetcher ends and the default spool goes"
wait_no_prefetcher 10 || fail "prefetcher still running 10 s after promotion: $(pgpitr_pids)"
for ((i = 0; i < 50; i++)); do [ -e "$SPOOL" ] || break; sleep 0.1; done
assert_absent "$SPOOL" "the default spool directory after promotion"
pg_stop good

log "the same recovery with a corrupt segment in the middle"
mapfile -t segnames < <(repo_find "$REPO" archive/wal '[0-9A-F]*' | sed -E 's|.*/||; s/-.*//' | awk -v a="$first_seg" -v b="$last_seg" '$1 >= a && $1 <= b' | sort)
bad=${segnames[$((${#segnames[@]} / 2))]}
obj=$(repo_find "$REPO" archive/wal "$bad-*")
[ -n "$obj" ] || fail "no object for $bad"
repo_corrupt "$REPO" "$obj"
log "corrupted $bad"
make_copy bad
SPOOL="$(cluster_data bad)/pg_wal/pgpitr_spool"
start_sampler "$SPOOL" "$WORK/max.bad"
dir=$(cluster_dir bad)
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -W start >/dev/null ||
    fail "pg_ctl start of the corrupt copy"
for ((i = 0; i < 100; i++)); do [ -s "$dir/data/postmaster.pid" ] && break; sleep 0.05; done
pm=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
[ -n "$pm" ] && CLUSTER_PID[bad]=$pm
[ -n "$pm" ] && { wait_gone "$pm" 120 || fail "the server with a corrupt segment in its WAL did not stop"; }
unset 'CLUSTER_PID[bad]'
stop_sampler "$WORK/max.bad"
grep -Eq "could not restore file \"$bad\" from archive: .*exit code 255" "$dir/server.log" ||
    { tail -n 20 "$dir/server.log" >&2; fail "recovery did not stop at $bad with restore_command's exit 255"; }
grep -q "database system is ready to accept read-write connections\|selected new timeline" "$dir/server.log" &&
    fail "the server with a corrupt segment promoted"
grep -qx "$bad" "$WORK/max.bad.names" && fail "the corrupt segment $bad appeared in the spool"
[ "$max" -le "$BOUND" ] || fail "the spool held $max files, more than its bound of $BOUND"
assert_contains "$(cat "$dir/pgpitr.log")" "cannot restore \"$bad\"" "archive-get's error names $bad"
wait_no_prefetcher 10 || fail "prefetcher still running 10 s after the postmaster stopped: $(pgpitr_pids)"
check_san_stderr "$dir/pgpitr.log" "archive-get and the prefetcher"
log "ok"
