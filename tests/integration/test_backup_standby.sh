#!/usr/bin/env bash
# Backups taken on a streaming standby while the primary is idle (nothing fills the WAL
# segment holding the backup's stop position, and a standby cannot switch WAL).
#  - Without --primary-conn the backup is refused at once (exit 3), before anything is
#    streamed or written: no backup directory, no object.
#  - A primary role that may not run pg_switch_wal() is refused at once too (exit 12), with
#    the GRANT to run in the HINT; --primary-conn naming a standby is refused (exit 3).
#  - With --primary-conn the primary switches WAL at the end: the backup completes in a few
#    seconds (not after --archive-timeout), its manifest says it came from the standby
#    (format 2, "source"), info shows it (text and JSON, schema-valid), restore names it, and
#    the restore replays the primary's archive to exactly the rows committed.
#  - When the primary does not archive, the backup fails after --archive-timeout (exit 1) with
#    a HINT to check archiving on the primary, naming it. When the primary refuses the switch
#    after the stream, a warning says so and the backup still waits for its WAL.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

now_ms() { date +%s%3N; }
# no_backup_written WHAT: the repository holds no backup directory and no object.
no_backup_written() {
    local found
    found=$({ repo_keys "$REPO" backup; repo_keys "$REPO" objects; } | head -n 3) || true
    [ -z "$found" ] || fail "$1: the refused backup wrote into the repository: $found"
}
# standby_caught_up: the standby has replayed everything the primary wrote.
standby_caught_up() {
    local target i
    target=$(psql_c prim "SELECT pg_current_wal_lsn()")
    for ((i = 0; i < 600; i++)); do
        [ "$(psql_c sb "SELECT pg_last_wal_replay_lsn() >= '$target'::pg_lsn")" = t ] && return 0
        sleep 0.1
    done
    fail "the standby did not replay up to $target"
}

source_cluster prim
for i in 1 2; do add_row prim "$i" >/dev/null; done
psql_c prim "CREATE ROLE bkp LOGIN"
wait_archived prim "$(switch_wal prim)"
pg_standby sb prim
# From here on the primary's WAL position is inside a segment that nothing fills: the
# segment holding a backup's stop position is not archived until the primary switches.
add_row prim 3 >/dev/null
standby_caught_up
SB=$(conninfo sb)
PRIM="$(conninfo prim bkp) dbname=postgres"

log "a standby without --primary-conn: refused at once"
t0=$(now_ms)
pgp_capture --repo "$REPO" backup --pg-conn "$SB" --label nope --archive-timeout 5
ms=$(($(now_ms) - t0))
assert_rc 3 "backup of a standby without --primary-conn"
assert_one_line_error "backup of a standby without --primary-conn"
assert_contains "$ERR" "is a standby" "the error says why"
assert_contains "$ERR" "HINT: add --primary-conn" "the HINT says what to add"
[ "$ms" -lt 4000 ] || fail "the refusal took ${ms} ms, expected at once"
no_backup_written "without --primary-conn"

log "a primary role that may not switch WAL: refused at once, with the GRANT to run"
pgp_capture --repo "$REPO" backup --pg-conn "$SB" --primary-conn "$PRIM" --label nope
assert_rc 12 "backup with a primary role lacking pg_switch_wal()"
assert_one_line_error "primary role lacking pg_switch_wal()"
assert_contains "$ERR" "role \"bkp\" may not run pg_switch_wal()" "the error names the role"
grant=$(sed -n 's/^HINT: run on the primary, as a superuser: //p' <<<"$ERR")
assert_eq 'GRANT EXECUTE ON FUNCTION pg_catalog.pg_switch_wal() TO "bkp"' "$grant" "the HINT's GRANT"
no_backup_written "primary role lacking pg_switch_wal()"

log "--primary-conn naming the standby itself: refused"
pgp_capture --repo "$REPO" backup --pg-conn "$SB" --primary-conn "$SB dbname=postgres" --label nope
assert_rc 3 "--primary-conn naming a standby"
assert_contains "$ERR" "which is in recovery too" "the error says the primary is a standby"
no_backup_written "--primary-conn naming a standby"

log "the HINT's GRANT, then the backup of the standby with an idle primary"
psql_c prim "$grant"
standby_caught_up
# The primary's WAL position within its segment: not 0 (the segment is not full, nothing
# fills it while the primary is idle) before the backup; after its switch, in a later segment
# (not always at offset 0: the idle primary's bgwriter may log a running-xacts record there).
seg_offset() { psql_c prim "SELECT (pg_current_wal_lsn() - '0/0') % setting::numeric FROM pg_settings WHERE name = 'wal_segment_size'"; }
seg_now() { psql_c prim "SELECT floor((pg_current_wal_lsn() - '0/0') / setting::numeric) FROM pg_settings WHERE name = 'wal_segment_size'"; }
before=$(seg_offset)
seg_before=$(seg_now)
assert_ne 0 "$before" "the primary's WAL position is inside a segment before the backup"
t0=$(now_ms)
pgp_capture --repo "$REPO" backup --pg-conn "$SB" --primary-conn "$PRIM" --label sb1 \
    --jobs 2 --archive-timeout 40 --output json
