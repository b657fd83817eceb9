#!/usr/bin/env bash
# restore --delta --keep-old DIR (issue #10, item 10): a PITR over the broken production data
# directory can be undone. Production (with a tablespace, and another cluster's directory in
# the tablespace location) has a table dropped, rows deleted and rows added after the
# accident, then is stopped. A delta PITR to just before the accident with --keep-old: the
# restored server has the dropped table back, runs and changes its files; then the undo that
# docs/pitr.md gives (stop the server, sh DIR/undo.sh) brings back every file as it was (list,
# types, modes, owners, times, sizes, link targets, SHA-256) and the server starts with the
# broken state's data. A second delta restore is killed (SIGKILL) while it restores files:
# the same undo again gives back every file (DIR on another file system when root: a tmpfs);
# a third, killed too, is run again with the same command, which takes the copy over and
# finishes, and the undo still gives back every file.
# Bad DIRs are refused before anything changes; a full disk while copying (the tmpfs: too
# small, then out of inodes; root only) fails with exit 6 and leaves the target as it was and
# nothing in DIR.
# repo-kinds: local -- holds a restore mid-object with a FIFO in place of an object file
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

REPO="$WORK/repo"
TS="$WORK/ts"
# source_cluster, with 1 MiB WAL segments: less to copy and to hash, same paths
pg_init src --wal-segsize=1
pg_conf src "track_commit_timestamp = on" "timezone = 'America/New_York'"
pg_enable_archiving src "$REPO"
pg_start src
psql_c src "CREATE TABLE t(id int PRIMARY KEY, note text)"
mkdir_pg "$TS"
psql_c src "CREATE TABLESPACE ts LOCATION '$TS'"
oid=$(psql_c src "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'")
psql_c src "CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 500) g"
psql_c src "CREATE TABLE tsdata TABLESPACE ts AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g"
orders_file=$(psql_c src "SELECT pg_relation_filepath('orders')")
for i in 1 2 3; do add_row src "$i" >/dev/null; done
wait_archived src "$(switch_wal src)"
backup_of src base1
# The backup's stop time is recorded in whole seconds: the target must come after it.
stop=$(date -d "$(repo_read "$REPO" backup/base1/manifest.json | jq -r .stop_time)" +%s)
while [ "$(psql_c src "SELECT floor(extract(epoch FROM clock_timestamp()))::bigint")" -le "$stop" ]; do
    sleep 0.1
done
add_row src 4 >/dev/null
before_accident=$(commit_time src 4)
log "the accident: orders dropped, half of tsdata deleted, then rows 5 and 6"
psql_c src "DROP TABLE orders"
psql_c src "DELETE FROM tsdata WHERE id > 1000"
add_row src 5 >/dev/null
add_row src 6 >/dev/null
wait_archived src "$(switch_wal src)"
pg_stop src
data=$(cluster_data src)
mkdir -p "$TS/PG_99_other" && echo "another cluster" >"$TS/PG_99_other/f" && own "$TS/PG_99_other"
chmod 0750 "$data"   # group access, which restore takes away: the undo gives it back
ver_dir=$(cd "$TS" && ls -d PG_15_*)

# tree_state DIR: DIR's mode, every entry below it (type, mode, owner, mtime, size and link
# target for non-directories) and the SHA-256 of every file.
tree_state() {
    (cd "$1" && {
        stat -c 'root %a' .
        find . -mindepth 1 -type d -printf 'd %m %u:%g %T@ %p\n'
        find . -mindepth 1 ! -type d -printf '%y %m %u:%g %T@ %s %l %p\n'
        find . -type f -exec sha256sum {} +
    } | LC_ALL=C sort)
}
orig_data=$(tree_state "$data")
orig_ts=$(tree_state "$TS")
orig_ver=$(tree_state "$TS/$ver_dir")
entries() { grep -v '^root ' <<<"$1"; }   # without DIR's own mode
# assert_original WHAT: the data directory and the tablespace location are as before.
assert_original() {
    local now
    now=$(tree_state "$data")
    [ "$now" = "$orig_data" ] ||
        fail "$1: the data directory differs: $(diff <(printf '%s\n' "$orig_data") <(printf '%s\n' "$now") | head -n 8)"
    now=$(tree_state "$TS")
    [ "$now" = "$orig_ts" ] ||
        fail "$1: the tablespace location differs: $(diff <(printf '%s\n' "$orig_ts") <(printf '%s\n' "$now") | head -n 8)"
}
state_of() { sed -n 's/^ *"state": *"\([a-z]*\)".*/\1/p' "$1/keep-old.json"; }
# pitr DIR ARGS...: the delta PITR to just before the accident, keeping the old files in DIR.
pitr() {
    local keep=$1
    shift
    pgp_capture --repo "$REPO" restore --pgdata "$data" --delta --keep-old "$keep" \
        --target-time "$before_accident" --jobs 2 "$@"
}

