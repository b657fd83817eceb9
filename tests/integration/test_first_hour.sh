#!/usr/bin/env bash
# What a DBA meets in the first hour (issue #10, items 5 and 9), on a real cluster:
#   - a typo in the configuration file names the file's line and the setting it meant; a
#     mistyped command gets "did you mean";
#   - a permission error names the OS user pgpitr runs as and the owner and mode of the path
#     refused (repository, restore target, configuration file);
#   - the first backup does not call files "unchanged" when nothing came before it: they are
#     duplicates of other files of the same backup; the second one has unchanged files;
#   - right after a backup, with nothing archived since, the recoverable window of info,
#     expire --dry-run and restore's refusal of a target in the future is the backup's end,
#     never a window that ends before it starts. (The segment holding a backup's end is
#     archived before pgpitr records the end; the test sets the archive times a few seconds
#     back so that this order, which otherwise shows only across a second boundary, is
#     certain);
#   - expire's plan writes segments in hex, like the WAL names beside them;
#   - --target-time with a space before its offset ("... 04:15:07 +01:00") is accepted and
#     written in UTC.
# repo-kinds: local -- ages archive files with touch (mtime) and puts a repository below a directory postgres cannot enter
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"

REPO="$WORK/repo"
json() { jq -r "$1" <<<"$OUT"; }
# ISO 8601 UTC text of epoch seconds, as info and expire print times
iso() { date -u -d "@$1" '+%Y-%m-%dT%H:%M:%SZ'; }

log "configuration typo: file line and suggestion"
CONF="$WORK/pgpitr.conf"
printf '# pgpitr\n[global]\nrepo = %s\ncompres = lz4\n' "$REPO" >"$CONF"
own "$CONF"
pgp_capture --config "$CONF" info
assert_rc 3 "a configuration file with a typo"
assert_one_line_error "configuration typo"
assert_contains "$ERR" "$CONF:4: unknown setting \"compres\"" "the error names the file and line"
assert_contains "$ERR" "HINT: did you mean \"compress\"?" "the hint names the setting meant"
pgp_capture --repo "$REPO" bakup
assert_rc 2 "a mistyped command"
assert_contains "$ERR" "did you mean \"backup\"?" "a mistyped command gets a suggestion"

if [ "$IS_ROOT" -eq 1 ]; then
    log "permission errors name the user and the owner"
    LOCKED="$WORK/locked"
    mkdir -m 0700 "$LOCKED"        # root's, as the test runs as root; pgpitr runs as postgres
    pgp_capture --repo "$LOCKED/repo" info
    assert_rc 5 "a repository below a directory postgres cannot enter"
    assert_one_line_error "repository permission error"
    assert_contains "$ERR" "Permission denied (running as user \"$PG_USER\"; \"$LOCKED\" belongs to root:root, mode 0700)" \
        "the repository error names the user and the owner"
    assert_contains "$ERR" "HINT: " "the permission error has a hint"
    printf '[global]\nrepo = %s\n' "$REPO" >"$WORK/root.conf"
    chmod 0600 "$WORK/root.conf"
    pgp_capture --config "$WORK/root.conf" info
    assert_rc 3 "a configuration file postgres cannot read"
    assert_contains "$ERR" "(running as user \"$PG_USER\"; \"$WORK/root.conf\" belongs to root:root, mode 0600)" \
        "the configuration error names the user and the owner"
fi

log "first backup: duplicates, not unchanged"
pg_init src
pg_enable_archiving src "$REPO"
pg_start src
psql_c src "CREATE TABLE t(i int); INSERT INTO t VALUES (1)"
wait_archived src "$(switch_wal src)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b1 --jobs 2
assert_rc 0 "first backup"
case "$OUT" in *unchanged*) fail "the first backup calls files unchanged with nothing before it: $OUT" ;; esac
assert_contains "$OUT" "duplicates of another file, stored once)" "the first backup's summary"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b2 --jobs 2 --output json
assert_rc 0 "second backup"
assert_gt "$(json .reused_files)" 100 "files of the second backup not stored again"
assert_gt "$(json .reused_files)" "$(json .duplicate_files)" "the second backup has unchanged files"

