#!/usr/bin/env bash
# pgpitr check beyond the primary's happy path (docs/check.md): against a streaming standby
# it checks what applies (cluster, archive settings) and reports the archive test and the
# archiver as SKIPPED with the reason; without --pg-conn every server check is SKIPPED; a
# role without the privilege for the restore point gets a WARNING with a HINT; a repository
# that cannot take a write (local: check/ is a file) is CRITICAL. Every repository kind (the
# write test only on a local one).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

CHECK_SCHEMA="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/check.schema.json"

status() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .status' <<<"$OUT"; }
reason() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .reason' <<<"$OUT"; }
expect() {
    assert_eq "$2" "$(status "$1")" "check $1 ($(reason "$1"))"
    assert_contains "$(reason "$1")" "$3" "reason of $1"
}
validate() {
    printf '%s\n' "$OUT" >"$WORK/check.json"
    validate_schema "$CHECK_SCHEMA" "$WORK/check.json"
}

pg_init src
pg_enable_archiving src "$REPO"
pg_start src
wait_archived src "$(switch_wal src)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base1
assert_rc 0 "pgpitr backup"
pg_standby sb src

log "a standby: what applies is checked, the rest SKIPPED with the reason"
pgp_capture --repo "$REPO" check --pg-conn "$(conninfo sb)" --output json
validate
assert_rc 1 "check of a standby (no drill: WARNING; stdout: $OUT)"
expect cluster OK "$(cluster_sysid src)"
expect archive-mode OK "a standby archives once promoted"
expect archive-command OK "this repository"
expect archive-test SKIPPED "the server is a standby"
expect archiver SKIPPED "standby"
expect backup-age OK "base1"
expect drill WARNING "no drill report"
pgp_capture --repo "$REPO" check --pg-conn "$(conninfo sb)"
assert_rc 1 "text check of a standby"
assert_contains "$(head -n 1 <<<"$OUT")" "PGPITR CHECK WARNING - 1 warning: drill:" "first line"
assert_contains "$OUT" "archive-test     SKIPPED  the server is a standby" "text line"

log "no --pg-conn: every server check SKIPPED"
pgp_capture --repo "$REPO" check --output json
assert_rc 1 "check without a server"
for c in cluster archive-mode archive-command archive-test archiver; do
    expect "$c" SKIPPED "no --pg-conn"
done

log "a role without the privilege: archive-test WARNING with a HINT"
psql_c src "CREATE ROLE monitor LOGIN IN ROLE pg_monitor" >/dev/null
pgp_capture --repo "$REPO" check --pg-conn "$(conninfo src monitor) dbname=postgres" --output json
assert_rc 1 "check as a role without the privilege"
expect archive-test WARNING "HINT: GRANT EXECUTE"
expect cluster OK "$(cluster_sysid src)"
expect archive-command OK "this repository"

if [ "$REPO_KIND" = local ]; then
    log "a repository that takes no write: CRITICAL"
    mkdir_pg "$REPO/check"   # (left by the checks above) postgres cannot write into it:
    chmod 0555 "$REPO/check"
    pgp_capture --repo "$REPO" check --output json
    assert_rc 2 "check of a repository that takes no write"
    expect repository CRITICAL "not writable"
    expect backup-age OK "base1"
fi
log "ok"
