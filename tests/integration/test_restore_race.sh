#!/usr/bin/env bash
# Two restores into one directory (issue #9, defect 5): the target is locked from before it is
# checked until the restore ends, so the second one fails at once (exit 13, naming the
# holder's pid) and removes nothing; the first one completes and its cluster starts.
# The races are made deterministic by blocking real processes, without test hooks:
#  1. restore A's stdout is a pipe already full: A stops at its first line ("restoring backup
#     ...", printed once it holds the target) until the test drains the pipe; restore B runs
#     meanwhile. (Before the fix both passed the empty-directory check, B finished first, and
#     A, failing on B's files, "cleaned up" everything B had restored.)
#  2. one object of the backup is a FIFO: restore A stops in the middle of its files while
#     reading it; a restore and a --delta restore into the same directory are refused and
#     change nothing; then the FIFO gets the object's bytes and A completes.
#  3. the same with a drill: its work directory, its data directory and a new directory
#     inside its work directory are refused to restores, and to another drill.
#  4. a restore killed while holding the lock leaves nothing that blocks the next restore or
#     bothers pg_verifybackup (flock on the directory: no lock file).
# repo-kinds: local -- holds a restore mid-object with a FIFO in place of an object file
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

REPO="$WORK/repo"
source_cluster src
psql_c src "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 60000) g"
psql_c src "CREATE TABLE mid AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 8000) g"
psql_c src "INSERT INTO t SELECT g, 'row' FROM generate_series(1, 10) g"
wait_archived src "$(switch_wal src)"
backup_of src base1
big_path=$(psql_c src "SELECT pg_relation_filepath('big')")
mid_path=$(psql_c src "SELECT pg_relation_filepath('mid')")
mid_object=$(repo_read "$REPO" backup/base1/manifest.json |
    jq -r --arg p "$mid_path" '.entries[] | select(.path == $p) | .object')
[ -f "$REPO/$mid_object" ] || fail "no object for $mid_path in the manifest"

# wait_stdout_blocked PID: until PID is blocked writing to its stdout (a full pipe).
wait_stdout_blocked() {
    local i sc wchan
    for ((i = 0; i < 600; i++)); do
        pid_alive "$1" || fail "process $1 exited before blocking on its output: $(cat "$WORK"/*.err)"
        sc=$(cut -d' ' -f1,2 "/proc/$1/syscall" 2>/dev/null || true)
        wchan=$(cat "/proc/$1/wchan" 2>/dev/null || true)
        case "$sc|$wchan" in "1 0x1|"* | "64 0x1|"* | *pipe_write*) return 0 ;; esac
        sleep 0.1
    done
    fail "process $1 never blocked on its output"
}
# wait_file FILE: until FILE exists (60 s).
wait_file() {
    local i
    for ((i = 0; i < 600; i++)); do
        [ -e "$1" ] && return 0
        sleep 0.1
    done
    fail "$1 did not appear"
}
# tree DIR: every entry below DIR with type, size and SHA-256 of files.
tree() { (cd "$1" && find . -printf '%y %p %s %l\n' | sort && find . -type f -exec sha256sum {} + | sort -k 2); }
# refused WHAT ARGS...: pgpitr ARGS... fails with exit 13 naming the lock (or the holder).
refused() {
    local what=$1
    shift
    pgp_capture --repo "$REPO" "$@"
    printf '%s: %s\n' "$what" "$ERR"
    assert_rc 13 "$what"
    assert_contains "$ERR" "locked by another process" "$what"
    assert_one_line_error "$what"
}

# ---- 1. a restore waiting on its stdout holds the target --------------------------------------
D="$WORK/r1/data"
mkdir_pg "$WORK/r1"
mkfifo "$WORK/a.fifo"
exec 7<>"$WORK/a.fifo"   # a reader, so that opening for writing does not block; never read
dd if=/dev/zero of="$WORK/a.fifo" bs=4096 count=1024 oflag=nonblock status=none 2>/dev/null || true
"${AS_PG[@]}" "$PGPITR" --repo "$REPO" restore --pgdata "$D" --target-immediate --jobs 1 \
    >"$WORK/a.fifo" 2>"$WORK/a.err" 7>&- &
A=$!
track_pid "$A"
wait_stdout_blocked "$A"
log "restore A (pid $A) waits on its output; restore B into the same directory"
pgp_capture --repo "$REPO" restore --pgdata "$D" --target-immediate --jobs 2
b_rc=$RC b_err=$ERR
log "restore B: exit $b_rc: $b_err"
# drain through the test's own end: the pipe never loses its reader (A would get EPIPE)
tr -d '\0' <&7 >"$WORK/a.out" &
drain=$!
track_pid "$drain"
exec 7>&-
a_rc=0
wait "$A" || a_rc=$?
untrack_pid "$A"
kill "$drain"
wait "$drain" || true
untrack_pid "$drain"
log "restore A: exit $a_rc: $(cat "$WORK/a.err")"
assert_file "$D/global/pg_control" "the first restore's cluster is complete"
assert_eq 13 "$b_rc" "exit status of the restore that found the directory locked"
assert_contains "$b_err" "target directory \"$D\" is locked by another process (pid $A)" \
    "the refusal names the holder"