if [ "$IS_ROOT" -eq 1 ]; then
    pgp_capture --repo "$REPO" restore --pgdata "$LOCKED/data"
    assert_rc 5 "a restore into a directory postgres cannot create"
    assert_contains "$ERR" "running as user \"$PG_USER\"; \"$LOCKED\" belongs to root:root, mode 0700" \
        "the restore target error names the user and the owner"
fi

log "the window right after a backup: its end, not inverted"
pg_stop src       # nothing archived from now on
stop_s=$(date -u -d "$(repo_read "$REPO" backup/b2/manifest.json | jq -r .stop_time)" +%s)
stop1_s=$(date -u -d "$(repo_read "$REPO" backup/b1/manifest.json | jq -r .stop_time)" +%s)
# every file archived a second before the first backup ended, as happens across a second
find "$REPO/archive" -type f -exec touch -d "@$((stop1_s - 1))" {} +

pgp_capture --repo "$REPO" info --output json
assert_rc 0 "info"
w=$(json '.recovery_windows[-1]')
[[ ! "$(jq -r .latest_time <<<"$w")" < "$(jq -r .earliest_time <<<"$w")" ]] ||
    fail "info's window ends before it starts: $w"
pgp_capture --repo "$REPO" info
assert_contains "$(tr -s ' \n' ' ' <<<"$OUT")" "archived before the backup ended" \
    "info says why the window ends at the backup"

pgp_capture --repo "$REPO" expire --retain-full 1 --dry-run
assert_rc 0 "expire --dry-run"
line=$(grep 'recoverable window after expire' <<<"$OUT")
assert_contains "$line" "from $(iso "$stop_s") (end of backup b2" "the window starts at b2's end"
assert_contains "$line" "to $(iso "$stop_s") (the backup's end: no WAL archived after it ended" \
    "the window ends at the backup's end, not before it"
if grep -Eq 'segment [0-9]{1,15}[ :]' <<<"$OUT"; then
    fail "expire's plan writes a segment number in decimal: $(grep -E 'segment [0-9]' <<<"$OUT")"
fi
assert_contains "$OUT" "(segment 0000000000000" "the cut-off segment in hex"
pgp_capture --repo "$REPO" expire --retain-full 1 --dry-run --output json
assert_rc 0 "expire --dry-run json"
assert_eq "$(json .window.from_time)" "$(json .window.to_time)" "expire's JSON window is the backup's end"

future=$(date -u -d "@$((stop_s + 3600))" '+%Y-%m-%dT%H:%M:%SZ')
pgp_capture --repo "$REPO" restore --pgdata "$WORK/r0" --target-time "$future"
assert_rc 1 "a target after the archive"
assert_one_line_error "a target after the archive"
assert_contains "$ERR" "HINT: nothing was archived after this backup ended: in time it recovers only to its end" \
    "restore's hint says the window is the backup's end"
end_text=$(date -u -d "@$stop_s" '+%Y-%m-%d %H:%M:%S+00')
assert_contains "$ERR" "can reach at most LSN" "restore names the reachable end"
assert_contains "$ERR" "(about $end_text)" "the reachable end is the backup's end, not before it"

log "--target-time with a space before the offset"
pg_start src
psql_c src "INSERT INTO t VALUES (2)"
target=$(($(date +%s) + 1))
while [ "$(date +%s)" -le "$target" ]; do sleep 0.2; done   # a whole second after the insert
wait_archived src "$(switch_wal src)"
spaced=$(date -u -d "@$((target + 3600))" '+%Y-%m-%dT%H:%M:%S +01:00')
pgp_capture --repo "$REPO" restore --pgdata "$WORK/r1" --target-time "$spaced"
assert_rc 0 "restore to \"$spaced\""
assert_contains "$(cat "$WORK/r1/postgresql.auto.conf")" \
    "recovery_target_time = '$(date -u -d "@$target" '+%Y-%m-%d %H:%M:%S')+00'" \
    "the spaced time is written in UTC"
log "ok"
