#!/usr/bin/env bash
# The repository stays unreachable (docs/archiving.md, "When the repository stays
# unreachable"), against PostgreSQL, with the repository directory made unreadable:
# 1. By default archive-push keeps failing: PostgreSQL keeps every segment ready, the
#    PostgreSQL log gets pgpitr's ALERT line once archive-push-alert-after (1s) has passed,
#    `metrics --pgdata` exports how long it has failed, and once the repository is back every
#    segment is archived and the state is gone.
# 2. With archive-push-queue-full = drop and archive-push-queue-max 32MiB, the segments that
#    keep the ready WAL over the limit are dropped (recorded, exit 0) and the backlog shrinks
#    to the limit; once the repository is back the records reach it, and info, check, verify,
#    metrics and a drill of the backup before the hole all name the hole as dropped; once a
#    backup after the hole is taken, expire of the one before removes the hole's records.
# 3. The archive module (when built) does the same with the settings in its pgpitr.config.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
[ "$REPO_KIND" = local ] ||
    skip "the repository is made unreachable as a local directory (S3 faults: test_s3_faults)"

ready_count() { find "$data/pg_wal/archive_status" -name '*.ready' | wc -l; }
# Unreachable: the repository refuses the cluster's user (mode 000; PostgreSQL runs as an
# unprivileged user), an i/o error like a stale mount's.
break_repo() { chmod 000 "$REPO"; }
mend_repo() { chmod 700 "$REPO"; }
alerted() { grep -q 'ALERT: archiving has failed since' "$WORK/log/pgpitr.log"; }
drained() { [ "$(ready_count)" -eq 0 ]; }
dropped_at_least() { [ "$(grep -c 'DROPPED WAL segment' "$WORK/log/pgpitr.log")" -ge "$1" ]; }

pg_init src
pg_enable_archiving src "$REPO"
w="$(cluster_dir src)/archive.sh"
sed -i "2i export PGPITR_ARCHIVE_PUSH_ALERT_AFTER=1s" "$w"
pg_start src
data=$(cluster_data src)
pgbench_c src -i -q -s 1
wait_archived src "$(switch_wal src)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base --jobs 2
assert_rc 0 "backup"

log "1. the repository is unreachable, archive-push-queue-full = fail (the default)"
break_repo
: >"$WORK/log/pgpitr.log"
for _ in 1 2 3; do last=$(switch_wal src); done
wake_until src 60 alerted || fail "no ALERT line after failing for over 1s: $(tail -n 5 "$WORK/log/pgpitr.log")"
assert_contains "$(cat "$WORK/log/pgpitr.log")" "PostgreSQL keeps them until archiving succeeds" "the alert"
assert_gt "$(ready_count)" 2 "segments PostgreSQL keeps ready"
! grep -q DROPPED "$WORK/log/pgpitr.log" || fail "a segment was dropped without drop configured"
assert_file "$data/pg_wal/pgpitr_push/failing"
pgp_capture --repo "$REPO" metrics --pgdata "$data"
failing=$(sed -n 's/^pgpitr_archive_push_failing_seconds \([0-9]*\)$/\1/p' <<<"$OUT")
assert_gt "${failing:-0}" 0 "pgpitr_archive_push_failing_seconds while failing"
mend_repo
wake_until src 60 drained || fail "the backlog was not archived once the repository was back"
wait_archived src "$last"
assert_absent "$data/pg_wal/pgpitr_push/failing"
pgp_capture --repo "$REPO" metrics --pgdata "$data"
assert_contains "$OUT" "pgpitr_archive_push_failing_seconds 0" "metrics after the success"

log "2. archive-push-queue-full = drop, archive-push-queue-max 32MiB"
sed -i "2i export PGPITR_ARCHIVE_PUSH_QUEUE_FULL=drop PGPITR_ARCHIVE_PUSH_QUEUE_MAX=32MiB" "$w"
break_repo
: >"$WORK/log/pgpitr.log"
for _ in 1 2 3 4 5; do last=$(switch_wal src); done
ready=5   # the segments just completed (some may be dropped already)
# 16 MiB segments: drops go on while more than 32 MiB are ready, so all but two go.
wake_until src 60 dropped_at_least $((ready - 2)) ||
    fail "not dropped: $(grep -c DROPPED "$WORK/log/pgpitr.log") drops, $(tail -n 5 "$WORK/log/pgpitr.log")"