assert_eq 0 "$a_rc" "exit status of the restore that held the directory"

# ---- 2. a restore stopped in the middle of its files ------------------------------------------
# fifo_feed FIFO SOURCE: in the background, waits for a reader of FIFO, creates FIFO.ready,
# waits for FIFO.go, writes SOURCE into it. Sets FEED_PID.
fifo_feed() {
    python3 - "$1" "$2" <<'PY' &
import errno, os, sys, time
fifo, source = sys.argv[1:]
deadline = time.time() + 120
while True:
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        break
    except OSError as e:
        if e.errno != errno.ENXIO or time.time() > deadline:
            raise
        time.sleep(0.05)
open(fifo + ".ready", "w").close()
while not os.path.exists(fifo + ".go"):
    if time.time() > deadline:
        sys.exit(1)
    time.sleep(0.05)
os.set_blocking(fd, True)
with open(source, "rb") as f:
    data = f.read()
while data:
    data = data[os.write(fd, data):]
os.close(fd)
PY
    FEED_PID=$!
    track_pid "$FEED_PID"
}
obj="$REPO/$mid_object"
# block_object: the object of table mid becomes a FIFO fed by fifo_feed.
block_object() {
    rm -f "$obj.ready" "$obj.go"
    mv "$obj" "$obj.real"
    mkfifo -m 0644 "$obj"
    own "$obj"
    fifo_feed "$obj" "$obj.real"
}
# release_object [abandon]: feed the FIFO (or, when its reader is gone, stop the feeder),
# then put the object back.
release_object() {
    if [ "${1:-}" = abandon ]; then
        kill "$FEED_PID"
        wait "$FEED_PID" || true
    else
        touch "$obj.go"
        wait "$FEED_PID" || fail "the FIFO feeder failed"
    fi
    untrack_pid "$FEED_PID"
    rm -f "$obj" "$obj.ready" "$obj.go"
    mv "$obj.real" "$obj"
}

D2="$WORK/r2/data"
block_object
bg_pgp a2 --repo "$REPO" restore --pgdata "$D2" --target-immediate --jobs 1
A2=$BG_PID
wait_file "$obj.ready"
assert_file "$D2/$big_path" "a file restored before the blocked one"
before=$(tree "$D2")
log "restore A2 (pid $A2) is reading the blocked object"
refused "restore into a directory being restored" restore --pgdata "$D2" --target-immediate
refused "--delta restore into a directory being restored" restore --pgdata "$D2" --delta \
    --target-immediate
assert_eq "$before" "$(tree "$D2")" "the first restore's files after the refused restores"
release_object
bg_wait "$A2" a2
assert_rc 0 "the restore that held the directory"
assert_file "$D2/global/pg_control" "the first restore's cluster is complete"

# ---- 3. a drill ----------------------------------------------------------------------------------
W="$WORK/drill"
block_object
bg_pgp drill --repo "$REPO" drill --workdir "$W" --target-immediate
DR=$BG_PID
wait_file "$obj.ready"
log "the drill (pid $DR) is restoring into $W/data"
refused "--delta restore into a drill's data directory" restore --pgdata "$W/data" --delta \
    --target-immediate
refused "--delta restore into a drill's work directory" restore --pgdata "$W" --delta \
    --target-immediate
refused "restore into a new directory inside a drill's work directory" restore \
    --pgdata "$W/other" --target-immediate
assert_absent "$W/other" "the refused restore's directory"
refused "a second drill in the same work directory" drill --workdir "$W" --target-immediate
release_object
bg_wait "$DR" drill
assert_rc 0 "the drill"
assert_absent "$W" "the drill's work directory after the drill"

# ---- 4. a killed restore's lock --------------------------------------------------------------------
D3="$WORK/r3/data"
block_object
bg_pgp a3 --repo "$REPO" restore --pgdata "$D3" --target-immediate --jobs 1
wait_file "$obj.ready"
kill -KILL "$BG_PID"
wait "$BG_PID" || true
untrack_pid "$BG_PID"
release_object abandon
pgp_capture --repo "$REPO" restore --pgdata "$D3" --delta --target-immediate --jobs 2
assert_rc 0 "--delta restore after a killed restore"
as_pg_capture "$PG_BIN/pg_verifybackup" -n -i postgresql.auto.conf -m "$D3/backup_manifest" "$D3"
[ "$RC" -eq 0 ] || fail "pg_verifybackup after the killed and finished restore (exit $RC): $OUT $ERR"

# ---- the winners start -----------------------------------------------------------------------------
for n in r1 r2 r3; do
    free_port >"$WORK/$n/port"
    start_restored "$n"
    assert_eq "1,2,3,4,5,6,7,8,9,10" "$(rows "$n")" "rows of $n"
    assert_eq 8000 "$(psql_c "$n" "SELECT count(*) FROM mid")" "rows of mid in $n"
    pg_stop "$n"
done
log "ok"
