#!/usr/bin/env bash
# A spool hit needs no repository (issue #15: archive-get on S3 with latency). Once a call that
# read the repository's identity has set up the spool of a data directory in archive recovery,
# archive-get hands PostgreSQL a spooled segment without opening the repository - on S3 no
# connection and no request on replay's path - still checked against its record (SHA-256) and
# byte-identical to the archived segment, even while the repository cannot be reached (it is
# opened for a hit only when the recovery lease is due, once a minute). What
# is not spooled still goes to the repository: with the repository unreachable such a segment
# still stops recovery (exit 255), and the end of the archive is still exit 1. Run by hand as
# PostgreSQL runs restore_command: in the data directory, into pg_wal/RECOVERYXLOG.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/prefetch_lib.sh
source "$(dirname "$0")/prefetch_lib.sh"

pg_init primary
pg_enable_archiving primary "$REPO"
pg_start primary
pgbench_c primary -i -q -s 1

log "base backup (-X none), then 8 segments of work"
mkdir_pg "$WORK/base"
as_pg "$PG_BIN/pg_basebackup" -h "$(cluster_dir primary)" -p "$(cluster_port primary)" -U postgres \
    -D "$WORK/base/data" -Fp -X none -c fast --no-sync >"$WORK/base/basebackup.log" 2>&1 ||
    { cat "$WORK/base/basebackup.log" >&2; fail "pg_basebackup failed"; }
segs=()
for ((r = 0; r < 8; r++)); do
    pgbench_c primary -n -c 2 -j 2 -t 100
    segs+=("$(switch_wal primary)")
done
wait_archived primary "${segs[-1]}"
pg_stop primary

DATA=$WORK/base/data
as_pg touch "$DATA/recovery.signal"
export PGPITR_PREFETCH_IDLE_TIMEOUT=120   # it ends with the recovery below, not idle
SPOOL=$DATA/pg_wal/pgpitr_spool
OFF=()

# get NAME: archive-get NAME as PostgreSQL runs it (spool-size 3 segments), with the
# repository made unreachable while OFF is set; sets RC, OUT, ERR.
get() {
    as_pg_capture env -C "$DATA" "${OFF[@]}" "$PGPITR" --repo "$REPO" --log-level info \
        archive-get --spool-size 48MiB "$1" pg_wal/RECOVERYXLOG
    cat "$WORK/last.err" >>"$WORK/log/pgpitr.log"
}
# The repository out of reach: a directory moved away, an S3 endpoint where nobody listens.
offline() {
    if repo_is_s3 "$REPO"; then   # and no minute of retries
        OFF=(PGPITR_S3_ENDPOINT="http://127.0.0.1:$(free_port)" PGPITR_IO_TIMEOUT=3)
    else mv "$REPO" "$REPO.away"; OFF=(); fi
}
online() {
    repo_is_s3 "$REPO" || mv "$REPO.away" "$REPO"
    OFF=()
}
# The archived bytes of NAME, fetched without any spool, into FILE.
archived() {
    pgp_capture --repo "$REPO" archive-get --spool-size 0 "$1" "$2"
    assert_rc 0 "archive-get --spool-size 0 $1"
}

log "first request from the repository sets up the spool and the prefetcher"
get "${segs[0]}"
assert_rc 0 "archive-get ${segs[0]}"
assert_contains "$ERR" "from \"archive/wal/" "first request is fetched from the repository"
wait_for_file "$SPOOL/${segs[1]}" 30 || fail "${segs[1]} was not prefetched into $SPOOL"
wait_for_file "$SPOOL/${segs[2]}" 30 || fail "${segs[2]} was not prefetched into $SPOOL"

log "a spooled segment is handed out with the repository unreachable"
offline
get "${segs[1]}"
assert_rc 0 "archive-get ${segs[1]} from the spool, repository unreachable"
assert_contains "$ERR" "from the prefetch spool" "${segs[1]} served from the spool"
assert_contains "$ERR" "repository not opened" "no repository access for a hit"
as_pg cp "$DATA/pg_wal/RECOVERYXLOG" "$WORK/tmp/got.1"

log "a segment that is not spooled still needs the repository: 255, recovery stops"
get "${segs[7]}"
assert_rc 255 "archive-get ${segs[7]} (not spooled), repository unreachable"
online

log "with the repository back: the hit was the archived segment, the rest goes on as before"
archived "${segs[1]}" "$WORK/tmp/want.1"
assert_same_file "$WORK/tmp/want.1" "$WORK/tmp/got.1" "${segs[1]} handed out without the repository"

log "a hit opens the repository when the recovery lease is due, and renews it"
lease=$(repo_find "$REPO" leases 'recovery-*')
[ -n "$lease" ] || fail "no recovery lease after the first request"
renewed0=$(repo_read "$REPO" "$lease" | jq -r .renewed)
as_pg touch -d '-2 minutes' "$DATA/pg_wal/pgpitr_lease"
sleep 1.1
get "${segs[2]}"
assert_rc 0 "archive-get ${segs[2]}"
assert_contains "$ERR" "from the prefetch spool" "${segs[2]} served from the spool"
renewed1=$(repo_read "$REPO" "$lease" | jq -r .renewed)
[ "$renewed1" != "$renewed0" ] || fail "the due lease was not renewed by a hit ($renewed0)"
archived "${segs[2]}" "$WORK/tmp/want.2"
assert_same_file "$WORK/tmp/want.2" "$DATA/pg_wal/RECOVERYXLOG" "${segs[2]}"

log "a spooled file changed after it was verified is not handed out, even on this path"
wait_for_file "$SPOOL/${segs[3]}" 30 || fail "${segs[3]} was not prefetched into $SPOOL"
printf 'X' | as_pg dd of="$SPOOL/${segs[3]}" bs=1 seek=100000 conv=notrunc status=none
get "${segs[3]}"
assert_rc 0 "archive-get ${segs[3]} (spooled copy changed)"
assert_contains "$ERR" "changed after it was verified" "the changed spooled file is refused"
archived "${segs[3]}" "$WORK/tmp/want.3"
assert_same_file "$WORK/tmp/want.3" "$DATA/pg_wal/RECOVERYXLOG" "${segs[3]} from the repository"

log "the end of the archive is still exit 1"
next="${segs[-1]:0:16}000000FE"
get "$next"
assert_rc 1 "archive-get of $next (not archived)"

log "the end of recovery ends the prefetcher"
rm "$DATA/recovery.signal"
for ((i = 0; i < 100; i++)); do [ -e "$SPOOL" ] || break; sleep 0.1; done
assert_absent "$SPOOL" "the default spool 10 s after the end of recovery"
log "ok"