sleep 2
assert_eq $((ready - 2)) "$(grep -c 'DROPPED WAL segment' "$WORK/log/pgpitr.log")" "segments dropped"
assert_eq 2 "$(ready_count)" "segments still ready (the limit's worth)"
first=$(sed -n 's/.*DROPPED WAL segment "\([0-9A-F]*\)".*/\1/p' "$WORK/log/pgpitr.log" | head -n 1)
assert_file "$data/pg_wal/pgpitr_push/dropped/$first"
assert_contains "$(cat "$data/pg_wal/pgpitr_push/dropped/$first")" '"queue_max": 33554432' "the local drop record"
mend_repo
wake_until src 60 drained || fail "the rest was not archived once the repository was back"
wait_archived src "$last"
assert_contains "$(cat "$WORK/log/pgpitr.log")" "recorded $((ready - 2)) dropped segments in the repository" "the upload"
[ -z "$(find "$data/pg_wal/pgpitr_push/dropped" -type f)" ] || fail "drop records left in pg_wal"
assert_file "$REPO/archive/dropped/$first.json"

pgp_capture --repo "$REPO" info
assert_rc 0 "info"
assert_contains "$OUT" "$((ready - 2)) of them DROPPED by archive-push" "info's hole"
pgp_capture --repo "$REPO" info --output json
assert_contains "$OUT" "\"dropped_segments\": $((ready - 2))" "info JSON"
pgp_capture --repo "$REPO" check --no-archive-test
assert_contains "$OUT" "segments dropped by archive-push-queue-full = drop" "check archive-holes"
pgp_capture --repo "$REPO" verify
assert_ne 0 "$RC" "verify of a repository with a hole"
assert_contains "$OUT$ERR" "$first is missing: archive-push dropped it" "verify"
pgp_capture --repo "$REPO" metrics
assert_contains "$OUT" "pgpitr_archive_dropped_segments $((ready - 2))" "metrics"
drill --output json --backup base --target-immediate --max-tables 5
assert_rc 0 "a drill of the backup before the hole (to its consistent point)"
assert_contains "$(jq_out '.warnings[]')" "$((ready - 2)) WAL segments after this backup's start were dropped by archive-push (archive-push-queue-full = drop), the first $first" "the drill's warning"
assert_no_drill_left

log "a backup after the hole; expire of the one before removes the hole and its records"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label after --jobs 2
assert_rc 0 "backup after the hole"
pgp_capture --repo "$REPO" expire --retain-full 1 --output json
assert_rc 0 "expire"
assert_eq "$((ready - 2))" "$(jq -r '.wal.remove_dropped_records' <<<"$OUT")" "drop records expired"
[ -z "$(find "$REPO/archive/dropped" -type f)" ] || fail "drop records left after expire"
pgp_capture --repo "$REPO" info
assert_rc 0 "info after expire"
[[ "$OUT" != *GAP* ]] || fail "a hole is left after expire: $OUT"

MODULE_SO=${PGPITR_MODULE:-$(dirname "$PGPITR_BIN")/module/pgpitr.so}
if [ ! -f "$MODULE_SO" ]; then
    log "3. skipped: no archive module at $MODULE_SO (sanitizer builds have none)"
    pg_stop src
    exit 0
fi
log "3. the archive module, the same settings through pgpitr.config"
cp "$MODULE_SO" "$WORK/pgpitr.so"
conf="$WORK/module.conf"
printf '[global]\narchive-push-alert-after = 1s\narchive-push-queue-max = 32MiB\narchive-push-queue-full = drop\n' >"$conf"
own "$WORK/pgpitr.so" "$conf"
pg_conf src "pgpitr.repo = '$REPO'" "pgpitr.config = '$conf'" "archive_library = '$WORK/pgpitr.so'"
psql_c src "SELECT pg_reload_conf()" >/dev/null
wait_archived src "$(switch_wal src)"
slog="$(cluster_dir src)/server.log"
module_drops() { grep -c 'DROPPED WAL segment' "$slog" || true; }
module_dropped_at_least() { [ "$(module_drops)" -ge "$1" ]; }
break_repo
for _ in 1 2 3 4 5; do last=$(switch_wal src); done
wake_until src 60 module_dropped_at_least 3 ||
    fail "the module dropped $(module_drops) segments: $(grep -m3 'pgpitr' "$slog" | tail -n 3)"
sleep 2
assert_eq 3 "$(module_drops)" "segments the module dropped"
assert_eq 2 "$(ready_count)" "segments still ready under the module"
assert_contains "$(cat "$slog")" "ALERT: archiving has failed since" "the module's alert"
mend_repo
wake_until src 60 drained || fail "the module did not archive the rest once the repository was back"
wait_archived src "$last"
assert_contains "$(cat "$slog")" "recorded 3 dropped segments in the repository" "the module's upload"
pgp_capture --repo "$REPO" info
assert_contains "$OUT" "3 of them DROPPED by archive-push" "info's hole after the module's drops"
pg_stop src