log "refusals: nothing changes"
pgp_capture --repo "$REPO" restore --pgdata "$data" --target-time "$before_accident"
assert_rc 2 "restore over production without --delta"
assert_contains "$ERR" "or restore over it with --delta (and --keep-old DIR, to keep a copy" "the HINT names --keep-old"
pgp_capture --repo "$REPO" restore --pgdata "$data" --keep-old "$WORK/k0" --target-time "$before_accident"
assert_rc 2 "--keep-old without --delta"
assert_contains "$ERR" "--keep-old DIR needs --delta" "usage error"
pitr "$data/keep"
assert_rc 2 "--keep-old inside the data directory"
assert_contains "$ERR" "keep-old directory \"$data/keep\" overlaps the target directory \"$data\"" "refusal"
assert_one_line_error "--keep-old inside the data directory"
pitr "$TS/keep"
assert_rc 2 "--keep-old inside the tablespace location"
assert_contains "$ERR" "overlaps the tablespace $oid location \"$TS\"" "refusal"
mkdir_pg "$WORK/used" && echo x >"$WORK/used/mine" && own "$WORK/used/mine"
pitr "$WORK/used"
assert_rc 2 "--keep-old into a non-empty directory"
assert_contains "$ERR" "is not empty (it contains \"mine\")" "refusal"
assert_file "$WORK/used/mine" "the DBA's file"
assert_absent "$WORK/k0" "DIR of a refused restore"
assert_original "after the refusals"

if [ "$IS_ROOT" -eq 1 ] && mkdir -p "$WORK/full" &&
    mount -t tmpfs -o "size=1M,mode=0700,uid=$(id -u "$PG_USER"),gid=$(id -g "$PG_USER")" pgpitr-keep "$WORK/full" 2>"$WORK/mount.err"; then
    MOUNTS+=("$WORK/full")
    log "a keep-old directory without room: refused before copying"
    pitr "$WORK/full"
    printf '%s\n' "$ERR"
    assert_rc 6 "--keep-old on a file system that is too small"
    assert_one_line_error "too small"
    assert_contains "$ERR" "keep-old directory \"$WORK/full\" has" "names the directory"
    assert_contains "$ERR" "nothing in the target was changed" "hint"
    assert_eq "" "$(ls -A "$WORK/full")" "what is left in the keep-old directory"
    assert_original "after the refusal for room"
    log "a disk that fills up while copying (out of inodes)"
    mount -o remount,size=512M,nr_inodes=64 "$WORK/full" || fail "cannot remount the tmpfs"
    pitr "$WORK/full"
    printf '%s\n' "$ERR"
    assert_rc 6 "--keep-old when the disk fills up"
    assert_one_line_error "disk full while copying"
    assert_icontains "$ERR" "keep-old: .*no space left" "says the disk is full"
    assert_contains "$ERR" "nothing in the target was changed" "hint"
    assert_eq "" "$(ls -A "$WORK/full")" "what is left in the keep-old directory"
    assert_original "after the full disk"
    mount -o remount,size=512M,nr_inodes=100000 "$WORK/full" || fail "cannot remount the tmpfs"
else
    log "not root or no tmpfs: full disk cases skipped"
fi

log "PITR to before the accident, keeping the old files"
KEEP="$WORK/keep1"
pitr "$KEEP"
printf '%s\n' "$OUT"
assert_rc 0 "delta restore with --keep-old"
assert_contains "$OUT" "keep-old: copying what the restore may change (the data directory and 1 tablespace location" "copy announced"
assert_contains "$OUT" "keep-old: \"$KEEP\" holds the directory as it was before this restore" "summary"
assert_eq done "$(state_of "$KEEP")" "state after the restore"
assert_eq "$(entries "$orig_data")" "$(entries "$(tree_state "$KEEP/pgdata")")" "the kept data directory"
assert_eq "$orig_ver" "$(tree_state "$KEEP/tablespaces/$oid/$ver_dir")" "the kept tablespace entries"
assert_absent "$KEEP/tablespaces/$oid/PG_99_other" "another cluster's entry (never touched, not kept)"
assert_file "$KEEP/README" "README"
assert_contains "$(cat "$KEEP/README")" "sh '$KEEP'/undo.sh" "README gives the undo command"
start_restored src
assert_eq "1,2,3,4" "$(rows src)" "rows after the PITR"
assert_eq 500 "$(psql_c src "SELECT count(*) FROM orders")" "the dropped table is back"
assert_eq 2000 "$(psql_c src "SELECT count(*) FROM tsdata")" "the deleted rows are back"
psql_c src "INSERT INTO t VALUES (100, 'after the PITR'); UPDATE tsdata SET v = 'changed'; CHECKPOINT"
pg_stop src
assert_ne "$orig_data" "$(tree_state "$data")" "the data directory after the PITR server ran"