ms=$(($(now_ms) - t0))
assert_rc 0 "backup of the standby with --primary-conn (idle primary)"
printf '%s\n' "$OUT"
log "backup took ${ms} ms"
[ "$ms" -lt 20000 ] || fail "the backup took ${ms} ms: it waited for WAL instead of switching"
assert_eq standby "$(jq -r .source.role <<<"$OUT")" "summary: source.role"
assert_eq "$WORK/sb:$(cluster_port sb)" "$(jq -r .source.server <<<"$OUT")" "summary: the standby"
assert_eq "$WORK/prim:$(cluster_port prim)" "$(jq -r .source.primary <<<"$OUT")" "summary: the primary"
seg_after=$(seg_now)
[ "$seg_after" -gt "$seg_before" ] ||
    fail "the primary did not switch WAL: still in segment $seg_after (offset $(seg_offset)), was in $seg_before"
M="$WORK/sb1.manifest.json"
repo_read "$REPO" backup/sb1/manifest.json >"$M"
assert_eq 2 "$(jq -r .format "$M")" "manifest format of a standby's backup"
assert_eq standby "$(jq -r .source.role "$M")" "manifest source.role"
assert_eq "$WORK/prim:$(cluster_port prim)" "$(jq -r .source.primary "$M")" "manifest source.primary"

log "info shows where the backup came from"
pgp_capture --repo "$REPO" info
assert_rc 0 "info"
assert_contains "$(tr -s ' \n' '  ' <<<"$OUT")" "taken on the standby $WORK/sb:$(cluster_port sb) (primary $WORK/prim:$(cluster_port prim))" "info text"
pgp_capture --repo "$REPO" info --output json
assert_rc 0 "info --output json"
printf '%s\n' "$OUT" >"$WORK/info.json"
validate_schema "$HERE/../../docs/info.schema.json" "$WORK/info.json"
assert_eq standby "$(jq -r '.backups[] | select(.label == "sb1") | .source.role' "$WORK/info.json")" "info JSON source"

log "a backup of the primary ignores --primary-conn (with a warning) and records no source"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo prim)" --primary-conn "$PRIM" --label prim1 --jobs 2
assert_rc 0 "backup of the primary with --primary-conn"
assert_contains "$ERR" "primary-conn is not used" "the warning"
assert_eq "1 null" "$(repo_read "$REPO" backup/prim1/manifest.json | jq -r '"\(.format) \(.source)"')" "manifest of the primary's backup"

log "the primary does not archive: the backup times out with a HINT naming the primary"
psql_c prim "ALTER SYSTEM SET archive_command = 'false'"
psql_c prim "SELECT pg_reload_conf()" >/dev/null
add_row prim 4 >/dev/null     # inside a segment again: this backup makes the primary switch
standby_caught_up
pgp_capture --repo "$REPO" backup --pg-conn "$SB" --primary-conn "$PRIM" --label sb2 --archive-timeout 3
assert_rc 1 "backup of the standby while the primary does not archive"
assert_one_line_error "the backup's WAL not archived"
assert_contains "$ERR" "HINT: check archive_mode, archive_command and pg_stat_archiver on the primary \"$WORK/prim:$(cluster_port prim)\"" "the HINT names the primary"
psql_c prim "ALTER SYSTEM RESET archive_command"
psql_c prim "SELECT pg_reload_conf()" >/dev/null   # also wakes the archiver

log "the switch is refused after the stream: a warning, the backup still waits for its WAL"
add_row prim 5 >/dev/null
standby_caught_up
# --max-rate: the stream lasts a few seconds; the REVOKE lands once the checks passed (the
# backup directory exists only then) and before the stream ends.
bg_pgp sb3 --repo "$REPO" backup --pg-conn "$SB" --primary-conn "$PRIM" --label sb3 \
    --max-rate 8M --archive-timeout 3
for ((i = 0; i < 300; i++)); do
    repo_has "$REPO" backup/sb3/backup.inprogress && break
    sleep 0.1
done
assert_repo_has "$REPO" backup/sb3/backup.inprogress "the backup sb3 streams"
psql_c prim "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_switch_wal() FROM bkp"
bg_wait "$BG_PID" sb3
assert_rc 1 "backup whose switch was refused after the stream (idle primary)"
assert_contains "$ERR" "warn: cannot have the primary switch WAL: role \"bkp\" may not run pg_switch_wal()" "the warning"
assert_contains "$ERR" "waiting for the backup's WAL anyway" "the warning says the backup goes on"
assert_contains "$ERR" "did not reach the archive within 3 s" "then the WAL wait times out"
psql_c prim "$grant"

log "rows committed after the backup, archived by the primary"
add_row prim 6 >/dev/null
wait_archived prim "$(switch_wal prim)"
pg_stop sb
pg_stop prim

log "restore of the standby's backup, to the end of the archive"
restore_to dst --backup sb1 >"$WORK/restore.out"
cat "$WORK/restore.out"
assert_contains "$(cat "$WORK/restore.out")" "taken on the standby $WORK/sb:$(cluster_port sb) (primary $WORK/prim:$(cluster_port prim))" "restore names the source"
# Making restore drop the standby's settings is issue 10's item 2, not this test's subject.
not_a_standby dst
start_restored dst
assert_eq "1,2,3,4,5,6" "$(rows dst)" "rows of the restored copy"
pg_stop dst
log "ok"