log "undo, as docs/pitr.md says: server stopped, sh DIR/undo.sh"
as_pg_capture sh "$KEEP/undo.sh"
printf '%s\n%s\n' "$OUT" "$ERR"
assert_rc 0 "undo.sh"
assert_contains "$OUT" "is back as it was before the restore" "undo.sh says it is done"
assert_original "after undo.sh"
assert_eq undone "$(state_of "$KEEP")" "state after the undo"
as_pg_capture sh "$KEEP/undo.sh"
assert_rc 0 "undo.sh again"
assert_contains "$OUT" "already done" "undo.sh run twice"
pitr "$KEEP"
assert_rc 2 "--keep-old into the directory of an earlier restore"
assert_contains "$ERR" "already holds the directory as it was before the restore of" "refusal"
pg_start src
wait_promoted src
assert_eq "1,2,3,4,5,6" "$(rows src)" "rows of the broken state, back"
assert_eq 0 "$(psql_c src "SELECT count(*) FROM pg_class WHERE relname = 'orders'")" "the dropped table is gone again"
assert_eq 1000 "$(psql_c src "SELECT count(*) FROM tsdata")" "the deleted rows are gone again"
pg_stop src
orig_data=$(tree_state "$data")   # a server that ran changes its files: the new original
orig_ts=$(tree_state "$TS")

# The object of the dropped table's file (production has no such file: the restore fetches it)
# becomes a FIFO that a writer holds open: a restore blocks reading it, mid-restore.
obj=$(repo_read "$REPO" backup/base1/manifest.json |
    jq -r --arg p "$orders_file" '.entries[] | select(.path == $p and .tablespace == 0) | .object')
[ -n "$obj" ] && [ -f "$REPO/$obj" ] || fail "no object for $orders_file in the manifest ($obj)"
# killed_pitr DIR: the delta PITR with --keep-old DIR, killed (SIGKILL) while it writes files.
killed_pitr() {
    local i
    mv "$REPO/$obj" "$WORK/object.saved"
    mkfifo "$REPO/$obj"
    own "$REPO/$obj"
    exec 7<>"$REPO/$obj"
    bg_pgp kill --repo "$REPO" restore --pgdata "$data" --delta --keep-old "$1" \
        --target-time "$before_accident" --jobs 2 7>&-   # the restore must not inherit the writer
    # (until pgpitr runs, the forked shell still holds a copy of the writer: look at pgpitr only)
    for ((i = 0; i < 600; i++)); do
        if [ "$(cat "/proc/$BG_PID/comm" 2>/dev/null)" = pgpitr ] &&
            find "/proc/$BG_PID/fd" -lname "*$obj" 2>/dev/null | grep -q .; then
            break
        fi
        pid_alive "$BG_PID" || { cat "$WORK/bg.kill.err" >&2; fail "the restore ended before it read $obj"; }
        sleep 0.1
    done
    [ "$i" -lt 600 ] || fail "the restore never opened $obj"
    assert_eq kept "$(state_of "$1")" "state while the restore writes files"
    assert_absent "$data/global/pg_control" "pg_control while the delta restore runs"
    kill -KILL "$BG_PID"
    bg_wait "$BG_PID" kill
    assert_eq 137 "$RC" "exit status of the killed restore"
    exec 7>&-
    rm -f "$REPO/$obj"
    mv "$WORK/object.saved" "$REPO/$obj"
    assert_ne "$orig_data" "$(tree_state "$data")" "the data directory after the killed restore"
}

log "SIGKILL while the delta restore writes files, then undo"
# On another file system when there is one (the tmpfs): copied, and copied back by undo.sh.
KEEP2="$WORK/keep2"
mountpoint -q "$WORK/full" && KEEP2="$WORK/full"
killed_pitr "$KEEP2"
as_pg_capture sh "$KEEP2/undo.sh"
printf '%s\n%s\n' "$OUT" "$ERR"
assert_rc 0 "undo.sh after SIGKILL"
assert_original "undo.sh after SIGKILL"
if [ "$KEEP2" = "$WORK/full" ]; then
    assert_eq "$(entries "$orig_data")" "$(entries "$(tree_state "$KEEP2/pgdata")")" \
        "the copy across file systems stays"
fi

log "SIGKILL, then the same command again: it takes the copy over and finishes; then undo"
KEEP3="$WORK/keep3"
killed_pitr "$KEEP3"
pitr "$KEEP3"
printf '%s\n' "$OUT"
assert_rc 0 "the same restore again after SIGKILL"
assert_contains "$OUT" "keep-old: \"$KEEP3\" already holds the directory as it was before the interrupted restore" "the copy is taken over"
assert_eq done "$(state_of "$KEEP3")" "state after the restore finished"
as_pg_capture sh "$KEEP3/undo.sh"
assert_rc 0 "undo.sh after the finished restore"
assert_original "undo.sh after the restore killed and run again"
log "ok"
